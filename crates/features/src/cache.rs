//! The feature cache: atomic file writes and the input hash that decides reuse.
//!
//! A dataset build writes every output to a temporary name in the output
//! directory and renames it into place, so an interrupted run never leaves a
//! half-written file under a final name. `manifest.json` is written last and
//! carries the hash of the descriptor, every input file and the settings: a
//! later run with the same hash finds everything in place and reuses it
//! without recomputing anything.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// Bumped whenever the meaning or the values of the cached outputs change, so
/// old caches are recomputed rather than misread or mixed with new numbers.
/// 2: the MFCC log-mel stage and DCT run in `f32` as librosa's (values move
/// by about 1e-7 relative).
/// 3: fusion fits a column transform per block and records it (`blocks` in
/// `manifest.json`); failures may name a column and its cell.
pub const CACHE_FORMAT_VERSION: u32 = 3;

/// Writes `bytes` to `path` through a temporary file in the same directory
/// followed by a rename (atomic on the same file system). The temporary file
/// is removed when writing fails.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let temporary = temporary_path(path);
    let io_error = |source: std::io::Error| Error::Io {
        path: temporary.clone(),
        cause: source,
    };
    let written = (|| -> std::io::Result<()> {
        let mut file = std::fs::File::create(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        Ok(())
    })();
    if let Err(source) = written {
        // Best effort: the original error is the one worth reporting.
        let _ = std::fs::remove_file(&temporary);
        return Err(io_error(source));
    }
    std::fs::rename(&temporary, path).map_err(|source| {
        let _ = std::fs::remove_file(&temporary);
        Error::Io {
            path: path.to_path_buf(),
            cause: source,
        }
    })
}

/// Serialises an array as `.npy` in memory and writes it atomically.
pub fn write_npy_atomic<S, D>(path: &Path, array: &ndarray::ArrayBase<S, D>) -> Result<()>
where
    S: ndarray::Data,
    S::Elem: ndarray_npy::WritableElement,
    D: ndarray::Dimension,
{
    let mut bytes = Vec::new();
    ndarray_npy::WriteNpyExt::write_npy(array, &mut bytes).map_err(|error| Error::Npy {
        path: path.to_path_buf(),
        reason: format!("cannot serialise: {error}"),
    })?;
    write_atomic(path, &bytes)
}

/// The temporary name used while writing `path`: `.NAME.tmp-PID` beside it.
#[must_use]
pub fn temporary_path(path: &Path) -> PathBuf {
    let name = path.file_name().map_or_else(
        || "output".to_string(),
        |name| name.to_string_lossy().into_owned(),
    );
    let temporary_name = format!(".{name}.tmp-{}", std::process::id());
    match path.parent() {
        Some(parent) => parent.join(temporary_name),
        None => PathBuf::from(temporary_name),
    }
}

/// Accumulates the cache key: labelled byte strings and file contents, each
/// length-prefixed so that different splits never collide.
#[derive(Debug, Clone, Default)]
pub struct InputHasher {
    digest: Sha256,
}

impl InputHasher {
    /// A hasher seeded with the cache format version.
    #[must_use]
    pub fn new() -> Self {
        let mut hasher = Self::default();
        hasher.add_bytes("cache-format", &CACHE_FORMAT_VERSION.to_le_bytes());
        hasher
    }

    /// Adds a labelled byte string.
    pub fn add_bytes(&mut self, label: &str, bytes: &[u8]) {
        self.digest.update((label.len() as u64).to_le_bytes());
        self.digest.update(label.as_bytes());
        self.digest.update((bytes.len() as u64).to_le_bytes());
        self.digest.update(bytes);
    }

    /// Adds a file by its path and contents; a file that cannot be read adds
    /// a marker instead (the build will report it as a per-track failure).
    pub fn add_file(&mut self, path: &Path) {
        let label = path.to_string_lossy();
        match std::fs::read(path) {
            Ok(bytes) => self.add_bytes(&label, &bytes),
            Err(_) => self.add_bytes(&label, b"\0unreadable"),
        }
    }

    /// The hex SHA-256 of everything added.
    #[must_use]
    pub fn finish(self) -> String {
        let bytes = self.digest.finalize();
        let mut hex = String::with_capacity(bytes.len() * 2);
        for byte in bytes {
            // Writing into a String cannot fail.
            let _ = write!(hex, "{byte:02x}");
        }
        hex
    }
}
