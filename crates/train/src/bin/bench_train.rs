//! `songvae-bench-train`: training steps per second of the fully connected
//! VAE, for `cargo xtask bench train` (which runs the same model and
//! optimiser in PyTorch beside it).
//!
//! One step = a batch of random data through encode, Rust-side
//! reparameterisation noise (as a real run draws it), decode, loss, backward
//! and an Adam update: exactly the work of one step of `songvae-train`.

use std::time::Instant;

use anyhow::Context;
use clap::Parser;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use songvae_models::init::{initialise, standard_normal};
use songvae_models::model::{Batch, build, loss_parts};
use songvae_run::spec::{Activation, Architecture, DataShape, ModelSpec};
use tch::nn::{self, OptimizerConfig};
use tch::{Device, Kind, Tensor};

/// Measures training steps per second of the fully connected VAE.
#[derive(Debug, Parser)]
struct Args {
    /// Input width.
    #[arg(long, default_value_t = 64)]
    input_dim: usize,
    /// First hidden width (the second is half as wide).
    #[arg(long, default_value_t = 256)]
    hidden_dim: usize,
    /// Latent width.
    #[arg(long, default_value_t = 16)]
    latent_dim: usize,
    /// Batch size.
    #[arg(long)]
    batch_size: usize,
    /// Timed steps.
    #[arg(long, default_value_t = 500)]
    steps: usize,
    /// Untimed warm-up steps.
    #[arg(long, default_value_t = 50)]
    warmup: usize,
    /// libtorch intra-op threads.
    #[arg(long, default_value_t = 1)]
    threads: i32,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tch::set_num_threads(args.threads);
    let device = Device::Cpu;
    let spec = ModelSpec {
        architecture: Architecture::Vae,
        latent_dim: args.latent_dim,
        hidden_dim: args.hidden_dim,
        depth: 2,
        activation: Activation::Relu,
        bounded_code: false,
    };
    let shape = DataShape {
        feature_dim: args.input_dim,
        frames: None,
        lyrics_dim: 0,
        condition_classes: 0,
    };
    let store = nn::VarStore::new(device);
    let model = build(&spec, &shape, &store.root()).context("building the VAE")?;
    let mut generator = ChaCha8Rng::seed_from_u64(0);
    initialise(&store, &mut generator);
    let mut optimiser = nn::Adam::default()
        .build(&store, 1e-3)
        .context("building Adam")?;
    let batch_size = args.batch_size as i64;
    let data = standard_normal(&mut generator, &[4096, args.input_dim as i64], device);
    let batches = 4096 / batch_size;
    let mut step = |index: usize| {
        let start = (index as i64 % batches) * batch_size;
        let batch = Batch {
            features: data.narrow(0, start, batch_size),
            frames: None,
            lyrics: None,
            condition: None,
        };
        let noise = standard_normal(
            &mut generator,
            &[batch_size, args.latent_dim as i64],
            device,
        );
        let parts = loss_parts(model.as_ref(), &batch, Some(&noise));
        let loss = parts.reconstruction + parts.kl;
        optimiser.zero_grad();
        loss.backward();
        optimiser.step();
        loss
    };
    for index in 0..args.warmup {
        let _warm_up_loss = step(index);
    }
    let started = Instant::now();
    let mut last = Tensor::zeros([], (Kind::Float, device));
    for index in 0..args.steps {
        last = step(index);
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{{\"steps_per_sec\": {}, \"seconds\": {seconds}, \"final_loss\": {}}}",
        args.steps as f64 / seconds,
        last.double_value(&[])
    );
    Ok(())
}
