//! Clustering and clustering scores at scikit-learn parity.
//!
//! This crate is plain Rust over `ndarray` and `rayon` and never depends on
//! libtorch: every number of a study (silhouette, Davies-Bouldin,
//! Calinski-Harabasz, ARI, NMI, purity, MIG) is computed here.
//!
//! # Modules
//!
//! | module | contents |
//! |---|---|
//! | [`labels`] | text or sparse labels to dense ids ([`labels::encode_labels`]) |
//! | [`contingency`] | the sparse contingency table shared by the external scores |
//! | [`external`] | adjusted Rand index, normalised mutual information, purity |
//! | [`internal`] | Davies-Bouldin, Calinski-Harabasz and the shared validity rules |
//! | [`silhouette`] | silhouette by row blocks, O(n k) memory |
//! | [`kmeans`] | k-means++ and Lloyd, step for step as scikit-learn |
//! | [`gaussian_mixture`] | Gaussian mixture by EM (full or diagonal covariances), as scikit-learn |
//! | [`agglomerative`] | Ward agglomerative clustering, merge for merge as scikit-learn and SciPy |
//! | [`pca`] | principal components with scikit-learn's sign convention |
//! | [`disentanglement`] | mutual information gap (MIG) and active units, with references |
//! | [`scoring`] | the study's one scoring path: cluster with the configured algorithm, then every score, degenerate cases absent with their reason |
//! | [`error`] | the crate's [`error::Error`] and [`error::Result`] |
//!
//! Scores take cluster ids as `&[usize]`; any ids work (they are ranked as
//! scikit-learn's `LabelEncoder` does). Text labels go through
//! [`labels::encode_labels`] first. Data is an `ndarray` view of `f64`, one
//! sample per row.
//!
//! Reference values for every score, k-means and PCA come from
//! scikit-learn 1.9.1 (`fixtures/metrics/make_reference.py`, stored in
//! `fixtures/metrics/reference.json`) and the tests hold them to a relative
//! error of 1e-9; Ward and the Gaussian mixture have their own
//! (`make_clustering_reference.py`, `clustering_reference.json`: Ward's
//! labels and tree identical and merge distances within 1e-9, the mixture
//! within 1e-6 from the same k-means labels). Everything that runs in parallel (rayon) reduces in a fixed
//! order, so results do not depend on the number of threads.

pub mod agglomerative;
pub mod contingency;
pub mod disentanglement;
pub mod error;
pub mod external;
pub mod gaussian_mixture;
pub mod internal;
pub mod kmeans;
pub mod labels;
pub mod pca;
pub mod scoring;
pub mod silhouette;
