//! Ward clustering and Gaussian mixtures against scikit-learn 1.9.1
//! (`fixtures/metrics/clustering_reference.json`, made by
//! `make_clustering_reference.py`).
//!
//! - Ward: the same labels (scikit-learn's numbering), the same merge tree
//!   and merge distances within 1e-9 relative.
//! - Gaussian mixture, from scikit-learn's own k-means labels: weights,
//!   means, covariances and lower bound within 1e-6 relative, the same
//!   iteration count and convergence flag, identical `predict` labels.
//! - Restarts: `n_init = 5` reaches scikit-learn's best lower bound on well
//!   separated blobs and is never worse than its own first run.

use ndarray::Array2;
use serde_json::Value;
use songvae_metrics::agglomerative::ward;
use songvae_metrics::gaussian_mixture::{
    CovarianceType, Covariances, GaussianMixtureConfig, gaussian_mixture,
    gaussian_mixture_from_labels,
};

mod common;
use common::{matrix, reference};

fn indices(value: &Value) -> Vec<usize> {
    let mut converted = Vec::new();
    for entry in value.as_array().expect("array") {
        converted.push(usize::try_from(entry.as_u64().expect("index")).expect("fits"));
    }
    converted
}

fn number(value: &Value) -> f64 {
    value.as_f64().expect("number")
}

/// `|got - want| / |want|`, or `|got|` when `want` is 0.
fn relative_error(got: f64, want: f64) -> f64 {
    if want == 0.0 {
        got.abs()
    } else {
        (got - want).abs() / want.abs()
    }
}

#[test]
fn ward_gives_scikit_learn_labels_tree_and_distances() {
    let reference = reference("clustering_reference.json");
    let cases = reference["ward"].as_array().expect("cases");
    assert!(cases.len() >= 10);
    for case in cases {
        let name = case["name"].as_str().expect("name");
        let data = matrix(&case["data"]);
        let n_clusters = usize::try_from(case["n_clusters"].as_u64().expect("k")).expect("fits");
        let fit = ward(data.view(), n_clusters).expect("valid input");
        assert_eq!(fit.labels, indices(&case["labels"]), "{name}: labels");
        let mut want_children = Vec::new();
        for pair in case["children"].as_array().expect("children") {
            let pair = indices(pair);
            want_children.push([pair[0], pair[1]]);
        }
        assert_eq!(fit.children, want_children, "{name}: children");
        let want_distances = case["distances"].as_array().expect("distances");
        assert_eq!(fit.distances.len(), want_distances.len(), "{name}");
        for (step, (&got, want)) in fit.distances.iter().zip(want_distances).enumerate() {
            let want = number(want);
            assert!(
                relative_error(got, want) <= 1e-9,
                "{name}: merge {step} distance {got} vs {want}"
            );
        }
    }
}

/// scikit-learn's defaults with the case's component count and covariance type.
fn mixture_config(case: &Value) -> GaussianMixtureConfig {
    GaussianMixtureConfig {
        n_components: usize::try_from(case["n_components"].as_u64().expect("k")).expect("fits"),
        covariance_type: match case["covariance_type"].as_str().expect("type") {
            "full" => CovarianceType::Full,
            "diag" => CovarianceType::Diag,
            other => panic!("unexpected covariance type {other}"),
        },
        ..GaussianMixtureConfig::default()
    }
}

/// Every entry of `got` within 1e-6 of `want`, relative to the largest
/// magnitude of `want` (near-zero covariances of uncorrelated features have
/// no meaningful relative error of their own).
fn assert_close(name: &str, what: &str, got: &Array2<f64>, want: &Array2<f64>) {
    assert_eq!(got.dim(), want.dim(), "{name}: {what} shape");
    let mut scale: f64 = 0.0;
    for &value in want {
        scale = scale.max(value.abs());
    }
    for (&got_value, &want_value) in got.iter().zip(want) {
        assert!(
            (got_value - want_value).abs() <= 1e-6 * want_value.abs().max(scale * 1e-3),
            "{name}: {what} {got_value} vs {want_value}"
        );
    }
}

#[test]
fn gaussian_mixture_from_the_same_kmeans_labels_matches_scikit_learn() {
    let reference = reference("clustering_reference.json");
    let cases = reference["gmm"].as_array().expect("cases");
    assert!(cases.len() >= 10);
    for case in cases {
        let name = case["name"].as_str().expect("name");
        let data = matrix(&case["data"]);
        let config = mixture_config(case);
        let initial = indices(&case["initial_labels"]);
        let fit = gaussian_mixture_from_labels(data.view(), &initial, &config).expect("valid");
        assert_eq!(
            fit.n_iter,
            usize::try_from(case["n_iter"].as_u64().expect("n_iter")).expect("fits"),
            "{name}: n_iter"
        );
        assert_eq!(
            fit.converged,
            case["converged"].as_bool().expect("converged"),
            "{name}: converged"
        );
        let want_bound = number(&case["lower_bound"]);
        assert!(
            relative_error(fit.lower_bound, want_bound) <= 1e-6,
            "{name}: lower bound {} vs {want_bound}",
            fit.lower_bound
        );
        for (&got, want) in fit
            .weights
            .iter()
            .zip(case["weights"].as_array().expect("weights"))
        {
            let want = number(want);
            assert!(
                relative_error(got, want) <= 1e-6,
                "{name}: weight {got} vs {want}"
            );
        }
        assert_close(name, "mean", &fit.means, &matrix(&case["means"]));
        match &fit.covariances {
            Covariances::Full(matrices) => {
                let wanted = case["covariances"].as_array().expect("covariances");
                assert_eq!(matrices.len(), wanted.len(), "{name}");
                for (got, want) in matrices.iter().zip(wanted) {
                    assert_close(name, "covariance", got, &matrix(want));
                }
            }
            Covariances::Diag(variances) => {
                assert_close(name, "variance", variances, &matrix(&case["covariances"]));
            }
        }
        let predicted = indices(&case["predicted"]);
        assert_eq!(fit.labels, predicted, "{name}: fit labels");
        assert_eq!(
            fit.predict(data.view()).expect("valid"),
            predicted,
            "{name}: predict"
        );
    }
}

#[test]
fn restarts_keep_the_best_lower_bound() {
    let reference = reference("clustering_reference.json");
    let cases = reference["gmm_restarts"].as_array().expect("cases");
    assert!(cases.len() >= 2);
    for case in cases {
        let name = case["name"].as_str().expect("name");
        let data = matrix(&case["data"]);
        let one = GaussianMixtureConfig {
            n_init: 1,
            seed: 7,
            ..mixture_config(case)
        };
        let five = GaussianMixtureConfig {
            n_init: 5,
            ..one.clone()
        };
        let first = gaussian_mixture(data.view(), &one).expect("valid");
        let best = gaussian_mixture(data.view(), &five).expect("valid");
        // The first of the five runs is the single run (same seed stream).
        assert!(best.lower_bound >= first.lower_bound, "{name}");
        let want = number(&case["lower_bound"]);
        assert!(
            relative_error(best.lower_bound, want) <= 1e-6,
            "{name}: best of 5 {} vs scikit-learn {want}",
            best.lower_bound
        );
        let again = gaussian_mixture(data.view(), &five).expect("valid");
        assert_eq!(best, again, "{name}: same seed, same fit");
    }
}
