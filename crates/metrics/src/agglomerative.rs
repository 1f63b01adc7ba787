//! Agglomerative clustering with Ward linkage, step for step as
//! scikit-learn 1.9's `AgglomerativeClustering(linkage="ward")` (which
//! builds the tree with SciPy's `linkage(X, method="ward")`).
//!
//! # Algorithm
//!
//! 1. Pairwise Euclidean distances of all samples into a condensed matrix
//!    (the upper triangle, `n (n - 1) / 2` values, as SciPy's `pdist`: each
//!    distance is `sqrt` of the squared differences summed feature by
//!    feature).
//! 2. The nearest-neighbour chain algorithm (Murtagh 1983; Müllner 2011,
//!    "Modern hierarchical, agglomerative clustering algorithms",
//!    arXiv:1109.2378): follow nearest neighbours from the first live cluster
//!    until two clusters are each other's nearest neighbour, merge them, and
//!    update the distances of the merged cluster by the Lance-Williams
//!    formula for Ward,
//!    `d(i, x + y) = sqrt(((n_i + n_x) d(i,x)^2 + (n_i + n_y) d(i,y)^2 - n_i d(x,y)^2) / (n_i + n_x + n_y))`.
//!    With these units a merge distance is `sqrt(2 x` the increase of the
//!    within-cluster sum of squares`)`, and two single samples merge at their
//!    Euclidean distance.
//! 3. The merges are sorted by distance (stable) and renumbered as SciPy
//!    does: merge `m` creates node `n + m`, and its children are listed
//!    smaller id first.
//! 4. The tree is cut into `n_clusters` clusters by undoing the last
//!    `n_clusters - 1` merges; cluster ids follow scikit-learn's `_hc_cut`
//!    (the order of the nodes in its binary heap).
//!
//! Every scan, tie rule and floating-point operation is SciPy's: a nearest
//! neighbour is the first one found (lowest index) among equal distances,
//! and the previous chain element is kept when it is as near as any, so
//! ties, such as duplicate points, are resolved deterministically and
//! exactly as scikit-learn resolves them. On the stored reference cases
//! (`fixtures/metrics/clustering_reference.json`) the labels and the tree are
//! identical and the merge distances equal to the last bit.
//!
//! # Cost
//!
//! Time O(n^2 d) for the distances plus O(n^2) for the chain (sequential,
//! like SciPy's). Memory is the condensed distance matrix,
//! `4 n (n - 1)` bytes: 400 MB at n = 10,000 and 1.6 GB at
//! [`MAX_SAMPLES`] = 20,000, the largest input accepted (a larger one gets
//! [`Error::TooManySamples`] instead of exhausting memory).
//!
//! # Parameters
//!
//! | parameter | valid |
//! |---|---|
//! | `n_clusters` | 1 to the number of samples |
//! | samples | 1 to [`MAX_SAMPLES`] rows, finite, with finite pairwise distances |

use ndarray::ArrayView2;
use rayon::prelude::{IntoParallelIterator, ParallelIterator};

use crate::error::{Error, Result, check_cluster_count, check_data};

/// The largest number of samples [`ward`] accepts (its distance matrix then
/// takes 1.6 GB).
pub const MAX_SAMPLES: usize = 20_000;

/// A Ward clustering: the full merge tree and its cut into `n_clusters`.
#[derive(Debug, Clone, PartialEq)]
pub struct WardFit {
    /// Cluster id of every sample, numbered as scikit-learn's `labels_`.
    pub labels: Vec<usize>,
    /// The `n - 1` merges in order: merge `m` joins nodes `children[m][0] <
    /// children[m][1]` into node `n + m` (ids below `n` are samples), as
    /// scikit-learn's `children_`.
    pub children: Vec<[usize; 2]>,
    /// The distance of each merge, non-decreasing, as scikit-learn's
    /// `distances_` (with `compute_distances=True`).
    pub distances: Vec<f64>,
}

/// Clusters `data` (one sample per row) into `n_clusters` by Ward linkage.
pub fn ward(data: ArrayView2<'_, f64>, n_clusters: usize) -> Result<WardFit> {
    let n_samples = data.nrows();
    if n_samples > MAX_SAMPLES {
        return Err(Error::TooManySamples {
            what: "ward clustering",
            n_samples,
            limit: MAX_SAMPLES,
            reason: format!(
                "its condensed distance matrix would take {:.1} GB",
                4.0 * n_samples as f64 * (n_samples as f64 - 1.0) / 1e9
            ),
        });
    }
    check_data(data)?;
    check_cluster_count("n_clusters", n_clusters, n_samples)?;
    if n_samples == 1 {
        return Ok(WardFit {
            labels: vec![0],
            children: Vec::new(),
            distances: Vec::new(),
        });
    }
    let mut condensed = pairwise_distances(data)?;
    let merges = nearest_neighbour_chain(&mut condensed, n_samples);
    drop(condensed);
    let (children, distances) = sorted_tree(merges, n_samples);
    let labels = cut_tree(&children, n_samples, n_clusters);
    Ok(WardFit {
        labels,
        children,
        distances,
    })
}

/// Position of the pair `i < j` in the condensed matrix of `n` samples.
fn condensed_index(n: usize, i: usize, j: usize) -> usize {
    n * i - i * (i + 1) / 2 + (j - i - 1)
}

/// The condensed Euclidean distance matrix (SciPy's `pdist`), rows in
/// parallel; fails on a distance that overflows.
fn pairwise_distances(data: ArrayView2<'_, f64>) -> Result<Vec<f64>> {
    let n = data.nrows();
    let rows = data.as_standard_layout();
    let flat = rows.as_slice().unwrap_or(&[]);
    let n_features = data.ncols();
    let mut condensed = vec![0.0_f64; n * (n - 1) / 2];
    let mut segments = Vec::with_capacity(n);
    let mut rest = condensed.as_mut_slice();
    for i in 0..n - 1 {
        let (segment, tail) = rest.split_at_mut(n - 1 - i);
        segments.push((i, segment));
        rest = tail;
    }
    segments.into_par_iter().for_each(|(i, segment)| {
        let x = &flat[i * n_features..(i + 1) * n_features];
        for (offset, distance) in segment.iter_mut().enumerate() {
            let j = i + 1 + offset;
            let y = &flat[j * n_features..(j + 1) * n_features];
            let mut sum = 0.0;
            for (&a, &b) in x.iter().zip(y) {
                let difference = (a - b).abs();
                sum += difference * difference;
            }
            *distance = sum.sqrt();
        }
    });
    for i in 0..n - 1 {
        let start = condensed_index(n, i, i + 1);
        for (offset, distance) in condensed[start..start + n - 1 - i].iter().enumerate() {
            if !distance.is_finite() {
                return Err(Error::DistanceOverflow {
                    first: i,
                    second: i + 1 + offset,
                });
            }
        }
    }
    Ok(condensed)
}

/// One merge as the chain algorithm records it: the two cluster slots
/// (`first < second`) and the merge distance.
#[derive(Debug, Clone, Copy)]
struct Merge {
    first: usize,
    second: usize,
    distance: f64,
}

/// SciPy's `nn_chain` for Ward: returns the merges in the order they were
/// made, clusters named by their slot (the slot of the merged cluster is the
/// larger of the two). `condensed` is overwritten.
fn nearest_neighbour_chain(condensed: &mut [f64], n: usize) -> Vec<Merge> {
    let mut size = vec![1_usize; n];
    let mut chain: Vec<usize> = Vec::with_capacity(n);
    let mut merges = Vec::with_capacity(n - 1);
    for _ in 0..n - 1 {
        if chain.is_empty() {
            let first_live = size.iter().position(|&count| count > 0).unwrap_or(0);
            chain.push(first_live);
        }
        let (mut x, mut y, current_min) = loop {
            let x = chain[chain.len() - 1];
            // Prefer the previous chain element among equals (no cycles).
            let (mut y, mut current_min) = if chain.len() > 1 {
                let previous = chain[chain.len() - 2];
                (previous, condensed[pair_index(n, x, previous)])
            } else {
                (x, f64::INFINITY)
            };
            let (nearest_distance, nearest) = nearest_live(condensed, &size, n, x);
            if nearest_distance < current_min {
                current_min = nearest_distance;
                y = nearest;
            } else if y == x {
                // Only NaN distances left (cannot happen with finite data):
                // take the first live cluster rather than loop forever.
                y = (0..n).find(|&i| i != x && size[i] > 0).unwrap_or(x);
            }
            if chain.len() > 1 && y == chain[chain.len() - 2] {
                break (x, y, current_min);
            }
            chain.push(y);
        };
        chain.truncate(chain.len() - 2);
        if x > y {
            std::mem::swap(&mut x, &mut y);
        }
        let size_x = size[x];
        let size_y = size[y];
        merges.push(Merge {
            first: x,
            second: y,
            distance: current_min,
        });
        size[x] = 0;
        size[y] = size_x + size_y;
        for i in 0..n {
            let size_i = size[i];
            if size_i == 0 || i == y {
                continue;
            }
            let d_xi = condensed[pair_index(n, i, x)];
            let slot = pair_index(n, i, y);
            condensed[slot] =
                ward_update(d_xi, condensed[slot], current_min, size_x, size_y, size_i);
        }
    }
    merges
}

/// The smallest distance from cluster `x` to another live cluster and that
/// cluster, the lowest index among equals (`(inf, usize::MAX)` if none is
/// below infinity): SciPy's scan. (Splitting it over threads did not pay on
/// the shared 2-core machine: the strided loads below are memory bound.)
fn nearest_live(condensed: &[f64], size: &[usize], n: usize, x: usize) -> (f64, usize) {
    let mut best = (f64::INFINITY, usize::MAX);
    // Entries (i, x) for i < x lie in earlier rows of the condensed matrix.
    for i in 0..x {
        if size[i] > 0 {
            let distance = condensed[condensed_index(n, i, x)];
            if distance < best.0 {
                best = (distance, i);
            }
        }
    }
    // Entries (x, i) for i > x are contiguous in row x.
    if x + 1 < n {
        let row = &condensed[condensed_index(n, x, x + 1)..][..n - x - 1];
        for (offset, &distance) in row.iter().enumerate() {
            let i = x + 1 + offset;
            if size[i] > 0 && distance < best.0 {
                best = (distance, i);
            }
        }
    }
    best
}

/// [`condensed_index`] for any two different samples.
fn pair_index(n: usize, i: usize, j: usize) -> usize {
    if i < j {
        condensed_index(n, i, j)
    } else {
        condensed_index(n, j, i)
    }
}

/// The Lance-Williams update for Ward, with SciPy's operation order.
fn ward_update(
    d_xi: f64,
    d_yi: f64,
    d_xy: f64,
    size_x: usize,
    size_y: usize,
    size_i: usize,
) -> f64 {
    let t = 1.0 / (size_x + size_y + size_i) as f64;
    ((size_i + size_x) as f64 * t * d_xi * d_xi + (size_i + size_y) as f64 * t * d_yi * d_yi
        - size_i as f64 * t * d_xy * d_xy)
        .sqrt()
}

/// Sorts the merges by distance (stable, as numpy's mergesort) and renames
/// the clusters as SciPy's `label`: merge `m` creates node `n + m`.
fn sorted_tree(mut merges: Vec<Merge>, n: usize) -> (Vec<[usize; 2]>, Vec<f64>) {
    merges.sort_by(|a, b| a.distance.total_cmp(&b.distance));
    // Union-find over the 2n - 1 nodes; a root is its own parent.
    let mut parent: Vec<usize> = (0..2 * n - 1).collect();
    let mut children = Vec::with_capacity(n - 1);
    let mut distances = Vec::with_capacity(n - 1);
    for (step, merge) in merges.iter().enumerate() {
        let root_a = find_root(&mut parent, merge.first);
        let root_b = find_root(&mut parent, merge.second);
        children.push([root_a.min(root_b), root_a.max(root_b)]);
        distances.push(merge.distance);
        parent[root_a] = n + step;
        parent[root_b] = n + step;
    }
    (children, distances)
}

/// The root of `node`, compressing the path on the way.
fn find_root(parent: &mut [usize], node: usize) -> usize {
    let mut root = node;
    while parent[root] != root {
        root = parent[root];
    }
    let mut current = node;
    while parent[current] != root {
        let next = parent[current];
        parent[current] = root;
        current = next;
    }
    root
}

/// scikit-learn's `_hc_cut`: undo the last `n_clusters - 1` merges, keeping
/// the cut nodes in a Python `heapq` of negated ids, and number the clusters
/// by their position in that heap.
fn cut_tree(children: &[[usize; 2]], n: usize, n_clusters: usize) -> Vec<usize> {
    let root = 2 * n - 2;
    let mut heap: Vec<i64> = vec![-(root as i64)];
    for _ in 1..n_clusters {
        let node = (-heap[0]) as usize;
        let [first, second] = children[node - n];
        heap_push(&mut heap, -(first as i64));
        heap_push_pop(&mut heap, -(second as i64));
    }
    let mut labels = vec![0_usize; n];
    let mut stack = Vec::new();
    for (cluster, &negated) in heap.iter().enumerate() {
        stack.push((-negated) as usize);
        while let Some(node) = stack.pop() {
            if node < n {
                labels[node] = cluster;
            } else {
                stack.extend_from_slice(&children[node - n]);
            }
        }
    }
    labels
}

/// Python's `heapq.heappush`.
fn heap_push(heap: &mut Vec<i64>, item: i64) {
    heap.push(item);
    let last = heap.len() - 1;
    sift_down(heap, 0, last);
}

/// Python's `heapq.heappushpop`: push `item`, then pop the smallest.
fn heap_push_pop(heap: &mut [i64], item: i64) -> i64 {
    if !heap.is_empty() && heap[0] < item {
        let smallest = heap[0];
        heap[0] = item;
        sift_up(heap, 0);
        return smallest;
    }
    item
}

/// Python's `heapq._siftdown`: move the item at `position` up towards `start`.
fn sift_down(heap: &mut [i64], start: usize, mut position: usize) {
    let item = heap[position];
    while position > start {
        let parent = (position - 1) >> 1;
        if item < heap[parent] {
            heap[position] = heap[parent];
            position = parent;
        } else {
            break;
        }
    }
    heap[position] = item;
}

/// Python's `heapq._siftup`: move the smaller child up until a leaf, then
/// place the item and sift it down.
fn sift_up(heap: &mut [i64], mut position: usize) {
    let end = heap.len();
    let start = position;
    let item = heap[position];
    let mut child = 2 * position + 1;
    while child < end {
        let right = child + 1;
        if right < end && heap[child] >= heap[right] {
            child = right;
        }
        heap[position] = heap[child];
        position = child;
        child = 2 * position + 1;
    }
    heap[position] = item;
    sift_down(heap, start, position);
}

#[cfg(test)]
mod tests {
    use ndarray::array;

    use super::{MAX_SAMPLES, ward};
    use crate::error::Error;

    #[test]
    fn two_pairs_merge_first_and_the_tree_is_numbered_as_scipy() {
        // Pairs {0, 1} at distance 1 and {2, 3} at distance 2, 10 apart.
        let data = array![[0.0], [1.0], [10.0], [12.0]];
        let fit = ward(data.view(), 2).expect("valid");
        assert_eq!(fit.children, vec![[0, 1], [2, 3], [4, 5]]);
        assert_eq!(fit.distances[0].to_bits(), 1.0_f64.to_bits());
        assert_eq!(fit.distances[1].to_bits(), 2.0_f64.to_bits());
        // Centroids 0.5 and 11, sizes 2 and 2: sqrt(2 * 2 * 2 / 4) * 10.5.
        let want = 10.5 * 2.0_f64.sqrt();
        assert!((fit.distances[2] - want).abs() <= 1e-12 * want);
        assert_eq!(fit.labels, vec![1, 1, 0, 0]);
    }

    #[test]
    fn bad_inputs_get_clear_errors() {
        let data = array![[0.0], [1.0]];
        let error = ward(data.view(), 3).expect_err("k > n");
        assert_eq!(
            error.to_string(),
            "invalid n_clusters = 3: between 1 and the number of samples (2)"
        );
        let huge = array![[0.0], [1e300]];
        let error = ward(huge.view(), 1).expect_err("overflow");
        assert!(matches!(
            error,
            Error::DistanceOverflow {
                first: 0,
                second: 1
            }
        ));
        let too_many = ndarray::Array2::<f64>::zeros((MAX_SAMPLES + 1, 1));
        let error = ward(too_many.view(), 2).expect_err("too many");
        assert_eq!(
            error.to_string(),
            "ward clustering accepts at most 20000 samples, got 20001: its condensed distance matrix would take 1.6 GB"
        );
    }
}
