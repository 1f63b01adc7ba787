//! Running a plan: every pending (point, seed) pair on a pool of workers,
//! each finished pair appended to `results.jsonl` at once.
//!
//! Training runs go to child processes (one per unit: a stacked group, the
//! seeds of a point that does not stack trained in turn, or one pair with
//! `--ensemble 1`; see [`ChildProcessExecutor`]): a crash or an abort
//! inside libtorch ends one unit, not the sweep; and libtorch's
//! process-wide thread count is set once per child. Units start longest
//! first (`crate::schedule`). On Linux a
//! child ends with its sweep (see [`SWEEP_PID_VARIABLE`]), so a sweep killed
//! outright leaves no training running on. Baselines
//! (PCA + k-means, k-means on the raw features) are cheap and run in the
//! worker thread.
//!
//! The output directory holds `sweep.json` (the plan, the machine, the
//! features directory), `results.jsonl`, and `runs/<point>/seed-<seed>/` per
//! pair. A lock on `.sweep.lock` keeps two sweeps out of one directory.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fs::File;
use std::io::Read as _;
use std::os::unix::process::ExitStatusExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::str::FromStr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use ndarray::Array2;
use serde::{Deserialize, Serialize};
use songvae_features::cache::{write_atomic, write_npy_atomic};
use songvae_features::fusion::Modality;
use songvae_features::training_data::TrainingData;
use songvae_metrics::pca::Pca;
use songvae_metrics::scoring::{ClusteringConfig, cluster_and_score, cluster_count};
use songvae_run::config::GroupKey;
use songvae_run::config::RunConfig;
use songvae_run::device::DeviceChoice;
use songvae_run::machine::{ALLOCATOR_VARIABLE, Kernels, training_environment};
use songvae_run::metric::Metric;
use songvae_run::result::{
    GroupFile, GroupMember, OutcomeStatus, RunOutcome, RunResult, SWEEP_PID_VARIABLE,
};
use songvae_run::spec::Architecture;

use crate::error::{Error, Result};
use crate::results::{PairStatus, ResultLine, ResultsFile};
use crate::schedule;
use crate::spec::{BaselineKind, Job, Plan, Point};

/// `--shard I/N`: this machine runs the points whose index modulo `N` is `I`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// This shard, `0 ..= count - 1`.
    pub index: usize,
    /// Number of shards.
    pub count: usize,
}

impl FromStr for Shard {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        let invalid = |reason: String| Error::InvalidArgument {
            flag: "--shard".to_owned(),
            reason,
        };
        let (index, count) = text
            .split_once('/')
            .ok_or_else(|| invalid(format!("'{text}' is not I/N (for example 0/4)")))?;
        let index: usize = index
            .trim()
            .parse()
            .map_err(|_| invalid(format!("'{index}' is not a shard index")))?;
        let count: usize = count
            .trim()
            .parse()
            .map_err(|_| invalid(format!("'{count}' is not a shard count")))?;
        if count == 0 || index >= count {
            return Err(invalid(format!(
                "{index}/{count}: need 0 <= I < N (shards are numbered from 0)"
            )));
        }
        Ok(Self { index, count })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}/{}", self.index, self.count)
    }
}

/// Where a sweep ran, recorded in `sweep.json` for the report.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Machine {
    /// CPU model name.
    pub cpu: String,
    /// Logical cores.
    pub cores: usize,
    /// The device requested (`auto`, `cpu`, `cuda:0`).
    pub device: String,
    /// Concurrent runs.
    pub jobs: usize,
    /// Version of songvae.
    pub version: String,
}

impl Machine {
    /// Reads the CPU model from `/proc/cpuinfo` and the core count.
    #[must_use]
    pub fn detect(device: &str, jobs: usize) -> Self {
        Self {
            cpu: songvae_run::machine::processor().unwrap_or_else(|| "unknown CPU".to_owned()),
            cores: std::thread::available_parallelism().map_or(1, usize::from),
            device: device.to_owned(),
            jobs,
            version: env!("CARGO_PKG_VERSION").to_owned(),
        }
    }
}

/// The training data of every feature set of a study, by feature-set id,
/// and why the sets that could not be built could not.
#[derive(Clone, Debug, Default)]
pub struct StudyData {
    /// Loaded features of each buildable feature set.
    pub sets: BTreeMap<String, TrainingData>,
    /// Feature sets that cannot apply to the dataset (a modality it lacks), with the reason.
    pub unavailable: BTreeMap<String, String>,
}

impl StudyData {
    /// The same data for every feature set of `plan` (one-setting studies, tests).
    #[must_use]
    pub fn for_plan(plan: &Plan, data: &TrainingData) -> Self {
        let mut sets = BTreeMap::new();
        for set in &plan.feature_sets {
            sets.insert(set.id.clone(), data.clone());
        }
        for point in &plan.points {
            sets.entry(point.features.clone())
                .or_insert_with(|| data.clone());
        }
        Self {
            sets,
            unavailable: BTreeMap::new(),
        }
    }

    /// The data a point trains on, or why its feature set cannot be built.
    pub fn of(&self, point: &Point) -> std::result::Result<&TrainingData, String> {
        if let Some(data) = self.sets.get(&point.features) {
            return Ok(data);
        }
        Err(self
            .unavailable
            .get(&point.features)
            .cloned()
            .unwrap_or_else(|| format!("feature set '{}' was not built", point.features)))
    }
}

/// The record of a sweep directory (`sweep.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepRecord {
    /// The plan.
    pub plan: Plan,
    /// Where it ran.
    pub machine: Machine,
    /// The features directory of the plan's first feature set (the one
    /// `dataset` describes).
    pub features_dir: PathBuf,
    /// The features directory of every built feature set, by id.
    #[serde(default)]
    pub feature_dirs: BTreeMap<String, PathBuf>,
    /// The modalities each built feature set fused, by id.
    #[serde(default)]
    pub feature_modalities: BTreeMap<String, Vec<Modality>>,
    /// What the dataset holds.
    pub dataset: DatasetSummary,
    /// The shard this directory holds, when sharded.
    pub shard: Option<Shard>,
}

impl SweepRecord {
    /// Reads a sweep directory's `sweep.json`.
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|cause| Error::io(path, cause))?;
        serde_json::from_str(&text).map_err(|error| Error::OutputDirectory {
            path: path.to_path_buf(),
            reason: format!("not a sweep record: {error}"),
        })
    }
}

/// A label column and its number of classes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelSummary {
    /// Column name.
    pub name: String,
    /// Distinct values.
    pub classes: usize,
}

/// The shape of the dataset a sweep ran on, for the report.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetSummary {
    /// Dataset name.
    pub name: String,
    /// Tracks that survived feature extraction.
    pub tracks: usize,
    /// Fused feature dimension.
    pub feature_dim: usize,
    /// Frames per track (channels, time), when present.
    pub frames: Option<[usize; 2]>,
    /// Label columns, primary first.
    pub labels: Vec<LabelSummary>,
}

impl DatasetSummary {
    /// Summarises loaded training data.
    #[must_use]
    pub fn of(data: &TrainingData) -> Self {
        let mut labels = Vec::new();
        for (name, values) in &data.labels {
            let distinct: BTreeSet<&String> = values.iter().collect();
            labels.push(LabelSummary {
                name: name.clone(),
                classes: distinct.len(),
            });
        }
        Self {
            name: data.dataset_name.clone(),
            tracks: data.ids.len(),
            feature_dim: data.features.ncols(),
            frames: data
                .frames
                .as_ref()
                .map(|frames| [frames.shape()[1], frames.shape()[2]]),
            labels,
        }
    }
}

/// One pair to run.
#[derive(Clone, Debug)]
pub struct Task {
    /// The point.
    pub point: Point,
    /// The seed.
    pub seed: u64,
}

impl Task {
    /// `runs/<point>/seed-<seed>`, relative to the sweep directory.
    #[must_use]
    pub fn run_dir(&self) -> String {
        format!("runs/{}/seed-{}", self.point.id, self.seed)
    }
}

/// Runs one pair and reports how it ended; never fails the sweep.
pub trait Executor: Sync {
    /// Runs `task`, writing its files under `sweep_dir`. `None` means the
    /// run was interrupted (its process got SIGINT, SIGTERM or SIGHUP, as
    /// when the user stops the sweep): nothing is recorded and a resumed
    /// sweep runs it again.
    fn execute(&self, task: &Task, sweep_dir: &Path) -> Option<ResultLine>;

    /// Runs tasks that may train as one stacked group ([`group_tasks`]),
    /// calling `record` with each task's line as its run ends (`None`:
    /// interrupted). The default runs them one by one.
    fn execute_group(
        &self,
        tasks: &[Task],
        sweep_dir: &Path,
        record: &mut dyn FnMut(&Task, Option<ResultLine>),
    ) {
        for task in tasks {
            record(task, self.execute(task, sweep_dir));
        }
    }
}

/// What tasks must share to run in one `songvae-train --group` process.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum UnitKey {
    /// One stacked model: the group key and the feature set.
    Stacked(GroupKey, String),
    /// An architecture that does not stack: the seeds of one point, trained
    /// one after another.
    InTurn(String),
}

/// Splits tasks into the units a worker runs: training tasks whose configs
/// share a `GroupKey` and a feature set go together as one stacked group;
/// the seeds of a point whose architecture does not stack (`cvae`,
/// `conv_vae`, `vade`, `idec`) go together to train one after another in
/// one process (`songvae_train::hosted`); `ensemble` at most per unit, in
/// the order their first task comes. A baseline is a unit alone.
/// `ensemble = 1` gives one task per unit.
#[must_use]
pub fn group_tasks(tasks: Vec<Task>, ensemble: usize) -> Vec<Vec<Task>> {
    let ensemble = ensemble.max(1);
    let mut units: Vec<Vec<Task>> = Vec::new();
    // The open unit of each key, by index in `units`.
    let mut open: BTreeMap<UnitKey, usize> = BTreeMap::new();
    for task in tasks {
        let key = match &task.point.job {
            Job::Train(config) if ensemble > 1 => Some(match config.group_key() {
                Some(key) => UnitKey::Stacked(key, task.point.features.clone()),
                None => UnitKey::InTurn(task.point.id.clone()),
            }),
            _ => None,
        };
        let Some(key) = key else {
            units.push(vec![task]);
            continue;
        };
        match open.get(&key) {
            Some(&index) if units[index].len() < ensemble => units[index].push(task),
            _ => {
                open.insert(key, units.len());
                units.push(vec![task]);
            }
        }
    }
    units
}

/// Options of [`run_sweep`].
#[derive(Clone, Debug)]
pub struct SweepOptions {
    /// The sweep directory.
    pub out_dir: PathBuf,
    /// Concurrent pairs.
    pub jobs: usize,
    /// Only this shard's points.
    pub shard: Option<Shard>,
    /// Show progress bars on standard error.
    pub progress: bool,
    /// Most runs trained as one stacked group (1: one run per process).
    pub ensemble: usize,
}

/// Counts of a finished sweep invocation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SweepSummary {
    /// Pairs of this shard.
    pub pairs: usize,
    /// Pairs found finished in `results.jsonl` and skipped.
    pub skipped: usize,
    /// Pairs that completed now.
    pub completed: usize,
    /// Pairs that diverged now.
    pub diverged: usize,
    /// Pairs that failed now.
    pub failed: usize,
    /// Pairs recorded as not applicable now.
    pub not_applicable: usize,
    /// Pairs interrupted now (not recorded; a resumed sweep runs them).
    pub interrupted: usize,
}

/// Why a point cannot run on this dataset, if it cannot.
#[must_use]
pub fn not_applicable_reason(job: &Job, data: &TrainingData) -> Option<String> {
    let Job::Train(config) = job else {
        return None;
    };
    match config.architecture {
        Architecture::ConvVae if data.frames.is_none() => Some(
            "conv_vae needs per-track frames; this dataset has neither `frames` nor audio files"
                .to_owned(),
        ),
        Architecture::Cvae => {
            let column = config.condition.as_deref().unwrap_or_default();
            if data.label(column).is_none() {
                Some(format!(
                    "cvae conditions on label column '{column}', which this dataset does not have"
                ))
            } else {
                None
            }
        }
        _ => None,
    }
}

/// Checks every point of the plan against the dataset before anything runs:
/// the number of clusters must fit the track count. Errors name the point.
pub fn check_against_data(plan: &Plan, study: &StudyData) -> Result<()> {
    for point in &plan.points {
        let Ok(data) = study.of(point) else {
            continue;
        };
        let clustering = match &point.job {
            Job::Train(config) => &config.clustering,
            Job::Baseline { clustering, .. } => clustering,
        };
        if not_applicable_reason(&point.job, data).is_some() {
            continue;
        }
        cluster_count(clustering, data.ids.len(), &data.labels).map_err(|error| {
            Error::spec(
                format!("point '{}' ({})", point.label, point.id),
                error.to_string(),
            )
        })?;
    }
    Ok(())
}

/// Writes `sweep.json`, or checks that the directory holds the same plan.
fn claim_directory(out_dir: &Path, record: &SweepRecord) -> Result<()> {
    let path = out_dir.join("sweep.json");
    if path.exists() {
        let existing = SweepRecord::read(&path)?;
        if existing.plan.point_ids() != record.plan.point_ids() {
            return Err(Error::OutputDirectory {
                path: out_dir.to_path_buf(),
                reason: format!(
                    "holds sweep '{}' with other points; choose another --out or remove it",
                    existing.plan.name
                ),
            });
        }
        if existing.shard != record.shard {
            return Err(Error::OutputDirectory {
                path: out_dir.to_path_buf(),
                reason: "holds another shard of this sweep; give each shard its own --out"
                    .to_owned(),
            });
        }
    }
    let json = serde_json::to_string_pretty(record).map_err(|error| Error::OutputDirectory {
        path: path.clone(),
        reason: error.to_string(),
    })?;
    write_atomic(&path, json.as_bytes())?;
    Ok(())
}

/// The pairs of this shard still to run. Pairs already in the results are
/// counted as skipped; pairs of not-applicable points are recorded at once.
fn pending_tasks(
    plan: &Plan,
    study: &StudyData,
    shard: Option<Shard>,
    existing: &[ResultLine],
    results: &mut ResultsFile,
    summary: &mut SweepSummary,
) -> Result<Vec<Task>> {
    let mut done = BTreeSet::new();
    for line in existing {
        done.insert((line.point.clone(), line.seed));
    }
    let mut tasks = Vec::new();
    for (index, point) in plan.points.iter().enumerate() {
        if let Some(shard) = shard
            && index % shard.count != shard.index
        {
            continue;
        }
        let reason = match study.of(point) {
            Ok(data) => not_applicable_reason(&point.job, data),
            Err(reason) => Some(reason),
        };
        for seed in &plan.seeds {
            summary.pairs += 1;
            if done.contains(&(point.id.clone(), *seed)) {
                summary.skipped += 1;
                continue;
            }
            if let Some(reason) = &reason {
                let mut line =
                    ResultLine::bare(&point.id, &point.label, *seed, PairStatus::NotApplicable);
                line.reason = Some(reason.clone());
                results.append(&line)?;
                summary.not_applicable += 1;
                continue;
            }
            tasks.push(Task {
                point: point.clone(),
                seed: *seed,
            });
        }
    }
    Ok(tasks)
}

/// Runs every pending pair of this shard with `options.jobs` workers and
/// appends each result as it finishes. Pairs already in `results.jsonl` are
/// skipped; points that cannot apply are recorded as such without running.
pub fn run_sweep(
    record: &SweepRecord,
    study: &StudyData,
    options: &SweepOptions,
    executor: &dyn Executor,
) -> Result<SweepSummary> {
    let plan = &record.plan;
    let out_dir = &options.out_dir;
    std::fs::create_dir_all(out_dir).map_err(|cause| Error::io(out_dir, cause))?;
    let lock_path = out_dir.join(".sweep.lock");
    let lock = File::create(&lock_path).map_err(|cause| Error::io(&lock_path, cause))?;
    if lock.try_lock().is_err() {
        return Err(Error::OutputDirectory {
            path: out_dir.clone(),
            reason: "another sweep is running in this directory".to_owned(),
        });
    }
    check_against_data(plan, study)?;
    claim_directory(out_dir, record)?;
    let results_path = out_dir.join("results.jsonl");
    let (mut results, existing) = ResultsFile::open(&results_path)?;

    let mut summary = SweepSummary::default();
    let tasks = pending_tasks(
        plan,
        study,
        options.shard,
        &existing,
        &mut results,
        &mut summary,
    )?;

    let progress = if options.progress {
        MultiProgress::new()
    } else {
        MultiProgress::with_draw_target(ProgressDrawTarget::hidden())
    };
    let overall = progress.add(ProgressBar::new(tasks.len() as u64));
    overall.set_style(
        ProgressStyle::with_template(
            "{prefix} [{bar:30}] {pos}/{len} runs, {msg} (elapsed {elapsed}, eta {eta})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    overall.set_prefix(plan.name.clone());
    overall.set_message("0 failed");
    let line_style = ProgressStyle::with_template("  {spinner} {msg} ({elapsed})")
        .unwrap_or_else(|_| ProgressStyle::default_spinner());

    let shared: Shared = Mutex::new((results, summary, None::<Error>));
    let stop = AtomicBool::new(false);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(options.jobs.max(1))
        .build()
        .map_err(|error| Error::InvalidArgument {
            flag: "--jobs".to_owned(),
            reason: error.to_string(),
        })?;
    // Workers take units from one queue, the longest expected first.
    let units = schedule::longest_first(group_tasks(tasks, options.ensemble), study);
    let next_unit = AtomicUsize::new(0);
    let work = || {
        loop {
            let index = next_unit.fetch_add(1, Ordering::SeqCst);
            let Some(unit) = units.get(index) else {
                return;
            };
            if stop.load(Ordering::SeqCst) {
                return;
            }
            let running = progress.insert_before(&overall, ProgressBar::new_spinner());
            running.set_style(line_style.clone());
            running.set_message(match unit.as_slice() {
                [task] => format!("{} seed {}", task.point.label, task.seed),
                [first, ..] => format!(
                    "{} and {} more (one group)",
                    first.point.label,
                    unit.len() - 1
                ),
                [] => String::new(),
            });
            running.enable_steady_tick(Duration::from_millis(250));
            executor.execute_group(unit, out_dir, &mut |_, outcome| {
                record_line(&shared, &stop, &overall, outcome);
            });
            running.finish_and_clear();
            progress.remove(&running);
        }
    };
    pool.scope(|scope| {
        for _ in 0..options.jobs.max(1) {
            scope.spawn(|_| work());
        }
    });
    overall.finish_and_clear();
    let (_, summary, first_error) = shared
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    match first_error {
        Some(error) => Err(error),
        None => Ok(summary),
    }
}

/// What the workers of a sweep share: the results file, the counts, the
/// first error.
type Shared = Mutex<(ResultsFile, SweepSummary, Option<Error>)>;

/// Appends a finished pair's line and counts it; an interrupted pair
/// (`None`) is counted, not recorded. A failed append stops the sweep.
fn record_line(
    shared: &Shared,
    stop: &AtomicBool,
    overall: &ProgressBar,
    outcome: Option<ResultLine>,
) {
    let mut guard = shared
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let (results, summary, first_error) = &mut *guard;
    let Some(line) = outcome else {
        summary.interrupted += 1;
        return;
    };
    if let Err(error) = results.append(&line) {
        stop.store(true, Ordering::SeqCst);
        first_error.get_or_insert(error);
        return;
    }
    match line.status {
        PairStatus::Completed => summary.completed += 1,
        PairStatus::Diverged => summary.diverged += 1,
        PairStatus::Failed => summary.failed += 1,
        PairStatus::NotApplicable => summary.not_applicable += 1,
    }
    overall.inc(1);
    overall.set_message(format!(
        "{} failed, {} diverged",
        summary.failed, summary.diverged
    ));
}

/// Runs training pairs as `songvae-train` processes
/// (`--features DIR --config FILE --out DIR --outcome FILE --quiet`), and
/// baselines in process.
#[derive(Debug)]
pub struct ChildProcessExecutor<'a> {
    /// The training binary.
    pub trainer: PathBuf,
    /// The features directory of each feature set, by id.
    pub feature_dirs: BTreeMap<String, PathBuf>,
    /// Replaces each config's device when given.
    pub device: Option<DeviceChoice>,
    /// The data of each feature set, for baselines.
    pub study: &'a StudyData,
}

impl Executor for ChildProcessExecutor<'_> {
    fn execute(&self, task: &Task, sweep_dir: &Path) -> Option<ResultLine> {
        let run_dir = sweep_dir.join(task.run_dir());
        let outcome = match (&task.point.job, self.study.of(&task.point)) {
            (_, Err(reason)) => Err(reason),
            (Job::Train(config), Ok(_)) => self.train(config, task, &run_dir)?,
            (
                Job::Baseline {
                    kind,
                    components,
                    clustering,
                },
                Ok(data),
            ) => run_baseline(*kind, *components, clustering, task, &run_dir, data),
        };
        Some(with_run_dir(task, outcome))
    }

    fn execute_group(
        &self,
        tasks: &[Task],
        sweep_dir: &Path,
        record: &mut dyn FnMut(&Task, Option<ResultLine>),
    ) {
        if tasks.len() < 2 {
            for task in tasks {
                record(task, self.execute(task, sweep_dir));
            }
            return;
        }
        self.train_group(tasks, sweep_dir, record);
    }
}

impl ChildProcessExecutor<'_> {
    /// Trains in a child process; a `result.json` left by an earlier,
    /// interrupted sweep for the same config is taken as it is. `None` when
    /// the child was interrupted by SIGINT, SIGTERM or SIGHUP.
    fn train(
        &self,
        config: &RunConfig,
        task: &Task,
        run_dir: &Path,
    ) -> Option<std::result::Result<ResultLine, String>> {
        let config = self.member_config(config, task);
        let result_path = run_dir.join("result.json");
        if let Some(line) = adopted(&result_path, &config, task) {
            return Some(Ok(line));
        }
        let features_dir = match self.features_dir(task) {
            Ok(directory) => directory,
            Err(reason) => return Some(Err(reason)),
        };
        let status_and_outcome = (|| {
            let (config_path, outcome_path) = prepare_run_dir(run_dir, &config)?;
            let mut child = self
                .trainer_command(features_dir, config.kernels)
                .arg("--config")
                .arg(&config_path)
                .arg("--out")
                .arg(run_dir)
                .arg("--outcome")
                .arg(&outcome_path)
                .stdout(Stdio::null())
                .spawn()
                .map_err(|error| format!("cannot start {}: {error}", self.trainer.display()))?;
            let mut stderr = String::new();
            if let Some(mut pipe) = child.stderr.take() {
                // A child that writes invalid UTF-8 still gets its exit status read.
                let _ = pipe.read_to_string(&mut stderr);
            }
            let status = child
                .wait()
                .map_err(|error| format!("cannot wait for the training process: {error}"))?;
            Ok((status, outcome_path, stderr))
        })();
        let (status, outcome_path, stderr) = match status_and_outcome {
            Ok(pair) => pair,
            Err(reason) => return Some(Err(reason)),
        };
        if let Some(signal) = status.signal()
            && INTERRUPTING_SIGNALS.contains(&signal)
        {
            return None;
        }
        Some(read_outcome(
            status,
            &outcome_path,
            &stderr,
            &result_path,
            task,
        ))
    }
}

/// The line of a finished training process, from the outcome record it
/// left; without a record (a crash, a signal) the exit status and the last
/// stderr line say what they can.
fn read_outcome(
    status: std::process::ExitStatus,
    outcome_path: &Path,
    stderr: &str,
    result_path: &Path,
    task: &Task,
) -> std::result::Result<ResultLine, String> {
    let outcome = std::fs::read_to_string(outcome_path)
        .ok()
        .and_then(|text| serde_json::from_str::<RunOutcome>(&text).ok());
    let Some(outcome) = outcome else {
        let last = stderr
            .lines()
            .rev()
            .find(|line| !line.trim().is_empty())
            .map(|line| format!(": {}", line.trim()))
            .unwrap_or_default();
        return Err(match (status.code(), status.signal()) {
            (Some(code), _) => {
                format!("training process exited with status {code} and left no outcome{last}")
            }
            (None, Some(signal)) => format!("training process was killed by signal {signal}{last}"),
            (None, None) => format!("training process ended without a status{last}"),
        });
    };
    line_of_outcome(outcome, result_path, task)
}

/// The line of a run from its outcome record: its failure, or its result.
fn line_of_outcome(
    outcome: RunOutcome,
    result_path: &Path,
    task: &Task,
) -> std::result::Result<ResultLine, String> {
    if outcome.status == OutcomeStatus::Failed {
        return Err(outcome
            .reason
            .unwrap_or_else(|| "training failed without a reason".to_owned()));
    }
    let result = outcome.result.unwrap_or_else(|| result_path.to_path_buf());
    std::fs::read_to_string(&result)
        .map_err(|error| format!("cannot read {}: {error}", result.display()))
        .and_then(|text| {
            serde_json::from_str::<RunResult>(&text)
                .map_err(|error| format!("cannot parse {}: {error}", result.display()))
        })
        .map(|result| ResultLine::from_run(&task.point.id, &task.point.label, task.seed, &result))
}

impl ChildProcessExecutor<'_> {
    /// `songvae-train --features DIR --quiet`, told its sweep's process id,
    /// started with the kernel variables of `kernels` and the allocator
    /// settings (`songvae_run::machine::training_environment`, so it need not
    /// start itself again to set them), no input, stderr piped (its last
    /// line explains a crash).
    fn trainer_command(&self, features_dir: &Path, kernels: Kernels) -> Command {
        let mut command = Command::new(&self.trainer);
        command
            .arg("--features")
            .arg(features_dir)
            .arg("--quiet")
            .env(SWEEP_PID_VARIABLE, std::process::id().to_string())
            .stdin(Stdio::null())
            .stderr(Stdio::piped());
        let tunables = std::env::var(ALLOCATOR_VARIABLE).ok();
        for (name, value) in training_environment(kernels, tunables.as_deref()) {
            command.env(name, value);
        }
        command
    }

    /// The config a task runs: the point's, with the task's seed and the
    /// sweep's device.
    fn member_config(&self, config: &RunConfig, task: &Task) -> RunConfig {
        let mut config = config.clone();
        config.seed = task.seed;
        if let Some(device) = self.device {
            config.device = device;
        }
        config
    }

    fn features_dir(&self, task: &Task) -> std::result::Result<&PathBuf, String> {
        self.feature_dirs.get(&task.point.features).ok_or_else(|| {
            format!(
                "no features directory for feature set '{}'",
                task.point.features
            )
        })
    }

    /// The members of a group still to train, with their outcome and result
    /// paths, and the group file listing them. Members whose `result.json`
    /// an earlier, interrupted sweep left for the same config are recorded
    /// as they are; a member whose directory cannot be prepared fails.
    fn group_members<'t>(
        &self,
        tasks: &'t [Task],
        sweep_dir: &Path,
        record: &mut dyn FnMut(&Task, Option<ResultLine>),
    ) -> (Vec<(&'t Task, PathBuf, PathBuf)>, GroupFile) {
        let mut members = Vec::new();
        let mut group = GroupFile {
            members: Vec::new(),
        };
        for task in tasks {
            let Job::Train(config) = &task.point.job else {
                continue;
            };
            let config = self.member_config(config, task);
            let run_dir = sweep_dir.join(task.run_dir());
            let result_path = run_dir.join("result.json");
            if let Some(line) = adopted(&result_path, &config, task) {
                record(task, Some(with_run_dir(task, Ok(line))));
                continue;
            }
            match prepare_run_dir(&run_dir, &config) {
                Ok((config_path, outcome_path)) => {
                    group.members.push(GroupMember {
                        config: config_path,
                        out: run_dir.clone(),
                        outcome: outcome_path.clone(),
                    });
                    members.push((task, outcome_path, result_path));
                }
                Err(reason) => record(task, Some(with_run_dir(task, Err(reason)))),
            }
        }
        (members, group)
    }

    /// Trains several tasks as one stacked group in one `songvae-train
    /// --group` process, recording each as the process reports its end.
    fn train_group(
        &self,
        tasks: &[Task],
        sweep_dir: &Path,
        record: &mut dyn FnMut(&Task, Option<ResultLine>),
    ) {
        let finish = with_run_dir;
        let (members, group) = self.group_members(tasks, sweep_dir, record);
        let Some((first, _, _)) = members.first() else {
            return;
        };
        let features_dir = match self.features_dir(first) {
            Ok(directory) => directory.clone(),
            Err(reason) => {
                for (task, _, _) in &members {
                    record(task, Some(finish(task, Err(reason.clone()))));
                }
                return;
            }
        };
        let group_path = sweep_dir
            .join("runs")
            .join(format!("group-{}-seed-{}.json", first.point.id, first.seed));
        // Members share their group key, kernels included.
        let kernels = match &first.point.job {
            Job::Train(config) => config.kernels,
            Job::Baseline { .. } => Kernels::default(),
        };
        let spawned = serde_json::to_string_pretty(&group)
            .map_err(|error| error.to_string())
            .and_then(|json| {
                write_atomic(&group_path, json.as_bytes()).map_err(|error| error.to_string())
            })
            .and_then(|()| {
                self.trainer_command(&features_dir, kernels)
                    .arg("--group")
                    .arg(&group_path)
                    .stdout(Stdio::piped())
                    .spawn()
                    .map_err(|error| format!("cannot start {}: {error}", self.trainer.display()))
            });
        let mut child = match spawned {
            Ok(child) => child,
            Err(reason) => {
                for (task, _, _) in &members {
                    record(task, Some(finish(task, Err(reason.clone()))));
                }
                return;
            }
        };
        let stderr_reader = child.stderr.take().map(|mut pipe| {
            std::thread::spawn(move || {
                let mut text = String::new();
                let _ = pipe.read_to_string(&mut text);
                text
            })
        });
        let mut recorded = vec![false; members.len()];
        if let Some(stdout) = child.stdout.take() {
            use std::io::BufRead as _;
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let Ok(index) = line.trim().parse::<usize>() else {
                    continue;
                };
                let Some((task, outcome_path, result_path)) = members.get(index) else {
                    continue;
                };
                if recorded[index] {
                    continue;
                }
                recorded[index] = true;
                let line = read_member_outcome(outcome_path, result_path, task);
                record(task, Some(finish(task, line)));
            }
        }
        let status = child.wait();
        let stderr = stderr_reader
            .and_then(|reader| reader.join().ok())
            .unwrap_or_default();
        for (index, (task, outcome_path, result_path)) in members.iter().enumerate() {
            if !recorded[index] {
                record(
                    task,
                    unreported_member(&status, outcome_path, &stderr, result_path, task),
                );
            }
        }
    }
}

/// The line of a group member the process did not report: `None` when the
/// process was interrupted, else what its outcome record (or the exit
/// status and the last stderr line) says.
fn unreported_member(
    status: &std::io::Result<std::process::ExitStatus>,
    outcome_path: &Path,
    stderr: &str,
    result_path: &Path,
    task: &Task,
) -> Option<ResultLine> {
    match status {
        Ok(status)
            if status
                .signal()
                .is_some_and(|signal| INTERRUPTING_SIGNALS.contains(&signal)) =>
        {
            None
        }
        Ok(status) => Some(with_run_dir(
            task,
            read_outcome(*status, outcome_path, stderr, result_path, task),
        )),
        Err(error) => Some(with_run_dir(
            task,
            Err(format!("cannot wait for the training process: {error}")),
        )),
    }
}

/// A task's line (or a failed line with the reason), with its run directory.
fn with_run_dir(task: &Task, line: std::result::Result<ResultLine, String>) -> ResultLine {
    let mut line = line.unwrap_or_else(|reason| {
        let mut line = ResultLine::bare(
            &task.point.id,
            &task.point.label,
            task.seed,
            PairStatus::Failed,
        );
        line.reason = Some(reason);
        line
    });
    line.run_dir = Some(task.run_dir());
    line
}

/// The line of a task whose `result.json`, left by an earlier sweep, holds
/// the same config.
fn adopted(result_path: &Path, config: &RunConfig, task: &Task) -> Option<ResultLine> {
    let text = std::fs::read_to_string(result_path).ok()?;
    let result = serde_json::from_str::<RunResult>(&text).ok()?;
    (result.config == *config)
        .then(|| ResultLine::from_run(&task.point.id, &task.point.label, task.seed, &result))
}

/// Creates a run directory with its `config.json`; removes an outcome left
/// by an earlier process (it must not stand for this one). Returns the
/// config and outcome paths.
fn prepare_run_dir(
    run_dir: &Path,
    config: &RunConfig,
) -> std::result::Result<(PathBuf, PathBuf), String> {
    std::fs::create_dir_all(run_dir)
        .map_err(|error| format!("cannot create {}: {error}", run_dir.display()))?;
    let config_path = run_dir.join("config.json");
    let json = serde_json::to_string_pretty(config).map_err(|error| error.to_string())?;
    write_atomic(&config_path, json.as_bytes()).map_err(|error| error.to_string())?;
    let outcome_path = run_dir.join("outcome.json");
    let _ = std::fs::remove_file(&outcome_path);
    Ok((config_path, outcome_path))
}

/// The line of a group member the process reported as ended.
fn read_member_outcome(
    outcome_path: &Path,
    result_path: &Path,
    task: &Task,
) -> std::result::Result<ResultLine, String> {
    let outcome = std::fs::read_to_string(outcome_path)
        .map_err(|error| format!("cannot read {}: {error}", outcome_path.display()))
        .and_then(|text| {
            serde_json::from_str::<RunOutcome>(&text)
                .map_err(|error| format!("cannot parse {}: {error}", outcome_path.display()))
        })?;
    line_of_outcome(outcome, result_path, task)
}

/// Signals that mean "stop", not "this run is broken": SIGHUP, SIGINT, SIGTERM.
const INTERRUPTING_SIGNALS: [i32; 3] = [1, 2, 15];

/// PCA + k-means or k-means on the raw fused features, scored like a
/// trained model's latent means. Writes the PCA projection as
/// `latents.npy` so that the report can plot it.
fn run_baseline(
    kind: BaselineKind,
    components: Option<usize>,
    clustering: &ClusteringConfig,
    task: &Task,
    run_dir: &Path,
    data: &TrainingData,
) -> std::result::Result<ResultLine, String> {
    let k = cluster_count(clustering, data.ids.len(), &data.labels)
        .map_err(|error| error.to_string())?;
    let started = Instant::now();
    let (embedding, parameters): (Array2<f32>, Option<f64>) = match kind {
        BaselineKind::RawKmeans => (data.features.clone(), None),
        BaselineKind::PcaKmeans => {
            let features = data.features.mapv(f64::from);
            let wanted = components.unwrap_or(RunConfig::default().latent_dim);
            let usable = wanted.min(features.ncols()).min(features.nrows());
            let pca = Pca::fit(features.view(), usable).map_err(|error| error.to_string())?;
            let projected = pca
                .transform(features.view())
                .map_err(|error| error.to_string())?;
            let parameters = (pca.components.len() + pca.mean.len()) as f64;
            (projected.mapv(|value| value as f32), Some(parameters))
        }
    };
    let (_, scores) = cluster_and_score(
        embedding.mapv(f64::from).view(),
        k,
        clustering,
        task.seed,
        &data.labels,
    )
    .map_err(|error| error.to_string())?;
    let elapsed = started.elapsed().as_secs_f64();
    if kind == BaselineKind::PcaKmeans {
        std::fs::create_dir_all(run_dir)
            .map_err(|error| format!("cannot create {}: {error}", run_dir.display()))?;
        write_npy_atomic(&run_dir.join("latents.npy"), &embedding)
            .map_err(|error| error.to_string())?;
    }
    let mut line = ResultLine::bare(
        &task.point.id,
        &task.point.label,
        task.seed,
        PairStatus::Completed,
    );
    line.device = Some("cpu".to_owned());
    line.set_scores(&scores);
    line.values.set(Metric::TrainTimeSec, Some(elapsed));
    line.values.set(Metric::Parameters, parameters);
    Ok(line)
}
