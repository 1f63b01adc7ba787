//! A training run of every architecture on the embedded fixture dataset.

use std::path::{Path, PathBuf};

mod common;
use common::fixture_data;

use songvae_metrics::gaussian_mixture::CovarianceType;
use songvae_metrics::scoring::ClusteringAlgorithm;
use songvae_run::config::RunConfig;
use songvae_run::device::DeviceChoice;
use songvae_run::result::RunStatus;
use songvae_run::spec::{Activation, Architecture};
use songvae_train::output::write_outputs;
use songvae_train::run::train_run;

fn short_config(architecture: Architecture) -> RunConfig {
    RunConfig {
        architecture,
        latent_dim: 8,
        hidden_dim: 64,
        max_epochs: 12,
        patience: 50,
        batch_size: 16,
        condition: (architecture == Architecture::Cvae).then(|| "language".to_owned()),
        pretrain_epochs: if architecture.clusters_by_design() {
            10
        } else {
            RunConfig::default().pretrain_epochs
        },
        // IDEC ends when no track changes cluster; here every epoch runs.
        assignment_tolerance: if architecture == Architecture::Idec {
            0.0
        } else {
            RunConfig::default().assignment_tolerance
        },
        device: DeviceChoice::Cpu,
        ..RunConfig::default()
    }
}

#[test]
fn fixture_dataset_has_what_the_models_need() {
    let data = fixture_data();
    assert_eq!(data.ids.len(), 48);
    assert_eq!(data.features.nrows(), 48);
    let frames = data.frames.as_ref().unwrap();
    assert_eq!(frames.shape()[0], 48);
    assert!(data.lyrics_columns.is_some());
    assert!(data.label("genre").is_some() && data.label("language").is_some());
}

#[test]
fn every_architecture_trains_with_falling_loss_and_right_shapes() {
    let data = fixture_data();
    for architecture in Architecture::ALL {
        let config = short_config(architecture);
        let outputs = train_run(&config, data, &mut |_, _, _, _| {}).unwrap();
        let result = &outputs.result;
        let name = architecture.name();
        assert_eq!(result.status, RunStatus::Completed, "{name}");
        assert_eq!(result.epochs_run, 12, "{name}");
        let curve = &result.curves.train_loss;
        assert_eq!(curve.len(), 12, "{name}");
        assert!(
            curve[11] < curve[0],
            "{name}: loss {} -> {}",
            curve[0],
            curve[11]
        );
        let latents = outputs.latents.as_ref().unwrap();
        assert_eq!(latents.shape(), &[48, 8], "{name}");
        let clusters = outputs.clusters.as_ref().unwrap();
        assert_eq!(clusters.len(), 48, "{name}");
        let scores = result.scores.as_ref().unwrap();
        assert_eq!(scores.k, 4, "{name}: k defaults to the genre count");
        for (metric, value) in [
            ("silhouette", scores.silhouette),
            ("davies_bouldin", scores.davies_bouldin),
            ("calinski_harabasz", scores.calinski_harabasz),
            ("ari", scores.ari),
            ("nmi", scores.nmi),
            ("purity", scores.purity),
            ("mig", scores.mig),
        ] {
            let value = value.unwrap_or_else(|| panic!("{name}: {metric} missing"));
            assert!(value.is_finite(), "{name}: {metric} = {value}");
        }
        let labels: Vec<&str> = scores
            .labels
            .iter()
            .map(|label| label.label.as_str())
            .collect();
        assert_eq!(
            labels,
            ["genre", "language"],
            "{name}: every label column is scored"
        );
        assert_eq!(
            Some(scores.labels[0].ari),
            scores.ari,
            "{name}: the first is primary"
        );
        assert_eq!(Some(scores.labels[0].nmi), scores.nmi, "{name}");
        for label in &scores.labels {
            assert!(
                label.ari.is_finite() && (0.0..=1.0).contains(&label.nmi),
                "{name}: {label:?}"
            );
        }
        assert!(result.parameters > 0, "{name}");
        assert_eq!(result.device, "cpu");
        assert_eq!(result.train_tracks + result.validation_tracks, 48);
        if architecture == Architecture::Ae {
            assert!(
                result.curves.kl_divergence.iter().all(|kl| *kl == 0.0),
                "the AE has no KL"
            );
        } else {
            assert!(
                result.curves.kl_divergence.iter().all(|kl| *kl > 0.0),
                "{name} has a KL term"
            );
        }
    }
}

#[test]
fn same_config_and_seed_give_identical_outputs() {
    let data = fixture_data();
    let config = short_config(Architecture::Vae);
    let first = train_run(&config, data, &mut |_, _, _, _| {}).unwrap();
    let second = train_run(&config, data, &mut |_, _, _, _| {}).unwrap();
    assert_eq!(first.latents, second.latents);
    assert_eq!(first.clusters, second.clusters);
    assert_eq!(first.result.curves, second.result.curves);
    assert_eq!(first.result.scores, second.result.scores);
    let other_seed = RunConfig { seed: 1, ..config };
    let third = train_run(&other_seed, data, &mut |_, _, _, _| {}).unwrap();
    assert_ne!(first.latents, third.latents);
}

#[test]
fn a_diverging_run_ends_with_a_status_not_a_crash() {
    let data = fixture_data();
    let config = RunConfig {
        learning_rate: 10.0,
        max_epochs: 60,
        ..short_config(Architecture::Vae)
    };
    let outputs = train_run(&config, data, &mut |_, _, _, _| {}).unwrap();
    assert_eq!(outputs.result.status, RunStatus::Diverged);
    let epoch = outputs.result.diverged_epoch.unwrap();
    assert!((1..=60).contains(&epoch));
    assert!(outputs.result.scores.is_none() && outputs.latents.is_none());
    let directory = tempfile::tempdir().unwrap();
    write_outputs(directory.path(), &outputs, data).unwrap();
    let written: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(directory.path().join("result.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(written["status"], "diverged");
    assert!(!directory.path().join("latents.npy").exists());
}

#[test]
fn cvae_without_its_condition_column_is_a_clear_error() {
    let data = fixture_data();
    let config = RunConfig {
        condition: Some("mood".to_owned()),
        ..short_config(Architecture::Cvae)
    };
    let error = train_run(&config, data, &mut |_, _, _, _| {}).unwrap_err();
    assert_eq!(
        error.to_string(),
        "invalid run config: condition: the dataset has no label column 'mood'"
    );
}

#[test]
fn outputs_are_written_and_the_shipped_configs_are_valid() {
    let data = fixture_data();
    let outputs = train_run(&short_config(Architecture::Ae), data, &mut |_, _, _, _| {}).unwrap();
    let directory = tempfile::tempdir().unwrap();
    write_outputs(directory.path(), &outputs, data).unwrap();
    for file in ["result.json", "latents.npy", "clusters.txt", "model.ot"] {
        assert!(directory.path().join(file).is_file(), "{file}");
    }
    let clusters = std::fs::read_to_string(directory.path().join("clusters.txt")).unwrap();
    assert_eq!(clusters.lines().count(), 48);
    assert!(clusters.starts_with(&format!("{}\t", data.ids[0])));

    let runs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/runs");
    let mut seen = Vec::new();
    for architecture in Architecture::ALL {
        let path: PathBuf = runs.join(format!("{}.json", architecture.name()));
        let config = RunConfig::from_file(&path).unwrap();
        assert_eq!(config.architecture, architecture, "{}", path.display());
        seen.push(architecture);
    }
    assert_eq!(seen.len(), 7);
    // The other shipped configs (the fixed-length AE recipe of
    // docs/features.md) parse too.
    for entry in std::fs::read_dir(&runs).unwrap() {
        let path = entry.unwrap().path();
        RunConfig::from_file(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    }
    let recipe = RunConfig::from_file(&runs.join("ae_fixed_length.json")).unwrap();
    assert_eq!(recipe.validation_fraction.to_bits(), 0.0_f64.to_bits());
    assert_eq!(recipe.min_epochs, recipe.max_epochs);
}

#[test]
fn every_clustering_algorithm_clusters_the_latents_into_k_groups() {
    let data = fixture_data();
    // k-means is what every other test clusters with.
    let cases = [
        (ClusteringAlgorithm::Agglomerative, CovarianceType::Full),
        (ClusteringAlgorithm::Gmm, CovarianceType::Full),
        (ClusteringAlgorithm::Gmm, CovarianceType::Diag),
    ];
    for (algorithm, covariance) in cases {
        // Trained as the shipped fixture config does (fixtures/runs/vae.json).
        let mut config = short_config(Architecture::Vae);
        config.max_epochs = 150;
        config.min_epochs = 60;
        config.patience = 20;
        config.clustering.algorithm = algorithm;
        config.clustering.covariance = covariance;
        let outputs = train_run(&config, data, &mut |_, _, _, _| {}).unwrap();
        let clusters = outputs.clusters.unwrap();
        let distinct: std::collections::BTreeSet<usize> = clusters.iter().copied().collect();
        assert_eq!(distinct.len(), 4, "{algorithm:?} {covariance:?}");
        let scores = outputs.result.scores.unwrap();
        assert!(scores.silhouette.is_some() && scores.ari.is_some());
        // Genre is learnable from the fixture's audio and lyrics: every
        // algorithm finds clusters well above chance (ARI 0).
        assert!(
            scores.ari.unwrap() > 0.2,
            "{algorithm:?} {covariance:?}: {scores:?}"
        );
    }
}

#[test]
fn activations_and_a_bounded_code_change_the_model() {
    let base = short_config(Architecture::Ae);
    let mut latents = Vec::new();
    for activation in Activation::ALL {
        let config = RunConfig {
            activation,
            ..base.clone()
        };
        let outputs = train_run(&config, fixture_data(), &mut |_, _, _, _| {}).unwrap();
        assert_eq!(
            outputs.result.status,
            RunStatus::Completed,
            "{activation:?}"
        );
        latents.push(outputs.latents.unwrap());
    }
    assert_ne!(latents[0], latents[1], "tanh differs from relu");
    assert_ne!(latents[0], latents[2], "elu differs from relu");
    let bounded = RunConfig {
        bounded_code: true,
        activation: Activation::Tanh,
        ..base
    };
    let outputs = train_run(&bounded, fixture_data(), &mut |_, _, _, _| {}).unwrap();
    let codes = outputs.latents.unwrap();
    assert!(
        codes.iter().all(|value| value.abs() < 1.0),
        "a tanh code stays inside (-1, 1)"
    );
    assert!(codes.iter().any(|value| value.abs() > 0.01));
}

#[test]
fn plateau_decays_lower_the_learning_rate_instead_of_stopping() {
    // A tolerance no epoch can meet: every epoch after the first is a
    // plateau epoch, so with patience 3 a plateau is seen at epoch 4.
    let stopping = RunConfig {
        max_epochs: 40,
        patience: 3,
        tolerance: 10.0,
        ..short_config(Architecture::Vae)
    };
    let first = train_run(&stopping, fixture_data(), &mut |_, _, _, _| {}).unwrap();
    assert_eq!(first.result.epochs_run, 4, "the first plateau ends the run");
    assert!(first.result.plateau_decay_epochs.is_empty());
    let decaying = RunConfig {
        plateau_decays: 2,
        ..stopping
    };
    let second = train_run(&decaying, fixture_data(), &mut |_, _, _, _| {}).unwrap();
    assert_eq!(second.result.plateau_decay_epochs, vec![4, 7]);
    assert_eq!(second.result.epochs_run, 10, "the third plateau ends it");
    assert_eq!(
        second.result.curves.watched(),
        &second.result.curves.validation_loss[..]
    );
    // The converged epoch is the curve's (`songvae_run::result::converged_epoch`),
    // not where early stopping ended the run.
    assert_eq!(
        second.result.converged_epoch,
        songvae_run::result::converged_epoch(
            &second.result.curves.validation_loss,
            0,
            decaying.tolerance
        )
    );
    // A tolerance of 10 (1000%) is more than any run improves: by that
    // measure it did not learn, so it has no converged epoch.
    assert_eq!(second.result.converged_epoch, None);
    // The first four epochs are the same run; after the decay the steps differ.
    assert_eq!(
        first.result.curves.train_loss[..4],
        second.result.curves.train_loss[..4]
    );
}

#[test]
fn with_no_tracks_held_out_every_track_trains_and_the_training_loss_is_watched() {
    for architecture in Architecture::ALL {
        let config = RunConfig {
            validation_fraction: 0.0,
            ..short_config(architecture)
        };
        let outputs = train_run(&config, fixture_data(), &mut |_, _, _, _| {}).unwrap();
        let result = &outputs.result;
        let name = architecture.name();
        assert_eq!(result.status, RunStatus::Completed, "{name}");
        assert_eq!(
            (result.train_tracks, result.validation_tracks),
            (48, 0),
            "{name}"
        );
        assert!(result.curves.validation_loss.is_empty(), "{name}");
        assert_eq!(result.final_validation_loss, None, "{name}");
        assert!(!result.curves.train_loss.is_empty(), "{name}");
        assert_eq!(
            result.curves.watched(),
            &result.curves.train_loss[..],
            "{name}"
        );
        assert_eq!(outputs.latents.as_ref().unwrap().nrows(), 48, "{name}");
        assert!(result.scores.is_some(), "{name}");
    }
    // Early stopping watches the training loss: a tolerance no epoch can
    // meet ends the run at the first plateau, as it does with a validation
    // split (`plateau_decays_lower_the_learning_rate_instead_of_stopping`).
    let stopping = RunConfig {
        validation_fraction: 0.0,
        max_epochs: 40,
        patience: 3,
        tolerance: 10.0,
        ..short_config(Architecture::Vae)
    };
    let stopped = train_run(&stopping, fixture_data(), &mut |_, _, _, _| {}).unwrap();
    assert_eq!(stopped.result.epochs_run, 4);
    assert_eq!(
        stopped.result.converged_epoch,
        songvae_run::result::converged_epoch(&stopped.result.curves.train_loss, 0, 10.0)
    );
}
