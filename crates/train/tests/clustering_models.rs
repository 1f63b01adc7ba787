//! VaDE and IDEC on synthetic clusters: they recover well-separated
//! clusters, their numbers on a harder case are pinned, the mixture stays
//! valid, the same seed gives the same numbers, and a collapse is reported.
//!
//! The synthetic data: a Gaussian mixture in 3 dimensions pushed through a
//! fixed random non-linear map (`2 tanh(A z) + sin(B z)` plus a little
//! noise) into 20, columns standardised.

use std::fmt::Write as _;
use std::path::Path;

mod common;
use common::run_trainer;

use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use songvae_features::build::{BuildOptions, build_features};
use songvae_features::dataset::FeatureSettings;
use songvae_features::training_data::TrainingData;
use songvae_metrics::scoring::{ClusteringConfig, cluster_and_score};
use songvae_run::config::RunConfig;
use songvae_run::device::DeviceChoice;
use songvae_run::machine::Kernels;
use songvae_run::result::{RunResult, RunStatus};
use songvae_run::spec::Architecture;
use songvae_train::run::{RunOutputs, train_run};

/// `per_cluster` points around each of `centres` (with per-cluster,
/// per-axis spreads `spreads`), pushed through a fixed random non-linear
/// map into 20 dimensions, columns standardised.
fn synthetic(
    centres: &[Vec<f64>],
    spreads: &[Vec<f64>],
    per_cluster: usize,
    seed: u64,
) -> TrainingData {
    let mut generator = ChaCha8Rng::seed_from_u64(seed);
    let latent_dim = centres[0].len();
    let output_dim = 20;
    let mut first = vec![vec![0.0; latent_dim]; output_dim];
    let mut second = vec![vec![0.0; latent_dim]; output_dim];
    for row in 0..output_dim {
        for column in 0..latent_dim {
            first[row][column] = generator.sample::<f64, _>(StandardNormal) * 0.5;
            second[row][column] = generator.sample::<f64, _>(StandardNormal) * 0.5;
        }
    }
    let track_count = centres.len() * per_cluster;
    let mut features = Array2::<f32>::zeros((track_count, output_dim));
    let mut ids = Vec::new();
    let mut labels = Vec::new();
    // Interleave the clusters so no split or batch sees one cluster only.
    for index in 0..track_count {
        let cluster = index % centres.len();
        let mut point = vec![0.0; latent_dim];
        for dimension in 0..latent_dim {
            point[dimension] = centres[cluster][dimension]
                + spreads[cluster][dimension] * generator.sample::<f64, _>(StandardNormal);
        }
        for row in 0..output_dim {
            let mut a = 0.0;
            let mut b = 0.0;
            for dimension in 0..latent_dim {
                a += first[row][dimension] * point[dimension];
                b += second[row][dimension] * point[dimension];
            }
            features[[index, row]] =
                (a.tanh() * 2.0 + b.sin() + 0.05 * generator.sample::<f64, _>(StandardNormal))
                    as f32;
        }
        ids.push(format!("track{index:04}"));
        labels.push(format!("cluster{cluster}"));
    }
    for column in 0..output_dim {
        let values = features.column(column);
        let mean = values.mean().unwrap_or(0.0);
        let std = values.std(0.0).max(1e-6);
        features
            .column_mut(column)
            .mapv_inplace(|value| (value - mean) / std);
    }
    TrainingData {
        ids,
        features,
        frames: None,
        lyrics_columns: None,
        labels: vec![("cluster".to_owned(), labels)],
        dataset_name: "synthetic".to_owned(),
    }
}

/// Four clusters, 60 tracks each, far apart relative to their spread.
fn separated() -> TrainingData {
    let centres = vec![
        vec![3.0, 0.0, 0.0],
        vec![-3.0, 0.0, 0.0],
        vec![0.0, 3.0, 0.0],
        vec![0.0, -3.0, 3.0],
    ];
    let spreads = vec![vec![0.3; 3]; 4];
    synthetic(&centres, &spreads, 60, 11)
}

/// Three long parallel bars, 80 tracks each: k-means on the raw features
/// cuts across them (ARI 0.32).
fn parallel_bars() -> TrainingData {
    let centres = vec![
        vec![0.0, 0.0, 0.0],
        vec![0.0, 1.6, 0.0],
        vec![0.0, 3.2, 0.0],
    ];
    let spreads = vec![vec![2.0, 0.25, 0.25]; 3];
    synthetic(&centres, &spreads, 80, 12)
}

fn config(architecture: Architecture, seed: u64) -> RunConfig {
    RunConfig {
        architecture,
        latent_dim: 4,
        hidden_dim: 64,
        depth: 1,
        batch_size: 32,
        pretrain_epochs: 40,
        max_epochs: 60,
        patience: 10,
        seed,
        device: DeviceChoice::Cpu,
        ..RunConfig::default()
    }
}

fn train(config: &RunConfig, data: &TrainingData) -> RunOutputs {
    tch::set_num_threads(1);
    train_run(config, data, &mut |_, _, _, _| {}).expect("the run trains")
}

fn own_ari(result: &RunResult) -> f64 {
    result
        .scores
        .as_ref()
        .and_then(|scores| scores.ari)
        .expect("an ARI")
}

fn latent_kmeans_ari(result: &RunResult) -> f64 {
    result
        .latent_kmeans_scores
        .as_ref()
        .and_then(|scores| scores.ari)
        .expect("an ARI of k-means on the latents")
}

#[test]
fn both_recover_well_separated_clusters() {
    let data = separated();
    for architecture in [Architecture::Vade, Architecture::Idec] {
        for seed in 0..3 {
            let outputs = train(&config(architecture, seed), &data);
            let result = &outputs.result;
            let what = format!("{} seed {seed}", architecture.name());
            assert_eq!(result.status, RunStatus::Completed, "{what}");
            assert!(own_ari(result) >= 0.9, "{what}: ARI {}", own_ari(result));
            assert!(latent_kmeans_ari(result) >= 0.9, "{what}");
            assert_eq!(result.empty_clusters, Some(0), "{what}");
            assert_eq!(result.curves.pretrain_loss.len(), 40, "{what}");
            let pretrain = &result.curves.pretrain_loss;
            assert!(pretrain[39] < pretrain[0], "{what}: pretraining learns");
            let clusters = outputs.clusters.as_ref().expect("clusters");
            assert_eq!(clusters.len(), 240, "{what}");
            assert!(clusters.iter().all(|cluster| *cluster < 4), "{what}");
            if architecture == Architecture::Vade {
                let weights = result.mixture_weights.as_ref().expect("weights");
                assert_eq!(weights.len(), 4, "{what}");
                let total: f64 = weights.iter().sum();
                assert!((total - 1.0).abs() < 1e-5, "{what}: weights sum to {total}");
                assert!(weights.iter().all(|weight| *weight > 0.0), "{what}");
                assert!(result.curves.assignment_changes.is_empty(), "{what}");
            } else {
                assert!(result.mixture_weights.is_none(), "{what}");
                assert!(!result.curves.assignment_changes.is_empty(), "{what}");
                let last = result.curves.assignment_changes.last().copied();
                assert!(
                    result.epochs_run == 60 || last < Some(0.001),
                    "{what}: it ended on the tolerance or at max_epochs"
                );
            }
        }
    }
}

#[test]
fn the_same_seed_gives_the_same_numbers() {
    let data = separated();
    for architecture in [Architecture::Vade, Architecture::Idec] {
        let first = train(&config(architecture, 5), &data);
        let second = train(&config(architecture, 5), &data);
        let name = architecture.name();
        assert_eq!(first.result.curves, second.result.curves, "{name}");
        assert_eq!(first.latents, second.latents, "{name}");
        assert_eq!(first.clusters, second.clusters, "{name}");
        assert_eq!(first.result.scores, second.result.scores, "{name}");
        assert_eq!(
            first.result.latent_kmeans_scores, second.result.latent_kmeans_scores,
            "{name}"
        );
        assert_eq!(
            first.result.mixture_weights, second.result.mixture_weights,
            "{name}"
        );
    }
}

#[test]
fn a_collapse_onto_one_cluster_is_reported_not_an_error() {
    // Every track the same: the mixture (and the k-means start of IDEC) can
    // only put every track in one component.
    let mut data = separated();
    data.features.fill(0.5);
    for architecture in [Architecture::Vade, Architecture::Idec] {
        let outputs = train(&config(architecture, 0), &data);
        let result = &outputs.result;
        let name = architecture.name();
        assert_eq!(result.status, RunStatus::Completed, "{name}");
        assert_eq!(result.empty_clusters, Some(3), "{name}");
        let scores = result.scores.as_ref().expect("scores");
        assert_eq!(scores.ari, Some(0.0), "{name}");
        let reason = scores.absent.get("silhouette").expect("silhouette absent");
        assert!(reason.contains("1 distinct clusters"), "{name}: {reason}");
        if architecture == Architecture::Vade {
            let weights = result.mixture_weights.as_ref().expect("weights");
            assert!(
                weights
                    .iter()
                    .all(|weight| weight.is_finite() && *weight > 0.0)
            );
        }
    }
}

/// Writes `data` as a dataset (a CSV of numeric columns and its
/// `dataset.json`) and builds its features directory.
fn features_directory(data: &TrainingData, directory: &Path) -> std::path::PathBuf {
    let mut csv = String::from("id");
    for column in 0..data.features.ncols() {
        write!(csv, ",x{column}").expect("write");
    }
    csv.push_str(",cluster\n");
    for (row, id) in data.ids.iter().enumerate() {
        csv.push_str(id);
        for value in data.features.row(row) {
            write!(csv, ",{value}").expect("write");
        }
        writeln!(csv, ",{}", data.labels[0].1[row]).expect("write");
    }
    std::fs::write(directory.join("tracks.csv"), csv).expect("csv");
    let descriptor = directory.join("dataset.json");
    std::fs::write(
        &descriptor,
        r#"{"name": "parallel-bars", "manifest": "tracks.csv", "id_column": "id",
            "audio": {"columns": "numeric"}, "labels": ["cluster"]}"#,
    )
    .expect("descriptor");
    let features = directory.join("features");
    build_features(
        &descriptor,
        &features,
        &FeatureSettings::default(),
        &BuildOptions {
            strict: true,
            progress: false,
            force: false,
        },
    )
    .expect("the synthetic dataset builds");
    features
}

/// One run through `songvae-train` with strict kernels: the numbers are
/// meant to be those of any x86-64 processor with AVX2.
fn run_binary(features: &Path, directory: &Path, config: &RunConfig, name: &str) -> RunResult {
    let strict = RunConfig {
        kernels: Kernels::Strict,
        ..config.clone()
    };
    let text = serde_json::to_string(&strict).expect("json");
    run_trainer(features, directory, name, &text)
}

/// What each method gets where k-means on the raw features fails (ARI
/// 0.27): pinned, not hoped for. Both do better on average (VaDE 0.42,
/// IDEC 0.43 over three seeds) but spread widely across seeds (0.26 to
/// 0.53), as VaDE's published re-runs do.
#[test]
fn a_harder_case_pins_what_each_method_gets() {
    let directory = tempfile::tempdir().expect("tempdir");
    let features = features_directory(&parallel_bars(), directory.path());
    let data = TrainingData::load(&features).expect("load features");
    let (_, raw) = cluster_and_score(
        data.features.mapv(f64::from).view(),
        3,
        &ClusteringConfig::default(),
        0,
        &data.labels,
    )
    .expect("k-means");
    let mut measured = vec![("raw k-means".to_owned(), raw.ari.expect("ari"))];
    for architecture in [Architecture::Vade, Architecture::Idec] {
        for seed in 0..3 {
            let name = format!("{}-{seed}", architecture.name());
            let result = run_binary(
                &features,
                directory.path(),
                &config(architecture, seed),
                &name,
            );
            assert_eq!(result.status, RunStatus::Completed, "{name}");
            measured.push((format!("{name} own"), own_ari(&result)));
            measured.push((format!("{name} latent k-means"), latent_kmeans_ari(&result)));
        }
    }
    for (what, ari) in &measured {
        println!("{what}: ARI {ari:.6}");
    }
    let expected = PINNED;
    assert_eq!(measured.len(), expected.len());
    for ((what, ari), pinned) in measured.iter().zip(expected) {
        assert!(
            (ari - pinned).abs() < 5e-7,
            "{what}: ARI {ari:.6}, pinned {pinned:.6}"
        );
    }
}

/// `a_harder_case_pins_what_each_method_gets`: raw k-means, then for vade
/// and idec seeds 0 to 2 their own clusters' ARI and k-means on their
/// latents (measured on an Intel Xeon with AVX-512, strict kernels).
const PINNED: [f64; 13] = [
    0.267_552, // raw k-means
    0.260_700, 0.274_433, // vade seed 0
    0.464_572, 0.509_102, // vade seed 1
    0.533_325, 0.500_295, // vade seed 2
    0.306_962, 0.304_306, // idec seed 0
    0.487_165, 0.938_983, // idec seed 1
    0.504_860, 0.502_758, // idec seed 2
];
