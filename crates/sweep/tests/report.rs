//! The report of canned results: `report.md` and `results.csv` are compared
//! with stored snapshots; plots are SVG files.

use std::path::{Path, PathBuf};

mod common;

use common::assert_snapshot;
use songvae_sweep::report::{load_study, write_report};
use songvae_sweep::results::PairStatus;

fn canned() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/sweeps/canned")
}

#[test]
fn canned_results_give_the_stored_report() {
    let out = tempfile::tempdir().unwrap();
    let study = load_study(&[canned()]).unwrap();
    assert_eq!(study.lines.len(), 84);
    let files = write_report(&study, out.path()).unwrap();
    let report = std::fs::read_to_string(out.path().join("report.md")).unwrap();
    let csv = std::fs::read_to_string(out.path().join("results.csv")).unwrap();
    assert_snapshot(&canned().join("expected/report.md"), &report);
    assert_snapshot(&canned().join("expected/results.csv"), &csv);

    // One table per axis, the recommendation, and what did not run.
    for heading in [
        "## 1. Latent dimension",
        "## 6. Architecture comparison",
        "## Recommendation",
    ] {
        assert!(report.contains(heading), "missing {heading}");
    }
    assert!(report.contains("ConvVAE is not applicable here: conv_vae needs per-track frames"));
    assert!(report.contains("At 0.01, 1 of 3 seeds diverged"));
    assert_eq!(csv.lines().count(), 85);

    // A plot per numeric column of every axis, linked from the report.
    let mut plots = 0;
    for file in &files.written {
        let name = file.to_string_lossy();
        if name.ends_with(".svg") {
            plots += 1;
            let text = std::fs::read_to_string(out.path().join(file)).unwrap();
            assert!(text.starts_with("<svg"), "{name}");
            assert!(
                report.contains(&format!("({name})")),
                "{name} is not linked"
            );
        }
    }
    assert_eq!(plots, 7 + 7 + 5 + 5 + 3 + 5);
}

#[test]
fn the_same_results_give_the_same_report() {
    let first = tempfile::tempdir().unwrap();
    let second = tempfile::tempdir().unwrap();
    let study = load_study(&[canned()]).unwrap();
    write_report(&study, first.path()).unwrap();
    write_report(&study, second.path()).unwrap();
    for file in ["report.md", "results.csv", "plots/beta-silhouette.svg"] {
        assert_eq!(
            std::fs::read(first.path().join(file)).unwrap(),
            std::fs::read(second.path().join(file)).unwrap(),
            "{file}"
        );
    }
}

#[test]
fn a_torn_last_line_is_left_out_of_the_report() {
    let directory = tempfile::tempdir().unwrap();
    std::fs::copy(
        canned().join("sweep.json"),
        directory.path().join("sweep.json"),
    )
    .unwrap();
    let mut text = std::fs::read_to_string(canned().join("results.jsonl")).unwrap();
    text.push_str("{\"point\":\"4f1a8da71f2f\",\"label\":\"latent_dim = 4\",\"se");
    std::fs::write(directory.path().join("results.jsonl"), text).unwrap();
    let study = load_study(&[directory.path().to_path_buf()]).unwrap();
    assert_eq!(study.lines.len(), 84);
    let completed = study
        .lines
        .iter()
        .filter(|line| line.status == PairStatus::Completed)
        .count();
    assert_eq!(completed, 84 - 3 - 1 - 1);
}

#[test]
fn a_missing_sweep_directory_names_its_file() {
    let message = load_study(&[PathBuf::from("no/such/sweep")])
        .unwrap_err()
        .to_string();
    assert!(message.contains("no/such/sweep/sweep.json"), "{message}");
}
