//! The vocabulary of one training run, in plain Rust (no libtorch), so that
//! the sweep's orchestration, its report and `xtask` can read and write
//! runs without linking libtorch.
//!
//! | module | contents |
//! |---|---|
//! | [`config`] | [`config::RunConfig`]: every key of a run with its default and range, validated on read |
//! | [`spec`] | [`spec::Architecture`], [`spec::Activation`], [`spec::ModelSpec`]: what a model looks like, checked against the data's shape |
//! | [`device`] | [`device::DeviceChoice`] as parsed (`auto`, `cpu`, `cuda`, `cuda:N`); `songvae_models::device::resolve` checks it against libtorch |
//! | [`machine`] | [`machine::Kernels`] (which CPU kernel paths libtorch may take) and the processor's name |
//! | [`metric`] | the study's one metric table (key, title, direction, format, meaning, source) and [`metric::MetricValues`] |
//! | [`result`] | [`result::RunResult`] (`result.json`) and [`result::RunOutcome`] (what a training process reports to its sweep) |
//! | [`error`] | the crate's [`error::Error`] and [`error::Result`] |
//!
//! Scores are `songvae_metrics::scoring::Scores`: the metrics crate owns the
//! one scoring path.

pub mod config;
pub mod device;
pub mod error;
pub mod machine;
pub mod metric;
pub mod result;
pub mod spec;
