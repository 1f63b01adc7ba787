//! `cargo xtask train`: one training run end to end.
//!
//! ```text
//! cargo xtask train --dataset PATH/dataset.json --config run.json --out DIR
//!                   [--modalities audio,lyrics] [--device auto|cpu|cuda|cuda:N]
//! ```
//!
//! Features are built (or reused from the cache) in process into
//! `DIR/features/`, exactly as `cargo xtask features` does; then the
//! tch-linked `songvae-train` binary trains, clusters and scores, shows epoch
//! progress, writes `result.json`, `latents.npy`, `clusters.txt` and
//! `model.ot` into `DIR`, and prints the result JSON.

use std::path::PathBuf;

use anyhow::Result;

use crate::features::{FeaturesArgs, features_command};
use crate::libtorch::{ensure, run_cargo};

/// Arguments of `cargo xtask train`.
#[derive(Debug, Clone, clap::Args)]
pub struct TrainArgs {
    /// The dataset descriptor (`dataset.json`).
    #[arg(long, value_name = "PATH/dataset.json")]
    pub dataset: PathBuf,
    /// Run config (JSON; ready ones for the fixture dataset are in `fixtures/runs/`).
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// Output directory.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Modalities to fuse: `audio`, `lyrics` or `audio,lyrics` (default: all the dataset has).
    #[arg(long, value_name = "LIST")]
    pub modalities: Option<String>,
    /// Overrides the config's device: `auto`, `cpu`, `cuda` or `cuda:N`.
    #[arg(long, value_name = "DEVICE")]
    pub device: Option<String>,
}

/// Runs `cargo xtask train`.
pub fn train_command(args: &TrainArgs) -> Result<()> {
    if !args.config.is_file() {
        anyhow::bail!("--config {} is not a file", args.config.display());
    }
    let libtorch = ensure()?;
    let features_dir = args.out.join("features");
    features_command(&FeaturesArgs {
        dataset: args.dataset.clone(),
        out: features_dir.clone(),
        modalities: args.modalities.clone(),
        settings: None,
        strict: false,
        force: false,
    })?;
    let mut command = libtorch.cargo();
    command
        .args([
            "run",
            "--quiet",
            "--package",
            "songvae-train",
            "--bin",
            "songvae-train",
            "--",
        ])
        .arg("--features")
        .arg(&features_dir)
        .arg("--config")
        .arg(&args.config)
        .arg("--out")
        .arg(&args.out);
    if let Some(device) = &args.device {
        command.arg("--device").arg(device);
    }
    run_cargo(command, "songvae-train")
}
