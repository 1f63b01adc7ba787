//! `cargo xtask bench metrics`: songvae-metrics against scikit-learn 1.9.1.
//!
//! One run, same data on both sides (written by the Python side, read here):
//! 20000 x 16 float64 Gaussian blobs around 10 centres
//! (`make_blobs(cluster_std=3.0, random_state=0)`). Measured, each the median
//! of `--repeats` runs, on all cores on both sides (rayon here, OpenMP/BLAS
//! there):
//!
//! - silhouette of the true labels (`silhouette_score`);
//! - k-means from the same 10 initial centres, one init
//!   (`KMeans(init=centres, n_init=1)`), with labels, inertia and iteration
//!   counts compared;
//! - the full score set of the `score` command (silhouette, Davies-Bouldin,
//!   Calinski-Harabasz, ARI, NMI, purity) on scikit-learn's k-means labels
//!   (both sides get the same labels);
//! - Ward agglomerative clustering into 10 clusters of the first
//!   [`WARD_ROWS`] rows (`AgglomerativeClustering(linkage="ward")`; its
//!   distance matrix takes 400 MB on each side), labels and merge distances
//!   compared;
//! - Gaussian mixtures, full and diagonal covariances, 10 components, both
//!   sides started from scikit-learn's k-means labels (so the EM iterations
//!   are timed), lower bound, iterations and `predict` labels compared;
//! - silhouette at n = 100000 in a child process (this binary with a hidden
//!   flag), reporting its peak resident memory (`VmHWM` of
//!   `/proc/self/status`, which includes the 12.8 MB of data).
//!
//! Runs alternate (scikit-learn, then ours, per measurement and repeat) so
//! that both sides see the same machine load; wall and process CPU seconds
//! are reported. The scikit-learn side is `xtask/bench/metrics_sklearn.py`,
//! run with the
//! venv `${XDG_CACHE_HOME:-~/.cache}/songvae/ref-sklearn` (created with numpy,
//! scipy and scikit-learn 1.9.1 when missing, and the bench says so). The
//! table is printed and written to docs/performance.md under "## metrics".

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::bench::{load_average, median, publish_table, reference_venv};
use ndarray::{Array1, Array2};
use ndarray_npy::read_npy;
use songvae_metrics::agglomerative::ward;
use songvae_metrics::external::{adjusted_rand_score, normalized_mutual_info_score, purity_score};
use songvae_metrics::gaussian_mixture::{
    CovarianceType, GaussianMixtureConfig, GaussianMixtureFit, gaussian_mixture_from_labels,
};
use songvae_metrics::internal::{calinski_harabasz_score, davies_bouldin_score};
use songvae_metrics::kmeans::{KMeansFit, kmeans_from_centres};
use songvae_metrics::silhouette::silhouette_score;

/// The scikit-learn version the reference side pins.
const SKLEARN_VERSION: &str = "1.9.1";
/// The section of docs/performance.md this benchmark owns.
const SECTION_HEADING: &str = "## metrics";
/// Rows of the data that the Ward measurement clusters (as `WARD_ROWS` in
/// `metrics_sklearn.py`).
const WARD_ROWS: usize = 10_000;

/// Arguments of `cargo xtask bench metrics`.
#[derive(Debug, clap::Args)]
pub struct BenchMetricsArgs {
    /// Timed runs per measurement and side; medians are reported.
    #[arg(long, default_value_t = 3)]
    pub repeats: usize,
    /// Print the table without writing docs/performance.md.
    #[arg(long)]
    pub no_write: bool,
    /// Internal: run silhouette on `DIR/data_100k.npy` and print seconds and peak memory as JSON.
    #[arg(long, hide = true, value_name = "DIR")]
    pub silhouette_memory_child: Option<PathBuf>,
}

/// Runs `cargo xtask bench metrics`.
pub fn bench_metrics_command(args: &BenchMetricsArgs) -> Result<()> {
    if let Some(directory) = &args.silhouette_memory_child {
        return silhouette_memory_child(directory);
    }
    if args.repeats == 0 {
        bail!("--repeats must be at least 1");
    }
    let python = reference_venv(
        "ref-sklearn",
        &[
            "numpy",
            "scipy",
            &format!("scikit-learn=={SKLEARN_VERSION}"),
        ],
    )?;
    let workspace_root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let script = workspace_root.join("xtask/bench/metrics_sklearn.py");
    let work = std::env::temp_dir().join(format!("songvae-bench-metrics-{}", std::process::id()));
    std::fs::create_dir_all(&work).with_context(|| format!("cannot create {}", work.display()))?;
    let outcome = run_benchmark(&python, &script, &work, args.repeats);
    // The data files are large; remove them whatever happened.
    let _ = std::fs::remove_dir_all(&work);
    let table = outcome?;
    publish_table(SECTION_HEADING, &table, args.no_write)
}

/// Wall and process CPU seconds of repeated runs.
#[derive(Debug, Default)]
struct Timings {
    wall: Vec<f64>,
    cpu: Vec<f64>,
}

/// Both sides' timings and values.
struct Results {
    versions: serde_json::Value,
    ours: [Timings; MEASUREMENTS.len()],
    theirs: [Timings; MEASUREMENTS.len()],
    silhouette: f64,
    sklearn_silhouette: f64,
    kmeans: KMeansFit,
    kmeans_labels_identical: bool,
    sklearn_kmeans: serde_json::Value,
    worst_score_difference: f64,
    /// Agreement of the Ward and the two Gaussian-mixture rows, in words.
    clustering_agreements: [String; 3],
    memory: serde_json::Value,
    /// 1-minute load average (`/proc/loadavg`) before and after the run.
    load: [f64; 2],
}

/// The measurements, in table order.
const MEASUREMENTS: [&str; 6] = [
    "silhouette",
    "kmeans",
    "scores",
    "ward",
    "gmm_full",
    "gmm_diag",
];

fn run_benchmark(python: &Path, script: &Path, work: &Path, repeats: usize) -> Result<String> {
    println!(
        "scikit-learn side: {} {}",
        python.display(),
        script.display()
    );
    let load_before = load_average()?;
    let versions = run_python(python, script, &["generate".as_ref(), work.as_os_str()])?;
    let data: Array2<f64> = read_npy(work.join("data.npy")).context("data.npy")?;
    let truth = usize_labels(&read_npy(work.join("truth.npy")).context("truth.npy")?)?;
    let init: Array2<f64> = read_npy(work.join("init.npy")).context("init.npy")?;
    let pred = usize_labels(&read_npy(work.join("pred.npy")).context("pred.npy")?)?;

    let mut ours: [Timings; MEASUREMENTS.len()] = Default::default();
    let mut theirs: [Timings; MEASUREMENTS.len()] = Default::default();
    let mut their_values = vec![serde_json::Value::Null; MEASUREMENTS.len()];
    let mut silhouette = 0.0;
    let mut fit = None;
    let mut scores = Vec::new();
    let mut ward_fit = None;
    let mut mixtures: [Option<GaussianMixtureFit>; 2] = [None, None];
    let ward_rows = data.slice(ndarray::s![..WARD_ROWS.min(data.nrows()), ..]);
    for repeat in 0..repeats {
        println!(
            "repeat {} of {repeats}: scikit-learn and ours, alternating",
            repeat + 1
        );
        for (index, measurement) in MEASUREMENTS.iter().enumerate() {
            let theirs_run = run_python(
                python,
                script,
                &["time".as_ref(), work.as_os_str(), measurement.as_ref()],
            )?;
            theirs[index].wall.push(number(&theirs_run["seconds"])?);
            theirs[index].cpu.push(number(&theirs_run["cpu_seconds"])?);
            their_values[index] = theirs_run["values"].clone();
            let wall_start = Instant::now();
            let cpu_start = process_cpu_seconds()?;
            match index {
                0 => silhouette = silhouette_score(data.view(), &truth)?,
                1 => fit = Some(kmeans_from_centres(data.view(), init.view(), 300, 1e-4)?),
                3 => ward_fit = Some(ward(ward_rows, 10)?),
                4 | 5 => {
                    let config = GaussianMixtureConfig {
                        n_components: 10,
                        covariance_type: if index == 4 {
                            CovarianceType::Full
                        } else {
                            CovarianceType::Diag
                        },
                        ..GaussianMixtureConfig::default()
                    };
                    mixtures[index - 4] =
                        Some(gaussian_mixture_from_labels(data.view(), &pred, &config)?);
                }
                _ => {
                    scores = vec![
                        ("silhouette", silhouette_score(data.view(), &pred)?),
                        ("davies_bouldin", davies_bouldin_score(data.view(), &pred)?),
                        (
                            "calinski_harabasz",
                            calinski_harabasz_score(data.view(), &pred)?,
                        ),
                        ("ari", adjusted_rand_score(&truth, &pred)?),
                        ("nmi", normalized_mutual_info_score(&truth, &pred)?),
                        ("purity", purity_score(&truth, &pred)?),
                    ];
                }
            }
            ours[index].cpu.push(process_cpu_seconds()? - cpu_start);
            ours[index].wall.push(wall_start.elapsed().as_secs_f64());
        }
    }
    let kmeans = fit.context("k-means ran")?;
    let clustering_agreements = [
        ward_agreement(&ward_fit.context("ward ran")?, &their_values[3])?,
        mixture_agreement(mixtures[0].as_ref(), &their_values[4])?,
        mixture_agreement(mixtures[1].as_ref(), &their_values[5])?,
    ];
    let mut worst_score_difference: f64 = 0.0;
    for (name, value) in &scores {
        let want = number(&their_values[2][*name])?;
        worst_score_difference = worst_score_difference.max(relative_difference(*value, want));
    }

    let memory = run_memory_child(work)?;
    let load_after = load_average()?;
    let results = Results {
        versions,
        ours,
        theirs,
        silhouette,
        sklearn_silhouette: number(&their_values[0]["silhouette"])?,
        kmeans_labels_identical: kmeans.labels == pred,
        kmeans,
        sklearn_kmeans: their_values[1].clone(),
        worst_score_difference,
        clustering_agreements,
        memory,
        load: [load_before, load_after],
    };
    render_table(&results, repeats)
}

/// Runs silhouette at n = 100000 in a child process (this binary, hidden
/// flag) and returns its JSON: seconds, value and peak memory.
fn run_memory_child(work: &Path) -> Result<serde_json::Value> {
    println!("silhouette at n = 100000 in a child process");
    let child = Command::new(std::env::current_exe()?)
        .args(["bench", "metrics", "--silhouette-memory-child"])
        .arg(work)
        .output()
        .context("running the memory child")?;
    if !child.status.success() {
        bail!(
            "memory child failed: {}",
            String::from_utf8_lossy(&child.stderr).trim()
        );
    }
    serde_json::from_slice(&child.stdout).context("memory child output")
}

/// Runs the Python side with `arguments` and parses the JSON it prints.
fn run_python(
    python: &Path,
    script: &Path,
    arguments: &[&std::ffi::OsStr],
) -> Result<serde_json::Value> {
    let output = Command::new(python)
        .arg(script)
        .args(arguments)
        .output()
        .with_context(|| format!("cannot run {}", python.display()))?;
    if !output.status.success() {
        bail!(
            "{} {} failed ({}): {}",
            python.display(),
            script.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    serde_json::from_slice(&output.stdout)
        .with_context(|| format!("{} printed no JSON", script.display()))
}

/// User + system CPU seconds of this process (all threads), from
/// `/proc/self/stat` (fields 14 and 15, in clock ticks of 1/100 s).
fn process_cpu_seconds() -> Result<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").context("reading /proc/self/stat")?;
    let after_name = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .context("malformed /proc/self/stat")?;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // after_name starts at field 3 (state); utime is field 14, stime field 15.
    let user_ticks: f64 = fields.get(11).context("no utime")?.parse()?;
    let system_ticks: f64 = fields.get(12).context("no stime")?.parse()?;
    Ok((user_ticks + system_ticks) / 100.0)
}

/// The markdown section: a header line, the table and the targets.
fn render_table(results: &Results, repeats: usize) -> Result<String> {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let mut table = String::new();
    writeln!(
        table,
        "{SECTION_HEADING}\n\n`cargo xtask bench metrics` ({cores} cores, all threads on both sides; medians of {repeats} \
         runs, the two sides alternating; scikit-learn {} with numpy {}; the metrics crate built at opt-level 3 as \
         the dev profile sets it). Data: 20000 x 16 Gaussian blobs, 10 centres \
         (`make_blobs(cluster_std=3.0, random_state=0)`), the same arrays on both sides. CPU = user + system \
         seconds of the process, all threads. 1-minute load average (`/proc/loadavg`, as `uptime` prints it): \
         {:.2} at the start of the run, {:.2} at the end.\n",
        results.versions["sklearn"].as_str().unwrap_or("?"),
        results.versions["numpy"].as_str().unwrap_or("?"),
        results.load[0],
        results.load[1],
    )?;
    writeln!(
        table,
        "| measurement | ours wall (s) | scikit-learn wall (s) | speed-up | ours CPU (s) | scikit-learn CPU (s) | agreement |\n\
         |---|---:|---:|---:|---:|---:|---|"
    )?;
    let [ward_agreement, full_agreement, diag_agreement] = results.clustering_agreements.clone();
    let agreements = [
        format!(
            "{:.15} vs {:.15} (relative difference {:.1e})",
            results.silhouette,
            results.sklearn_silhouette,
            relative_difference(results.silhouette, results.sklearn_silhouette)
        ),
        format!(
            "labels identical: {}; inertia {:.6} vs {:.6}; iterations {} vs {}",
            yes_no(results.kmeans_labels_identical),
            results.kmeans.inertia,
            number(&results.sklearn_kmeans["inertia"])?,
            results.kmeans.n_iter,
            results.sklearn_kmeans["n_iter"]
        ),
        format!(
            "largest relative difference {:.1e}",
            results.worst_score_difference
        ),
        ward_agreement,
        full_agreement,
        diag_agreement,
    ];
    let names = [
        "silhouette, n = 20000".to_owned(),
        "k-means, same 10 initial centres, 1 init".to_owned(),
        "full score set (silhouette, DB, CH, ARI, NMI, purity)".to_owned(),
        format!("Ward, k = 10, first {WARD_ROWS} rows"),
        "Gaussian mixture, full covariances, k = 10, from the same k-means labels".to_owned(),
        "Gaussian mixture, diagonal covariances, k = 10, from the same k-means labels".to_owned(),
    ];
    for index in 0..MEASUREMENTS.len() {
        let ours_wall = median(&results.ours[index].wall);
        let theirs_wall = median(&results.theirs[index].wall);
        writeln!(
            table,
            "| {} | {ours_wall:.3} | {theirs_wall:.3} | {:.1}x | {:.2} | {:.2} | {} |",
            names[index],
            theirs_wall / ours_wall,
            median(&results.ours[index].cpu),
            median(&results.theirs[index].cpu),
            agreements[index]
        )?;
    }
    writeln!(
        table,
        "| silhouette, n = 100000 (ours only) | {:.3} | - | - | - | - | peak resident memory {:.0} MiB (`VmHWM`, whole process including the data) |",
        number(&results.memory["seconds"])?,
        number(&results.memory["vm_hwm_kib"])? / 1024.0,
    )?;
    writeln!(
        table,
        "\nTargets (issue 3): silhouette at least 5x faster with equal values; k-means at least as fast; \
         silhouette at n = 100000 under 1 GB (Ward and the Gaussian mixtures have no speed target; both sides run \
         the same algorithm, Ward's nearest-neighbour chain being sequential and memory bound on both). Timings come from a shared 2-core machine (other agents' builds \
         running) and vary between runs."
    )?;
    Ok(table)
}

/// Child mode: silhouette on the n = 100000 data, then report time and peak memory.
fn silhouette_memory_child(directory: &Path) -> Result<()> {
    let data: Array2<f64> = read_npy(directory.join("data_100k.npy")).context("data_100k.npy")?;
    let truth =
        usize_labels(&read_npy(directory.join("truth_100k.npy")).context("truth_100k.npy")?)?;
    let start = Instant::now();
    let value = silhouette_score(data.view(), &truth)?;
    let seconds = start.elapsed().as_secs_f64();
    let status =
        std::fs::read_to_string("/proc/self/status").context("reading /proc/self/status")?;
    let mut vm_hwm_kib = None;
    for line in status.lines() {
        if let Some(rest) = line.strip_prefix("VmHWM:") {
            vm_hwm_kib = rest
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<f64>()
                .ok();
        }
    }
    let vm_hwm_kib = vm_hwm_kib.context("no VmHWM line in /proc/self/status")?;
    println!(
        "{}",
        serde_json::json!({"seconds": seconds, "value": value, "vm_hwm_kib": vm_hwm_kib})
    );
    Ok(())
}

/// The Ward row's agreement: identical labels, largest merge-distance difference.
fn ward_agreement(
    fit: &songvae_metrics::agglomerative::WardFit,
    theirs: &serde_json::Value,
) -> Result<String> {
    let their_labels = json_indices(&theirs["labels"])?;
    let their_distances = theirs["distances"].as_array().context("ward distances")?;
    let mut worst: f64 = 0.0;
    for (&got, want) in fit.distances.iter().zip(their_distances) {
        worst = worst.max(relative_difference(got, number(want)?));
    }
    Ok(format!(
        "labels identical: {}; largest relative difference of the {} merge distances {worst:.1e}",
        yes_no(fit.labels == their_labels),
        fit.distances.len()
    ))
}

/// A Gaussian-mixture row's agreement: predict labels, lower bound, iterations.
fn mixture_agreement(
    fit: Option<&GaussianMixtureFit>,
    theirs: &serde_json::Value,
) -> Result<String> {
    let fit = fit.context("gaussian mixture ran")?;
    let want = number(&theirs["lower_bound"])?;
    Ok(format!(
        "predict labels identical: {}; lower bound {:.12} vs {want:.12} (relative difference {:.1e}); iterations {} vs {}",
        yes_no(fit.labels == json_indices(&theirs["labels"])?),
        fit.lower_bound,
        relative_difference(fit.lower_bound, want),
        fit.n_iter,
        theirs["n_iter"]
    ))
}

fn yes_no(flag: bool) -> &'static str {
    if flag { "yes" } else { "no" }
}

fn json_indices(value: &serde_json::Value) -> Result<Vec<usize>> {
    let mut converted = Vec::new();
    for entry in value.as_array().context("expected an array of labels")? {
        converted.push(usize::try_from(
            entry.as_u64().context("expected a label")?,
        )?);
    }
    Ok(converted)
}

fn relative_difference(got: f64, want: f64) -> f64 {
    if want == 0.0 {
        got.abs()
    } else {
        (got - want).abs() / want.abs()
    }
}

fn number(value: &serde_json::Value) -> Result<f64> {
    value
        .as_f64()
        .with_context(|| format!("expected a number, found {value}"))
}

fn usize_labels(labels: &Array1<i64>) -> Result<Vec<usize>> {
    let mut converted = Vec::with_capacity(labels.len());
    for &label in labels {
        converted.push(usize::try_from(label).context("negative label")?);
    }
    Ok(converted)
}
