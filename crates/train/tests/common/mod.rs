//! What the training tests share: the fixture dataset's features.

use std::path::Path;
use std::sync::OnceLock;

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
