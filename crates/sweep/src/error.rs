//! Errors of a sweep: an invalid spec, unreadable results, a failed write.
//!
//! A training run that diverges or fails is not an error of the sweep: it is
//! recorded as a [`crate::results::PairStatus`] and the sweep goes on.

use std::path::PathBuf;

/// What stops a sweep or a report.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The sweep spec is not valid JSON or names an unknown key.
    #[error("cannot parse sweep spec {path}: {reason}")]
    SpecSyntax {
        /// The spec file.
        path: PathBuf,
        /// serde's message, which names the key and line.
        reason: String,
    },
    /// A value of the spec is out of range or inconsistent.
    #[error("invalid sweep spec: {key}: {reason}")]
    InvalidSpec {
        /// Where in the spec, for example `axes[2].values[4]`.
        key: String,
        /// What is wrong and what is valid.
        reason: String,
    },
    /// A command-line value is invalid.
    #[error("invalid {flag}: {reason}")]
    InvalidArgument {
        /// The flag, for example `--shard`.
        flag: String,
        /// What is wrong and what is valid.
        reason: String,
    },
    /// A results file holds a line that is not a result.
    #[error("{path} line {line}: {reason}")]
    Results {
        /// The `results.jsonl` file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// The output directory belongs to another sweep, or is in use.
    #[error("{path}: {reason}")]
    OutputDirectory {
        /// The directory or its `sweep.json`.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Reading or writing a file failed.
    #[error("{path}: {cause}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        cause: std::io::Error,
    },
    /// Drawing a plot failed.
    #[error("cannot draw {path}: {reason}")]
    Plot {
        /// The SVG file.
        path: PathBuf,
        /// plotters' message.
        reason: String,
    },
    /// Building the dataset's features failed.
    #[error(transparent)]
    Features(#[from] songvae_features::error::Error),
    /// A run config of the plan is not valid.
    #[error(transparent)]
    Run(#[from] songvae_run::error::Error),
    /// A cluster count or a baseline's PCA or clustering failed.
    #[error(transparent)]
    Metrics(#[from] songvae_metrics::error::Error),
}

/// Result type of this crate.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// An I/O error on `path`.
    pub(crate) fn io(path: &std::path::Path, cause: std::io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            cause,
        }
    }

    /// A spec value error at `key`.
    pub(crate) fn spec(key: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::InvalidSpec {
            key: key.into(),
            reason: reason.into(),
        }
    }
}
