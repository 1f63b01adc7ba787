//! Column transforms of numeric feature blocks, at scikit-learn 1.9.1 parity.
//!
//! Audio descriptors are rarely Gaussian: variances, energies and spectral
//! spreads are positive and right-skewed, often by orders of magnitude, so a
//! squared-error model (and k-means) fitted to their z-scores is dominated by
//! the few tracks in their tails. A transform fitted per column on the
//! dataset's rows first makes each column closer to normal.
//!
//! | transform | what | scikit-learn |
//! |---|---|---|
//! | `standard` | `(x - mean) / std` (population std) | `StandardScaler()` |
//! | `yeo_johnson` | per-column power `lambda` by maximum likelihood (bounded Brent search as scipy's `yeojohnson_normmax`), then standardised | `PowerTransformer(method="yeo-johnson", standardize=True)` |
//! | `quantile_normal` | ranks through the column's `min(1000, n)` quantiles onto the normal distribution, then standardised | `QuantileTransformer(output_distribution="normal", n_quantiles=min(1000, n))` then `StandardScaler()` |
//! | `robust` | `(x - median) / IQR` | `RobustScaler()` |
//! | `none` | the values as they are | |
//!
//! Constant columns follow scikit-learn: a column whose variance is within
//! the two-pass algorithm's rounding bound of zero keeps `lambda = 1` and
//! scale 1, so it becomes (near) zero after centring; a zero IQR gives the
//! robust scale 1. `QuantileTransformer` subsamples above 10,000 rows; this
//! module always uses every row (identical up to 10,000 rows).
//!
//! [`ColumnTransform::fit`] returns a [`FittedTransform`] holding every fitted
//! parameter (lambdas, quantiles, centres, scales). It is recorded in the
//! features `manifest.json`, so the same transform can be applied to new rows
//! with [`FittedTransform::transform`].

use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Which transform a numeric block gets before fusion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnTransform {
    /// z-score per column.
    Standard,
    /// Yeo-Johnson power transform, then z-score.
    YeoJohnson,
    /// Quantiles mapped onto the normal distribution, then z-score.
    QuantileNormal,
    /// Median and interquartile range.
    Robust,
    /// No transform.
    None,
}

impl ColumnTransform {
    /// Every transform, in the order of the module table.
    pub const ALL: [Self; 5] = [
        Self::Standard,
        Self::YeoJohnson,
        Self::QuantileNormal,
        Self::Robust,
        Self::None,
    ];

    /// The name used in settings and reports.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Standard => "standard",
            Self::YeoJohnson => "yeo_johnson",
            Self::QuantileNormal => "quantile_normal",
            Self::Robust => "robust",
            Self::None => "none",
        }
    }

    /// Fits the transform on the rows of `matrix` (tracks x columns). Every
    /// value must be finite; at least one row is needed.
    pub fn fit(self, matrix: ArrayView2<'_, f64>) -> Result<FittedTransform> {
        check_input(matrix, None)?;
        let fitted = match self {
            Self::Standard => {
                let (mean, scale) = standard_parameters(matrix);
                FittedTransform::Standard { mean, scale }
            }
            Self::YeoJohnson => {
                let mut lambdas = Vec::with_capacity(matrix.ncols());
                let mut transformed = matrix.to_owned();
                for (index, column) in matrix.columns().into_iter().enumerate() {
                    let values = column.to_vec();
                    let (mean, variance) = mean_and_variance(&values);
                    // scikit-learn leaves constant columns unchanged (lambda 1).
                    let lambda = if is_constant_feature(variance, mean, values.len()) {
                        1.0
                    } else {
                        let lambda = yeo_johnson_lambda(&values);
                        for value in transformed.column_mut(index) {
                            *value = yeo_johnson(*value, lambda);
                        }
                        lambda
                    };
                    lambdas.push(lambda);
                }
                let (mean, scale) = standard_parameters(transformed.view());
                FittedTransform::YeoJohnson {
                    lambdas,
                    mean,
                    scale,
                }
            }
            Self::QuantileNormal => {
                let quantile_count = matrix.nrows().clamp(1, MAX_QUANTILES);
                let references = references(quantile_count);
                let mut quantiles = Vec::with_capacity(matrix.ncols());
                let mut transformed = matrix.to_owned();
                for (index, column) in matrix.columns().into_iter().enumerate() {
                    let mut sorted = column.to_vec();
                    sorted.sort_by(f64::total_cmp);
                    let mut column_quantiles = Vec::with_capacity(quantile_count);
                    for reference in &references {
                        column_quantiles.push(percentile(&sorted, reference * 100.0));
                    }
                    for value in transformed.column_mut(index) {
                        *value = quantile_normal(*value, &column_quantiles, &references);
                    }
                    quantiles.push(column_quantiles);
                }
                let (mean, scale) = standard_parameters(transformed.view());
                FittedTransform::QuantileNormal {
                    quantiles,
                    mean,
                    scale,
                }
            }
            Self::Robust => {
                let mut center = Vec::with_capacity(matrix.ncols());
                let mut scale = Vec::with_capacity(matrix.ncols());
                for column in matrix.columns() {
                    let mut sorted = column.to_vec();
                    sorted.sort_by(f64::total_cmp);
                    center.push(median(&sorted));
                    let range = percentile(&sorted, 75.0) - percentile(&sorted, 25.0);
                    scale.push(if range < 10.0 * f64::EPSILON {
                        1.0
                    } else {
                        range
                    });
                }
                FittedTransform::Robust { center, scale }
            }
            Self::None => FittedTransform::None {
                columns: matrix.ncols(),
            },
        };
        Ok(fitted)
    }
}

/// A transform with its fitted parameters, one entry per column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "transform", rename_all = "snake_case", deny_unknown_fields)]
pub enum FittedTransform {
    /// `(x - mean) / scale`.
    Standard {
        /// Column means.
        mean: Vec<f64>,
        /// Column standard deviations (1 for constant columns).
        scale: Vec<f64>,
    },
    /// Yeo-Johnson with `lambdas`, then `(y - mean) / scale`.
    YeoJohnson {
        /// Fitted power of each column.
        lambdas: Vec<f64>,
        /// Means of the transformed columns.
        mean: Vec<f64>,
        /// Standard deviations of the transformed columns.
        scale: Vec<f64>,
    },
    /// Interpolation through `quantiles`, the normal quantile function, then `(y - mean) / scale`.
    QuantileNormal {
        /// Each column's quantiles at `min(1000, n)` evenly spaced references in `[0, 1]`.
        quantiles: Vec<Vec<f64>>,
        /// Means of the normal scores.
        mean: Vec<f64>,
        /// Standard deviations of the normal scores.
        scale: Vec<f64>,
    },
    /// `(x - center) / scale`.
    Robust {
        /// Column medians.
        center: Vec<f64>,
        /// Interquartile ranges (1 where zero).
        scale: Vec<f64>,
    },
    /// The identity.
    None {
        /// Number of columns.
        columns: usize,
    },
}

impl FittedTransform {
    /// Which transform this is.
    #[must_use]
    pub fn kind(&self) -> ColumnTransform {
        match self {
            Self::Standard { .. } => ColumnTransform::Standard,
            Self::YeoJohnson { .. } => ColumnTransform::YeoJohnson,
            Self::QuantileNormal { .. } => ColumnTransform::QuantileNormal,
            Self::Robust { .. } => ColumnTransform::Robust,
            Self::None { .. } => ColumnTransform::None,
        }
    }

    /// The number of columns it was fitted on.
    #[must_use]
    pub fn columns(&self) -> usize {
        match self {
            Self::Standard { mean, .. }
            | Self::YeoJohnson { mean, .. }
            | Self::QuantileNormal { mean, .. } => mean.len(),
            Self::Robust { center, .. } => center.len(),
            Self::None { columns } => *columns,
        }
    }

    /// Applies the fitted transform to rows with the same columns.
    pub fn transform(&self, matrix: ArrayView2<'_, f64>) -> Result<Array2<f64>> {
        check_input(matrix, Some(self.columns()))?;
        let mut output = matrix.to_owned();
        for (index, mut column) in output.columns_mut().into_iter().enumerate() {
            for value in &mut column {
                *value = match self {
                    Self::Standard { mean, scale } => (*value - mean[index]) / scale[index],
                    Self::YeoJohnson {
                        lambdas,
                        mean,
                        scale,
                    } => (yeo_johnson(*value, lambdas[index]) - mean[index]) / scale[index],
                    Self::QuantileNormal {
                        quantiles,
                        mean,
                        scale,
                    } => {
                        let references = references(quantiles[index].len());
                        (quantile_normal(*value, &quantiles[index], &references) - mean[index])
                            / scale[index]
                    }
                    Self::Robust { center, scale } => (*value - center[index]) / scale[index],
                    Self::None { .. } => *value,
                };
            }
        }
        Ok(output)
    }
}

/// scikit-learn's default `n_quantiles`.
const MAX_QUANTILES: usize = 1000;

/// `QuantileTransformer`'s margin at the ends of the reference range.
const BOUNDS_THRESHOLD: f64 = 1e-7;

fn check_input(matrix: ArrayView2<'_, f64>, columns: Option<usize>) -> Result<()> {
    if matrix.nrows() == 0 {
        return Err(Error::InvalidConfig {
            key: "transform".to_owned(),
            reason: "no rows to transform".to_owned(),
        });
    }
    if let Some(expected) = columns
        && matrix.ncols() != expected
    {
        return Err(Error::InvalidConfig {
            key: "transform".to_owned(),
            reason: format!(
                "{} columns, the transform was fitted on {expected}",
                matrix.ncols()
            ),
        });
    }
    for ((row, column), value) in matrix.indexed_iter() {
        if !value.is_finite() {
            return Err(Error::InvalidConfig {
                key: "transform".to_owned(),
                reason: format!("row {row}, column {column} holds the non-finite value {value}"),
            });
        }
    }
    Ok(())
}

/// Mean and population variance as scikit-learn's `StandardScaler` computes
/// them: a two-pass variance with the rounding correction of Chan, Golub
/// and `LeVeque`.
pub(crate) fn mean_and_variance(values: &[f64]) -> (f64, f64) {
    let count = values.len() as f64;
    let mut sum = 0.0;
    for value in values {
        sum += value;
    }
    let mean = sum / count;
    let mut correction = 0.0;
    let mut squares = 0.0;
    for value in values {
        let deviation = value - mean;
        correction += deviation;
        squares += deviation * deviation;
    }
    let variance = (squares - correction * correction / count) / count;
    (mean, variance.max(0.0))
}

/// scikit-learn's `_is_constant_feature`: the variance is within the error
/// bound of the two-pass algorithm.
pub(crate) fn is_constant_feature(variance: f64, mean: f64, count: usize) -> bool {
    let count = count as f64;
    let eps = f64::EPSILON;
    let bound = count * eps * variance + (count * mean * eps).powi(2);
    variance <= bound
}

/// Column means and standard deviations, 1 for constant columns.
fn standard_parameters(matrix: ArrayView2<'_, f64>) -> (Vec<f64>, Vec<f64>) {
    let mut means = Vec::with_capacity(matrix.ncols());
    let mut scales = Vec::with_capacity(matrix.ncols());
    for column in matrix.columns() {
        let values = column.to_vec();
        let (mean, variance) = mean_and_variance(&values);
        means.push(mean);
        scales.push(if is_constant_feature(variance, mean, values.len()) {
            1.0
        } else {
            variance.sqrt()
        });
    }
    (means, scales)
}

/// Yeo-Johnson of one value, in scipy's numerically stable form.
fn yeo_johnson(value: f64, lambda: f64) -> f64 {
    let eps = f64::EPSILON;
    if value >= 0.0 {
        if lambda.abs() < eps {
            value.ln_1p()
        } else {
            (lambda * value.ln_1p()).exp_m1() / lambda
        }
    } else if (lambda - 2.0).abs() > eps {
        -((2.0 - lambda) * (-value).ln_1p()).exp_m1() / (2.0 - lambda)
    } else {
        -(-value).ln_1p()
    }
}

/// Negative Yeo-Johnson log-likelihood (scipy's `yeojohnson_llf`), `+inf`
/// where it is not finite.
fn negative_log_likelihood(lambda: f64, values: &[f64], signed_log_sum: f64) -> f64 {
    let mut transformed = Vec::with_capacity(values.len());
    for value in values {
        transformed.push(yeo_johnson(*value, lambda));
    }
    let count = values.len() as f64;
    let mut sum = 0.0;
    for value in &transformed {
        sum += value;
    }
    let mean = sum / count;
    let mut squares = 0.0;
    for value in &transformed {
        squares += (value - mean) * (value - mean);
    }
    let variance = squares / count;
    let log_variance = if variance >= f64::MIN_POSITIVE {
        variance.ln()
    } else {
        f64::NEG_INFINITY
    };
    let log_likelihood = -count / 2.0 * log_variance + (lambda - 1.0) * signed_log_sum;
    if log_likelihood.is_infinite() {
        f64::INFINITY
    } else {
        -log_likelihood
    }
}

/// The maximum-likelihood Yeo-Johnson power of a column: scipy's
/// `yeojohnson_normmax` (bounds that keep the transform finite, then
/// `fminbound` with Brent's tolerance).
fn yeo_johnson_lambda(values: &[f64]) -> f64 {
    let mut all_zero = true;
    let mut all_negative = true;
    let mut any_negative = false;
    let mut largest_magnitude = 0.0f64;
    let mut signed_log_sum = 0.0;
    for value in values {
        all_zero &= *value == 0.0;
        all_negative &= *value < 0.0;
        any_negative |= *value < 0.0;
        largest_magnitude = largest_magnitude.max(value.abs());
        // np.sign(0) is 0, and so is log1p(0).
        signed_log_sum += value.signum() * value.abs().ln_1p();
    }
    if all_zero {
        return 1.0;
    }
    let log1p_max = (20.0 * largest_magnitude).ln_1p();
    let log_eps = f64::EPSILON.ln();
    let log_tiny = (f64::MIN_POSITIVE.ln() - log_eps) / 2.0;
    let log_max = f64::midpoint(f64::MAX.ln(), log_eps);
    let mut lower = log_tiny / log1p_max;
    let mut upper = log_max / log1p_max;
    if all_negative {
        (lower, upper) = (2.0 - upper, 2.0 - lower);
    } else if any_negative {
        (lower, upper) = ((2.0 - upper).max(lower), (2.0 - lower).min(upper));
    }
    bounded_minimum(
        |lambda| negative_log_likelihood(lambda, values, signed_log_sum),
        lower,
        upper,
        1.48e-8,
    )
}

/// scipy's `fminbound` (`_minimize_scalar_bounded`, 500 evaluations at
/// most): Brent's method on `[lower, upper]`, golden-section steps where a
/// parabola does not fit. Ported step for step so that flat or infinite
/// stretches of the objective end where scipy's do.
// scipy compares the bracket points exactly; so must the port.
#[allow(clippy::float_cmp)]
fn bounded_minimum(objective: impl Fn(f64) -> f64, lower: f64, upper: f64, xatol: f64) -> f64 {
    const MAX_EVALUATIONS: usize = 500;
    let sqrt_eps = 2.2e-16f64.sqrt();
    let golden_mean = 0.5 * (3.0 - 5.0f64.sqrt());
    let (mut a, mut b) = (lower, upper);
    let mut fulc = a + golden_mean * (b - a);
    let mut nfc = fulc;
    let mut xf = fulc;
    let mut rat = 0.0f64;
    let mut e = 0.0f64;
    let mut fx = objective(xf);
    let mut evaluations = 1;
    let mut ffulc = fx;
    let mut fnfc = fx;
    let mut xm = 0.5 * (a + b);
    let mut tol1 = sqrt_eps * xf.abs() + xatol / 3.0;
    let mut tol2 = 2.0 * tol1;
    let sign = |value: f64| -> f64 {
        if value > 0.0 {
            1.0
        } else if value < 0.0 {
            -1.0
        } else {
            // np.sign(0) + (0 == 0)
            1.0
        }
    };
    while (xf - xm).abs() > (tol2 - 0.5 * (b - a)) {
        let mut golden = true;
        if e.abs() > tol1 {
            golden = false;
            let mut r = (xf - nfc) * (fx - ffulc);
            let mut q = (xf - fulc) * (fx - fnfc);
            let mut p = (xf - fulc) * q - (xf - nfc) * r;
            q = 2.0 * (q - r);
            if q > 0.0 {
                p = -p;
            }
            q = q.abs();
            r = e;
            e = rat;
            if p.abs() < (0.5 * q * r).abs() && p > q * (a - xf) && p < q * (b - xf) {
                rat = (p + 0.0) / q;
                let x = xf + rat;
                if (x - a) < tol2 || (b - x) < tol2 {
                    rat = tol1 * sign(xm - xf);
                }
            } else {
                golden = true;
            }
        }
        if golden {
            e = if xf >= xm { a - xf } else { b - xf };
            rat = golden_mean * e;
        }
        let x = xf + sign(rat) * rat.abs().max(tol1);
        let fu = objective(x);
        evaluations += 1;
        if fu <= fx {
            if x >= xf {
                a = xf;
            } else {
                b = xf;
            }
            (fulc, ffulc) = (nfc, fnfc);
            (nfc, fnfc) = (xf, fx);
            (xf, fx) = (x, fu);
        } else {
            if x < xf {
                a = x;
            } else {
                b = x;
            }
            if fu <= fnfc || nfc == xf {
                (fulc, ffulc) = (nfc, fnfc);
                (nfc, fnfc) = (x, fu);
            } else if fu <= ffulc || fulc == xf || fulc == nfc {
                (fulc, ffulc) = (x, fu);
            }
        }
        xm = 0.5 * (a + b);
        tol1 = sqrt_eps * xf.abs() + xatol / 3.0;
        tol2 = 2.0 * tol1;
        if evaluations >= MAX_EVALUATIONS {
            break;
        }
    }
    xf
}

/// `np.linspace(0, 1, count)`.
fn references(count: usize) -> Vec<f64> {
    if count == 1 {
        return vec![0.0];
    }
    let step = 1.0 / (count - 1) as f64;
    let mut values = Vec::with_capacity(count);
    for index in 0..count {
        values.push(index as f64 * step);
    }
    values[count - 1] = 1.0;
    values
}

/// `np.percentile(sorted, percent)` with the default linear method.
fn percentile(sorted: &[f64], percent: f64) -> f64 {
    let quantile = percent / 100.0;
    let last = sorted.len() - 1;
    let virtual_index = last as f64 * quantile;
    if virtual_index >= last as f64 {
        return sorted[last];
    }
    if virtual_index < 0.0 {
        return sorted[0];
    }
    let previous = virtual_index.floor();
    let gamma = virtual_index - previous;
    let previous = previous as usize;
    let (low, high) = (sorted[previous], sorted[previous + 1]);
    let difference = high - low;
    if gamma >= 0.5 {
        high - difference * (1.0 - gamma)
    } else {
        low + difference * gamma
    }
}

/// `np.median` of sorted values.
fn median(sorted: &[f64]) -> f64 {
    let count = sorted.len();
    if count % 2 == 1 {
        sorted[count / 2]
    } else {
        f64::midpoint(sorted[count / 2 - 1], sorted[count / 2])
    }
}

/// `np.interp(value, xp, fp)` for increasing (possibly tied) `xp`.
// NumPy tests knots and values for exact equality; so must the port.
#[allow(clippy::float_cmp)]
fn interpolate(value: f64, xp: &[f64], fp: &[f64]) -> f64 {
    let last = xp.len() - 1;
    if value < xp[0] {
        return fp[0];
    }
    if value > xp[last] {
        return fp[last];
    }
    // The last index whose knot is <= value.
    let index = xp.partition_point(|knot| *knot <= value) - 1;
    if index == last || xp[index] == value {
        return fp[index];
    }
    let slope = (fp[index + 1] - fp[index]) / (xp[index + 1] - xp[index]);
    let mut result = slope * (value - xp[index]) + fp[index];
    if result.is_nan() {
        result = slope * (value - xp[index + 1]) + fp[index + 1];
        if result.is_nan() && fp[index] == fp[index + 1] {
            result = fp[index];
        }
    }
    result
}

/// `QuantileTransformer._transform_col` for one value, normal output.
fn quantile_normal(value: f64, quantiles: &[f64], references: &[f64]) -> f64 {
    let last = quantiles.len() - 1;
    let below = value - BOUNDS_THRESHOLD < quantiles[0];
    let above = value + BOUNDS_THRESHOLD > quantiles[last];
    // scikit-learn sets the upper end, then the lower one (which wins).
    let uniform = if below {
        0.0
    } else if above {
        1.0
    } else {
        let mut negated_quantiles = Vec::with_capacity(quantiles.len());
        let mut negated_references = Vec::with_capacity(references.len());
        for index in (0..quantiles.len()).rev() {
            negated_quantiles.push(-quantiles[index]);
            negated_references.push(-references[index]);
        }
        0.5 * (interpolate(value, quantiles, references)
            - interpolate(-value, &negated_quantiles, &negated_references))
    };
    let clip = BOUNDS_THRESHOLD - f64::EPSILON;
    normal_quantile(uniform).clamp(normal_quantile(clip), normal_quantile(1.0 - clip))
}

/// The standard normal quantile function (scipy's `ndtri`).
fn normal_quantile(probability: f64) -> f64 {
    if probability <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if probability >= 1.0 {
        return f64::INFINITY;
    }
    -std::f64::consts::SQRT_2 * statrs::function::erf::erfc_inv(2.0 * probability)
}
