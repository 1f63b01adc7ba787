//! Training several runs of one shape as one stacked model
//! (`songvae_models::stacked`): one batched forward and backward pass per
//! step for all members, each with its own data order, noise, learning
//! rate, KL weight, Adam state and ending.
//!
//! A member draws everything from its own seed exactly as a run alone does
//! (the same split, initialisation, batch order and noise streams), and
//! nothing of one member reaches another: the group loss is the sum of the
//! members' losses, Adam keeps per-member state and step counts, gradient
//! clipping takes each member's own norm, and a member that has ended
//! leaves the stack (its parameters and Adam state with it). So a run's numbers do not depend on the
//! group it trained in; a run alone is a group of one
//! (`crates/train/tests/groups.rs` checks both).
//!
//! Members end one by one: at their early-stopping plateau (after
//! `plateau_decays` learning-rate decays), at their `max_epochs`, or when
//! their loss becomes NaN or infinite (diverged, with no effect on the
//! others). An ended member is encoded, clustered and scored at once and
//! handed to the caller, which can write it before the group finishes.
//!
//! No host waits in a step: the epoch's loss sums stay on the device and
//! are read once per epoch, with the validation losses; divergence is seen
//! there. `train_time_sec` of a member is the wall time from the start of
//! its group's training to its own end, and `memory_mb` the peak resident
//! memory of the process hosting the group when the member ended.
//!
//! Members must agree on the `songvae_run::config::GroupKey` (architecture and shapes, batch
//! size, validation fraction, device, threads); they may differ in seed,
//! learning rate, beta, KL warm-up, epochs, patience, tolerance, plateau
//! decays, gradient clip and the clustering step.

use std::time::Instant;

use ndarray::Array2;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use songvae_features::training_data::TrainingData;
use songvae_metrics::scoring::cluster_count;
use songvae_models::device::resolve;
use songvae_models::init::{initialise, standard_normal};
use songvae_models::model::parameter_count;
use songvae_models::stacked::{StackedDense, solo_model};
use songvae_run::config::{GroupKey, RunConfig};
use songvae_run::result::{LossCurves, RunStatus};
use tch::{Device, Kind, Tensor};

use crate::adam::{MemberAdam, MemberStep};
use crate::error::{Error, Result};
use crate::run::{
    EarlyStopping, EpochCallback, Fit, RunOutputs, data_shape, encode_all, kl_weight,
    peak_memory_mb, result_of, scored_outputs, split, stopping_loss, stream, stream_generator,
    tensor_values, to_device,
};

/// The group a run can train in ([`RunConfig::group_key`]).
#[must_use]
pub fn group_key(config: &RunConfig) -> Option<GroupKey> {
    config.group_key()
}

/// One member's state during training.
struct Member<'a> {
    /// Its index in the group's configs.
    position: usize,
    config: &'a RunConfig,
    k: usize,
    train: Vec<i64>,
    validation: Vec<i64>,
    order: Vec<i64>,
    shuffle: ChaCha8Rng,
    noise: ChaCha8Rng,
    curves: LossCurves,
    early_stopping: EarlyStopping,
    learning_rate: f64,
    plateau_decay_epochs: Vec<usize>,
    diverged_epoch: Option<usize>,
    adam_steps: i32,
    active: bool,
}

/// Scales each member's gradients so that their joint norm is at most its
/// `gradient_clip` (as `torch.nn.utils.clip_grad_norm_`); members without
/// a clip are left alone.
fn clip_gradients(gradients: &[Tensor], members: &[Member<'_>], device: Device) {
    let mut limits = Vec::with_capacity(members.len());
    for member in members {
        limits.push(member.config.gradient_clip.unwrap_or(f64::INFINITY) as f32);
    }
    if limits.iter().all(|limit| limit.is_infinite()) {
        return;
    }
    tch::no_grad(|| {
        let mut squares = Tensor::zeros([members.len() as i64], (Kind::Float, device));
        for gradient in gradients {
            squares += gradient
                .square()
                .sum_dim_intlist([1, 2].as_slice(), false, Kind::Float);
        }
        let norm = squares.sqrt();
        let limit = Tensor::from_slice(&limits).to_device(device);
        let coefficient = &limit / (norm + 1e-6);
        let factor = coefficient
            .clamp_max(1.0)
            .view([members.len() as i64, 1, 1]);
        for gradient in gradients {
            let _ = gradient.shallow_clone().g_mul_(&factor);
        }
    });
}

/// Trains `configs` as one group on `data` and hands each member's outputs
/// to `on_member_end` (with its index in `configs`) as soon as it ends.
/// `on_epoch` reports the first member's epochs (a progress bar for a run
/// alone). Every config must have the first one's [`GroupKey`].
pub fn train_group(
    configs: &[RunConfig],
    data: &TrainingData,
    on_epoch: EpochCallback<'_>,
    on_member_end: &mut dyn FnMut(usize, RunOutputs) -> Result<()>,
) -> Result<()> {
    let Some(first) = configs.first() else {
        return Ok(());
    };
    check_group(configs)?;
    let device = resolve(first.device)?;
    let shape = data_shape(first, data, 0);
    let spec = first.model_spec();
    spec.validate(&shape)?;
    let device_data = to_device(first, data, None, device);
    let mut members = Vec::with_capacity(configs.len());
    let mut stores = Vec::with_capacity(configs.len());
    for (position, config) in configs.iter().enumerate() {
        let (store, _) = solo_model(&spec, &shape, device);
        initialise(&store, &mut stream_generator(config.seed, stream::INIT));
        stores.push(store);
        members.push(Member::new(position, config, data)?);
    }
    let parameters_per_member = parameter_count(&stores[0]);
    let mut model = StackedDense::from_members(&spec, &stores);
    drop(stores);
    let mut parameters = model.parameters();
    let mut adam = MemberAdam::new(&parameters);
    let context = GroupContext {
        data,
        device_data: &device_data,
        device,
        started: Instant::now(),
        parameters: parameters_per_member,
    };
    let max_epochs = configs
        .iter()
        .map(|config| config.max_epochs)
        .max()
        .unwrap_or(0);
    for epoch in 1..=max_epochs {
        if !members.iter().any(|member| member.active) {
            break;
        }
        let sums = train_epoch(
            &context,
            &model,
            &parameters,
            &mut adam,
            &mut members,
            epoch,
        );
        let validation = if members[0].validation.is_empty() {
            vec![None; members.len()]
        } else {
            validate(&context, &model, &members, epoch)
                .into_iter()
                .map(Some)
                .collect()
        };
        let count = members.len();
        for (index, member) in members.iter_mut().enumerate() {
            let parts = [sums[index], sums[count + index], sums[2 * count + index]];
            let ended = member.record_epoch(epoch, parts, validation[index]);
            if member.position == 0 && member.diverged_epoch.is_none() {
                let train_mean = parts[0] / member.train.len() as f64;
                on_epoch(
                    epoch,
                    member.config.max_epochs,
                    train_mean,
                    stopping_loss(train_mean, validation[index]),
                );
            }
            if ended {
                member.active = false;
                on_member_end(member.position, finish(&context, &model, index, member)?)?;
            }
        }
        // Ended members leave the stack: the others train without them.
        if members.iter().any(|member| !member.active) {
            let mut keep = Vec::new();
            for (index, member) in members.iter().enumerate() {
                if member.active {
                    keep.push(index as i64);
                }
            }
            if keep.is_empty() {
                break;
            }
            model.retain(&keep);
            parameters = model.parameters();
            adam.retain(&keep, context.device);
            members.retain(|member| member.active);
        }
    }
    Ok(())
}

/// Checks that every config is valid and stacks with the first.
fn check_group(configs: &[RunConfig]) -> Result<()> {
    let Some(first) = configs.first() else {
        return Ok(());
    };
    let key = group_key(first).ok_or_else(|| {
        Error::Config(songvae_run::error::Error::InvalidConfig {
            key: "architecture".to_owned(),
            reason: format!("{} does not train in groups", first.architecture.name()),
        })
    })?;
    for config in configs {
        config.validate()?;
        if group_key(config).as_ref() != Some(&key) {
            return Err(Error::Config(songvae_run::error::Error::InvalidConfig {
                key: "group".to_owned(),
                reason: "every run of a group needs the same architecture, sizes, batch size, validation fraction, device and threads".to_owned(),
            }));
        }
    }
    Ok(())
}

impl<'a> Member<'a> {
    /// A member as its run alone starts: its split, generators and k.
    fn new(position: usize, config: &'a RunConfig, data: &TrainingData) -> Result<Self> {
        let track_count = data.ids.len();
        let (train, validation) = split(track_count, config);
        Ok(Self {
            position,
            config,
            k: cluster_count(&config.clustering, track_count, &data.labels)?,
            order: train.clone(),
            train,
            validation,
            shuffle: stream_generator(config.seed, stream::SHUFFLE),
            noise: stream_generator(config.seed, stream::NOISE),
            curves: LossCurves::default(),
            early_stopping: EarlyStopping::default(),
            learning_rate: config.learning_rate,
            plateau_decay_epochs: Vec::new(),
            diverged_epoch: None,
            adam_steps: 0,
            active: true,
        })
    }

    /// Records an epoch's summed loss parts (train loss, reconstruction,
    /// KL) and validation loss (`None` with no tracks held out); returns
    /// whether the member ends: it diverged (a non-finite loss), met its
    /// plateau with no decay left (a plateau with decays left lowers its
    /// learning rate instead), or ran its `max_epochs`.
    fn record_epoch(&mut self, epoch: usize, parts: [f64; 3], validation: Option<f64>) -> bool {
        let seen = self.train.len() as f64;
        let train_mean = parts[0] / seen;
        let watched = stopping_loss(train_mean, validation);
        if !parts[0].is_finite() || !watched.is_finite() {
            self.diverged_epoch = Some(epoch);
            return true;
        }
        self.curves.train_loss.push(train_mean);
        self.curves.reconstruction_loss.push(parts[1] / seen);
        self.curves.kl_divergence.push(parts[2] / seen);
        self.curves.validation_loss.extend(validation);
        let mut ended = epoch >= self.config.max_epochs;
        if self.early_stopping.update(epoch, watched, self.config) {
            if self.plateau_decay_epochs.len() < self.config.plateau_decays {
                // A plateau, not the end: a smaller step often finds the
                // next descent (small datasets sit on several plateaus).
                self.learning_rate *= self.config.plateau_factor;
                self.early_stopping.restart_patience();
                self.plateau_decay_epochs.push(epoch);
            } else {
                ended = true;
            }
        }
        ended
    }
}

/// What every step of a group reads.
struct GroupContext<'a> {
    data: &'a TrainingData,
    device_data: &'a crate::run::DeviceData,
    device: Device,
    started: Instant,
    parameters: i64,
}

/// One epoch of Adam steps for the members (all active); returns, read once,
/// each member's summed train loss, then reconstruction, then KL parts
/// (each weighted by the batch length), `3 x members` values.
fn train_epoch(
    context: &GroupContext<'_>,
    model: &StackedDense,
    parameters: &[Tensor],
    adam: &mut MemberAdam,
    members: &mut [Member<'_>],
    epoch: usize,
) -> Vec<f64> {
    let count = members.len() as i64;
    let latent = members[0].config.latent_dim as i64;
    let variational = members[0].config.architecture.is_variational();
    let batch_size = members[0].config.batch_size;
    let feature_dim = context.data.features.ncols() as i64;
    // Every member here is active: ended members left the stack.
    let mut weights = Vec::with_capacity(members.len());
    for member in members.iter_mut() {
        member.order.shuffle(&mut member.shuffle);
        weights.push(kl_weight(member.config, epoch) as f32);
    }
    let weights = Tensor::from_slice(&weights).to_device(context.device);
    let mut sums = Tensor::zeros([3, count], (Kind::Double, context.device));
    let train_count = members[0].train.len();
    let mut start = 0;
    while start < train_count {
        let length = batch_size.min(train_count - start);
        let mut indices = Vec::with_capacity(members.len() * length);
        for member in members.iter() {
            indices.extend_from_slice(&member.order[start..start + length]);
        }
        let input =
            context
                .device_data
                .batch(&indices)
                .features
                .view([count, length as i64, feature_dim]);
        let noise = variational.then(|| {
            let mut draws = Vec::with_capacity(members.len());
            for member in members.iter_mut() {
                draws.push(standard_normal(
                    &mut member.noise,
                    &[length as i64, latent],
                    context.device,
                ));
            }
            Tensor::stack(&draws, 0)
        });
        let (reconstruction, kl) = model.loss_parts(&input, noise.as_ref());
        let per_member = &reconstruction + &kl * &weights;
        let total = per_member.sum(Kind::Float);
        // The gradients come back as new tensors (no `.grad` to zero and
        // accumulate into: two passes over every gradient saved per step).
        let gradients = Tensor::run_backward(&[&total], parameters, false, false);
        clip_gradients(&gradients, members, context.device);
        let mut steps = Vec::with_capacity(members.len());
        for member in members.iter_mut() {
            member.adam_steps += 1;
            steps.push(MemberStep::new(member.learning_rate, member.adam_steps));
        }
        adam.step(parameters, &gradients, &steps);
        let parts = Tensor::stack(&[per_member, reconstruction, kl], 0)
            .detach()
            .to_kind(Kind::Double);
        sums += parts * length as f64;
        start += length;
    }
    tensor_values(&sums)
}

/// Each member's mean validation loss (latent means decoded, KL weighted),
/// read once.
fn validate(
    context: &GroupContext<'_>,
    model: &StackedDense,
    members: &[Member<'_>],
    epoch: usize,
) -> Vec<f64> {
    let count = members.len() as i64;
    let batch_size = members[0].config.batch_size;
    let feature_dim = context.data.features.ncols() as i64;
    let validation_count = members[0].validation.len();
    let mut weights = Vec::with_capacity(members.len());
    for member in members {
        weights.push(kl_weight(member.config, epoch));
    }
    let weights = Tensor::from_slice(&weights).to_device(context.device);
    tch::no_grad(|| {
        let mut total = Tensor::zeros([count], (Kind::Double, context.device));
        let mut start = 0;
        while start < validation_count {
            let length = batch_size.min(validation_count - start);
            let mut indices = Vec::with_capacity(members.len() * length);
            for member in members {
                indices.extend_from_slice(&member.validation[start..start + length]);
            }
            let input = context.device_data.batch(&indices).features.view([
                count,
                length as i64,
                feature_dim,
            ]);
            let (reconstruction, kl) = model.loss_parts(&input, None);
            let loss = reconstruction.to_kind(Kind::Double) + kl.to_kind(Kind::Double) * &weights;
            total += loss * length as f64;
            start += length;
        }
        let mut values = tensor_values(&total);
        for value in &mut values {
            *value /= validation_count.max(1) as f64;
        }
        values
    })
}

/// A member's outputs at its end: its parameters copied into a solo store,
/// the latent means of every track, clusters and scores.
fn finish(
    context: &GroupContext<'_>,
    model: &StackedDense,
    index: usize,
    member: &Member<'_>,
) -> Result<RunOutputs> {
    let config = member.config;
    let status = if member.diverged_epoch.is_some() {
        RunStatus::Diverged
    } else {
        RunStatus::Completed
    };
    let fitted = Fit {
        curves: member.curves.clone(),
        status,
        diverged_epoch: member.diverged_epoch,
        plateau_decay_epochs: member.plateau_decay_epochs.clone(),
    };
    let mut result = result_of(
        config,
        fitted,
        context.started.elapsed().as_secs_f64(),
        context.parameters,
        context.device,
        (member.train.len(), member.validation.len()),
    );
    let spec = config.model_spec();
    let shape = data_shape(config, context.data, 0);
    let (solo_store, solo) = solo_model(&spec, &shape, context.device);
    if status == RunStatus::Diverged {
        result.memory_mb = peak_memory_mb();
        return Ok(RunOutputs {
            result,
            latents: None,
            clusters: None,
            store: solo_store,
        });
    }
    model.copy_member_into(index, &solo_store);
    let latents: Array2<f32> = encode_all(
        &solo,
        context.device_data,
        context.data.ids.len(),
        config.batch_size,
    )?;
    scored_outputs(result, latents, member.k, &context.data.labels, solo_store)
}
