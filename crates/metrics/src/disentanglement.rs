//! Disentanglement scores of a latent space: MIG and active units.
//!
//! # Mutual information gap (MIG)
//!
//! Chen, Li, Grosse and Duvenaud, "Isolating Sources of Disentanglement in
//! Variational Autoencoders", `NeurIPS` 2018. For each discrete factor `v_k`
//! (genre, language, ...) and each latent dimension `z_j` (the encoder means):
//!
//! ```text
//! MIG = 1/K sum_k ( I(z_(j1); v_k) - I(z_(j2); v_k) ) / H(v_k)
//! ```
//!
//! where `j1` and `j2` are the latent dimensions with the highest and
//! second-highest mutual information with `v_k`. Mutual information needs
//! discrete latents: as in `disentanglement_lib` (Locatello et al. 2019), each
//! latent dimension is cut into [`MIG_BINS`] = 20 equal-width bins between its
//! minimum and maximum (numpy's `histogram` edges and `digitize`), and
//! `I` and `H` are scikit-learn's `mutual_info_score` (natural log). MIG lies
//! in [0, 1]; 1 means every factor is captured by one latent alone.
//!
//! # Active units
//!
//! Burda, Grosse and Salakhutdinov, "Importance Weighted Autoencoders",
//! ICLR 2016: latent dimension `u` is active when `Cov_x(E_q(u|x)[u]) > 0.01`,
//! i.e. when the variance of its encoder mean across the data exceeds
//! [`ACTIVE_UNIT_THRESHOLD`]. The variance is the population variance
//! (numpy's `var`, `ddof = 0`). Inactive units have collapsed to the prior.

use ndarray::ArrayView2;

use crate::contingency::ContingencyTable;
use crate::error::{Error, Result, check_finite};
use crate::external::mutual_info_from_table;

/// Equal-width bins per latent dimension for MIG.
pub const MIG_BINS: usize = 20;
/// A latent dimension is active when its mean varies by more than this.
pub const ACTIVE_UNIT_THRESHOLD: f64 = 0.01;

/// MIG and the quantities it is made of.
#[derive(Debug, Clone, PartialEq)]
pub struct Mig {
    /// The mutual information gap, averaged over factors.
    pub mig: f64,
    /// The normalised gap of each factor, in factor order.
    pub gaps: Vec<f64>,
    /// `mutual_information[factor][latent]`, in nats.
    pub mutual_information: Vec<Vec<f64>>,
}

/// Bin index of every value of one latent dimension: the number of the 20
/// left bin edges `min + i (max - min) / 20` that are `<= value`, exactly as
/// numpy's `digitize(values, histogram_bin_edges(values, 20)[:-1])`.
#[must_use]
pub fn discretise(values: &[f64], n_bins: usize) -> Vec<usize> {
    let mut minimum = f64::INFINITY;
    let mut maximum = f64::NEG_INFINITY;
    for &value in values {
        minimum = minimum.min(value);
        maximum = maximum.max(value);
    }
    let range = maximum - minimum;
    if range == 0.0 {
        // numpy widens a zero range to (min - 0.5, max + 0.5): one bin for all.
        return vec![0; values.len()];
    }
    let step = range / n_bins as f64;
    let mut edges = Vec::with_capacity(n_bins);
    for index in 0..n_bins {
        edges.push(index as f64 * step + minimum);
    }
    let mut bins = Vec::with_capacity(values.len());
    for &value in values {
        bins.push(edges.partition_point(|&edge| edge <= value));
    }
    bins
}

/// Mutual information gap of `latents` (one sample per row, one latent
/// dimension per column) against discrete `factors` (each one label per row).
///
/// Errors on fewer than two latent dimensions, no factors, a factor with a
/// single class (zero entropy: its gap is undefined), length mismatches and
/// non-finite latents.
pub fn mutual_information_gap(latents: ArrayView2<'_, f64>, factors: &[Vec<usize>]) -> Result<Mig> {
    let (n_samples, n_latents) = latents.dim();
    if n_samples == 0 {
        return Err(Error::Empty { what: "latents" });
    }
    if n_latents < 2 {
        return Err(Error::InvalidParameter {
            parameter: "latent dimensions",
            value: n_latents.to_string(),
            expected: "at least 2 for a gap between the top two".to_owned(),
        });
    }
    if factors.is_empty() {
        return Err(Error::Empty { what: "factors" });
    }
    check_finite(latents)?;
    let mut discretised = Vec::with_capacity(n_latents);
    for column in latents.columns() {
        let values: Vec<f64> = column.iter().copied().collect();
        discretised.push(discretise(&values, MIG_BINS));
    }
    let mut gaps = Vec::with_capacity(factors.len());
    let mut mutual_information = Vec::with_capacity(factors.len());
    for (factor_index, factor) in factors.iter().enumerate() {
        if factor.len() != n_samples {
            return Err(Error::LengthMismatch {
                what: "factor labels",
                got: factor.len(),
                expected: n_samples,
            });
        }
        let entropy = mutual_info_from_table(&ContingencyTable::new(factor, factor)?);
        if entropy == 0.0 {
            return Err(Error::InvalidParameter {
                parameter: "factor",
                value: factor_index.to_string(),
                expected: "at least two classes (a single class has zero entropy)".to_owned(),
            });
        }
        let mut information = Vec::with_capacity(n_latents);
        for bins in &discretised {
            information.push(mutual_info_from_table(&ContingencyTable::new(
                factor, bins,
            )?));
        }
        let mut sorted = information.clone();
        sorted.sort_by(|a, b| b.total_cmp(a));
        gaps.push((sorted[0] - sorted[1]) / entropy);
        mutual_information.push(information);
    }
    let mig = gaps.iter().sum::<f64>() / gaps.len() as f64;
    Ok(Mig {
        mig,
        gaps,
        mutual_information,
    })
}

/// Active units and the per-dimension variances they are judged on.
#[derive(Debug, Clone, PartialEq)]
pub struct ActiveUnits {
    /// Number of active latent dimensions.
    pub count: usize,
    /// Population variance of each latent mean across the data.
    pub variances: Vec<f64>,
    /// Whether each dimension is active (`variance > 0.01`).
    pub active: Vec<bool>,
}

/// Counts the latent dimensions whose mean varies by more than
/// [`ACTIVE_UNIT_THRESHOLD`] across the data (`latents`: encoder means, one
/// sample per row).
pub fn active_units(latents: ArrayView2<'_, f64>) -> Result<ActiveUnits> {
    let n_samples = latents.nrows();
    if n_samples == 0 {
        return Err(Error::Empty { what: "latents" });
    }
    check_finite(latents)?;
    let mut variances = Vec::with_capacity(latents.ncols());
    let mut active = Vec::with_capacity(latents.ncols());
    for column in latents.columns() {
        let mut sum = 0.0;
        for &value in column {
            sum += value;
        }
        let mean = sum / n_samples as f64;
        let mut squares = 0.0;
        for &value in column {
            squares += (value - mean) * (value - mean);
        }
        let variance = squares / n_samples as f64;
        variances.push(variance);
        active.push(variance > ACTIVE_UNIT_THRESHOLD);
    }
    let count = active.iter().filter(|&&is_active| is_active).count();
    Ok(ActiveUnits {
        count,
        variances,
        active,
    })
}

#[cfg(test)]
mod tests {
    use ndarray::array;

    use super::{active_units, discretise, mutual_information_gap};

    #[test]
    fn bins_follow_numpy_digitize() {
        // Edges 0, 0.5, ..., 9.5 for values in [0, 10]: the maximum falls in bin 20.
        let bins = discretise(&[0.0, 0.49, 0.5, 9.99, 10.0], 20);
        assert_eq!(bins, vec![1, 1, 2, 20, 20]);
        assert_eq!(discretise(&[3.0, 3.0], 20), vec![0, 0]);
    }

    #[test]
    fn a_latent_copying_the_factor_gives_a_gap_of_one() {
        let latents = array![[0.0, 5.0], [1.0, 5.0], [0.0, 5.0], [1.0, 5.0]];
        let mig = mutual_information_gap(latents.view(), &[vec![0, 1, 0, 1]]).expect("valid");
        assert!((mig.mig - 1.0).abs() < 1e-12, "{}", mig.mig);
    }

    #[test]
    fn single_class_factor_is_an_error() {
        let latents = array![[0.0, 5.0], [1.0, 5.0]];
        let error =
            mutual_information_gap(latents.view(), &[vec![3, 3]]).expect_err("zero entropy");
        assert_eq!(
            error.to_string(),
            "invalid factor = 0: at least two classes (a single class has zero entropy)"
        );
    }

    #[test]
    fn active_units_use_the_threshold() {
        let latents = array![[0.0, 0.0], [1.0, 0.1], [2.0, 0.0], [3.0, 0.1]];
        let units = active_units(latents.view()).expect("valid");
        assert_eq!(units.count, 1);
        assert_eq!(units.active, vec![true, false]);
    }
}
