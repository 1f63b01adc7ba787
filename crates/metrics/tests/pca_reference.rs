//! PCA against scikit-learn 1.9.1 (`fixtures/metrics/reference.json`):
//! components (with scikit-learn's sign convention), explained variance and
//! ratio, and the transformed data, to 1e-9.

use serde_json::Value;
use songvae_metrics::pca::Pca;

mod common;
use common::{matrix, reference};

fn vector(value: &Value) -> Vec<f64> {
    value
        .as_array()
        .expect("array")
        .iter()
        .map(|entry| entry.as_f64().expect("number"))
        .collect()
}

/// Relative error against `scale` (the magnitude the quantity is measured on).
fn assert_close(got: f64, want: f64, scale: f64, what: &str) {
    let error = (got - want).abs() / scale;
    assert!(
        error <= 1e-9,
        "{what}: got {got}, want {want}, error {error:e}"
    );
}

#[test]
fn pca_matches_scikit_learn() {
    let reference = reference("reference.json");
    let cases = reference["pca"].as_array().expect("cases");
    assert!(cases.len() >= 3);
    for case in cases {
        let name = case["name"].as_str().expect("name");
        let data = matrix(&case["data"]);
        let n_components =
            usize::try_from(case["n_components"].as_u64().expect("n")).expect("fits");
        let pca = Pca::fit(data.view(), n_components).expect("valid input");
        for (got, want) in pca.mean.iter().zip(vector(&case["mean"])) {
            assert_close(*got, want, want.abs().max(1.0), &format!("{name} mean"));
        }
        // Components are unit vectors: entries are compared on that scale.
        let want_components = matrix(&case["components"]);
        assert_eq!(pca.components.dim(), want_components.dim(), "{name}: shape");
        for (got, want) in pca.components.iter().zip(&want_components) {
            assert_close(*got, *want, 1.0, &format!("{name} component"));
        }
        for (got, want) in pca
            .explained_variance
            .iter()
            .zip(vector(&case["explained_variance"]))
        {
            assert_close(
                *got,
                want,
                want.abs(),
                &format!("{name} explained variance"),
            );
        }
        for (got, want) in pca
            .explained_variance_ratio
            .iter()
            .zip(vector(&case["explained_variance_ratio"]))
        {
            assert_close(
                *got,
                want,
                want.abs(),
                &format!("{name} explained variance ratio"),
            );
        }
        let transformed = pca.transform(data.view()).expect("same width");
        let want_transformed = matrix(&case["transformed"]);
        let scale = want_transformed
            .iter()
            .fold(0.0_f64, |largest, value| largest.max(value.abs()));
        for (got, want) in transformed.iter().zip(&want_transformed) {
            assert_close(*got, *want, scale, &format!("{name} transformed"));
        }
    }
}
