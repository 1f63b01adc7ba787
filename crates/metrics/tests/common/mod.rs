//! Reading the stored scikit-learn reference values, shared by the
//! reference tests.

use ndarray::Array2;
use serde_json::Value;

/// `fixtures/metrics/reference.json`, made by `make_reference.py`.
pub fn reference() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/metrics/reference.json"
    );
    let text = std::fs::read_to_string(path).expect("fixtures/metrics/reference.json is committed");
    serde_json::from_str(&text).expect("reference.json is valid JSON")
}

/// A JSON array of rows as a matrix.
pub fn matrix(value: &Value) -> Array2<f64> {
    let rows = value.as_array().expect("matrix is an array of rows");
    let n_columns = rows[0].as_array().expect("row").len();
    let mut flat = Vec::with_capacity(rows.len() * n_columns);
    for row in rows {
        for entry in row.as_array().expect("row") {
            flat.push(entry.as_f64().expect("number"));
        }
    }
    Array2::from_shape_vec((rows.len(), n_columns), flat).expect("rectangular")
}
