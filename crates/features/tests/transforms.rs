//! Column transforms against scikit-learn 1.9.1 (`fixtures/transforms/reference.json`,
//! made by `fixtures/transforms/make_reference.py`).

use ndarray::Array2;
use serde::Deserialize;
use songvae_features::transform::{ColumnTransform, FittedTransform};

#[derive(Deserialize)]
struct Reference {
    sklearn_version: String,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    input: Vec<Vec<f64>>,
    standard: Vec<Vec<f64>>,
    yeo_johnson: Vec<Vec<f64>>,
    yeo_johnson_lambdas: Vec<f64>,
    quantile_normal: Vec<Vec<f64>>,
    robust: Vec<Vec<f64>>,
}

fn reference() -> Reference {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/transforms/reference.json"
    );
    let text = std::fs::read_to_string(path).expect("reference.json is committed");
    serde_json::from_str(&text).expect("reference.json parses")
}

fn matrix(rows: &[Vec<f64>]) -> Array2<f64> {
    let columns = rows[0].len();
    let mut values = Vec::new();
    for row in rows {
        values.extend_from_slice(row);
    }
    Array2::from_shape_vec((rows.len(), columns), values).expect("rectangular")
}

fn assert_close(
    case: &str,
    transform: ColumnTransform,
    ours: &Array2<f64>,
    theirs: &[Vec<f64>],
    tolerance: f64,
) {
    let expected = matrix(theirs);
    assert_eq!(ours.dim(), expected.dim(), "{case} {}", transform.name());
    let mut worst = (0.0f64, 0, 0);
    for ((row, column), value) in ours.indexed_iter() {
        let difference = (value - expected[[row, column]]).abs();
        if difference > worst.0 || difference.is_nan() {
            worst = (difference, row, column);
        }
    }
    assert!(
        worst.0 <= tolerance,
        "{case} {}: worst difference {:e} at row {}, column {} (ours {}, scikit-learn {})",
        transform.name(),
        worst.0,
        worst.1,
        worst.2,
        ours[[worst.1, worst.2]],
        expected[[worst.1, worst.2]]
    );
}

#[test]
fn every_transform_matches_scikit_learn() {
    let reference = reference();
    assert_eq!(reference.sklearn_version, "1.9.1");
    for case in &reference.cases {
        let input = matrix(&case.input);
        let expected = [
            (ColumnTransform::Standard, &case.standard, 1e-6),
            (ColumnTransform::YeoJohnson, &case.yeo_johnson, 1e-5),
            (ColumnTransform::QuantileNormal, &case.quantile_normal, 1e-6),
            (ColumnTransform::Robust, &case.robust, 1e-6),
        ];
        for (transform, theirs, tolerance) in expected {
            let fitted = transform.fit(input.view()).expect("fits");
            let ours = fitted.transform(input.view()).expect("applies");
            assert_close(&case.name, transform, &ours, theirs, tolerance);
        }
    }
}

#[test]
fn yeo_johnson_lambdas_match_scikit_learn() {
    for case in &reference().cases {
        let fitted = ColumnTransform::YeoJohnson
            .fit(matrix(&case.input).view())
            .expect("fits");
        let FittedTransform::YeoJohnson { lambdas, .. } = &fitted else {
            panic!("a Yeo-Johnson fit gives lambdas");
        };
        assert_eq!(lambdas.len(), case.yeo_johnson_lambdas.len());
        for (column, (ours, theirs)) in lambdas.iter().zip(&case.yeo_johnson_lambdas).enumerate() {
            let relative = (ours - theirs).abs() / theirs.abs().max(f64::MIN_POSITIVE);
            assert!(
                relative <= 1e-6,
                "{} column {column}: lambda {ours} vs scikit-learn {theirs}",
                case.name
            );
        }
    }
}

#[test]
fn constant_columns_become_zero_and_none_is_the_identity() {
    let mut input = Array2::from_shape_fn((12, 3), |(row, column)| (row * (column + 1)) as f64);
    input.column_mut(1).fill(-3.5);
    for transform in ColumnTransform::ALL {
        let output = transform
            .fit(input.view())
            .expect("fits")
            .transform(input.view())
            .expect("applies");
        if transform == ColumnTransform::None {
            assert_eq!(output, input);
            continue;
        }
        for value in output.column(1) {
            assert!(
                value.abs() < 1e-12,
                "{}: constant column gave {value}",
                transform.name()
            );
        }
    }
}

#[test]
fn a_fitted_transform_round_trips_through_json_and_applies_to_new_rows() {
    let input = matrix(&reference().cases[0].input);
    for transform in ColumnTransform::ALL {
        let fitted = transform.fit(input.view()).expect("fits");
        let json = serde_json::to_string(&fitted).expect("serialises");
        assert!(
            json.contains(&format!("\"transform\":\"{}\"", transform.name())),
            "{json:.80}"
        );
        let back: FittedTransform = serde_json::from_str(&json).expect("parses");
        assert_eq!(back, fitted);
        let first_rows = input.slice(ndarray::s![..5, ..]);
        let whole = fitted.transform(input.view()).expect("applies");
        let part = back.transform(first_rows).expect("applies to new rows");
        assert_eq!(part, whole.slice(ndarray::s![..5, ..]));
    }
}

#[test]
fn bad_input_is_an_error_naming_the_cell() {
    let mut input = Array2::from_elem((4, 2), 1.0);
    input[[2, 1]] = f64::NAN;
    let message = ColumnTransform::YeoJohnson
        .fit(input.view())
        .unwrap_err()
        .to_string();
    assert!(message.contains("row 2, column 1"), "{message}");
    let fitted = ColumnTransform::Standard
        .fit(Array2::from_elem((4, 2), 1.0).view())
        .expect("fits");
    let message = fitted
        .transform(Array2::from_elem((4, 3), 1.0).view())
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("3 columns, the transform was fitted on 2"),
        "{message}"
    );
    let empty = Array2::<f64>::zeros((0, 2));
    assert!(ColumnTransform::Robust.fit(empty.view()).is_err());
}
