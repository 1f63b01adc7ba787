//! Clustering and clustering scores at scikit-learn parity.
//!
//! This crate is plain Rust over `ndarray` and `rayon` and never depends on
//! libtorch: every number of a study (silhouette, Davies-Bouldin,
//! Calinski-Harabasz, ARI, NMI, purity, MIG) is computed here.
