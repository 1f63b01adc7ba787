//! Silhouette coefficient (Rousseeuw 1987) without an n x n matrix.
//!
//! For sample `i` with mean distance `a` to the other members of its cluster
//! and smallest mean distance `b` to the members of another cluster, the
//! silhouette is `(b - a) / max(a, b)`; a sample alone in its cluster scores 0
//! (scikit-learn's convention), and so does a sample with `a = b = 0`.
//!
//! # How it is computed
//!
//! Samples are first reordered so that each cluster is a contiguous range,
//! and cut into blocks of [`BLOCK`] samples. Every distance is computed once
//! and added to both of its samples' per-cluster totals:
//!
//! 1. the pairs within each block (all blocks in parallel);
//! 2. the pairs across two blocks, one tile per pair of blocks, adding each
//!    distance to the row's total for the column's cluster and to the
//!    column's total for the row's cluster. The tiles are scheduled in
//!    rounds of a round-robin tournament (the circle method): within a round
//!    no block appears twice, so the tiles of a round run in parallel
//!    without sharing any total, and every total receives its terms in the
//!    same order whatever the number of threads.
//!
//! Distances are formed as scikit-learn's `euclidean_distances` does in
//! `f64`: `sqrt(max(-2 x.y + |x|^2 + |y|^2, 0))`, with the self distance
//! exactly 0. The dot products come from a register-blocked kernel (4 rows x
//! 8 columns at a time, features in order, `f64::mul_add`) that
//! `multiversion` compiles for AVX2 + FMA with a portable fallback; a fused
//! multiply-add is exactly rounded on every platform, so every instruction
//! set gives the same bits. Memory is O(n k) for the totals plus a packed
//! copy of the data and small per-tile buffers (at most `BLOCK x BLOCK`); no
//! n x n matrix is ever built.

use multiversion::multiversion;
use ndarray::ArrayView2;
use rayon::prelude::{
    IndexedParallelIterator, IntoParallelIterator, ParallelIterator, ParallelSlice,
    ParallelSliceMut,
};

use crate::error::Result;
use crate::internal::check_internal_inputs;

/// Samples per block: the unit of the pair schedule (a multiple of the
/// kernel's 8 columns and 4 rows; one block of 16 features is 16 KiB, so a
/// tile's columns stay in L1).
pub const BLOCK: usize = 128;

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
    // Rows of the reordered data (row-major), and the same data packed in
    // panels of COLUMN_LANES samples: panel p holds, feature after feature,
    // the values of samples p * COLUMN_LANES.. (zero padded at the end).
    let padded_samples = n_samples.div_ceil(COLUMN_LANES) * COLUMN_LANES;
    let mut rows = vec![0.0_f64; n_samples * n_features];
    let mut panels = vec![0.0_f64; padded_samples * n_features];
    let mut sorted_labels = vec![0_usize; n_samples];
    let mut squared_norms = vec![0.0_f64; padded_samples];
    for (slot, &original) in sorted_to_original.iter().enumerate() {
        sorted_labels[slot] = encoded.ids[original];
        let panel_start = (slot / COLUMN_LANES) * n_features * COLUMN_LANES;
        let mut norm = 0.0;
        for (feature, &value) in data.row(original).iter().enumerate() {
            rows[slot * n_features + feature] = value;
            panels[panel_start + feature * COLUMN_LANES + slot % COLUMN_LANES] = value;
            norm += value * value;
        }
        squared_norms[slot] = norm;
    }
    let sorted = SortedData {
        rows,
        panels,
        squared_norms,
        labels: sorted_labels,
        offsets,
        n_samples,
        n_features,
        n_clusters,
    };

    // cluster_sums[row * n_clusters + c]: sum of the distances of a sorted
    // row to the members of cluster c.
    let block_len = BLOCK * n_clusters;
    let mut cluster_sums = vec![0.0_f64; n_samples * n_clusters];
    cluster_sums
        .par_chunks_mut(block_len)
        .enumerate()
        .for_each(|(block, sums)| diagonal_block(&sorted, block, sums));
    for round in round_robin(n_samples.div_ceil(BLOCK)) {
        let mut slots: Vec<Option<&mut [f64]>> =
            cluster_sums.chunks_mut(block_len).map(Some).collect();
        let mut tiles = Vec::with_capacity(round.len());
        for (first, second) in round {
            if let (Some(first_sums), Some(second_sums)) =
                (slots[first].take(), slots[second].take())
            {
                tiles.push((first, second, first_sums, second_sums));
            }
        }
        tiles
            .into_par_iter()
            .for_each(|(first, second, first_sums, second_sums)| {
                cross_blocks(&sorted, first, second, first_sums, second_sums);
            });
    }

    let mut sorted_scores = vec![0.0_f64; n_samples];
    sorted_scores
        .par_chunks_mut(BLOCK)
        .zip(cluster_sums.par_chunks(block_len))
        .enumerate()
        .for_each(|(block, (block_scores, block_sums))| {
            for (row_offset, score) in block_scores.iter_mut().enumerate() {
                let own = sorted.labels[block * BLOCK + row_offset];
                let sums = &block_sums[row_offset * n_clusters..(row_offset + 1) * n_clusters];
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

/// The pairs of `n_blocks` blocks in rounds (the circle method of a
/// round-robin tournament): every pair `(a, b)`, `a < b`, in exactly one
/// round, and no block twice in a round.
fn round_robin(n_blocks: usize) -> Vec<Vec<(usize, usize)>> {
    // An odd count gets a dummy block whose pairs are skipped.
    let players = n_blocks + n_blocks % 2;
    let mut rounds = Vec::with_capacity(players.saturating_sub(1));
    for round in 0..players.saturating_sub(1) {
        let mut pairs = Vec::with_capacity(players / 2);
        let mut add = |a: usize, b: usize| {
            if a < n_blocks && b < n_blocks {
                pairs.push((a.min(b), a.max(b)));
            }
        };
        add(players - 1, round);
        for step in 1..players / 2 {
            add(
                (round + step) % (players - 1),
                (round + players - 1 - step) % (players - 1),
            );
        }
        rounds.push(pairs);
    }
    rounds
}

/// Rows of one distance kernel call.
const ROW_GROUP: usize = 4;
/// Columns of one distance kernel call (two AVX registers of `f64`).
const COLUMN_LANES: usize = 8;

/// The reordered data, shared read-only by every task.
struct SortedData {
    /// `n_samples x n_features`, row-major, clusters contiguous.
    rows: Vec<f64>,
    /// Panels of [`COLUMN_LANES`] samples, each `n_features x COLUMN_LANES`.
    panels: Vec<f64>,
    /// `|x|^2` of every row (zero padded like the panels).
    squared_norms: Vec<f64>,
    /// Cluster id of every row.
    labels: Vec<usize>,
    /// Cluster `c` is rows `offsets[c]..offsets[c + 1]`.
    offsets: Vec<usize>,
    n_samples: usize,
    n_features: usize,
    n_clusters: usize,
}

impl SortedData {
    /// First sample and sample count of `block`.
    fn block_range(&self, block: usize) -> (usize, usize) {
        let start = block * BLOCK;
        (start, BLOCK.min(self.n_samples - start))
    }
}

/// The [`ROW_GROUP`] rows of the group starting at `row`; rows past `end`
/// repeat the last one (their results are unused).
fn row_group(row: usize, end: usize) -> [usize; ROW_GROUP] {
    let mut group = [row; ROW_GROUP];
    for (offset, slot) in group.iter_mut().enumerate() {
        *slot = (row + offset).min(end - 1);
    }
    group
}

/// Adds the distances of every pair of samples within `block` to the block's
/// totals `sums` (`rows x n_clusters`).
#[multiversion(targets("x86_64+avx2+fma"))]
fn diagonal_block(sorted: &SortedData, block: usize, sums: &mut [f64]) {
    let n_clusters = sorted.n_clusters;
    let (start, block_rows) = sorted.block_range(block);
    let mut distances = vec![0.0_f64; ROW_GROUP * BLOCK];
    let mut group_start = 0;
    while group_start < block_rows {
        let group_rows = ROW_GROUP.min(block_rows - group_start);
        let rows = row_group(start + group_start, start + block_rows);
        group_distances(sorted, rows, start, block_rows, &mut distances);
        for group_row in 0..group_rows {
            let row_offset = group_start + group_row;
            let distance_row = &mut distances[group_row * BLOCK..group_row * BLOCK + block_rows];
            distance_row[row_offset] = 0.0;
            add_cluster_runs(
                sorted,
                start,
                distance_row,
                &mut sums[row_offset * n_clusters..(row_offset + 1) * n_clusters],
            );
        }
        group_start += ROW_GROUP;
    }
}

/// Adds the distances of every pair (row of block `first`, row of block
/// `second`) to both rows' totals: `first_sums` by the second row's cluster,
/// `second_sums` by the first row's cluster.
#[multiversion(targets("x86_64+avx2+fma"))]
fn cross_blocks(
    sorted: &SortedData,
    first: usize,
    second: usize,
    first_sums: &mut [f64],
    second_sums: &mut [f64],
) {
    let n_clusters = sorted.n_clusters;
    let (first_start, first_rows) = sorted.block_range(first);
    let (second_start, second_rows) = sorted.block_range(second);
    // The first block's rows span clusters first_cluster..=last (contiguous).
    let first_cluster = sorted.labels[first_start];
    let span = sorted.labels[first_start + first_rows - 1] - first_cluster + 1;
    // column_sums[c * BLOCK + j]: distances of second-block column j to the
    // first block's rows of cluster first_cluster + c, added row by row.
    let mut column_sums = vec![0.0_f64; span * BLOCK];
    let mut distances = vec![0.0_f64; ROW_GROUP * BLOCK];
    let mut group_start = 0;
    while group_start < first_rows {
        let group_rows = ROW_GROUP.min(first_rows - group_start);
        let rows = row_group(first_start + group_start, first_start + first_rows);
        group_distances(sorted, rows, second_start, second_rows, &mut distances);
        for (group_row, &row) in rows.iter().enumerate().take(group_rows) {
            let row_offset = group_start + group_row;
            let distance_row = &distances[group_row * BLOCK..group_row * BLOCK + second_rows];
            add_cluster_runs(
                sorted,
                second_start,
                distance_row,
                &mut first_sums[row_offset * n_clusters..(row_offset + 1) * n_clusters],
            );
            let local = sorted.labels[row] - first_cluster;
            for (total, &distance) in column_sums[local * BLOCK..local * BLOCK + second_rows]
                .iter_mut()
                .zip(distance_row)
            {
                *total += distance;
            }
        }
        group_start += ROW_GROUP;
    }
    for column in 0..second_rows {
        let totals = &mut second_sums[column * n_clusters..(column + 1) * n_clusters];
        for local in 0..span {
            totals[first_cluster + local] += column_sums[local * BLOCK + column];
        }
    }
}

/// Distances of the [`ROW_GROUP`] sorted rows `rows` to the samples
/// `column_start..column_start + columns` (`column_start` a multiple of
/// [`COLUMN_LANES`]) into `distances[group_row * BLOCK + column offset]`.
/// Always inlined so that it is compiled for the caller's instruction set.
#[allow(clippy::inline_always)]
#[inline(always)]
fn group_distances(
    sorted: &SortedData,
    rows: [usize; ROW_GROUP],
    column_start: usize,
    columns: usize,
    distances: &mut [f64],
) {
    let n_features = sorted.n_features;
    let panel_size = n_features * COLUMN_LANES;
    let mut group_data: [&[f64]; ROW_GROUP] = [&[]; ROW_GROUP];
    let mut group_norms = [0.0_f64; ROW_GROUP];
    for (offset, &row) in rows.iter().enumerate() {
        group_data[offset] = &sorted.rows[row * n_features..(row + 1) * n_features];
        group_norms[offset] = sorted.squared_norms[row];
    }
    for tile_panel in 0..columns.div_ceil(COLUMN_LANES) {
        let panel_index = column_start / COLUMN_LANES + tile_panel;
        let panel = &sorted.panels[panel_index * panel_size..(panel_index + 1) * panel_size];
        // Four rows x eight columns of dot products: fused multiply-adds,
        // features in order; each row is two AVX registers.
        let (column_chunks, _) = panel.as_chunks::<COLUMN_LANES>();
        let mut dot0 = [0.0_f64; COLUMN_LANES];
        let mut dot1 = [0.0_f64; COLUMN_LANES];
        let mut dot2 = [0.0_f64; COLUMN_LANES];
        let mut dot3 = [0.0_f64; COLUMN_LANES];
        let row_values = group_data[0]
            .iter()
            .zip(group_data[1])
            .zip(group_data[2].iter().zip(group_data[3]));
        for (column_values, ((&x0, &x1), (&x2, &x3))) in column_chunks.iter().zip(row_values) {
            for lane in 0..COLUMN_LANES {
                dot0[lane] = x0.mul_add(column_values[lane], dot0[lane]);
                dot1[lane] = x1.mul_add(column_values[lane], dot1[lane]);
                dot2[lane] = x2.mul_add(column_values[lane], dot2[lane]);
                dot3[lane] = x3.mul_add(column_values[lane], dot3[lane]);
            }
        }
        let dots = [dot0, dot1, dot2, dot3];
        let column_norms =
            &sorted.squared_norms[panel_index * COLUMN_LANES..(panel_index + 1) * COLUMN_LANES];
        for (group_row, dot_row) in dots.iter().enumerate() {
            let destination =
                &mut distances[group_row * BLOCK + tile_panel * COLUMN_LANES..][..COLUMN_LANES];
            for lane in 0..COLUMN_LANES {
                // scikit-learn's order: (-2 x.y + |x|^2) + |y|^2, clamped at 0.
                let squared = -2.0 * dot_row[lane] + group_norms[group_row] + column_norms[lane];
                destination[lane] = if squared > 0.0 { squared.sqrt() } else { 0.0 };
            }
        }
    }
}

/// Adds the distances of one row to the samples `column_start..` (given in
/// `distance_row`) to `row_sums`, one sum per run of samples of one cluster.
#[allow(clippy::inline_always)]
#[inline(always)]
fn add_cluster_runs(
    sorted: &SortedData,
    column_start: usize,
    distance_row: &[f64],
    row_sums: &mut [f64],
) {
    let column_end = column_start + distance_row.len();
    let mut column = column_start;
    while column < column_end {
        let cluster = sorted.labels[column];
        let run_end = sorted.offsets[cluster + 1].min(column_end);
        row_sums[cluster] += sum_run(&distance_row[column - column_start..run_end - column_start]);
        column = run_end;
    }
}

/// Sum of a run of distances with eight independent partial sums (so that
/// the compiler can use SIMD adds) combined in a fixed order, so the result
/// is deterministic. Always inlined so that it is compiled for the
/// instruction set of its caller.
#[allow(clippy::inline_always)]
#[inline(always)]
fn sum_run(values: &[f64]) -> f64 {
    let mut partial = [0.0_f64; COLUMN_LANES];
    let chunks = values.chunks_exact(COLUMN_LANES);
    let tail = chunks.remainder();
    for chunk in chunks {
        for lane in 0..COLUMN_LANES {
            partial[lane] += chunk[lane];
        }
    }
    let mut sum = ((partial[0] + partial[1]) + (partial[2] + partial[3]))
        + ((partial[4] + partial[5]) + (partial[6] + partial[7]));
    for &value in tail {
        sum += value;
    }
    sum
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

    use super::{round_robin, silhouette_samples, silhouette_score};

    #[test]
    fn round_robin_pairs_every_two_blocks_once_and_no_block_twice_a_round() {
        for n_blocks in [1, 2, 3, 4, 7, 10] {
            let mut seen = vec![vec![0_usize; n_blocks]; n_blocks];
            for round in round_robin(n_blocks) {
                let mut used = vec![false; n_blocks];
                for (a, b) in round {
                    assert!(a < b, "{n_blocks}: ({a}, {b})");
                    assert!(!used[a] && !used[b], "{n_blocks}: block twice in a round");
                    used[a] = true;
                    used[b] = true;
                    seen[a][b] += 1;
                }
            }
            for (a, row) in seen.iter().enumerate() {
                for (b, &count) in row.iter().enumerate().skip(a + 1) {
                    assert_eq!(count, 1, "{n_blocks}: pair ({a}, {b})");
                }
            }
        }
    }

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
