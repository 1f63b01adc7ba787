//! Loading a dataset from its descriptor: per-track values, per-track
//! failures, and the feature settings that say how.
//!
//! [`load_dataset`] does the expensive part of a build (see
//! [`crate::build`] for the outputs and the cache):
//!
//! 1. Read the descriptor and manifest; check every column it names exists.
//! 2. Check each row: a non-empty, unique id and a value for every label.
//! 3. In parallel over tracks (rayon, with an indicatif progress bar): read
//!    the audio vector (numeric columns, `.npy`, or decode + MFCC summary),
//!    the frame matrix (`.npy`, or the centre-cropped MFCC frames) and the
//!    lyrics (text column, text file or `.npy` embedding).
//! 4. Tracks whose `.npy` shape differs from the shape most tracks have fail.
//! 5. Lyrics text becomes TF-IDF + SVD vectors ([`crate::lyrics`]).
//!
//! A track that fails any step is listed with its id, manifest line, the
//! path involved and the reason (and, for a bad manifest cell, its column
//! and text); the rest go on. Under `"audio": {"columns": "numeric"}` a
//! column is numeric when most of its filled cells are numbers, so a few
//! bad cells fail their tracks instead of removing the column.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressStyle};
use ndarray::{Array1, Array2, Array3, ArrayD, Axis};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::descriptor::{AudioSource, Descriptor, LyricsSource};
use crate::error::{Error, Result};
use crate::fusion::{FusionConfig, Modality};
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
/// | `lyrics` | word 1-2 grams, 5000 terms, 16 dims | see [`LyricsConfig`] |
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
    /// Each track's lyrics text, when lyrics came as text: kept so that
    /// [`LoadedDataset::with_lyrics_settings`] can vectorise them again.
    pub lyrics_texts: Option<Vec<Option<String>>>,
}

impl LoadedDataset {
    /// The same tracks with the lyrics vectorised by `config` (TF-IDF and
    /// SVD again from the kept texts; precomputed embeddings stay as they are).
    pub fn with_lyrics_settings(&self, config: &LyricsConfig) -> Result<Self> {
        let mut dataset = self.clone();
        if let (Some(texts), Some(_)) = (&self.lyrics_texts, &self.lyrics) {
            let (matrix, flags) = lyrics_vectors(texts, config)?;
            dataset.lyrics = Some(matrix);
            dataset.has_lyrics = flags;
        }
        Ok(dataset)
    }

    /// The same tracks with only the blocks of `modalities`: without audio
    /// no audio vectors and no frames, without lyrics no lyrics vectors.
    #[must_use]
    pub fn restricted_to(mut self, modalities: &[Modality]) -> Self {
        if !modalities.contains(&Modality::Audio) {
            self.audio = None;
            self.frames = None;
            self.audio_columns = None;
        }
        if !modalities.contains(&Modality::Lyrics) {
            self.lyrics = None;
            self.lyrics_texts = None;
            self.has_lyrics = vec![false; self.ids.len()];
        }
        self
    }
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
pub(crate) struct Columns {
    pub(crate) id: usize,
    labels: Vec<usize>,
    audio_values: Vec<(String, usize)>,
    audio_choice: Option<AudioColumns>,
    audio_files: Option<usize>,
    lyrics_text: Option<usize>,
    lyrics_files: Option<usize>,
}

pub(crate) fn resolve_columns(
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
pub(crate) fn row_input_files(
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
    let (lyrics, has_lyrics, lyrics_texts) = if !modalities.contains(&Modality::Lyrics) {
        (None, vec![false; count], None)
    } else if let Some(matrix) = embeddings {
        (Some(matrix), vec![true; count], None)
    } else {
        let (matrix, flags) = lyrics_vectors(&texts, &settings.lyrics)?;
        (Some(matrix), flags, Some(texts))
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
        lyrics_texts,
    })
}
