//! The trait every model shares, the batch it reads, and the loss.

use tch::{Kind, Tensor, nn};

use crate::conv::ConvVae;
use crate::dense::DenseAutoencoder;
use songvae_run::error::Result;
use songvae_run::spec::{Architecture, DataShape, ModelSpec};

/// One batch of tracks, already on the model's device.
#[derive(Debug)]
pub struct Batch {
    /// Fused feature vectors, `[batch, feature_dim]`.
    pub features: Tensor,
    /// Frame matrices `[batch, channels, time]`, for the convolutional model.
    pub frames: Option<Tensor>,
    /// Lyrics vectors `[batch, lyrics_dim]`, joined at the convolutional
    /// model's bottleneck.
    pub lyrics: Option<Tensor>,
    /// One-hot condition `[batch, classes]`, for the conditional model.
    pub condition: Option<Tensor>,
}

/// What the encoder gives: the latent mean, and the log-variance for
/// variational models.
#[derive(Debug)]
pub struct Encoding {
    /// Latent mean `[batch, latent_dim]` (the latent point for the autoencoder).
    pub mean: Tensor,
    /// Latent log-variance, `None` for the autoencoder.
    pub logvar: Option<Tensor>,
}

/// What the decoder gives: the reconstructed input (features for the dense
/// models, frames for the convolutional one) and, for the convolutional
/// model on a dataset with lyrics, the reconstructed lyrics vector.
#[derive(Debug)]
pub struct Reconstruction {
    /// Reconstructed features `[batch, feature_dim]` or frames `[batch, channels, time]`.
    pub input: Tensor,
    /// Reconstructed lyrics `[batch, lyrics_dim]`, when the model takes them separately.
    pub lyrics: Option<Tensor>,
}

/// The two parts of the loss, each a scalar tensor.
#[derive(Debug)]
pub struct LossParts {
    /// Squared error summed over features, averaged over the batch.
    pub reconstruction: Tensor,
    /// KL divergence to the standard normal, summed over latent dimensions and
    /// averaged over the batch; zero for the autoencoder.
    pub kl: Tensor,
}

/// The behaviour every model of the study shares.
pub trait SongModel {
    /// Encodes a batch to the latent mean (and log-variance).
    fn encode(&self, batch: &Batch) -> Encoding;

    /// Decodes latent points (the batch supplies the CVAE's condition).
    fn decode(&self, latent: &Tensor, batch: &Batch) -> Reconstruction;

    /// Decodes `latent` and returns the squared reconstruction error of the
    /// batch's inputs, summed over features and averaged over the batch.
    fn reconstruction_loss(&self, batch: &Batch, latent: &Tensor) -> Tensor;
}

/// Builds the model of `spec` for data of `shape` under `path`.
pub fn build(spec: &ModelSpec, shape: &DataShape, path: &nn::Path) -> Result<Box<dyn SongModel>> {
    spec.validate(shape)?;
    let model: Box<dyn SongModel> = match spec.architecture {
        Architecture::ConvVae => Box::new(ConvVae::new(spec, shape, path)),
        Architecture::Vae
        | Architecture::BetaVae
        | Architecture::Cvae
        | Architecture::Ae
        | Architecture::Vade
        | Architecture::Idec => Box::new(DenseAutoencoder::new(spec, shape, path)),
    };
    Ok(model)
}

/// The loss parts of one batch.
///
/// `noise` is the reparameterisation draw, `[batch, latent_dim]` standard
/// normal, taken from the run's own generator; it is ignored by the
/// autoencoder, and `None` decodes the mean (evaluation).
pub fn loss_parts(model: &dyn SongModel, batch: &Batch, noise: Option<&Tensor>) -> LossParts {
    let encoding = model.encode(batch);
    let Some(logvar) = &encoding.logvar else {
        let reconstruction = model.reconstruction_loss(batch, &encoding.mean);
        let kl = Tensor::zeros([], (Kind::Float, encoding.mean.device()));
        return LossParts { reconstruction, kl };
    };
    let latent = match noise {
        Some(noise) => &encoding.mean + (logvar * 0.5).exp() * noise,
        None => encoding.mean.shallow_clone(),
    };
    let reconstruction = model.reconstruction_loss(batch, &latent);
    let kl_per_track = (encoding.mean.square() + logvar.exp() - logvar - 1.0).sum_dim_intlist(
        1,
        false,
        Kind::Float,
    ) * 0.5;
    LossParts {
        reconstruction,
        kl: kl_per_track.mean(Kind::Float),
    }
}

/// Squared error summed over every dimension but the first, averaged over
/// the first (the batch).
pub fn summed_squared_error(prediction: &Tensor, target: &Tensor) -> Tensor {
    let batch = prediction.size()[0].max(1);
    (prediction - target).square().sum(Kind::Float) / batch as f64
}

/// Number of trainable scalars in a store.
#[must_use]
pub fn parameter_count(store: &nn::VarStore) -> i64 {
    let mut count = 0;
    for variable in store.trainable_variables() {
        count += variable.numel() as i64;
    }
    count
}
