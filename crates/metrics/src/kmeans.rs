//! k-means by Lloyd's algorithm, step for step as scikit-learn 1.9's `KMeans`
//! (`algorithm="lloyd"`).
//!
//! # Algorithm
//!
//! 1. The data is centred on its column means (scikit-learn does this for
//!    accuracy); the means are added back to the returned centres.
//! 2. Each of `n_init` runs starts from greedy k-means++ ([`kmeans_plusplus`]):
//!    every new centre is the best, by potential, of `2 + floor(ln k)`
//!    candidates sampled proportionally to the squared distance to the
//!    nearest chosen centre (Arthur and Vassilvitskii 2007, with
//!    scikit-learn's local trials).
//! 3. Lloyd iterations: assign each sample to its nearest centre (first one on
//!    ties), move each centre to the mean of its samples. A cluster left empty
//!    takes the sample farthest from its old centre (scikit-learn's
//!    relocation). Stop when the labels do not change (strict convergence) or
//!    when the sum of squared centre shifts is at most
//!    `tol x mean per-feature variance`, or after `max_iter` iterations.
//! 4. Without strict convergence one more assignment step makes the labels
//!    consistent with the returned centres; the inertia (sum of squared
//!    distances to the assigned centre) is computed from those.
//! 5. The run with the lowest inertia wins (a later run only replaces it when
//!    it is strictly better and not the same partition, as scikit-learn).
//!
//! The assignment step runs in parallel over rows with rayon; every sum
//! (centres, potentials, inertia) is accumulated sequentially in row order,
//! so results are bit-identical for any thread count. Randomness comes from
//! `ChaCha8Rng::seed_from_u64(seed)`, an algorithm with a fixed output
//! stream, so a seed gives the same clustering across versions.
//!
//! # Parameters ([`KMeansConfig`])
//!
//! | field | default | valid |
//! |---|---|---|
//! | `n_clusters` | 8 | 1 to the number of samples |
//! | `n_init` | 10 | >= 1 |
//! | `max_iter` | 300 | >= 1 |
//! | `tol` | 1e-4 | >= 0, finite |
//! | `seed` | 0 | any `u64` |
//!
//! `n_init` defaults to 10 restarts (scikit-learn's `"auto"` would do one run
//! with k-means++): study scores should not hinge on one unlucky start.

use multiversion::multiversion;
use ndarray::{Array2, ArrayView1, ArrayView2};
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rayon::prelude::{
    IndexedParallelIterator, IntoParallelIterator, ParallelIterator, ParallelSliceMut,
};
use serde::{Deserialize, Serialize};

use crate::error::{
    Error, Result, check_at_least_one, check_cluster_count, check_data, check_finite,
    check_non_negative,
};

/// Rows assigned per parallel task.
const ROW_CHUNK: usize = 512;

/// k-means settings; see the module docs for defaults and valid ranges.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KMeansConfig {
    /// Number of clusters k.
    pub n_clusters: usize,
    /// Number of k-means++ restarts; the lowest inertia wins.
    pub n_init: usize,
    /// Maximum Lloyd iterations per run.
    pub max_iter: usize,
    /// Relative tolerance on the centre shift (multiplied by the mean feature variance).
    pub tol: f64,
    /// Seed of the random stream (k-means++ sampling).
    pub seed: u64,
}

impl Default for KMeansConfig {
    fn default() -> Self {
        Self {
            n_clusters: 8,
            n_init: 10,
            max_iter: 300,
            tol: 1e-4,
            seed: 0,
        }
    }
}

impl KMeansConfig {
    /// Checks every field against its valid range for data of `n_samples` rows.
    pub fn validate(&self, n_samples: usize) -> Result<()> {
        check_cluster_count("n_clusters", self.n_clusters, n_samples)?;
        validate_iteration_settings(self.max_iter, self.tol)?;
        check_at_least_one("n_init", self.n_init)
    }
}

fn validate_iteration_settings(max_iter: usize, tol: f64) -> Result<()> {
    check_at_least_one("max_iter", max_iter)?;
    check_non_negative("tol", tol)
}

/// The result of a k-means fit.
#[derive(Debug, Clone, PartialEq)]
pub struct KMeansFit {
    /// Cluster centres, `n_clusters x n_features`, in the data's coordinates.
    pub centres: Array2<f64>,
    /// Index of the nearest centre of each sample.
    pub labels: Vec<usize>,
    /// Sum of squared distances of the samples to their centre.
    pub inertia: f64,
    /// Lloyd iterations of the winning run.
    pub n_iter: usize,
}

/// Clusters `data` (one sample per row) with k-means++ restarts and Lloyd.
pub fn kmeans(data: ArrayView2<'_, f64>, config: &KMeansConfig) -> Result<KMeansFit> {
    check_data(data)?;
    config.validate(data.nrows())?;
    let tolerance = scaled_tolerance(data, config.tol);
    let (centred, column_means) = centre_columns(data);
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let mut best: Option<KMeansFit> = None;
    for _ in 0..config.n_init {
        let initial = kmeans_plusplus(centred.view(), config.n_clusters, &mut rng)?;
        let run = lloyd(centred.view(), initial, config.max_iter, tolerance);
        let replace = match &best {
            None => true,
            Some(current) => {
                run.inertia < current.inertia
                    && !same_partition(&run.labels, &current.labels, config.n_clusters)
            }
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
    for mut centre in fit.centres.outer_iter_mut() {
        centre += &column_means;
    }
    Ok(fit)
}

/// Runs Lloyd once from the given initial centres (scikit-learn's
/// `KMeans(init=centres, n_init=1)`), e.g. to compare with a reference run.
pub fn kmeans_from_centres(
    data: ArrayView2<'_, f64>,
    initial_centres: ArrayView2<'_, f64>,
    max_iter: usize,
    tol: f64,
) -> Result<KMeansFit> {
    check_data(data)?;
    let (n_clusters, n_columns) = initial_centres.dim();
    if n_clusters == 0 || n_clusters > data.nrows() || n_columns != data.ncols() {
        return Err(Error::CentresShape {
            rows: n_clusters,
            columns: n_columns,
            expected_rows: n_clusters.clamp(1, data.nrows()),
            expected_columns: data.ncols(),
        });
    }
    check_finite(initial_centres)?;
    validate_iteration_settings(max_iter, tol)?;
    let tolerance = scaled_tolerance(data, tol);
    let (centred, column_means) = centre_columns(data);
    let mut initial = initial_centres.to_owned();
    for mut centre in initial.outer_iter_mut() {
        centre -= &column_means;
    }
    let mut fit = lloyd(centred.view(), initial, max_iter, tolerance);
    for mut centre in fit.centres.outer_iter_mut() {
        centre += &column_means;
    }
    Ok(fit)
}

/// `tol x mean(var(data, axis=0))`, scikit-learn's `_tolerance`.
///
/// Two row-major passes (column sums, then squared deviations), each column
/// still summed in row order: walking the columns one by one instead reads
/// the whole array once per column with a stride, far slower on data larger
/// than the cache.
fn scaled_tolerance(data: ArrayView2<'_, f64>, tol: f64) -> f64 {
    if tol == 0.0 {
        return 0.0;
    }
    let n_samples = data.nrows() as f64;
    let mut means = vec![0.0_f64; data.ncols()];
    for row in data.outer_iter() {
        for (sum, &value) in means.iter_mut().zip(&row) {
            *sum += value;
        }
    }
    for mean in &mut means {
        *mean /= n_samples;
    }
    let mut squares = vec![0.0_f64; data.ncols()];
    for row in data.outer_iter() {
        for ((square, &value), &mean) in squares.iter_mut().zip(&row).zip(&means) {
            *square += (value - mean) * (value - mean);
        }
    }
    let mut variance_sum = 0.0;
    for square in squares {
        variance_sum += square / n_samples;
    }
    variance_sum / data.ncols() as f64 * tol
}

/// Subtracts the column means (summed in row order); returns the centred
/// data and the means.
fn centre_columns(data: ArrayView2<'_, f64>) -> (Array2<f64>, ndarray::Array1<f64>) {
    let mut means = ndarray::Array1::<f64>::zeros(data.ncols());
    for row in data.outer_iter() {
        means += &row;
    }
    means /= data.nrows() as f64;
    let mut centred = data.to_owned();
    for mut row in centred.outer_iter_mut() {
        row -= &means;
    }
    (centred, means)
}

fn squared_distance(a: ArrayView1<'_, f64>, b: ArrayView1<'_, f64>) -> f64 {
    let mut sum = 0.0;
    for (&x, &y) in a.iter().zip(b) {
        sum += (x - y) * (x - y);
    }
    sum
}

/// A uniform draw in [0, 1) with 53 random bits.
fn uniform(rng: &mut ChaCha8Rng) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1_u64 << 53) as f64)
}

/// Greedy k-means++ seeding (scikit-learn's `_kmeans_plusplus`): returns
/// `n_clusters` rows of `data` as initial centres.
pub fn kmeans_plusplus(
    data: ArrayView2<'_, f64>,
    n_clusters: usize,
    rng: &mut ChaCha8Rng,
) -> Result<Array2<f64>> {
    check_data(data)?;
    let n_samples = data.nrows();
    check_cluster_count("n_clusters", n_clusters, n_samples)?;
    let n_local_trials = 2 + (n_clusters as f64).ln().floor() as usize;
    let mut centres = Array2::<f64>::zeros((n_clusters, data.ncols()));
    let first = ((uniform(rng) * n_samples as f64) as usize).min(n_samples - 1);
    centres.row_mut(0).assign(&data.row(first));
    let mut closest: Vec<f64> = (0..n_samples)
        .into_par_iter()
        .map(|row| squared_distance(data.row(row), data.row(first)))
        .collect();
    let mut current_potential: f64 = closest.iter().sum();
    for centre_index in 1..n_clusters {
        let mut cumulative = Vec::with_capacity(n_samples);
        let mut running = 0.0;
        for &distance in &closest {
            running += distance;
            cumulative.push(running);
        }
        let mut best_candidate = 0;
        let mut best_potential = f64::INFINITY;
        let mut best_distances = Vec::new();
        for _ in 0..n_local_trials {
            let target = uniform(rng) * current_potential;
            // numpy searchsorted (side="left"): first index with cumulative >= target.
            let candidate = cumulative
                .partition_point(|&value| value < target)
                .min(n_samples - 1);
            let distances: Vec<f64> = (0..n_samples)
                .into_par_iter()
                .map(|row| squared_distance(data.row(row), data.row(candidate)).min(closest[row]))
                .collect();
            let potential: f64 = distances.iter().sum();
            if potential < best_potential {
                best_potential = potential;
                best_candidate = candidate;
                best_distances = distances;
            }
        }
        current_potential = best_potential;
        closest = best_distances;
        centres
            .row_mut(centre_index)
            .assign(&data.row(best_candidate));
    }
    Ok(centres)
}

/// Whether two labellings are the same partition up to renaming
/// (scikit-learn's `_is_same_clustering`).
fn same_partition(first: &[usize], second: &[usize], n_clusters: usize) -> bool {
    let mut mapping = vec![usize::MAX; n_clusters];
    for (&a, &b) in first.iter().zip(second) {
        if mapping[a] == usize::MAX {
            mapping[a] = b;
        } else if mapping[a] != b {
            return false;
        }
    }
    true
}

/// Rows per tile of [`nearest_centres`]: sixteen `f64` lanes, four AVX
/// registers, so four independent sums hide the add latency.
const ROW_TILE: usize = 16;

// Row chunks are whole tiles, so a chunk's tiles are numbered from `start / ROW_TILE`.
const _: () = assert!(ROW_CHUNK.is_multiple_of(ROW_TILE));

/// The data as plain slices for Lloyd's steps, built once per run: row-major
/// (`row_major[row * n_features + f]`) for the centre sums and the inertia,
/// and feature-major (`feature_major[f * stride + row]`, `stride` the row
/// count rounded up to [`ROW_TILE`], the padding zeros) so that any tile's
/// values of one feature are contiguous for [`assign_labels`]. Plain slices
/// rather than ndarray row views keep the per-row work free of view set-up,
/// which matters most in debug builds (`cargo xtask` runs one).
struct LloydData {
    row_major: Vec<f64>,
    feature_major: Vec<f64>,
    stride: usize,
}

impl LloydData {
    fn new(data: ArrayView2<'_, f64>) -> Self {
        let n_features = data.ncols();
        let stride = data.nrows().div_ceil(ROW_TILE) * ROW_TILE;
        let row_major: Vec<f64> = data.iter().copied().collect();
        let mut feature_major = vec![0.0_f64; n_features * stride];
        for (row_index, row) in row_major.chunks_exact(n_features).enumerate() {
            for (feature, &value) in row.iter().enumerate() {
                feature_major[feature * stride + row_index] = value;
            }
        }
        Self {
            row_major,
            feature_major,
            stride,
        }
    }
}

/// Nearest centre of every row (first on ties), in parallel over row chunks,
/// sixteen rows at a time as the SIMD lanes of [`nearest_centres`]; each
/// distance is still summed feature by feature in order, so the values are
/// those of [`squared_distance`].
fn assign_labels(data: &LloydData, centres: &Array2<f64>, labels: &mut [usize]) {
    let centre_values: Vec<f64> = centres.iter().copied().collect();
    labels
        .par_chunks_mut(ROW_CHUNK)
        .enumerate()
        .for_each(|(chunk_index, chunk_labels)| {
            let start = chunk_index * ROW_CHUNK;
            for (tile_index, tile_labels) in chunk_labels.chunks_mut(ROW_TILE).enumerate() {
                let tile = start / ROW_TILE + tile_index;
                let nearest =
                    nearest_centres(&data.feature_major, data.stride, tile, &centre_values);
                tile_labels.copy_from_slice(&nearest[..tile_labels.len()]);
            }
        });
}

/// The nearest centre (first on ties) of rows `tile * ROW_TILE ..` +
/// [`ROW_TILE`] of the feature-major `values` (`values[f * stride + row]`,
/// `stride` a multiple of [`ROW_TILE`]), with `centre_values` row-major
/// (`n_clusters x n_features`): per centre,
/// `sum_f (row[f] - centre[f])^2` with the features in order, the rows as
/// SIMD lanes; compiled for AVX2 where available (no fused multiply-adds, so
/// the arithmetic and its rounding are the same everywhere).
#[multiversion(targets("x86_64+avx2+fma"))]
fn nearest_centres(
    values: &[f64],
    stride: usize,
    tile: usize,
    centre_values: &[f64],
) -> [usize; ROW_TILE] {
    let n_features = values.len() / stride;
    let mut best_distances = [f64::INFINITY; ROW_TILE];
    let mut best = [0_usize; ROW_TILE];
    for (centre_index, centre) in centre_values.chunks_exact(n_features).enumerate() {
        let mut distances = [0.0_f64; ROW_TILE];
        for (column, &centre_value) in values.chunks_exact(stride).zip(centre) {
            let (column_tiles, _) = column.as_chunks::<ROW_TILE>();
            let lanes = &column_tiles[tile];
            for lane in 0..ROW_TILE {
                let difference = lanes[lane] - centre_value;
                distances[lane] += difference * difference;
            }
        }
        for lane in 0..ROW_TILE {
            if distances[lane] < best_distances[lane] {
                best_distances[lane] = distances[lane];
                best[lane] = centre_index;
            }
        }
    }
    best
}

/// One M-step: the new centres from `labels`, with scikit-learn's empty
/// cluster relocation. Returns the new centres and the sum of squared shifts.
fn update_centres(
    data: ArrayView2<'_, f64>,
    lloyd_data: &LloydData,
    old_centres: &Array2<f64>,
    labels: &[usize],
) -> (Array2<f64>, f64) {
    let (n_clusters, n_features) = old_centres.dim();
    let mut weights = vec![0.0_f64; n_clusters];
    let mut flat_sums = vec![0.0_f64; n_clusters * n_features];
    for (row, &label) in lloyd_data.row_major.chunks_exact(n_features).zip(labels) {
        let sum = &mut flat_sums[label * n_features..][..n_features];
        for (total, &value) in sum.iter_mut().zip(row) {
            *total += value;
        }
        weights[label] += 1.0;
    }
    let mut sums = Array2::from_shape_fn((n_clusters, n_features), |(cluster, feature)| {
        flat_sums[cluster * n_features + feature]
    });
    let empty: Vec<usize> = (0..n_clusters)
        .filter(|&cluster| weights[cluster] == 0.0)
        .collect();
    if !empty.is_empty() {
        // Farthest samples from their (old) centre, farthest first, lowest index on ties.
        let distances: Vec<f64> = (0..data.nrows())
            .into_par_iter()
            .map(|row| squared_distance(data.row(row), old_centres.row(labels[row])))
            .collect();
        let mut order: Vec<usize> = (0..data.nrows()).collect();
        order.sort_by(|&a, &b| distances[b].total_cmp(&distances[a]).then(a.cmp(&b)));
        for (&new_cluster, &far_row) in empty.iter().zip(&order) {
            let old_cluster = labels[far_row];
            let point = data.row(far_row);
            let mut old_sum = sums.row_mut(old_cluster);
            old_sum -= &point;
            sums.row_mut(new_cluster).assign(&point);
            weights[new_cluster] = 1.0;
            weights[old_cluster] -= 1.0;
        }
    }
    for (mut centre, &weight) in sums.outer_iter_mut().zip(&weights) {
        if weight > 0.0 {
            centre *= 1.0 / weight;
        }
    }
    let mut shift_total = 0.0;
    for (new_centre, old_centre) in sums.outer_iter().zip(old_centres.outer_iter()) {
        let shift = squared_distance(new_centre, old_centre).sqrt();
        shift_total += shift * shift;
    }
    (sums, shift_total)
}

/// One Lloyd run on centred data (scikit-learn's `_kmeans_single_lloyd`).
fn lloyd(
    data: ArrayView2<'_, f64>,
    initial_centres: Array2<f64>,
    max_iter: usize,
    tolerance: f64,
) -> KMeansFit {
    let n_samples = data.nrows();
    let lloyd_data = LloydData::new(data);
    let mut centres = initial_centres;
    let mut labels = vec![0_usize; n_samples];
    let mut labels_old = vec![usize::MAX; n_samples];
    let mut strict_convergence = false;
    let mut n_iter = 0;
    for iteration in 0..max_iter {
        n_iter = iteration + 1;
        assign_labels(&lloyd_data, &centres, &mut labels);
        let (new_centres, shift_total) = update_centres(data, &lloyd_data, &centres, &labels);
        centres = new_centres;
        if labels == labels_old {
            strict_convergence = true;
            break;
        }
        if shift_total <= tolerance {
            break;
        }
        labels_old.copy_from_slice(&labels);
    }
    if !strict_convergence {
        assign_labels(&lloyd_data, &centres, &mut labels);
    }
    let centre_values: Vec<f64> = centres.iter().copied().collect();
    let n_features = centres.ncols();
    let mut inertia = 0.0;
    for (row, &label) in lloyd_data.row_major.chunks_exact(n_features).zip(&labels) {
        let centre = &centre_values[label * n_features..][..n_features];
        // squared_distance on slices: features in order.
        let mut distance = 0.0;
        for (&value, &centre_value) in row.iter().zip(centre) {
            distance += (value - centre_value) * (value - centre_value);
        }
        inertia += distance;
    }
    KMeansFit {
        centres,
        labels,
        inertia,
        n_iter,
    }
}

#[cfg(test)]
mod tests {
    use ndarray::array;

    use super::{KMeansConfig, LloydData, assign_labels, kmeans, kmeans_from_centres};
    use crate::error::Error;

    #[test]
    fn tiled_assignment_equals_a_direct_nearest_centre_search() {
        // Row counts around the 16-row tiles and the 512-row chunks, in
        // standard and transposed (column-major) layout.
        for (n_rows, n_features, n_clusters) in
            [(1, 1, 1), (7, 3, 2), (16, 2, 3), (17, 5, 4), (600, 4, 5)]
        {
            let mut state = 12_345_u64 + n_rows as u64;
            let mut next = || {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1);
                (state >> 11) as f64 / (1_u64 << 53) as f64 * 10.0
            };
            let data = ndarray::Array2::from_shape_fn((n_rows, n_features), |_| next());
            let centres = ndarray::Array2::from_shape_fn((n_clusters, n_features), |_| next());
            let column_major = data.t().to_owned();
            for view in [data.view(), column_major.t()] {
                let mut labels = vec![usize::MAX; n_rows];
                assign_labels(&LloydData::new(view), &centres, &mut labels);
                for (row, &label) in view.outer_iter().zip(&labels) {
                    let mut best = 0;
                    let mut best_distance = f64::INFINITY;
                    for (index, centre) in centres.outer_iter().enumerate() {
                        let distance = super::squared_distance(row, centre);
                        if distance < best_distance {
                            best_distance = distance;
                            best = index;
                        }
                    }
                    assert_eq!(label, best, "{n_rows} rows, {n_features} features");
                }
            }
        }
    }

    #[test]
    fn separated_groups_are_found_and_seeds_are_reproducible() {
        let data = array![
            [0.0, 0.0],
            [0.1, 0.0],
            [0.0, 0.1],
            [10.0, 10.0],
            [10.1, 10.0],
            [10.0, 10.1]
        ];
        let config = KMeansConfig {
            n_clusters: 2,
            seed: 42,
            ..KMeansConfig::default()
        };
        let first = kmeans(data.view(), &config).expect("valid");
        let second = kmeans(data.view(), &config).expect("valid");
        assert_eq!(first, second);
        assert_eq!(first.labels[0], first.labels[1]);
        assert_eq!(first.labels[0], first.labels[2]);
        assert_eq!(first.labels[3], first.labels[5]);
        assert_ne!(first.labels[0], first.labels[3]);
        // Per group: centre at (1/30, 1/30); squared distances 2/900, 5/900, 5/900.
        let expected_inertia = 24.0 / 900.0;
        assert!(
            (first.inertia - expected_inertia).abs() < 1e-12,
            "{}",
            first.inertia
        );
    }

    #[test]
    fn bad_settings_are_rejected_with_their_name() {
        let data = array![[0.0], [1.0]];
        let too_many = KMeansConfig {
            n_clusters: 3,
            ..KMeansConfig::default()
        };
        let error = kmeans(data.view(), &too_many).expect_err("k > n");
        assert_eq!(
            error.to_string(),
            "invalid n_clusters = 3: between 1 and the number of samples (2)"
        );
        let wrong_shape = kmeans_from_centres(data.view(), array![[0.0, 1.0]].view(), 300, 1e-4)
            .expect_err("shape");
        assert!(matches!(
            wrong_shape,
            Error::CentresShape {
                columns: 2,
                expected_columns: 1,
                ..
            }
        ));
        let config: Result<KMeansConfig, _> =
            serde_json::from_str(r#"{"n_clusters": 2, "n_iter": 5}"#);
        assert!(config.is_err(), "unknown fields are rejected");
    }
}
