//! Errors of model construction.

/// What can go wrong when a model is built for a dataset.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A size in the spec is out of range.
    #[error("invalid model spec: {key} = {value} ({reason})")]
    InvalidSpec {
        /// The offending key, for example `latent_dim`.
        key: &'static str,
        /// Its value.
        value: usize,
        /// The valid range.
        reason: &'static str,
    },
    /// An option does not apply to the architecture.
    #[error("invalid model spec: {key}: {reason}")]
    InvalidOption {
        /// The offending key, for example `activation`.
        key: &'static str,
        /// Why it does not apply.
        reason: &'static str,
    },
    /// The architecture needs frame matrices and the dataset has none.
    #[error("conv_vae needs per-track frame matrices, and this dataset has no frames")]
    NoFrames,
    /// The conditional VAE needs a condition with at least two classes.
    #[error("cvae needs a condition label column with at least 2 classes, got {classes}")]
    NoCondition {
        /// How many classes the condition has.
        classes: usize,
    },
}

/// Result type of this crate.
pub type Result<T> = std::result::Result<T, Error>;
