//! Spec parsing, validation and expansion: specs in, plans (or errors naming
//! the offending key) out.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

mod common;

use common::assert_snapshot;
use songvae_metrics::gaussian_mixture::CovarianceType;
use songvae_run::machine::Kernels;
use songvae_sweep::spec::{Job, Mode, Plan, load_plan};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/sweeps")
}

/// The plan as a snapshot: every point (id, label, what it runs) and every
/// axis row, one per line.
fn snapshot(plan: &Plan) -> String {
    let mut text = format!("seeds {:?}\n", plan.seeds);
    for point in &plan.points {
        let what = match &point.job {
            Job::Train(config) => format!(
                "train {} latent {} lr {} beta {}",
                config.architecture.name(),
                config.latent_dim,
                config.learning_rate,
                config.beta
            ),
            Job::Baseline {
                kind, components, ..
            } => format!("baseline {kind:?} components {components:?}"),
        };
        let _ = writeln!(text, "point {} {} | {what}", point.id, point.label);
    }
    for axis in &plan.axes {
        let _ = writeln!(text, "axis {} primary {}", axis.name, axis.primary.name());
        for entry in &axis.entries {
            let _ = writeln!(text, "  {} -> {}", entry.label, entry.point);
        }
    }
    text
}

/// Compares with `fixtures/sweeps/snapshots/<name>`.
fn assert_plan_snapshot(name: &str, actual: &str) {
    assert_snapshot(&fixtures().join("snapshots").join(name), actual);
}

#[test]
fn grid_expands_to_every_combination_and_baselines_once() {
    let plan = load_plan(&fixtures().join("grid.json")).unwrap();
    assert_eq!(plan.mode, Mode::Grid);
    // 2 latent x 2 learning rates x 2 trained models, plus one baseline.
    assert_eq!(plan.points.len(), 9);
    assert_eq!(plan.seeds, vec![7, 8]);
    assert_eq!(plan.axes.len(), 1);
    assert_eq!(plan.axes[0].entries.len(), 9);
    assert_plan_snapshot("grid.plan.txt", &snapshot(&plan));
}

#[test]
fn one_factor_study_shares_the_base_point_between_axes() {
    let plan = load_plan(&fixtures().join("ablation.json")).unwrap();
    // 6 + 5 + 5 + 7 + 5 + 13 + 5 + 8 + 6 = 60 rows; the base point appears
    // in all nine axes (as "VAE (FC)", "yeo_johnson (default): VAE",
    // "fused: VAE" and "word (default): VAE" too), PCA+KMeans in four and
    // the beta-VAE (beta 4) in two, so 60 - 8 - 3 - 1 = 48.
    assert_eq!(plan.points.len(), 48);
    // Feature sets: the base, audio transforms standard and quantile_normal,
    // audio only, lyrics only, first-eigenvalue weights, char_wb lyrics.
    assert_eq!(plan.feature_sets.len(), 7);
    let base_id = &plan.axes[0].entries[2].point;
    for axis in &plan.axes {
        let base_rows = axis
            .entries
            .iter()
            .filter(|entry| &entry.point == base_id)
            .count();
        assert_eq!(base_rows, 1, "axis {} holds the base point once", axis.name);
    }
    assert_eq!(plan.point(base_id).unwrap().label, "base");
    assert_eq!(plan.seeds, vec![0, 1, 2, 3, 4]);
    assert_plan_snapshot("ablation.plan.txt", &snapshot(&plan));
}

#[test]
fn point_ids_do_not_depend_on_labels_or_axis_order() {
    let directory = tempfile::tempdir().unwrap();
    let first = r#"{"name": "a", "dataset": "d.json", "axes": [
        {"name": "x", "parameter": "latent_dim", "values": [4, 8]},
        {"name": "y", "parameter": "beta", "values": [2]}]}"#;
    let second = r#"{"name": "b", "dataset": "d.json", "axes": [
        {"name": "y2", "parameter": "beta", "values": [2]},
        {"name": "x2", "variants": [{"label": "four", "set": {"latent_dim": 4}},
                                    {"label": "eight", "set": {"latent_dim": 8}}]}]}"#;
    let mut ids = Vec::new();
    for (name, text) in [("first.json", first), ("second.json", second)] {
        let path = directory.path().join(name);
        std::fs::write(&path, text).unwrap();
        let plan = load_plan(&path).unwrap();
        let mut plan_ids: Vec<String> = plan.points.iter().map(|point| point.id.clone()).collect();
        plan_ids.sort();
        ids.push(plan_ids);
    }
    assert_eq!(ids[0], ids[1]);
}

/// `fixtures/sweeps/invalid_specs.json`: specs, each with a part of the
/// one-line error it must fail with (the key it names and why).
#[test]
fn invalid_specs_fail_naming_the_key() {
    let text = std::fs::read_to_string(fixtures().join("invalid_specs.json")).unwrap();
    let cases: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    assert!(cases.len() >= 20);
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("spec.json");
    for case in cases {
        let expected = case["error"].as_str().unwrap();
        std::fs::write(&path, case["spec"].to_string()).unwrap();
        let message = load_plan(&path).unwrap_err().to_string();
        assert!(
            message.contains(expected),
            "spec {}\n  expected an error containing: {expected}\n  got: {message}",
            case["spec"]
        );
        assert!(
            !message.ends_with('.') && !message.contains('\n'),
            "{message}"
        );
    }
}

#[test]
fn a_missing_spec_names_the_file() {
    let message = load_plan(Path::new("no/such/spec.json"))
        .unwrap_err()
        .to_string();
    assert!(message.contains("no/such/spec.json"), "{message}");
}

#[test]
fn several_clustering_algorithms_multiply_every_point() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("spec.json");
    std::fs::write(
        &path,
        r#"{"name": "c", "dataset": "d.json",
            "clustering": {"algorithms": ["kmeans", "agglomerative", "gmm"], "covariance": "diag"},
            "axes": [{"name": "latent_dim", "parameter": "latent_dim", "values": [4, 8]}]}"#,
    )
    .unwrap();
    let plan = load_plan(&path).unwrap();
    assert_eq!(plan.points.len(), 6);
    let labels: Vec<&str> = plan.axes[0]
        .entries
        .iter()
        .map(|entry| entry.label.as_str())
        .collect();
    assert_eq!(
        labels,
        [
            "4 (kmeans)",
            "4 (agglomerative)",
            "4 (gmm)",
            "8 (kmeans)",
            "8 (agglomerative)",
            "8 (gmm)"
        ]
    );
    for point in &plan.points {
        let Job::Train(config) = &point.job else {
            panic!("only trained points here");
        };
        let diagonal = config.clustering.covariance == CovarianceType::Diag;
        assert_eq!(diagonal, point.label.ends_with("(gmm)"), "{}", point.label);
    }
}

#[test]
fn clustering_draws_reach_every_point_and_its_id_only_when_not_one() {
    let directory = tempfile::tempdir().unwrap();
    let plan_with = |clustering: &str| {
        let path = directory.path().join("spec.json");
        std::fs::write(
            &path,
            format!(
                r#"{{"name": "c", "dataset": "d.json", "clustering": {clustering},
                    "axes": [{{"name": "models", "variants": [
                      {{"label": "VAE", "set": {{}}}},
                      {{"label": "PCA+KMeans", "baseline": "pca_kmeans"}}]}}]}}"#
            ),
        )
        .unwrap();
        load_plan(&path).unwrap()
    };
    let unset = plan_with("{}");
    let one = plan_with(r#"{"draws": 1}"#);
    let ten = plan_with(r#"{"draws": 10}"#);
    for ((unset, one), ten) in unset.points.iter().zip(&one.points).zip(&ten.points) {
        assert_eq!(
            unset.id, one.id,
            "draws 1 is the default: ids written before it stay"
        );
        assert_ne!(
            one.id, ten.id,
            "averaged scores are other numbers: another id"
        );
        let draws = match &ten.job {
            Job::Train(config) => config.clustering.draws,
            Job::Baseline { clustering, .. } => clustering.draws,
        };
        assert_eq!(draws, 10, "{}", ten.label);
    }
}

#[test]
fn feature_axes_expand_share_feature_sets_and_get_distinct_ids() {
    let spec = r#"{
      "name": "features",
      "dataset": "d.json",
      "axes": [
        {"name": "transform", "parameter": "features.fusion.audio_transform",
         "values": ["standard", "yeo_johnson"], "baselines": ["pca_kmeans"]},
        {"name": "modality", "variants": [
          {"label": "audio: VAE", "set": {"features.modalities": ["audio"]}},
          {"label": "audio: PCA+KMeans", "baseline": "pca_kmeans", "set": {"features.modalities": ["audio"]}},
          {"label": "fused: VAE", "set": {}},
          {"label": "fused: PCA+KMeans", "baseline": "pca_kmeans"}
        ]}
      ]
    }"#;
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("spec.json");
    std::fs::write(&path, spec).unwrap();
    let plan = load_plan(&path).unwrap();
    // Feature sets: the base (yeo_johnson, every modality), standard, audio only.
    assert_eq!(plan.feature_sets.len(), 3);
    assert_eq!(plan.feature_sets[0].settings, plan.features);
    let transform_rows: Vec<(&str, &str)> = plan.axes[0]
        .entries
        .iter()
        .map(|entry| (entry.label.as_str(), entry.point.as_str()))
        .collect();
    let labels: Vec<&str> = transform_rows.iter().map(|(label, _)| *label).collect();
    assert_eq!(
        labels,
        [
            "standard",
            "standard: PCA+KMeans",
            "yeo_johnson",
            "yeo_johnson: PCA+KMeans"
        ]
    );
    // yeo_johnson is the default transform: that row is the base point and
    // the fused rows of the other axis are the same points.
    let modality = &plan.axes[1].entries;
    assert_eq!(transform_rows[2].1, modality[2].point);
    assert_eq!(transform_rows[3].1, modality[3].point);
    assert_eq!(plan.point(transform_rows[2].1).unwrap().label, "base");
    // Same job on other features: other ids, other feature sets.
    let mut ids = Vec::new();
    for point in &plan.points {
        assert!(!ids.contains(&point.id), "{} repeats", point.id);
        ids.push(point.id.clone());
        assert!(
            plan.feature_sets.iter().any(|set| set.id == point.features),
            "{} uses a listed feature set",
            point.label
        );
    }
    assert_eq!(plan.points.len(), 6);
    let standard = plan.point(transform_rows[0].1).unwrap();
    let base = plan.point(transform_rows[2].1).unwrap();
    assert_eq!(standard.job, base.job);
    assert_ne!(standard.features, base.features);
    let audio_only = plan.point(&modality[0].point).unwrap();
    assert_eq!(
        plan.features_of(audio_only).modalities,
        Some(vec![songvae_features::fusion::Modality::Audio])
    );
    let audio_baseline = plan.point(&modality[1].point).unwrap();
    assert_eq!(audio_baseline.features, audio_only.features);
    assert!(matches!(audio_baseline.job, Job::Baseline { .. }));
}

#[test]
fn point_ids_are_an_explicit_projection_that_keeps_earlier_ids() {
    use songvae_run::config::RunConfig;
    use songvae_run::device::DeviceChoice;
    use songvae_run::spec::Activation;
    use songvae_sweep::spec::{Job, point_id, point_identity};

    let base = RunConfig::default();
    // The text ids were hashed from before the projection existed: the
    // job's compact JSON, a newline, the feature set.
    let job = Job::Train(base.clone());
    let historical = format!("{}\nabc", serde_json::to_string(&job).unwrap());
    assert_eq!(point_identity(&job, "abc"), historical);
    // Keys added later appear only away from their defaults.
    assert!(!historical.contains("activation") && !historical.contains("plateau_decays"));
    let tanh = Job::Train(RunConfig {
        activation: Activation::Tanh,
        ..base.clone()
    });
    assert!(point_identity(&tanh, "abc").contains("\"activation\":\"tanh\""));
    assert_ne!(point_id(&tanh, "abc"), point_id(&job, "abc"));
    // Seed and device are per run, not per point.
    let on_gpu = Job::Train(RunConfig {
        seed: 7,
        device: DeviceChoice::Cuda(1),
        ..base
    });
    assert_eq!(point_id(&on_gpu, "abc"), point_id(&job, "abc"));
    assert_ne!(point_id(&job, "abc"), point_id(&job, "abd"));
}

#[test]
fn kernels_from_the_command_line_reach_every_trained_point_and_its_id() {
    let path = fixtures().join("ablation.json");
    let native = load_plan(&path).unwrap();
    let strict = songvae_sweep::spec::load_plan_with_base(
        &path,
        &[("kernels", serde_json::Value::from("strict"))],
    )
    .unwrap();
    assert_eq!(native.points.len(), strict.points.len());
    for (before, after) in native.points.iter().zip(&strict.points) {
        match (&before.job, &after.job) {
            (Job::Train(native_config), Job::Train(strict_config)) => {
                assert_eq!(native_config.kernels, Kernels::Native);
                assert_eq!(strict_config.kernels, Kernels::Strict);
                assert_ne!(before.id, after.id, "{}", before.label);
            }
            _ => assert_eq!(before.id, after.id, "a baseline does not train"),
        }
    }
}
