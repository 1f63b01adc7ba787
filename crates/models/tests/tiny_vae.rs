//! Foundation checks: libtorch loads, a tiny VAE learns on CPU (and on CUDA
//! where a GPU is present), and the executable finds libtorch by itself.

use std::process::Command;

use tch::nn::{self, Module, OptimizerConfig};
use tch::{Device, Kind, Tensor};

/// Loss (reconstruction summed over features + KL, averaged over the batch)
/// that the tiny VAE must get below. The data has 8 unit-variance features
/// driven by 2 latent factors plus a little noise: an untrained model starts
/// far above (about 27 with this seed: reconstruction near 8 plus the KL of
/// random encodings), a trained one explains almost everything with 2 latent
/// dimensions at a few nats of KL (about 3.3 with this seed).
const LOSS_BOUND: f64 = 4.0;

/// Eight features that are smooth functions of two hidden factors, seeded.
fn seeded_data(device: Device) -> Tensor {
    let generator_seed = 17;
    tch::manual_seed(generator_seed);
    let factors = Tensor::randn([512, 2], (Kind::Float, Device::Cpu));
    let mixing = Tensor::randn([2, 8], (Kind::Float, Device::Cpu)) / 2f64.sqrt();
    let noise = Tensor::randn([512, 8], (Kind::Float, Device::Cpu)) * 0.1;
    let data = factors.matmul(&mixing) + noise;
    let standardised = (&data - data.mean_dim(0, true, Kind::Float)) / data.std_dim(0, true, true);
    standardised.to_device(device)
}

/// Trains a 8-32-2 VAE for 400 Adam steps; returns the first and the mean of
/// the last 20 losses.
fn train_tiny_vae(device: Device) -> (f64, f64) {
    let data = seeded_data(device);
    let store = nn::VarStore::new(device);
    let root = store.root();
    let encoder = nn::seq()
        .add(nn::linear(
            &root / "enc",
            8,
            32,
            nn::LinearConfig::default(),
        ))
        .add_fn(Tensor::relu);
    let to_mu = nn::linear(&root / "mu", 32, 2, nn::LinearConfig::default());
    let to_logvar = nn::linear(&root / "logvar", 32, 2, nn::LinearConfig::default());
    let decoder = nn::seq()
        .add(nn::linear(
            &root / "dec1",
            2,
            32,
            nn::LinearConfig::default(),
        ))
        .add_fn(Tensor::relu)
        .add(nn::linear(
            &root / "dec2",
            32,
            8,
            nn::LinearConfig::default(),
        ));
    let mut optimiser = nn::Adam::default()
        .build(&store, 1e-2)
        .expect("Adam builds over a fresh store");
    let mut losses = Vec::new();
    for step in 0..400 {
        let batch = data.narrow(0, (step % 8) * 64, 64);
        let hidden = encoder.forward(&batch);
        let mu = to_mu.forward(&hidden);
        let logvar = to_logvar.forward(&hidden);
        let noise = mu.randn_like();
        let latent = &mu + (&logvar * 0.5).exp() * noise;
        let reconstruction = decoder.forward(&latent);
        let reconstruction_loss = (reconstruction - &batch)
            .pow_tensor_scalar(2)
            .sum_dim_intlist(1, false, Kind::Float)
            .mean(Kind::Float);
        let kl =
            ((&mu * &mu + logvar.exp() - &logvar - 1.0).sum_dim_intlist(1, false, Kind::Float)
                * 0.5)
                .mean(Kind::Float);
        let loss = reconstruction_loss + kl;
        optimiser.backward_step(&loss);
        losses.push(loss.double_value(&[]));
    }
    let last: f64 = losses[losses.len() - 20..].iter().sum::<f64>() / 20.0;
    (losses[0], last)
}

/// Trains on `device` and checks the loss starts above and ends below the bound.
fn assert_learns(device: Device, label: &str) {
    let (first, last) = train_tiny_vae(device);
    println!("{label}: loss {first:.3} -> {last:.3} (bound {LOSS_BOUND})");
    assert!(
        first > LOSS_BOUND,
        "the untrained loss {first} should start above the bound"
    );
    assert!(
        last < LOSS_BOUND,
        "the trained loss {last} should fall below {LOSS_BOUND}"
    );
}

#[test]
fn tiny_vae_learns_on_cpu() {
    tch::set_num_threads(1);
    assert_learns(Device::Cpu, "cpu");
}

#[test]
fn tiny_vae_learns_on_cuda_when_present() {
    if !tch::Cuda::is_available() {
        println!("skipped: CUDA is not available on this machine (libtorch sees no GPU)");
        return;
    }
    assert_learns(Device::Cuda(0), "cuda");
}

#[test]
fn tensor_arithmetic() {
    let sum = Tensor::from_slice(&[1.0f32, 2.0, 3.5]).sum(Kind::Float);
    assert!((sum.double_value(&[]) - 6.5).abs() < 1e-12);
}

/// Re-runs `tensor_arithmetic` in a child with `LD_LIBRARY_PATH` unset: the
/// executable must find libtorch through its own RUNPATH.
#[test]
fn runs_with_ld_library_path_unset() {
    let executable = std::env::current_exe().unwrap();
    let output = Command::new(&executable)
        .args(["--exact", "tensor_arithmetic", "--test-threads=1"])
        .env_remove("LD_LIBRARY_PATH")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "child failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("1 passed"), "{stdout}");
}

/// The link settings of `build.rs`: a RUNPATH (not an RPATH, so that
/// `LD_LIBRARY_PATH` can still override it) to libtorch's lib directory, and
/// `libtorch_cuda` kept as a needed library when libtorch has it.
#[test]
fn executable_has_runpath_and_keeps_libtorch_cuda() {
    let libtorch_lib = env!("SONGVAE_LIBTORCH_LIB");
    let executable = std::env::current_exe().unwrap();
    let output = Command::new("readelf")
        .arg("-d")
        .arg(&executable)
        .output()
        .expect("readelf (binutils) is needed to link this crate, so it is present");
    let dynamic = String::from_utf8_lossy(&output.stdout);
    let runpath = dynamic
        .lines()
        .find(|line| line.contains("(RUNPATH)"))
        .unwrap_or_else(|| panic!("no RUNPATH in {}:\n{dynamic}", executable.display()));
    assert!(
        runpath.contains(libtorch_lib),
        "{runpath} should name {libtorch_lib}"
    );
    assert!(
        !dynamic.contains("(RPATH)"),
        "an RPATH would beat LD_LIBRARY_PATH:\n{dynamic}"
    );
    let has_cuda_build = std::path::Path::new(libtorch_lib)
        .join("libtorch_cuda.so")
        .exists();
    assert_eq!(
        dynamic.contains("[libtorch_cuda.so]"),
        has_cuda_build,
        "libtorch_cuda.so should be needed exactly when libtorch ships it:\n{dynamic}"
    );
}
