//! Every score against scikit-learn 1.9.1 reference values
//! (`fixtures/metrics/reference.json`, made by `make_reference.py`).
//! Agreement: relative error at most 1e-9.

use serde_json::Value;
use songvae_metrics::external::{adjusted_rand_score, normalized_mutual_info_score, purity_score};
use songvae_metrics::internal::{calinski_harabasz_score, davies_bouldin_score};
use songvae_metrics::labels::encode_labels;
use songvae_metrics::silhouette::silhouette_score;

mod common;
use common::{matrix, reference};

const RELATIVE_TOLERANCE: f64 = 1e-9;

/// Labels as text whatever their JSON type, then encoded like scikit-learn.
fn label_ids(value: &Value) -> Vec<usize> {
    let mut texts = Vec::new();
    let mut all_integers = true;
    for entry in value.as_array().expect("labels array") {
        match entry {
            Value::String(text) => {
                all_integers = false;
                texts.push(text.clone());
            }
            other => texts.push(other.to_string()),
        }
    }
    if all_integers {
        // Integers: keep their numeric order (the partition is what matters,
        // but this also exercises non-dense ids).
        let mut ids = Vec::new();
        for entry in value.as_array().expect("labels array") {
            ids.push(usize::try_from(entry.as_u64().expect("non-negative label")).expect("fits"));
        }
        return ids;
    }
    encode_labels(&texts).ids
}

fn assert_close(got: f64, want: f64, what: &str) {
    if want == 0.0 {
        assert!(got.abs() <= 1e-15, "{what}: got {got}, want exactly 0");
    } else {
        let relative = (got - want).abs() / want.abs();
        assert!(
            relative <= RELATIVE_TOLERANCE,
            "{what}: got {got}, want {want}, relative error {relative:e}"
        );
    }
}

#[test]
fn internal_scores_match_scikit_learn() {
    let reference = reference("reference.json");
    let cases = reference["internal"].as_array().expect("internal cases");
    assert!(cases.len() >= 8);
    for case in cases {
        let name = case["name"].as_str().expect("name");
        let data = matrix(&case["data"]);
        let labels = label_ids(&case["labels"]);
        let silhouette = silhouette_score(data.view(), &labels).expect("valid input");
        assert_close(
            silhouette,
            case["silhouette"].as_f64().expect("number"),
            &format!("{name} silhouette"),
        );
        let davies_bouldin = davies_bouldin_score(data.view(), &labels).expect("valid input");
        assert_close(
            davies_bouldin,
            case["davies_bouldin"].as_f64().expect("number"),
            &format!("{name} davies_bouldin"),
        );
        let calinski = calinski_harabasz_score(data.view(), &labels).expect("valid input");
        assert_close(
            calinski,
            case["calinski_harabasz"].as_f64().expect("number"),
            &format!("{name} calinski_harabasz"),
        );
    }
}

#[test]
fn external_scores_match_scikit_learn() {
    let reference = reference("reference.json");
    let cases = reference["external"].as_array().expect("external cases");
    assert!(cases.len() >= 8);
    for case in cases {
        let name = case["name"].as_str().expect("name");
        let (labels_true, labels_pred) = if let Some(formula) = case.get("formula") {
            // labels_true = i % 7, labels_pred = (i / 3 + i % 5) % 13 (integer division).
            let n = usize::try_from(formula["n"].as_u64().expect("n")).expect("fits");
            assert_eq!(formula["labels_true"], "i % 7");
            assert_eq!(formula["labels_pred"], "(i / 3 + i % 5) % 13");
            let mut labels_true = Vec::with_capacity(n);
            let mut labels_pred = Vec::with_capacity(n);
            for i in 0..n {
                labels_true.push(i % 7);
                labels_pred.push((i / 3 + i % 5) % 13);
            }
            (labels_true, labels_pred)
        } else {
            (
                label_ids(&case["labels_true"]),
                label_ids(&case["labels_pred"]),
            )
        };
        let ari = adjusted_rand_score(&labels_true, &labels_pred).expect("same lengths");
        assert_close(
            ari,
            case["ari"].as_f64().expect("number"),
            &format!("{name} ari"),
        );
        let nmi = normalized_mutual_info_score(&labels_true, &labels_pred).expect("same lengths");
        assert_close(
            nmi,
            case["nmi"].as_f64().expect("number"),
            &format!("{name} nmi"),
        );
        let purity = purity_score(&labels_true, &labels_pred).expect("same lengths");
        assert_close(
            purity,
            case["purity"].as_f64().expect("number"),
            &format!("{name} purity"),
        );
    }
}
