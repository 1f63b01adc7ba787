//! Hyperparameter ablation sweeps of VAE song clustering: a JSON spec in;
//! every (point, seed) trained in parallel, resumably; a written report out.
//!
//! - [`spec`]: the sweep spec, checked and expanded into a [`spec::Plan`]
//!   (one-factor-at-a-time or full grid) before anything runs.
//! - [`runner`]: runs the plan's pairs on a pool of workers, training in
//!   `songvae-train` processes, baselines in process; shards; resumes.
//! - [`schedule`]: the order in which the runner starts its units, the
//!   longest expected first.
//! - [`results`]: `results.jsonl`, appended one whole line at a time, and
//!   read back (a torn last line is ignored and cut off).
//! - [`aggregate`]: mean and standard deviation over seeds, and the
//!   convergence-stability classes.
//! - [`significance`]: the tests behind "better than" in the report
//!   (paired and Welch t-tests, Wilcoxon, Hedges' g, Holm).
//! - `claims`: the report's tested comparisons as sentences and tables;
//!   `clustering_models`: `vade` and `idec` against the plain VAE and the
//!   baselines, per label.
//! - [`report`] and [`plots`]: `report.md`, `results.csv` and SVG plots from
//!   one or more sweep directories.
//!
//! The binary `songvae-sweep` (`run`, `report`) is what `cargo xtask sweep`
//! and `cargo xtask report` call. This crate does not link libtorch: each
//! training pair runs in a `songvae-train` process, which reports back
//! through a `songvae_run::result::RunOutcome` record.

pub mod aggregate;
mod claims;
mod clustering_models;
pub mod error;
pub mod plots;
pub mod report;
pub mod results;
pub mod runner;
pub mod schedule;
pub mod significance;
pub mod spec;
