//! `cargo xtask fixtures`: regenerate the embedded fixture dataset.
//!
//! Writes `fixtures/dataset/` (descriptor, manifest with lyrics, 48 WAV
//! songs) with `songvae_features::fixture_dataset::generate`. The output is
//! deterministic: running it on a clean checkout leaves `git status` clean,
//! and the features crate's tests check the committed files byte for byte.

use std::path::Path;

use anyhow::{Context, Result};
use songvae_features::fixture_dataset::generate;

/// Runs `cargo xtask fixtures`.
pub fn fixtures_command() -> Result<()> {
    let out_dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("fixtures")
        .join("dataset");
    let written = generate(&out_dir).context("cannot generate the fixture dataset")?;
    let mut total_bytes = 0;
    for relative in &written {
        let path = out_dir.join(relative);
        total_bytes += std::fs::metadata(&path)
            .with_context(|| format!("cannot stat {}", path.display()))?
            .len();
    }
    println!(
        "wrote {} files ({:.2} MB) to {}",
        written.len(),
        total_bytes as f64 / 1e6,
        out_dir.display()
    );
    Ok(())
}
