//! `cargo xtask features`: build (or reuse) a dataset's feature matrix.
//!
//! ```text
//! cargo xtask features --dataset PATH/dataset.json --out DIR [--modalities audio,lyrics]
//!                      [--settings SETTINGS.json] [--strict] [--force]
//! ```
//!
//! Writes `features.npy`, `frames.npy` (when the dataset has frames),
//! `ids.txt`, `labels.json`, `failures.json` and `manifest.json` into `DIR`
//! (see `songvae_features::dataset`). An unchanged run reuses the cache.
//! Exits non-zero when no track survives, or with `--strict` when any track
//! failed; the failures are printed either way.

use std::path::PathBuf;

use anyhow::{Context, Result};
use songvae_features::build::{BuildOptions, build_features, read_failures};
use songvae_features::dataset::FeatureSettings;
use songvae_features::error::Error;
use songvae_features::fusion::parse_modalities;

/// Arguments of `cargo xtask features`.
#[derive(Debug, Clone, clap::Args)]
pub struct FeaturesArgs {
    /// The dataset descriptor (`dataset.json`).
    #[arg(long, value_name = "PATH/dataset.json")]
    pub dataset: PathBuf,
    /// Output directory (created when missing; also the cache).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Modalities to fuse: `audio`, `lyrics` or `audio,lyrics` (default: all the dataset has).
    #[arg(long, value_name = "LIST")]
    pub modalities: Option<String>,
    /// JSON file with feature settings (`FeatureSettings`; unknown keys are an error).
    #[arg(long, value_name = "FILE")]
    pub settings: Option<PathBuf>,
    /// Exit non-zero when any track fails.
    #[arg(long)]
    pub strict: bool,
    /// Recompute even when the cache matches.
    #[arg(long)]
    pub force: bool,
}

/// Runs `cargo xtask features`.
pub fn features_command(args: &FeaturesArgs) -> Result<()> {
    let mut settings = match &args.settings {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read settings file {}", path.display()))?;
            serde_json::from_str::<FeatureSettings>(&text)
                .with_context(|| format!("invalid settings file {}", path.display()))?
        }
        None => FeatureSettings::default(),
    };
    if let Some(list) = &args.modalities {
        settings.modalities = Some(parse_modalities(list).context("invalid --modalities")?);
    }
    let options = BuildOptions {
        strict: args.strict,
        progress: true,
        force: args.force,
    };
    match build_features(&args.dataset, &args.out, &settings, &options) {
        Ok(report) => {
            print!("{}", report.summary_text());
            println!("wrote {}", report.out_dir.display());
            Ok(())
        }
        Err(error @ (Error::NoTrackSurvived { .. } | Error::StrictFailures { .. })) => {
            if let Ok(failures) = read_failures(&args.out) {
                for failure in failures {
                    eprintln!(
                        "failed: id `{}` (line {}) {}: {}",
                        failure.id, failure.line, failure.path, failure.reason
                    );
                }
            }
            Err(error.into())
        }
        Err(error) => Err(error.into()),
    }
}
