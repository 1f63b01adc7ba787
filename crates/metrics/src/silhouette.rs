//! Silhouette coefficient (Rousseeuw 1987) without an n x n matrix.
//!
//! For sample `i` with mean distance `a` to the other members of its cluster
//! and smallest mean distance `b` to the members of another cluster, the
//! silhouette is `(b - a) / max(a, b)`; a sample alone in its cluster scores 0
//! (scikit-learn's convention), and so does a sample with `a = b = 0`.
//!
//! # How it is computed
//!
//! Samples are first reordered so that each cluster is a contiguous range.
//! Rows are then processed in blocks of [`ROW_BLOCK`] (in parallel with rayon)
//! against column tiles of [`COLUMN_TILE`] samples: each tile's distances are
//! formed with one matrix product as scikit-learn's `euclidean_distances`
//! does, `sqrt(max(-2 x.y + |x|^2 + |y|^2, 0))` in `f64` with the self
//! distance set to exactly 0, and summed straight into per-cluster totals.
//! Memory is O(n k) for the totals plus one `ROW_BLOCK x COLUMN_TILE` buffer
//! per thread; no n x n matrix is ever built. Each sample's value depends only
//! on fixed-order sums, so results do not depend on the thread count.

use ndarray::{Array2, ArrayView2, linalg::general_mat_mul, s};
use rayon::prelude::{IndexedParallelIterator, ParallelIterator, ParallelSliceMut};

use crate::error::Result;
use crate::internal::check_internal_inputs;

/// Rows of the data processed together by one task.
pub const ROW_BLOCK: usize = 128;
/// Columns (samples) of one distance tile.
pub const COLUMN_TILE: usize = 512;

/// Silhouette of every sample, in input order.
///
/// Same validation as every internal score (`1 < n_labels < n_samples`,
/// finite values, one label per row).
pub fn silhouette_samples(data: ArrayView2<'_, f64>, labels: &[usize]) -> Result<Vec<f64>> {
    let encoded = check_internal_inputs(data, labels)?;
    let counts = encoded.counts();
    let n_clusters = counts.len();
    let (n_samples, n_features) = data.dim();

    // Cluster ranges in the reordered data: cluster c is offsets[c]..offsets[c + 1].
    let mut offsets = vec![0_usize; n_clusters + 1];
    for cluster in 0..n_clusters {
        offsets[cluster + 1] = offsets[cluster] + counts[cluster];
    }
    let mut next_slot = offsets.clone();
    let mut sorted_to_original = vec![0_usize; n_samples];
    for (original, &id) in encoded.ids.iter().enumerate() {
        sorted_to_original[next_slot[id]] = original;
        next_slot[id] += 1;
    }
    let mut sorted_data = Array2::<f64>::zeros((n_samples, n_features));
    let mut sorted_labels = vec![0_usize; n_samples];
    let mut squared_norms = vec![0.0_f64; n_samples];
    for (slot, &original) in sorted_to_original.iter().enumerate() {
        sorted_data.row_mut(slot).assign(&data.row(original));
        sorted_labels[slot] = encoded.ids[original];
        let mut norm = 0.0;
        for &value in data.row(original) {
            norm += value * value;
        }
        squared_norms[slot] = norm;
    }

    let mut sorted_scores = vec![0.0_f64; n_samples];
    sorted_scores
        .par_chunks_mut(ROW_BLOCK)
        .enumerate()
        .for_each(|(block_index, block_scores)| {
            let row_start = block_index * ROW_BLOCK;
            let block_rows = block_scores.len();
            let row_data = sorted_data.slice(s![row_start..row_start + block_rows, ..]);
            let mut cluster_sums = vec![0.0_f64; block_rows * n_clusters];
            let mut tile = Array2::<f64>::zeros((block_rows, COLUMN_TILE));
            let mut column_start = 0;
            while column_start < n_samples {
                let tile_columns = COLUMN_TILE.min(n_samples - column_start);
                let column_data =
                    sorted_data.slice(s![column_start..column_start + tile_columns, ..]);
                let mut distances = tile.slice_mut(s![.., ..tile_columns]);
                // distances = -2 x.y (multiplying by -2 is exact).
                general_mat_mul(-2.0, &row_data, &column_data.t(), 0.0, &mut distances);
                for (row_offset, mut distance_row) in distances.outer_iter_mut().enumerate() {
                    let row = row_start + row_offset;
                    let row_norm = squared_norms[row];
                    let column_norms = &squared_norms[column_start..column_start + tile_columns];
                    for (distance, &column_norm) in distance_row.iter_mut().zip(column_norms) {
                        let squared = *distance + row_norm + column_norm;
                        *distance = squared.max(0.0).sqrt();
                    }
                    if (column_start..column_start + tile_columns).contains(&row) {
                        distance_row[row - column_start] = 0.0;
                    }
                    // Walk the clusters that overlap this tile and add each
                    // contiguous run of distances to that cluster's total.
                    let mut column = column_start;
                    while column < column_start + tile_columns {
                        let cluster = sorted_labels[column];
                        let run_end = offsets[cluster + 1].min(column_start + tile_columns);
                        let mut run_sum = 0.0;
                        for &distance in
                            distance_row.slice(s![column - column_start..run_end - column_start])
                        {
                            run_sum += distance;
                        }
                        cluster_sums[row_offset * n_clusters + cluster] += run_sum;
                        column = run_end;
                    }
                }
                column_start += tile_columns;
            }
            for (row_offset, score) in block_scores.iter_mut().enumerate() {
                let own = sorted_labels[row_start + row_offset];
                let sums = &cluster_sums[row_offset * n_clusters..(row_offset + 1) * n_clusters];
                if counts[own] == 1 {
                    *score = 0.0;
                    continue;
                }
                let intra = sums[own] / (counts[own] - 1) as f64;
                let mut inter = f64::INFINITY;
                for cluster in 0..n_clusters {
                    if cluster != own {
                        inter = inter.min(sums[cluster] / counts[cluster] as f64);
                    }
                }
                let denominator = intra.max(inter);
                *score = if denominator == 0.0 {
                    0.0
                } else {
                    (inter - intra) / denominator
                };
            }
        });

    let mut scores = vec![0.0_f64; n_samples];
    for (slot, &original) in sorted_to_original.iter().enumerate() {
        scores[original] = sorted_scores[slot];
    }
    Ok(scores)
}

/// Mean silhouette over all samples (scikit-learn's `silhouette_score`
/// without sub-sampling). In [-1, 1]; higher is better.
pub fn silhouette_score(data: ArrayView2<'_, f64>, labels: &[usize]) -> Result<f64> {
    let scores = silhouette_samples(data, labels)?;
    let mut sum = 0.0;
    for &score in &scores {
        sum += score;
    }
    Ok(sum / scores.len() as f64)
}

#[cfg(test)]
mod tests {
    use ndarray::array;

    use super::{silhouette_samples, silhouette_score};

    /// The definition evaluated naively, for comparison.
    fn naive_silhouette(points: &[f64], labels: &[usize]) -> Vec<f64> {
        let n = points.len();
        let mut scores = Vec::new();
        for i in 0..n {
            let own_size = labels.iter().filter(|&&label| label == labels[i]).count();
            if own_size == 1 {
                scores.push(0.0);
                continue;
            }
            let mut own_sum = 0.0;
            let mut other_sums = std::collections::BTreeMap::<usize, (f64, usize)>::new();
            for j in 0..n {
                let distance = (points[i] - points[j]).abs();
                if labels[j] == labels[i] {
                    own_sum += distance;
                } else {
                    let entry = other_sums.entry(labels[j]).or_insert((0.0, 0));
                    entry.0 += distance;
                    entry.1 += 1;
                }
            }
            let a = own_sum / (own_size - 1) as f64;
            let b = other_sums
                .values()
                .map(|&(sum, count)| sum / count as f64)
                .fold(f64::INFINITY, f64::min);
            scores.push((b - a) / a.max(b));
        }
        scores
    }

    #[test]
    fn matches_the_naive_definition_across_tiles_and_singletons() {
        // More samples than one row block and one column tile, unsorted labels,
        // one singleton cluster; integer points keep every distance exact.
        let n = 1300;
        let mut points = Vec::new();
        let mut labels = Vec::new();
        for index in 0..n {
            let cluster = (index * 7) % 3;
            labels.push(if index == 17 { 3 } else { cluster });
            points.push((cluster * 40 + (index * 13) % 17) as f64);
        }
        let data = ndarray::Array2::from_shape_vec((n, 1), points.clone()).expect("shape");
        let ours = silhouette_samples(data.view(), &labels).expect("valid");
        let expected = naive_silhouette(&points, &labels);
        assert_eq!(
            ours[17].to_bits(),
            0.0_f64.to_bits(),
            "singleton scores exactly 0"
        );
        for (index, (&got, &want)) in ours.iter().zip(&expected).enumerate() {
            assert!(
                (got - want).abs() <= 1e-12 * want.abs().max(1.0),
                "sample {index}: {got} vs {want}"
            );
        }
    }

    #[test]
    fn coincident_clusters_score_zero() {
        let data = array![[1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0]];
        let score = silhouette_score(data.view(), &[0, 0, 1, 1]).expect("valid");
        assert_eq!(
            score.to_bits(),
            0.0_f64.to_bits(),
            "a = b = 0 scores exactly 0"
        );
    }
}
