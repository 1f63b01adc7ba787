//! `cargo xtask bench <area>`: benchmarks that time ours against the Python
//! reference in one run and record the table in docs/performance.md.

/// The benchmark areas, one per crate section of docs/performance.md.
#[derive(Debug, clap::Subcommand)]
pub enum BenchTarget {
    /// MFCC extraction (decode + MFCC) on the six gtzan-clips, ours vs librosa 0.11.
    Features(crate::bench_features::BenchFeaturesArgs),
    /// Silhouette, k-means and the full score set at n = 20000, ours vs scikit-learn 1.9.1.
    Metrics(crate::bench_metrics::BenchMetricsArgs),
}

/// Runs the chosen benchmark.
pub fn bench_command(target: &BenchTarget) -> anyhow::Result<()> {
    match target {
        BenchTarget::Features(args) => crate::bench_features::bench_features_command(args),
        BenchTarget::Metrics(args) => crate::bench_metrics::bench_metrics_command(args),
    }
}
