//! `cargo xtask bench <area>`: benchmarks that time ours against the Python
//! reference in one run and record the table in docs/performance.md.

/// The benchmark areas, one per crate section of docs/performance.md.
#[derive(Debug, clap::Subcommand)]
pub enum BenchTarget {
    /// MFCC extraction (decode + MFCC) on the six gtzan-clips, ours vs librosa 0.11.
    Features(crate::bench_features::BenchFeaturesArgs),
    /// Silhouette, k-means and the full score set at n = 20000, ours vs scikit-learn 1.9.1.
    Metrics(crate::bench_metrics::BenchMetricsArgs),
    /// Training steps per second of the fully connected VAE, ours vs the same model in PyTorch.
    Train(crate::bench_train::BenchTrainArgs),
    /// A study with one run per process against stacked groups (`--ensemble`), side by side.
    Sweep(crate::bench_sweep::BenchSweepArgs),
}

/// Runs the chosen benchmark.
pub fn bench_command(target: &BenchTarget) -> anyhow::Result<()> {
    match target {
        BenchTarget::Features(args) => crate::bench_features::bench_features_command(args),
        BenchTarget::Metrics(args) => crate::bench_metrics::bench_metrics_command(args),
        BenchTarget::Train(args) => crate::bench_train::bench_train_command(args),
        BenchTarget::Sweep(args) => crate::bench_sweep::bench_sweep_command(args),
    }
}

/// Median of timings (the mean of the middle two for an even count).
pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let middle = sorted.len() / 2;
    if sorted.len() % 2 == 1 {
        sorted[middle]
    } else {
        f64::midpoint(sorted[middle - 1], sorted[middle])
    }
}

/// Prints a benchmark's table and, unless `no_write`, puts it into
/// docs/performance.md as the section that starts with `heading`.
pub fn publish_table(heading: &str, table: &str, no_write: bool) -> anyhow::Result<()> {
    println!("{table}");
    if !no_write {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/performance.md");
        write_section(&path, heading, table)?;
        println!("wrote the table to {}", path.display());
    }
    Ok(())
}

/// Replaces (or appends) the section that starts with `heading` in
/// docs/performance.md, leaving every other section as it is.
fn write_section(path: &std::path::Path, heading: &str, section: &str) -> anyhow::Result<()> {
    use anyhow::Context;
    let existing = std::fs::read_to_string(path).unwrap_or_else(|_| "# Performance\n".to_owned());
    let updated = match existing.find(&format!("{heading}\n")) {
        Some(start) => {
            let after = start + heading.len();
            let end = existing[after..]
                .find("\n## ")
                .map_or(existing.len(), |offset| after + offset + 1);
            format!("{}{section}\n{}", &existing[..start], &existing[end..])
        }
        None => format!(
            "{}\n{section}",
            existing.trim_end_matches('\n').to_owned() + "\n"
        ),
    };
    std::fs::write(path, updated).with_context(|| format!("cannot write {}", path.display()))
}

/// The Python of the reference venv `${XDG_CACHE_HOME:-$HOME/.cache}/songvae/<name>`,
/// created with `packages` (and saying so) when it is missing.
pub fn reference_venv(name: &str, packages: &[&str]) -> anyhow::Result<std::path::PathBuf> {
    use anyhow::bail;
    use std::process::Command;
    let venv = crate::libtorch::SetupInputs::from_environment()?
        .cache_root
        .join(name);
    let python = venv.join("bin/python");
    if python.exists() {
        println!("using Python venv {}", venv.display());
        return Ok(python);
    }
    println!(
        "creating Python venv {} with {} (one time)",
        venv.display(),
        packages.join(", ")
    );
    let created = Command::new("python3")
        .arg("-m")
        .arg("venv")
        .arg(&venv)
        .status()?;
    if !created.success() {
        bail!("python3 -m venv {} failed", venv.display());
    }
    let installed = Command::new(&python)
        .args(["-m", "pip", "install", "--quiet"])
        .args(packages)
        .status()?;
    if !installed.success() {
        bail!(
            "pip install {} into {} failed",
            packages.join(" "),
            venv.display()
        );
    }
    Ok(python)
}

/// The 1-minute load average, the first field of `/proc/loadavg`.
pub fn load_average() -> anyhow::Result<f64> {
    use anyhow::Context;
    let text = std::fs::read_to_string("/proc/loadavg").context("reading /proc/loadavg")?;
    let first = text
        .split_whitespace()
        .next()
        .context("empty /proc/loadavg")?;
    first
        .parse()
        .with_context(|| format!("malformed /proc/loadavg: {text}"))
}
