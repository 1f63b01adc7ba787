//! Many dense models of one shape as one: every parameter gains a leading
//! member axis, and each layer is one batched matrix product
//! (`bias.baddbmm(input, weight)`) over all members.
//!
//! Members are independent by construction: member `m`'s output depends
//! only on its own parameter slices and its own input slice, and the loss of
//! a group is the sum of its members' losses, so the gradient of a member's
//! slices is the gradient of its own loss. A member is made from a solo
//! [`DenseAutoencoder`] store ([`StackedDense::from_members`]), initialised
//! as its solo run would be, and is copied back into one
//! ([`StackedDense::copy_member_into`]) for encoding and its checkpoint.
//!
//! Layout: a solo `Linear` holds `weight [out, in]` and `bias [out]`; the
//! stacked layer holds `weight [members, in, out]` (the transposes, so the
//! product needs no transpose per step) and `bias [members, 1, out]`.
//! Inputs are `[members, batch, features]`.
//!
//! Which architectures stack: `vae`, `beta_vae` and `ae` (the dense,
//! unconditioned ones). The `cvae` (a per-member condition would be one
//! more input) and the `conv_vae` (convolutions do not batch over members
//! without grouped convolutions) train one model per process.

use songvae_run::spec::{Activation, ModelSpec};
use tch::{Kind, Tensor, nn};

use crate::dense::DenseAutoencoder;

/// One stacked fully connected layer.
#[derive(Debug)]
pub struct StackedLinear {
    /// The solo layer's variable prefix (`encoder0`, `to_mean`, `output`).
    pub name: String,
    /// `[members, in, out]`, trainable.
    pub weight: Tensor,
    /// `[members, 1, out]`, trainable.
    pub bias: Tensor,
}

impl StackedLinear {
    fn forward(&self, input: &Tensor) -> Tensor {
        self.bias.baddbmm(input, &self.weight, 1.0, 1.0)
    }
}

/// The stacked form of [`DenseAutoencoder`] for `vae`, `beta_vae` and `ae`.
#[derive(Debug)]
pub struct StackedDense {
    encoder: Vec<StackedLinear>,
    to_mean: StackedLinear,
    to_logvar: Option<StackedLinear>,
    decoder: Vec<StackedLinear>,
    output: StackedLinear,
    activation: Activation,
    bounded_code: bool,
    members: usize,
}

fn activate(activation: Activation, input: &Tensor) -> Tensor {
    match activation {
        Activation::Relu => input.relu(),
        Activation::Tanh => input.tanh(),
        Activation::Elu => input.elu(),
    }
}

impl StackedDense {
    /// Stacks the members' solo stores, each made by
    /// [`DenseAutoencoder::new`] under its root with `spec`, in member
    /// order. The stacked tensors live on the stores' device and require
    /// gradients.
    #[must_use]
    pub fn from_members(spec: &ModelSpec, stores: &[nn::VarStore]) -> Self {
        let stack = |name: &str| {
            let mut weights = Vec::with_capacity(stores.len());
            let mut biases = Vec::with_capacity(stores.len());
            for store in stores {
                let variables = store.variables();
                weights.push(variables[&format!("{name}.weight")].transpose(0, 1));
                biases.push(variables[&format!("{name}.bias")].unsqueeze(0));
            }
            let weight = Tensor::stack(&weights, 0)
                .detach()
                .contiguous()
                .set_requires_grad(true);
            let bias = Tensor::stack(&biases, 0)
                .detach()
                .contiguous()
                .set_requires_grad(true);
            StackedLinear {
                name: name.to_owned(),
                weight,
                bias,
            }
        };
        let depth = spec.hidden_widths().len();
        let mut encoder = Vec::with_capacity(depth);
        let mut decoder = Vec::with_capacity(depth);
        for layer in 0..depth {
            encoder.push(stack(&format!("encoder{layer}")));
            decoder.push(stack(&format!("decoder{layer}")));
        }
        Self {
            encoder,
            to_mean: stack("to_mean"),
            to_logvar: spec
                .architecture
                .is_variational()
                .then(|| stack("to_logvar")),
            decoder,
            output: stack("output"),
            activation: spec.activation,
            bounded_code: spec.bounded_code,
            members: stores.len(),
        }
    }

    /// Number of members.
    #[must_use]
    pub fn members(&self) -> usize {
        self.members
    }

    /// Every layer, in a fixed order.
    fn layers(&self) -> Vec<&StackedLinear> {
        let mut layers: Vec<&StackedLinear> = self.encoder.iter().collect();
        layers.push(&self.to_mean);
        if let Some(layer) = &self.to_logvar {
            layers.push(layer);
        }
        layers.extend(self.decoder.iter());
        layers.push(&self.output);
        layers
    }

    /// Keeps only the members at `keep` (positions on the member axis, in
    /// order): a group drops its ended members so that the rest train
    /// without computing them. Each kept member's parameters are unchanged.
    pub fn retain(&mut self, keep: &[i64]) {
        let device = self.output.weight.device();
        let index = Tensor::from_slice(keep).to_device(device);
        let select = |tensor: &Tensor| {
            tensor
                .index_select(0, &index)
                .detach()
                .set_requires_grad(true)
        };
        let mut layers: Vec<&mut StackedLinear> = self.encoder.iter_mut().collect();
        layers.push(&mut self.to_mean);
        if let Some(layer) = &mut self.to_logvar {
            layers.push(layer);
        }
        layers.extend(self.decoder.iter_mut());
        layers.push(&mut self.output);
        for layer in layers {
            layer.weight = select(&layer.weight);
            layer.bias = select(&layer.bias);
        }
        self.members = keep.len();
    }

    /// Every trainable tensor (weights and biases), in a fixed order.
    #[must_use]
    pub fn parameters(&self) -> Vec<Tensor> {
        let mut parameters = Vec::new();
        for layer in self.layers() {
            parameters.push(layer.weight.shallow_clone());
            parameters.push(layer.bias.shallow_clone());
        }
        parameters
    }

    /// Latent means and log-variances (`None` for the autoencoder) of
    /// `input [members, batch, features]`.
    pub fn encode(&self, input: &Tensor) -> (Tensor, Option<Tensor>) {
        let mut hidden = input.shallow_clone();
        for layer in &self.encoder {
            hidden = activate(self.activation, &layer.forward(&hidden));
        }
        let mean = self.to_mean.forward(&hidden);
        let mean = if self.bounded_code { mean.tanh() } else { mean };
        let logvar = self.to_logvar.as_ref().map(|layer| layer.forward(&hidden));
        (mean, logvar)
    }

    /// The reconstruction of latent points `[members, batch, latent]`.
    pub fn decode(&self, latent: &Tensor) -> Tensor {
        let mut hidden = latent.shallow_clone();
        for layer in &self.decoder {
            hidden = activate(self.activation, &layer.forward(&hidden));
        }
        self.output.forward(&hidden)
    }

    /// Per-member loss parts of a batch `[members, batch, features]`, as
    /// `model::loss_parts` computes them for one model: the squared error
    /// summed over features and averaged over the batch, and the KL
    /// divergence summed over latent dimensions and averaged over the batch
    /// (zero for the autoencoder). Both `[members]`. `noise` is the
    /// reparameterisation draw `[members, batch, latent]`; `None` decodes
    /// the means.
    pub fn loss_parts(&self, input: &Tensor, noise: Option<&Tensor>) -> (Tensor, Tensor) {
        let batch = input.size()[1].max(1) as f64;
        let (mean, logvar) = self.encode(input);
        let latent = match (&logvar, noise) {
            (Some(logvar), Some(noise)) => &mean + (logvar * 0.5).exp() * noise,
            _ => mean.shallow_clone(),
        };
        let error = (self.decode(&latent) - input).square().sum_dim_intlist(
            [1, 2].as_slice(),
            false,
            Kind::Float,
        ) / batch;
        let Some(logvar) = logvar else {
            let kl = Tensor::zeros([self.members as i64], (Kind::Float, input.device()));
            return (error, kl);
        };
        let kl_per_track = (mean.square() + logvar.exp() - &logvar - 1.0).sum_dim_intlist(
            [2].as_slice(),
            false,
            Kind::Float,
        ) * 0.5;
        let kl = kl_per_track.mean_dim([1].as_slice(), false, Kind::Float);
        (error, kl)
    }

    /// Copies member `member`'s parameters into a solo store made by
    /// [`DenseAutoencoder::new`] with the same spec (for encoding, the
    /// checkpoint, and the solo model's loading code).
    pub fn copy_member_into(&self, member: usize, store: &nn::VarStore) {
        let variables = store.variables();
        tch::no_grad(|| {
            for layer in self.layers() {
                let mut weight = variables[&format!("{}.weight", layer.name)].shallow_clone();
                weight.copy_(&layer.weight.get(member as i64).transpose(0, 1));
                let mut bias = variables[&format!("{}.bias", layer.name)].shallow_clone();
                bias.copy_(&layer.bias.get(member as i64).squeeze_dim(0));
            }
        });
    }
}

/// A solo model and its store, the form a member is made from and copied
/// back into.
#[must_use]
pub fn solo_model(
    spec: &ModelSpec,
    shape: &songvae_run::spec::DataShape,
    device: tch::Device,
) -> (nn::VarStore, DenseAutoencoder) {
    let store = nn::VarStore::new(device);
    let model = DenseAutoencoder::new(spec, shape, &store.root());
    (store, model)
}
