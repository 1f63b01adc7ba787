//! Variational autoencoder models for song clustering, in libtorch through `tch`.
//!
//! This crate holds the models of the study — fully connected VAE
//! (`songvae_run::spec::Architecture::Vae`), 1-D convolutional VAE over MFCC frames with
//! lyrics at the bottleneck, beta-VAE, conditional VAE, a plain
//! autoencoder, and the parts of the two models that cluster by design
//! (VaDE's mixture prior, [`vade`]; IDEC's Student-t clustering layer,
//! [`idec`]) — behind one small trait ([`model::SongModel`]), and the
//! resolution of the [`device`] choice they run on. With `train` it is one
//! of the two crates that link libtorch; the specs they are built from live
//! in the plain `songvae-run` crate.
//!
//! libtorch keeps its random generator and thread count per process. Runs
//! stay reproducible by drawing every random number of a run (weight
//! initialisation, shuffling, reparameterisation noise) from that run's own
//! seeded generator on the Rust side ([`init`]), and by setting the thread
//! count once, at process start, in the binary that hosts the runs
//! (`docs/architecture.md` explains the rule).

pub mod conv;
pub mod dense;
pub mod device;
pub mod idec;
pub mod init;
pub mod model;
pub mod stacked;
pub mod vade;
