//! `songvae-sweep` end to end on the fixture dataset: real training in
//! child processes, the same numbers from the same seeds, a SIGKILL at a
//! random moment that loses no finished pair, training processes that end
//! with a killed sweep, and a bad spec that fails before anything starts.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use songvae_run::metric::Metric;
use songvae_sweep::results::{PairStatus, ResultLine, read_results};

const BINARY: &str = env!("CARGO_BIN_EXE_songvae-sweep");

fn dataset() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/dataset/dataset.json")
        .canonicalize()
        .expect("fixture dataset")
}

/// Writes `spec` into `directory`, runs it into `directory/out` and expects
/// success; returns the sweep directory and its pairs.
fn run_spec(
    directory: &Path,
    spec: &serde_json::Value,
) -> (PathBuf, BTreeMap<(String, u64), ResultLine>) {
    let spec_path = directory.join("spec.json");
    std::fs::write(&spec_path, spec.to_string()).expect("write spec");
    let out = directory.join("out");
    let output = run(&spec_path, &out);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let lines = pairs(&out);
    (out, lines)
}

/// Four points (latent 2 and 4, the base, PCA + k-means) x two seeds, a few
/// epochs each.
fn write_spec(directory: &Path) -> PathBuf {
    let spec = serde_json::json!({
        "name": "tiny",
        "dataset": dataset(),
        "base": {"max_epochs": 4, "min_epochs": 0, "patience": 2, "hidden_dim": 32},
        "seeds": 2,
        "axes": [
            {"name": "latent_dim", "parameter": "latent_dim", "values": [2, 4]},
            {"name": "models", "variants": [
                {"label": "VAE", "set": {}},
                {"label": "PCA+KMeans", "baseline": "pca_kmeans"}
            ]}
        ]
    });
    let path = directory.join("tiny.json");
    std::fs::write(&path, serde_json::to_string_pretty(&spec).expect("json")).expect("write spec");
    path
}

/// `songvae-sweep run --quiet --jobs 2 --spec SPEC --out OUT`, not started.
fn sweep_command(spec: &Path, out: &Path) -> Command {
    let mut command = Command::new(BINARY);
    command
        .args(["run", "--quiet", "--jobs", "2", "--spec"])
        .arg(spec)
        .arg("--out")
        .arg(out);
    command
}

fn run(spec: &Path, out: &Path) -> Output {
    sweep_command(spec, out)
        .output()
        .expect("start songvae-sweep")
}

fn pairs(out: &Path) -> BTreeMap<(String, u64), ResultLine> {
    let read = read_results(&out.join("results.jsonl")).expect("results");
    assert!(!read.torn_tail);
    let mut pairs = BTreeMap::new();
    for line in read.lines {
        let key = (line.point.clone(), line.seed);
        assert!(pairs.insert(key, line).is_none(), "duplicate pair");
    }
    pairs
}

#[test]
fn a_sweep_runs_reproduces_and_survives_a_kill() {
    let directory = tempfile::tempdir().unwrap();
    let spec = write_spec(directory.path());

    let first = directory.path().join("first");
    let output = run(&spec, &first);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let first_pairs = pairs(&first);
    assert_eq!(first_pairs.len(), 8);
    for line in first_pairs.values() {
        assert_eq!(line.status, PairStatus::Completed, "{line:?}");
        assert!(
            line.values.get(Metric::Silhouette).is_some() && line.values.get(Metric::Ari).is_some()
        );
        let run_dir = first.join(line.run_dir.as_ref().unwrap());
        assert!(
            run_dir.join("latents.npy").is_file(),
            "{}",
            run_dir.display()
        );
    }
    assert!(first.join("report/report.md").is_file());
    assert!(first.join("report/results.csv").is_file());

    // The same spec and seeds give the same numbers (times aside).
    let second = directory.path().join("second");
    assert!(run(&spec, &second).status.success());
    for (key, line) in pairs(&second) {
        let earlier = &first_pairs[&key];
        for (ours, theirs) in [
            (
                line.values.get(Metric::Silhouette),
                earlier.values.get(Metric::Silhouette),
            ),
            (
                line.values.get(Metric::Ari),
                earlier.values.get(Metric::Ari),
            ),
            (
                line.values.get(Metric::FinalLoss),
                earlier.values.get(Metric::FinalLoss),
            ),
            (
                line.values.get(Metric::KlDivergence),
                earlier.values.get(Metric::KlDivergence),
            ),
        ] {
            assert_eq!(ours, theirs, "{key:?}");
        }
    }

    // SIGKILL once the first pair is recorded, then resume.
    let killed = directory.path().join("killed");
    let mut child = sweep_command(&spec, &killed).spawn().unwrap();
    let started = Instant::now();
    loop {
        let recorded =
            read_results(&killed.join("results.jsonl")).map_or(0, |read| read.lines.len());
        if recorded >= 1 || started.elapsed() > Duration::from_mins(5) {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let before = read_results(&killed.join("results.jsonl")).unwrap().lines;
    assert!(!before.is_empty());
    let output = run(&spec, &killed);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let after = pairs(&killed);
    assert_eq!(after.len(), 8);
    for line in &before {
        assert_eq!(
            &after[&(line.point.clone(), line.seed)],
            line,
            "a finished pair changed"
        );
    }
    for (key, line) in &after {
        assert_eq!(
            line.values.get(Metric::Silhouette),
            first_pairs[key].values.get(Metric::Silhouette),
            "{key:?}"
        );
    }
}

#[test]
fn a_bad_spec_fails_with_one_line_naming_the_key() {
    let directory = tempfile::tempdir().unwrap();
    let spec = directory.path().join("bad.json");
    let text = format!(
        r#"{{"name": "bad", "dataset": {:?}, "axes": [{{"name": "lr", "parameter": "learning_rate", "values": [0.001, -1]}}]}}"#,
        dataset()
    );
    std::fs::write(&spec, text).unwrap();
    let out = directory.path().join("out");
    let output = run(&spec, &out);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("axes[0].values[1]") && stderr.contains("learning_rate"),
        "{stderr}"
    );
    assert!(!out.exists(), "nothing may start before the spec is valid");
}

#[test]
fn a_bad_shard_is_refused() {
    let directory = tempfile::tempdir().unwrap();
    let spec = write_spec(directory.path());
    let output = Command::new(BINARY)
        .args(["run", "--quiet", "--shard", "3/3", "--spec"])
        .arg(&spec)
        .arg("--out")
        .arg(directory.path().join("out"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("invalid --shard: 3/3"), "{stderr}");
}

/// The live (not zombie) processes whose command line holds `songvae-train`
/// and `marker`, from `/proc`.
#[cfg(target_os = "linux")]
fn training_processes(marker: &str) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc") {
        let entry = entry.expect("/proc entry");
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(command_line) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let command_line = String::from_utf8_lossy(&command_line).replace('\0', " ");
        let zombie = std::fs::read_to_string(entry.path().join("stat")).is_ok_and(|stat| {
            stat.rsplit(')')
                .next()
                .is_some_and(|rest| rest.trim_start().starts_with('Z'))
        });
        if command_line.contains("songvae-train") && command_line.contains(marker) && !zombie {
            found.push(pid);
        }
    }
    found
}

#[cfg(target_os = "linux")]
#[test]
fn training_processes_end_when_their_sweep_is_killed() {
    let directory = tempfile::tempdir().expect("tempdir");
    // Runs long enough (thousands of epochs) to be caught mid-training.
    let spec = serde_json::json!({
        "name": "long",
        "dataset": dataset(),
        "base": {"max_epochs": 100_000, "min_epochs": 100_000, "hidden_dim": 32},
        "seeds": 2,
        "axes": [{"name": "latent_dim", "parameter": "latent_dim", "values": [2]}]
    });
    let spec_path = directory.path().join("long.json");
    std::fs::write(&spec_path, spec.to_string()).expect("write spec");
    let out = directory.path().join("killed-outright");
    let marker = out.display().to_string();
    let mut sweep = sweep_command(&spec_path, &out)
        .spawn()
        .expect("start songvae-sweep");
    let started = Instant::now();
    while training_processes(&marker).is_empty() && started.elapsed() < Duration::from_mins(5) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let running = training_processes(&marker);
    sweep.kill().expect("SIGKILL the sweep");
    sweep.wait().expect("reap the sweep");
    let killed_at = Instant::now();
    while !training_processes(&marker).is_empty() && killed_at.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let left = training_processes(&marker);
    // Whatever the outcome, leave no training behind.
    for pid in &left {
        let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
    }
    assert!(
        !running.is_empty(),
        "no training process seen before the kill"
    );
    assert!(
        left.is_empty(),
        "training processes {left:?} outlived their sweep"
    );
    let recorded = read_results(&out.join("results.jsonl")).map_or(0, |read| read.lines.len());
    assert_eq!(recorded, 0, "a run killed with its sweep was recorded");
}

#[test]
fn feature_axes_build_each_setting_once_and_a_missing_modality_is_not_applicable() {
    let directory = tempfile::tempdir().unwrap();
    // A table dataset with audio descriptors and no lyrics: 24 tracks, 2 classes.
    let mut table = String::from("id,energy,spread,label,mood\n");
    for row in 0..24u32 {
        let class = row % 2;
        let energy = (f64::from(class) + 1.0) * (f64::from(row) * 0.7).exp() % 50.0;
        let spread = (f64::from(row * 7 % 11) + 0.5) * (f64::from(class) * 3.0 + 1.0);
        let _ = writeln!(table, "t{row},{energy},{spread},c{class},m{}", row % 3);
    }
    std::fs::write(directory.path().join("table.csv"), table).unwrap();
    std::fs::write(
        directory.path().join("dataset.json"),
        r#"{"name": "table-24", "manifest": "table.csv", "id_column": "id",
            "audio": {"columns": "numeric"}, "labels": ["label", "mood"]}"#,
    )
    .unwrap();
    let spec = serde_json::json!({
        "name": "feature-axes",
        "dataset": directory.path().join("dataset.json"),
        "base": {"max_epochs": 3, "min_epochs": 0, "patience": 2, "hidden_dim": 16, "latent_dim": 2, "batch_size": 8},
        "seeds": 1,
        "axes": [
            {"name": "transform", "parameter": "features.fusion.audio_transform",
             "values": ["standard", "yeo_johnson"], "baselines": ["pca_kmeans"]},
            {"name": "modality", "variants": [
                {"label": "lyrics: VAE", "set": {"features.modalities": ["lyrics"]}},
                {"label": "lyrics: PCA+KMeans", "baseline": "pca_kmeans", "set": {"features.modalities": ["lyrics"]}}
            ]}
        ]
    });
    let (out, lines) = run_spec(directory.path(), &spec);
    assert_eq!(lines.len(), 6);
    let by_label = |label: &str| {
        lines
            .values()
            .find(|line| line.label.ends_with(label))
            .unwrap_or_else(|| panic!("no line for {label}: {lines:?}"))
            .clone()
    };
    for label in ["lyrics: VAE", "lyrics: PCA+KMeans"] {
        let line = by_label(label);
        assert_eq!(line.status, PairStatus::NotApplicable, "{line:?}");
        assert!(
            line.reason
                .as_deref()
                .unwrap_or_default()
                .contains("has no lyrics modality"),
            "{line:?}"
        );
    }
    for label in [
        "standard",
        "standard: PCA+KMeans",
        "base",
        "yeo_johnson: PCA+KMeans",
    ] {
        let line = by_label(label);
        assert_eq!(line.status, PairStatus::Completed, "{line:?}");
        let scored: Vec<&str> = line
            .labels
            .iter()
            .map(|scores| scores.label.as_str())
            .collect();
        assert_eq!(scored, ["label", "mood"], "{line:?}");
    }
    // The two PCA baselines ran on their own features.
    assert_ne!(
        by_label("standard: PCA+KMeans")
            .values
            .get(Metric::Silhouette),
        by_label("yeo_johnson: PCA+KMeans")
            .values
            .get(Metric::Silhouette)
    );
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("sweep.json")).unwrap()).unwrap();
    let dirs = record["feature_dirs"].as_object().unwrap();
    assert_eq!(dirs.len(), 2, "the lyrics-only set is not built: {dirs:?}");
    let mut transforms = Vec::new();
    for dir in dirs.values() {
        let manifest: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(Path::new(dir.as_str().unwrap()).join("manifest.json"))
                .unwrap(),
        )
        .unwrap();
        transforms.push(
            manifest["blocks"][0]["transform"]["transform"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    transforms.sort();
    assert_eq!(transforms, ["standard", "yeo_johnson"]);
    let report = std::fs::read_to_string(out.join("report/report.md")).unwrap();
    assert!(report.contains("## Agreement with each label"), "{report}");
}

#[test]
fn one_latent_dimension_and_one_component_complete_without_mig_and_say_why() {
    let directory = tempfile::tempdir().unwrap();
    let spec = serde_json::json!({
        "name": "one-dimension",
        "dataset": dataset(),
        "base": {"max_epochs": 3, "min_epochs": 0, "patience": 2, "hidden_dim": 16, "latent_dim": 1},
        "seeds": 1,
        "axes": [
            {"name": "models", "variants": [
                {"label": "VAE (latent 1)", "set": {}},
                {"label": "PCA+KMeans (1 component)", "baseline": "pca_kmeans", "components": 1}
            ]}
        ]
    });
    let (_, lines) = run_spec(directory.path(), &spec);
    assert_eq!(lines.len(), 2, "{lines:?}");
    for line in lines.values() {
        assert_eq!(line.status, PairStatus::Completed, "{line:?}");
        assert!(
            line.values.get(Metric::Ari).is_some() && line.values.get(Metric::Silhouette).is_some(),
            "{line:?}"
        );
        assert_eq!(
            line.values.get(Metric::DisentanglementScore),
            None,
            "{line:?}"
        );
        assert_eq!(
            line.absent.get("disentanglement_score").map(String::as_str),
            Some("1 latent dimension: the gap between the two most informative needs at least 2"),
            "{line:?}"
        );
    }
}

#[test]
fn stacked_groups_give_the_numbers_of_one_run_per_process() {
    let directory = tempfile::tempdir().expect("tempdir");
    let spec = serde_json::json!({
        "name": "groups",
        "dataset": dataset(),
        "base": {"max_epochs": 6, "min_epochs": 0, "patience": 2, "hidden_dim": 16, "latent_dim": 4},
        "seeds": 2,
        "axes": [
            {"name": "learning_rate", "parameter": "learning_rate", "values": [0.0005, 0.005]},
            {"name": "beta", "parameter": "beta", "values": [0.25, 4.0]},
            {"name": "models", "variants": [
                {"label": "AE", "set": {"architecture": "ae"}},
                {"label": "CVAE", "set": {"architecture": "cvae", "condition": "language"}},
                {"label": "PCA+KMeans", "baseline": "pca_kmeans"}
            ]}
        ]
    });
    let spec_path = directory.path().join("groups.json");
    std::fs::write(&spec_path, spec.to_string()).expect("write spec");
    let mut by_ensemble = Vec::new();
    for ensemble in ["1", "4"] {
        let out = directory.path().join(format!("ensemble-{ensemble}"));
        let output = sweep_command(&spec_path, &out)
            .args(["--ensemble", ensemble, "--no-report"])
            .output()
            .expect("start songvae-sweep");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        by_ensemble.push(pairs(&out));
    }
    let (alone, grouped) = (&by_ensemble[0], &by_ensemble[1]);
    assert_eq!(alone.len(), 14, "{alone:?}");
    assert_eq!(
        alone.keys().collect::<Vec<_>>(),
        grouped.keys().collect::<Vec<_>>()
    );
    for (key, line) in alone {
        let other = &grouped[key];
        assert_eq!(line.status, PairStatus::Completed, "{line:?}");
        for info in &songvae_run::metric::TABLE {
            if matches!(info.metric, Metric::TrainTimeSec | Metric::MemoryMb) {
                continue;
            }
            assert_eq!(
                line.values.get(info.metric),
                other.values.get(info.metric),
                "{key:?} {}",
                info.key
            );
        }
        assert_eq!(line.labels, other.labels, "{key:?}");
    }
}
