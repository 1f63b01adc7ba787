//! The report of canned results: `report.md` and `results.csv` are compared
//! with stored snapshots; plots are SVG files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

mod common;

use common::assert_snapshot;
use songvae_features::fusion::Modality;
use songvae_metrics::scoring::LabelScores;
use songvae_run::metric::Metric;
use songvae_sweep::report::{load_study, write_report};
use songvae_sweep::results::{PairStatus, ResultLine};
use songvae_sweep::runner::{DatasetSummary, Machine, SweepRecord};
use songvae_sweep::spec::load_plan;

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
fn every_scored_label_gets_csv_columns_and_a_report_row() {
    let mut study = load_study(&[canned()]).unwrap();
    for line in &mut study.lines {
        if let (Some(ari), Some(nmi), Some(purity)) = (
            line.values.get(Metric::Ari),
            line.values.get(Metric::Nmi),
            line.values.get(Metric::Purity),
        ) {
            line.labels = vec![
                LabelScores {
                    label: "genre".to_owned(),
                    ari,
                    nmi,
                    purity,
                },
                LabelScores {
                    label: "language".to_owned(),
                    ari: ari / 20.0,
                    nmi: nmi / 10.0,
                    purity: 0.5,
                },
            ];
        }
    }
    let directory = tempfile::tempdir().unwrap();
    write_report(&study, directory.path()).unwrap();
    let csv = std::fs::read_to_string(directory.path().join("results.csv")).unwrap();
    let header = csv.lines().next().unwrap();
    assert!(
        header.ends_with(",parameters,ari[genre],nmi[genre],purity[genre],ari[language],nmi[language],purity[language]"),
        "{header}"
    );
    let first_row: Vec<&str> = csv.lines().nth(1).unwrap().split(',').collect();
    let ari_column = header.split(',').position(|name| name == "ari").unwrap();
    assert_eq!(
        first_row[ari_column],
        first_row[first_row.len() - 6],
        "ari[genre] is the primary ari"
    );
    let report = std::fs::read_to_string(directory.path().join("report.md")).unwrap();
    assert!(report.contains("## Agreement with each label"), "{report}");
    assert!(
        report.contains("| label | best trained point | ARI | NMI | best baseline | ARI | NMI |"),
        "{report}"
    );
    let genre_row = report
        .lines()
        .find(|line| line.starts_with("| `genre` |"))
        .unwrap();
    let language_row = report
        .lines()
        .find(|line| line.starts_with("| `language` |"))
        .unwrap();
    assert!(
        genre_row.contains("KMeans (raw features)") || genre_row.contains("PCA+KMeans"),
        "{genre_row}"
    );
    assert!(language_row.split(" | ").count() == 7, "{language_row}");
    assert!(
        report.contains("No point recovers `language` (best ARI"),
        "language ARI is below 0.1 everywhere: {report}"
    );
    assert!(!report.contains("No point recovers `genre`"), "{report}");
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

#[test]
fn a_modality_axis_says_per_label_whether_fusion_beats_the_best_single_modality() {
    let directory = tempfile::tempdir().unwrap();
    let spec_path = directory.path().join("spec.json");
    std::fs::write(
        &spec_path,
        r#"{"name": "modality", "dataset": "d.json", "axes": [{"name": "modality", "primary": "ari", "variants": [
            {"label": "audio: VAE", "set": {"features.modalities": ["audio"]}},
            {"label": "lyrics: VAE", "set": {"features.modalities": ["lyrics"]}},
            {"label": "fused: VAE", "set": {}},
            {"label": "fused: PCA+KMeans", "baseline": "pca_kmeans"}
        ]}]}"#,
    )
    .unwrap();
    let plan = load_plan(&spec_path).unwrap();
    let point_of = |label: &str| {
        let entry = plan.axes[0]
            .entries
            .iter()
            .find(|entry| entry.label == label)
            .unwrap();
        plan.point(&entry.point).unwrap().clone()
    };
    let mut feature_modalities = BTreeMap::new();
    for entry in &plan.axes[0].entries {
        let point = point_of(&entry.label);
        let modalities = match entry.label.as_str() {
            "audio: VAE" => vec![Modality::Audio],
            "lyrics: VAE" => vec![Modality::Lyrics],
            _ => vec![Modality::Audio, Modality::Lyrics],
        };
        feature_modalities.insert(point.features.clone(), modalities);
    }
    // (row, language ARI per seed, genre ARI per seed)
    let scores: [(&str, [f64; 3], [f64; 3]); 4] = [
        ("audio: VAE", [0.10, 0.12, 0.11], [0.30, 0.32, 0.31]),
        ("lyrics: VAE", [0.80, 0.82, 0.81], [0.05, 0.06, 0.04]),
        ("fused: VAE", [0.95, 0.96, 0.97], [0.30, 0.33, 0.31]),
        ("fused: PCA+KMeans", [0.5, 0.5, 0.5], [0.2, 0.2, 0.2]),
    ];
    let mut lines = String::new();
    for (label, language, genre) in scores {
        let point = point_of(label);
        for seed in 0..3 {
            let mut line = ResultLine::bare(&point.id, label, seed, PairStatus::Completed);
            line.labels = vec![
                LabelScores {
                    label: "language".to_owned(),
                    ari: language[seed as usize],
                    nmi: language[seed as usize],
                    purity: 0.9,
                },
                LabelScores {
                    label: "genre".to_owned(),
                    ari: genre[seed as usize],
                    nmi: genre[seed as usize],
                    purity: 0.5,
                },
            ];
            line.values.set(Metric::Ari, Some(language[seed as usize]));
            lines.push_str(&serde_json::to_string(&line).unwrap());
            lines.push('\n');
        }
    }
    let report = report_of(directory.path(), plan, &lines, feature_modalities);
    assert!(
        report.contains("For `language`, on ari fused: VAE (0.960 ± 0.010) beats its best single modality (p = 0.001), lyrics (0.810 ± 0.010)"),
        "{report}"
    );
    assert!(
        report.contains("For `genre`, on ari fused: VAE (0.313 ± 0.015) is not shown different from its best single modality (p = 0.423), audio (0.310 ± 0.010)"),
        "{report}"
    );
    assert!(
        report.contains("- Feature settings (3, the first is the spec's):"),
        "{report}"
    );
}

#[test]
fn an_axis_with_vade_and_idec_compares_them_per_label_with_the_plain_vae_and_the_baselines() {
    let directory = tempfile::tempdir().unwrap();
    let spec_path = directory.path().join("spec.json");
    std::fs::write(
        &spec_path,
        r#"{"name": "clustering", "dataset": "d.json", "axes": [{"name": "architecture", "primary": "ari", "variants": [
            {"label": "VAE (FC)", "set": {"architecture": "vae"}},
            {"label": "VaDE", "set": {"architecture": "vade"}},
            {"label": "IDEC", "set": {"architecture": "idec"}},
            {"label": "PCA+KMeans", "baseline": "pca_kmeans"}
        ]}]}"#,
    )
    .unwrap();
    let plan = load_plan(&spec_path).unwrap();
    let rows = [
        CannedRow::new("VAE (FC)", [0.50, 0.52, 0.51], [0.10, 0.11, 0.12], None),
        CannedRow::new(
            "VaDE",
            [0.70, 0.72, 0.74],
            [0.10, 0.12, 0.11],
            Some((0.6, 1.0)),
        ),
        CannedRow::new(
            "IDEC",
            [0.50, 0.53, 0.50],
            [0.02, 0.03, 0.01],
            Some((0.5, 0.0)),
        ),
        CannedRow::new("PCA+KMeans", [0.40, 0.40, 0.41], [0.20, 0.20, 0.20], None),
    ];
    let mut lines = String::new();
    let mut feature_modalities = BTreeMap::new();
    for CannedRow {
        label,
        genre,
        mood,
        latent,
    } in rows
    {
        let entry = plan.axes[0]
            .entries
            .iter()
            .find(|entry| entry.label == label)
            .unwrap();
        let point = plan.point(&entry.point).unwrap();
        feature_modalities.insert(point.features.clone(), vec![Modality::Audio]);
        for seed in 0..3 {
            let index = seed as usize;
            let mut line = ResultLine::bare(&point.id, label, seed, PairStatus::Completed);
            line.labels = vec![
                LabelScores {
                    label: "genre".to_owned(),
                    ari: genre[index],
                    nmi: genre[index] + 0.1,
                    purity: 0.9,
                },
                LabelScores {
                    label: "mood".to_owned(),
                    ari: mood[index],
                    nmi: mood[index] + 0.1,
                    purity: 0.5,
                },
            ];
            line.values.set(Metric::Ari, Some(genre[index]));
            line.values
                .set(Metric::LatentKmeansAri, latent.map(|(ari, _)| ari));
            line.values
                .set(Metric::EmptyClusters, latent.map(|(_, empty)| empty));
            lines.push_str(&serde_json::to_string(&line).unwrap());
            lines.push('\n');
        }
    }
    let report = report_of(directory.path(), plan, &lines, feature_modalities);
    for expected in [
        "| `genre` | VaDE | 0.720 ± 0.020 | 0.820 ± 0.020 |",
        "| `mood` | PCA+KMeans | 0.200 ± 0.000 | 0.300 ± 0.000 |",
        "On `genre` ARI, VaDE beats VAE (FC) (plain VAE, p = 0.002) and beats PCA+KMeans (best baseline, p < 0.001).",
        "On `genre` ARI, IDEC is not shown different from VAE (FC) (plain VAE, p = 1.000) and beats PCA+KMeans (best baseline, p = 0.012).",
        "On `mood` ARI, IDEC loses to VAE (FC) (plain VAE, p = 0.012) and loses to PCA+KMeans (best baseline, p = 0.001).",
        "VaDE: k-means on its latent means 0.600 ± 0.000, 1.0 empty clusters on average; IDEC: k-means on its latent means 0.500 ± 0.000, 0.0 empty clusters on average.",
    ] {
        assert!(
            report.contains(expected),
            "missing {expected:?} in\n{report}"
        );
    }
}

/// One row of a canned architecture axis: its label, ARI against `genre`
/// and `mood` per seed, and for a model that clusters by design the ARI of
/// k-means on its latents and its empty clusters.
struct CannedRow {
    label: &'static str,
    genre: [f64; 3],
    mood: [f64; 3],
    latent: Option<(f64, f64)>,
}

impl CannedRow {
    fn new(
        label: &'static str,
        genre: [f64; 3],
        mood: [f64; 3],
        latent: Option<(f64, f64)>,
    ) -> Self {
        Self {
            label,
            genre,
            mood,
            latent,
        }
    }
}

/// Writes `lines` and the plan's `sweep.json` under `directory`, then the
/// report; returns `report.md`.
fn report_of(
    directory: &Path,
    plan: songvae_sweep::spec::Plan,
    lines: &str,
    feature_modalities: BTreeMap<String, Vec<Modality>>,
) -> String {
    let sweep = directory.join("sweep");
    std::fs::create_dir_all(&sweep).expect("sweep directory");
    std::fs::write(sweep.join("results.jsonl"), lines).expect("results.jsonl");
    let record = SweepRecord {
        plan,
        machine: Machine::default(),
        features_dir: PathBuf::from("features"),
        feature_dirs: BTreeMap::new(),
        feature_modalities,
        dataset: DatasetSummary::default(),
        shard: None,
    };
    std::fs::write(
        sweep.join("sweep.json"),
        serde_json::to_string(&record).expect("record"),
    )
    .expect("sweep.json");
    let study = load_study(&[sweep]).expect("study");
    let out = directory.join("report");
    write_report(&study, &out).expect("report");
    std::fs::read_to_string(out.join("report.md")).expect("report.md")
}
