//! What a model looks like: its architecture and sizes, and the shapes the
//! dataset gives it.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The model families of the study.
///
/// | name | what | latent |
/// |---|---|---|
/// | `vae` | fully connected VAE on the fused feature vector | mean and log-variance |
/// | `conv_vae` | 1-D convolutions over the MFCC frame matrix; lyrics join at the bottleneck | mean and log-variance |
/// | `beta_vae` | `vae` with the KL term weighted by `beta` | mean and log-variance |
/// | `cvae` | `vae` with encoder and decoder conditioned on a one-hot label | mean and log-variance |
/// | `ae` | deterministic autoencoder, the baseline | a point, no KL |
/// | `vade` | `vae` with a k-component Gaussian-mixture prior; clusters are its responsibilities | mean and log-variance |
/// | `idec` | `ae` fine-tuned with a Student-t clustering loss; clusters are its soft assignments | a point, no KL |
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Architecture {
    /// Fully connected VAE.
    Vae,
    /// 1-D convolutional VAE over frames, hybrid with lyrics.
    ConvVae,
    /// VAE with a weighted KL term.
    BetaVae,
    /// Conditional VAE.
    Cvae,
    /// Plain autoencoder.
    Ae,
    /// Variational deep embedding: a VAE with a mixture-of-Gaussians prior.
    Vade,
    /// Improved deep embedded clustering: an autoencoder with a clustering loss.
    Idec,
}

impl Architecture {
    /// Every architecture, in the order of the study's comparison table.
    pub const ALL: [Architecture; 7] = [
        Architecture::Vae,
        Architecture::ConvVae,
        Architecture::BetaVae,
        Architecture::Cvae,
        Architecture::Ae,
        Architecture::Vade,
        Architecture::Idec,
    ];

    /// The name used in configs and reports.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Architecture::Vae => "vae",
            Architecture::ConvVae => "conv_vae",
            Architecture::BetaVae => "beta_vae",
            Architecture::Cvae => "cvae",
            Architecture::Ae => "ae",
            Architecture::Vade => "vade",
            Architecture::Idec => "idec",
        }
    }

    /// Whether runs of this architecture train as stacked groups (the
    /// dense, unconditioned ones; see `songvae_models::stacked`).
    #[must_use]
    pub fn stacks(self) -> bool {
        matches!(
            self,
            Architecture::Vae | Architecture::BetaVae | Architecture::Ae
        )
    }

    /// Whether the latent is a distribution (and the loss has a KL term).
    #[must_use]
    pub fn is_variational(self) -> bool {
        !matches!(self, Architecture::Ae | Architecture::Idec)
    }

    /// Whether the model clusters by design (`vade`, `idec`): its own
    /// clusters are the run's clusters, and k-means on its latent means is
    /// scored beside them.
    #[must_use]
    pub fn clusters_by_design(self) -> bool {
        matches!(self, Architecture::Vade | Architecture::Idec)
    }
}

/// The non-linearity after every hidden layer of the dense models.
///
/// Power-transformed descriptors are roughly standard normal on both sides
/// of zero; a `ReLU` network discards half of each pre-activation, while
/// `tanh` and ELU keep the sign (see `docs/features.md`).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// `max(0, x)`, the study's seed default.
    #[default]
    Relu,
    /// `tanh(x)`.
    Tanh,
    /// `x` for `x > 0`, `exp(x) - 1` otherwise.
    Elu,
}

impl Activation {
    /// Every activation.
    pub const ALL: [Self; 3] = [Self::Relu, Self::Tanh, Self::Elu];

    /// The name used in configs.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Relu => "relu",
            Self::Tanh => "tanh",
            Self::Elu => "elu",
        }
    }
}

/// Sizes and shape options of a model.
///
/// | key | default | valid |
/// |---|---|---|
/// | `latent_dim` | 16 | 1 ..= 4096 |
/// | `hidden_dim` | 256 | 1 ..= 65536 |
/// | `depth` | 2 | 1 ..= 8; layer `i` has `hidden_dim / 2^i` units (at least `latent_dim`) |
/// | `activation` | `relu` | `relu`, `tanh`, `elu`: the dense models' hidden layers (`conv_vae` takes `relu` only) |
/// | `bounded_code` | `false` | `true`: the autoencoder's code passes through `tanh` (`ae` only) |
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ModelSpec {
    /// Which family.
    pub architecture: Architecture,
    /// Size of the latent space.
    pub latent_dim: usize,
    /// Width of the first hidden layer.
    pub hidden_dim: usize,
    /// Number of hidden layers in the encoder (the decoder mirrors them).
    pub depth: usize,
    /// Non-linearity of the dense models' hidden layers.
    pub activation: Activation,
    /// A `tanh` on the autoencoder's code.
    pub bounded_code: bool,
}

/// Shapes that the dataset gives a model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DataShape {
    /// Width of the fused feature vector.
    pub feature_dim: usize,
    /// `(channels, time)` of the frame matrices, when the dataset has them.
    pub frames: Option<(usize, usize)>,
    /// Width of the lyrics block inside the feature vector (0 without lyrics);
    /// the convolutional model takes it at the bottleneck.
    pub lyrics_dim: usize,
    /// Number of classes of the condition label (0 without one).
    pub condition_classes: usize,
}

impl ModelSpec {
    /// Checks every size against its valid range and against the data.
    pub fn validate(&self, shape: &DataShape) -> Result<()> {
        let checks: [(&'static str, usize, usize, usize, &'static str); 3] = [
            ("latent_dim", self.latent_dim, 1, 4096, "valid: 1 to 4096"),
            ("hidden_dim", self.hidden_dim, 1, 65536, "valid: 1 to 65536"),
            ("depth", self.depth, 1, 8, "valid: 1 to 8"),
        ];
        for (key, value, low, high, reason) in checks {
            if value < low || value > high {
                return Err(Error::InvalidSpec { key, value, reason });
            }
        }
        if shape.feature_dim == 0 {
            return Err(Error::InvalidSpec {
                key: "feature_dim",
                value: 0,
                reason: "the dataset gives no features",
            });
        }
        if self.architecture == Architecture::ConvVae && self.activation != Activation::Relu {
            return Err(Error::InvalidOption {
                key: "activation",
                reason: "the conv_vae's layers use relu; other activations apply to the dense models",
            });
        }
        if self.bounded_code && self.architecture != Architecture::Ae {
            return Err(Error::InvalidOption {
                key: "bounded_code",
                reason: "a bounded (tanh) code applies to the ae only; a VAE's code is a distribution",
            });
        }
        match self.architecture {
            Architecture::ConvVae => match shape.frames {
                Some((channels, time)) if channels > 0 && time > 0 => {}
                _ => return Err(Error::NoFrames),
            },
            Architecture::Cvae if shape.condition_classes < 2 => {
                return Err(Error::NoCondition {
                    classes: shape.condition_classes,
                });
            }
            _ => {}
        }
        Ok(())
    }

    /// Widths of the encoder's hidden layers: `hidden_dim / 2^i`, never
    /// below `latent_dim`.
    #[must_use]
    pub fn hidden_widths(&self) -> Vec<usize> {
        let mut widths = Vec::with_capacity(self.depth);
        for layer in 0..self.depth {
            let width = (self.hidden_dim >> layer).max(self.latent_dim).max(1);
            widths.push(width);
        }
        widths
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape() -> DataShape {
        DataShape {
            feature_dim: 40,
            frames: None,
            lyrics_dim: 0,
            condition_classes: 0,
        }
    }

    fn spec(architecture: Architecture) -> ModelSpec {
        ModelSpec {
            architecture,
            latent_dim: 16,
            hidden_dim: 256,
            depth: 2,
            activation: Activation::Relu,
            bounded_code: false,
        }
    }

    #[test]
    fn second_layer_is_half_as_wide_and_never_below_latent() {
        assert_eq!(spec(Architecture::Vae).hidden_widths(), vec![256, 128]);
        let narrow = ModelSpec {
            hidden_dim: 20,
            depth: 3,
            ..spec(Architecture::Vae)
        };
        assert_eq!(narrow.hidden_widths(), vec![20, 16, 16]);
    }

    #[test]
    fn sizes_out_of_range_name_the_key() {
        let zero_latent = ModelSpec {
            latent_dim: 0,
            ..spec(Architecture::Vae)
        };
        assert_eq!(
            zero_latent.validate(&shape()).unwrap_err().to_string(),
            "invalid model spec: latent_dim = 0 (valid: 1 to 4096)"
        );
        let deep = ModelSpec {
            depth: 9,
            ..spec(Architecture::Vae)
        };
        assert_eq!(
            deep.validate(&shape()).unwrap_err().to_string(),
            "invalid model spec: depth = 9 (valid: 1 to 8)"
        );
    }

    #[test]
    fn conv_needs_frames_and_cvae_needs_a_condition() {
        assert_eq!(
            spec(Architecture::ConvVae).validate(&shape()),
            Err(Error::NoFrames)
        );
        assert_eq!(
            spec(Architecture::Cvae).validate(&shape()),
            Err(Error::NoCondition { classes: 0 })
        );
        let with_both = DataShape {
            frames: Some((20, 64)),
            condition_classes: 2,
            ..shape()
        };
        for architecture in Architecture::ALL {
            assert_eq!(spec(architecture).validate(&with_both), Ok(()));
        }
    }

    #[test]
    fn names_round_trip_through_serde() {
        for architecture in Architecture::ALL {
            let json = serde_json::to_string(&architecture).unwrap();
            assert_eq!(json, format!("\"{}\"", architecture.name()));
            let back: Architecture = serde_json::from_str(&json).unwrap();
            assert_eq!(back, architecture);
        }
    }
}
