//! Gaussian mixture by expectation-maximisation, step for step as
//! scikit-learn 1.9's `GaussianMixture(init_params="kmeans")` with `full`
//! or `diag` covariances.
//!
//! # Algorithm
//!
//! 1. Initialisation: k-means ([`crate::kmeans`], one k-means++ start)
//!    labels the samples; the responsibilities are those hard labels, and the
//!    first parameters are estimated from them (weights `N_k / n`).
//! 2. EM iterations. E-step: the log density of every sample under every
//!    component, `ln w_k - (d ln 2 pi + |(x - mu_k) U_k|^2) / 2 + ln det U_k`
//!    with `U_k` the upper-triangular Cholesky factor of the precision
//!    (`(L_k^-1)^T` for `Sigma_k = L_k L_k^T`; nalgebra's Cholesky), the
//!    responsibilities by log-sum-exp, and the lower bound, the mean log
//!    likelihood per sample. M-step: `N_k = sum_i r_ik + 10 eps`, means
//!    `sum_i r_ik x_i / N_k`, covariances `sum_i r_ik (x_i - mu_k)(x_i - mu_k)^T / N_k`
//!    (`full`) or `sum_i r_ik x_i^2 / N_k - mu_k^2` (`diag`, scikit-learn's
//!    formula), plus `reg_covar` on the diagonal, and weights `N_k / sum N`.
//!    Stop when the lower bound changes by less than `tol`, or after
//!    `max_iter` iterations.
//! 3. `n_init` restarts (each from its own k-means seed) keep the run with the
//!    highest final lower bound; the labels are the most probable component
//!    of each sample under the kept parameters ([`GaussianMixtureFit::predict`]).
//!
//! [`gaussian_mixture_from_labels`] runs step 2 from given initial labels,
//! e.g. scikit-learn's own k-means labels, to compare with a reference run.
//! The expressions are scikit-learn's (including the `diag` variance formula
//! and `X U - mu U` in the `full` density), so the two agree to rounding.
//!
//! Rows are processed in parallel in fixed chunks of [`ROW_CHUNK`], and the
//! per-chunk sums are added in chunk order: results do not depend on the
//! number of threads. Memory is O(n k) for the responsibilities.
//!
//! # Parameters ([`GaussianMixtureConfig`])
//!
//! | field | default | valid |
//! |---|---|---|
//! | `n_components` | 1 | 1 to the number of samples |
//! | `covariance_type` | `full` | `full` or `diag` |
//! | `n_init` | 1 | >= 1 |
//! | `max_iter` | 100 | >= 1 |
//! | `tol` | 1e-3 | >= 0, finite |
//! | `reg_covar` | 1e-6 | >= 0, finite |
//! | `seed` | 0 | any `u64` |
//!
//! The data needs at least 2 samples, all finite.

use nalgebra::{Cholesky, DMatrix};
use ndarray::{Array1, Array2, ArrayView2};
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rayon::prelude::{
    IndexedParallelIterator, IntoParallelRefMutIterator, ParallelIterator, ParallelSlice,
    ParallelSliceMut,
};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result, check_at_least_one, check_cluster_count, check_non_negative};
use crate::kmeans::{KMeansConfig, kmeans};

/// Rows per parallel task (fixed, so sums do not depend on the thread count).
pub const ROW_CHUNK: usize = 256;

/// The form of each component's covariance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CovarianceType {
    /// A full `d x d` covariance matrix per component.
    #[default]
    Full,
    /// A diagonal covariance (one variance per feature) per component.
    Diag,
}

/// Gaussian-mixture settings; see the module docs for defaults and ranges.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GaussianMixtureConfig {
    /// Number of mixture components k.
    pub n_components: usize,
    /// Full or diagonal covariances.
    pub covariance_type: CovarianceType,
    /// Number of k-means-initialised EM runs; the highest lower bound wins.
    pub n_init: usize,
    /// Maximum EM iterations per run.
    pub max_iter: usize,
    /// Convergence threshold on the change of the lower bound.
    pub tol: f64,
    /// Added to the covariance diagonal so that it stays positive definite.
    pub reg_covar: f64,
    /// Seed of the k-means initialisations.
    pub seed: u64,
}

impl Default for GaussianMixtureConfig {
    fn default() -> Self {
        Self {
            n_components: 1,
            covariance_type: CovarianceType::Full,
            n_init: 1,
            max_iter: 100,
            tol: 1e-3,
            reg_covar: 1e-6,
            seed: 0,
        }
    }
}

impl GaussianMixtureConfig {
    /// Checks every field against its valid range for data of `n_samples` rows.
    pub fn validate(&self, n_samples: usize) -> Result<()> {
        check_cluster_count("n_components", self.n_components, n_samples)?;
        check_at_least_one("n_init", self.n_init)?;
        check_at_least_one("max_iter", self.max_iter)?;
        check_non_negative("tol", self.tol)?;
        check_non_negative("reg_covar", self.reg_covar)
    }
}

/// The covariances of a fitted mixture.
#[derive(Debug, Clone, PartialEq)]
pub enum Covariances {
    /// One `d x d` matrix per component.
    Full(Vec<Array2<f64>>),
    /// `k x d`: the variances of each component, one row per component.
    Diag(Array2<f64>),
}

/// A fitted Gaussian mixture.
#[derive(Debug, Clone, PartialEq)]
pub struct GaussianMixtureFit {
    /// Mixing weight of each component (summing to 1).
    pub weights: Array1<f64>,
    /// Component means, `k x d`.
    pub means: Array2<f64>,
    /// Component covariances, with `reg_covar` added to the diagonal.
    pub covariances: Covariances,
    /// Mean log likelihood per sample at the last iteration of the kept run.
    pub lower_bound: f64,
    /// EM iterations of the kept run.
    pub n_iter: usize,
    /// Whether the kept run stopped on `tol` (rather than on `max_iter`).
    pub converged: bool,
    /// Most probable component of each training sample.
    pub labels: Vec<usize>,
    /// Upper-triangular Cholesky factors of the precisions (full, row-major
    /// `d x d` per component) or their diagonals (diag, `d` per component).
    precision_factors: Vec<Vec<f64>>,
}

/// Fits a Gaussian mixture to `data` (one sample per row) with k-means
/// initialisation and `n_init` restarts.
pub fn gaussian_mixture(
    data: ArrayView2<'_, f64>,
    config: &GaussianMixtureConfig,
) -> Result<GaussianMixtureFit> {
    check_data(data)?;
    config.validate(data.nrows())?;
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let mut best: Option<GaussianMixtureFit> = None;
    for _ in 0..config.n_init {
        let kmeans_config = KMeansConfig {
            n_clusters: config.n_components,
            n_init: 1,
            seed: rng.next_u64(),
            ..KMeansConfig::default()
        };
        let initial = kmeans(data, &kmeans_config)?.labels;
        let run = expectation_maximisation(data, &initial, config)?;
        let replace = match &best {
            None => true,
            Some(current) => run.lower_bound > current.lower_bound,
        };
        if replace {
            best = Some(run);
        }
    }
    let mut fit = best.ok_or(Error::InvalidParameter {
        parameter: "n_init",
        value: "0".to_owned(),
        expected: "at least 1".to_owned(),
    })?;
    fit.labels = fit.predict(data)?;
    Ok(fit)
}

/// One EM run from the given initial labels (one per row, each below
/// `config.n_components`), as scikit-learn's fit after its k-means step;
/// `config.n_init` and `config.seed` are not used.
pub fn gaussian_mixture_from_labels(
    data: ArrayView2<'_, f64>,
    initial_labels: &[usize],
    config: &GaussianMixtureConfig,
) -> Result<GaussianMixtureFit> {
    check_data(data)?;
    config.validate(data.nrows())?;
    if initial_labels.len() != data.nrows() {
        return Err(Error::LengthMismatch {
            what: "initial labels",
            got: initial_labels.len(),
            expected: data.nrows(),
        });
    }
    if let Some(&label) = initial_labels
        .iter()
        .find(|&&label| label >= config.n_components)
    {
        return Err(Error::InvalidParameter {
            parameter: "initial label",
            value: label.to_string(),
            expected: format!("below n_components ({})", config.n_components),
        });
    }
    let mut fit = expectation_maximisation(data, initial_labels, config)?;
    fit.labels = fit.predict(data)?;
    Ok(fit)
}

impl GaussianMixtureFit {
    /// The most probable component of every row of `data` (the first on
    /// ties), as scikit-learn's `predict`.
    pub fn predict(&self, data: ArrayView2<'_, f64>) -> Result<Vec<usize>> {
        check_data(data)?;
        if data.ncols() != self.means.ncols() {
            return Err(Error::LengthMismatch {
                what: "data columns",
                got: data.ncols(),
                expected: self.means.ncols(),
            });
        }
        let model = self.model();
        let rows = data.as_standard_layout();
        let flat = rows.as_slice().unwrap_or(&[]);
        let n_components = self.weights.len();
        let mut labels = vec![0_usize; data.nrows()];
        labels
            .par_chunks_mut(ROW_CHUNK)
            .enumerate()
            .for_each(|(chunk_index, chunk_labels)| {
                let mut log_prob = vec![0.0_f64; n_components];
                let n_features = model.n_features;
                for (offset, label) in chunk_labels.iter_mut().enumerate() {
                    let row = chunk_index * ROW_CHUNK + offset;
                    model.weighted_log_prob(
                        &flat[row * n_features..(row + 1) * n_features],
                        &mut log_prob,
                    );
                    let mut best = 0;
                    for (component, &value) in log_prob.iter().enumerate() {
                        if value > log_prob[best] {
                            best = component;
                        }
                    }
                    *label = best;
                }
            });
        Ok(labels)
    }

    fn model(&self) -> Model {
        let n_features = self.means.ncols();
        let log_weights: Vec<f64> = self.weights.iter().map(|weight| weight.ln()).collect();
        Model::new(
            match self.covariances {
                Covariances::Full(_) => CovarianceType::Full,
                Covariances::Diag(_) => CovarianceType::Diag,
            },
            &self.means,
            self.precision_factors.clone(),
            log_weights,
            n_features,
        )
    }
}

/// scikit-learn's rule: at least 2 samples; then rows, columns, finite values.
fn check_data(data: ArrayView2<'_, f64>) -> Result<()> {
    if data.nrows() < 2 {
        return Err(Error::InvalidParameter {
            parameter: "samples",
            value: data.nrows().to_string(),
            expected: "at least 2 rows".to_owned(),
        });
    }
    crate::error::check_data(data)
}

/// What the E-step needs: per component the log weight, the log determinant
/// of the precision factor and the precision factor itself, plus the
/// precomputed products with the mean that scikit-learn's expressions use.
struct Model {
    covariance_type: CovarianceType,
    n_features: usize,
    /// `ln w_k`.
    log_weights: Vec<f64>,
    /// `sum_j ln U_k[j, j]`.
    log_dets: Vec<f64>,
    /// Full: `U_k` row-major; diag: the precisions `1 / sigma^2`.
    factors: Vec<Vec<f64>>,
    /// Full: `mu_k U_k`; diag: `mu_k * precision_k`.
    mean_products: Vec<Vec<f64>>,
    /// Diag only: `sum_j mu_kj^2 precision_kj`.
    mean_terms: Vec<f64>,
}

impl Model {
    fn new(
        covariance_type: CovarianceType,
        means: &Array2<f64>,
        precision_factors: Vec<Vec<f64>>,
        log_weights: Vec<f64>,
        n_features: usize,
    ) -> Self {
        let n_components = means.nrows();
        let mut log_dets = Vec::with_capacity(n_components);
        let mut factors = Vec::with_capacity(n_components);
        let mut mean_products = Vec::with_capacity(n_components);
        let mut mean_terms = Vec::with_capacity(n_components);
        for (mean, factor) in means.outer_iter().zip(precision_factors) {
            let mut log_det = 0.0;
            match covariance_type {
                CovarianceType::Full => {
                    for j in 0..n_features {
                        log_det += factor[j * n_features + j].ln();
                    }
                    let mut product = vec![0.0_f64; n_features];
                    for (i, &value) in mean.iter().enumerate() {
                        for j in 0..n_features {
                            product[j] += value * factor[i * n_features + j];
                        }
                    }
                    mean_products.push(product);
                    mean_terms.push(0.0);
                    factors.push(factor);
                }
                CovarianceType::Diag => {
                    for &value in &factor {
                        log_det += value.ln();
                    }
                    let precisions: Vec<f64> = factor.iter().map(|&value| value * value).collect();
                    let mut term = 0.0;
                    let mut product = Vec::with_capacity(n_features);
                    for (&value, &precision) in mean.iter().zip(&precisions) {
                        term += value * value * precision;
                        product.push(value * precision);
                    }
                    mean_products.push(product);
                    mean_terms.push(term);
                    factors.push(precisions);
                }
            }
            log_dets.push(log_det);
        }
        Self {
            covariance_type,
            n_features,
            log_weights,
            log_dets,
            factors,
            mean_products,
            mean_terms,
        }
    }

    /// `ln w_k + ln N(x | mu_k, Sigma_k)` for every component, into `out`.
    fn weighted_log_prob(&self, x: &[f64], out: &mut [f64]) {
        let d = self.n_features;
        let constant = d as f64 * (2.0 * std::f64::consts::PI).ln();
        for (component, value) in out.iter_mut().enumerate() {
            let factor = &self.factors[component];
            let product = &self.mean_products[component];
            let squared = match self.covariance_type {
                CovarianceType::Full => {
                    // |x U - mu U|^2, U upper triangular: column j sums rows i <= j.
                    let mut sum = 0.0;
                    for j in 0..d {
                        let mut projected = 0.0;
                        for i in 0..=j {
                            projected += x[i] * factor[i * d + j];
                        }
                        let y = projected - product[j];
                        sum += y * y;
                    }
                    sum
                }
                CovarianceType::Diag => {
                    let mut cross = 0.0;
                    let mut squares = 0.0;
                    for j in 0..d {
                        cross += x[j] * product[j];
                        squares += x[j] * x[j] * factor[j];
                    }
                    self.mean_terms[component] - 2.0 * cross + squares
                }
            };
            *value = -0.5 * (constant + squared)
                + self.log_dets[component]
                + self.log_weights[component];
        }
    }
}

/// One EM run from hard initial labels.
fn expectation_maximisation(
    data: ArrayView2<'_, f64>,
    initial_labels: &[usize],
    config: &GaussianMixtureConfig,
) -> Result<GaussianMixtureFit> {
    let (n_samples, n_features) = data.dim();
    let n_components = config.n_components;
    let rows = data.as_standard_layout();
    let flat = rows.as_slice().unwrap_or(&[]);
    let mut responsibilities = vec![0.0_f64; n_samples * n_components];
    for (row, &label) in initial_labels.iter().enumerate() {
        responsibilities[row * n_components + label] = 1.0;
    }
    let mut parameters = m_step(flat, &responsibilities, n_features, config)?;
    // Initial weights are N_k / n, not normalised by their sum.
    for (weight, &count) in parameters.weights.iter_mut().zip(&parameters.counts) {
        *weight = count / n_samples as f64;
    }
    let mut lower_bound = f64::NEG_INFINITY;
    let mut converged = false;
    let mut n_iter = 0;
    for iteration in 1..=config.max_iter {
        n_iter = iteration;
        let previous = lower_bound;
        lower_bound = e_step(flat, &parameters, config, &mut responsibilities);
        parameters = m_step(flat, &responsibilities, n_features, config)?;
        if (lower_bound - previous).abs() < config.tol {
            converged = true;
            break;
        }
    }
    let covariances = match config.covariance_type {
        CovarianceType::Full => Covariances::Full(
            parameters
                .covariances
                .iter()
                .map(|values| {
                    Array2::from_shape_vec((n_features, n_features), values.clone())
                        .unwrap_or_default()
                })
                .collect(),
        ),
        CovarianceType::Diag => {
            let mut flat_variances = Vec::with_capacity(n_components * n_features);
            for values in &parameters.covariances {
                flat_variances.extend_from_slice(values);
            }
            Covariances::Diag(
                Array2::from_shape_vec((n_components, n_features), flat_variances)
                    .unwrap_or_default(),
            )
        }
    };
    Ok(GaussianMixtureFit {
        weights: Array1::from(parameters.weights),
        means: parameters.means,
        covariances,
        lower_bound,
        n_iter,
        converged,
        labels: Vec::new(),
        precision_factors: parameters.precision_factors,
    })
}

/// Parameters estimated by an M-step.
struct Parameters {
    /// `N_k / sum N`.
    weights: Vec<f64>,
    /// `N_k` (for the initial weights, `N_k / n`).
    counts: Vec<f64>,
    means: Array2<f64>,
    /// Full: `d x d` row-major; diag: `d` variances.
    covariances: Vec<Vec<f64>>,
    /// Full: `U` row-major; diag: `1 / sqrt(variance)`.
    precision_factors: Vec<Vec<f64>>,
}

/// E-step: replaces `responsibilities` (row-major `n x k`) with
/// `exp(log resp)` and returns the mean log likelihood.
fn e_step(
    flat: &[f64],
    parameters: &Parameters,
    config: &GaussianMixtureConfig,
    responsibilities: &mut [f64],
) -> f64 {
    let n_components = config.n_components;
    let n_features = parameters.means.ncols();
    let log_weights: Vec<f64> = parameters
        .weights
        .iter()
        .map(|weight| weight.ln())
        .collect();
    let model = Model::new(
        config.covariance_type,
        &parameters.means,
        parameters.precision_factors.clone(),
        log_weights,
        n_features,
    );
    let n_samples = responsibilities.len() / n_components;
    let mut chunk_sums = vec![0.0_f64; n_samples.div_ceil(ROW_CHUNK)];
    responsibilities
        .par_chunks_mut(ROW_CHUNK * n_components)
        .zip(chunk_sums.par_iter_mut())
        .enumerate()
        .for_each(|(chunk_index, (chunk, chunk_sum))| {
            for (offset, row_resp) in chunk.chunks_exact_mut(n_components).enumerate() {
                let row = chunk_index * ROW_CHUNK + offset;
                model.weighted_log_prob(&flat[row * n_features..(row + 1) * n_features], row_resp);
                let log_norm = log_sum_exp(row_resp);
                for value in row_resp.iter_mut() {
                    *value = (*value - log_norm).exp();
                }
                *chunk_sum += log_norm;
            }
        });
    let mut total = 0.0;
    for &sum in &chunk_sums {
        total += sum;
    }
    total / n_samples as f64
}

/// `ln sum exp(values)`, shifted by the maximum for stability.
fn log_sum_exp(values: &[f64]) -> f64 {
    let mut maximum = f64::NEG_INFINITY;
    for &value in values {
        maximum = maximum.max(value);
    }
    if !maximum.is_finite() {
        return maximum;
    }
    let mut sum = 0.0;
    for &value in values {
        sum += (value - maximum).exp();
    }
    sum.ln() + maximum
}

/// Per-chunk sums of an M-step pass.
struct ChunkSums {
    counts: Vec<f64>,
    /// `k x d`: `sum r x` (first pass) or, diag, also `sum r x^2`.
    first: Vec<f64>,
    /// Diag: `k x d` `sum r x^2`; full: `k x d x d` `sum r (x - mu)(x - mu)^T`.
    second: Vec<f64>,
}

/// M-step: weights, means, covariances and precision factors from the
/// responsibilities (row-major `n x k`).
fn m_step(
    flat: &[f64],
    responsibilities: &[f64],
    n_features: usize,
    config: &GaussianMixtureConfig,
) -> Result<Parameters> {
    let n_components = config.n_components;
    let d = n_features;
    let diag = config.covariance_type == CovarianceType::Diag;
    // Pass 1: N_k, sum r x and (diag) sum r x^2.
    let first_pass: Vec<ChunkSums> = responsibilities
        .par_chunks(ROW_CHUNK * n_components)
        .enumerate()
        .map(|(chunk_index, chunk)| {
            let mut sums = ChunkSums {
                counts: vec![0.0; n_components],
                first: vec![0.0; n_components * d],
                second: vec![0.0; if diag { n_components * d } else { 0 }],
            };
            for (offset, row_resp) in chunk.chunks_exact(n_components).enumerate() {
                let row = chunk_index * ROW_CHUNK + offset;
                let x = &flat[row * d..(row + 1) * d];
                for (component, &r) in row_resp.iter().enumerate() {
                    sums.counts[component] += r;
                    let weighted = &mut sums.first[component * d..(component + 1) * d];
                    for (sum, &value) in weighted.iter_mut().zip(x) {
                        *sum += r * value;
                    }
                    if diag {
                        let squares = &mut sums.second[component * d..(component + 1) * d];
                        for (sum, &value) in squares.iter_mut().zip(x) {
                            *sum += r * (value * value);
                        }
                    }
                }
            }
            sums
        })
        .collect();
    let mut counts = vec![0.0_f64; n_components];
    let mut weighted_sums = vec![0.0_f64; n_components * d];
    let mut square_sums = vec![0.0_f64; if diag { n_components * d } else { 0 }];
    for sums in &first_pass {
        add_into(&mut counts, &sums.counts);
        add_into(&mut weighted_sums, &sums.first);
        add_into(&mut square_sums, &sums.second);
    }
    for count in &mut counts {
        *count += 10.0 * f64::EPSILON;
    }
    let mut means = Array2::<f64>::zeros((n_components, d));
    for (component, mut mean) in means.outer_iter_mut().enumerate() {
        for (j, value) in mean.iter_mut().enumerate() {
            *value = weighted_sums[component * d + j] / counts[component];
        }
    }
    let mut covariances = Vec::with_capacity(n_components);
    let mut precision_factors = Vec::with_capacity(n_components);
    if diag {
        for component in 0..n_components {
            let mut variances = Vec::with_capacity(d);
            let mut factor = Vec::with_capacity(d);
            for j in 0..d {
                let mean = means[[component, j]];
                let variance = square_sums[component * d + j] / counts[component] - mean * mean
                    + config.reg_covar;
                if variance <= 0.0 {
                    return Err(Error::IllDefinedCovariance { component });
                }
                variances.push(variance);
                factor.push(1.0 / variance.sqrt());
            }
            covariances.push(variances);
            precision_factors.push(factor);
        }
    } else {
        let scatter = full_scatter(flat, responsibilities, &means, n_components, d);
        for component in 0..n_components {
            let mut covariance = vec![0.0_f64; d * d];
            for i in 0..d {
                for j in 0..d {
                    let (low, high) = if i <= j { (i, j) } else { (j, i) };
                    covariance[i * d + j] =
                        scatter[component * d * d + low * d + high] / counts[component];
                }
                covariance[i * d + i] += config.reg_covar;
            }
            precision_factors.push(precision_factor(&covariance, d, component)?);
            covariances.push(covariance);
        }
    }
    let mut weight_total = 0.0;
    for &count in &counts {
        weight_total += count;
    }
    let weights = counts.iter().map(|&count| count / weight_total).collect();
    Ok(Parameters {
        weights,
        counts,
        means,
        covariances,
        precision_factors,
    })
}

/// Upper triangles (row-major `k x d x d`) of `sum_i r_ik (x_i - mu_k)(x_i - mu_k)^T`.
fn full_scatter(
    flat: &[f64],
    responsibilities: &[f64],
    means: &Array2<f64>,
    n_components: usize,
    d: usize,
) -> Vec<f64> {
    let partials: Vec<Vec<f64>> = responsibilities
        .par_chunks(ROW_CHUNK * n_components)
        .enumerate()
        .map(|(chunk_index, chunk)| {
            let mut sums = vec![0.0_f64; n_components * d * d];
            let mut difference = vec![0.0_f64; d];
            for (offset, row_resp) in chunk.chunks_exact(n_components).enumerate() {
                let row = chunk_index * ROW_CHUNK + offset;
                let x = &flat[row * d..(row + 1) * d];
                for (component, &r) in row_resp.iter().enumerate() {
                    for (j, slot) in difference.iter_mut().enumerate() {
                        *slot = x[j] - means[[component, j]];
                    }
                    let block = &mut sums[component * d * d..(component + 1) * d * d];
                    for i in 0..d {
                        let scaled = r * difference[i];
                        let row_sums = &mut block[i * d..(i + 1) * d];
                        for j in i..d {
                            row_sums[j] += scaled * difference[j];
                        }
                    }
                }
            }
            sums
        })
        .collect();
    let mut total = vec![0.0_f64; n_components * d * d];
    for partial in &partials {
        add_into(&mut total, partial);
    }
    total
}

fn add_into(total: &mut [f64], part: &[f64]) {
    for (sum, &value) in total.iter_mut().zip(part) {
        *sum += value;
    }
}

/// `U = (L^-1)^T` (row-major) for the covariance `L L^T` of `component`.
fn precision_factor(covariance: &[f64], d: usize, component: usize) -> Result<Vec<f64>> {
    let matrix = DMatrix::from_row_slice(d, d, covariance);
    let cholesky = Cholesky::new(matrix).ok_or(Error::IllDefinedCovariance { component })?;
    let inverse = cholesky
        .l()
        .solve_lower_triangular(&DMatrix::identity(d, d))
        .ok_or(Error::IllDefinedCovariance { component })?;
    // U[i][j] = (L^-1)[j][i].
    let mut factor = vec![0.0_f64; d * d];
    for i in 0..d {
        for j in 0..d {
            factor[i * d + j] = inverse[(j, i)];
        }
    }
    Ok(factor)
}

#[cfg(test)]
mod tests {
    use ndarray::array;

    use super::{CovarianceType, GaussianMixtureConfig, gaussian_mixture};
    use crate::error::Error;

    #[test]
    fn bad_inputs_get_clear_errors() {
        let data = array![[0.0, 1.0], [1.0, 0.0], [2.0, 2.0]];
        let cases = [
            (
                0,
                "invalid n_components = 0: between 1 and the number of samples (3)",
            ),
            (
                4,
                "invalid n_components = 4: between 1 and the number of samples (3)",
            ),
        ];
        for (n_components, expected) in cases {
            let config = GaussianMixtureConfig {
                n_components,
                ..GaussianMixtureConfig::default()
            };
            let error = gaussian_mixture(data.view(), &config).expect_err("bad k");
            assert_eq!(error.to_string(), expected);
        }
        let nan = array![[0.0, 1.0], [f64::NAN, 0.0]];
        let error =
            gaussian_mixture(nan.view(), &GaussianMixtureConfig::default()).expect_err("nan");
        assert!(matches!(
            error,
            Error::NonFinite {
                row: 1,
                column: 0,
                ..
            }
        ));
        let negative = GaussianMixtureConfig {
            reg_covar: -1.0,
            ..GaussianMixtureConfig::default()
        };
        let error = gaussian_mixture(data.view(), &negative).expect_err("reg_covar");
        assert_eq!(
            error.to_string(),
            "invalid reg_covar = -1: a finite number >= 0"
        );
        let collapsed = GaussianMixtureConfig {
            n_components: 2,
            reg_covar: 0.0,
            covariance_type: CovarianceType::Full,
            ..GaussianMixtureConfig::default()
        };
        let error = gaussian_mixture(data.view(), &collapsed).expect_err("singular");
        assert!(
            matches!(error, Error::IllDefinedCovariance { .. }),
            "{error}"
        );
    }

    #[test]
    fn config_reads_from_json_with_lowercase_covariance() {
        let config: GaussianMixtureConfig =
            serde_json::from_str(r#"{"n_components": 3, "covariance_type": "diag"}"#)
                .expect("valid");
        assert_eq!(config.covariance_type, CovarianceType::Diag);
        assert_eq!(config.max_iter, 100);
        let unknown: Result<GaussianMixtureConfig, _> =
            serde_json::from_str(r#"{"n_components": 3, "k": 2}"#);
        assert!(unknown.is_err(), "unknown fields are rejected");
    }
}
