//! Reading the stored scikit-learn reference values, shared by the
//! reference tests.

use ndarray::Array2;
use serde_json::Value;

/// `fixtures/metrics/FILE`: `reference.json` (made by `make_reference.py`)
/// or `clustering_reference.json` (made by `make_clustering_reference.py`).
pub fn reference(file: &str) -> Value {
    let path = format!(
        "{}/../../fixtures/metrics/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("fixtures/metrics/{file} is committed: {error}"));
    serde_json::from_str(&text).unwrap_or_else(|error| panic!("{file} is valid JSON: {error}"))
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
