//! Errors of a run's vocabulary: a config that does not parse or is out of
//! range, a model spec that does not fit the dataset.

use std::path::PathBuf;

/// Why a run config or a model spec is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A config value is out of range or inconsistent.
    #[error("invalid run config: {key}: {reason}")]
    InvalidConfig {
        /// The offending key.
        key: String,
        /// What is wrong and what is valid.
        reason: String,
    },
    /// A config file could not be read or parsed.
    #[error("cannot parse run config {path}: {reason}")]
    ConfigSyntax {
        /// The file.
        path: PathBuf,
        /// serde's message (it names the key and line).
        reason: String,
    },
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
