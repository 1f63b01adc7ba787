//! Fusing audio and lyrics blocks into one feature matrix.
//!
//! Each column is z-scored (mean 0, population standard deviation 1, like
//! scikit-learn's `StandardScaler`; constant columns become 0). A z-scored
//! block of `d` varying columns has total variance `d`, so a 64-column lyrics
//! block would outweigh 40 audio columns by sheer width. Each block is
//! therefore multiplied by `sqrt(weight / d)`, which makes its total variance
//! equal to its weight: with the default weights of 1 every modality counts
//! the same, whatever its width.

use ndarray::{Array2, Axis, concatenate};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

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

/// Relative weights of the modalities: each block's total variance after fusion.
///
/// | field | default | valid |
/// |---|---|---|
/// | `audio_weight` | `1.0` | finite, `>= 0` |
/// | `lyrics_weight` | `1.0` | finite, `>= 0` |
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FusionConfig {
    /// Total variance of the audio block.
    pub audio_weight: f64,
    /// Total variance of the lyrics block.
    pub lyrics_weight: f64,
}

impl Default for FusionConfig {
    fn default() -> Self {
        Self {
            audio_weight: 1.0,
            lyrics_weight: 1.0,
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
}

/// Z-scores every column (population standard deviation); columns whose
/// standard deviation is zero (or not finite) become all zeros. Returns the
/// scaled matrix and how many columns vary.
#[must_use]
pub fn zscore_columns(matrix: &Array2<f64>) -> (Array2<f64>, usize) {
    let mut scaled = matrix.clone();
    let rows = matrix.nrows() as f64;
    let mut varying_columns = 0;
    for mut column in scaled.columns_mut() {
        let mut sum = 0.0;
        for value in &column {
            sum += value;
        }
        let mean = sum / rows;
        let mut squared_deviation = 0.0;
        for value in &column {
            squared_deviation += (value - mean) * (value - mean);
        }
        let deviation = (squared_deviation / rows).sqrt();
        // A column equal up to rounding noise counts as constant.
        let constant = !(deviation.is_finite() && deviation > 1e-12 * (1.0 + mean.abs()));
        if constant {
            column.fill(0.0);
        } else {
            varying_columns += 1;
            for value in &mut column {
                *value = (*value - mean) / deviation;
            }
        }
    }
    (scaled, varying_columns)
}

/// Fuses modality blocks (same row count, in the given order): z-scores each
/// block and scales it to total variance equal to its weight. Also returns
/// the scale factor applied to each block.
pub fn fuse(
    blocks: &[(Modality, &Array2<f64>)],
    config: &FusionConfig,
) -> Result<(Array2<f64>, Vec<f64>)> {
    config.validate()?;
    let Some((_, first)) = blocks.first() else {
        return Err(Error::InvalidConfig {
            key: "modalities".to_string(),
            reason: "no modality to fuse".to_string(),
        });
    };
    let rows = first.nrows();
    let mut scaled_blocks = Vec::with_capacity(blocks.len());
    let mut scales = Vec::with_capacity(blocks.len());
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
        let (mut standardised, varying_columns) = zscore_columns(block);
        let scale = if varying_columns == 0 {
            0.0
        } else {
            (config.weight(*modality) / varying_columns as f64).sqrt()
        };
        standardised *= scale;
        scaled_blocks.push(standardised);
        scales.push(scale);
    }
    let mut views = Vec::with_capacity(scaled_blocks.len());
    for block in &scaled_blocks {
        views.push(block.view());
    }
    let fused = concatenate(Axis(1), &views).map_err(|error| Error::InvalidConfig {
        key: "modalities".to_string(),
        reason: format!("cannot join blocks: {error}"),
    })?;
    Ok((fused, scales))
}
