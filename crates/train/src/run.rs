//! One training run: split, train with early stopping, encode every track,
//! cluster the latent means and score them.

use std::time::Instant;

use ndarray::{Array2, s};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use songvae_features::training_data::TrainingData;
use songvae_metrics::labels::{EncodedLabels, encode_labels};
use songvae_metrics::scoring::{cluster_and_score, cluster_count};
use songvae_models::device::resolve;
use songvae_models::init::{initialise, standard_normal};
use songvae_models::model::{Batch, LossParts, SongModel, build, loss_parts, parameter_count};
use songvae_run::config::RunConfig;
use songvae_run::result::{LossCurves, RunResult, RunStatus, converged_epoch};
use songvae_run::spec::{Architecture, DataShape};
use tch::nn::{self, OptimizerConfig};
use tch::{Device, Kind, Tensor};

use crate::error::{Error, Result};

/// Independent random streams of a run, all derived from its seed.
pub(crate) mod stream {
    /// Weight initialisation.
    pub(crate) const INIT: u64 = 1;
    /// Train / validation split.
    pub(crate) const SPLIT: u64 = 2;
    /// Batch order.
    pub(crate) const SHUFFLE: u64 = 3;
    /// Reparameterisation noise.
    pub(crate) const NOISE: u64 = 4;
    /// Batch order of the autoencoder pretraining (`vade`, `idec`).
    pub(crate) const PRETRAIN_SHUFFLE: u64 = 5;
}

/// The outputs of a run besides its result.
#[derive(Debug)]
pub struct RunOutputs {
    /// The result.
    pub result: RunResult,
    /// Latent means of every track, `n x latent_dim` (absent after divergence).
    pub latents: Option<Array2<f32>>,
    /// Cluster of every track (absent after divergence).
    pub clusters: Option<Vec<usize>>,
    /// The trained weights.
    pub store: nn::VarStore,
}

/// Called after every epoch with `(epoch, max_epochs, train_loss, validation_loss)`.
pub type EpochCallback<'a> = &'a mut dyn FnMut(usize, usize, f64, f64);

/// The tensors of the whole dataset on the run's device.
pub(crate) struct DeviceData {
    pub(crate) features: Tensor,
    frames: Option<Tensor>,
    lyrics: Option<Tensor>,
    condition: Option<Tensor>,
}

impl DeviceData {
    pub(crate) fn batch(&self, indices: &[i64]) -> Batch {
        self.batch_at(&self.index_of(indices))
    }

    /// The track indices as an index tensor on the data's device.
    pub(crate) fn index_of(&self, indices: &[i64]) -> Tensor {
        Tensor::from_slice(indices).to_device(self.features.device())
    }

    /// The rows of an index tensor from [`Self::index_of`], for a caller
    /// that selects other per-track tensors with the same index.
    pub(crate) fn batch_at(&self, index: &Tensor) -> Batch {
        let select = |tensor: &Tensor| tensor.index_select(0, index);
        Batch {
            features: select(&self.features),
            frames: self.frames.as_ref().map(select),
            lyrics: self.lyrics.as_ref().map(select),
            condition: self.condition.as_ref().map(select),
        }
    }
}

/// Trains, encodes, clusters and scores. Never panics on a diverging loss:
/// that ends the run with [`RunStatus::Diverged`].
///
/// The architectures that stack (`vae`, `beta_vae`, `ae`) train as a group
/// of one ([`crate::group::train_group`]), so a run alone and the same run
/// in a group give the same numbers; `cvae` and `conv_vae` train one model
/// with libtorch's Adam.
pub fn train_run(
    config: &RunConfig,
    data: &TrainingData,
    on_epoch: EpochCallback<'_>,
) -> Result<RunOutputs> {
    if crate::group::group_key(config).is_none() {
        return train_unstacked(config, data, on_epoch);
    }
    let mut outputs = None;
    crate::group::train_group(
        std::slice::from_ref(config),
        data,
        on_epoch,
        &mut |_, ended| {
            outputs = Some(ended);
            Ok(())
        },
    )?;
    outputs.ok_or_else(|| {
        Error::Config(songvae_run::error::Error::InvalidConfig {
            key: "max_epochs".to_owned(),
            reason: "the run ended without training".to_owned(),
        })
    })
}

/// One model of any architecture with libtorch's Adam, not stacked: the
/// path of `cvae` and `conv_vae`, of `vade` and `idec` (with their
/// pretraining, [`crate::deep_clustering`]), and the reference that the
/// stacked path of the other architectures is checked against
/// (`tests/groups.rs`: the same curves to float rounding).
pub fn train_unstacked(
    config: &RunConfig,
    data: &TrainingData,
    on_epoch: EpochCallback<'_>,
) -> Result<RunOutputs> {
    if config.architecture.clusters_by_design() {
        return crate::deep_clustering::train_clustering_model(config, data, on_epoch);
    }
    config.validate()?;
    let device = resolve(config.device)?;
    let track_count = data.ids.len();
    let k = cluster_count(&config.clustering, track_count, &data.labels)?;
    let condition = condition_of(config, data)?;

    let shape = data_shape(
        config,
        data,
        condition
            .as_ref()
            .map_or(0, |encoded| encoded.classes.len()),
    );
    let spec = config.model_spec();
    spec.validate(&shape)?;

    let device_data = to_device(
        config,
        data,
        condition
            .as_ref()
            .map(|encoded| (&encoded.ids, encoded.classes.len())),
        device,
    );
    let store = nn::VarStore::new(device);
    let model = build(&spec, &shape, &store.root())?;
    initialise(&store, &mut stream_generator(config.seed, stream::INIT));
    let parameters = parameter_count(&store);
    let mut optimiser = nn::Adam::default().build(&store, config.learning_rate)?;

    let (train_indices, validation_indices) = split(track_count, config);
    let started = Instant::now();
    let loss = |batch: &Batch, noise: Option<&Tensor>| loss_parts(model.as_ref(), batch, noise);
    let fitted = fit(
        &loss,
        &mut optimiser,
        &device_data,
        config,
        &train_indices,
        &validation_indices,
        on_epoch,
    );
    let status = fitted.status;
    let mut result = result_of(
        config,
        fitted,
        started.elapsed().as_secs_f64(),
        parameters,
        device,
        (train_indices.len(), validation_indices.len()),
    );
    if status == RunStatus::Diverged {
        result.memory_mb = peak_memory_mb();
        return Ok(RunOutputs {
            result,
            latents: None,
            clusters: None,
            store,
        });
    }

    let latents = encode_all(model.as_ref(), &device_data, track_count, config.batch_size)?;
    scored_outputs(result, latents, k, &data.labels, store)
}

/// A completed run's outputs: its latent means clustered and scored with
/// the run's clustering and seed, the process's peak memory recorded.
pub(crate) fn scored_outputs(
    mut result: RunResult,
    latents: Array2<f32>,
    k: usize,
    labels: &[(String, Vec<String>)],
    store: nn::VarStore,
) -> Result<RunOutputs> {
    let config = &result.config;
    let (clusters, scores) = cluster_and_score(
        latents.mapv(f64::from).view(),
        k,
        &config.clustering,
        config.seed,
        labels,
    )?;
    result.scores = Some(scores);
    result.memory_mb = peak_memory_mb();
    Ok(RunOutputs {
        result,
        latents: Some(latents),
        clusters: Some(clusters),
        store,
    })
}

/// The encoded condition column of a `cvae`; `None` for the other models.
pub(crate) fn condition_of(
    config: &RunConfig,
    data: &TrainingData,
) -> Result<Option<EncodedLabels<String>>> {
    match (&config.condition, config.architecture) {
        (Some(column), Architecture::Cvae) => {
            let values = data.label(column).ok_or_else(|| {
                Error::Config(songvae_run::error::Error::InvalidConfig {
                    key: "condition".to_owned(),
                    reason: format!("the dataset has no label column '{column}'"),
                })
            })?;
            Ok(Some(encode_labels(values)))
        }
        _ => Ok(None),
    }
}

/// The shapes the dataset gives the model of `config`.
pub(crate) fn data_shape(
    config: &RunConfig,
    data: &TrainingData,
    condition_classes: usize,
) -> DataShape {
    // Only the convolutional model takes the lyrics block separately.
    let lyrics_dim = match (&data.lyrics_columns, config.architecture) {
        (Some(columns), Architecture::ConvVae) => columns.len(),
        _ => 0,
    };
    DataShape {
        feature_dim: data.features.ncols(),
        frames: data
            .frames
            .as_ref()
            .map(|frames| (frames.shape()[1], frames.shape()[2])),
        lyrics_dim,
        condition_classes,
    }
}

/// What the epoch loop leaves behind (of a run alone, or of a group member).
pub(crate) struct Fit {
    pub(crate) curves: LossCurves,
    pub(crate) status: RunStatus,
    pub(crate) diverged_epoch: Option<usize>,
    pub(crate) plateau_decay_epochs: Vec<usize>,
}

/// The result of a fitted run, before its scores: the last epoch's losses
/// from the curves, `tracks` as (trained on, held out).
pub(crate) fn result_of(
    config: &RunConfig,
    fitted: Fit,
    train_time_sec: f64,
    parameters: i64,
    device: Device,
    tracks: (usize, usize),
) -> RunResult {
    let curves = fitted.curves;
    RunResult {
        config: config.clone(),
        status: fitted.status,
        diverged_epoch: fitted.diverged_epoch,
        epochs_run: fitted.diverged_epoch.unwrap_or(curves.train_loss.len()),
        converged_epoch: if fitted.diverged_epoch.is_some() {
            None
        } else {
            converged_epoch(curves.watched(), config.kl_warmup_epochs, config.tolerance)
        },
        plateau_decay_epochs: fitted.plateau_decay_epochs,
        final_train_loss: curves.train_loss.last().copied(),
        final_validation_loss: curves.validation_loss.last().copied(),
        reconstruction_loss: curves.reconstruction_loss.last().copied(),
        kl_divergence: curves.kl_divergence.last().copied(),
        curves,
        scores: None,
        latent_kmeans_scores: None,
        empty_clusters: None,
        mixture_weights: None,
        train_time_sec,
        memory_mb: None,
        parameters,
        device: device_name(device),
        processor: songvae_run::machine::processor(),
        kernel_environment: songvae_run::machine::kernel_environment(),
        train_tracks: tracks.0,
        validation_tracks: tracks.1,
    }
}

/// The loss parts of a batch, with reparameterisation noise (`None`
/// evaluates at the latent mean): [`loss_parts`] for the study's models,
/// the mixture ELBO for `vade`.
pub(crate) type BatchLoss<'a> = &'a dyn Fn(&Batch, Option<&Tensor>) -> LossParts;

/// The epoch loop: seeded shuffling, Adam steps, validation, early stopping,
/// and divergence detection.
pub(crate) fn fit(
    loss_of: BatchLoss<'_>,
    optimiser: &mut nn::Optimizer,
    data: &DeviceData,
    config: &RunConfig,
    train_indices: &[i64],
    validation_indices: &[i64],
    on_epoch: EpochCallback<'_>,
) -> Fit {
    let mut shuffle_generator = stream_generator(config.seed, stream::SHUFFLE);
    let mut noise_generator = stream_generator(config.seed, stream::NOISE);
    let mut curves = LossCurves::default();
    let mut status = RunStatus::Completed;
    let mut diverged_epoch = None;
    let mut early_stopping = EarlyStopping::default();
    let mut learning_rate = config.learning_rate;
    let mut plateau_decay_epochs = Vec::new();
    let device = data.features.device();
    let mut order = train_indices.to_vec();
    for epoch in 1..=config.max_epochs {
        let kl_weight = kl_weight(config, epoch);
        order.shuffle(&mut shuffle_generator);
        // The epoch's loss sums stay on the device and are read once, after
        // the epoch (no host wait in a step); a non-finite loss is seen there.
        let mut sums = Tensor::zeros([3], (Kind::Double, device));
        for chunk in order.chunks(config.batch_size) {
            let batch = data.batch(chunk);
            let noise = standard_normal(
                &mut noise_generator,
                &[chunk.len() as i64, config.latent_dim as i64],
                device,
            );
            let parts = loss_of(&batch, Some(&noise));
            let loss = &parts.reconstruction + &parts.kl * kl_weight;
            optimiser.zero_grad();
            loss.backward();
            if let Some(clip) = config.gradient_clip {
                optimiser.clip_grad_norm(clip);
            }
            optimiser.step();
            let weight = chunk.len() as f64;
            let epoch_parts = Tensor::stack(&[loss.detach(), parts.reconstruction, parts.kl], 0)
                .detach()
                .to_kind(Kind::Double);
            sums += epoch_parts * weight;
        }
        let sums = tensor_values(&sums);
        let finite = sums.iter().all(|value| value.is_finite());
        let seen = train_indices.len() as f64;
        // A non-finite epoch diverged: no validation pass is needed to say so.
        let validation = (finite && !validation_indices.is_empty()).then(|| {
            evaluate(
                loss_of,
                data,
                validation_indices,
                config.batch_size,
                kl_weight,
            )
        });
        let watched = stopping_loss(sums[0] / seen, validation);
        if !finite || !watched.is_finite() {
            status = RunStatus::Diverged;
            diverged_epoch = Some(epoch);
            break;
        }
        curves.train_loss.push(sums[0] / seen);
        curves.reconstruction_loss.push(sums[1] / seen);
        curves.kl_divergence.push(sums[2] / seen);
        curves.validation_loss.extend(validation);
        on_epoch(epoch, config.max_epochs, sums[0] / seen, watched);

        if early_stopping.update(epoch, watched, config) {
            if plateau_decay_epochs.len() < config.plateau_decays {
                // A plateau, not the end: a smaller step often finds the
                // next descent (small datasets sit on several plateaus).
                learning_rate *= config.plateau_factor;
                optimiser.set_lr(learning_rate);
                early_stopping.restart_patience();
                plateau_decay_epochs.push(epoch);
                continue;
            }
            break;
        }
    }
    Fit {
        curves,
        status,
        diverged_epoch,
        plateau_decay_epochs,
    }
}

/// The loss early stopping watches: the held-out tracks' loss, or the
/// epoch's mean training loss when none are held out (`validation_fraction`
/// 0).
pub(crate) fn stopping_loss(train_mean: f64, validation: Option<f64>) -> f64 {
    validation.unwrap_or(train_mean)
}

/// Early stopping on the relative improvement of the validation loss (of
/// [`stopping_loss`]).
#[derive(Debug)]
pub(crate) struct EarlyStopping {
    best_validation: f64,
    epochs_without_progress: usize,
}

impl Default for EarlyStopping {
    fn default() -> Self {
        Self {
            best_validation: f64::INFINITY,
            epochs_without_progress: 0,
        }
    }
}

impl EarlyStopping {
    /// Takes an epoch's validation loss; returns whether the run is at a
    /// plateau and should stop (or decay its learning rate): the relative
    /// improvement over the best loss stayed at or under `tolerance` for
    /// `patience` epochs, once `min_epochs` have run. During KL warm-up the
    /// loss changes by construction, so the count waits until the warm-up
    /// is over. (What the run reports as its converged epoch is
    /// `songvae_run::result::converged_epoch`, a rule of its own.)
    pub(crate) fn update(&mut self, epoch: usize, validation: f64, config: &RunConfig) -> bool {
        if epoch <= config.kl_warmup_epochs {
            self.best_validation = validation;
            return false;
        }
        let improvement = if self.best_validation.is_finite() {
            (self.best_validation - validation) / self.best_validation.abs().max(f64::MIN_POSITIVE)
        } else {
            f64::INFINITY
        };
        if improvement > config.tolerance {
            self.epochs_without_progress = 0;
        } else {
            self.epochs_without_progress += 1;
        }
        self.best_validation = self.best_validation.min(validation);
        self.epochs_without_progress >= config.patience && epoch >= config.min_epochs
    }

    /// Starts the patience count again (after a learning-rate decay); the
    /// best loss so far stays the reference.
    pub(crate) fn restart_patience(&mut self) {
        self.epochs_without_progress = 0;
    }
}

pub(crate) fn stream_generator(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut generator = ChaCha8Rng::seed_from_u64(seed);
    generator.set_stream(stream);
    generator
}

/// KL weight of an epoch: `beta`, ramped linearly over the warm-up epochs.
pub(crate) fn kl_weight(config: &RunConfig, epoch: usize) -> f64 {
    if config.kl_warmup_epochs == 0 {
        config.beta
    } else {
        config.beta * (epoch as f64 / config.kl_warmup_epochs as f64).min(1.0)
    }
}

/// Seeded split by track: at least one track on each side, or with
/// `validation_fraction` 0 every track on the training side (the shuffle is
/// drawn either way, so the other streams do not move).
pub(crate) fn split(track_count: usize, config: &RunConfig) -> (Vec<i64>, Vec<i64>) {
    let mut indices: Vec<i64> = (0..track_count as i64).collect();
    indices.shuffle(&mut stream_generator(config.seed, stream::SPLIT));
    if config.validation_fraction == 0.0 {
        return (indices, Vec::new());
    }
    let held_out = ((track_count as f64 * config.validation_fraction).round() as usize)
        .clamp(1, track_count - 1);
    let validation = indices.split_off(track_count - held_out);
    (indices, validation)
}

pub(crate) fn to_device(
    config: &RunConfig,
    data: &TrainingData,
    condition: Option<(&Vec<usize>, usize)>,
    device: Device,
) -> DeviceData {
    let features = tensor_of(&data.features.view(), device);
    let frames = match (&data.frames, config.architecture) {
        (Some(frames), Architecture::ConvVae) => Some(tensor_of(&frames.view(), device)),
        _ => None,
    };
    let lyrics = match (&data.lyrics_columns, config.architecture) {
        (Some(columns), Architecture::ConvVae) => Some(tensor_of(
            &data.features.slice(s![.., columns.clone()]),
            device,
        )),
        _ => None,
    };
    let condition = condition.map(|(ids, classes)| {
        let ids: Vec<i64> = ids.iter().map(|id| *id as i64).collect();
        Tensor::from_slice(&ids)
            .one_hot(classes as i64)
            .to_kind(Kind::Float)
            .to_device(device)
    });
    DeviceData {
        features,
        frames,
        lyrics,
        condition,
    }
}

/// Copies an array of any layout into a tensor of the same shape.
pub(crate) fn tensor_of<D: ndarray::Dimension>(
    array: &ndarray::ArrayView<'_, f32, D>,
    device: Device,
) -> Tensor {
    let shape: Vec<i64> = array.shape().iter().map(|extent| *extent as i64).collect();
    let contiguous = array.as_standard_layout();
    let values = contiguous
        .as_slice()
        .expect("a standard-layout array is contiguous");
    Tensor::from_slice(values)
        .view(shape.as_slice())
        .to_device(device)
}

/// Every value of a tensor, read to the host once (flattened).
pub(crate) fn tensor_values(tensor: &Tensor) -> Vec<f64> {
    let flat = tensor
        .flatten(0, -1)
        .to_kind(Kind::Double)
        .to_device(Device::Cpu);
    let count = flat.numel();
    let mut values = vec![0.0f64; count];
    flat.copy_data(&mut values, count);
    values
}

/// Mean validation loss, decoding the latent mean (read once).
fn evaluate(
    loss_of: BatchLoss<'_>,
    data: &DeviceData,
    indices: &[i64],
    batch_size: usize,
    kl_weight: f64,
) -> f64 {
    tch::no_grad(|| {
        let mut total = Tensor::zeros([1], (Kind::Double, data.features.device()));
        for chunk in indices.chunks(batch_size) {
            let parts = loss_of(&data.batch(chunk), None);
            // In double, as the host sum of the two parts was.
            let loss = parts.reconstruction.to_kind(Kind::Double)
                + parts.kl.to_kind(Kind::Double) * kl_weight;
            total += loss * chunk.len() as f64;
        }
        tensor_values(&total)[0] / indices.len().max(1) as f64
    })
}

/// Latent means of every track, in track order.
pub(crate) fn encode_all(
    model: &dyn SongModel,
    data: &DeviceData,
    track_count: usize,
    batch_size: usize,
) -> Result<Array2<f32>> {
    let all: Vec<i64> = (0..track_count as i64).collect();
    let mut blocks = Vec::new();
    tch::no_grad(|| {
        for chunk in all.chunks(batch_size) {
            blocks.push(model.encode(&data.batch(chunk)).mean.to_device(Device::Cpu));
        }
    });
    let means = Tensor::cat(&blocks, 0).to_kind(Kind::Float).contiguous();
    let latent_dim = means.size()[1] as usize;
    let mut values = vec![0.0f32; track_count * latent_dim];
    means.copy_data(&mut values, track_count * latent_dim);
    Array2::from_shape_vec((track_count, latent_dim), values)
        .map_err(|error| Error::Torch(tch::TchError::Shape(error.to_string())))
}

pub(crate) fn device_name(device: Device) -> String {
    match device {
        Device::Cuda(index) => format!("cuda:{index}"),
        _ => "cpu".to_owned(),
    }
}

/// Peak resident set size of this process in MB, from `/proc/self/status`.
#[must_use]
pub fn peak_memory_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    for line in status.lines() {
        if let Some(rest) = line.strip_prefix("VmHWM:") {
            let kib: f64 = rest.trim().trim_end_matches("kB").trim().parse().ok()?;
            return Some(kib / 1024.0);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds a validation curve; returns the epoch at which it stopped.
    fn stop_of(curve: &[f64], config: &RunConfig) -> Option<usize> {
        let mut early_stopping = EarlyStopping::default();
        for (index, validation) in curve.iter().enumerate() {
            let epoch = index + 1;
            if early_stopping.update(epoch, *validation, config) {
                return Some(epoch);
            }
        }
        None
    }

    #[test]
    fn stops_after_patience_epochs_without_relative_improvement() {
        let config = RunConfig {
            patience: 3,
            tolerance: 0.01,
            ..RunConfig::default()
        };
        // Improves by 10 % per epoch until epoch 4, then by under 1 %.
        let curve = [100.0, 90.0, 81.0, 72.9, 72.5, 72.3, 72.2, 72.1];
        assert_eq!(stop_of(&curve, &config), Some(7));
        // A steadily improving curve never stops.
        let improving: Vec<f64> = (0..50).map(|epoch| 100.0 * 0.9f64.powi(epoch)).collect();
        assert_eq!(stop_of(&improving, &config), None);
    }

    #[test]
    fn a_plateau_before_min_epochs_does_not_stop_and_later_progress_resets() {
        let config = RunConfig {
            patience: 3,
            tolerance: 0.01,
            min_epochs: 8,
            ..RunConfig::default()
        };
        // Flat for five epochs, then learning, then flat again.
        let curve = [
            90.0, 90.1, 90.2, 90.3, 90.3, 80.0, 70.0, 69.9, 69.8, 69.8, 69.9,
        ];
        assert_eq!(stop_of(&curve, &config), Some(10));
    }

    #[test]
    fn a_restarted_patience_waits_for_a_second_plateau() {
        let config = RunConfig {
            patience: 2,
            tolerance: 0.01,
            ..RunConfig::default()
        };
        let mut early_stopping = EarlyStopping::default();
        // Flat from epoch 2: the first plateau is seen at epoch 3.
        let curve = [10.0, 9.0, 9.0, 9.0, 8.0, 8.0, 8.0];
        let mut plateaus = Vec::new();
        for (index, validation) in curve.iter().enumerate() {
            if early_stopping.update(index + 1, *validation, &config) {
                plateaus.push(index + 1);
                early_stopping.restart_patience();
            }
        }
        assert_eq!(plateaus, vec![4, 7]);
    }

    #[test]
    fn kl_warm_up_epochs_are_not_counted() {
        let config = RunConfig {
            patience: 2,
            tolerance: 0.01,
            kl_warmup_epochs: 4,
            ..RunConfig::default()
        };
        // Rising during warm-up (the KL weight grows), flat afterwards.
        let curve = [10.0, 11.0, 12.0, 13.0, 13.0, 13.0, 13.0];
        assert_eq!(stop_of(&curve, &config), Some(6));
    }
}
