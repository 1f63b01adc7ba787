//! The one error type of the features crate.
//!
//! Every variant names what failed (a file, a key) so that a per-track failure
//! list can say which input was bad and why.

use std::path::PathBuf;

/// Result alias used across the crate.
pub type Result<T> = std::result::Result<T, Error>;

/// Everything that can go wrong while reading inputs and computing features.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be opened or read.
    #[error("cannot read {path}: {cause}")]
    Io {
        /// The file that failed.
        path: PathBuf,
        /// The underlying I/O error; part of the message, not a separate
        /// `source`, so error chains print it once.
        cause: std::io::Error,
    },
    /// The container or codec is not one the crate decodes (WAV, FLAC, Ogg Vorbis, MP3).
    #[error("unsupported audio format in {path}: {reason}")]
    UnsupportedAudio {
        /// The file that failed.
        path: PathBuf,
        /// What the decoder reported.
        reason: String,
    },
    /// The file is a known format but its data is corrupt or truncated.
    #[error("cannot decode audio in {path}: {reason}")]
    Decode {
        /// The file that failed.
        path: PathBuf,
        /// What the decoder reported.
        reason: String,
    },
    /// The file decoded to zero samples.
    #[error("no audio samples in {path}")]
    EmptyAudio {
        /// The file that failed.
        path: PathBuf,
    },
    /// A configuration value is out of its valid range.
    #[error("invalid config value for {key}: {reason}")]
    InvalidConfig {
        /// The configuration key.
        key: String,
        /// Why the value is rejected.
        reason: String,
    },
    /// An input signal is too short or otherwise unusable for the requested computation.
    #[error("invalid input signal: {reason}")]
    InvalidSignal {
        /// Why the signal is rejected.
        reason: String,
    },
    /// libsoxr, which converts sample rates, cannot be loaded or failed.
    #[error("{reason}")]
    Resampler {
        /// What failed, naming the library and the rates.
        reason: String,
    },
    /// A file at another sample rate could not be converted to 22,050 Hz.
    #[error("cannot resample {path} from {from_rate} Hz to 22050 Hz: {reason}")]
    Resample {
        /// The audio file.
        path: PathBuf,
        /// Its sample rate.
        from_rate: u32,
        /// What the resampler reported.
        reason: String,
    },
    /// A dataset descriptor (`dataset.json`) is malformed: bad JSON, an unknown
    /// or missing key, a wrong type, or a column it names is not in the manifest.
    #[error("invalid dataset descriptor {path}: {reason}")]
    Descriptor {
        /// The descriptor file.
        path: PathBuf,
        /// What is wrong, naming the key.
        reason: String,
    },
    /// A manifest (CSV or JSON Lines) cannot be parsed as a table.
    #[error("invalid manifest {path}: {reason}")]
    Manifest {
        /// The manifest file.
        path: PathBuf,
        /// What is wrong, naming the row and column.
        reason: String,
    },
    /// A `.npy` file cannot be read or has the wrong element type or shape.
    #[error("invalid npy file {path}: {reason}")]
    Npy {
        /// The `.npy` file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A lyrics text file is not valid UTF-8.
    #[error("lyrics file {path} is not valid UTF-8: {reason}")]
    LyricsEncoding {
        /// The lyrics file.
        path: PathBuf,
        /// Where the first invalid byte is.
        reason: String,
    },
    /// A numeric feature value is missing or is not a finite number.
    #[error("column {column}: {reason}")]
    BadValue {
        /// The manifest column.
        column: String,
        /// What is wrong with the value.
        reason: String,
    },
    /// A dataset build finished with no usable track.
    #[error("no track survived out of {failed} (see {failures_path})")]
    NoTrackSurvived {
        /// How many tracks failed.
        failed: usize,
        /// The `failures.json` that lists them.
        failures_path: PathBuf,
    },
    /// A `--strict` dataset build had at least one failing track.
    #[error("{failed} track(s) failed and strict mode is on (see {failures_path})")]
    StrictFailures {
        /// How many tracks failed.
        failed: usize,
        /// The `failures.json` that lists them.
        failures_path: PathBuf,
    },
    /// Writing the generated fixture dataset failed.
    #[error("cannot write fixture file {path}: {reason}")]
    FixtureWrite {
        /// The file being written.
        path: PathBuf,
        /// What failed.
        reason: String,
    },
    /// A features directory is missing a file or holds an unreadable one.
    #[error("features directory {path}: {reason}")]
    FeaturesDirectory {
        /// The file or directory.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}
