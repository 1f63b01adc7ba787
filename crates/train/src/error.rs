//! Errors of a training run.

use std::path::PathBuf;

/// What can stop a training run before or after training. A diverging loss
/// is not an error: it is a [`crate::run::RunStatus`].
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A config value is out of range or inconsistent.
    #[error("invalid run config: {key}: {reason}")]
    InvalidConfig {
        /// The offending key.
        key: String,
        /// What is wrong and what is valid.
        reason: String,
    },
    /// A config file could not be parsed.
    #[error("cannot parse run config {path}: {reason}")]
    ConfigSyntax {
        /// The file.
        path: PathBuf,
        /// serde's message (it names the key and line).
        reason: String,
    },
    /// The features directory is missing a file or holds an unreadable one.
    #[error("features directory {path}: {reason}")]
    Features {
        /// The file or directory.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The model cannot be built for this dataset.
    #[error(transparent)]
    Model(#[from] songvae_models::error::Error),
    /// The device cannot be used.
    #[error(transparent)]
    Device(#[from] songvae_models::device::DeviceUnavailable),
    /// Clustering or scoring failed.
    #[error("scoring: {0}")]
    Metrics(#[from] songvae_metrics::error::Error),
    /// libtorch reported an error.
    #[error("libtorch: {0}")]
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
