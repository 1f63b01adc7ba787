//! `cargo xtask sweep` and `cargo xtask report`: the study, end to end.
//!
//! ```text
//! cargo xtask sweep [--spec PATH] [--out DIR] [--dataset PATH/dataset.json] [--jobs N] [--seeds N] [--device D] [--kernels native|strict] [--shard I/N] [--ensemble N] [--no-report]
//! cargo xtask report [--runs DIR ...] [--out DIR]
//! ```
//!
//! `sweep` builds the two binaries of a study ([`build_command`]: the plain
//! `songvae-sweep` and the libtorch-linked `songvae-train` it starts once per
//! training pair), then runs the sweep. `report` builds and runs
//! `songvae-sweep` only, which does not need libtorch. With no arguments,
//! `sweep` runs
//! `fixtures/sweeps/ablation.json` on the embedded fixture dataset into
//! `runs/ablation/` and writes the report to `runs/ablation/report/`.

use std::path::PathBuf;

use anyhow::Result;

use crate::libtorch::{Libtorch, ensure};

/// Arguments of `cargo xtask sweep`.
#[derive(Debug, Clone, clap::Args)]
pub struct SweepArgs {
    /// The sweep spec.
    #[arg(
        long,
        value_name = "PATH",
        default_value = "fixtures/sweeps/ablation.json"
    )]
    pub spec: PathBuf,
    /// Sweep directory (default `runs/<spec name>`).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Run the spec's study on this dataset descriptor instead (e.g. one in ../shared/datasets).
    #[arg(long, value_name = "PATH/dataset.json")]
    pub dataset: Option<PathBuf>,
    /// Concurrent runs (default: cores / intra-op threads per run).
    #[arg(long, value_name = "N")]
    pub jobs: Option<String>,
    /// Seeds per point (default: the spec's, 3 in the study).
    #[arg(long, value_name = "N")]
    pub seeds: Option<String>,
    /// Device of every run: `auto`, `cpu`, `cuda` or `cuda:N`.
    #[arg(long, value_name = "DEVICE")]
    pub device: Option<String>,
    /// CPU kernels of every trained point: `native` (default) or `strict`
    /// (the same numbers on Intel and AMD, slower; `docs/performance.md`).
    #[arg(long, value_name = "KERNELS")]
    pub kernels: Option<String>,
    /// Run only every N-th point starting at I (0-based), e.g. one task of a Slurm array.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// Most same-shape pairs trained as one stacked group (default 16; 1: one run per process).
    #[arg(long, value_name = "N")]
    pub ensemble: Option<String>,
    /// Skip the report (a sharded run never writes one; merge with `cargo xtask report`).
    #[arg(long)]
    pub no_report: bool,
}

/// Arguments of `cargo xtask report`.
#[derive(Debug, Clone, clap::Args)]
pub struct ReportArgs {
    /// Sweep directories to merge (shards of one study); repeat the flag.
    #[arg(long, value_name = "DIR", default_value = "runs/ablation")]
    pub runs: Vec<PathBuf>,
    /// Report directory (default `<first --runs>/report`).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// Arguments of `cargo xtask build`.
#[derive(Debug, Clone, clap::Args)]
pub struct BuildArgs {
    /// Build with the release profile (`target/release/`), as a cluster would.
    #[arg(long)]
    pub release: bool,
}

/// Builds everything a sweep needs: `songvae-sweep` and `songvae-train`,
/// side by side in one target directory, with libtorch found or installed
/// first. A cluster runs this once before submitting an array; each task
/// then starts the binaries without compiling.
pub fn build_command(args: &BuildArgs) -> Result<()> {
    let libtorch = ensure()?;
    build_binaries(&libtorch, args.release)?;
    let profile = if args.release { "release" } else { "debug" };
    eprintln!("built target/{profile}/songvae-sweep and target/{profile}/songvae-train");
    Ok(())
}

/// Builds `songvae-sweep` and `songvae-train` (debug or release profile).
pub fn build_binaries(libtorch: &Libtorch, release: bool) -> Result<()> {
    let mut command = libtorch.cargo();
    command.args([
        "build",
        "--package",
        "songvae-sweep",
        "--package",
        "songvae-train",
        "--bins",
    ]);
    command.arg("--quiet");
    if release {
        command.arg("--release");
    }
    run_passing_status(command)
}

/// `cargo run` of the `songvae-sweep` binary. It links no libtorch; the
/// environment still names it so that the build sees the same settings as
/// the trainer's (no rebuild of shared dependencies).
fn sweep_binary(libtorch: Option<&Libtorch>) -> std::process::Command {
    let mut command = match libtorch {
        Some(libtorch) => libtorch.cargo(),
        None => std::process::Command::new(
            std::env::var_os("CARGO").unwrap_or_else(|| std::ffi::OsString::from("cargo")),
        ),
    };
    command.args([
        "run",
        "--quiet",
        "--package",
        "songvae-sweep",
        "--bin",
        "songvae-sweep",
        "--",
    ]);
    command
}

/// Runs `cargo xtask sweep`.
pub fn sweep_command(args: &SweepArgs) -> Result<()> {
    let libtorch = ensure()?;
    build_binaries(&libtorch, false)?;
    let mut command = sweep_binary(Some(&libtorch));
    command.arg("run").arg("--spec").arg(&args.spec);
    if let Some(out) = &args.out {
        command.arg("--out").arg(out);
    }
    if let Some(dataset) = &args.dataset {
        command.arg("--dataset").arg(dataset);
    }
    let optional = [
        ("--jobs", &args.jobs),
        ("--seeds", &args.seeds),
        ("--device", &args.device),
        ("--kernels", &args.kernels),
        ("--shard", &args.shard),
        ("--ensemble", &args.ensemble),
    ];
    for (flag, value) in optional {
        if let Some(value) = value {
            command.arg(flag).arg(value);
        }
    }
    if args.no_report {
        command.arg("--no-report");
    }
    run_passing_status(command)
}

/// Runs the command; when it fails, exits with its status. The binary has
/// already printed its one-line error, so nothing is added to it.
fn run_passing_status(mut command: std::process::Command) -> Result<()> {
    let status = command
        .status()
        .map_err(|error| anyhow::anyhow!("cannot start cargo: {error}"))?;
    if !status.success() {
        std::process::exit(status.code().unwrap_or(1));
    }
    Ok(())
}

/// Runs `cargo xtask report`.
pub fn report_command(args: &ReportArgs) -> Result<()> {
    let mut command = sweep_binary(None);
    command.arg("report");
    for runs in &args.runs {
        command.arg("--runs").arg(runs);
    }
    if let Some(out) = &args.out {
        command.arg("--out").arg(out);
    }
    run_passing_status(command)
}
