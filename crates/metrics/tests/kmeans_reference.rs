//! k-means against scikit-learn 1.9.1 (`fixtures/metrics/reference.json`):
//! from the same initial centres the same labels, centres and inertia; from
//! k-means++ an inertia within 1 % of scikit-learn's best of 10.

use songvae_metrics::kmeans::{KMeansConfig, kmeans, kmeans_from_centres};

mod common;
use common::{matrix, reference};

fn relative_error(got: f64, want: f64) -> f64 {
    (got - want).abs() / want.abs()
}

#[test]
fn same_initial_centres_give_scikit_learn_labels_and_inertia() {
    let reference = reference("reference.json");
    let cases = reference["kmeans_from_centres"].as_array().expect("cases");
    assert!(cases.len() >= 5);
    for case in cases {
        let name = case["name"].as_str().expect("name");
        let data = matrix(&case["data"]);
        let initial = matrix(&case["initial_centres"]);
        let fit = kmeans_from_centres(data.view(), initial.view(), 300, 1e-4).expect("valid input");
        let mut expected_labels = Vec::new();
        for label in case["labels"].as_array().expect("labels") {
            expected_labels.push(usize::try_from(label.as_u64().expect("label")).expect("fits"));
        }
        assert_eq!(fit.labels, expected_labels, "{name}: labels");
        let want_inertia = case["inertia"].as_f64().expect("inertia");
        assert!(
            relative_error(fit.inertia, want_inertia) <= 1e-9,
            "{name}: inertia {} vs {want_inertia}",
            fit.inertia
        );
        assert_eq!(
            fit.n_iter,
            usize::try_from(case["n_iter"].as_u64().expect("n_iter")).expect("fits"),
            "{name}: n_iter"
        );
        let want_centres = matrix(&case["centres"]);
        for (got, want) in fit.centres.iter().zip(&want_centres) {
            assert!(
                (got - want).abs() <= 1e-9 * want.abs().max(1.0),
                "{name}: centre {got} vs {want}"
            );
        }
    }
}

#[test]
fn kmeans_plusplus_is_within_one_percent_of_scikit_learn_best_of_ten() {
    let reference = reference("reference.json");
    let cases = reference["kmeans_plusplus"].as_array().expect("cases");
    assert!(cases.len() >= 4);
    for case in cases {
        let name = case["name"].as_str().expect("name");
        let data = matrix(&case["data"]);
        let config = KMeansConfig {
            n_clusters: usize::try_from(case["n_clusters"].as_u64().expect("k")).expect("fits"),
            n_init: 10,
            seed: 0,
            ..KMeansConfig::default()
        };
        let fit = kmeans(data.view(), &config).expect("valid input");
        let want = case["inertia"].as_f64().expect("inertia");
        assert!(
            fit.inertia <= want * 1.01,
            "{name}: inertia {} vs scikit-learn {want}",
            fit.inertia
        );
        // Determinism: the same seed gives the same result.
        let again = kmeans(data.view(), &config).expect("valid input");
        assert_eq!(fit, again, "{name}: same seed, same fit");
    }
}
