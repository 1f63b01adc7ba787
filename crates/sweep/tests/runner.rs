//! The runner with a stand-in executor (no training): resume after a kill
//! with a torn last line, shards that merge into the unsharded study,
//! failure isolation, not-applicable points, and a directory that belongs
//! to another sweep.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ndarray::Array2;
use songvae_features::training_data::TrainingData;
use songvae_run::metric::Metric;
use songvae_sweep::report::load_study;
use songvae_sweep::results::{PairStatus, ResultLine, read_results};
use songvae_sweep::runner::{
    DatasetSummary, Executor, Machine, StudyData, SweepOptions, SweepRecord, SweepSummary, Task,
    run_sweep,
};
use songvae_sweep::spec::{Plan, load_plan};

/// Twelve tracks in three genres and two languages, no frames.
fn data() -> TrainingData {
    let mut features = Array2::zeros((12, 3));
    let mut genre = Vec::new();
    let mut language = Vec::new();
    for row in 0..12 {
        features[[row, row % 3]] = 1.0 + row as f32 * 0.01;
        genre.push(format!("g{}", row % 3));
        language.push(if row < 6 { "en" } else { "bn" }.to_owned());
    }
    TrainingData {
        ids: (0..12).map(|row| format!("t{row}")).collect(),
        features,
        frames: None,
        lyrics_columns: None,
        labels: vec![
            ("genre".to_owned(), genre),
            ("language".to_owned(), language),
        ],
        dataset_name: "stand-in".to_owned(),
    }
}

/// A deterministic stand-in for training: metrics are a function of the
/// point and seed; points whose label contains "fails" fail. Counts calls.
struct StandIn {
    calls: Mutex<Vec<(String, u64)>>,
}

impl StandIn {
    fn new() -> Self {
        Self {
            calls: Mutex::new(Vec::new()),
        }
    }

    fn calls(&self) -> Vec<(String, u64)> {
        let mut calls = self.calls.lock().expect("calls lock").clone();
        calls.sort();
        calls
    }
}

impl Executor for StandIn {
    fn execute(&self, task: &Task, _sweep_dir: &Path) -> Option<ResultLine> {
        self.calls
            .lock()
            .expect("calls lock")
            .push((task.point.id.clone(), task.seed));
        if task.point.label.contains("fails") {
            let mut line = ResultLine::bare(
                &task.point.id,
                &task.point.label,
                task.seed,
                PairStatus::Failed,
            );
            line.reason = Some("stand-in failure".to_owned());
            return Some(line);
        }
        if task.point.label.contains("interrupted") {
            return None;
        }
        let mut line = ResultLine::bare(
            &task.point.id,
            &task.point.label,
            task.seed,
            PairStatus::Completed,
        );
        let byte = u8::from_str_radix(&task.point.id[..2], 16).expect("hex id");
        line.values.set(
            Metric::Silhouette,
            Some(f64::from(byte) / 255.0 + task.seed as f64 * 0.01),
        );
        line.values.set(Metric::Ari, Some(0.5));
        line.values.set(Metric::TrainTimeSec, Some(1.0));
        Some(line)
    }
}

const SPEC: &str = r#"{
  "name": "stand-in",
  "dataset": "dataset.json",
  "seeds": 3,
  "axes": [
    {"name": "latent_dim", "parameter": "latent_dim", "values": [2, 4, 8]},
    {"name": "models", "variants": [
      {"label": "VAE", "set": {"architecture": "vae"}},
      {"label": "fails", "set": {"architecture": "ae"}},
      {"label": "ConvVAE", "set": {"architecture": "conv_vae"}},
      {"label": "CVAE", "set": {"architecture": "cvae", "condition": "mood"}},
      {"label": "PCA", "baseline": "pca_kmeans"}
    ]}
  ]
}"#;

fn plan(directory: &Path) -> Plan {
    let path = directory.join("spec.json");
    std::fs::write(&path, SPEC).expect("write spec");
    load_plan(&path).expect("valid spec")
}

fn record(plan: Plan, shard: Option<&str>) -> SweepRecord {
    SweepRecord {
        plan,
        machine: Machine::default(),
        features_dir: PathBuf::from("features"),
        feature_dirs: BTreeMap::new(),
        feature_modalities: BTreeMap::new(),
        dataset: DatasetSummary::of(&data()),
        shard: shard.map(|text| text.parse().expect("shard")),
    }
}

fn options(out_dir: &Path, shard: Option<&str>) -> SweepOptions {
    SweepOptions {
        out_dir: out_dir.to_path_buf(),
        jobs: 2,
        shard: shard.map(|text| text.parse().expect("shard")),
        progress: false,
        ensemble: 1,
    }
}

/// Runs the whole plan (no shard) into `out` and returns the summary.
fn run_unsharded(plan: &Plan, out: &Path, executor: &StandIn) -> SweepSummary {
    run_sweep(
        &record(plan.clone(), None),
        &StudyData::for_plan(plan, &data()),
        &options(out, None),
        executor,
    )
    .expect("the sweep runs")
}

/// Every line keyed by (point, seed), asserting each pair appears once.
fn by_pair(lines: &[ResultLine]) -> BTreeMap<(String, u64), ResultLine> {
    let mut pairs = BTreeMap::new();
    for line in lines {
        let previous = pairs.insert((line.point.clone(), line.seed), line.clone());
        assert!(
            previous.is_none(),
            "duplicate pair {} seed {}",
            line.point,
            line.seed
        );
    }
    pairs
}

#[test]
fn failures_and_inapplicable_points_are_recorded_and_the_sweep_goes_on() {
    let directory = tempfile::tempdir().unwrap();
    let plan = plan(directory.path());
    // latent 2, 4, 8 (base is 16, not among them), VAE (the base), fails, ConvVAE, CVAE, PCA.
    assert_eq!(plan.points.len(), 8);
    let out = directory.path().join("sweep");
    let executor = StandIn::new();
    let summary = run_unsharded(&plan, &out, &executor);
    assert_eq!(summary.pairs, 24);
    assert_eq!(summary.completed, 15);
    assert_eq!(summary.failed, 3);
    assert_eq!(summary.not_applicable, 6);
    // Not-applicable points never reach the executor.
    assert_eq!(executor.calls().len(), 18);
    let lines = read_results(&out.join("results.jsonl")).unwrap().lines;
    let pairs = by_pair(&lines);
    assert_eq!(pairs.len(), 24);
    let mut reasons = Vec::new();
    for line in &lines {
        match line.label.as_str() {
            "fails" => {
                assert_eq!(line.status, PairStatus::Failed);
                assert_eq!(line.reason.as_deref(), Some("stand-in failure"));
            }
            "ConvVAE" | "CVAE" => {
                assert_eq!(line.status, PairStatus::NotApplicable);
                reasons.push(line.reason.clone().unwrap());
            }
            _ => assert_eq!(line.status, PairStatus::Completed, "{}", line.label),
        }
    }
    assert!(
        reasons
            .iter()
            .any(|reason| reason.contains("conv_vae needs per-track frames"))
    );
    assert!(
        reasons
            .iter()
            .any(|reason| reason.contains("label column 'mood'"))
    );
}

#[test]
fn a_killed_sweep_resumes_without_losing_or_repeating_a_pair() {
    let directory = tempfile::tempdir().unwrap();
    let plan = plan(directory.path());
    let complete_dir = directory.path().join("complete");
    run_unsharded(&plan, &complete_dir, &StandIn::new());
    let complete = read_results(&complete_dir.join("results.jsonl"))
        .unwrap()
        .lines;

    // A sweep killed while appending its eighth line: seven whole lines and
    // half of the eighth, no newline.
    let killed_dir = directory.path().join("killed");
    std::fs::create_dir_all(&killed_dir).unwrap();
    let text = std::fs::read_to_string(complete_dir.join("results.jsonl")).unwrap();
    let mut kept = String::new();
    let mut whole_lines = text.lines();
    for _ in 0..7 {
        kept.push_str(whole_lines.next().unwrap());
        kept.push('\n');
    }
    let eighth = whole_lines.next().unwrap();
    kept.push_str(&eighth[..eighth.len() / 2]);
    std::fs::write(killed_dir.join("results.jsonl"), &kept).unwrap();
    let torn = read_results(&killed_dir.join("results.jsonl")).unwrap();
    assert_eq!(torn.lines.len(), 7);
    assert!(torn.torn_tail);

    let executor = StandIn::new();
    let summary = run_unsharded(&plan, &killed_dir, &executor);
    assert_eq!(summary.skipped, 7);
    let finished_before: Vec<(String, u64)> = torn
        .lines
        .iter()
        .map(|line| (line.point.clone(), line.seed))
        .collect();
    for call in executor.calls() {
        assert!(
            !finished_before.contains(&call),
            "finished pair {call:?} ran again"
        );
    }
    let resumed = read_results(&killed_dir.join("results.jsonl")).unwrap();
    assert!(!resumed.torn_tail);
    assert_eq!(by_pair(&resumed.lines), by_pair(&complete));

    // Running it again runs nothing.
    let idle = StandIn::new();
    let summary = run_unsharded(&plan, &killed_dir, &idle);
    assert_eq!(summary.skipped, 24);
    assert!(idle.calls().is_empty());
}

#[test]
fn shards_merge_into_the_unsharded_study() {
    let directory = tempfile::tempdir().unwrap();
    let plan = plan(directory.path());
    let whole_dir = directory.path().join("whole");
    run_unsharded(&plan, &whole_dir, &StandIn::new());
    let mut shard_dirs = Vec::new();
    let mut shard_pairs = 0;
    for index in 0..3 {
        let shard = format!("{index}/3");
        let shard_dir = directory.path().join(format!("shard-{index}"));
        let summary = run_sweep(
            &record(plan.clone(), Some(&shard)),
            &StudyData::for_plan(&plan, &data()),
            &options(&shard_dir, Some(&shard)),
            &StandIn::new(),
        )
        .unwrap();
        shard_pairs += summary.pairs;
        shard_dirs.push(shard_dir);
    }
    assert_eq!(shard_pairs, 24);
    let merged = load_study(&shard_dirs).unwrap();
    let whole = load_study(&[whole_dir]).unwrap();
    assert_eq!(merged.lines, whole.lines);
}

#[test]
fn a_directory_of_another_sweep_is_refused() {
    let directory = tempfile::tempdir().unwrap();
    let plan = plan(directory.path());
    let out = directory.path().join("sweep");
    run_unsharded(&plan, &out, &StandIn::new());
    let mut other = plan;
    other.points.pop();
    let study = StudyData::for_plan(&other, &data());
    let error = run_sweep(
        &record(other, None),
        &study,
        &options(&out, None),
        &StandIn::new(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        error.contains("holds sweep 'stand-in' with other points"),
        "{error}"
    );
}

#[test]
fn interrupted_runs_are_not_recorded_and_run_again_on_resume() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("spec.json");
    std::fs::write(
        &path,
        r#"{"name": "i", "dataset": "d.json", "seeds": 3, "axes": [{"name": "m", "variants": [
            {"label": "VAE", "set": {}},
            {"label": "interrupted", "set": {"architecture": "ae"}}]}]}"#,
    )
    .unwrap();
    let plan = load_plan(&path).unwrap();
    let out = directory.path().join("sweep");
    let summary = run_unsharded(&plan, &out, &StandIn::new());
    assert_eq!((summary.completed, summary.interrupted), (3, 3));
    let lines = read_results(&out.join("results.jsonl")).unwrap().lines;
    assert_eq!(lines.len(), 3);
    assert!(lines.iter().all(|line| line.label == "base"));
    let again = StandIn::new();
    let summary = run_unsharded(&plan, &out, &again);
    assert_eq!((summary.skipped, summary.interrupted), (3, 3));
    assert_eq!(again.calls().len(), 3);
}

#[test]
fn a_corrupt_results_line_is_an_error_naming_the_line() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("results.jsonl");
    std::fs::write(&path, "{\"point\": \"a\"}\nnot json\n").unwrap();
    let message = read_results(&path).unwrap_err().to_string();
    assert!(message.contains("results.jsonl line 1"), "{message}");
}

#[test]
fn k_that_does_not_fit_the_dataset_fails_before_anything_runs() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("spec.json");
    std::fs::write(
        &path,
        r#"{"name": "k", "dataset": "d.json", "clustering": {"k": 40},
            "axes": [{"name": "a", "parameter": "beta", "values": [1, 2]}]}"#,
    )
    .unwrap();
    let plan = load_plan(&path).unwrap();
    let executor = StandIn::new();
    let out = directory.path().join("sweep");
    let study = StudyData::for_plan(&plan, &data());
    let message = run_sweep(&record(plan, None), &study, &options(&out, None), &executor)
        .unwrap_err()
        .to_string();
    assert!(message.contains("clustering.k"), "{message}");
    assert!(executor.calls().is_empty());
    assert!(!out.join("results.jsonl").exists());
}

/// `fixtures/sweeps/resume/`: a real sweep directory (`sweep.json`,
/// `results.jsonl`) written by `songvae-sweep run --spec spec.json` before
/// point ids became an explicit projection of the config. Its spec covers
/// keys added after the first studies (activation, bounded code, plateau
/// decays and factor), a Gaussian mixture with diagonal covariances, both
/// baselines and a feature axis. The same spec must give the same ids, and
/// resuming the directory must run nothing.
#[test]
fn a_committed_sweep_directory_resumes_without_running_a_pair_again() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/sweeps/resume");
    let plan = load_plan(&fixture.join("spec.json")).expect("the committed spec loads");
    let committed = SweepRecord::read(&fixture.join("sweep.json")).expect("sweep.json reads");
    assert_eq!(plan.point_ids(), committed.plan.point_ids());
    for (point, committed_point) in plan.points.iter().zip(&committed.plan.points) {
        assert_eq!(
            songvae_sweep::spec::point_id(&point.job, &point.features),
            committed_point.id,
            "{}",
            point.label
        );
    }
    let directory = tempfile::tempdir().expect("tempdir");
    let out = directory.path().join("resumed");
    std::fs::create_dir_all(&out).expect("out dir");
    for file in ["sweep.json", "results.jsonl"] {
        std::fs::copy(fixture.join(file), out.join(file)).expect("copy the committed directory");
    }
    let executor = StandIn::new();
    let summary = run_unsharded(&plan, &out, &executor);
    assert!(executor.calls().is_empty(), "{:?}", executor.calls());
    assert_eq!(summary.pairs, 32);
    assert_eq!(summary.skipped, 32);
}
