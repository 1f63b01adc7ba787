//! One reproducible training run: features in; trained model, latent means,
//! clusters and every score of the study out.
//!
//! - [`config`]: the typed run config (architecture, sizes, optimiser,
//!   early stopping, seed, device, clustering), validated before any tensor
//!   is made.
//! - [`data`]: reads a features directory written by `cargo xtask features`.
//! - [`run`]: the training loop (Adam, seeded shuffling, held-out validation
//!   by track, early stopping, divergence as a status), then encoding,
//!   k-means and scoring with `songvae-metrics`.
//! - [`output`]: writes `result.json`, `latents.npy`, `clusters.txt` and the
//!   checkpoint atomically.
//!
//! Every random draw of a run comes from generators seeded by the run's seed
//! (see `songvae_models::init`), so the same config and seed give
//! bit-identical latents and scores on CPU in the same build. The libtorch
//! thread count is process-wide: the binary sets it once from
//! `intra_op_threads`; this library never changes it.

pub mod config;
pub mod data;
pub mod error;
pub mod output;
pub mod run;
