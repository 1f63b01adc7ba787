//! `songvae-train`: one training run from a features directory.
//!
//! `cargo xtask train` builds the features (in process, no libtorch) and then
//! runs this binary. It sets libtorch's thread count once, from the config,
//! before any tensor exists; that is the only place it is set.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use songvae_train::config::RunConfig;
use songvae_train::output::train_to_directory;

/// Train one model on a features directory, cluster and score its latents.
#[derive(Debug, Parser)]
#[command(name = "songvae-train")]
struct Args {
    /// Features directory written by `cargo xtask features`.
    #[arg(long)]
    features: PathBuf,
    /// Run config (JSON; see `fixtures/runs/`).
    #[arg(long)]
    config: PathBuf,
    /// Output directory (result.json, latents.npy, clusters.txt, model.ot).
    #[arg(long)]
    out: PathBuf,
    /// Overrides the config's device: auto, cpu, cuda or cuda:N.
    #[arg(long)]
    device: Option<songvae_models::device::DeviceChoice>,
    /// Hide the epoch progress bar.
    #[arg(long)]
    quiet: bool,
}

fn run(args: &Args) -> anyhow::Result<()> {
    let mut config = RunConfig::from_file(&args.config)?;
    if let Some(device) = args.device {
        config.device = device;
    }
    tch::set_num_threads(i32::try_from(config.intra_op_threads).context("intra_op_threads")?);
    let progress = if args.quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(config.max_epochs as u64)
    };
    progress.set_style(
        ProgressStyle::with_template("{prefix} [{bar:30}] epoch {pos}/{len} {msg} ({elapsed})")
            .context("progress template")?
            .progress_chars("=> "),
    );
    progress.set_prefix(config.architecture.name());
    let mut on_epoch = |epoch: usize, _max: usize, train: f64, validation: f64| {
        progress.set_position(epoch as u64);
        progress.set_message(format!("train {train:.4} val {validation:.4}"));
    };
    let result = train_to_directory(&config, &args.features, &args.out, &mut on_epoch)?;
    progress.finish_and_clear();
    println!("{}", serde_json::to_string(&result)?);
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
