//! `songvae-train` runs with the CPU kernel variables of its config's
//! `kernels` (set before libtorch initialises, starting itself again when
//! they are missing) and records them and the processor in `result.json`.

use std::path::Path;

mod common;
use common::run_trainer;

use songvae_features::build::{BuildOptions, build_features};
use songvae_features::dataset::FeatureSettings;

#[test]
fn strict_kernels_are_set_before_training_and_recorded() {
    let directory = tempfile::tempdir().expect("tempdir");
    let features = directory.path().join("features");
    let descriptor =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/dataset/dataset.json");
    build_features(
        &descriptor,
        &features,
        &FeatureSettings::default(),
        &BuildOptions {
            strict: true,
            progress: false,
            force: false,
        },
    )
    .expect("the fixture dataset builds");
    let strict = run_trainer(
        &features,
        directory.path(),
        "strict",
        r#"{"architecture": "vae", "max_epochs": 2, "kernels": "strict"}"#,
    );
    assert_eq!(
        strict.kernel_environment,
        vec![
            "MKL_CBWR=COMPATIBLE".to_owned(),
            "ONEDNN_MAX_CPU_ISA=AVX2".to_owned(),
            "ATEN_CPU_CAPABILITY=avx2".to_owned()
        ]
    );
    // The default is native: nothing set.
    let native = run_trainer(
        &features,
        directory.path(),
        "native",
        r#"{"architecture": "vae", "max_epochs": 2}"#,
    );
    assert!(
        native.kernel_environment.is_empty(),
        "{:?}",
        native.kernel_environment
    );
    if cfg!(target_os = "linux") {
        assert!(
            strict
                .processor
                .as_deref()
                .is_some_and(|name| !name.is_empty())
        );
    }
}
