//! What the training tests share: the fixture dataset's features, and one
//! run of the `songvae-train` binary.
// Each test file compiles this module on its own and uses part of it.
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use songvae_run::result::RunResult;

use songvae_features::build::{BuildOptions, build_features};
use songvae_features::dataset::FeatureSettings;
use songvae_features::training_data::TrainingData;

/// Features of `fixtures/dataset`, built once per test process.
pub fn fixture_data() -> &'static TrainingData {
    static DATA: OnceLock<TrainingData> = OnceLock::new();
    DATA.get_or_init(|| {
        let descriptor =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/dataset/dataset.json");
        let directory =
            std::env::temp_dir().join(format!("songvae-train-tests-{}", std::process::id()));
        build_features(
            &descriptor,
            &directory,
            &FeatureSettings::default(),
            &BuildOptions {
                strict: true,
                progress: false,
                force: false,
            },
        )
        .expect("the fixture dataset builds in strict mode");
        let data =
            TrainingData::load(&directory).expect("the features directory just written loads");
        std::fs::remove_dir_all(&directory)
            .expect("the temporary features directory can be removed");
        data
    })
}

/// Runs `songvae-train` on `features` with the config text `config`
/// (written to `directory/<name>.json`) into `directory/<name>`, the kernel
/// variables removed from its environment so that it sets them itself;
/// returns its `result.json`.
pub fn run_trainer(features: &Path, directory: &Path, name: &str, config: &str) -> RunResult {
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
