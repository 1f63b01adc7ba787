//! MIG and active units against the reference implementation in
//! `fixtures/metrics/make_reference.py` (numpy binning + scikit-learn
//! `mutual_info_score`, as in `disentanglement_lib`), to 1e-9.

use songvae_metrics::disentanglement::{active_units, mutual_information_gap};

mod common;
use common::{matrix, reference};

fn assert_close(got: f64, want: f64, what: &str) {
    let error = (got - want).abs() / want.abs();
    assert!(
        error <= 1e-9,
        "{what}: got {got}, want {want}, relative error {error:e}"
    );
}

#[test]
fn mig_and_active_units_match_the_reference() {
    let reference = reference("reference.json");
    let cases = reference["mig"].as_array().expect("cases");
    assert!(!cases.is_empty());
    for case in cases {
        let name = case["name"].as_str().expect("name");
        let latents = matrix(&case["latents"]);
        let mut factors = Vec::new();
        for factor in case["factors"].as_array().expect("factors") {
            let mut labels = Vec::new();
            for label in factor.as_array().expect("labels") {
                labels.push(usize::try_from(label.as_u64().expect("label")).expect("fits"));
            }
            factors.push(labels);
        }
        let mig = mutual_information_gap(latents.view(), &factors).expect("valid input");
        assert_close(
            mig.mig,
            case["mig"].as_f64().expect("mig"),
            &format!("{name} mig"),
        );
        for (got, want) in mig.gaps.iter().zip(case["gaps"].as_array().expect("gaps")) {
            assert_close(*got, want.as_f64().expect("gap"), &format!("{name} gap"));
        }
        let units = active_units(latents.view()).expect("valid input");
        assert_eq!(
            units.count as u64,
            case["active_units"].as_u64().expect("count"),
            "{name}: active units"
        );
        for (got, want) in units
            .variances
            .iter()
            .zip(case["latent_variances"].as_array().expect("variances"))
        {
            assert_close(
                *got,
                want.as_f64().expect("variance"),
                &format!("{name} variance"),
            );
        }
    }
}
