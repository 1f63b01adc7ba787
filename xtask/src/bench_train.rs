//! `cargo xtask bench train`: training steps per second of the fully
//! connected VAE (input 64, hidden 256, latent 16) on CPU, ours against the
//! same model and optimiser in PyTorch, run by the Python of the libtorch
//! environment that setup created, with the same thread count, alternating
//! run by run. Batch sizes 32 and 256. The table goes to docs/performance.md
//! under "## train".
//!
//! Ours is built in the release profile (`songvae-bench-train`), as a user's
//! long sweep would be.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::bench::{median, publish_table};
use crate::libtorch::{Origin, SetupInputs, ensure, run_cargo};

/// The section of docs/performance.md this benchmark owns.
const SECTION_HEADING: &str = "## train";

/// Arguments of `cargo xtask bench train`.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchTrainArgs {
    /// Alternating runs per side and batch size (the median is reported).
    #[arg(long, default_value_t = 5)]
    pub repeats: usize,
    /// Timed training steps per run.
    #[arg(long, default_value_t = 500)]
    pub steps: usize,
    /// libtorch / PyTorch intra-op threads, the same on both sides.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Print the table without writing docs/performance.md.
    #[arg(long)]
    pub no_write: bool,
}

/// Runs `cargo xtask bench train`.
pub fn bench_train_command(args: &BenchTrainArgs) -> Result<()> {
    if args.repeats == 0 || args.steps == 0 || args.threads == 0 {
        bail!("--repeats, --steps and --threads must be at least 1");
    }
    let libtorch = ensure()?;
    let python = match libtorch.origin {
        Origin::CachedVenv | Origin::NewVenv => SetupInputs::from_environment()?
            .venv_dir()
            .join("bin/python"),
        Origin::ActivePython => PathBuf::from("python3"),
        Origin::LibtorchVariable => bail!(
            "bench train runs PyTorch with the Python of the libtorch environment; \
             unset LIBTORCH to use the cached venv, or set LIBTORCH_USE_PYTORCH=1"
        ),
    };
    let mut build = libtorch.cargo();
    build.args([
        "build",
        "--release",
        "--quiet",
        "--package",
        "songvae-train",
        "--bin",
        "songvae-bench-train",
    ]);
    run_cargo(build, "building songvae-bench-train")?;
    let workspace_root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| workspace_root.join("target"), PathBuf::from);
    let ours = target_dir.join("release/songvae-bench-train");
    let script = workspace_root.join("xtask/bench/train_torch.py");

    let mut rows = Vec::new();
    for batch_size in [32usize, 256] {
        let mut ours_rates = Vec::new();
        let mut theirs_rates = Vec::new();
        for _ in 0..args.repeats {
            let mut ours_command = Command::new(&ours);
            ours_command.env_remove("LD_LIBRARY_PATH");
            ours_rates.push(steps_per_second(ours_command, batch_size, args)?);
            let mut theirs_command = Command::new(&python);
            theirs_command.arg(&script);
            theirs_rates.push(steps_per_second(theirs_command, batch_size, args)?);
        }
        let ours_median = median(&ours_rates);
        let theirs_median = median(&theirs_rates);
        println!(
            "batch {batch_size}: ours {ours_median:.0} steps/s, pytorch {theirs_median:.0} steps/s"
        );
        rows.push((batch_size, ours_median, theirs_median));
    }
    let mut table = format!(
        "{SECTION_HEADING}\n\n`cargo xtask bench train` (CPU, {threads} intra-op thread(s) on both sides; medians of {repeats} alternating runs of {steps} timed steps after 50 warm-up steps). \
         Model: the fully connected VAE, input 64, hidden 256 then 128, latent 16, Adam lr 1e-3; one step = forward, reparameterisation noise, loss, backward, update. \
         Ours: `songvae-bench-train` (release build, tch 0.24.0, noise drawn on the Rust side as in a real run); PyTorch: `xtask/bench/train_torch.py` with torch 2.11.0 from the venv that `cargo xtask setup` made.\n\n\
         | batch | ours (steps/s) | PyTorch (steps/s) | ours / PyTorch | target |\n|---:|---:|---:|---:|---|\n",
        threads = args.threads,
        repeats = args.repeats,
        steps = args.steps,
    );
    for (batch_size, ours_median, theirs_median) in rows {
        let target = if batch_size == 32 {
            ">= 1.3x"
        } else {
            ">= 1.0x"
        };
        writeln!(
            table,
            "| {batch_size} | {ours_median:.0} | {theirs_median:.0} | {:.2}x | {target} |",
            ours_median / theirs_median
        )?;
    }
    table.push_str(
        "\nMeasured on a shared 2-core machine; rerun to check, the ratio is what counts.\n",
    );
    publish_table(SECTION_HEADING, &table, args.no_write)
}

/// Runs one side once and reads its `steps_per_sec`.
fn steps_per_second(mut command: Command, batch_size: usize, args: &BenchTrainArgs) -> Result<f64> {
    let output = command
        .arg("--batch-size")
        .arg(batch_size.to_string())
        .arg("--steps")
        .arg(args.steps.to_string())
        .arg("--threads")
        .arg(args.threads.to_string())
        .output()
        .with_context(|| format!("cannot run {command:?}"))?;
    if !output.status.success() {
        bail!(
            "{command:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
                .lines()
                .last()
                .unwrap_or("no output")
        );
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .rev()
        .find(|line| line.starts_with('{'))
        .context("no JSON line")?;
    let value: serde_json::Value = serde_json::from_str(line)?;
    value["steps_per_sec"]
        .as_f64()
        .context("no steps_per_sec in the output")
}
