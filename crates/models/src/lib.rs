//! Variational autoencoder models for song clustering, in libtorch through `tch`.
//!
//! This crate holds the models (fully connected VAE, 1-D convolutional VAE,
//! beta-VAE, conditional VAE and a plain autoencoder) and the [`device`]
//! choice they run on. It is the only crate besides `train` and `sweep` that
//! links libtorch; `features` and `metrics` stay plain Rust.
//!
//! libtorch keeps its random generator and thread count per process. Runs
//! stay reproducible by drawing every random number of a run (weight
//! initialisation, shuffling, reparameterisation noise) from that run's own
//! seeded generator on the Rust side, and by setting the thread count once,
//! at process start, in the binary that hosts the runs
//! (`docs/architecture.md` explains the rule).

pub mod device;
