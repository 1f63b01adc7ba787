//! Fusing audio and lyrics blocks into one feature matrix.
//!
//! Every block goes through the same three steps:
//!
//! 1. **Unit rows** (lyrics only, on by default): each row divided by its
//!    Euclidean norm, as scikit-learn's `Normalizer` — the usual step after
//!    LSA, so that a long song and a short one with the same words point the
//!    same way. Zero rows (tracks without lyrics) stay zero.
//! 2. **Column transform** ([`crate::transform`]): for the audio block a
//!    transform of skewed descriptors (`yeo_johnson` by default); for the
//!    lyrics block `none` by default, which keeps the SVD's spectrum (the
//!    leading components carry the most variance). `standard` z-scores every
//!    column, the rule before this option existed.
//! 3. **Block weight**: the block is centred and multiplied by one factor so
//!    that its total variance (the sum of its column variances) equals its
//!    weight, or with `block_weighting: first_eigenvalue` so that the
//!    variance of its first principal component does (multiple factor
//!    analysis). One factor per block keeps the relative variance of its
//!    columns; equal weights (the default) let every modality count the same.
//!
//! Constant columns (within scikit-learn's rounding bound) become exactly
//! zero and add nothing to the total; a block with no varying column gets
//! the factor 0. Everything fitted (the transform's parameters, the centre,
//! the factor) is returned as a [`FusedBlock`] per block and recorded in the
//! features `manifest.json`, so [`FusedBlock::apply`] can fuse new rows the
//! same way.

use ndarray::{Array2, ArrayView2, Axis, concatenate};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::transform::{ColumnTransform, FittedTransform, is_constant_feature, mean_and_variance};

/// One input modality of the fused matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Modality {
    /// Audio features (MFCC summaries or precomputed audio columns).
    Audio,
    /// Lyrics vectors (TF-IDF + SVD or precomputed embeddings).
    Lyrics,
}

impl Modality {
    /// The lowercase name used on the command line and in `manifest.json`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Audio => "audio",
            Self::Lyrics => "lyrics",
        }
    }
}

/// Parses a `--modalities` value: `audio`, `lyrics` or `audio,lyrics`
/// (any order, no repeats). The result is sorted audio first.
pub fn parse_modalities(text: &str) -> Result<Vec<Modality>> {
    let mut modalities = Vec::new();
    for part in text.split(',') {
        let modality = match part.trim() {
            "audio" => Modality::Audio,
            "lyrics" => Modality::Lyrics,
            other => {
                return Err(Error::InvalidConfig {
                    key: "modalities".to_string(),
                    reason: format!(
                        "unknown modality `{other}`; use audio, lyrics or audio,lyrics"
                    ),
                });
            }
        };
        if modalities.contains(&modality) {
            return Err(Error::InvalidConfig {
                key: "modalities".to_string(),
                reason: format!("modality `{}` is listed twice", modality.name()),
            });
        }
        modalities.push(modality);
    }
    modalities.sort();
    Ok(modalities)
}

/// How modality blocks are prepared and weighted.
///
/// | field | default | valid |
/// |---|---|---|
/// | `audio_weight` | `1.0` | finite, `>= 0`: total variance of the audio block |
/// | `lyrics_weight` | `1.0` | finite, `>= 0`: total variance of the lyrics block |
/// | `audio_transform` | `yeo_johnson` | `standard`, `yeo_johnson`, `quantile_normal`, `robust`, `none` |
/// | `lyrics_transform` | `none` | the same; `standard` z-scores every lyrics component |
/// | `lyrics_unit_rows` | `true` | scale each lyrics row to unit length before the transform |
///
/// | `block_weighting` | `total_variance` | `total_variance` or `first_eigenvalue` (what the weight sets, see [`BlockWeighting`]) |
///
/// `docs/features.md` gives the measurements behind the defaults.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FusionConfig {
    /// Total variance of the audio block.
    pub audio_weight: f64,
    /// Total variance of the lyrics block.
    pub lyrics_weight: f64,
    /// Column transform of the audio block.
    pub audio_transform: ColumnTransform,
    /// Column transform of the lyrics block.
    pub lyrics_transform: ColumnTransform,
    /// Unit-length lyrics rows.
    pub lyrics_unit_rows: bool,
    /// What a block's weight sets.
    pub block_weighting: BlockWeighting,
}

/// What a block's weight sets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BlockWeighting {
    /// The block's total variance (the sum of its column variances): every
    /// modality the same share of the squared distances, whatever its width.
    #[default]
    TotalVariance,
    /// The variance of the block's first principal component, as multiple
    /// factor analysis (Escofier and Pages) weights its groups: no block
    /// dominates the leading directions by its scale, and a block with
    /// several strong directions (a lyrics SVD) keeps more total variance
    /// than one with a single dominant direction.
    FirstEigenvalue,
}

impl Default for FusionConfig {
    fn default() -> Self {
        Self {
            audio_weight: 1.0,
            lyrics_weight: 1.0,
            audio_transform: ColumnTransform::YeoJohnson,
            lyrics_transform: ColumnTransform::None,
            lyrics_unit_rows: true,
            block_weighting: BlockWeighting::TotalVariance,
        }
    }
}

impl FusionConfig {
    /// Checks that both weights are finite and non-negative.
    pub fn validate(&self) -> Result<()> {
        for (key, weight) in [
            ("fusion.audio_weight", self.audio_weight),
            ("fusion.lyrics_weight", self.lyrics_weight),
        ] {
            if !weight.is_finite() || weight < 0.0 {
                return Err(Error::InvalidConfig {
                    key: key.to_string(),
                    reason: format!("{weight} must be a finite number >= 0"),
                });
            }
        }
        Ok(())
    }

    /// The weight of one modality.
    #[must_use]
    pub fn weight(&self, modality: Modality) -> f64 {
        match modality {
            Modality::Audio => self.audio_weight,
            Modality::Lyrics => self.lyrics_weight,
        }
    }

    /// The column transform of one modality.
    #[must_use]
    pub fn transform(&self, modality: Modality) -> ColumnTransform {
        match modality {
            Modality::Audio => self.audio_transform,
            Modality::Lyrics => self.lyrics_transform,
        }
    }

    /// Whether one modality's rows are scaled to unit length.
    #[must_use]
    pub fn unit_rows(&self, modality: Modality) -> bool {
        match modality {
            Modality::Audio => false,
            Modality::Lyrics => self.lyrics_unit_rows,
        }
    }
}

/// What fusion fitted for one block: enough to fuse new rows the same way.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FusedBlock {
    /// The modality.
    pub modality: Modality,
    /// Columns of the block.
    pub columns: usize,
    /// Whether rows were scaled to unit length first.
    pub unit_rows: bool,
    /// The fitted column transform.
    pub transform: FittedTransform,
    /// Column means after the transform (what centring subtracts); constant
    /// columns are set to zero whatever their value.
    pub center: Vec<f64>,
    /// Whether each column varies after the transform.
    pub varying: Vec<bool>,
    /// The factor that gives the block its weight as total variance.
    pub scale: f64,
}

impl FusedBlock {
    /// Fits the block's steps on `block` (tracks x columns) and returns the
    /// record with the fused block.
    pub fn fit(
        modality: Modality,
        block: ArrayView2<'_, f64>,
        config: &FusionConfig,
    ) -> Result<(Self, Array2<f64>)> {
        let unit_rows = config.unit_rows(modality);
        let prepared = if unit_rows {
            unit_length_rows(block)
        } else {
            block.to_owned()
        };
        let transform = config
            .transform(modality)
            .fit(prepared.view())
            .map_err(|error| block_error(modality, &error))?;
        let transformed = transform
            .transform(prepared.view())
            .map_err(|error| block_error(modality, &error))?;
        let mut center = Vec::with_capacity(block.ncols());
        let mut varying = Vec::with_capacity(block.ncols());
        let mut total_variance = 0.0;
        for column in transformed.columns() {
            let values = column.to_vec();
            let (mean, variance) = mean_and_variance(&values);
            let varies = !is_constant_feature(variance, mean, values.len());
            if varies {
                total_variance += variance;
            }
            center.push(mean);
            varying.push(varies);
        }
        let reference_variance = match config.block_weighting {
            BlockWeighting::TotalVariance => total_variance,
            BlockWeighting::FirstEigenvalue if total_variance > 0.0 => {
                first_eigenvalue(&transformed, &center, &varying)
            }
            BlockWeighting::FirstEigenvalue => 0.0,
        };
        let scale = if reference_variance > 0.0 {
            (config.weight(modality) / reference_variance).sqrt()
        } else {
            0.0
        };
        let record = Self {
            modality,
            columns: block.ncols(),
            unit_rows,
            transform,
            center,
            varying,
            scale,
        };
        let fused = record.weighted(transformed);
        Ok((record, fused))
    }

    /// Fuses new rows of this block with the fitted steps.
    pub fn apply(&self, block: ArrayView2<'_, f64>) -> Result<Array2<f64>> {
        let prepared = if self.unit_rows {
            unit_length_rows(block)
        } else {
            block.to_owned()
        };
        let transformed = self
            .transform
            .transform(prepared.view())
            .map_err(|error| block_error(self.modality, &error))?;
        Ok(self.weighted(transformed))
    }

    /// Centres the transformed block, zeroes its constant columns and scales it.
    fn weighted(&self, mut transformed: Array2<f64>) -> Array2<f64> {
        for (index, mut column) in transformed.columns_mut().into_iter().enumerate() {
            if self.varying[index] {
                for value in &mut column {
                    *value = (*value - self.center[index]) * self.scale;
                }
            } else {
                column.fill(0.0);
            }
        }
        transformed
    }
}

/// The largest eigenvalue of the population covariance of the varying,
/// centred columns: the squared largest singular value over the row count.
fn first_eigenvalue(transformed: &Array2<f64>, center: &[f64], varying: &[bool]) -> f64 {
    let rows = transformed.nrows();
    let mut kept = Vec::new();
    for (index, varies) in varying.iter().enumerate() {
        if *varies {
            kept.push(index);
        }
    }
    let centred = nalgebra::DMatrix::from_fn(rows, kept.len(), |row, column| {
        let index = kept[column];
        transformed[[row, index]] - center[index]
    });
    let singular_values = nalgebra::linalg::SVD::new(centred, false, false).singular_values;
    let largest = singular_values.iter().copied().fold(0.0f64, f64::max);
    largest * largest / rows as f64
}

fn block_error(modality: Modality, error: &Error) -> Error {
    let reason = match error {
        Error::InvalidConfig { reason, .. } => reason.clone(),
        other => other.to_string(),
    };
    Error::InvalidConfig {
        key: format!("fusion.{}_transform", modality.name()),
        reason: format!("{} block: {reason}", modality.name()),
    }
}

/// Each row divided by its Euclidean norm (scikit-learn's `Normalizer`);
/// zero rows stay zero.
#[must_use]
pub fn unit_length_rows(block: ArrayView2<'_, f64>) -> Array2<f64> {
    let mut output = block.to_owned();
    for mut row in output.rows_mut() {
        let mut squares = 0.0;
        for value in &row {
            squares += value * value;
        }
        let norm = squares.sqrt();
        if norm > 0.0 {
            for value in &mut row {
                *value /= norm;
            }
        }
    }
    output
}

/// Fuses modality blocks (same row count, in the given order): each block
/// through its steps (see the module docs), then joined column-wise.
/// Returns the fused matrix and what was fitted for each block.
pub fn fuse(
    blocks: &[(Modality, &Array2<f64>)],
    config: &FusionConfig,
) -> Result<(Array2<f64>, Vec<FusedBlock>)> {
    config.validate()?;
    let Some((_, first)) = blocks.first() else {
        return Err(Error::InvalidConfig {
            key: "modalities".to_string(),
            reason: "no modality to fuse".to_string(),
        });
    };
    let rows = first.nrows();
    let mut fused_blocks = Vec::with_capacity(blocks.len());
    let mut records = Vec::with_capacity(blocks.len());
    for (modality, block) in blocks {
        if block.nrows() != rows {
            return Err(Error::InvalidConfig {
                key: "modalities".to_string(),
                reason: format!(
                    "{} block has {} rows, expected {rows}",
                    modality.name(),
                    block.nrows()
                ),
            });
        }
        let (record, fused) = FusedBlock::fit(*modality, block.view(), config)?;
        fused_blocks.push(fused);
        records.push(record);
    }
    let mut views = Vec::with_capacity(fused_blocks.len());
    for block in &fused_blocks {
        views.push(block.view());
    }
    let fused = concatenate(Axis(1), &views).map_err(|error| Error::InvalidConfig {
        key: "modalities".to_string(),
        reason: format!("cannot join blocks: {error}"),
    })?;
    Ok((fused, records))
}
