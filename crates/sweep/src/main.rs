//! `songvae-sweep`: runs a sweep and writes its report. It does not link
//! libtorch: every training pair runs in a `songvae-train` process.
//!
//! ```text
//! songvae-sweep run --spec FILE [--out DIR] [--dataset PATH/dataset.json] [--jobs N] [--seeds N] [--device D] [--kernels native|strict] [--shard I/N] [--trainer PATH] [--no-report] [--quiet]
//! songvae-sweep report --runs DIR [--runs DIR ...] [--out DIR]
//! ```
//!
//! `cargo xtask sweep` and `cargo xtask report` call them. `run` starts
//! `songvae-train --outcome FILE --quiet` once per (point, seed): by default
//! the `songvae-train` beside this binary (`cargo build` puts both in the
//! same target directory), else the one `--trainer` names.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use songvae_features::build::{BuildOptions, FeatureBuild, build_feature_sets, read_failures};
use songvae_features::descriptor::Descriptor;
use songvae_features::fusion::Modality;
use songvae_features::training_data::TrainingData;
use songvae_run::device::DeviceChoice;
use songvae_run::machine::Kernels;
use songvae_sweep::report::{load_study, write_report};
use songvae_sweep::runner::{
    ChildProcessExecutor, DatasetSummary, Machine, Shard, StudyData, SweepOptions, SweepRecord,
    run_sweep,
};
use songvae_sweep::spec::{Plan, load_plan_with_base};

/// Hyperparameter ablation sweeps: run and report.
#[derive(Debug, Parser)]
#[command(name = "songvae-sweep")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run (or resume) a sweep, then write its report.
    Run(RunArgs),
    /// Write the report of one or more sweep directories (shards merge).
    Report(ReportArgs),
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// The sweep spec (JSON).
    #[arg(long, value_name = "FILE")]
    spec: PathBuf,
    /// Sweep directory (default `runs/<spec name>`).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Runs the study on this dataset descriptor instead of the spec's.
    #[arg(long, value_name = "PATH/dataset.json")]
    dataset: Option<PathBuf>,
    /// Concurrent runs (default: cores / intra-op threads per run).
    #[arg(long, value_name = "N")]
    jobs: Option<usize>,
    /// Seeds per point, replacing the spec's `seeds`.
    #[arg(long, value_name = "N")]
    seeds: Option<usize>,
    /// Device of every run: auto, cpu, cuda or cuda:N (default: the spec's).
    #[arg(long, value_name = "DEVICE")]
    device: Option<DeviceChoice>,
    /// CPU kernels of every trained point, `native` or `strict` (default:
    /// the spec's); part of each point's id.
    #[arg(long, value_name = "KERNELS")]
    kernels: Option<Kernels>,
    /// Run only the points whose index modulo N is I (0 <= I < N).
    #[arg(long, value_name = "I/N")]
    shard: Option<String>,
    /// Most runs of one shape trained as one stacked group in one process
    /// (1: one run per process).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_ENSEMBLE)]
    ensemble: usize,
    /// The training binary (default: `songvae-train` beside this binary).
    #[arg(long, value_name = "PATH")]
    trainer: Option<PathBuf>,
    /// Do not write the report afterwards.
    #[arg(long)]
    no_report: bool,
    /// No progress bars.
    #[arg(long)]
    quiet: bool,
}

#[derive(Debug, clap::Args)]
struct ReportArgs {
    /// A sweep directory; repeat to merge shards.
    #[arg(long, value_name = "DIR", required = true)]
    runs: Vec<PathBuf>,
    /// Report directory (default `<first --runs>/report`).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

/// The default `--ensemble` (see `docs/performance.md`, "Stacked groups").
const DEFAULT_ENSEMBLE: usize = 16;

fn run_command(args: &RunArgs) -> anyhow::Result<()> {
    if args.ensemble == 0 || args.ensemble > 256 {
        anyhow::bail!("invalid --ensemble: {} is outside 1 ..= 256", args.ensemble);
    }
    let mut base_keys = Vec::new();
    if let Some(kernels) = args.kernels {
        base_keys.push(("kernels", serde_json::Value::from(kernels.name())));
    }
    let mut plan = load_plan_with_base(&args.spec, &base_keys)?;
    if let Some(dataset) = &args.dataset {
        if !dataset.is_file() {
            anyhow::bail!("invalid --dataset: {} is not a file", dataset.display());
        }
        plan.dataset.clone_from(dataset);
    }
    let shard = match &args.shard {
        Some(text) => Some(text.parse::<Shard>()?),
        None => None,
    };
    if let Some(count) = args.seeds {
        if count == 0 || count > 1000 {
            anyhow::bail!("invalid --seeds: {count} is outside 1 ..= 1000");
        }
        let first = plan.seeds.first().copied().unwrap_or(0);
        plan.seeds = (0..count as u64).map(|offset| first + offset).collect();
    }
    if args.jobs == Some(0) {
        anyhow::bail!("invalid --jobs: must be at least 1");
    }
    let out_dir = args
        .out
        .clone()
        .unwrap_or_else(|| Path::new("runs").join(&plan.name));
    let (study, feature_dirs, feature_modalities) =
        build_study_features(&plan, &out_dir, !args.quiet)?;
    let (first_id, first_data) = study
        .sets
        .iter()
        .find(|(id, _)| plan.feature_sets.first().is_some_and(|set| &&set.id == id))
        .or_else(|| study.sets.iter().next())
        .context("no feature set of the study can be built on this dataset")?;
    let features_dir = feature_dirs[first_id].clone();
    let threads = plan.base.intra_op_threads.max(1);
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let jobs = args.jobs.unwrap_or((cores / threads).max(1));
    let device = args.device.unwrap_or(plan.base.device);
    let record = SweepRecord {
        machine: Machine::detect(&device.to_string(), jobs),
        features_dir,
        feature_dirs: feature_dirs.clone(),
        feature_modalities,
        dataset: DatasetSummary::of(first_data),
        shard,
        plan,
    };
    let trainer = trainer_binary(args.trainer.as_deref())?;
    let executor = ChildProcessExecutor {
        trainer,
        feature_dirs,
        device: args.device,
        study: &study,
    };
    let sweep_options = SweepOptions {
        out_dir: out_dir.clone(),
        jobs,
        shard,
        progress: !args.quiet,
        ensemble: args.ensemble,
    };
    let summary = run_sweep(&record, &study, &sweep_options, &executor)?;
    eprintln!(
        "sweep {}: {} pairs{}; {} already done, now {} completed, {} diverged, {} failed, {} not applicable, {} interrupted",
        record.plan.name,
        summary.pairs,
        shard
            .map(|shard| format!(" in shard {shard}"))
            .unwrap_or_default(),
        summary.skipped,
        summary.completed,
        summary.diverged,
        summary.failed,
        summary.not_applicable,
        summary.interrupted
    );
    if summary.interrupted > 0 {
        anyhow::bail!(
            "{} runs were interrupted; run the same command again to finish them",
            summary.interrupted
        );
    }
    eprintln!("results: {}", out_dir.join("results.jsonl").display());
    if !args.no_report && shard.is_none() {
        let report_dir = out_dir.join("report");
        let study = load_study(std::slice::from_ref(&out_dir))?;
        write_report(&study, &report_dir)?;
        println!("{}", report_dir.join("report.md").display());
    }
    Ok(())
}

/// Builds every feature set of the plan that the dataset can serve into
/// `<out>/features/<set id>/` (one dataset load per audio setting) and loads
/// each; a set that needs a modality the dataset lacks is unavailable, with
/// the reason, and its points are recorded as not applicable.
fn build_study_features(
    plan: &Plan,
    out_dir: &Path,
    progress: bool,
) -> anyhow::Result<StudyFeatures> {
    let descriptor = Descriptor::load(&plan.dataset)?;
    let mut study = StudyData::default();
    let mut builds = Vec::new();
    let mut ids = Vec::new();
    for set in &plan.feature_sets {
        match set.settings.resolve_modalities(&descriptor) {
            Ok(_) => {
                builds.push(FeatureBuild {
                    out_dir: out_dir.join("features").join(&set.id),
                    settings: set.settings.clone(),
                });
                ids.push(set.id.clone());
            }
            Err(error) => {
                study.unavailable.insert(set.id.clone(), error.to_string());
            }
        }
    }
    let options = BuildOptions {
        strict: false,
        progress,
        force: false,
    };
    let built = match build_feature_sets(&plan.dataset, &builds, &options) {
        Ok(built) => built,
        Err(error) => {
            if let Some(build) = builds.first()
                && let Ok(failures) = read_failures(&build.out_dir)
            {
                for failure in failures {
                    eprintln!("failed: id `{}`: {}", failure.id, failure.reason);
                }
            }
            return Err(error.into());
        }
    };
    let mut feature_dirs = BTreeMap::new();
    let mut feature_modalities = BTreeMap::new();
    for (index, (id, report)) in ids.iter().zip(&built.reports).enumerate() {
        feature_modalities.insert(id.clone(), report.manifest.modalities.clone());
        if index == 0 {
            eprint!("{}", report.summary_text());
        } else {
            let mut blocks = Vec::new();
            for (modality, dims) in report
                .manifest
                .modalities
                .iter()
                .zip(&report.manifest.modality_dims)
            {
                blocks.push(format!("{} {dims}", modality.name()));
            }
            eprintln!(
                "feature set {id}: {} x {} ({}){}",
                report.manifest.tracks,
                report.manifest.feature_dims,
                blocks.join(" + "),
                if report.reused { " (cache reused)" } else { "" }
            );
        }
        study
            .sets
            .insert(id.clone(), TrainingData::load(&report.out_dir)?);
        feature_dirs.insert(id.clone(), report.out_dir.clone());
    }
    for (id, reason) in &study.unavailable {
        eprintln!("feature set {id}: not applicable: {reason}");
    }
    Ok((study, feature_dirs, feature_modalities))
}

/// The built feature sets of a study: their data, directories and fused modalities.
type StudyFeatures = (
    StudyData,
    BTreeMap<String, PathBuf>,
    BTreeMap<String, Vec<Modality>>,
);

fn report_command(args: &ReportArgs) -> anyhow::Result<()> {
    let study = load_study(&args.runs)?;
    let out_dir = match &args.out {
        Some(out) => out.clone(),
        None => args.runs[0].join("report"),
    };
    let files = write_report(&study, &out_dir)?;
    eprintln!(
        "report of {} ({} results, {} files)",
        study.record.plan.name,
        study.lines.len(),
        files.written.len()
    );
    println!("{}", out_dir.join("report.md").display());
    Ok(())
}

/// The training binary: `--trainer`, else `songvae-train` beside this
/// binary; checked before anything runs.
fn trainer_binary(given: Option<&Path>) -> anyhow::Result<PathBuf> {
    let trainer = if let Some(path) = given {
        path.to_path_buf()
    } else {
        let sweep = std::env::current_exe().context("cannot locate the songvae-sweep binary")?;
        sweep.with_file_name(format!("songvae-train{}", std::env::consts::EXE_SUFFIX))
    };
    if !trainer.is_file() {
        anyhow::bail!(
            "invalid --trainer: {} is not a file (build it with `cargo xtask build`, or name it with --trainer)",
            trainer.display()
        );
    }
    Ok(trainer)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match &cli.command {
        Command::Run(args) => run_command(args),
        Command::Report(args) => report_command(args),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
