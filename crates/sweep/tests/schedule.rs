//! The order in which a sweep starts its units: a spec goes in, the order
//! of the units (and of the executor's calls, one worker) comes out.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ndarray::Array2;
use songvae_features::training_data::TrainingData;
use songvae_sweep::results::{PairStatus, ResultLine};
use songvae_sweep::runner::{
    DatasetSummary, Executor, Machine, StudyData, SweepOptions, SweepRecord, Task, group_tasks,
    run_sweep,
};
use songvae_sweep::schedule::{PROCESS_OVERHEAD, expected_work, longest_first};
use songvae_sweep::spec::{Plan, load_plan};

/// Forty tracks, four columns, two genres.
fn data() -> TrainingData {
    let mut features = Array2::zeros((40, 4));
    let mut genre = Vec::new();
    for row in 0..40 {
        features[[row, row % 4]] = 1.0 + row as f32 * 0.01;
        genre.push(format!("g{}", row % 2));
    }
    TrainingData {
        ids: (0..40).map(|row| format!("t{row}")).collect(),
        features,
        frames: None,
        lyrics_columns: None,
        labels: vec![("genre".to_owned(), genre)],
        dataset_name: "stand-in".to_owned(),
    }
}

/// Plan order: the cheap points first, the expensive ones late.
const SPEC: &str = r#"{
  "name": "schedule",
  "dataset": "dataset.json",
  "seeds": 2,
  "base": {"hidden_dim": 64, "min_epochs": 20, "max_epochs": 100},
  "axes": [
    {"name": "models", "variants": [
      {"label": "PCA", "baseline": "pca_kmeans"},
      {"label": "base", "set": {}},
      {"label": "fixed length", "set": {"min_epochs": 100}},
      {"label": "wide", "set": {"hidden_dim": 1024}}
    ]}
  ]
}"#;

fn plan(directory: &Path) -> Plan {
    let path = directory.join("spec.json");
    std::fs::write(&path, SPEC).expect("write spec");
    load_plan(&path).expect("valid spec")
}

fn tasks(plan: &Plan) -> Vec<Task> {
    let mut tasks = Vec::new();
    for point in &plan.points {
        for seed in 0..2 {
            tasks.push(Task {
                point: point.clone(),
                seed,
            });
        }
    }
    tasks
}

fn labels(units: &[Vec<Task>]) -> Vec<(String, usize)> {
    let mut labels = Vec::new();
    for unit in units {
        labels.push((unit[0].point.label.clone(), unit.len()));
    }
    labels
}

#[test]
fn units_start_longest_first_and_baselines_last() {
    let directory = tempfile::tempdir().expect("temporary directory");
    let plan = plan(directory.path());
    let study = StudyData::for_plan(&plan, &data());
    let units = group_tasks(tasks(&plan), 1);
    let plan_order = [
        "PCA",
        "PCA",
        "base",
        "base",
        "fixed length",
        "fixed length",
        "wide",
        "wide",
    ];
    assert_eq!(
        labels(&units),
        plan_order
            .iter()
            .map(|label| ((*label).to_owned(), 1))
            .collect::<Vec<_>>(),
        "plan order before scheduling"
    );
    let ordered = longest_first(units, &study);
    let longest_first_order = [
        "wide",
        "wide",
        "fixed length",
        "fixed length",
        "base",
        "base",
        "PCA",
        "PCA",
    ];
    assert_eq!(
        labels(&ordered),
        longest_first_order
            .iter()
            .map(|label| ((*label).to_owned(), 1))
            .collect::<Vec<_>>()
    );
    assert!(expected_work(&ordered[6], &study).abs() < f64::EPSILON);
}

#[test]
fn a_group_of_more_members_weighs_more() {
    let directory = tempfile::tempdir().expect("temporary directory");
    let plan = plan(directory.path());
    let study = StudyData::for_plan(&plan, &data());
    let units = group_tasks(tasks(&plan), 1);
    let base_alone = units
        .iter()
        .find(|unit| unit[0].point.label == "base")
        .expect("a base run");
    let grouped = group_tasks(tasks(&plan), 16);
    // The base point's two seeds and the fixed-length point's two share a
    // shape, so they form one group of four.
    let base_group = grouped
        .iter()
        .find(|unit| unit[0].point.label == "base")
        .expect("the base group");
    assert_eq!(base_group.len(), 4);
    assert!(expected_work(base_group, &study) > expected_work(base_alone, &study));
}

#[test]
fn seeds_trained_one_after_another_add_up_and_pretraining_counts() {
    let directory = tempfile::tempdir().expect("temporary directory");
    let path = directory.path().join("spec.json");
    std::fs::write(
        &path,
        r#"{
  "name": "hosted",
  "dataset": "dataset.json",
  "seeds": 2,
  "base": {"hidden_dim": 64, "min_epochs": 20, "max_epochs": 100},
  "axes": [
    {"name": "models", "variants": [
      {"label": "idec", "set": {"architecture": "idec"}},
      {"label": "ae", "set": {"architecture": "ae"}}
    ]}
  ]
}"#,
    )
    .expect("write spec");
    let plan = load_plan(&path).expect("valid spec");
    let study = StudyData::for_plan(&plan, &data());
    let alone = group_tasks(tasks(&plan), 1);
    let together = group_tasks(tasks(&plan), 16);
    let unit_of = |units: &[Vec<Task>], label: &str| {
        units
            .iter()
            .find(|unit| unit[0].point.label == label)
            .expect("a unit of the label")
            .clone()
    };
    let idec_seed = expected_work(&unit_of(&alone, "idec"), &study);
    let idec_seeds = unit_of(&together, "idec");
    assert_eq!(idec_seeds.len(), 2, "both IDEC seeds share one process");
    // One process start, then the two seeds' training one after another:
    // twice the training of one.
    let training_of_one = idec_seed - PROCESS_OVERHEAD;
    let training_of_two = expected_work(&idec_seeds, &study) - PROCESS_OVERHEAD;
    assert!(
        (training_of_two - 2.0 * training_of_one).abs() <= 1e-9 * training_of_two,
        "{training_of_two} against twice {training_of_one}"
    );
    // A stacked group of two shares each step's fixed cost: less than twice.
    let ae_seed = expected_work(&unit_of(&alone, "ae"), &study);
    let ae_seeds = unit_of(&together, "ae");
    assert_eq!(ae_seeds.len(), 2, "both AE seeds stack");
    assert!(
        expected_work(&ae_seeds, &study) - PROCESS_OVERHEAD < 2.0 * (ae_seed - PROCESS_OVERHEAD)
    );
    // IDEC pretrains an autoencoder of the same sizes first (100 epochs by
    // default), so one seed weighs more than an AE run of the same shape.
    assert!(idec_seed > ae_seed, "{idec_seed} against {ae_seed}");
}

/// Records the order of its calls.
struct Recorder {
    calls: Mutex<Vec<String>>,
}

impl Executor for Recorder {
    fn execute(&self, task: &Task, _sweep_dir: &Path) -> Option<ResultLine> {
        self.calls
            .lock()
            .expect("calls lock")
            .push(task.point.label.clone());
        Some(ResultLine::bare(
            &task.point.id,
            &task.point.label,
            task.seed,
            PairStatus::Completed,
        ))
    }
}

#[test]
fn one_worker_runs_the_units_longest_first() {
    let directory = tempfile::tempdir().expect("temporary directory");
    let plan = plan(directory.path());
    let study = StudyData::for_plan(&plan, &data());
    let record = SweepRecord {
        plan: plan.clone(),
        machine: Machine::default(),
        features_dir: PathBuf::from("features"),
        feature_dirs: BTreeMap::new(),
        feature_modalities: BTreeMap::new(),
        dataset: DatasetSummary::of(&data()),
        shard: None,
    };
    let options = SweepOptions {
        out_dir: directory.path().join("out"),
        jobs: 1,
        shard: None,
        progress: false,
        ensemble: 1,
    };
    let recorder = Recorder {
        calls: Mutex::new(Vec::new()),
    };
    let summary = run_sweep(&record, &study, &options, &recorder).expect("the sweep runs");
    assert_eq!(summary.completed, 8);
    let calls = recorder.calls.lock().expect("calls lock").clone();
    assert_eq!(
        calls,
        vec![
            "wide",
            "wide",
            "fixed length",
            "fixed length",
            "base",
            "base",
            "PCA",
            "PCA"
        ]
    );
}
