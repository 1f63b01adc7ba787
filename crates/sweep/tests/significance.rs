//! The significance tests against scipy 1.17.1 on stored reference values
//! (`fixtures/significance/make_reference.py` wrote them).

use std::path::PathBuf;

use serde::Deserialize;
use songvae_sweep::significance::{
    Pairing, TestResult, compare, hedges_g, holm, paired_t_test, seeds_for_power, welch_t_test,
    wilcoxon,
};

#[derive(Deserialize)]
struct Reference {
    cases: Vec<Case>,
    holm: HolmCase,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    first: Vec<f64>,
    second: Vec<f64>,
    welch: Expected,
    hedges_g: f64,
    paired: Option<Expected>,
    wilcoxon: Option<Expected>,
}

#[derive(Deserialize)]
struct Expected {
    statistic: f64,
    p_value: f64,
}

#[derive(Deserialize)]
struct HolmCase {
    p_values: Vec<f64>,
    corrected: Vec<f64>,
}

fn reference() -> Reference {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/significance/reference.json");
    let text = std::fs::read_to_string(&path).expect("reference.json is readable");
    serde_json::from_str(&text).expect("reference.json parses")
}

fn assert_close(name: &str, what: &str, got: f64, want: f64) {
    let tolerance = 1e-9 * want.abs().max(1e-3);
    assert!(
        (got - want).abs() <= tolerance,
        "{name}: {what} is {got}, scipy {want}"
    );
}

fn assert_test(name: &str, what: &str, got: Option<TestResult>, want: &Expected) {
    let got = got.unwrap_or_else(|| panic!("{name}: no {what} result"));
    assert_close(
        name,
        &format!("{what} statistic"),
        got.statistic,
        want.statistic,
    );
    assert_close(name, &format!("{what} p"), got.p_value, want.p_value);
}

#[test]
fn every_test_matches_scipy() {
    let reference = reference();
    for case in &reference.cases {
        let name = &case.name;
        assert_test(
            name,
            "welch",
            welch_t_test(&case.first, &case.second),
            &case.welch,
        );
        assert_close(
            name,
            "hedges g",
            hedges_g(&case.first, &case.second).unwrap(),
            case.hedges_g,
        );
        if let Some(paired) = &case.paired {
            assert_test(
                name,
                "paired",
                paired_t_test(&case.first, &case.second),
                paired,
            );
        }
        if let Some(expected) = &case.wilcoxon {
            assert_test(
                name,
                "wilcoxon",
                wilcoxon(&case.first, &case.second),
                expected,
            );
        }
    }
}

#[test]
fn holm_matches_the_step_down_rule() {
    let reference = reference();
    let corrected = holm(&reference.holm.p_values);
    for (index, (got, want)) in corrected.iter().zip(&reference.holm.corrected).enumerate() {
        assert_close("holm", &format!("p {index}"), *got, *want);
    }
}

#[test]
fn rows_that_share_seeds_are_paired_and_the_family_is_corrected() {
    let best = [(0, 0.25), (1, 0.27), (2, 0.24), (3, 0.26), (4, 0.25)];
    let shared = [(0, 0.20), (1, 0.21), (2, 0.19), (3, 0.22), (4, 0.20)];
    let disjoint = [(10, 0.20), (11, 0.22), (12, 0.19)];
    let level = [(0, 0.25), (1, 0.26), (2, 0.25), (3, 0.25), (4, 0.26)];
    let comparisons = compare(&best, &[&shared, &disjoint, &level]);
    let paired = comparisons[0].unwrap();
    assert_eq!((paired.pairing, paired.seeds), (Pairing::Paired, 5));
    assert!(paired.wilcoxon.is_some());
    assert!(paired.significant(), "{paired:?}");
    let welch = comparisons[1].unwrap();
    assert_eq!((welch.pairing, welch.seeds), (Pairing::Welch, 8));
    assert!(welch.wilcoxon.is_none());
    let level = comparisons[2].unwrap();
    assert!(!level.significant(), "{level:?}");
    // Holm: the smallest p is multiplied by the family size.
    let mut raw: Vec<f64> = comparisons
        .iter()
        .map(|c| c.unwrap().t_test.p_value)
        .collect();
    raw.sort_by(f64::total_cmp);
    let smallest_corrected = comparisons
        .iter()
        .map(|c| c.unwrap().holm_p)
        .fold(f64::INFINITY, f64::min);
    assert!((smallest_corrected - (3.0 * raw[0]).min(1.0)).abs() < 1e-12);
}

#[test]
fn a_row_with_one_seed_has_no_test() {
    let best = [(0, 0.25), (1, 0.27), (2, 0.24)];
    let single = [(0, 0.20)];
    assert!(compare(&best, &[&single])[0].is_none());
}

#[test]
fn seeds_needed_grow_as_the_effect_shrinks() {
    // The exact power of the two-sample t-test at g = 0.5 (scipy's
    // noncentral t) is 0.795 at 63 seeds per row and 0.801 at 64.
    assert_eq!(seeds_for_power(0.5, 1), Some(64));
    // A huge effect still needs the minimum of 3 seeds.
    assert_eq!(seeds_for_power(10.0, 1), Some(3));
    assert!(seeds_for_power(0.5, 4).unwrap() > 64);
    assert!(seeds_for_power(-0.5, 1) == seeds_for_power(0.5, 1));
}
