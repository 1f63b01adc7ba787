//! Internal scores that need only the data and a labelling:
//! Davies-Bouldin and Calinski-Harabasz (silhouette has its own module,
//! [`crate::silhouette`]).
//!
//! Definitions, validity rules and edge cases follow scikit-learn 1.9
//! (`sklearn.metrics.cluster._unsupervised`):
//!
//! | score | better | edge case |
//! |---|---|---|
//! | [`davies_bouldin_score`] | lower, >= 0 | 0.0 when all intra-cluster distances or all centroid distances are ~0 (`<= 1e-8`) |
//! | [`calinski_harabasz_score`] | higher, >= 0 | 1.0 when the within-cluster dispersion is exactly 0 |
//!
//! All of them require `1 < n_labels < n_samples` ([`check_internal_inputs`]).

use ndarray::{Array2, ArrayView2};

use crate::error::{Error, Result, check_data};
use crate::labels::{EncodedLabels, encode_labels};

/// Validates data and labels for an internal score and encodes the labels.
///
/// Checks, in order: the data has rows and columns, every value is finite,
/// there is one label per row, and `1 < n_labels < n_samples` (scikit-learn's
/// `check_number_of_labels`).
pub fn check_internal_inputs(
    data: ArrayView2<'_, f64>,
    labels: &[usize],
) -> Result<EncodedLabels<usize>> {
    let n_samples = data.nrows();
    check_data(data)?;
    if labels.len() != n_samples {
        return Err(Error::LengthMismatch {
            what: "labels",
            got: labels.len(),
            expected: n_samples,
        });
    }
    let encoded = encode_labels(labels);
    let n_labels = encoded.classes.len();
    if n_labels < 2 || n_labels >= n_samples {
        return Err(Error::InvalidLabelCount {
            n_labels,
            n_samples,
        });
    }
    Ok(encoded)
}

/// Per-cluster means, summed row by row in input order then divided by the
/// count (the order numpy's `mean(axis=0)` uses).
#[must_use]
pub fn cluster_means(data: ArrayView2<'_, f64>, ids: &[usize], counts: &[usize]) -> Array2<f64> {
    let mut means = Array2::<f64>::zeros((counts.len(), data.ncols()));
    for (row, &id) in data.outer_iter().zip(ids) {
        let mut mean = means.row_mut(id);
        mean += &row;
    }
    for (mut mean, &count) in means.outer_iter_mut().zip(counts) {
        mean /= count as f64;
    }
    means
}

/// Euclidean distance by scikit-learn's formula `sqrt(max(-2 x.y + |x|^2 + |y|^2, 0))`,
/// evaluated in the same order, so rounding matches `pairwise_distances`.
fn dot_trick_distance(x: ndarray::ArrayView1<'_, f64>, y: ndarray::ArrayView1<'_, f64>) -> f64 {
    let mut dot = 0.0;
    let mut x_norm = 0.0;
    let mut y_norm = 0.0;
    for (&a, &b) in x.iter().zip(y) {
        dot += a * b;
        x_norm += a * a;
        y_norm += b * b;
    }
    let squared = -2.0 * dot + x_norm + y_norm;
    squared.max(0.0).sqrt()
}

/// Davies-Bouldin index (Davies and Bouldin 1979): the mean over clusters of
/// the worst ratio `(s_i + s_j) / d(c_i, c_j)`, with `s_i` the mean distance
/// of cluster `i`'s points to its centroid. Lower is better.
pub fn davies_bouldin_score(data: ArrayView2<'_, f64>, labels: &[usize]) -> Result<f64> {
    let encoded = check_internal_inputs(data, labels)?;
    let counts = encoded.counts();
    let n_labels = counts.len();
    let centroids = cluster_means(data, &encoded.ids, &counts);
    let mut distance_sums = vec![0.0; n_labels];
    for (row, &id) in data.outer_iter().zip(&encoded.ids) {
        distance_sums[id] += dot_trick_distance(row, centroids.row(id));
    }
    let mut intra_distances = vec![0.0; n_labels];
    for cluster in 0..n_labels {
        intra_distances[cluster] = distance_sums[cluster] / counts[cluster] as f64;
    }
    let mut centroid_distances = Array2::<f64>::zeros((n_labels, n_labels));
    for i in 0..n_labels {
        for j in 0..n_labels {
            if i != j {
                centroid_distances[[i, j]] = dot_trick_distance(centroids.row(i), centroids.row(j));
            }
        }
    }
    // numpy's isclose(x, 0) with its default atol = 1e-8.
    let all_intra_zero = intra_distances
        .iter()
        .all(|distance| distance.abs() <= 1e-8);
    let all_centroids_zero = centroid_distances
        .iter()
        .all(|distance| distance.abs() <= 1e-8);
    if all_intra_zero || all_centroids_zero {
        return Ok(0.0);
    }
    let mut score_sum = 0.0;
    for i in 0..n_labels {
        let mut worst = f64::NEG_INFINITY;
        for j in 0..n_labels {
            let distance = centroid_distances[[i, j]];
            let distance = if distance == 0.0 {
                f64::INFINITY
            } else {
                distance
            };
            worst = worst.max((intra_distances[i] + intra_distances[j]) / distance);
        }
        score_sum += worst;
    }
    Ok(score_sum / n_labels as f64)
}

/// Calinski-Harabasz index (variance ratio criterion, Calinski and Harabasz
/// 1974): between-cluster over within-cluster dispersion, each divided by its
/// degrees of freedom. Higher is better; 1.0 when the within-cluster
/// dispersion is exactly 0 (scikit-learn's convention).
pub fn calinski_harabasz_score(data: ArrayView2<'_, f64>, labels: &[usize]) -> Result<f64> {
    let encoded = check_internal_inputs(data, labels)?;
    let counts = encoded.counts();
    let n_labels = counts.len();
    let n_samples = data.nrows();
    let mut overall_mean = vec![0.0; data.ncols()];
    for row in data.outer_iter() {
        for (sum, &value) in overall_mean.iter_mut().zip(row) {
            *sum += value;
        }
    }
    for sum in &mut overall_mean {
        *sum /= n_samples as f64;
    }
    let means = cluster_means(data, &encoded.ids, &counts);
    let mut extra_dispersion = 0.0;
    for (cluster, mean) in means.outer_iter().enumerate() {
        let mut squared = 0.0;
        for (&cluster_value, &overall_value) in mean.iter().zip(&overall_mean) {
            squared += (cluster_value - overall_value) * (cluster_value - overall_value);
        }
        extra_dispersion += counts[cluster] as f64 * squared;
    }
    let mut intra_dispersion = 0.0;
    for (row, &id) in data.outer_iter().zip(&encoded.ids) {
        for (&value, &mean) in row.iter().zip(means.row(id)) {
            intra_dispersion += (value - mean) * (value - mean);
        }
    }
    if intra_dispersion == 0.0 {
        return Ok(1.0);
    }
    Ok(extra_dispersion * (n_samples - n_labels) as f64
        / (intra_dispersion * (n_labels as f64 - 1.0)))
}

#[cfg(test)]
mod tests {
    use ndarray::array;

    use super::{calinski_harabasz_score, davies_bouldin_score};
    use crate::error::Error;

    #[test]
    fn label_count_rules_follow_scikit_learn() {
        let data = array![[0.0], [1.0], [2.0]];
        let one_label = davies_bouldin_score(data.view(), &[4, 4, 4]).expect_err("one label");
        assert!(matches!(
            one_label,
            Error::InvalidLabelCount {
                n_labels: 1,
                n_samples: 3
            }
        ));
        let all_distinct = calinski_harabasz_score(data.view(), &[0, 1, 2]).expect_err("n labels");
        assert_eq!(
            all_distinct.to_string(),
            "number of labels is 3; valid values are 2 to n_samples - 1 = 2 (inclusive)"
        );
    }

    #[test]
    fn non_finite_data_names_row_and_column() {
        let data = array![[0.0, 1.0], [1.0, f64::NAN], [2.0, 0.0]];
        let error = calinski_harabasz_score(data.view(), &[0, 0, 1]).expect_err("nan");
        assert_eq!(error.to_string(), "non-finite value NaN at row 1, column 1");
    }

    #[test]
    fn zero_within_dispersion_gives_one() {
        let data = array![[0.0], [0.0], [3.0], [3.0]];
        let score = calinski_harabasz_score(data.view(), &[0, 0, 1, 1]).expect("valid");
        assert!((score - 1.0).abs() < f64::EPSILON);
        assert!(
            davies_bouldin_score(data.view(), &[0, 0, 1, 1])
                .expect("valid")
                .abs()
                < f64::EPSILON
        );
    }
}
