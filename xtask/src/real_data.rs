//! `cargo xtask real-data`: check that every real dataset descriptor loads.
//!
//! ```text
//! cargo xtask real-data [--datasets DIR]
//! ```
//!
//! For each `DIR/*/dataset.json` (default `../shared/datasets` beside the
//! workspace) this loads the descriptor and every track with the default
//! settings, prints the track count, the failures and the dimensions of each
//! modality and of the frames, fuses the blocks with the default fusion
//! (printing each block's transform and factor), and fails when a
//! descriptor does not load, a dataset has no usable track, or fusion does
//! not give finite features with each block's weight as its total variance. It also decodes `gtzan-clips/encoded/` (the
//! same music as FLAC, MP3 and Ogg Vorbis): FLAC must give the WAV's samples
//! exactly. It is the real-data check that `.ci/run`
//! runs after the tests; `cargo xtask test` never needs the real data.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use songvae_features::audio::load_mono;
use songvae_features::dataset::{FeatureSettings, LoadedDataset, load_dataset};
use songvae_features::descriptor::Descriptor;
use songvae_features::fusion::{Modality, fuse};
use songvae_features::mfcc::{MfccConfig, mfcc};
use songvae_features::transform::FittedTransform;

/// Arguments of `cargo xtask real-data`.
#[derive(Debug, Clone, clap::Args)]
pub struct RealDataArgs {
    /// Folder holding one sub-folder per dataset, each with a `dataset.json`.
    #[arg(long, value_name = "DIR")]
    pub datasets: Option<PathBuf>,
}

/// The default real-data folder: `../shared/datasets` relative to the workspace root.
fn default_datasets_dir() -> PathBuf {
    let workspace_root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    workspace_root.join("..").join("shared").join("datasets")
}

/// Runs `cargo xtask real-data`.
pub fn real_data_command(args: &RealDataArgs) -> Result<()> {
    let datasets_dir = args.datasets.clone().unwrap_or_else(default_datasets_dir);
    if !datasets_dir.is_dir() {
        bail!(
            "real-data folder {} is missing; it holds the shared real datasets (see README.md, \"Real data\") and is needed only by this command",
            datasets_dir.display()
        );
    }
    let mut descriptors = Vec::new();
    let entries = std::fs::read_dir(&datasets_dir)
        .with_context(|| format!("cannot list {}", datasets_dir.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot list {}", datasets_dir.display()))?;
        let descriptor_path = entry.path().join("dataset.json");
        if descriptor_path.is_file() {
            descriptors.push(descriptor_path);
        }
    }
    descriptors.sort();
    if descriptors.is_empty() {
        bail!("no */dataset.json under {}", datasets_dir.display());
    }
    let settings = FeatureSettings::default();
    let mut broken = Vec::new();
    for descriptor_path in &descriptors {
        let started = std::time::Instant::now();
        let outcome = Descriptor::load(descriptor_path).and_then(|descriptor| {
            load_dataset(&descriptor, &settings, false).map(|loaded| (descriptor, loaded))
        });
        match outcome {
            Ok((descriptor, loaded)) => {
                let mut parts = Vec::new();
                if let Some(audio) = &loaded.audio {
                    parts.push(format!("audio {}", audio.ncols()));
                }
                if let Some(lyrics) = &loaded.lyrics {
                    let without = loaded.has_lyrics.iter().filter(|flag| !**flag).count();
                    parts.push(format!(
                        "lyrics {} ({without} without lyrics)",
                        lyrics.ncols()
                    ));
                }
                if let Some(frames) = &loaded.frames {
                    parts.push(format!(
                        "frames {} x {}",
                        frames.shape()[1],
                        frames.shape()[2]
                    ));
                }
                println!(
                    "{}: {} tracks, {} failed, {}; labels {:?} ({:.1} s)",
                    descriptor.name,
                    loaded.ids.len(),
                    loaded.failures.len(),
                    parts.join(", "),
                    descriptor.labels,
                    started.elapsed().as_secs_f64()
                );
                for failure in &loaded.failures {
                    println!(
                        "  failed: id `{}` (line {}) {}: {}",
                        failure.id, failure.line, failure.path, failure.reason
                    );
                }
                if loaded.ids.is_empty() {
                    broken.push(format!("{}: no track survived", descriptor_path.display()));
                } else if let Err(problem) = check_fusion(&loaded, &settings) {
                    broken.push(format!("{}: {problem}", descriptor_path.display()));
                }
            }
            Err(error) => {
                println!("{}: does not load: {error}", descriptor_path.display());
                broken.push(format!("{}: {error}", descriptor_path.display()));
            }
        }
    }
    broken.extend(check_encoded_clips(&datasets_dir)?);
    if !broken.is_empty() {
        bail!(
            "{} of {} real datasets failed:\n{}",
            broken.len(),
            descriptors.len(),
            broken.join("\n")
        );
    }
    println!("all {} real datasets load", descriptors.len());
    Ok(())
}

/// Fuses the loaded blocks with the default fusion (column transforms, unit
/// lyrics rows, block weights) and prints what was fitted: each block's
/// transform, factor and, for Yeo-Johnson, the range of its lambdas. The
/// fused matrix must be finite and each block's total variance its weight.
fn check_fusion(loaded: &LoadedDataset, settings: &FeatureSettings) -> Result<(), String> {
    let mut blocks = Vec::new();
    if let Some(audio) = &loaded.audio {
        blocks.push((Modality::Audio, audio));
    }
    if let Some(lyrics) = &loaded.lyrics {
        blocks.push((Modality::Lyrics, lyrics));
    }
    let (fused, records) = fuse(&blocks, &settings.fusion).map_err(|error| error.to_string())?;
    if fused.iter().any(|value| !value.is_finite()) {
        return Err("the fused features hold a non-finite value".to_owned());
    }
    let mut start = 0;
    for record in &records {
        let columns = start..start + record.columns;
        start += record.columns;
        let mut total = 0.0;
        for column in columns {
            let values = fused.column(column);
            let mean = values.sum() / values.len() as f64;
            let mut squares = 0.0;
            for value in values {
                squares += (value - mean) * (value - mean);
            }
            total += squares / values.len() as f64;
        }
        let weight = settings.fusion.weight(record.modality);
        if record.scale > 0.0 && (total - weight).abs() > 1e-6 * weight.max(1.0) {
            return Err(format!(
                "the {} block's total variance is {total}, not its weight {weight}",
                record.modality.name()
            ));
        }
        let lambdas = match &record.transform {
            FittedTransform::YeoJohnson { lambdas, .. } => {
                let low = lambdas.iter().copied().fold(f64::INFINITY, f64::min);
                let high = lambdas.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                format!(", lambdas {low:.3} to {high:.3}")
            }
            _ => String::new(),
        };
        println!(
            "  fused {} block: {} columns, {}{}{lambdas}, factor {:.4}",
            record.modality.name(),
            record.columns,
            if record.unit_rows { "unit rows, " } else { "" },
            record.transform.kind().name(),
            record.scale
        );
    }
    Ok(())
}

/// The same music in other formats: every file in `gtzan-clips/encoded/`
/// decodes; a lossless one (FLAC) gives exactly the WAV's samples and so the
/// same MFCC; a lossy one (MP3, Ogg Vorbis) has the WAV's length within one
/// codec frame (2048 samples), and its MFCC distance to the WAV's is printed.
/// Returns the problems found.
fn check_encoded_clips(datasets_dir: &Path) -> Result<Vec<String>> {
    let clips = datasets_dir.join("gtzan-clips");
    let encoded = clips.join("encoded");
    let mut problems = Vec::new();
    if !encoded.is_dir() {
        problems.push(format!("{} is missing", encoded.display()));
        return Ok(problems);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(&encoded)
        .with_context(|| format!("cannot list {}", encoded.display()))?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .collect();
    files.sort();
    let config = MfccConfig::default();
    for file in files {
        let Some(stem) = file.file_stem().and_then(|stem| stem.to_str()) else {
            continue;
        };
        let wav_path = clips.join(format!("{stem}.wav"));
        let (wav, other) = match (load_mono(&wav_path), load_mono(&file)) {
            (Ok(wav), Ok(other)) => (wav, other),
            (Err(error), _) | (_, Err(error)) => {
                problems.push(format!("{}: {error}", file.display()));
                continue;
            }
        };
        let lossless = file
            .extension()
            .is_some_and(|extension| extension == "flac");
        let length_gap = wav.len().abs_diff(other.len());
        let wav_mfcc = mfcc(&wav, &config)?;
        let other_mfcc = mfcc(&other, &config)?;
        let frames = wav_mfcc.ncols().min(other_mfcc.ncols());
        let wav_part = wav_mfcc.slice(ndarray::s![.., ..frames]);
        let difference = &wav_part - &other_mfcc.slice(ndarray::s![.., ..frames]);
        let squared = |value: &f32| f64::from(*value).powi(2);
        let relative = (difference.iter().map(squared).sum::<f64>()
            / wav_part.iter().map(squared).sum::<f64>())
        .sqrt();
        println!(
            "{}: {} samples (wav {}), MFCC relative difference to the wav {relative:.2e}",
            file.display(),
            other.len(),
            wav.len()
        );
        if lossless && wav != other {
            problems.push(format!(
                "{}: lossless but its samples differ from {}",
                file.display(),
                wav_path.display()
            ));
        } else if !lossless && length_gap > 2048 {
            problems.push(format!(
                "{}: {length_gap} samples longer or shorter than the wav",
                file.display()
            ));
        }
    }
    Ok(problems)
}
