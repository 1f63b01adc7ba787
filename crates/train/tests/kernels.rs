//! `songvae-train` runs with the CPU kernel variables of its config's
//! `kernels` (set before libtorch initialises, starting itself again when
//! they are missing) and records them and the processor in `result.json`.

use std::path::Path;
use std::process::Command;

use songvae_features::build::{BuildOptions, build_features};
use songvae_features::dataset::FeatureSettings;
use songvae_run::result::RunResult;

fn run_with(features: &Path, directory: &Path, name: &str, config: &str) -> RunResult {
    let config_path = directory.join(format!("{name}.json"));
    std::fs::write(&config_path, config).expect("config");
    let out = directory.join(name);
    let output = Command::new(env!("CARGO_BIN_EXE_songvae-train"))
        .arg("--features")
        .arg(features)
        .arg("--config")
        .arg(&config_path)
        .arg("--out")
        .arg(&out)
        .arg("--quiet")
        .env_remove("MKL_CBWR")
        .env_remove("ONEDNN_MAX_CPU_ISA")
        .env_remove("ATEN_CPU_CAPABILITY")
        .env_remove("SONGVAE_KERNELS_SET")
        .output()
        .expect("start songvae-train");
    assert!(
        output.status.success(),
        "{name}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = std::fs::read_to_string(out.join("result.json")).expect("result.json");
    serde_json::from_str(&text).expect("result.json parses")
}

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
    let strict = run_with(
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
    let native = run_with(
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
