//! Feature extraction for hybrid audio + lyrics song clustering.
//!
//! This crate is plain Rust over `ndarray` and never depends on libtorch: it
//! reads dataset descriptors, decodes audio, computes MFCCs at librosa parity,
//! vectorises multilingual lyrics and fuses the modalities into one matrix.

pub mod audio;
pub mod build;
pub mod cache;
pub mod chroma;
pub mod dataset;
pub mod descriptor;
pub mod error;
pub mod fixture_dataset;
pub mod fusion;
pub mod lyrics;
pub mod manifest;
pub mod mfcc;
pub mod soxr;
pub mod summary;
pub mod training_data;
pub mod transform;
