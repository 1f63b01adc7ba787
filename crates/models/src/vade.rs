//! VaDE's mixture-of-Gaussians prior and its ELBO (Jiang et al., IJCAI 2017).
//!
//! The encoder and decoder are the dense VAE's ([`crate::dense`]); the prior
//! is `p(c) = pi_c`, `p(z | c) = N(mu_c, diag sigma_c^2)` with `k` components
//! whose logits, means and log-variances are trained with the networks.
//!
//! Validity by construction: the mixing weights are `softmax(logits)`
//! (positive, summing to 1) and each log-variance is
//! `B tanh(raw / B)` with `B =` [`LOG_VARIANCE_BOUND`], so every variance
//! stays in `[e^-B, e^B]` whatever the optimiser does.
//!
//! The KL part of the loss for one track, with `q(z | x) = N(m, diag s^2)`
//! and the responsibilities `gamma_c = p(c | z)` at the sampled `z` (at the
//! mean when evaluating), is the closed form of the reference code:
//!
//! ```text
//! sum_c gamma_c * 1/2 sum_d [ ln sigma_cd^2 + s_d^2 / sigma_cd^2 + (m_d - mu_cd)^2 / sigma_cd^2 ]
//!   - 1/2 sum_d (1 + ln s_d^2)  +  sum_c gamma_c (ln gamma_c - ln pi_c)
//! ```
//!
//! (the `ln 2 pi` terms of the two Gaussians cancel). The study's training
//! weights it with `beta` and the KL warm-up, as every variational model's.

use ndarray::{Array1, Array2};
use tch::{Kind, Tensor, nn};

/// Bound `B` of every component log-variance: variances in `[e^-9, e^9]`,
/// about `[1.2e-4, 8.1e3]`, wide for latents of unit scale.
pub const LOG_VARIANCE_BOUND: f64 = 9.0;

/// The mixture prior of a VaDE.
#[derive(Debug)]
pub struct MixturePrior {
    logits: Tensor,
    means: Tensor,
    raw_log_variances: Tensor,
}

/// The prior's parameters read back to the host.
#[derive(Clone, Debug, PartialEq)]
pub struct MixtureParameters {
    /// Mixing weights, `k`, positive and summing to 1.
    pub weights: Array1<f64>,
    /// Component means, `k x d`.
    pub means: Array2<f64>,
    /// Component variances, `k x d`, inside the bounds.
    pub variances: Array2<f64>,
}

fn tensor_2d(values: &Array2<f64>) -> Tensor {
    let shape = [values.nrows() as i64, values.ncols() as i64];
    let contiguous = values.as_standard_layout();
    let flat = contiguous
        .as_slice()
        .expect("a standard-layout array is contiguous");
    Tensor::from_slice(flat).view(shape).to_kind(Kind::Float)
}

fn array_2d(tensor: &Tensor) -> Array2<f64> {
    let size = tensor.size();
    let flat = tensor
        .to_kind(Kind::Double)
        .to_device(tch::Device::Cpu)
        .contiguous()
        .flatten(0, -1);
    let count = flat.numel();
    let mut values = vec![0.0; count];
    flat.copy_data(&mut values, count);
    Array2::from_shape_vec((size[0] as usize, size[1] as usize), values)
        .expect("the tensor has two dimensions")
}

impl MixturePrior {
    /// Creates the prior under `path`, starting from a fitted mixture:
    /// `weights` (`k`, positive), `means` and `variances` (`k x d`).
    /// Weights are floored at `1e-10` before the logarithm and variances
    /// clamped just inside the bounds.
    #[must_use]
    pub fn from_mixture(
        path: &nn::Path,
        weights: &Array1<f64>,
        means: &Array2<f64>,
        variances: &Array2<f64>,
    ) -> Self {
        let device = path.device();
        let mut log_weights = Vec::with_capacity(weights.len());
        for weight in weights {
            log_weights.push(weight.max(1e-10).ln());
        }
        let logits = Tensor::from_slice(&log_weights)
            .to_kind(Kind::Float)
            .to_device(device);
        // raw = B atanh(ln v / B), with ln v kept inside (-B, B).
        let inside = LOG_VARIANCE_BOUND * (1.0 - 1e-6);
        let raw = variances.mapv(|variance| {
            let log_variance = variance.max(f64::MIN_POSITIVE).ln().clamp(-inside, inside);
            LOG_VARIANCE_BOUND * (log_variance / LOG_VARIANCE_BOUND).atanh()
        });
        Self {
            logits: path.var_copy("prior_logits", &logits),
            means: path.var_copy("prior_means", &tensor_2d(means).to_device(device)),
            raw_log_variances: path.var_copy(
                "prior_raw_log_variances",
                &tensor_2d(&raw).to_device(device),
            ),
        }
    }

    /// `ln pi_c`, `k`.
    pub fn log_weights(&self) -> Tensor {
        self.logits.log_softmax(0, Kind::Float)
    }

    /// `ln sigma_c^2`, `k x d`, inside `[-B, B]`.
    pub fn log_variances(&self) -> Tensor {
        (&self.raw_log_variances / LOG_VARIANCE_BOUND).tanh() * LOG_VARIANCE_BOUND
    }

    /// `ln pi_c + ln N(z | mu_c, sigma_c^2)` for every row of `z` (`n x d`)
    /// and component: `n x k`.
    pub fn log_joint(&self, z: &Tensor) -> Tensor {
        let log_variances = self.log_variances().unsqueeze(0);
        let difference = z.unsqueeze(1) - self.means.unsqueeze(0);
        let latent_dim = z.size()[1] as f64;
        let quadratic = (difference.square() / log_variances.exp() + &log_variances)
            .sum_dim_intlist(2, false, Kind::Float);
        self.log_weights().unsqueeze(0)
            - (quadratic + latent_dim * (2.0 * std::f64::consts::PI).ln()) * 0.5
    }

    /// `ln p(c | z)`, `n x k`.
    pub fn log_responsibilities(&self, z: &Tensor) -> Tensor {
        self.log_joint(z).log_softmax(1, Kind::Float)
    }

    /// The KL part of the ELBO (see the module overview) per track, `n`:
    /// `mean` and `log_variance` of `q(z | x)`, responsibilities at `z`.
    pub fn kl_per_track(&self, mean: &Tensor, log_variance: &Tensor, z: &Tensor) -> Tensor {
        let log_gamma = self.log_responsibilities(z);
        let gamma = log_gamma.exp();
        let component_log_variances = self.log_variances().unsqueeze(0);
        let component_variances = component_log_variances.exp();
        let expected = (&component_log_variances
            + log_variance.exp().unsqueeze(1) / &component_variances
            + (mean.unsqueeze(1) - self.means.unsqueeze(0)).square() / &component_variances)
            .sum_dim_intlist(2, false, Kind::Float)
            * 0.5;
        let cross = (&gamma * expected).sum_dim_intlist(1, false, Kind::Float);
        let entropy = (log_variance + 1.0).sum_dim_intlist(1, false, Kind::Float) * 0.5;
        let categorical = (&gamma * (&log_gamma - self.log_weights().unsqueeze(0)))
            .sum_dim_intlist(1, false, Kind::Float);
        cross - entropy + categorical
    }

    /// The weights, means and variances, read to the host.
    #[must_use]
    pub fn parameters(&self) -> MixtureParameters {
        let weights_tensor = self
            .log_weights()
            .exp()
            .to_kind(Kind::Double)
            .to_device(tch::Device::Cpu);
        let count = weights_tensor.numel();
        let mut weights = vec![0.0; count];
        weights_tensor.copy_data(&mut weights, count);
        MixtureParameters {
            weights: Array1::from(weights),
            means: array_2d(&self.means.detach()),
            variances: array_2d(&self.log_variances().detach().exp()),
        }
    }
}
