//! Errors of a training run.

use std::path::PathBuf;

/// What can stop a training run before or after training. A diverging loss
/// is not an error: it is a `songvae_run::result::RunStatus`.
///
/// Every wrapped error is transparent: its message is printed once, by the
/// error itself, and the chain has no repeated text.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The config is out of range or does not fit the dataset, or the model
    /// spec does not.
    #[error(transparent)]
    Config(#[from] songvae_run::error::Error),
    /// The features directory is missing a file or holds an unreadable one.
    #[error(transparent)]
    Features(#[from] songvae_features::error::Error),
    /// The device cannot be used.
    #[error(transparent)]
    Device(#[from] songvae_models::device::DeviceUnavailable),
    /// Clustering or scoring failed on malformed input.
    #[error(transparent)]
    Metrics(#[from] songvae_metrics::error::Error),
    /// libtorch reported an error.
    #[error(transparent)]
    Torch(#[from] tch::TchError),
    /// Writing an output failed.
    #[error("cannot write {path}: {reason}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// Result type of this crate.
pub type Result<T> = std::result::Result<T, Error>;
