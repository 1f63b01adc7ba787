//! The contingency table shared by the external scores (ARI, NMI, purity).
//!
//! Stored sparsely (only non-zero cells) so that a labelling with many
//! distinct labels at n = 10^6 never allocates classes x clusters cells.
//! Counts are `u64`: pair counts derived from them are formed in `i128`
//! (see [`crate::external`]), so nothing overflows at n = 10^6.

use crate::error::{Error, Result};
use crate::labels::encode_labels;

/// One non-zero cell: how many samples have true class `class` and predicted
/// cluster `cluster`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContingencyCell {
    /// Dense id of the true class (rank among the distinct true labels).
    pub class: usize,
    /// Dense id of the predicted cluster (rank among the distinct predicted labels).
    pub cluster: usize,
    /// Number of samples in this cell (always at least 1).
    pub count: u64,
}

/// Sparse contingency table of two labellings of the same samples.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContingencyTable {
    /// Non-zero cells sorted by class, then cluster (scikit-learn's CSR order).
    pub cells: Vec<ContingencyCell>,
    /// Samples per true class, indexed by class id.
    pub class_sizes: Vec<u64>,
    /// Samples per predicted cluster, indexed by cluster id.
    pub cluster_sizes: Vec<u64>,
    /// Total number of samples.
    pub n_samples: u64,
}

impl ContingencyTable {
    /// Builds the table from true and predicted labels (any `usize` ids).
    ///
    /// Ids need not be dense: they are ranked first, as scikit-learn does.
    /// Errors when the two slices have different lengths.
    pub fn new(labels_true: &[usize], labels_pred: &[usize]) -> Result<Self> {
        if labels_true.len() != labels_pred.len() {
            return Err(Error::LengthMismatch {
                what: "predicted labels",
                got: labels_pred.len(),
                expected: labels_true.len(),
            });
        }
        let classes = encode_labels(labels_true);
        let clusters = encode_labels(labels_pred);
        let mut pairs: Vec<(usize, usize)> = Vec::with_capacity(labels_true.len());
        for (&class, &cluster) in classes.ids.iter().zip(&clusters.ids) {
            pairs.push((class, cluster));
        }
        pairs.sort_unstable();
        let mut cells: Vec<ContingencyCell> = Vec::new();
        for (class, cluster) in pairs {
            match cells.last_mut() {
                Some(last) if last.class == class && last.cluster == cluster => last.count += 1,
                _ => cells.push(ContingencyCell {
                    class,
                    cluster,
                    count: 1,
                }),
            }
        }
        let mut class_sizes = vec![0_u64; classes.classes.len()];
        let mut cluster_sizes = vec![0_u64; clusters.classes.len()];
        for cell in &cells {
            class_sizes[cell.class] += cell.count;
            cluster_sizes[cell.cluster] += cell.count;
        }
        Ok(Self {
            cells,
            class_sizes,
            cluster_sizes,
            n_samples: labels_true.len() as u64,
        })
    }

    /// Dense `classes x clusters` matrix of counts (for display and small tables).
    #[must_use]
    pub fn to_dense(&self) -> ndarray::Array2<u64> {
        let mut dense = ndarray::Array2::zeros((self.class_sizes.len(), self.cluster_sizes.len()));
        for cell in &self.cells {
            dense[[cell.class, cell.cluster]] = cell.count;
        }
        dense
    }
}

#[cfg(test)]
mod tests {
    use super::ContingencyTable;
    use crate::error::Error;

    #[test]
    fn counts_match_a_hand_built_table() {
        let table =
            ContingencyTable::new(&[0, 0, 1, 1, 2, 2], &[7, 7, 7, 3, 3, 3]).expect("same lengths");
        // Clusters ranked: 3 -> 0, 7 -> 1.
        let dense = table.to_dense();
        assert_eq!(dense, ndarray::array![[0, 2], [1, 1], [2, 0]]);
        assert_eq!(table.class_sizes, vec![2, 2, 2]);
        assert_eq!(table.cluster_sizes, vec![3, 3]);
        assert_eq!(table.n_samples, 6);
        assert_eq!(table.cells.len(), 4);
    }

    #[test]
    fn length_mismatch_is_an_error() {
        let error = ContingencyTable::new(&[0, 1], &[0]).expect_err("lengths differ");
        assert!(matches!(
            error,
            Error::LengthMismatch {
                got: 1,
                expected: 2,
                ..
            }
        ));
    }
}
