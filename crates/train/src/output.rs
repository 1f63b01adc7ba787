//! Writing a run's outputs: every file goes to a temporary name first and is
//! renamed into place, so an interrupted run never leaves a torn file.

use std::path::Path;

use songvae_features::cache::{temporary_path, write_atomic, write_npy_atomic};

use songvae_features::training_data::TrainingData;
use songvae_run::config::RunConfig;
use songvae_run::result::RunResult;

use crate::error::{Error, Result};
use crate::run::{EpochCallback, RunOutputs, train_run};

/// One run end to end: loads the features directory, trains, clusters and
/// scores, writes every output into `out_dir` (see [`write_outputs`]) and
/// returns the result. The caller sets libtorch's thread count first.
pub fn train_to_directory(
    config: &RunConfig,
    features_dir: &Path,
    out_dir: &Path,
    on_epoch: EpochCallback<'_>,
) -> Result<RunResult> {
    let data = TrainingData::load(features_dir)?;
    let outputs = train_run(config, &data, on_epoch)?;
    write_outputs(out_dir, &outputs, &data)?;
    Ok(outputs.result)
}

/// Writes `result.json`, and when the run completed `latents.npy` (latent
/// means, `n x latent_dim`, float32), `clusters.txt` (`id<TAB>cluster` per
/// track) and `model.ot` (the `VarStore` checkpoint). `result.json` is
/// written last: its presence means the rest is complete.
pub fn write_outputs(out_dir: &Path, outputs: &RunOutputs, data: &TrainingData) -> Result<()> {
    let write_error = |path: &Path, reason: String| Error::Write {
        path: path.to_path_buf(),
        reason,
    };
    std::fs::create_dir_all(out_dir).map_err(|error| write_error(out_dir, error.to_string()))?;
    if let Some(latents) = &outputs.latents {
        let path = out_dir.join("latents.npy");
        write_npy_atomic(&path, latents).map_err(|error| write_error(&path, error.to_string()))?;
    }
    if let Some(clusters) = &outputs.clusters {
        let path = out_dir.join("clusters.txt");
        let mut text = String::new();
        for (id, cluster) in data.ids.iter().zip(clusters) {
            text.push_str(id);
            text.push('\t');
            text.push_str(&cluster.to_string());
            text.push('\n');
        }
        write_atomic(&path, text.as_bytes())
            .map_err(|error| write_error(&path, error.to_string()))?;
        let checkpoint = out_dir.join("model.ot");
        let temporary = temporary_path(&checkpoint);
        outputs
            .store
            .save(&temporary)
            .map_err(|error| write_error(&checkpoint, error.to_string()))?;
        std::fs::rename(&temporary, &checkpoint)
            .map_err(|error| write_error(&checkpoint, error.to_string()))?;
    }
    let path = out_dir.join("result.json");
    let json = serde_json::to_string_pretty(&outputs.result)
        .map_err(|error| write_error(&path, error.to_string()))?;
    write_atomic(&path, json.as_bytes()).map_err(|error| write_error(&path, error.to_string()))?;
    Ok(())
}
