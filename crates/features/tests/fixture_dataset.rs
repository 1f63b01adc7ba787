//! The committed fixture dataset regenerates byte for byte and loads.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use songvae_features::build::{BuildOptions, build_features};
use songvae_features::dataset::FeatureSettings;
use songvae_features::fixture_dataset::generate;

fn committed_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/dataset")
}

fn sha256_of(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    format!("{:x}", Sha256::digest(&bytes))
}

#[test]
fn regenerating_reproduces_the_committed_files() {
    let directory = tempfile::tempdir().expect("temp dir");
    let written = generate(directory.path()).expect("generates");
    assert_eq!(written.len(), 50, "dataset.json, manifest.csv and 48 songs");
    let mut total_bytes = 0;
    for relative in &written {
        let committed = committed_dir().join(relative);
        assert_eq!(
            sha256_of(&directory.path().join(relative)),
            sha256_of(&committed),
            "{} differs from the committed file; run `cargo xtask fixtures` and review",
            relative.display()
        );
        total_bytes += std::fs::metadata(&committed).expect("stat").len();
    }
    assert!(
        total_bytes < 10_000_000,
        "fixture dataset is {total_bytes} bytes"
    );
}

#[test]
fn the_fixture_dataset_loads_with_48_labelled_tracks() {
    let directory = tempfile::tempdir().expect("temp dir");
    let report = build_features(
        &committed_dir().join("dataset.json"),
        directory.path(),
        &FeatureSettings::default(),
        &BuildOptions {
            strict: true,
            ..BuildOptions::default()
        },
    )
    .expect("builds with no failure");
    assert_eq!(report.manifest.tracks, 48);
    assert_eq!(report.manifest.without_lyrics, 0);
    assert_eq!(report.manifest.modality_dims[0], 40);
    assert_eq!(report.manifest.frames_shape, Some([20, 128]));
    let labels: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(directory.path().join("labels.json")).expect("labels.json"),
    )
    .expect("parses");
    for (name, classes) in [("genre", 4), ("language", 2)] {
        let values = labels["labels"][name].as_array().expect("label list");
        assert_eq!(values.len(), 48);
        let mut distinct: Vec<&str> = values
            .iter()
            .filter_map(serde_json::Value::as_str)
            .collect();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), classes, "{name}: {distinct:?}");
    }
}
