//! The order in which a sweep starts its units: the longest expected first.
//!
//! A sweep's workers take units (a stacked group, a run alone, a baseline)
//! from one queue in its order. Started in plan order, a long unit that
//! comes late (a wide model, a fixed-length run) runs on alone at the end
//! while the other workers idle; started longest first (the classic LPT
//! rule for identical machines), the last units to start are the short
//! ones and the workers finish close together.
//!
//! The order needs only a rough size of each unit, so [`expected_work`] is
//! a count of multiply-adds with a fixed cost per step and per process, not
//! a timing: it never changes what a unit computes, only when it starts.

use songvae_run::config::RunConfig;
use songvae_run::spec::{Architecture, ModelSpec};

use crate::runner::{StudyData, Task};
use crate::spec::Job;

/// What one optimiser step costs beyond its arithmetic (a few dozen
/// libtorch calls and Adam's per-tensor updates), in multiply-adds.
const STEP_OVERHEAD: f64 = 1.0e6;

/// What starting a training process costs (loading libtorch, reading the
/// features), in multiply-adds.
pub const PROCESS_OVERHEAD: f64 = 5.0e8;

/// Channels of the convolutional model's two convolutions (as
/// `songvae_models::conv`), and their kernel width.
const CONV_CHANNELS: [f64; 2] = [32.0, 64.0];
const CONV_KERNEL: f64 = 5.0;

/// Sorts `units` by [`expected_work`], longest first; units of equal work
/// keep their order.
#[must_use]
pub fn longest_first(units: Vec<Vec<Task>>, study: &StudyData) -> Vec<Vec<Task>> {
    let mut weighed: Vec<(f64, Vec<Task>)> = Vec::with_capacity(units.len());
    for unit in units {
        weighed.push((expected_work(&unit, study), unit));
    }
    weighed.sort_by(|left, right| right.0.total_cmp(&left.0));
    let mut ordered = Vec::with_capacity(weighed.len());
    for (_, unit) in weighed {
        ordered.push(unit);
    }
    ordered
}

/// A unit's expected work in multiply-adds: a process start, then its
/// training. A stacked group trains its members together, so its steps are
/// those of its longest member, each a fixed overhead plus every member's
/// forward and backward pass over one batch; a unit of an architecture
/// that does not stack (`train::hosted`) trains its members one after
/// another, so their steps add up. Baselines (in process, milliseconds)
/// and tasks whose data is missing weigh nothing.
#[must_use]
pub fn expected_work(unit: &[Task], study: &StudyData) -> f64 {
    let mut stacked_epochs: f64 = 0.0;
    let mut stacked_steps_per_epoch: f64 = 0.0;
    let mut stacked_arithmetic = 0.0;
    let mut one_after_another = 0.0;
    for task in unit {
        let Job::Train(config) = &task.point.job else {
            continue;
        };
        let Ok(data) = study.of(&task.point) else {
            continue;
        };
        let tracks = data.features.nrows() as f64;
        let training_tracks = (tracks * (1.0 - config.validation_fraction)).max(1.0);
        let batch = (config.batch_size as f64).min(training_tracks).max(1.0);
        let steps_per_epoch = (training_tracks / batch).ceil();
        let epochs = expected_epochs(config);
        let frames = data
            .frames
            .as_ref()
            .map(|frames| (frames.shape()[1] as f64, frames.shape()[2] as f64));
        let width = data.features.ncols() as f64;
        // Forward and backward: about three times the forward pass.
        let arithmetic = 3.0 * batch * multiply_adds_per_track(&config.model_spec(), width, frames);
        if config.architecture.stacks() {
            stacked_epochs = stacked_epochs.max(epochs);
            stacked_steps_per_epoch = stacked_steps_per_epoch.max(steps_per_epoch);
            stacked_arithmetic += arithmetic;
        } else {
            one_after_another += epochs * steps_per_epoch * (STEP_OVERHEAD + arithmetic);
        }
    }
    let stacked = stacked_epochs * stacked_steps_per_epoch * (STEP_OVERHEAD + stacked_arithmetic);
    if stacked + one_after_another == 0.0 {
        return 0.0;
    }
    PROCESS_OVERHEAD + stacked + one_after_another
}

/// Epochs a run is expected to train: midway between its bounds, since
/// early stopping ends it somewhere between them (all of them for a run of
/// fixed length), after the autoencoder pretraining of the models that
/// cluster by design.
fn expected_epochs(config: &RunConfig) -> f64 {
    let shortest = config.min_epochs.min(config.max_epochs) as f64;
    let longest = config.max_epochs as f64;
    let pretraining = if config.architecture.clusters_by_design() {
        config.pretrain_epochs as f64
    } else {
        0.0
    };
    pretraining + f64::midpoint(shortest, longest)
}

/// Multiply-adds of one track's forward pass: the dense layers of encoder
/// and decoder, and for the convolutional model its convolutions over the
/// frames (`channels x time`) and their transposes.
fn multiply_adds_per_track(spec: &ModelSpec, width: f64, frames: Option<(f64, f64)>) -> f64 {
    let latent = spec.latent_dim as f64;
    if spec.architecture == Architecture::ConvVae {
        let (channels, time) = frames.unwrap_or((1.0, 1.0));
        let first = time / 2.0 * CONV_CHANNELS[0] * channels * CONV_KERNEL;
        let second = time / 4.0 * CONV_CHANNELS[1] * CONV_CHANNELS[0] * CONV_KERNEL;
        let flattened = time / 4.0 * CONV_CHANNELS[1];
        let hidden = spec.hidden_dim as f64;
        let dense =
            flattened * hidden + hidden * 2.0 * latent + latent * hidden + hidden * flattened;
        return 2.0 * (first + second) + dense;
    }
    let mut total = 0.0;
    let mut previous = width;
    for layer_width in spec.hidden_widths() {
        let layer_width = layer_width as f64;
        total += previous * layer_width;
        previous = layer_width;
    }
    // The code (mean and log-variance), then the mirrored decoder.
    total += previous * 2.0 * latent;
    total *= 2.0;
    total
}
