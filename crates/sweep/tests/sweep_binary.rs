//! `songvae-sweep` end to end on the fixture dataset: real training in
//! child processes, the same numbers from the same seeds, a SIGKILL at a
//! random moment that loses no finished pair, and a bad spec that fails
//! before anything starts.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use songvae_sweep::results::{PairStatus, ResultLine, read_results};

const BINARY: &str = env!("CARGO_BIN_EXE_songvae-sweep");

fn dataset() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/dataset/dataset.json")
        .canonicalize()
        .expect("fixture dataset")
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

fn run(spec: &Path, out: &Path) -> Output {
    Command::new(BINARY)
        .args(["run", "--quiet", "--jobs", "2", "--spec"])
        .arg(spec)
        .arg("--out")
        .arg(out)
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
        assert!(line.silhouette.is_some() && line.ari.is_some());
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
            (line.silhouette, earlier.silhouette),
            (line.ari, earlier.ari),
            (line.final_loss, earlier.final_loss),
            (line.kl_divergence, earlier.kl_divergence),
        ] {
            assert_eq!(ours, theirs, "{key:?}");
        }
    }

    // SIGKILL once the first pair is recorded, then resume.
    let killed = directory.path().join("killed");
    let mut child = Command::new(BINARY)
        .args(["run", "--quiet", "--jobs", "2", "--spec"])
        .arg(&spec)
        .arg("--out")
        .arg(&killed)
        .spawn()
        .unwrap();
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
        assert_eq!(line.silhouette, first_pairs[key].silhouette, "{key:?}");
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
