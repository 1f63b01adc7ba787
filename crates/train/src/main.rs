//! `songvae-train`: one training run from a features directory.
//!
//! `cargo xtask train` builds the features (in process, no libtorch) and then
//! runs this binary; a sweep runs it once per training pair, with
//! `--outcome` and `--quiet`. It sets libtorch's thread count once, from the
//! config, before any tensor exists; that is the only place it is set.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use songvae_features::cache::write_atomic;
use songvae_run::config::RunConfig;
use songvae_run::device::DeviceChoice;
use songvae_run::result::{OutcomeStatus, RunOutcome, RunResult};
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
    device: Option<DeviceChoice>,
    /// Hide the epoch progress bar and do not print the result.
    #[arg(long)]
    quiet: bool,
    /// Write how the run ended (status, reason, result path) to this JSON
    /// file, also when it fails: the record a sweep reads.
    #[arg(long, value_name = "FILE")]
    outcome: Option<PathBuf>,
}

/// A training process outliving a killed sweep would go on using the CPU
/// for nothing (a resume adopts or reruns its pair anyway).
#[cfg(target_os = "linux")]
fn end_with_the_sweep() -> anyhow::Result<()> {
    use rustix::process::{Pid, Signal, getppid, set_parent_process_death_signal};
    if let Ok(sweep_pid) = std::env::var(songvae_run::result::SWEEP_PID_VARIABLE) {
        set_parent_process_death_signal(Some(Signal::TERM))
            .context("cannot ask for a signal when the sweep exits")?;
        let parent = Pid::as_raw(getppid()).to_string();
        if parent != sweep_pid {
            anyhow::bail!("the sweep that started this run (process {sweep_pid}) has exited");
        }
    }
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn end_with_the_sweep() -> anyhow::Result<()> {
    Ok(())
}

fn run(args: &Args) -> anyhow::Result<RunResult> {
    end_with_the_sweep()?;
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
    if !args.quiet {
        println!("{}", serde_json::to_string(&result)?);
    }
    Ok(result)
}

fn write_outcome(path: &Path, outcome: &RunOutcome) -> anyhow::Result<()> {
    let json = serde_json::to_string_pretty(outcome)?;
    write_atomic(path, json.as_bytes())
        .with_context(|| format!("cannot write the outcome {}", path.display()))
}

fn main() -> ExitCode {
    let args = Args::parse();
    let (outcome, code) = match run(&args) {
        Ok(result) => (
            RunOutcome {
                status: OutcomeStatus::from(result.status),
                reason: None,
                result: Some(args.out.join("result.json")),
            },
            ExitCode::SUCCESS,
        ),
        Err(error) => {
            let reason = format!("{error:#}");
            eprintln!("error: {reason}");
            (
                RunOutcome {
                    status: OutcomeStatus::Failed,
                    reason: Some(reason),
                    result: None,
                },
                ExitCode::FAILURE,
            )
        }
    };
    if let Some(path) = &args.outcome
        && let Err(error) = write_outcome(path, &outcome)
    {
        eprintln!("error: {error:#}");
        return ExitCode::FAILURE;
    }
    code
}
