//! External scores: compare a clustering with known classes.
//!
//! Definitions and edge cases follow scikit-learn 1.9
//! (`sklearn.metrics.cluster._supervised`) term by term, so values agree to
//! rounding noise:
//!
//! | score | range | both labellings a single cluster | empty input |
//! |---|---|---|---|
//! | [`adjusted_rand_score`] | [-0.5, 1] | 1.0 | 1.0 |
//! | [`normalized_mutual_info_score`] (arithmetic mean of entropies) | [0, 1] | 1.0 | 1.0 |
//! | [`purity_score`] | (0, 1] | 1.0 | error |
//!
//! Purity is not in scikit-learn: it is the share of samples that belong to
//! the majority true class of their cluster (Manning et al., *Introduction to
//! Information Retrieval*, 2008, section 16.3).

use crate::contingency::ContingencyTable;
use crate::error::{Error, Result};

/// Adjusted Rand index (Hubert and Arabie 1985) of two labellings.
///
/// Pair counts are formed exactly in `i128` (scikit-learn uses Python
/// integers), so n = 10^6 samples and beyond cannot overflow; only the final
/// ratio is rounded to `f64`.
pub fn adjusted_rand_score(labels_true: &[usize], labels_pred: &[usize]) -> Result<f64> {
    let table = ContingencyTable::new(labels_true, labels_pred)?;
    Ok(adjusted_rand_from_table(&table))
}

/// Adjusted Rand index from a prepared contingency table.
#[must_use]
pub fn adjusted_rand_from_table(table: &ContingencyTable) -> f64 {
    let n_samples = i128::from(table.n_samples);
    let mut sum_squares: i128 = 0;
    let mut weighted_by_cluster: i128 = 0;
    let mut weighted_by_class: i128 = 0;
    for cell in &table.cells {
        let count = i128::from(cell.count);
        sum_squares += count * count;
        weighted_by_cluster += count * i128::from(table.cluster_sizes[cell.cluster]);
        weighted_by_class += count * i128::from(table.class_sizes[cell.class]);
    }
    // scikit-learn's pair confusion matrix [[tn, fp], [fn, tp]].
    let true_positive = sum_squares - n_samples;
    let false_positive = weighted_by_cluster - sum_squares;
    let false_negative = weighted_by_class - sum_squares;
    let true_negative = n_samples * n_samples - false_positive - false_negative - sum_squares;
    if false_negative == 0 && false_positive == 0 {
        return 1.0;
    }
    let numerator = 2 * (true_positive * true_negative - false_negative * false_positive);
    let denominator = (true_positive + false_negative) * (false_negative + true_negative)
        + (true_positive + false_positive) * (false_positive + true_negative);
    numerator as f64 / denominator as f64
}

/// Mutual information (natural log) of the two labellings in `table`.
///
/// Mirrors `sklearn.metrics.mutual_info_score`: per-cell terms below machine
/// epsilon in magnitude are zeroed and the sum is clipped at 0.
#[must_use]
pub fn mutual_info_from_table(table: &ContingencyTable) -> f64 {
    if table.class_sizes.len() == 1 || table.cluster_sizes.len() == 1 {
        return 0.0;
    }
    let contingency_sum = table.n_samples as f64;
    let log_class_total = (table.class_sizes.iter().sum::<u64>() as f64).ln();
    let log_cluster_total = (table.cluster_sizes.iter().sum::<u64>() as f64).ln();
    let mut mutual_info = 0.0;
    for cell in &table.cells {
        let count = cell.count as f64;
        let log_count = count.ln();
        let probability = count / contingency_sum;
        let outer = u128::from(table.class_sizes[cell.class])
            * u128::from(table.cluster_sizes[cell.cluster]);
        let log_outer = -(outer as f64).ln() + log_class_total + log_cluster_total;
        let term = probability * (log_count - contingency_sum.ln()) + probability * log_outer;
        if term.abs() >= f64::EPSILON {
            mutual_info += term;
        }
    }
    mutual_info.max(0.0)
}

/// Entropy (natural log) of a labelling given its cluster sizes.
///
/// A single cluster has entropy 0, as in scikit-learn.
#[must_use]
pub fn entropy_from_sizes(sizes: &[u64]) -> f64 {
    let non_zero: Vec<f64> = sizes
        .iter()
        .filter(|&&size| size > 0)
        .map(|&size| size as f64)
        .collect();
    if non_zero.len() <= 1 {
        return 0.0;
    }
    let total: f64 = non_zero.iter().sum();
    let log_total = total.ln();
    let mut sum = 0.0;
    for &size in &non_zero {
        sum += (size / total) * (size.ln() - log_total);
    }
    -sum
}

/// Normalised mutual information with the arithmetic mean of the two
/// entropies as normaliser (scikit-learn's default `average_method`).
pub fn normalized_mutual_info_score(labels_true: &[usize], labels_pred: &[usize]) -> Result<f64> {
    let table = ContingencyTable::new(labels_true, labels_pred)?;
    Ok(normalized_mutual_info_from_table(&table))
}

/// Normalised mutual information (arithmetic) from a prepared table.
#[must_use]
pub fn normalized_mutual_info_from_table(table: &ContingencyTable) -> f64 {
    let n_classes = table.class_sizes.len();
    let n_clusters = table.cluster_sizes.len();
    // Both labellings unsplit (or empty): a perfect match.
    if n_classes == n_clusters && n_classes <= 1 {
        return 1.0;
    }
    let mutual_info = mutual_info_from_table(table);
    if mutual_info == 0.0 {
        return 0.0;
    }
    let entropy_true = entropy_from_sizes(&table.class_sizes);
    let entropy_pred = entropy_from_sizes(&table.cluster_sizes);
    let normaliser = f64::midpoint(entropy_true, entropy_pred);
    mutual_info / normaliser
}

/// Purity: the share of samples in the majority true class of their cluster.
pub fn purity_score(labels_true: &[usize], labels_pred: &[usize]) -> Result<f64> {
    let table = ContingencyTable::new(labels_true, labels_pred)?;
    purity_from_table(&table)
}

/// Purity from a prepared table; errors on an empty table.
pub fn purity_from_table(table: &ContingencyTable) -> Result<f64> {
    if table.n_samples == 0 {
        return Err(Error::Empty { what: "labels" });
    }
    let mut majority = vec![0_u64; table.cluster_sizes.len()];
    for cell in &table.cells {
        majority[cell.cluster] = majority[cell.cluster].max(cell.count);
    }
    let correct: u64 = majority.iter().sum();
    Ok(correct as f64 / table.n_samples as f64)
}

#[cfg(test)]
mod tests {
    use super::{adjusted_rand_score, normalized_mutual_info_score, purity_score};

    #[test]
    fn identical_partitions_score_one_whatever_the_ids() {
        let truth = [0, 0, 1, 1, 2, 2];
        let renamed = [5, 5, 3, 3, 9, 9];
        assert!((adjusted_rand_score(&truth, &renamed).expect("ok") - 1.0).abs() < 1e-15);
        assert!((normalized_mutual_info_score(&truth, &renamed).expect("ok") - 1.0).abs() < 1e-15);
        assert!((purity_score(&truth, &renamed).expect("ok") - 1.0).abs() < 1e-15);
    }

    #[test]
    fn ari_does_not_overflow_at_a_million_samples() {
        // Two labellings of 10^6 samples: pair counts reach 5e11 and the
        // products in the ARI formula reach 1e23, beyond u64.
        let n = 1_000_000;
        let mut truth = Vec::with_capacity(n);
        let mut pred = Vec::with_capacity(n);
        for index in 0..n {
            truth.push(index % 2);
            pred.push(usize::from(index % 10 == 0) + index % 2);
        }
        let ari = adjusted_rand_score(&truth, &pred).expect("same lengths");
        assert!(ari.is_finite() && ari > 0.0 && ari < 1.0, "ari = {ari}");
        // Identical huge labellings still give exactly 1.
        assert!((adjusted_rand_score(&truth, &truth).expect("ok") - 1.0).abs() < 1e-15);
    }

    #[test]
    fn purity_counts_majorities() {
        // Cluster 0 holds classes {0, 0, 1}, cluster 1 holds {1, 1, 1}: 5 of 6.
        let purity = purity_score(&[0, 0, 1, 1, 1, 1], &[0, 0, 0, 1, 1, 1]).expect("ok");
        assert!((purity - 5.0 / 6.0).abs() < 1e-15);
    }

    #[test]
    fn purity_of_nothing_is_an_error() {
        assert!(purity_score(&[], &[]).is_err());
    }
}
