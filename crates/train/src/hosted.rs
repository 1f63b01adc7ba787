//! Several runs of an architecture that does not stack (`cvae`,
//! `conv_vae`, `vade`, `idec`) trained one after another in one process.
//!
//! A sweep hosts the seeds of such a point in one `songvae-train --group`
//! process so that it starts libtorch once, not once per seed (on a CPU
//! machine the start, with the CUDA libraries libtorch links, costs about
//! half a second; a fixture run trains in less than a second). Each run is
//! exactly its run alone ([`crate::run::train_run`]): every random draw
//! comes from its own seed's generators, nothing is carried from one run to
//! the next, and `crates/train/tests/groups.rs` checks the numbers against
//! runs alone. A run that fails fails alone; the next one still trains.
//!
//! The process-wide settings (device, libtorch threads, CPU kernels) must
//! agree, since the process sets them once.

use songvae_features::training_data::TrainingData;
use songvae_run::config::RunConfig;

use crate::error::{Error, Result};
use crate::run::{RunOutputs, train_run};

/// Trains `configs` one after another on `data` and hands each run's
/// outputs, or the error that ended it, to `on_run_end` with its index in
/// `configs`, as soon as it ends. Fails before training when the configs
/// disagree on a process-wide setting; an error of `on_run_end` stops the
/// runs left.
pub fn train_in_turn(
    configs: &[RunConfig],
    data: &TrainingData,
    on_run_end: &mut dyn FnMut(usize, Result<RunOutputs>) -> Result<()>,
) -> Result<()> {
    let Some(first) = configs.first() else {
        return Ok(());
    };
    for config in configs {
        if config.device != first.device
            || config.intra_op_threads != first.intra_op_threads
            || config.kernels != first.kernels
        {
            return Err(Error::Config(songvae_run::error::Error::InvalidConfig {
                key: "group".to_owned(),
                reason: "runs hosted in one process need the same device, threads and kernels"
                    .to_owned(),
            }));
        }
    }
    for (index, config) in configs.iter().enumerate() {
        let outputs = train_run(config, data, &mut |_, _, _, _| {});
        on_run_end(index, outputs)?;
    }
    Ok(())
}
