//! `cargo xtask bench features`: MFCC extraction throughput, ours vs librosa.
//!
//! Work per file: decode (+ resample where needed) + MFCC with librosa's
//! defaults, on the six 30 s clips of `../shared/datasets/gtzan-clips/`.
//! Three measurements in one run, each the median of `--repeats` passes after
//! one untimed warm-up pass:
//!
//! - librosa 0.11 (`xtask/bench/mfcc_librosa.py` in its own venv), pinned to
//!   core 0 with `taskset -c 0` and OMP/MKL/OpenBLAS/numba threads set to 1;
//! - ours on one rayon thread, pinned to core 0 the same way;
//! - ours with rayon over files on two threads (cores 0 and 1).
//!
//! Our side runs in a child process, a release build of xtask run with a
//! hidden `--worker-threads` flag, so that `taskset` can pin it and so that
//! the timed code is optimised (`cargo xtask` itself is a debug build). Parity of our
//! MFCCs against librosa's is reported for the six clips and for the
//! FLAC/Ogg/MP3 files in `gtzan-clips/encoded/`. The table is printed and
//! written to docs/performance.md under "## features (MFCC)".

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::bench::{load_average, median, publish_table, reference_venv};
use rayon::prelude::{IntoParallelRefIterator, ParallelIterator};
use songvae_features::audio::load_mono;
use songvae_features::mfcc::{MfccConfig, MfccExtractor};

/// The librosa version the reference side pins.
const LIBROSA_VERSION: &str = "0.11.0";
/// The section of docs/performance.md this benchmark owns.
const SECTION_HEADING: &str = "## features (MFCC)";

/// Arguments of `cargo xtask bench features`.
#[derive(Debug, clap::Args)]
pub struct BenchFeaturesArgs {
    /// Timed passes per side; medians are reported.
    #[arg(long, default_value_t = 5)]
    pub repeats: usize,
    /// The gtzan-clips folder (default: ../shared/datasets/gtzan-clips beside the workspace).
    #[arg(long)]
    pub clips: Option<PathBuf>,
    /// Print the table without writing docs/performance.md.
    #[arg(long)]
    pub no_write: bool,
    /// Internal: time our side on this many rayon threads and print the seconds as JSON.
    #[arg(long, hide = true)]
    pub worker_threads: Option<usize>,
}

/// Runs `cargo xtask bench features`.
pub fn bench_features_command(args: &BenchFeaturesArgs) -> Result<()> {
    if args.repeats == 0 {
        bail!("--repeats must be at least 1");
    }
    let workspace_root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let clips_dir = match &args.clips {
        Some(dir) => dir.clone(),
        None => workspace_root.join("../shared/datasets/gtzan-clips"),
    };
    let clips = clip_files(&clips_dir)?;
    if let Some(threads) = args.worker_threads {
        let seconds = time_ours(&clips, threads, args.repeats)?;
        println!("{}", serde_json::json!({ "seconds": seconds }));
        return Ok(());
    }

    let encoded = encoded_files(&clips_dir)?;
    let python = reference_venv(
        "ref-librosa",
        &[&format!("librosa=={LIBROSA_VERSION}"), "numpy", "soundfile"],
    )?;
    let scratch =
        std::env::temp_dir().join(format!("songvae-bench-features-{}", std::process::id()));
    std::fs::create_dir_all(&scratch)
        .with_context(|| format!("cannot create {}", scratch.display()))?;

    let script = workspace_root.join("xtask/bench/mfcc_librosa.py");
    let load_before = load_average()?;
    let librosa_seconds = run_librosa(&python, &script, &scratch, args.repeats, &clips, &encoded)?;

    let ours_seconds = run_ours(&clips_dir, args.repeats)?;
    let load_after = load_average()?;

    let (parity_rows, worst) = parity_rows(&clips, &encoded, &clips_dir, &scratch)?;
    std::fs::remove_dir_all(&scratch).ok();

    let librosa_median = median(&librosa_seconds);
    let single_median = median(&ours_seconds[0]);
    let parallel_median = median(&ours_seconds[1]);
    let clip_count = clips.len() as f64;
    let cpu = cpu_name();
    let table = format!(
        "{SECTION_HEADING}\n\n\
         `cargo xtask bench features --repeats {repeats}`: decode + MFCC (librosa defaults: \
         n_fft 2048, hop 512, 128 mels, 20 coefficients) of the {count} 30 s clips in \
         `../shared/datasets/gtzan-clips/`, median of {repeats} passes after one warm-up \
         pass, on {cpu}; ours is a release build. librosa {LIBROSA_VERSION} and \"ours, 1 thread\" are pinned to one \
         core (`taskset -c 0`; Python with OMP/MKL/OpenBLAS/numba threads = 1); \"ours, 2 \
         threads\" runs rayon over files on cores 0-1. 1-minute load average (`/proc/loadavg`, \
         as `uptime` prints it) {load_before:.1} before the timings and {load_after:.1} after: \
         the machine is shared, so compare the ratio, measured side by side, rather than the \
         seconds.\n\n\
         | side | median s per pass | clips/s | speed-up vs librosa |\n\
         |---|---|---|---|\n\
         | librosa {LIBROSA_VERSION}, 1 core | {librosa_median:.3} | {:.1} | 1.0x |\n\
         | ours, 1 thread | {single_median:.4} | {:.1} | {:.1}x |\n\
         | ours, 2 threads | {parallel_median:.4} | {:.1} | {:.1}x |\n\n\
         Parity of our MFCCs against librosa's on the same files (relative Frobenius \
         error, max absolute error; target <= 1e-5 and <= 0.01 for 22,050 Hz WAV; worst \
         WAV clip {:.2e} / {:.2e}). `encoded/` rows compare our FLAC/Vorbis/MP3 decoding \
         (symphonia) with libsndfile's through librosa.\n\n\
         | file | rel. Frobenius | max abs |\n|---|---|---|\n{}\n",
        clip_count / librosa_median,
        clip_count / single_median,
        librosa_median / single_median,
        clip_count / parallel_median,
        librosa_median / parallel_median,
        worst.0,
        worst.1,
        parity_rows.join("\n"),
        repeats = args.repeats,
        count = clips.len(),
    );
    println!();
    publish_table(SECTION_HEADING, &table, args.no_write)
}

/// Times librosa (pinned to core 0, one thread everywhere) over `clips`; every
/// file's MFCC, `clips` then `encoded`, is saved in `scratch` as `<index>.npy`.
fn run_librosa(
    python: &Path,
    script: &Path,
    scratch: &Path,
    repeats: usize,
    clips: &[PathBuf],
    encoded: &[PathBuf],
) -> Result<Vec<f64>> {
    println!(
        "timing librosa {LIBROSA_VERSION} on {} clips, {} repeats, pinned to core 0 ...",
        clips.len(),
        repeats
    );
    let mut librosa_run = Command::new("taskset");
    librosa_run
        .arg("-c")
        .arg("0")
        .arg(python)
        .arg(script)
        .arg(scratch)
        .arg(repeats.to_string())
        .arg(clips.len().to_string())
        .args(clips)
        .args(encoded);
    for variable in [
        "OMP_NUM_THREADS",
        "MKL_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "NUMBA_NUM_THREADS",
    ] {
        librosa_run.env(variable, "1");
    }
    let status = librosa_run
        .status()
        .with_context(|| format!("cannot run {}", python.display()))?;
    if !status.success() {
        bail!(
            "{} {} failed ({status})",
            python.display(),
            script.display()
        );
    }
    let timings: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(scratch.join("timings.json"))
            .context("librosa timings missing")?,
    )?;
    seconds_list(&timings)
}

/// One markdown row per file comparing our MFCC with librosa's saved one,
/// and the worst relative Frobenius and absolute errors over the WAV clips.
fn parity_rows(
    clips: &[PathBuf],
    encoded: &[PathBuf],
    clips_dir: &Path,
    scratch: &Path,
) -> Result<(Vec<String>, (f64, f64))> {
    let extractor = MfccExtractor::new(&MfccConfig::default())?;
    let mut parity_rows = Vec::new();
    let mut worst = (0.0_f64, 0.0_f64);
    for (index, path) in clips.iter().chain(encoded).enumerate() {
        let ours = extractor.mfcc(&load_mono(path)?)?;
        let reference: ndarray::Array2<f32> =
            ndarray_npy::read_npy(scratch.join(format!("{index}.npy")))
                .with_context(|| format!("librosa MFCC of {} missing", path.display()))?;
        let (relative, absolute) = parity(&ours, &reference)
            .with_context(|| format!("shapes differ for {}", path.display()))?;
        if index < clips.len() {
            worst = (worst.0.max(relative), worst.1.max(absolute));
        }
        let name = path
            .strip_prefix(clips_dir)
            .unwrap_or(path)
            .display()
            .to_string();
        parity_rows.push(format!("| {name} | {relative:.2e} | {absolute:.2e} |"));
    }
    Ok((parity_rows, worst))
}

/// The CPU model from /proc/cpuinfo, for the table's caption
/// (`songvae_run::machine::processor`, the name `result.json` records).
pub fn cpu_name() -> String {
    songvae_run::machine::processor().unwrap_or_else(|| "unknown CPU".to_owned())
}

/// The FLAC/Ogg/MP3 versions of the clips in `encoded/` (none when the folder is absent).
fn encoded_files(clips_dir: &Path) -> Result<Vec<PathBuf>> {
    let mut encoded = Vec::new();
    let encoded_dir = clips_dir.join("encoded");
    if encoded_dir.is_dir() {
        for entry in std::fs::read_dir(&encoded_dir)
            .with_context(|| format!("cannot list {}", encoded_dir.display()))?
        {
            encoded.push(entry?.path());
        }
        encoded.sort();
    }
    Ok(encoded)
}

/// Times our side in a release build of xtask: pinned to core 0 on one rayon
/// thread, then on cores 0-1 with two threads. Returns the two lists of seconds.
fn run_ours(clips_dir: &Path, repeats: usize) -> Result<Vec<Vec<f64>>> {
    // `cargo xtask` is a debug build; time our side in a release build of xtask.
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    println!("building xtask --release for our side ...");
    let built = Command::new(&cargo)
        .args(["build", "--release", "--quiet", "--package", "xtask"])
        .status()
        .context("cannot run cargo build --release")?;
    if !built.success() {
        bail!("cargo build --release --package xtask failed");
    }
    let mut ours_seconds = Vec::new();
    for (cores, threads) in [("0", 1), ("0,1", 2)] {
        println!("timing ours on {threads} thread(s), cores {cores} ...");
        let output = Command::new("taskset")
            .arg("-c")
            .arg(cores)
            .arg(&cargo)
            .args(["run", "--release", "--quiet", "--package", "xtask", "--"])
            .arg("bench")
            .arg("features")
            .arg("--clips")
            .arg(clips_dir)
            .arg("--repeats")
            .arg(repeats.to_string())
            .arg("--worker-threads")
            .arg(threads.to_string())
            .output()
            .context("cannot run the benchmark worker")?;
        if !output.status.success() {
            bail!(
                "benchmark worker failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let reply: serde_json::Value =
            serde_json::from_slice(&output.stdout).context("benchmark worker printed no JSON")?;
        ours_seconds.push(seconds_list(&reply)?);
    }
    Ok(ours_seconds)
}

/// The `audio_path` column of the clips' manifest, resolved against the folder.
fn clip_files(clips_dir: &Path) -> Result<Vec<PathBuf>> {
    let manifest_path = clips_dir.join("manifest.csv");
    let manifest = std::fs::read_to_string(&manifest_path).with_context(|| {
        format!(
            "cannot read {} (the real clips live in ../shared/datasets/gtzan-clips)",
            manifest_path.display()
        )
    })?;
    let mut lines = manifest.lines();
    let header = lines.next().unwrap_or_default();
    let Some(column) = header.split(',').position(|name| name == "audio_path") else {
        bail!("{} has no audio_path column", manifest_path.display());
    };
    let mut files = Vec::new();
    for (row, line) in lines.enumerate() {
        let Some(relative) = line.split(',').nth(column) else {
            bail!(
                "{} row {} has no audio_path",
                manifest_path.display(),
                row + 1
            );
        };
        files.push(clips_dir.join(relative));
    }
    Ok(files)
}

/// Times `repeats` passes of decode + MFCC over `files` on a rayon pool of `threads`.
fn time_ours(files: &[PathBuf], threads: usize, repeats: usize) -> Result<Vec<f64>> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .context("cannot build the rayon pool")?;
    let one_pass = || -> Result<f64> {
        let start = Instant::now();
        let extractor = MfccExtractor::new(&MfccConfig::default())?;
        let results: Vec<Result<ndarray::Array2<f32>>> = pool.install(|| {
            files
                .par_iter()
                .map(|path| Ok(extractor.mfcc(&load_mono(path)?)?))
                .collect()
        });
        for result in results {
            result?;
        }
        Ok(start.elapsed().as_secs_f64())
    };
    one_pass()?;
    let mut seconds = Vec::with_capacity(repeats);
    for _ in 0..repeats {
        seconds.push(one_pass()?);
    }
    Ok(seconds)
}

/// The `seconds` list of a timing JSON object.
fn seconds_list(value: &serde_json::Value) -> Result<Vec<f64>> {
    let Some(list) = value["seconds"].as_array() else {
        bail!("timing JSON has no seconds list: {value}");
    };
    let mut seconds = Vec::with_capacity(list.len());
    for entry in list {
        seconds.push(entry.as_f64().context("timing is not a number")?);
    }
    Ok(seconds)
}

/// Relative Frobenius error and maximum absolute error; `None` when shapes differ.
fn parity(ours: &ndarray::Array2<f32>, reference: &ndarray::Array2<f32>) -> Option<(f64, f64)> {
    if ours.dim() != reference.dim() {
        return None;
    }
    let mut difference_squares = 0.0;
    let mut reference_squares = 0.0;
    let mut max_absolute = 0.0_f64;
    for (a, b) in ours.iter().zip(reference) {
        let difference = f64::from(*a) - f64::from(*b);
        difference_squares += difference * difference;
        reference_squares += f64::from(*b) * f64::from(*b);
        max_absolute = max_absolute.max(difference.abs());
    }
    Some((
        (difference_squares / reference_squares).sqrt(),
        max_absolute,
    ))
}
