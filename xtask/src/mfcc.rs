//! `cargo xtask mfcc FILE --out OUT.npy`: the MFCC matrix of one audio file.
//!
//! Decodes (WAV, FLAC, Ogg Vorbis, MP3), downmixes, resamples to 22,050 Hz and
//! writes librosa's `librosa.feature.mfcc(y=librosa.load(FILE)[0], sr=22050)`
//! as float32 with shape (`n_mfcc`, frames). The file is written under a
//! temporary name and renamed, so an interrupted run never leaves half a file.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use songvae_features::audio::load_mono;
use songvae_features::mfcc::{MfccConfig, mfcc};

/// Arguments of `cargo xtask mfcc`.
#[derive(Debug, clap::Args)]
pub struct MfccArgs {
    /// Audio file to analyse (WAV, FLAC, Ogg Vorbis or MP3).
    pub file: PathBuf,
    /// Where to write the float32 `.npy` matrix (`n_mfcc` x frames).
    #[arg(long)]
    pub out: PathBuf,
    /// Optional JSON file with MFCC settings (keys of `MfccConfig`; defaults are librosa's).
    #[arg(long)]
    pub config: Option<PathBuf>,
}

/// Runs `cargo xtask mfcc`.
pub fn mfcc_command(args: &MfccArgs) -> Result<()> {
    let config: MfccConfig = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read config {}", path.display()))?;
            serde_json::from_str(&text)
                .with_context(|| format!("invalid MFCC config {}", path.display()))?
        }
        None => MfccConfig::default(),
    };
    config.validate()?;
    if config.sample_rate != songvae_features::audio::TARGET_SAMPLE_RATE {
        anyhow::bail!(
            "sample_rate must be {} (files are resampled to it), got {}",
            songvae_features::audio::TARGET_SAMPLE_RATE,
            config.sample_rate
        );
    }
    let samples = load_mono(&args.file)?;
    let coefficients = mfcc(&samples, &config)
        .with_context(|| format!("cannot compute MFCC of {}", args.file.display()))?;
    write_npy_atomically(&args.out, &coefficients)?;
    println!(
        "wrote {} ({} x {} float32) from {}",
        args.out.display(),
        coefficients.nrows(),
        coefficients.ncols(),
        args.file.display()
    );
    Ok(())
}

/// Writes `array` as `.npy` to a temporary file beside `out`, then renames it into place.
pub fn write_npy_atomically(out: &Path, array: &ndarray::Array2<f32>) -> Result<()> {
    let file_name = out
        .file_name()
        .with_context(|| format!("output path {} has no file name", out.display()))?;
    let mut temporary_name = std::ffi::OsString::from(".");
    temporary_name.push(file_name);
    temporary_name.push(format!(".tmp-{}", std::process::id()));
    let temporary = out.with_file_name(temporary_name);
    let written = ndarray_npy::write_npy(&temporary, array)
        .with_context(|| format!("cannot write {}", temporary.display()))
        .and_then(|()| {
            std::fs::rename(&temporary, out).with_context(|| {
                format!("cannot rename {} to {}", temporary.display(), out.display())
            })
        });
    if written.is_err() {
        // Best effort: the error being reported is the write or rename failure.
        let _ = std::fs::remove_file(&temporary);
    }
    written
}
