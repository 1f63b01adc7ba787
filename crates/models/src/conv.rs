//! The 1-D convolutional VAE over MFCC frame matrices, hybrid with lyrics.
//!
//! Encoder: frames `[batch, channels, time]` -> `Conv1d(channels, 32, k5, s2)`
//! -> `ReLU` -> `Conv1d(32, 64, k5, s2)` -> `ReLU` -> flatten; the lyrics
//! vector is concatenated here (when the dataset has lyrics) ->
//! `Linear(hidden_dim)` -> `ReLU` -> latent mean and log-variance. Decoder:
//! latent -> `Linear(hidden_dim)` -> `ReLU` -> `Linear` back to the flattened
//! conv shape -> two transposed convolutions to `[batch, channels, time]`
//! (cropped to `time`), plus a linear lyrics head from the same hidden layer.
//! The reconstruction loss covers the frames and the lyrics vector.

use tch::{Tensor, nn, nn::Module};

use crate::model::{Batch, Encoding, Reconstruction, SongModel, summed_squared_error};
use songvae_run::spec::{DataShape, ModelSpec};

/// Channels of the first and second convolution.
const CONV_CHANNELS: [i64; 2] = [32, 64];

/// The convolutional VAE.
#[derive(Debug)]
pub struct ConvVae {
    convolutions: nn::Sequential,
    encoder_hidden: nn::Linear,
    to_mean: nn::Linear,
    to_logvar: nn::Linear,
    decoder_hidden: nn::Linear,
    to_conv_shape: nn::Linear,
    deconvolutions: nn::Sequential,
    lyrics_head: Option<nn::Linear>,
    time: i64,
    reduced_time: i64,
}

/// Length after a stride-2, kernel-5, padding-2 convolution.
fn halved(length: i64) -> i64 {
    (length + 1) / 2
}

impl ConvVae {
    /// Creates the layers under `path`. The spec must be validated (frames present).
    pub fn new(spec: &ModelSpec, shape: &DataShape, path: &nn::Path) -> Self {
        let (channels, time) = shape.frames.unwrap_or((1, 1));
        let (channels, time) = (channels as i64, time as i64);
        let reduced_time = halved(halved(time));
        let flat = CONV_CHANNELS[1] * reduced_time;
        let lyrics = shape.lyrics_dim as i64;
        let hidden = spec.hidden_dim as i64;
        let latent = spec.latent_dim as i64;
        let down = nn::ConvConfig {
            stride: 2,
            padding: 2,
            ..Default::default()
        };
        let convolutions = nn::seq()
            .add(nn::conv1d(
                path / "conv0",
                channels,
                CONV_CHANNELS[0],
                5,
                down,
            ))
            .add_fn(Tensor::relu)
            .add(nn::conv1d(
                path / "conv1",
                CONV_CHANNELS[0],
                CONV_CHANNELS[1],
                5,
                down,
            ))
            .add_fn(Tensor::relu);
        let up = nn::ConvTransposeConfig {
            stride: 2,
            padding: 1,
            ..Default::default()
        };
        let deconvolutions = nn::seq()
            .add(nn::conv_transpose1d(
                path / "deconv0",
                CONV_CHANNELS[1],
                CONV_CHANNELS[0],
                4,
                up,
            ))
            .add_fn(Tensor::relu)
            .add(nn::conv_transpose1d(
                path / "deconv1",
                CONV_CHANNELS[0],
                channels,
                4,
                up,
            ));
        Self {
            convolutions,
            encoder_hidden: nn::linear(
                path / "encoder_hidden",
                flat + lyrics,
                hidden,
                nn::LinearConfig::default(),
            ),
            to_mean: nn::linear(
                path / "to_mean",
                hidden,
                latent,
                nn::LinearConfig::default(),
            ),
            to_logvar: nn::linear(
                path / "to_logvar",
                hidden,
                latent,
                nn::LinearConfig::default(),
            ),
            decoder_hidden: nn::linear(
                path / "decoder_hidden",
                latent,
                hidden,
                nn::LinearConfig::default(),
            ),
            to_conv_shape: nn::linear(
                path / "to_conv_shape",
                hidden,
                flat,
                nn::LinearConfig::default(),
            ),
            deconvolutions,
            lyrics_head: (lyrics > 0).then(|| {
                nn::linear(
                    path / "lyrics_head",
                    hidden,
                    lyrics,
                    nn::LinearConfig::default(),
                )
            }),
            time,
            reduced_time,
        }
    }
}

impl SongModel for ConvVae {
    fn encode(&self, batch: &Batch) -> Encoding {
        let frames = batch
            .frames
            .as_ref()
            .expect("conv_vae batches carry frames: the spec was validated");
        let flat = self.convolutions.forward(frames).flatten(1, -1);
        let joined = match (&batch.lyrics, &self.lyrics_head) {
            (Some(lyrics), Some(_)) => Tensor::cat(&[&flat, lyrics], 1),
            _ => flat,
        };
        let hidden = self.encoder_hidden.forward(&joined).relu();
        Encoding {
            mean: self.to_mean.forward(&hidden),
            logvar: Some(self.to_logvar.forward(&hidden)),
        }
    }

    fn decode(&self, latent: &Tensor, _batch: &Batch) -> Reconstruction {
        let hidden = self.decoder_hidden.forward(latent).relu();
        let batch_size = latent.size()[0];
        let conv_input = self.to_conv_shape.forward(&hidden).relu().view([
            batch_size,
            CONV_CHANNELS[1],
            self.reduced_time,
        ]);
        Reconstruction {
            input: self
                .deconvolutions
                .forward(&conv_input)
                .narrow(2, 0, self.time),
            lyrics: self.lyrics_head.as_ref().map(|head| head.forward(&hidden)),
        }
    }

    fn reconstruction_loss(&self, batch: &Batch, latent: &Tensor) -> Tensor {
        let frames = batch
            .frames
            .as_ref()
            .expect("conv_vae batches carry frames: the spec was validated");
        let reconstruction = self.decode(latent, batch);
        let frames_loss = summed_squared_error(&reconstruction.input, frames);
        match (&batch.lyrics, &reconstruction.lyrics) {
            (Some(lyrics), Some(decoded_lyrics)) => {
                frames_loss + summed_squared_error(decoded_lyrics, lyrics)
            }
            _ => frames_loss,
        }
    }
}
