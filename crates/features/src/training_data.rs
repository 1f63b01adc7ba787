//! The reader of a features directory (what [`crate::build`] writes): the
//! data a training run or a sweep baseline works on.
//!
//! Read: `features.npy` (n x d, each modality block through its column
//! transform and scaled to its weight, see `docs/features.md`), `frames.npy` (n x c x t, when present), `ids.txt`,
//! `labels.json` and `manifest.json` (modality order and widths).
//!
//! Two rescalings make the inputs suit a VAE without changing their geometry:
//! the fused matrix is multiplied by one global factor so that the mean
//! per-column variance is 1 (fusion leaves each modality a total variance of
//! its weight, which would make the KL term dwarf the reconstruction term),
//! and frames are standardised per channel over tracks and time.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;

use crate::build::read_cache_manifest;
use crate::fusion::Modality;
use ndarray::{Array2, Array3, Axis};
use ndarray_npy::read_npy;

use crate::error::{Error, Result};

/// The data one run trains on, in memory.
#[derive(Clone, Debug)]
pub struct TrainingData {
    /// Track ids, one per row.
    pub ids: Vec<String>,
    /// Fused features rescaled to unit mean column variance, `n x d`.
    pub features: Array2<f32>,
    /// Per-channel standardised frames, `n x c x t`, when the dataset has them.
    pub frames: Option<Array3<f32>>,
    /// Columns of `features` that hold the lyrics block, when lyrics were fused.
    pub lyrics_columns: Option<Range<usize>>,
    /// Label columns in descriptor order: name and one value per track.
    pub labels: Vec<(String, Vec<String>)>,
    /// Name of the dataset, from the features manifest.
    pub dataset_name: String,
}

/// `labels.json` of a features directory: written by [`crate::build`],
/// read here and by the sweep's plots. Fields in alphabetical order, the
/// order the file has always had.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LabelsFile {
    /// Whether each track has lyrics; `None` when the lyrics modality was not loaded.
    pub has_lyrics: Option<Vec<bool>>,
    /// Label values by column, one per track in `ids.txt` order.
    pub labels: BTreeMap<String, Vec<String>>,
    /// The label columns in descriptor order (the first is primary).
    pub names: Vec<String>,
    /// The primary label column.
    pub primary: Option<String>,
}

impl LabelsFile {
    /// The file's name in a features directory.
    pub const NAME: &'static str = "labels.json";

    /// Reads `labels.json` from a features directory.
    pub fn read(directory: &Path) -> Result<Self> {
        let path = directory.join(Self::NAME);
        let text = std::fs::read_to_string(&path)
            .map_err(|error| features_error(&path, error.to_string()))?;
        serde_json::from_str(&text).map_err(|error| features_error(&path, error.to_string()))
    }

    /// The values of a label column, by name.
    #[must_use]
    pub fn values(&self, name: &str) -> Option<&[String]> {
        self.labels.get(name).map(Vec::as_slice)
    }
}

fn features_error(path: &Path, reason: impl Into<String>) -> Error {
    Error::FeaturesDirectory {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

impl TrainingData {
    /// Reads a features directory.
    pub fn load(directory: &Path) -> Result<Self> {
        let manifest = read_cache_manifest(directory).ok_or_else(|| {
            features_error(
                &directory.join("manifest.json"),
                "missing or unreadable; build it with `cargo xtask features`",
            )
        })?;
        let features_path = directory.join("features.npy");
        let fused: Array2<f32> = read_npy(&features_path).map_err(|error| {
            features_error(&features_path, format!("not a 2-D float32 .npy: {error}"))
        })?;
        let ids_path = directory.join("ids.txt");
        let ids_text = std::fs::read_to_string(&ids_path)
            .map_err(|error| features_error(&ids_path, error.to_string()))?;
        let ids: Vec<String> = ids_text.lines().map(str::to_owned).collect();
        if ids.len() != fused.nrows() {
            return Err(features_error(
                &ids_path,
                format!("{} ids for {} feature rows", ids.len(), fused.nrows()),
            ));
        }
        let labels_path = directory.join(LabelsFile::NAME);
        let labels_file = LabelsFile::read(directory)?;
        let mut labels = Vec::new();
        for name in &labels_file.names {
            let values = labels_file.labels.get(name).ok_or_else(|| {
                features_error(&labels_path, format!("no values for label '{name}'"))
            })?;
            if values.len() != ids.len() {
                return Err(features_error(
                    &labels_path,
                    format!(
                        "label '{name}' has {} values for {} tracks",
                        values.len(),
                        ids.len()
                    ),
                ));
            }
            labels.push((name.clone(), values.clone()));
        }
        let mut lyrics_columns = None;
        let mut start = 0;
        for (modality, width) in manifest.modalities.iter().zip(&manifest.modality_dims) {
            if *modality == Modality::Lyrics {
                lyrics_columns = Some(start..start + width);
            }
            start += width;
        }
        if start != fused.ncols() {
            return Err(features_error(
                &directory.join("manifest.json"),
                format!(
                    "modality widths add up to {start}, features.npy has {} columns",
                    fused.ncols()
                ),
            ));
        }
        let frames_path = directory.join("frames.npy");
        let frames = if frames_path.exists() {
            let frames: Array3<f32> = read_npy(&frames_path).map_err(|error| {
                features_error(&frames_path, format!("not a 3-D float32 .npy: {error}"))
            })?;
            if frames.shape()[0] != ids.len() {
                return Err(features_error(
                    &frames_path,
                    format!(
                        "{} frame matrices for {} tracks",
                        frames.shape()[0],
                        ids.len()
                    ),
                ));
            }
            Some(standardise_channels(frames))
        } else {
            None
        };
        Ok(Self {
            ids,
            features: unit_mean_variance(fused),
            frames,
            lyrics_columns,
            labels,
            dataset_name: manifest.dataset,
        })
    }

    /// Values of a label column, by name.
    #[must_use]
    pub fn label(&self, name: &str) -> Option<&[String]> {
        for (label_name, values) in &self.labels {
            if label_name == name {
                return Some(values);
            }
        }
        None
    }
}

/// Multiplies the matrix by one factor so the mean column variance is 1.
fn unit_mean_variance(mut features: Array2<f32>) -> Array2<f32> {
    let columns = features.ncols().max(1) as f64;
    let mut total_variance = 0.0;
    for column in features.columns() {
        let mean =
            column.iter().map(|value| f64::from(*value)).sum::<f64>() / column.len().max(1) as f64;
        let mut sum_squares = 0.0;
        for value in column {
            sum_squares += (f64::from(*value) - mean).powi(2);
        }
        total_variance += sum_squares / column.len().max(1) as f64;
    }
    let mean_variance = total_variance / columns;
    if mean_variance > 0.0 {
        let factor = (1.0 / mean_variance).sqrt() as f32;
        features *= factor;
    }
    features
}

/// Standardises each channel over tracks and time (zero mean, unit variance;
/// constant channels are only centred).
fn standardise_channels(mut frames: Array3<f32>) -> Array3<f32> {
    for mut channel in frames.axis_iter_mut(Axis(1)) {
        let count = channel.len().max(1) as f64;
        let mean = channel.iter().map(|value| f64::from(*value)).sum::<f64>() / count;
        let mut sum_squares = 0.0;
        for value in &channel {
            sum_squares += (f64::from(*value) - mean).powi(2);
        }
        let std = (sum_squares / count).sqrt();
        let scale = if std > 0.0 { 1.0 / std } else { 1.0 };
        channel.mapv_inplace(|value| ((f64::from(value) - mean) * scale) as f32);
    }
    frames
}

#[cfg(test)]
mod tests {
    use ndarray::array;

    use super::*;

    #[test]
    fn rescaling_gives_unit_mean_column_variance_and_keeps_ratios() {
        let features = array![[0.0f32, 0.0], [0.2, 0.1], [0.4, 0.2], [0.6, 0.3]];
        let scaled = unit_mean_variance(features.clone());
        let variance = |column: usize| scaled.column(column).var(0.0);
        assert!((f32::midpoint(variance(0), variance(1)) - 1.0).abs() < 1e-5);
        assert!((scaled[[3, 0]] / scaled[[3, 1]] - 2.0).abs() < 1e-5);
    }

    #[test]
    fn channels_are_standardised_over_tracks_and_time() {
        let mut frames = Array3::<f32>::zeros((3, 2, 4));
        for track in 0..3 {
            for time in 0..4 {
                frames[[track, 0, time]] = (track * 4 + time) as f32 * 10.0 + 500.0;
                frames[[track, 1, time]] = 7.0;
            }
        }
        let standardised = standardise_channels(frames);
        let first = standardised.index_axis(Axis(1), 0);
        assert!(first.mean().unwrap().abs() < 1e-5);
        assert!((first.var(0.0) - 1.0).abs() < 1e-4);
        assert!(
            standardised
                .index_axis(Axis(1), 1)
                .iter()
                .all(|value| *value == 0.0)
        );
    }
}
