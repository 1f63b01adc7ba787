//! Building a dataset's feature matrix from its descriptor, with per-track failures and a cache.
//!
//! [`build_features`] is what `cargo xtask features` runs:
//!
//! 1. Read the descriptor and manifest; check every column it names exists.
//! 2. Check each row: a non-empty, unique id and a value for every label.
//! 3. In parallel over tracks (rayon, with an indicatif progress bar): read
//!    the audio vector (numeric columns, `.npy`, or decode + MFCC summary),
//!    the frame matrix (`.npy`, or the centre-cropped MFCC frames) and the
//!    lyrics (text column, text file or `.npy` embedding).
//! 4. Tracks whose `.npy` shape differs from the shape most tracks have fail.
//! 5. Lyrics text becomes TF-IDF + SVD vectors ([`crate::lyrics`]); the
//!    selected modalities are fused ([`crate::fusion`]).
//! 6. Outputs are written atomically ([`crate::cache`]), `manifest.json` last.
//!
//! A track that fails any step is listed with its id, manifest line, the
//! path involved and the reason in `failures.json`; the rest go on. Output
//! files in the output directory:
//!
//! | file | content |
//! |---|---|
//! | `features.npy` | fused features, `n x d`, float32 |
//! | `frames.npy` | frame matrices, `n x c x t`, float32 (only when the dataset has frames) |
//! | `ids.txt` | one track id per line, in row order of the matrices |
//! | `labels.json` | `{"primary", "names", "labels": {name: [value per track]}, "has_lyrics": [..] or null without the lyrics modality}` |
//! | `failures.json` | list of `{"id", "line", "path", "reason"}` |
//! | `manifest.json` | settings, dimensions, counts and the cache hash |

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressStyle};
use ndarray::{Array1, Array2, Array3, ArrayD, Axis};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::cache::{InputHasher, write_atomic, write_npy_atomic};
use crate::descriptor::{AudioSource, Descriptor, LyricsSource};
use crate::error::{Error, Result};
use crate::fusion::{FusedBlock, FusionConfig, Modality, fuse};
use crate::lyrics::{LyricsConfig, lyrics_vectors};
use crate::manifest::Manifest;
use crate::mfcc::{MfccConfig, MfccExtractor};
use crate::summary::{SummaryConfig, centre_frames, summary_vector};

/// Everything that changes the computed features (and so the cache hash).
///
/// | field | default | valid |
/// |---|---|---|
/// | `modalities` | every modality the descriptor has | non-empty subset of `audio`, `lyrics` |
/// | `mfcc` | librosa defaults | see [`MfccConfig`]; `sample_rate` must be 22050 |
/// | `summary` | MFCC mean + std | see [`SummaryConfig`] |
/// | `frames` | `128` | `1..=100000` frames kept from the centre of each track |
/// | `lyrics` | word 1-2 grams, 5000 terms, 64 dims | see [`LyricsConfig`] |
/// | `fusion` | equal weights, Yeo-Johnson audio, unit-length lyrics rows | see [`FusionConfig`] |
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FeatureSettings {
    /// Modalities to load and fuse; `None` means all the descriptor has.
    pub modalities: Option<Vec<Modality>>,
    /// MFCC settings for audio files.
    pub mfcc: MfccConfig,
    /// Summary statistics for audio files.
    pub summary: SummaryConfig,
    /// Frames per track in `frames.npy` when frames are computed from audio.
    pub frames: usize,
    /// Lyrics vectoriser settings.
    pub lyrics: LyricsConfig,
    /// Modality weights.
    pub fusion: FusionConfig,
}

impl Default for FeatureSettings {
    fn default() -> Self {
        Self {
            modalities: None,
            mfcc: MfccConfig::default(),
            summary: SummaryConfig::default(),
            frames: 128,
            lyrics: LyricsConfig::default(),
            fusion: FusionConfig::default(),
        }
    }
}

impl FeatureSettings {
    /// Checks every part against its valid range.
    pub fn validate(&self) -> Result<()> {
        self.mfcc.validate()?;
        self.summary.validate()?;
        self.lyrics.validate()?;
        self.fusion.validate()?;
        if self.mfcc.sample_rate != crate::audio::TARGET_SAMPLE_RATE {
            return Err(Error::InvalidConfig {
                key: "mfcc.sample_rate".to_string(),
                reason: format!(
                    "{} must be {} (audio is resampled to that rate)",
                    self.mfcc.sample_rate,
                    crate::audio::TARGET_SAMPLE_RATE
                ),
            });
        }
        if self.frames == 0 || self.frames > 100_000 {
            return Err(Error::InvalidConfig {
                key: "frames".to_string(),
                reason: format!("{} is outside 1..=100000", self.frames),
            });
        }
        if let Some(modalities) = &self.modalities
            && modalities.is_empty()
        {
            return Err(Error::InvalidConfig {
                key: "modalities".to_string(),
                reason: "must name at least one modality".to_string(),
            });
        }
        Ok(())
    }

    /// The modalities in force for a descriptor: the configured ones (each
    /// must exist in the descriptor) or all that it has.
    pub fn resolve_modalities(&self, descriptor: &Descriptor) -> Result<Vec<Modality>> {
        let mut available = Vec::new();
        if descriptor.audio.is_some() {
            available.push(Modality::Audio);
        }
        if descriptor.lyrics.is_some() {
            available.push(Modality::Lyrics);
        }
        let Some(requested) = &self.modalities else {
            return Ok(available);
        };
        let mut chosen = Vec::new();
        for modality in requested {
            if !available.contains(modality) {
                return Err(Error::InvalidConfig {
                    key: "modalities".to_string(),
                    reason: format!(
                        "dataset {} has no {} modality (descriptor key `{}` is absent)",
                        descriptor.name,
                        modality.name(),
                        modality.name()
                    ),
                });
            }
            if !chosen.contains(modality) {
                chosen.push(*modality);
            }
        }
        chosen.sort();
        Ok(chosen)
    }
}

/// Options of one build run that do not change the result.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BuildOptions {
    /// Fail (after writing `failures.json`) when any track failed.
    pub strict: bool,
    /// Show a progress bar on standard error.
    pub progress: bool,
    /// Recompute even when the cache matches.
    pub force: bool,
}

/// One track that could not be used, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrackFailure {
    /// The track id (empty when the id itself was missing).
    pub id: String,
    /// The 1-based manifest line where the track's row starts.
    pub line: u64,
    /// The file involved (audio, `.npy`, lyrics or the manifest).
    pub path: String,
    /// What went wrong.
    pub reason: String,
    /// The manifest column whose cell was bad, when one was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    /// The text of that cell (empty for a missing value).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cell: Option<String>,
}

/// Which manifest columns make the audio vector of a table dataset
/// (`audio.columns`), and why the others do not.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AudioColumns {
    /// Columns in the audio vector, in manifest order.
    pub used: Vec<String>,
    /// Columns left out, each with its reason.
    pub excluded: Vec<ExcludedColumn>,
}

/// A manifest column left out of the audio vector.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExcludedColumn {
    /// The column.
    pub column: String,
    /// Why: the id, a label, listed in `audio.exclude`, no values, or text.
    pub reason: String,
}

/// The contents of `manifest.json`: what was computed, from what, and how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheManifest {
    /// [`crate::cache::CACHE_FORMAT_VERSION`] of the writer.
    pub format_version: u32,
    /// SHA-256 over descriptor, manifest, input files and settings.
    pub hash: String,
    /// The dataset name from the descriptor.
    pub dataset: String,
    /// The descriptor path as given.
    pub descriptor: String,
    /// The modalities fused into `features.npy`, in column order.
    pub modalities: Vec<Modality>,
    /// Settings in force.
    pub settings: FeatureSettings,
    /// Tracks in the outputs.
    pub tracks: usize,
    /// Tracks listed in `failures.json`.
    pub failed: usize,
    /// Surviving tracks without lyrics (zero lyrics vector).
    pub without_lyrics: usize,
    /// Columns of `features.npy`.
    pub feature_dims: usize,
    /// Columns contributed by each modality, in `modalities` order.
    pub modality_dims: Vec<usize>,
    /// What fusion fitted for each block, in `modalities` order: the
    /// column transform's parameters, the centre and the weight factor
    /// (enough to fuse new rows the same way).
    pub blocks: Vec<FusedBlock>,
    /// `[channels, time]` of each frame matrix when `frames.npy` exists.
    pub frames_shape: Option<[usize; 2]>,
    /// The manifest columns of a table dataset's audio vector, used and excluded.
    pub audio_columns: Option<AudioColumns>,
    /// Output files written, manifest excluded.
    pub files: Vec<String>,
}

/// What a build did.
#[derive(Debug, Clone, PartialEq)]
pub struct BuildReport {
    /// The output directory.
    pub out_dir: PathBuf,
    /// True when the cache matched and nothing was recomputed.
    pub reused: bool,
    /// The written (or reused) `manifest.json`.
    pub manifest: CacheManifest,
    /// The failing tracks.
    pub failures: Vec<TrackFailure>,
}

impl BuildReport {
    /// A human-readable summary: counts, dimensions and every failure.
    #[must_use]
    pub fn summary_text(&self) -> String {
        let manifest = &self.manifest;
        let mut blocks = Vec::new();
        for (modality, dims) in manifest.modalities.iter().zip(&manifest.modality_dims) {
            blocks.push(format!("{} {dims}", modality.name()));
        }
        let mut lines = vec![
            format!(
                "dataset {}: {} tracks, {} failed, {} without lyrics{}",
                manifest.dataset,
                manifest.tracks,
                manifest.failed,
                manifest.without_lyrics,
                if self.reused { " (cache reused)" } else { "" }
            ),
            format!(
                "features.npy: {} x {} ({})",
                manifest.tracks,
                manifest.feature_dims,
                blocks.join(" + ")
            ),
        ];
        if let Some([channels, time]) = manifest.frames_shape {
            lines.push(format!(
                "frames.npy: {} x {channels} x {time}",
                manifest.tracks
            ));
        }
        if let Some(columns) = &manifest.audio_columns {
            lines.push(format!(
                "audio columns used ({}): {}",
                columns.used.len(),
                columns.used.join(", ")
            ));
            if !columns.excluded.is_empty() {
                let mut excluded = Vec::new();
                for column in &columns.excluded {
                    excluded.push(format!("{} ({})", column.column, column.reason));
                }
                lines.push(format!(
                    "audio columns excluded ({}): {}",
                    excluded.len(),
                    excluded.join("; ")
                ));
            }
        }
        for failure in &self.failures {
            lines.push(format!(
                "failed: id `{}` (line {}) {}: {}",
                failure.id, failure.line, failure.path, failure.reason
            ));
        }
        let mut text = lines.join("\n");
        text.push('\n');
        text
    }
}

/// The per-track data of a loaded dataset, before fusion.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedDataset {
    /// Ids of the surviving tracks, in manifest order.
    pub ids: Vec<String>,
    /// Label values per label column (descriptor order), one per surviving track.
    pub labels: Vec<Vec<String>>,
    /// Audio vectors (`n x d_audio`) when the audio modality is loaded.
    pub audio: Option<Array2<f64>>,
    /// Frame matrices (`n x c x t`) when available.
    pub frames: Option<Array3<f32>>,
    /// Lyrics vectors (`n x d_lyrics`) when the lyrics modality is loaded.
    pub lyrics: Option<Array2<f64>>,
    /// Whether each surviving track has lyrics.
    pub has_lyrics: Vec<bool>,
    /// The failing tracks.
    pub failures: Vec<TrackFailure>,
    /// The manifest columns of the audio vector, for table datasets.
    pub audio_columns: Option<AudioColumns>,
}

/// The raw per-track values read in the parallel pass.
#[derive(Debug, Default)]
struct TrackValues {
    audio: Option<Array1<f64>>,
    frames: Option<Array2<f32>>,
    lyrics_text: Option<String>,
    lyrics_embedding: Option<Array1<f64>>,
}

/// Failures keyed by manifest row index (to report them in row order).
type RowFailures = Vec<(usize, TrackFailure)>;

/// Loaded tracks: manifest row index, id and values.
type LoadedRows = Vec<(usize, String, TrackValues)>;

/// A per-track failure before the id/line are attached.
struct TrackError {
    path: PathBuf,
    reason: String,
    /// The bad manifest cell: its column and text.
    cell: Option<(String, String)>,
}

impl TrackError {
    fn new(path: &Path, reason: impl Into<String>) -> Self {
        Self {
            path: path.to_path_buf(),
            reason: reason.into(),
            cell: None,
        }
    }

    fn in_cell(path: &Path, reason: impl Into<String>, column: &str, cell: &str) -> Self {
        Self {
            path: path.to_path_buf(),
            reason: reason.into(),
            cell: Some((column.to_owned(), cell.to_owned())),
        }
    }
}

/// Column indices the build reads, resolved once.
struct Columns {
    id: usize,
    labels: Vec<usize>,
    audio_values: Vec<(String, usize)>,
    audio_choice: Option<AudioColumns>,
    audio_files: Option<usize>,
    lyrics_text: Option<usize>,
    lyrics_files: Option<usize>,
}

fn resolve_columns(
    descriptor: &Descriptor,
    manifest: &Manifest,
    modalities: &[Modality],
) -> Result<Columns> {
    let id = manifest.column_index(&descriptor.id_column, "id_column")?;
    let mut labels = Vec::new();
    for label in &descriptor.labels {
        labels.push(manifest.column_index(label, "labels")?);
    }
    let mut audio_values = Vec::new();
    let mut audio_columns = None;
    let mut audio_files = None;
    if modalities.contains(&Modality::Audio) {
        match &descriptor.audio {
            Some(AudioSource::Columns { columns }) => {
                for column in columns {
                    audio_values.push((
                        column.clone(),
                        manifest.column_index(column, "audio.columns")?,
                    ));
                }
                audio_columns = Some(AudioColumns {
                    used: columns.clone(),
                    excluded: Vec::new(),
                });
            }
            Some(AudioSource::NumericColumns { exclude }) => {
                for column in exclude {
                    manifest.column_index(column, "audio.exclude")?;
                }
                let mut choice = AudioColumns::default();
                for (index, column) in manifest.columns.iter().enumerate() {
                    let reason = if *column == descriptor.id_column {
                        Some("the id column".to_owned())
                    } else if descriptor.labels.contains(column) {
                        Some("a label column".to_owned())
                    } else if exclude.contains(column) {
                        Some("listed in audio.exclude".to_owned())
                    } else {
                        let census = manifest.column_census(index);
                        if census.filled == 0 {
                            Some("no values".to_owned())
                        } else if census.is_numeric() {
                            None
                        } else {
                            let example = census
                                .first_text
                                .map(|(line, text)| format!(", first `{text}` on line {line}"))
                                .unwrap_or_default();
                            Some(format!(
                                "text: {} of {} filled cells are not numbers{example}",
                                census.filled - census.numeric,
                                census.filled
                            ))
                        }
                    };
                    match reason {
                        None => {
                            audio_values.push((column.clone(), index));
                            choice.used.push(column.clone());
                        }
                        Some(reason) => choice.excluded.push(ExcludedColumn {
                            column: column.clone(),
                            reason,
                        }),
                    }
                }
                if audio_values.is_empty() {
                    return Err(Error::Descriptor {
                        path: descriptor.path.clone(),
                        reason: "key `audio.columns` is \"numeric\" but the manifest has no numeric column left".to_string(),
                    });
                }
                audio_columns = Some(choice);
            }
            Some(AudioSource::Files { column }) => {
                audio_files = Some(manifest.column_index(column, "audio.files")?);
            }
            Some(AudioSource::Npy { .. }) | None => {}
        }
    }
    let mut lyrics_text = None;
    let mut lyrics_files = None;
    if modalities.contains(&Modality::Lyrics) {
        match &descriptor.lyrics {
            Some(LyricsSource::TextColumn { column }) => {
                lyrics_text = Some(manifest.column_index(column, "lyrics.text_column")?);
            }
            Some(LyricsSource::Files { column }) => {
                lyrics_files = Some(manifest.column_index(column, "lyrics.files")?);
            }
            Some(LyricsSource::Npy { .. }) | None => {}
        }
    }
    Ok(Columns {
        id,
        labels,
        audio_values,
        audio_choice: audio_columns,
        audio_files,
        lyrics_text,
        lyrics_files,
    })
}

/// Reads a `.npy` of float32 or float64 into `f64`, any dimensionality.
fn read_npy_any(path: &Path) -> std::result::Result<ArrayD<f64>, TrackError> {
    let bytes = std::fs::read(path)
        .map_err(|error| TrackError::new(path, format!("cannot read: {error}")))?;
    if let Ok(array) = <ArrayD<f32> as ndarray_npy::ReadNpyExt>::read_npy(bytes.as_slice()) {
        return Ok(array.mapv(f64::from));
    }
    match <ArrayD<f64> as ndarray_npy::ReadNpyExt>::read_npy(bytes.as_slice()) {
        Ok(array) => Ok(array),
        Err(error) => Err(TrackError::new(
            path,
            format!("not a float32/float64 .npy: {error}"),
        )),
    }
}

fn check_finite(values: &[f64], path: &Path, what: &str) -> std::result::Result<(), TrackError> {
    for value in values {
        if !value.is_finite() {
            return Err(TrackError::new(
                path,
                format!("{what} holds a non-finite value"),
            ));
        }
    }
    Ok(())
}

fn vector_from_npy(path: &Path, what: &str) -> std::result::Result<Array1<f64>, TrackError> {
    let array = read_npy_any(path)?;
    let shape = array.shape().to_vec();
    let length = match shape.as_slice() {
        [length] | [1, length] => *length,
        _ => {
            return Err(TrackError::new(
                path,
                format!("{what} must be a 1-D vector, found shape {shape:?}"),
            ));
        }
    };
    let values: Vec<f64> = array.iter().copied().collect();
    check_finite(&values, path, what)?;
    if values.len() != length {
        return Err(TrackError::new(
            path,
            format!("{what} has an inconsistent shape {shape:?}"),
        ));
    }
    Ok(Array1::from(values))
}

fn frames_from_npy(path: &Path) -> std::result::Result<Array2<f32>, TrackError> {
    let array = read_npy_any(path)?;
    let shape = array.shape().to_vec();
    let (channels, time) = match shape.as_slice() {
        [channels, time] | [1, channels, time] => (*channels, *time),
        _ => {
            return Err(TrackError::new(
                path,
                format!(
                    "frames must be 2-D (channels x time) or 1 x channels x time, found shape {shape:?}"
                ),
            ));
        }
    };
    let values: Vec<f64> = array.iter().copied().collect();
    check_finite(&values, path, "frames")?;
    let mut frames = Array2::zeros((channels, time));
    for (target, value) in frames.iter_mut().zip(values) {
        *target = value as f32;
    }
    Ok(frames)
}

/// What every track of one build shares.
struct TrackContext<'a> {
    descriptor: &'a Descriptor,
    manifest: &'a Manifest,
    columns: &'a Columns,
    modalities: &'a [Modality],
    settings: &'a FeatureSettings,
    extractor: Option<&'a MfccExtractor>,
}

/// A manifest cell as text, or a per-track error when it is not valid UTF-8.
fn text_cell(
    manifest: &Manifest,
    row_index: usize,
    column_index: usize,
    column_name: &str,
) -> std::result::Result<String, TrackError> {
    if manifest.is_invalid_utf8(row_index, column_index) {
        return Err(TrackError::new(
            &manifest.path,
            format!("column `{column_name}` is not valid UTF-8"),
        ));
    }
    Ok(manifest.rows[row_index][column_index].clone())
}

/// Everything one track reads, in parallel with the others.
fn load_track(
    context: &TrackContext<'_>,
    row_index: usize,
    id: &str,
) -> std::result::Result<TrackValues, TrackError> {
    let mut values = TrackValues::default();
    let track = TrackRow {
        context,
        row_index,
        id,
    };
    if context.modalities.contains(&Modality::Audio) {
        load_audio(track, &mut values)?;
    }
    if context.modalities.contains(&Modality::Lyrics) {
        load_lyrics(track, &mut values)?;
    }
    Ok(values)
}

/// One manifest row being loaded: the build's shared context, the row and its id.
#[derive(Clone, Copy)]
struct TrackRow<'a> {
    context: &'a TrackContext<'a>,
    row_index: usize,
    id: &'a str,
}

/// The audio vector and frames of one track.
fn load_audio(
    track: TrackRow<'_>,
    values: &mut TrackValues,
) -> std::result::Result<(), TrackError> {
    let TrackRow { row_index, id, .. } = track;
    let TrackContext {
        descriptor,
        manifest,
        columns,
        settings,
        extractor,
        ..
    } = *track.context;
    let row = &manifest.rows[row_index];
    match &descriptor.audio {
        Some(AudioSource::Columns { .. } | AudioSource::NumericColumns { .. }) => {
            let mut vector = Vec::with_capacity(columns.audio_values.len());
            for (column_name, column_index) in &columns.audio_values {
                let cell = row[*column_index].trim();
                if cell.is_empty() {
                    return Err(TrackError::in_cell(
                        &manifest.path,
                        format!("column `{column_name}` has no value"),
                        column_name,
                        cell,
                    ));
                }
                match cell.parse::<f64>() {
                    Ok(value) if value.is_finite() => vector.push(value),
                    _ => {
                        return Err(TrackError::in_cell(
                            &manifest.path,
                            format!("column `{column_name}` value `{cell}` is not a finite number"),
                            column_name,
                            cell,
                        ));
                    }
                }
            }
            values.audio = Some(Array1::from(vector));
        }
        Some(AudioSource::Npy { pattern }) => {
            values.audio = Some(vector_from_npy(
                &descriptor.pattern_path(pattern, id),
                "audio vector",
            )?);
        }
        Some(AudioSource::Files { column }) => {
            let column_index = columns.audio_files.unwrap_or(0);
            let relative = text_cell(manifest, row_index, column_index, column)?;
            if relative.trim().is_empty() {
                return Err(TrackError::new(
                    &manifest.path,
                    format!("column `{column}` has no audio path"),
                ));
            }
            let path = descriptor.resolve(relative.trim());
            let Some(extractor) = extractor else {
                return Err(TrackError::new(&path, "no MFCC extractor"));
            };
            let samples = crate::audio::load_mono(&path)
                .map_err(|error| TrackError::new(&path, error.to_string()))?;
            let mfcc = extractor
                .mfcc(&samples)
                .map_err(|error| TrackError::new(&path, error.to_string()))?;
            let summary = summary_vector(&samples, &mfcc, &settings.summary);
            let summary_values: Vec<f64> = summary.iter().map(|value| f64::from(*value)).collect();
            check_finite(&summary_values, &path, "MFCC summary")?;
            values.audio = Some(Array1::from(summary_values));
            if descriptor.frames_npy.is_none() {
                values.frames = Some(centre_frames(&mfcc, settings.frames));
            }
        }
        None => {}
    }
    if let Some(pattern) = &descriptor.frames_npy {
        values.frames = Some(frames_from_npy(&descriptor.pattern_path(pattern, id))?);
    }
    Ok(())
}

/// The lyrics text or embedding of one track.
fn load_lyrics(
    track: TrackRow<'_>,
    values: &mut TrackValues,
) -> std::result::Result<(), TrackError> {
    let TrackRow {
        context,
        row_index,
        id,
    } = track;
    match &context.descriptor.lyrics {
        Some(LyricsSource::TextColumn { column }) => {
            let column_index = context.columns.lyrics_text.unwrap_or(0);
            values.lyrics_text = Some(text_cell(
                context.manifest,
                row_index,
                column_index,
                column,
            )?);
        }
        Some(LyricsSource::Files { column }) => {
            let column_index = context.columns.lyrics_files.unwrap_or(0);
            let relative = text_cell(context.manifest, row_index, column_index, column)?;
            if !relative.trim().is_empty() {
                let path = context.descriptor.resolve(relative.trim());
                let bytes = std::fs::read(&path).map_err(|error| {
                    TrackError::new(&path, format!("cannot read lyrics: {error}"))
                })?;
                let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
                match std::str::from_utf8(body) {
                    Ok(text) => values.lyrics_text = Some(text.to_string()),
                    Err(error) => {
                        return Err(TrackError::new(
                            &path,
                            format!(
                                "lyrics are not valid UTF-8 (first bad byte at offset {})",
                                error.valid_up_to()
                            ),
                        ));
                    }
                }
            }
        }
        Some(LyricsSource::Npy { pattern }) => {
            values.lyrics_embedding = Some(vector_from_npy(
                &context.descriptor.pattern_path(pattern, id),
                "lyrics embedding",
            )?);
        }
        None => {}
    }
    Ok(())
}

/// The input files a row refers to (for the cache hash).
fn row_input_files(
    descriptor: &Descriptor,
    manifest: &Manifest,
    columns: &Columns,
    modalities: &[Modality],
    row_index: usize,
    id: &str,
) -> Vec<PathBuf> {
    let row = &manifest.rows[row_index];
    let mut files = Vec::new();
    if modalities.contains(&Modality::Audio) {
        if let Some(column_index) = columns.audio_files {
            let relative = row[column_index].trim();
            if !relative.is_empty() {
                files.push(descriptor.resolve(relative));
            }
        }
        if let Some(AudioSource::Npy { pattern }) = &descriptor.audio {
            files.push(descriptor.pattern_path(pattern, id));
        }
        if let Some(pattern) = &descriptor.frames_npy {
            files.push(descriptor.pattern_path(pattern, id));
        }
    }
    if modalities.contains(&Modality::Lyrics) {
        if let Some(column_index) = columns.lyrics_files {
            let relative = row[column_index].trim();
            if !relative.is_empty() {
                files.push(descriptor.resolve(relative));
            }
        }
        if let Some(LyricsSource::Npy { pattern }) = &descriptor.lyrics {
            files.push(descriptor.pattern_path(pattern, id));
        }
    }
    files
}

/// The shape most tracks have (ties: the one seen first).
fn most_common_shape(shapes: &[Option<Vec<usize>>]) -> Option<Vec<usize>> {
    let mut counts: Vec<(Vec<usize>, usize)> = Vec::new();
    for shape in shapes.iter().flatten() {
        match counts.iter_mut().find(|(known, _)| known == shape) {
            Some(entry) => entry.1 += 1,
            None => counts.push((shape.clone(), 1)),
        }
    }
    let mut best: Option<(Vec<usize>, usize)> = None;
    for (shape, count) in counts {
        if best
            .as_ref()
            .is_none_or(|(_, best_count)| count > *best_count)
        {
            best = Some((shape, count));
        }
    }
    best.map(|(shape, _)| shape)
}

/// Row checks that need no file: a non-empty, valid, unique id and a value
/// for every label. Returns the rows that pass (with their ids) and
/// failures keyed by row index for the rest.
fn check_rows(
    descriptor: &Descriptor,
    manifest: &Manifest,
    columns: &Columns,
) -> (Vec<(usize, String)>, RowFailures) {
    let mut rows_by_id: HashMap<String, Vec<usize>> = HashMap::new();
    for (row_index, row) in manifest.rows.iter().enumerate() {
        rows_by_id
            .entry(row[columns.id].trim().to_string())
            .or_default()
            .push(row_index);
    }
    let mut passing = Vec::new();
    let mut failures = Vec::new();
    for (row_index, row) in manifest.rows.iter().enumerate() {
        let id = row[columns.id].trim().to_string();
        let mut reason = None;
        if id.is_empty() {
            reason = Some(format!(
                "column `{}` (the id) is empty",
                descriptor.id_column
            ));
        } else if manifest.is_invalid_utf8(row_index, columns.id) {
            reason = Some(format!(
                "column `{}` (the id) is not valid UTF-8",
                descriptor.id_column
            ));
        } else if rows_by_id[&id].len() > 1 {
            let mut lines = Vec::new();
            for other in &rows_by_id[&id] {
                lines.push(manifest.row_lines[*other].to_string());
            }
            reason = Some(format!(
                "duplicate id: the same id is on lines {}",
                lines.join(", ")
            ));
        } else {
            for (label, column_index) in descriptor.labels.iter().zip(&columns.labels) {
                if row[*column_index].trim().is_empty() {
                    reason = Some(format!("label column `{label}` has no value"));
                    break;
                }
                if manifest.is_invalid_utf8(row_index, *column_index) {
                    reason = Some(format!("label column `{label}` is not valid UTF-8"));
                    break;
                }
            }
        }
        match reason {
            Some(reason) => failures.push((
                row_index,
                TrackFailure {
                    id,
                    line: manifest.row_lines[row_index],
                    path: manifest.path.display().to_string(),
                    reason,
                    column: None,
                    cell: None,
                },
            )),
            None => passing.push((row_index, id)),
        }
    }
    (passing, failures)
}

/// Which loaded value a shape check looks at.
#[derive(Clone, Copy)]
enum ShapedValue {
    Audio,
    Frames,
    LyricsEmbedding,
}

impl ShapedValue {
    fn shape(self, values: &TrackValues) -> Option<Vec<usize>> {
        match self {
            Self::Audio => values.audio.as_ref().map(|vector| vec![vector.len()]),
            Self::Frames => values.frames.as_ref().map(|frames| frames.shape().to_vec()),
            Self::LyricsEmbedding => values
                .lyrics_embedding
                .as_ref()
                .map(|vector| vec![vector.len()]),
        }
    }

    fn description(self) -> &'static str {
        match self {
            Self::Audio => "audio vector",
            Self::Frames => "frame matrix",
            Self::LyricsEmbedding => "lyrics embedding",
        }
    }

    /// The file a wrong shape came from: the `.npy` when there is one.
    fn path(self, descriptor: &Descriptor, manifest: &Manifest, id: &str) -> String {
        let pattern = match self {
            Self::Audio => match &descriptor.audio {
                Some(AudioSource::Npy { pattern }) => Some(pattern),
                _ => None,
            },
            Self::Frames => descriptor.frames_npy.as_ref(),
            Self::LyricsEmbedding => match &descriptor.lyrics {
                Some(LyricsSource::Npy { pattern }) => Some(pattern),
                _ => None,
            },
        };
        match pattern {
            Some(pattern) => descriptor.pattern_path(pattern, id).display().to_string(),
            None => manifest.path.display().to_string(),
        }
    }
}

/// Moves tracks whose vector or frame shape differs from the shape most
/// tracks have into `failures`; returns the survivors and the common shapes
/// (audio, frames, lyrics embedding).
fn check_shapes(
    descriptor: &Descriptor,
    manifest: &Manifest,
    loaded: LoadedRows,
    failures: &mut RowFailures,
) -> (LoadedRows, [Option<Vec<usize>>; 3]) {
    let kinds = [
        ShapedValue::Audio,
        ShapedValue::Frames,
        ShapedValue::LyricsEmbedding,
    ];
    let mut expected: [Option<Vec<usize>>; 3] = [None, None, None];
    for (slot, kind) in expected.iter_mut().zip(kinds) {
        let shapes: Vec<Option<Vec<usize>>> = loaded
            .iter()
            .map(|(_, _, values)| kind.shape(values))
            .collect();
        *slot = most_common_shape(&shapes);
    }
    let mut survivors = Vec::new();
    for (row_index, id, values) in loaded {
        let mut problem = None;
        for (kind, expected_shape) in kinds.iter().zip(&expected) {
            let shape = kind.shape(&values);
            if shape != *expected_shape {
                problem = Some(TrackFailure {
                    id: id.clone(),
                    line: manifest.row_lines[row_index],
                    path: kind.path(descriptor, manifest, &id),
                    reason: format!(
                        "{} has shape {:?}, most tracks have {:?}",
                        kind.description(),
                        shape.unwrap_or_default(),
                        expected_shape.clone().unwrap_or_default()
                    ),
                    column: None,
                    cell: None,
                });
                break;
            }
        }
        match problem {
            Some(failure) => failures.push((row_index, failure)),
            None => survivors.push((row_index, id, values)),
        }
    }
    (survivors, expected)
}

/// A progress bar over `tracks` tracks, or a hidden one.
fn track_progress_bar(tracks: usize, progress: bool) -> ProgressBar {
    if !progress {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(tracks as u64);
    if let Ok(style) =
        ProgressStyle::with_template("{bar:40} {pos}/{len} tracks  {per_sec}  ETA {eta}")
    {
        bar.set_style(style);
    }
    bar
}

/// Loads every track of a dataset for the given modalities: the per-track
/// values of the survivors, and the failures. Errors only for problems of
/// the whole dataset (descriptor, manifest, missing columns, settings).
///
/// Frames are loaded with the audio modality only: a lyrics-only run never
/// decodes audio.
pub fn load_dataset(
    descriptor: &Descriptor,
    settings: &FeatureSettings,
    progress: bool,
) -> Result<LoadedDataset> {
    settings.validate()?;
    let modalities = settings.resolve_modalities(descriptor)?;
    let manifest = Manifest::load(&descriptor.manifest_path())?;
    let columns = resolve_columns(descriptor, &manifest, &modalities)?;
    let (candidate_rows, mut failures) = check_rows(descriptor, &manifest, &columns);

    let extractor = if columns.audio_files.is_some() {
        Some(MfccExtractor::new(&settings.mfcc)?)
    } else {
        None
    };
    let context = TrackContext {
        descriptor,
        manifest: &manifest,
        columns: &columns,
        modalities: &modalities,
        settings,
        extractor: extractor.as_ref(),
    };
    let bar = track_progress_bar(candidate_rows.len(), progress);
    let results: Vec<std::result::Result<TrackValues, TrackError>> = candidate_rows
        .par_iter()
        .map(|(row_index, id)| {
            let outcome = load_track(&context, *row_index, id);
            bar.inc(1);
            outcome
        })
        .collect();
    bar.finish_and_clear();

    let mut loaded: Vec<(usize, String, TrackValues)> = Vec::new();
    for ((row_index, id), result) in candidate_rows.into_iter().zip(results) {
        match result {
            Ok(values) => loaded.push((row_index, id, values)),
            Err(error) => failures.push((
                row_index,
                TrackFailure {
                    id,
                    line: manifest.row_lines[row_index],
                    path: error.path.display().to_string(),
                    reason: error.reason,
                    column: error.cell.as_ref().map(|(column, _)| column.clone()),
                    cell: error.cell.map(|(_, cell)| cell),
                },
            )),
        }
    }
    let (survivors, [expected_audio, expected_frames, expected_embedding]) =
        check_shapes(descriptor, &manifest, loaded, &mut failures);
    failures.sort_by_key(|(row_index, _)| *row_index);
    let failures: Vec<TrackFailure> = failures.into_iter().map(|(_, failure)| failure).collect();

    let count = survivors.len();
    let mut ids = Vec::with_capacity(count);
    let mut labels = vec![Vec::with_capacity(count); descriptor.labels.len()];
    for (row_index, id, _) in &survivors {
        ids.push(id.clone());
        for (label_index, column_index) in columns.labels.iter().enumerate() {
            labels[label_index].push(manifest.rows[*row_index][*column_index].trim().to_string());
        }
    }
    let mut audio = expected_audio.map(|shape| Array2::zeros((count, shape[0])));
    let mut frames = expected_frames.map(|shape| Array3::zeros((count, shape[0], shape[1])));
    let mut embeddings = expected_embedding.map(|shape| Array2::zeros((count, shape[0])));
    let mut texts = Vec::with_capacity(count);
    for (track, (_, _, values)) in survivors.into_iter().enumerate() {
        if let (Some(matrix), Some(vector)) = (audio.as_mut(), &values.audio) {
            matrix.row_mut(track).assign(vector);
        }
        if let (Some(stack), Some(matrix)) = (frames.as_mut(), &values.frames) {
            stack.index_axis_mut(Axis(0), track).assign(matrix);
        }
        if let (Some(matrix), Some(vector)) = (embeddings.as_mut(), &values.lyrics_embedding) {
            matrix.row_mut(track).assign(vector);
        }
        texts.push(values.lyrics_text);
    }
    let (lyrics, has_lyrics) = if !modalities.contains(&Modality::Lyrics) {
        (None, vec![false; count])
    } else if let Some(matrix) = embeddings {
        (Some(matrix), vec![true; count])
    } else {
        let (matrix, flags) = lyrics_vectors(&texts, &settings.lyrics)?;
        (Some(matrix), flags)
    };
    Ok(LoadedDataset {
        ids,
        labels,
        audio,
        frames,
        lyrics,
        has_lyrics,
        failures,
        audio_columns: columns.audio_choice.clone(),
    })
}

fn json_bytes<T: Serialize>(value: &T, path: &Path) -> Result<Vec<u8>> {
    let mut bytes = serde_json::to_vec_pretty(value).map_err(|error| Error::Io {
        path: path.to_path_buf(),
        cause: std::io::Error::other(error),
    })?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// The cache hash of a build: descriptor, manifest, every input file the
/// rows refer to, modalities and settings.
fn cache_hash(
    descriptor: &Descriptor,
    modalities: &[Modality],
    settings: &FeatureSettings,
) -> Result<String> {
    let manifest = Manifest::load(&descriptor.manifest_path())?;
    let columns = resolve_columns(descriptor, &manifest, modalities)?;
    let mut hasher = InputHasher::new();
    hasher.add_file(&descriptor.path);
    hasher.add_file(&manifest.path);
    for (row_index, row) in manifest.rows.iter().enumerate() {
        let id = row[columns.id].trim();
        for path in row_input_files(descriptor, &manifest, &columns, modalities, row_index, id) {
            hasher.add_file(&path);
        }
    }
    let settings_json = serde_json::to_vec(settings).map_err(|error| Error::InvalidConfig {
        key: "settings".to_string(),
        reason: error.to_string(),
    })?;
    hasher.add_bytes("settings", &settings_json);
    let mut names = Vec::new();
    for modality in modalities {
        names.push(modality.name());
    }
    hasher.add_bytes("modalities", names.join(",").as_bytes());
    Ok(hasher.finish())
}

/// Reads `failures.json` from an output directory.
pub fn read_failures(out_dir: &Path) -> Result<Vec<TrackFailure>> {
    let path = out_dir.join("failures.json");
    let text = std::fs::read_to_string(&path).map_err(|source| Error::Io {
        path: path.clone(),
        cause: source,
    })?;
    serde_json::from_str(&text).map_err(|error| Error::Io {
        path,
        cause: std::io::Error::other(error),
    })
}

/// Reads `manifest.json` from an output directory, if there is a readable one.
#[must_use]
pub fn read_cache_manifest(out_dir: &Path) -> Option<CacheManifest> {
    let text = std::fs::read_to_string(out_dir.join("manifest.json")).ok()?;
    serde_json::from_str(&text).ok()
}

/// The cached build in `out_dir` when its hash matches and every file it
/// lists is present.
fn reusable_cache(out_dir: &Path, hash: &str) -> Option<CacheManifest> {
    let cached = read_cache_manifest(out_dir)?;
    if cached.hash != hash || cached.format_version != crate::cache::CACHE_FORMAT_VERSION {
        return None;
    }
    for file in &cached.files {
        if !out_dir.join(file).is_file() {
            return None;
        }
    }
    Some(cached)
}

fn remove_if_present(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(Error::Io {
            path: path.to_path_buf(),
            cause: source,
        }),
    }
}

/// Builds (or reuses) the features of the dataset described by
/// `descriptor_path` into `out_dir`. See the module docs for the outputs.
///
/// `failures.json` is written even when the build then fails because no
/// track survived or because `strict` is set and a track failed.
pub fn build_features(
    descriptor_path: &Path,
    out_dir: &Path,
    settings: &FeatureSettings,
    options: &BuildOptions,
) -> Result<BuildReport> {
    settings.validate()?;
    let descriptor = Descriptor::load(descriptor_path)?;
    let modalities = settings.resolve_modalities(&descriptor)?;
    std::fs::create_dir_all(out_dir).map_err(|source| Error::Io {
        path: out_dir.to_path_buf(),
        cause: source,
    })?;
    let failures_path = out_dir.join("failures.json");
    let manifest_path = out_dir.join("manifest.json");
    let hash = cache_hash(&descriptor, &modalities, settings)?;

    if !options.force
        && let Some(cached) = reusable_cache(out_dir, &hash)
    {
        let failures = read_failures(out_dir)?;
        if options.strict && !failures.is_empty() {
            return Err(Error::StrictFailures {
                failed: failures.len(),
                failures_path,
            });
        }
        return Ok(BuildReport {
            out_dir: out_dir.to_path_buf(),
            reused: true,
            manifest: cached,
            failures,
        });
    }

    let loaded = load_dataset(&descriptor, settings, options.progress)?;
    // Invalidate the previous cache before any output changes.
    remove_if_present(&manifest_path)?;
    write_atomic(
        &failures_path,
        &json_bytes(&loaded.failures, &failures_path)?,
    )?;
    if loaded.ids.is_empty() {
        return Err(Error::NoTrackSurvived {
            failed: loaded.failures.len(),
            failures_path,
        });
    }
    if options.strict && !loaded.failures.is_empty() {
        return Err(Error::StrictFailures {
            failed: loaded.failures.len(),
            failures_path,
        });
    }

    let mut blocks: Vec<(Modality, &Array2<f64>)> = Vec::new();
    for modality in &modalities {
        let block = match modality {
            Modality::Audio => loaded.audio.as_ref(),
            Modality::Lyrics => loaded.lyrics.as_ref(),
        };
        if let Some(block) = block {
            blocks.push((*modality, block));
        }
    }
    let (fused, fused_blocks) = fuse(&blocks, &settings.fusion)?;
    let files = write_outputs(out_dir, &descriptor, &loaded, &fused)?;

    let mut without_lyrics = 0;
    if modalities.contains(&Modality::Lyrics) {
        for flag in &loaded.has_lyrics {
            if !flag {
                without_lyrics += 1;
            }
        }
    }
    let cache_manifest = CacheManifest {
        format_version: crate::cache::CACHE_FORMAT_VERSION,
        hash,
        dataset: descriptor.name.clone(),
        descriptor: descriptor_path.display().to_string(),
        modalities: blocks.iter().map(|(modality, _)| *modality).collect(),
        settings: settings.clone(),
        tracks: loaded.ids.len(),
        failed: loaded.failures.len(),
        without_lyrics,
        feature_dims: fused.ncols(),
        modality_dims: blocks.iter().map(|(_, block)| block.ncols()).collect(),
        blocks: fused_blocks,
        frames_shape: loaded
            .frames
            .as_ref()
            .map(|frames| [frames.shape()[1], frames.shape()[2]]),
        audio_columns: loaded.audio_columns.clone(),
        files,
    };
    write_atomic(
        &manifest_path,
        &json_bytes(&cache_manifest, &manifest_path)?,
    )?;
    Ok(BuildReport {
        out_dir: out_dir.to_path_buf(),
        reused: false,
        manifest: cache_manifest,
        failures: loaded.failures,
    })
}

/// Writes `features.npy`, `frames.npy` (or removes a stale one), `ids.txt`
/// and `labels.json`; returns the names of the files the cache lists.
fn write_outputs(
    out_dir: &Path,
    descriptor: &Descriptor,
    loaded: &LoadedDataset,
    fused: &Array2<f64>,
) -> Result<Vec<String>> {
    let mut files = vec!["features.npy".to_string()];
    write_npy_atomic(
        &out_dir.join("features.npy"),
        &fused.mapv(|value| value as f32),
    )?;
    let frames_path = out_dir.join("frames.npy");
    if let Some(frames) = &loaded.frames {
        write_npy_atomic(&frames_path, frames)?;
        files.push("frames.npy".to_string());
    } else {
        remove_if_present(&frames_path)?;
    }

    let mut ids_text = String::new();
    for id in &loaded.ids {
        ids_text.push_str(id);
        ids_text.push('\n');
    }
    write_atomic(&out_dir.join("ids.txt"), ids_text.as_bytes())?;
    files.push("ids.txt".to_string());

    let mut label_values = BTreeMap::new();
    for (name, values) in descriptor.labels.iter().zip(&loaded.labels) {
        label_values.insert(name.clone(), values.clone());
    }
    let labels_json = serde_json::json!({
        "primary": descriptor.labels.first(),
        "names": descriptor.labels,
        "labels": label_values,
        // Unknown (null) when the lyrics modality was not loaded.
        "has_lyrics": loaded.lyrics.as_ref().map(|_| &loaded.has_lyrics),
    });
    let labels_path = out_dir.join("labels.json");
    write_atomic(&labels_path, &json_bytes(&labels_json, &labels_path)?)?;
    files.push("labels.json".to_string());
    files.push("failures.json".to_string());
    Ok(files)
}
