//! The error type of every fallible function in this crate.

/// Why a score, a clustering or a decomposition could not be computed.
///
/// Every variant names the offending input so that a command-line caller can
/// print the message as is.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An input that must hold at least one sample or feature is empty.
    #[error("{what} is empty")]
    Empty {
        /// Which input was empty, e.g. "data" or "labels".
        what: &'static str,
    },
    /// Two inputs that must describe the same samples have different lengths.
    #[error("{what} has {got} entries but the data has {expected} rows")]
    LengthMismatch {
        /// Which input has the wrong length.
        what: &'static str,
        /// Its length.
        got: usize,
        /// The number of rows it must match.
        expected: usize,
    },
    /// scikit-learn's rule for internal scores: `1 < n_labels < n_samples`.
    #[error(
        "number of labels is {n_labels}; valid values are 2 to n_samples - 1 = {} (inclusive)",
        n_samples.saturating_sub(1)
    )]
    InvalidLabelCount {
        /// Number of distinct labels found.
        n_labels: usize,
        /// Number of samples.
        n_samples: usize,
    },
    /// A data value is NaN or infinite.
    #[error("non-finite value {value} at row {row}, column {column}")]
    NonFinite {
        /// Zero-based row of the value.
        row: usize,
        /// Zero-based column of the value.
        column: usize,
        /// The value itself (NaN, inf or -inf).
        value: f64,
    },
    /// A configuration value is outside its valid range.
    #[error("invalid {parameter} = {value}: {expected}")]
    InvalidParameter {
        /// Name of the parameter, as in the config struct.
        parameter: &'static str,
        /// The rejected value, printed.
        value: String,
        /// The valid range, in words.
        expected: String,
    },
    /// Given initial centres do not match the data or the cluster count.
    #[error(
        "initial centres have shape {rows} x {columns}, expected {expected_rows} x {expected_columns}"
    )]
    CentresShape {
        /// Rows of the given centres.
        rows: usize,
        /// Columns of the given centres.
        columns: usize,
        /// Required number of rows (the cluster count).
        expected_rows: usize,
        /// Required number of columns (the data's feature count).
        expected_columns: usize,
    },
    /// An input is larger than an algorithm with quadratic memory accepts.
    #[error("{what} accepts at most {limit} samples, got {n_samples}: {reason}")]
    TooManySamples {
        /// The algorithm, e.g. "ward clustering".
        what: &'static str,
        /// Number of samples given.
        n_samples: usize,
        /// The largest number accepted.
        limit: usize,
        /// Why, in words (the memory it would take).
        reason: String,
    },
    /// The Euclidean distance of two samples overflows to infinity.
    #[error("the distance between rows {first} and {second} is not finite (scale the data down)")]
    DistanceOverflow {
        /// Zero-based row of the first sample.
        first: usize,
        /// Zero-based row of the second sample.
        second: usize,
    },
    /// A mixture component's covariance is not positive definite.
    #[error(
        "component {component} has an ill-defined covariance (singleton or collapsed samples): use fewer components, a larger reg_covar or scaled data"
    )]
    IllDefinedCovariance {
        /// Zero-based index of the component.
        component: usize,
    },
}

/// This crate's result type.
pub type Result<T> = std::result::Result<T, Error>;

/// Checks that `data` has at least one row and one column, all finite.
pub fn check_data(data: ndarray::ArrayView2<'_, f64>) -> Result<()> {
    if data.nrows() == 0 {
        return Err(Error::Empty { what: "data" });
    }
    if data.ncols() == 0 {
        return Err(Error::Empty {
            what: "data columns",
        });
    }
    check_finite(data)
}

/// Checks that a number of clusters (or components), the setting
/// `parameter`, is between 1 and the number of samples.
pub fn check_cluster_count(parameter: &'static str, value: usize, n_samples: usize) -> Result<()> {
    if value == 0 || value > n_samples {
        return Err(Error::InvalidParameter {
            parameter,
            value: value.to_string(),
            expected: format!("between 1 and the number of samples ({n_samples})"),
        });
    }
    Ok(())
}

/// Checks that a count setting such as `max_iter` is at least 1.
pub fn check_at_least_one(parameter: &'static str, value: usize) -> Result<()> {
    if value == 0 {
        return Err(Error::InvalidParameter {
            parameter,
            value: "0".to_owned(),
            expected: "at least 1".to_owned(),
        });
    }
    Ok(())
}

/// Checks that a real setting such as `tol` is finite and not negative.
pub fn check_non_negative(parameter: &'static str, value: f64) -> Result<()> {
    if !(value.is_finite() && value >= 0.0) {
        return Err(Error::InvalidParameter {
            parameter,
            value: value.to_string(),
            expected: "a finite number >= 0".to_owned(),
        });
    }
    Ok(())
}

/// Checks that every value of `data` is finite, naming the first bad one.
pub fn check_finite(data: ndarray::ArrayView2<'_, f64>) -> Result<()> {
    for (row, values) in data.outer_iter().enumerate() {
        for (column, &value) in values.iter().enumerate() {
            if !value.is_finite() {
                return Err(Error::NonFinite { row, column, value });
            }
        }
    }
    Ok(())
}
