//! Building feature directories: fusion, outputs and the cache.
//!
//! [`build_features`] is what `cargo xtask features` runs;
//! [`build_feature_sets`] builds several feature settings of one dataset
//! together, as a sweep with feature axes needs: the dataset is loaded
//! (audio decoded, MFCCs computed) once per distinct audio setting (MFCC,
//! summary, frames) with every modality any of the settings uses, the
//! lyrics are vectorised once per distinct lyrics setting, and each setting
//! only fuses. So every setting of a study holds the same tracks: a track
//! that fails in one modality is left out of all of them, which keeps the
//! comparison of modalities on the same rows.
//!
//! Output files in each output directory, written atomically
//! ([`crate::cache`]), `manifest.json` last:
//!
//! | file | content |
//! |---|---|
//! | `features.npy` | fused features, `n x d`, float32 |
//! | `frames.npy` | frame matrices, `n x c x t`, float32 (only when the dataset has frames and audio is fused) |
//! | `ids.txt` | one track id per line, in row order of the matrices |
//! | `labels.json` | `{"primary", "names", "labels": {name: [value per track]}, "has_lyrics": [..] or null without the lyrics modality}` |
//! | `failures.json` | list of `{"id", "line", "path", "reason"}`, with `"column"` and `"cell"` for a bad manifest cell |
//! | `manifest.json` | settings, dimensions, counts, what fusion fitted per block, and the cache hash |
//!
//! The cache hash covers the descriptor, the manifest, every input file of
//! the loaded modalities, the settings and the loaded modalities, so an
//! unchanged build is reused and any change rebuilds.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::cache::{InputHasher, write_atomic, write_npy_atomic};
use crate::dataset::{
    AudioColumns, FeatureSettings, LoadedDataset, TrackFailure, load_dataset, resolve_columns,
    row_input_files,
};
use crate::descriptor::Descriptor;
use crate::error::{Error, Result};
use crate::fusion::{FusedBlock, Modality, fuse};
use crate::lyrics::LyricsConfig;
use crate::manifest::Manifest;
use crate::training_data::LabelsFile;

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
    /// The modalities loaded to decide which tracks survive: the fused
    /// ones, or every modality of a study's feature settings built together.
    pub loaded_modalities: Vec<Modality>,
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

/// One feature directory of a [`build_feature_sets`] call.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureBuild {
    /// Where its outputs go.
    pub out_dir: PathBuf,
    /// Its settings.
    pub settings: FeatureSettings,
}

/// The digest of a build's inputs: descriptor, manifest and every input
/// file of the loaded modalities. Computed once for all the builds of one
/// [`build_feature_sets`] call, which read the same inputs.
fn inputs_digest(descriptor: &Descriptor, loaded_modalities: &[Modality]) -> Result<String> {
    let manifest = Manifest::load(&descriptor.manifest_path())?;
    let columns = resolve_columns(descriptor, &manifest, loaded_modalities)?;
    let mut hasher = InputHasher::new();
    hasher.add_file(&descriptor.path);
    hasher.add_file(&manifest.path);
    for (row_index, row) in manifest.rows.iter().enumerate() {
        let id = row[columns.id].trim();
        for path in row_input_files(
            descriptor,
            &manifest,
            &columns,
            loaded_modalities,
            row_index,
            id,
        ) {
            hasher.add_file(&path);
        }
    }
    hasher.add_bytes(
        "loaded-modalities",
        modality_names(loaded_modalities).as_bytes(),
    );
    Ok(hasher.finish())
}

/// The cache hash of a build: its inputs' digest, the fused modalities and
/// the settings.
fn cache_hash(
    inputs: &str,
    fused_modalities: &[Modality],
    settings: &FeatureSettings,
) -> Result<String> {
    let mut hasher = InputHasher::new();
    hasher.add_bytes("inputs", inputs.as_bytes());
    let settings_json = serde_json::to_vec(settings).map_err(|error| Error::InvalidConfig {
        key: "settings".to_string(),
        reason: error.to_string(),
    })?;
    hasher.add_bytes("settings", &settings_json);
    hasher.add_bytes("modalities", modality_names(fused_modalities).as_bytes());
    Ok(hasher.finish())
}

fn modality_names(modalities: &[Modality]) -> String {
    let mut names = Vec::new();
    for modality in modalities {
        names.push(modality.name());
    }
    names.join(",")
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
    let build = FeatureBuild {
        out_dir: out_dir.to_path_buf(),
        settings: settings.clone(),
    };
    let mut built = build_feature_sets(descriptor_path, &[build], options)?;
    built.reports.pop().ok_or_else(|| Error::InvalidConfig {
        key: "settings".to_owned(),
        reason: "no build".to_owned(),
    })
}

/// One build's resolved plan: modalities, hash, and whether its cache holds.
struct PlannedBuild<'a> {
    build: &'a FeatureBuild,
    modalities: Vec<Modality>,
    hash: String,
    cached: Option<CacheManifest>,
}

/// What [`build_feature_sets`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureSetsReport {
    /// One report per build, in the order given.
    pub reports: Vec<BuildReport>,
    /// How many times the dataset was loaded (audio decoded, MFCCs
    /// computed): once per distinct audio setting among the builds that
    /// were not reused, 0 when every cache held.
    pub dataset_loads: usize,
}

/// Builds (or reuses) several feature settings of one dataset, loading the
/// dataset once per distinct audio setting; see the module docs.
pub fn build_feature_sets(
    descriptor_path: &Path,
    builds: &[FeatureBuild],
    options: &BuildOptions,
) -> Result<FeatureSetsReport> {
    let descriptor = Descriptor::load(descriptor_path)?;
    let mut loaded_modalities: Vec<Modality> = Vec::new();
    let mut resolved = Vec::with_capacity(builds.len());
    for build in builds {
        build.settings.validate()?;
        let modalities = build.settings.resolve_modalities(&descriptor)?;
        for modality in &modalities {
            if !loaded_modalities.contains(modality) {
                loaded_modalities.push(*modality);
            }
        }
        resolved.push(modalities);
    }
    loaded_modalities.sort();
    let inputs = inputs_digest(&descriptor, &loaded_modalities)?;
    let mut planned = Vec::with_capacity(builds.len());
    for (build, modalities) in builds.iter().zip(resolved) {
        std::fs::create_dir_all(&build.out_dir).map_err(|source| Error::Io {
            path: build.out_dir.clone(),
            cause: source,
        })?;
        let hash = cache_hash(&inputs, &modalities, &build.settings)?;
        let cached = if options.force {
            None
        } else {
            reusable_cache(&build.out_dir, &hash)
        };
        planned.push(PlannedBuild {
            build,
            modalities,
            hash,
            cached,
        });
    }

    // One load per distinct audio setting among the builds to redo, and in
    // each load the lyrics vectorised once per distinct lyrics setting (the
    // first is the one the load computed).
    let mut loads: Vec<(String, Vec<(LyricsConfig, LoadedDataset)>)> = Vec::new();
    let mut reports = Vec::with_capacity(planned.len());
    for plan in planned {
        let failures_path = plan.build.out_dir.join("failures.json");
        if let Some(cached) = plan.cached {
            let failures = read_failures(&plan.build.out_dir)?;
            if options.strict && !failures.is_empty() {
                return Err(Error::StrictFailures {
                    failed: failures.len(),
                    failures_path,
                });
            }
            reports.push(BuildReport {
                out_dir: plan.build.out_dir.clone(),
                reused: true,
                manifest: cached,
                failures,
            });
            continue;
        }
        let settings = &plan.build.settings;
        let key = load_key(settings)?;
        let position = if let Some(position) = loads.iter().position(|(known, _)| *known == key) {
            position
        } else {
            let mut load_settings = settings.clone();
            load_settings.modalities = Some(loaded_modalities.clone());
            let dataset = load_dataset(&descriptor, &load_settings, options.progress)?;
            loads.push((key, vec![(settings.lyrics.clone(), dataset)]));
            loads.len() - 1
        };
        let variants = &mut loads[position].1;
        let variant = if let Some(variant) = variants
            .iter()
            .position(|(lyrics, _)| *lyrics == settings.lyrics)
        {
            variant
        } else {
            let vectorised = variants[0].1.with_lyrics_settings(&settings.lyrics)?;
            variants.push((settings.lyrics.clone(), vectorised));
            variants.len() - 1
        };
        let loaded = variants[variant].1.clone().restricted_to(&plan.modalities);
        reports.push(write_build(
            descriptor_path,
            &descriptor,
            &plan,
            &loaded_modalities,
            &loaded,
            *options,
        )?);
    }
    Ok(FeatureSetsReport {
        reports,
        dataset_loads: loads.len(),
    })
}

/// What decides how audio is decoded and summarised: builds that agree on
/// it share one load of the dataset.
fn load_key(settings: &FeatureSettings) -> Result<String> {
    let key = serde_json::json!({
        "mfcc": settings.mfcc,
        "summary": settings.summary,
        "frames": settings.frames,
    });
    serde_json::to_string(&key).map_err(|error| Error::InvalidConfig {
        key: "settings".to_owned(),
        reason: error.to_string(),
    })
}

/// Fuses one build's blocks and writes its outputs, `manifest.json` last.
fn write_build(
    descriptor_path: &Path,
    descriptor: &Descriptor,
    plan: &PlannedBuild<'_>,
    loaded_modalities: &[Modality],
    loaded: &LoadedDataset,
    options: BuildOptions,
) -> Result<BuildReport> {
    let out_dir = &plan.build.out_dir;
    let settings = &plan.build.settings;
    let failures_path = out_dir.join("failures.json");
    let manifest_path = out_dir.join("manifest.json");
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
    for modality in &plan.modalities {
        let block = match modality {
            Modality::Audio => loaded.audio.as_ref(),
            Modality::Lyrics => loaded.lyrics.as_ref(),
        };
        if let Some(block) = block {
            blocks.push((*modality, block));
        }
    }
    let (fused, fused_blocks) = fuse(&blocks, &settings.fusion)?;
    let files = write_outputs(out_dir, descriptor, loaded, &fused)?;

    let mut without_lyrics = 0;
    if plan.modalities.contains(&Modality::Lyrics) {
        for flag in &loaded.has_lyrics {
            if !flag {
                without_lyrics += 1;
            }
        }
    }
    let cache_manifest = CacheManifest {
        format_version: crate::cache::CACHE_FORMAT_VERSION,
        hash: plan.hash.clone(),
        dataset: descriptor.name.clone(),
        descriptor: descriptor_path.display().to_string(),
        loaded_modalities: loaded_modalities.to_vec(),
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
        out_dir: out_dir.clone(),
        reused: false,
        manifest: cache_manifest,
        failures: loaded.failures.clone(),
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
    let labels_json = LabelsFile {
        primary: descriptor.labels.first().cloned(),
        names: descriptor.labels.clone(),
        labels: label_values,
        // Unknown (null) when the lyrics modality was not loaded.
        has_lyrics: loaded.lyrics.as_ref().map(|_| loaded.has_lyrics.clone()),
    };
    let labels_path = out_dir.join(LabelsFile::NAME);
    write_atomic(&labels_path, &json_bytes(&labels_json, &labels_path)?)?;
    files.push("labels.json".to_string());
    files.push("failures.json".to_string());
    Ok(files)
}
