//! The models that cluster by design: VaDE and IDEC.
//!
//! Both start the same way: the dense model (VaDE: the VAE's encoder and
//! decoder; IDEC: the autoencoder's) is pretrained as an autoencoder, the
//! latent mean decoded, for `pretrain_epochs` epochs with Adam at the run's
//! learning rate; then the metrics crate fits the latent means of every
//! track (no label is read): a diagonal Gaussian mixture for VaDE, k-means
//! for IDEC, each with the clustering's `n_init` restarts kept by their own
//! unsupervised criterion (likelihood, inertia). Then:
//!
//! - **VaDE** trains its ELBO (`songvae_models::vade`) from that mixture,
//!   with a fresh Adam over the networks and the prior, and the study's
//!   early stopping on the validation loss. Its clusters are the most
//!   responsible component of each track's latent mean.
//! - **IDEC** fine-tunes reconstruction + `gamma KL(P || Q)`
//!   (`songvae_models::idec`) from the k-means centres; the target `P` is
//!   recomputed from every track every `update_interval` steps (by default
//!   once per epoch and at least [`MIN_DEFAULT_UPDATE_STEPS`] steps apart:
//!   the cost of an update is one pass over every track), and fine-tuning ends when the share of tracks whose
//!   most likely cluster changed between two updates falls under
//!   `assignment_tolerance`, or at `max_epochs`. Its clusters are the argmax
//!   of `Q`.
//!
//! Every run is then scored twice: `scores` for the model's own clusters,
//! `latent_kmeans_scores` for the study's clustering of its latent means, as
//! for every other model. Mixture components (or IDEC clusters) that no
//! track falls in are counted in `empty_clusters`: a collapse is reported,
//! never an error. Runs are never restarted.

use std::time::Instant;

use ndarray::Array2;
use rand::seq::SliceRandom;
use songvae_features::training_data::TrainingData;
use songvae_metrics::gaussian_mixture::{
    CovarianceType, Covariances, GaussianMixtureConfig, gaussian_mixture,
};
use songvae_metrics::kmeans::{KMeansConfig, kmeans};
use songvae_metrics::scoring::{cluster_and_score, cluster_count, score_clusters};
use songvae_models::device::resolve;
use songvae_models::idec::{StudentTClusters, clustering_loss, target_distribution};
use songvae_models::init::initialise;
use songvae_models::model::{Batch, LossParts, SongModel, build, parameter_count};
use songvae_models::vade::MixturePrior;
use songvae_run::config::RunConfig;
use songvae_run::result::{LossCurves, RunStatus};
use songvae_run::spec::Architecture;
use tch::nn::{self, OptimizerConfig};
use tch::{Kind, Tensor};

use crate::error::Result;
use crate::run::{
    DeviceData, EpochCallback, Fit, RunOutputs, data_shape, encode_all, fit, peak_memory_mb,
    result_of, split, stopping_loss, stream, stream_generator, tensor_values, to_device,
};

/// The fewest optimiser steps between two IDEC target updates when
/// `update_interval` is not set: the network needs steps to respond to a
/// target (IDEC's published intervals are 3 to 140 steps of 256 samples),
/// and on a small dataset one epoch is only a few steps.
pub const MIN_DEFAULT_UPDATE_STEPS: usize = 100;

/// What the joint phase (VaDE) or the fine-tuning (IDEC) leaves behind.
struct ClusteringPhase {
    fitted: Fit,
    /// The model's own cluster of every track.
    own_clusters: Vec<usize>,
    /// VaDE's final mixture weights.
    mixture_weights: Option<Vec<f64>>,
}

/// Trains a `vade` or `idec` run end to end (see the module overview).
pub fn train_clustering_model(
    config: &RunConfig,
    data: &TrainingData,
    on_epoch: EpochCallback<'_>,
) -> Result<RunOutputs> {
    config.validate()?;
    let device = resolve(config.device)?;
    let track_count = data.ids.len();
    let k = cluster_count(&config.clustering, track_count, &data.labels)?;
    let shape = data_shape(config, data, 0);
    let spec = config.model_spec();
    spec.validate(&shape)?;
    let device_data = to_device(config, data, None, device);
    let store = nn::VarStore::new(device);
    let model = build(&spec, &shape, &store.root())?;
    initialise(&store, &mut stream_generator(config.seed, stream::INIT));
    let indices = split(track_count, config);
    let tracks = (indices.0.len(), indices.1.len());

    let started = Instant::now();
    let pretrain_loss = pretrain(model.as_ref(), &store, &device_data, config, &indices.0)?;
    let Some(pretrain_loss) = pretrain_loss else {
        // The pretraining diverged: nothing to fit a mixture on.
        let fitted = Fit {
            curves: LossCurves::default(),
            status: RunStatus::Diverged,
            diverged_epoch: Some(0),
            plateau_decay_epochs: Vec::new(),
        };
        let parameters = parameter_count(&store);
        let elapsed = started.elapsed().as_secs_f64();
        let result = result_of(config, fitted, elapsed, parameters, device, tracks);
        return Ok(unscored(result, store));
    };
    let pretrained =
        encode_all(model.as_ref(), &device_data, track_count, config.batch_size)?.mapv(f64::from);
    let phase = if config.architecture == Architecture::Vade {
        vade_phase(
            model.as_ref(),
            &store,
            &device_data,
            config,
            &pretrained,
            k,
            (&indices.0, &indices.1),
            on_epoch,
        )?
    } else {
        idec_phase(
            model.as_ref(),
            &store,
            &device_data,
            config,
            &pretrained,
            k,
            (&indices.0, &indices.1),
            on_epoch,
        )?
    };
    let mut fitted = phase.fitted;
    fitted.curves.pretrain_loss = pretrain_loss;
    let status = fitted.status;
    let parameters = parameter_count(&store);
    let elapsed = started.elapsed().as_secs_f64();
    let mut result = result_of(config, fitted, elapsed, parameters, device, tracks);
    if status == RunStatus::Diverged {
        return Ok(unscored(result, store));
    }
    let latents = encode_all(model.as_ref(), &device_data, track_count, config.batch_size)?;
    let embedding = latents.mapv(f64::from);
    let mut occupied = vec![false; k];
    for cluster in &phase.own_clusters {
        occupied[*cluster] = true;
    }
    result.mixture_weights = phase.mixture_weights;
    result.empty_clusters = Some(occupied.iter().filter(|taken| !**taken).count());
    result.scores = Some(score_clusters(
        embedding.view(),
        &phase.own_clusters,
        k,
        &data.labels,
    )?);
    let (_, latent_kmeans) = cluster_and_score(
        embedding.view(),
        k,
        &config.clustering,
        config.seed,
        &data.labels,
    )?;
    result.latent_kmeans_scores = Some(latent_kmeans);
    result.memory_mb = peak_memory_mb();
    Ok(RunOutputs {
        result,
        latents: Some(latents),
        clusters: Some(phase.own_clusters),
        store,
    })
}

/// The outputs of a run that diverged: its result, no latents or clusters.
fn unscored(mut result: songvae_run::result::RunResult, store: nn::VarStore) -> RunOutputs {
    result.memory_mb = peak_memory_mb();
    RunOutputs {
        result,
        latents: None,
        clusters: None,
        store,
    }
}

/// VaDE after pretraining: the mixture fit, the joint ELBO, the clusters.
// The phase needs the model, its store, the data, the config, the latents
// it starts from, k, the split and the callback: one argument each.
#[allow(clippy::too_many_arguments)]
fn vade_phase(
    model: &dyn SongModel,
    store: &nn::VarStore,
    data: &DeviceData,
    config: &RunConfig,
    pretrained: &Array2<f64>,
    k: usize,
    indices: (&[i64], &[i64]),
    on_epoch: EpochCallback<'_>,
) -> Result<ClusteringPhase> {
    let prior = initial_prior(store, pretrained, k, config)?;
    let fitted = train_vade(model, &prior, store, data, config, indices, on_epoch)?;
    let own_clusters = vade_clusters(model, &prior, data, pretrained.nrows(), config);
    Ok(ClusteringPhase {
        fitted,
        own_clusters,
        mixture_weights: Some(prior.parameters().weights.to_vec()),
    })
}

/// IDEC after pretraining: the k-means centres, the fine-tuning, the clusters.
// As `vade_phase`: one argument per input of the phase.
#[allow(clippy::too_many_arguments)]
fn idec_phase(
    model: &dyn SongModel,
    store: &nn::VarStore,
    data: &DeviceData,
    config: &RunConfig,
    pretrained: &Array2<f64>,
    k: usize,
    indices: (&[i64], &[i64]),
    on_epoch: EpochCallback<'_>,
) -> Result<ClusteringPhase> {
    let centres = kmeans(
        pretrained.view(),
        &KMeansConfig {
            n_clusters: k,
            n_init: config.clustering.n_init,
            seed: config.seed,
            ..KMeansConfig::default()
        },
    )?
    .centres;
    let clusters = StudentTClusters::from_centres(&store.root(), &centres);
    let fitted = train_idec(model, &clusters, store, data, config, indices, on_epoch)?;
    let own_clusters = argmax_of(&all_soft_assignments(
        model,
        &clusters,
        data,
        pretrained.nrows(),
        config.batch_size,
    ));
    Ok(ClusteringPhase {
        fitted,
        own_clusters,
        mixture_weights: None,
    })
}

/// Autoencoder pretraining: the latent mean decoded, reconstruction only.
/// The mean training loss per epoch, or `None` when it became non-finite.
fn pretrain(
    model: &dyn SongModel,
    store: &nn::VarStore,
    data: &DeviceData,
    config: &RunConfig,
    train_indices: &[i64],
) -> Result<Option<Vec<f64>>> {
    let mut optimiser = nn::Adam::default().build(store, config.learning_rate)?;
    let mut shuffle_generator = stream_generator(config.seed, stream::PRETRAIN_SHUFFLE);
    let mut order = train_indices.to_vec();
    let mut curve = Vec::with_capacity(config.pretrain_epochs);
    let device = data.features.device();
    for _ in 0..config.pretrain_epochs {
        order.shuffle(&mut shuffle_generator);
        let mut sum = Tensor::zeros([1], (Kind::Double, device));
        for chunk in order.chunks(config.batch_size) {
            let batch = data.batch(chunk);
            let mean = model.encode(&batch).mean;
            let loss = model.reconstruction_loss(&batch, &mean);
            optimiser.zero_grad();
            loss.backward();
            if let Some(clip) = config.gradient_clip {
                optimiser.clip_grad_norm(clip);
            }
            optimiser.step();
            sum += loss.detach().to_kind(Kind::Double) * chunk.len() as f64;
        }
        let mean_loss = tensor_values(&sum)[0] / train_indices.len() as f64;
        if !mean_loss.is_finite() {
            return Ok(None);
        }
        curve.push(mean_loss);
    }
    Ok(Some(curve))
}

/// VaDE's prior from a diagonal Gaussian mixture on the pretrained latent means.
fn initial_prior(
    store: &nn::VarStore,
    pretrained: &Array2<f64>,
    k: usize,
    config: &RunConfig,
) -> Result<MixturePrior> {
    let mixture = gaussian_mixture(
        pretrained.view(),
        &GaussianMixtureConfig {
            n_components: k,
            covariance_type: CovarianceType::Diag,
            n_init: config.clustering.n_init,
            seed: config.seed,
            ..GaussianMixtureConfig::default()
        },
    )?;
    let variances = match &mixture.covariances {
        Covariances::Diag(variances) => variances.clone(),
        Covariances::Full(matrices) => {
            // Not reached (diagonal requested); the diagonals if it were.
            let mut diagonals = Array2::zeros((matrices.len(), pretrained.ncols()));
            for (row, matrix) in matrices.iter().enumerate() {
                for column in 0..pretrained.ncols() {
                    diagonals[[row, column]] = matrix[[column, column]];
                }
            }
            diagonals
        }
    };
    start_posterior_variance(store, &variances);
    Ok(MixturePrior::from_mixture(
        &store.root(),
        &mixture.weights,
        &mixture.means,
        &variances,
    ))
}

/// Sets the encoder's log-variance head to a constant: per latent
/// dimension, the log of the fitted components' mean variance. The head is
/// not trained by the autoencoder pretraining; left at its random start it
/// would give posteriors about as wide as the whole latent space (variance
/// near 1) around means whose clusters are much tighter, and the first
/// steps of the joint phase would be driven by that noise.
fn start_posterior_variance(store: &nn::VarStore, variances: &Array2<f64>) {
    let variables = store.variables();
    let (Some(weight), Some(bias)) = (
        variables.get("to_logvar.weight"),
        variables.get("to_logvar.bias"),
    ) else {
        return;
    };
    let mut log_variances = Vec::with_capacity(variances.ncols());
    for column in variances.columns() {
        log_variances.push(column.mean().unwrap_or(1.0).max(1e-12).ln() as f32);
    }
    let start = Tensor::from_slice(&log_variances).to_device(bias.device());
    tch::no_grad(|| {
        let mut weight = weight.shallow_clone();
        let _ = weight.zero_();
        let mut bias = bias.shallow_clone();
        bias.copy_(&start);
    });
}

/// The VaDE loss of a batch: reconstruction at a sampled `z` (at the mean
/// without noise) and the mixture KL, both averaged over the batch.
fn vade_loss(
    model: &dyn SongModel,
    prior: &MixturePrior,
    batch: &Batch,
    noise: Option<&Tensor>,
) -> LossParts {
    let encoding = model.encode(batch);
    let log_variance = encoding
        .logvar
        .expect("a vade encoder is variational (validated)");
    let z = match noise {
        Some(noise) => &encoding.mean + (&log_variance * 0.5).exp() * noise,
        None => encoding.mean.shallow_clone(),
    };
    let reconstruction = model.reconstruction_loss(batch, &z);
    let kl = prior
        .kl_per_track(&encoding.mean, &log_variance, &z)
        .mean(Kind::Float);
    LossParts { reconstruction, kl }
}

fn train_vade(
    model: &dyn SongModel,
    prior: &MixturePrior,
    store: &nn::VarStore,
    data: &DeviceData,
    config: &RunConfig,
    indices: (&[i64], &[i64]),
    on_epoch: EpochCallback<'_>,
) -> Result<Fit> {
    let mut optimiser = nn::Adam::default().build(store, config.learning_rate)?;
    let loss = |batch: &Batch, noise: Option<&Tensor>| vade_loss(model, prior, batch, noise);
    Ok(fit(
        &loss,
        &mut optimiser,
        data,
        config,
        indices.0,
        indices.1,
        on_epoch,
    ))
}

/// `rows(batch)` (`batch x k`) for every track, in batches and track order,
/// without gradients.
fn every_track(
    data: &DeviceData,
    track_count: usize,
    batch_size: usize,
    rows: impl Fn(&Batch) -> Tensor,
) -> Tensor {
    let all: Vec<i64> = (0..track_count as i64).collect();
    let mut blocks = Vec::new();
    tch::no_grad(|| {
        for chunk in all.chunks(batch_size) {
            blocks.push(rows(&data.batch(chunk)));
        }
    });
    Tensor::cat(&blocks, 0)
}

/// The column of each row's largest entry (`n x k` scores), read to the host.
fn argmax_of(scores: &Tensor) -> Vec<usize> {
    let values = tensor_values(&scores.argmax(1, false));
    let mut clusters = Vec::with_capacity(values.len());
    for value in values {
        clusters.push(value as usize);
    }
    clusters
}

/// The most responsible component of each track's latent mean.
fn vade_clusters(
    model: &dyn SongModel,
    prior: &MixturePrior,
    data: &DeviceData,
    track_count: usize,
    config: &RunConfig,
) -> Vec<usize> {
    argmax_of(&every_track(
        data,
        track_count,
        config.batch_size,
        |batch| prior.log_responsibilities(&model.encode(batch).mean),
    ))
}

/// IDEC's soft assignments of every track, `n x k`.
fn all_soft_assignments(
    model: &dyn SongModel,
    clusters: &StudentTClusters,
    data: &DeviceData,
    track_count: usize,
    batch_size: usize,
) -> Tensor {
    every_track(data, track_count, batch_size, |batch| {
        clusters.soft_assignments(&model.encode(batch).mean)
    })
}

/// IDEC's loss on the held-out tracks (reconstruction plus `gamma` times
/// the clustering loss against `target`); `None` when none are held out.
fn idec_validation_loss(
    model: &dyn SongModel,
    clusters: &StudentTClusters,
    data: &DeviceData,
    validation_index: &Tensor,
    target: &Tensor,
    gamma: f64,
) -> Option<f64> {
    if validation_index.size()[0] == 0 {
        return None;
    }
    Some(tch::no_grad(|| {
        let batch = data.batch_at(validation_index);
        let mean = model.encode(&batch).mean;
        let reconstruction = model.reconstruction_loss(&batch, &mean);
        let q = clusters.soft_assignments(&mean);
        let clustering = clustering_loss(&target.index_select(0, validation_index), &q);
        tensor_values(&(reconstruction + clustering * gamma))[0]
    }))
}

/// IDEC's fine-tuning loop (see the module overview). The KL curve holds
/// the clustering loss `KL(P || Q)`; `assignment_changes` the share of
/// tracks that changed cluster at each target update after the first.
fn train_idec(
    model: &dyn SongModel,
    clusters: &StudentTClusters,
    store: &nn::VarStore,
    data: &DeviceData,
    config: &RunConfig,
    indices: (&[i64], &[i64]),
    on_epoch: EpochCallback<'_>,
) -> Result<Fit> {
    let (train_indices, validation_indices) = indices;
    let track_count = data.features.size()[0] as usize;
    let mut optimiser = nn::Adam::default().build(store, config.learning_rate)?;
    let mut shuffle_generator = stream_generator(config.seed, stream::SHUFFLE);
    let steps_per_epoch = train_indices.len().div_ceil(config.batch_size);
    let update_interval = config
        .update_interval
        .unwrap_or_else(|| steps_per_epoch.max(MIN_DEFAULT_UPDATE_STEPS));
    let device = data.features.device();
    let mut curves = LossCurves::default();
    let mut status = RunStatus::Completed;
    let mut diverged_epoch = None;
    let mut order = train_indices.to_vec();
    let mut target = Tensor::zeros([1], (Kind::Float, device));
    let mut previous_assignments: Option<Vec<f64>> = None;
    let mut step = 0_usize;
    let mut converged = false;
    let validation_index = data.index_of(validation_indices);
    'epochs: for epoch in 1..=config.max_epochs {
        order.shuffle(&mut shuffle_generator);
        let mut sums = Tensor::zeros([3], (Kind::Double, device));
        let mut seen = 0_usize;
        for chunk in order.chunks(config.batch_size) {
            if step.is_multiple_of(update_interval) {
                let q = all_soft_assignments(model, clusters, data, track_count, config.batch_size);
                let assignments = tensor_values(&q.argmax(1, false));
                target = target_distribution(&q);
                if let Some(previous) = &previous_assignments {
                    let mut changed = 0_usize;
                    for (now, before) in assignments.iter().zip(previous) {
                        if now.to_bits() != before.to_bits() {
                            changed += 1;
                        }
                    }
                    let share = changed as f64 / track_count as f64;
                    curves.assignment_changes.push(share);
                    if share < config.assignment_tolerance {
                        converged = true;
                    }
                }
                previous_assignments = Some(assignments);
                if converged && seen == 0 {
                    break 'epochs;
                }
                if converged {
                    break;
                }
            }
            let index = data.index_of(chunk);
            let batch = data.batch_at(&index);
            let mean = model.encode(&batch).mean;
            let reconstruction = model.reconstruction_loss(&batch, &mean);
            let q = clusters.soft_assignments(&mean);
            let clustering = clustering_loss(&target.index_select(0, &index), &q);
            let loss = &reconstruction + &clustering * config.gamma;
            optimiser.zero_grad();
            loss.backward();
            if let Some(clip) = config.gradient_clip {
                optimiser.clip_grad_norm(clip);
            }
            optimiser.step();
            let parts = Tensor::stack(&[loss.detach(), reconstruction, clustering], 0)
                .detach()
                .to_kind(Kind::Double);
            sums += parts * chunk.len() as f64;
            seen += chunk.len();
            step += 1;
        }
        let sums = tensor_values(&sums);
        let validation = idec_validation_loss(
            model,
            clusters,
            data,
            &validation_index,
            &target,
            config.gamma,
        );
        let seen = seen.max(1) as f64;
        let watched = stopping_loss(sums[0] / seen, validation);
        if sums.iter().any(|value| !value.is_finite()) || !watched.is_finite() {
            status = RunStatus::Diverged;
            diverged_epoch = Some(epoch);
            break;
        }
        curves.train_loss.push(sums[0] / seen);
        curves.reconstruction_loss.push(sums[1] / seen);
        curves.kl_divergence.push(sums[2] / seen);
        curves.validation_loss.extend(validation);
        on_epoch(epoch, config.max_epochs, sums[0] / seen, watched);
        if converged {
            break;
        }
    }
    Ok(Fit {
        curves,
        status,
        diverged_epoch,
        plateau_decay_epochs: Vec::new(),
    })
}
