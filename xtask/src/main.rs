//! `cargo xtask`: the project's automation and user-facing commands.

mod score;

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
    /// Cluster an embedding (or take given labels) and print every score as one JSON line.
    Score(score::ScoreArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Score(args) => score::score_command(&args),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
