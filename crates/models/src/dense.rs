//! Fully connected models: VAE, beta-VAE, conditional VAE and autoencoder,
//! and the networks of VaDE (the VAE's) and IDEC (the autoencoder's).
//!
//! Encoder: input (with the one-hot condition for the CVAE) -> hidden layers
//! of [`ModelSpec::hidden_widths`], each followed by the spec's activation
//! (`ReLU`, `tanh` or ELU) -> latent mean and log-variance (one latent
//! point for the autoencoder, through `tanh` when its code is bounded). The
//! decoder mirrors it: latent (with the condition) -> the hidden widths in
//! reverse -> the input width, linear output. beta-VAE differs only in the
//! loss weight, set by training.

use tch::{Tensor, nn, nn::Module};

use crate::model::{Batch, Encoding, Reconstruction, SongModel, summed_squared_error};
use songvae_run::spec::{Activation, Architecture, DataShape, ModelSpec};

/// The fully connected model of every dense architecture.
#[derive(Debug)]
pub struct DenseAutoencoder {
    encoder: nn::Sequential,
    to_mean: nn::Linear,
    to_logvar: Option<nn::Linear>,
    decoder: nn::Sequential,
    conditional: bool,
    bounded_code: bool,
}

/// The activation as a function on tensors.
fn activation_fn(activation: Activation) -> fn(&Tensor) -> Tensor {
    match activation {
        Activation::Relu => Tensor::relu,
        Activation::Tanh => Tensor::tanh,
        Activation::Elu => Tensor::elu,
    }
}

impl DenseAutoencoder {
    /// Creates the layers under `path`. The spec must be validated.
    #[must_use]
    pub fn new(spec: &ModelSpec, shape: &DataShape, path: &nn::Path) -> Self {
        let conditional = spec.architecture == Architecture::Cvae;
        let condition_width = if conditional {
            shape.condition_classes as i64
        } else {
            0
        };
        let widths = spec.hidden_widths();
        let activation = activation_fn(spec.activation);
        let mut encoder = nn::seq();
        let mut previous = shape.feature_dim as i64 + condition_width;
        for (layer, width) in widths.iter().enumerate() {
            let width = *width as i64;
            encoder = encoder
                .add(nn::linear(
                    path / format!("encoder{layer}"),
                    previous,
                    width,
                    nn::LinearConfig::default(),
                ))
                .add_fn(activation);
            previous = width;
        }
        let latent = spec.latent_dim as i64;
        let to_mean = nn::linear(
            path / "to_mean",
            previous,
            latent,
            nn::LinearConfig::default(),
        );
        let to_logvar = spec.architecture.is_variational().then(|| {
            nn::linear(
                path / "to_logvar",
                previous,
                latent,
                nn::LinearConfig::default(),
            )
        });
        let mut decoder = nn::seq();
        let mut previous = latent + condition_width;
        for (layer, width) in widths.iter().rev().enumerate() {
            let width = *width as i64;
            decoder = decoder
                .add(nn::linear(
                    path / format!("decoder{layer}"),
                    previous,
                    width,
                    nn::LinearConfig::default(),
                ))
                .add_fn(activation);
            previous = width;
        }
        decoder = decoder.add(nn::linear(
            path / "output",
            previous,
            shape.feature_dim as i64,
            nn::LinearConfig::default(),
        ));
        Self {
            encoder,
            to_mean,
            to_logvar,
            decoder,
            conditional,
            bounded_code: spec.bounded_code,
        }
    }

    /// Appends the condition to `input` for the conditional model.
    fn with_condition(&self, input: &Tensor, batch: &Batch) -> Tensor {
        match (&batch.condition, self.conditional) {
            (Some(condition), true) => Tensor::cat(&[input, condition], 1),
            _ => input.shallow_clone(),
        }
    }
}

impl SongModel for DenseAutoencoder {
    fn encode(&self, batch: &Batch) -> Encoding {
        let hidden = self
            .encoder
            .forward(&self.with_condition(&batch.features, batch));
        let mean = self.to_mean.forward(&hidden);
        Encoding {
            mean: if self.bounded_code { mean.tanh() } else { mean },
            logvar: self.to_logvar.as_ref().map(|layer| layer.forward(&hidden)),
        }
    }

    fn decode(&self, latent: &Tensor, batch: &Batch) -> Reconstruction {
        Reconstruction {
            input: self.decoder.forward(&self.with_condition(latent, batch)),
            lyrics: None,
        }
    }

    fn reconstruction_loss(&self, batch: &Batch, latent: &Tensor) -> Tensor {
        summed_squared_error(&self.decode(latent, batch).input, &batch.features)
    }
}
