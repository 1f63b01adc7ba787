//! `cargo xtask`: the project's automation and user-facing commands.
//!
//! xtask itself never links libtorch: it has to run before libtorch exists
//! (`setup` installs it). Commands that need libtorch build and run the
//! workspace's tch-linked binaries through cargo, with the environment that
//! `torch-sys` reads; commands over plain-Rust crates run in process.

mod bench;
mod bench_features;
mod bench_metrics;
mod bench_sweep;
mod bench_train;
mod features;
mod fixtures;
mod libsoxr;
mod libtorch;
mod mfcc;
mod real_data;
mod score;
mod sweep;
mod train;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// The command line of `cargo xtask`.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", about = "songvae project automation")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// One subcommand per capability; each is documented in README.md.
#[derive(Debug, Subcommand)]
enum Command {
    /// Find or install libtorch 2.11.0 and print where it is, its version and CUDA support.
    Setup,
    /// Run the whole workspace test suite (after setup); extra arguments go to `cargo test`.
    Test {
        /// Passed on to `cargo test --workspace`, for example `-- --nocapture`.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        cargo_test_args: Vec<String>,
    },
    /// `cargo fmt --check`, `cargo clippy -D warnings`, then the whole test suite.
    Ci,
    /// Cluster an embedding (or take given labels) and print every score as one JSON line.
    Score(score::ScoreArgs),
    /// Build (or reuse) a dataset's fused feature matrix, frames, ids and labels.
    Features(features::FeaturesArgs),
    /// Regenerate the embedded fixture dataset (fixtures/dataset/) byte for byte.
    Fixtures,
    /// Check that every ../shared/datasets/*/dataset.json loads; print counts and dimensions.
    RealData(real_data::RealDataArgs),
    /// Write the MFCC matrix of one audio file as float32 `.npy` (`n_mfcc` x frames, as librosa).
    Mfcc(mfcc::MfccArgs),
    /// Train one model end to end: features, training, clustering, scores (prints the result JSON).
    Train(train::TrainArgs),
    /// Build everything a sweep needs (songvae-sweep and songvae-train, libtorch found or installed).
    Build(sweep::BuildArgs),
    /// Run the ablation study (default: fixtures/sweeps/ablation.json on the fixture dataset), then its report.
    Sweep(sweep::SweepArgs),
    /// Write report.md, results.csv and plots from one or more sweep directories.
    Report(sweep::ReportArgs),
    /// Benchmarks: ours vs the Python reference, table written to docs/performance.md.
    Bench {
        /// Which area to benchmark.
        #[command(subcommand)]
        target: bench::BenchTarget,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // libsoxr first: installing it may restart this process (libsoxr.rs).
    if let Ok(inputs) = libtorch::SetupInputs::from_environment() {
        libsoxr::ensure(&inputs.cache_root);
    }
    let outcome = match cli.command {
        Command::Setup => libtorch::setup_command(),
        Command::Test { cargo_test_args } => libtorch::test_command(&cargo_test_args),
        Command::Ci => libtorch::ci_command(),
        Command::Score(args) => score::score_command(&args),
        Command::Build(args) => sweep::build_command(&args),
        Command::Features(args) => features::features_command(&args),
        Command::Fixtures => fixtures::fixtures_command(),
        Command::RealData(args) => real_data::real_data_command(&args),
        Command::Mfcc(args) => mfcc::mfcc_command(&args),
        Command::Train(args) => train::train_command(&args),
        Command::Sweep(args) => sweep::sweep_command(&args),
        Command::Report(args) => sweep::report_command(&args),
        Command::Bench { target } => bench::bench_command(&target),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
