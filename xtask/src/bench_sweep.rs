//! `cargo xtask bench sweep`: a study with one run per process
//! (`--ensemble 1`) and with stacked groups (`--ensemble N`), side by side
//! in one run, interleaved, each repetition into fresh directories.
//!
//! Reports the wall time of each, the runs per second, the ratio, and
//! whether the two studies give the same numbers: every metric of every
//! pair but the two timings (`train_time_sec`, `memory_mb`) compared for
//! equality, which is stronger than "the same best rows" (a member's
//! numbers do not depend on its group, `crates/train/tests/groups.rs`).
//!
//! ```text
//! cargo xtask bench sweep [--spec PATH] [--dataset PATH/dataset.json] [--ensemble N] [--repeat R] [--no-write]
//! ```

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::bench::{median, publish_table};

/// The start of the sections of docs/performance.md this benchmark owns,
/// one per study (spec and dataset).
const HEADING: &str = "## Stacked groups";

/// Arguments of `cargo xtask bench sweep`.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchSweepArgs {
    /// The sweep spec.
    #[arg(
        long,
        value_name = "PATH",
        default_value = "fixtures/sweeps/ablation.json"
    )]
    pub spec: PathBuf,
    /// Runs the spec on this dataset descriptor instead of its own.
    #[arg(long, value_name = "PATH/dataset.json")]
    pub dataset: Option<PathBuf>,
    /// The group size compared with one run per process.
    #[arg(long, value_name = "N", default_value_t = 16)]
    pub ensemble: usize,
    /// Repetitions of each (interleaved).
    #[arg(long, value_name = "R", default_value_t = 1)]
    pub repeat: usize,
    /// Print the table without writing docs/performance.md.
    #[arg(long)]
    pub no_write: bool,
}

/// Every metric of every pair of a `results.jsonl`, timings left out, by
/// (point, seed).
fn numbers(results: &Path) -> Result<BTreeMap<(String, u64), serde_json::Value>> {
    let text = std::fs::read_to_string(results)
        .with_context(|| format!("cannot read {}", results.display()))?;
    let mut pairs = BTreeMap::new();
    for (index, line) in text.lines().enumerate() {
        let mut value: serde_json::Value = serde_json::from_str(line)
            .with_context(|| format!("{} line {}", results.display(), index + 1))?;
        let point = value["point"].as_str().unwrap_or_default().to_owned();
        let seed = value["seed"].as_u64().unwrap_or_default();
        if let Some(object) = value.as_object_mut() {
            for timing in ["train_time_sec", "memory_mb", "run_dir"] {
                object.remove(timing);
            }
        }
        pairs.insert((point, seed), value);
    }
    Ok(pairs)
}

/// Runs `cargo xtask bench sweep`.
pub fn bench_sweep_command(args: &BenchSweepArgs) -> Result<()> {
    if args.ensemble < 2 {
        bail!(
            "invalid --ensemble: {} must be at least 2 to compare with 1",
            args.ensemble
        );
    }
    let libtorch = crate::libtorch::ensure()?;
    crate::sweep::build_binaries(&libtorch, false)?;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let sweep = root.join("target/debug/songvae-sweep");
    let scratch = tempfile::tempdir().context("cannot create a scratch directory")?;
    let mut walls: BTreeMap<usize, Vec<f64>> = BTreeMap::new();
    let mut pairs = 0;
    let mut same = true;
    let machine = crate::bench_features::cpu_name();
    for repetition in 0..args.repeat.max(1) {
        let mut results = Vec::new();
        for ensemble in [1, args.ensemble] {
            let out = scratch
                .path()
                .join(format!("ensemble-{ensemble}-{repetition}"));
            let mut command = Command::new(&sweep);
            command
                .arg("run")
                .arg("--spec")
                .arg(root.join(&args.spec))
                .arg("--out")
                .arg(&out)
                .args(["--quiet", "--no-report", "--ensemble"])
                .arg(ensemble.to_string());
            if let Some(dataset) = &args.dataset {
                command.arg("--dataset").arg(dataset);
            }
            let started = Instant::now();
            let status = command.status().context("cannot start songvae-sweep")?;
            let wall = started.elapsed().as_secs_f64();
            if !status.success() {
                bail!("the sweep with --ensemble {ensemble} failed");
            }
            println!("--ensemble {ensemble}: {wall:.1} s");
            walls.entry(ensemble).or_default().push(wall);
            results.push(numbers(&out.join("results.jsonl"))?);
        }
        pairs = results[0].len();
        same &= results[0] == results[1];
    }
    let alone = median(&walls[&1]);
    let grouped = median(&walls[&args.ensemble]);
    let study = match &args.dataset {
        Some(dataset) => format!(
            "`{}` on `{}`",
            args.spec.display(),
            dataset.parent().and_then(Path::file_name).map_or_else(
                || dataset.display().to_string(),
                |name| name.to_string_lossy().into_owned()
            )
        ),
        None => format!("`{}` on the fixture dataset", args.spec.display()),
    };
    let heading = format!("{HEADING}: {study}");
    let mut table = format!(
        "{heading}\n\n{study}, {pairs} pairs, {} repetition(s) interleaved, {machine}, \
         both from `target/debug` (optimised dependencies).\n\n\
         | | wall (median) | runs/s | ratio |\n|---|---:|---:|---:|\n",
        args.repeat.max(1)
    );
    for (ensemble, wall) in [(1, alone), (args.ensemble, grouped)] {
        let _ = writeln!(
            table,
            "| `--ensemble {ensemble}` | {wall:.1} s | {:.2} | {:.2}x |",
            pairs as f64 / wall,
            alone / wall
        );
    }
    let _ = write!(
        table,
        "\nEvery metric of every pair (timings aside) {} between the two.\n\n```sh\ncargo xtask bench sweep --spec {}{} --ensemble {} --repeat {}\n```\n",
        if same { "is identical" } else { "DIFFERS" },
        args.spec.display(),
        args.dataset
            .as_ref()
            .map(|dataset| format!(" --dataset {}", dataset.display()))
            .unwrap_or_default(),
        args.ensemble,
        args.repeat.max(1)
    );
    publish_table(&heading, &table, args.no_write)?;
    if !same {
        bail!("the grouped study's numbers differ from one run per process");
    }
    Ok(())
}
