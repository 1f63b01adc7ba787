//! One reproducible training run: features in; trained model, latent means,
//! clusters and every score of the study out.
//!
//! The run's config and result types live in the plain `songvae-run`
//! crate, the features directory's reader in `songvae_features::training_data`
//! and the scoring in `songvae_metrics::scoring`; this crate is what needs
//! libtorch.
//!
//! - [`run`]: the training loop (Adam, seeded shuffling, held-out validation
//!   by track, early stopping, divergence as a status), then encoding,
//!   clustering and scoring with `songvae_metrics::scoring`.
//! - [`deep_clustering`]: `vade` and `idec`, the models that cluster by
//!   design: pretraining, the mixture or k-means start, their own loss and
//!   their own clusters.
//! - [`group`]: several runs of one shape trained as one stacked model.
//! - [`adam`]: the stacked model's Adam, one learning rate per member; on
//!   CPU two passes in Rust over each parameter's memory.
//! - [`hosted`]: runs of the architectures that do not stack, trained one
//!   after another in one process.
//! - [`output`]: writes `result.json`, `latents.npy`, `clusters.txt` and the
//!   checkpoint atomically.
//!
//! Every random draw of a run comes from generators seeded by the run's seed
//! (see `songvae_models::init`), so the same config and seed give
//! bit-identical latents and scores on CPU in the same build. The libtorch
//! thread count is process-wide: the binary sets it once from
//! `intra_op_threads`; this library never changes it.

pub mod adam;
pub mod deep_clustering;
pub mod error;
pub mod group;
pub mod hosted;
pub mod output;
pub mod run;
