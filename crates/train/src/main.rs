//! `songvae-train`: one training run from a features directory.
//!
//! `cargo xtask train` builds the features (in process, no libtorch) and then
//! runs this binary; a sweep runs it once per training pair, with
//! `--outcome` and `--quiet`. It sets libtorch's thread count and CPU
//! kernel variables once, from the config, before any tensor exists; that is
//! the only place they are set.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use songvae_features::cache::write_atomic;
use songvae_features::training_data::TrainingData;
use songvae_run::config::RunConfig;
use songvae_run::device::DeviceChoice;
use songvae_run::machine::{ALLOCATOR_VARIABLE, Kernels, training_environment};
use songvae_run::result::{GroupFile, OutcomeStatus, RunOutcome, RunResult};
use songvae_train::group::{group_key, train_group};
use songvae_train::hosted::train_in_turn;
use songvae_train::output::{train_to_directory, write_outputs};
use songvae_train::run::RunOutputs;

/// Train one model on a features directory, cluster and score its latents.
#[derive(Debug, Parser)]
#[command(name = "songvae-train")]
struct Args {
    /// Features directory written by `cargo xtask features`.
    #[arg(long)]
    features: PathBuf,
    /// Run config (JSON; see `fixtures/runs/`).
    #[arg(long, required_unless_present = "group", conflicts_with = "group")]
    config: Option<PathBuf>,
    /// Output directory (result.json, latents.npy, clusters.txt, model.ot).
    #[arg(long, required_unless_present = "group", conflicts_with = "group")]
    out: Option<PathBuf>,
    /// Train the runs of this group file (JSON, written by a sweep) as one
    /// stacked group, or one after another for an architecture that does
    /// not stack; each member's index is printed on a line as it ends.
    #[arg(long, value_name = "FILE")]
    group: Option<PathBuf>,
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

/// Set in the environment of a `songvae-train` that started itself again
/// with its kernel variables, so that it never does so twice.
const KERNELS_RESTART_VARIABLE: &str = "SONGVAE_KERNELS_SET";

/// Gives this process the variables it must have from its start
/// (`songvae_run::machine::training_environment`): the kernel variables of
/// `kernels` and glibc's allocator settings. MKL, oneDNN and glibc read them
/// once, when they initialise, and a safe program cannot change its own
/// environment, so when one differs the binary starts itself again in
/// place (`exec`: the same process id and arguments) with them set. Called
/// before the first tensor.
fn use_training_environment(kernels: Kernels) -> anyhow::Result<()> {
    let tunables = std::env::var(ALLOCATOR_VARIABLE).ok();
    let variables = training_environment(kernels, tunables.as_deref());
    let mut missing = Vec::new();
    for (name, value) in &variables {
        if std::env::var(name).ok().as_deref() != Some(*value) {
            missing.push((*name, *value));
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    if std::env::var_os(KERNELS_RESTART_VARIABLE).is_some() {
        anyhow::bail!(
            "cannot set {} for the {} kernels",
            missing[0].0,
            kernels.name()
        );
    }
    restart_with(&variables)
}

#[cfg(unix)]
fn restart_with(variables: &[(&str, &str)]) -> anyhow::Result<()> {
    use std::os::unix::process::CommandExt as _;
    let binary = std::env::current_exe().context("cannot find the songvae-train binary")?;
    let mut command = std::process::Command::new(binary);
    command.args(std::env::args_os().skip(1));
    for (name, value) in variables {
        command.env(name, value);
    }
    command.env(KERNELS_RESTART_VARIABLE, "1");
    // `exec` returns only when it failed.
    let error = command.exec();
    Err(error).context("cannot start songvae-train again with its kernel variables")
}

#[cfg(not(unix))]
fn restart_with(variables: &[(&str, &str)]) -> anyhow::Result<()> {
    anyhow::bail!(
        "set {} in the environment before starting songvae-train (strict kernels)",
        variables
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join(" ")
    )
}

fn run(args: &Args, config_path: &Path, out: &Path) -> anyhow::Result<RunResult> {
    end_with_the_sweep()?;
    let mut config = RunConfig::from_file(config_path)?;
    if let Some(device) = args.device {
        config.device = device;
    }
    use_training_environment(config.kernels)?;
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
    let result = train_to_directory(&config, &args.features, out, &mut on_epoch)?;
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

/// The outcome of a run that ended, or of one that could not train.
fn outcome_of(outcome: &anyhow::Result<RunResult>, out: &Path) -> RunOutcome {
    match outcome {
        Ok(result) => RunOutcome {
            status: OutcomeStatus::from(result.status),
            reason: None,
            result: Some(out.join("result.json")),
        },
        Err(error) => RunOutcome {
            status: OutcomeStatus::Failed,
            reason: Some(format!("{error:#}")),
            result: None,
        },
    }
}

/// Trains a group file's members as one stacked group (or, for an
/// architecture that does not stack, one after another in this process);
/// writes each member's outputs and outcome as it ends and prints its
/// index. When the group cannot train, every member left gets a failed
/// outcome.
fn run_group(args: &Args, group_path: &Path) -> anyhow::Result<()> {
    end_with_the_sweep()?;
    let text = std::fs::read_to_string(group_path)
        .with_context(|| format!("cannot read the group file {}", group_path.display()))?;
    let group: GroupFile = serde_json::from_str(&text)
        .with_context(|| format!("invalid group file {}", group_path.display()))?;
    let mut ended = vec![false; group.members.len()];
    let trained = (|| -> anyhow::Result<()> {
        let mut configs = Vec::with_capacity(group.members.len());
        for member in &group.members {
            let mut config = RunConfig::from_file(&member.config)?;
            if let Some(device) = args.device {
                config.device = device;
            }
            configs.push(config);
        }
        if let Some(first) = configs.first() {
            use_training_environment(first.kernels)?;
        }
        let threads = configs.first().map_or(1, |config| config.intra_op_threads);
        tch::set_num_threads(i32::try_from(threads).context("intra_op_threads")?);
        let data = TrainingData::load(&args.features)?;
        let mut stdout = std::io::stdout().lock();
        let mut member_ended = |index: usize, outputs: songvae_train::error::Result<RunOutputs>| {
            let member = &group.members[index];
            let written = outputs.and_then(|outputs| {
                write_outputs(&member.out, &outputs, &data).map(|()| outputs.result)
            });
            let written = written.map_err(anyhow::Error::from);
            // A member that fails, or whose outputs cannot be written, fails alone.
            let _ = write_outcome(&member.outcome, &outcome_of(&written, &member.out));
            ended[index] = true;
            let _ = writeln!(stdout, "{index}");
            let _ = stdout.flush();
            Ok(())
        };
        let stacks = configs
            .first()
            .is_some_and(|config| group_key(config).is_some());
        if stacks {
            train_group(
                &configs,
                &data,
                &mut |_, _, _, _| {},
                &mut |index, outputs| member_ended(index, Ok(outputs)),
            )?;
        } else {
            train_in_turn(&configs, &data, &mut member_ended)?;
        }
        Ok(())
    })();
    if let Err(error) = &trained {
        let failed: anyhow::Result<RunResult> = Err(anyhow::anyhow!("{error:#}"));
        for (index, member) in group.members.iter().enumerate() {
            if !ended[index] {
                let _ = write_outcome(&member.outcome, &outcome_of(&failed, &member.out));
            }
        }
    }
    trained
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(group) = &args.group {
        return match run_group(&args, group) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("error: {error:#}");
                ExitCode::FAILURE
            }
        };
    }
    // clap requires both without --group.
    let (Some(config), Some(out)) = (&args.config, &args.out) else {
        eprintln!("error: --config and --out are required without --group");
        return ExitCode::FAILURE;
    };
    let outcome = run(&args, config, out);
    if let Err(error) = &outcome {
        eprintln!("error: {error:#}");
    }
    let code = if outcome.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    };
    if let Some(path) = &args.outcome
        && let Err(error) = write_outcome(path, &outcome_of(&outcome, out))
    {
        eprintln!("error: {error:#}");
        return ExitCode::FAILURE;
    }
    code
}
