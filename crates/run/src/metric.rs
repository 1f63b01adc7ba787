//! The study's one metric table: every per-run number a study records, with
//! its key, column title, direction, format, meaning and where it is read
//! from.
//!
//! `results.jsonl` lines ([`MetricValues`]), `results.csv`, the report's
//! columns and number formats, and the plots all read this table; nothing
//! else lists the metrics. Adding a metric means computing it (a field of
//! `songvae_metrics::scoring::Scores` or of [`RunResult`]) and adding its
//! variant and its row here.
//!
//! | key | title | better | format | meaning |
//! |---|---|---|---|---|
//! | `silhouette` | silhouette | higher | 3 decimals | mean silhouette (Euclidean) of the clustered embedding |
//! | `davies_bouldin` | davies_bouldin | lower | 3 | Davies-Bouldin index of the clusters |
//! | `calinski_harabasz` | calinski_harabasz | higher | 1 | Calinski-Harabasz index of the clusters |
//! | `ari` | ari | higher | 3 | adjusted Rand index against the primary label |
//! | `nmi` | nmi | higher | 3 | normalised mutual information against the primary label |
//! | `purity` | purity | higher | 3 | purity against the primary label |
//! | `disentanglement_score` | disentanglement_score (MIG) | higher | 3 | mutual information gap over the label columns (alias `mig`) |
//! | `active_units` | active_units | — | 1 | embedding dimensions that vary across tracks |
//! | `latent_kmeans_ari` | latent_kmeans_ari | higher | 3 | `vade`, `idec`: ARI of the study's clustering of the latent means (their `ari` is their own clusters') |
//! | `empty_clusters` | empty_clusters | lower | 1 | `vade`, `idec`: of the k components (clusters), how many no track fell in |
//! | `final_loss` | final_loss | lower | 3 | training loss of the last epoch |
//! | `final_validation_loss` | final_validation_loss | lower | 3 | validation loss of the last epoch |
//! | `reconstruction_loss` | reconstruction_loss | lower | 3 | reconstruction part of the last epoch's loss |
//! | `kl_divergence` | kl_divergence | — | 3 | KL part (unweighted) of the last epoch's loss |
//! | `converged_epoch` | converged_epoch | lower | 1 | epoch by which the run made 95% of its own validation improvement |
//! | `epochs_run` | epochs_run | lower | 1 | epochs trained |
//! | `train_time_sec` | train_time_sec | lower | 2 | training wall time, seconds |
//! | `memory_mb` | memory_mb | lower | 1 | peak resident memory of the run's process, MB |
//! | `parameters` | parameters | lower | 0, no spread | trainable parameters |

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use songvae_metrics::scoring::Scores;

use crate::result::RunResult;

/// One metric of the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Metric {
    /// Mean silhouette.
    Silhouette,
    /// Davies-Bouldin index.
    DaviesBouldin,
    /// Calinski-Harabasz index.
    CalinskiHarabasz,
    /// Adjusted Rand index against the primary label.
    Ari,
    /// Normalised mutual information against the primary label.
    Nmi,
    /// Purity against the primary label.
    Purity,
    /// Mutual information gap.
    DisentanglementScore,
    /// Active latent units.
    ActiveUnits,
    /// ARI of k-means on the latent means of a model that clusters by design.
    LatentKmeansAri,
    /// Components no track fell in, of a model that clusters by design.
    EmptyClusters,
    /// Training loss of the last epoch.
    FinalLoss,
    /// Validation loss of the last epoch.
    FinalValidationLoss,
    /// Reconstruction part of the last epoch's loss.
    ReconstructionLoss,
    /// KL part of the last epoch's loss.
    KlDivergence,
    /// Epoch of convergence.
    ConvergedEpoch,
    /// Epochs trained.
    EpochsRun,
    /// Training wall time.
    TrainTimeSec,
    /// Peak resident memory.
    MemoryMb,
    /// Trainable parameters.
    Parameters,
}

/// Which way a metric is better.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Higher values are better.
    Higher,
    /// Lower values are better.
    Lower,
    /// The metric does not rank (a count, a diagnostic).
    Unranked,
}

/// Where a metric's value comes from.
#[derive(Clone, Copy, Debug)]
pub enum Source {
    /// A score of the clustered embedding (runs and baselines alike).
    Scores(fn(&Scores) -> Option<f64>),
    /// A field of a training run's result (baselines set the measured ones
    /// themselves, see [`MetricValues::set`]).
    Run(fn(&RunResult) -> Option<f64>),
}

/// One row of the table.
#[derive(Clone, Copy, Debug)]
pub struct MetricInfo {
    /// The metric.
    pub metric: Metric,
    /// Its key in `results.jsonl`, `results.csv`, specs and plot file names.
    pub key: &'static str,
    /// Other keys it is known by (in `Scores::absent` and specs).
    pub aliases: &'static [&'static str],
    /// Its column title in the report.
    pub title: &'static str,
    /// Which way is better.
    pub direction: Direction,
    /// Decimals in the report.
    pub decimals: usize,
    /// Whether the report shows `mean ± std` (false: the mean alone, for
    /// numbers identical across seeds).
    pub spread: bool,
    /// What it measures, in words.
    pub meaning: &'static str,
    /// Where it is read from.
    pub source: Source,
}

// Counts and epochs are small integers; the table keeps them as f64 like
// every other value.
#[allow(clippy::unnecessary_wraps)]
fn count(value: usize) -> Option<f64> {
    Some(value as f64)
}

/// The table, in report order.
pub static TABLE: [MetricInfo; 19] = [
    MetricInfo {
        metric: Metric::Silhouette,
        key: "silhouette",
        aliases: &[],
        title: "silhouette",
        direction: Direction::Higher,
        decimals: 3,
        spread: true,
        meaning: "mean silhouette (Euclidean) of the clustered embedding",
        source: Source::Scores(|scores| scores.silhouette),
    },
    MetricInfo {
        metric: Metric::DaviesBouldin,
        key: "davies_bouldin",
        aliases: &[],
        title: "davies_bouldin",
        direction: Direction::Lower,
        decimals: 3,
        spread: true,
        meaning: "Davies-Bouldin index of the clusters",
        source: Source::Scores(|scores| scores.davies_bouldin),
    },
    MetricInfo {
        metric: Metric::CalinskiHarabasz,
        key: "calinski_harabasz",
        aliases: &[],
        title: "calinski_harabasz",
        direction: Direction::Higher,
        decimals: 1,
        spread: true,
        meaning: "Calinski-Harabasz index of the clusters",
        source: Source::Scores(|scores| scores.calinski_harabasz),
    },
    MetricInfo {
        metric: Metric::Ari,
        key: "ari",
        aliases: &[],
        title: "ari",
        direction: Direction::Higher,
        decimals: 3,
        spread: true,
        meaning: "adjusted Rand index against the primary label",
        source: Source::Scores(|scores| scores.ari),
    },
    MetricInfo {
        metric: Metric::Nmi,
        key: "nmi",
        aliases: &[],
        title: "nmi",
        direction: Direction::Higher,
        decimals: 3,
        spread: true,
        meaning: "normalised mutual information against the primary label",
        source: Source::Scores(|scores| scores.nmi),
    },
    MetricInfo {
        metric: Metric::Purity,
        key: "purity",
        aliases: &[],
        title: "purity",
        direction: Direction::Higher,
        decimals: 3,
        spread: true,
        meaning: "purity against the primary label",
        source: Source::Scores(|scores| scores.purity),
    },
    MetricInfo {
        metric: Metric::DisentanglementScore,
        key: "disentanglement_score",
        aliases: &["mig"],
        title: "disentanglement_score (MIG)",
        direction: Direction::Higher,
        decimals: 3,
        spread: true,
        meaning: "mutual information gap over the label columns",
        source: Source::Scores(|scores| scores.mig),
    },
    MetricInfo {
        metric: Metric::ActiveUnits,
        key: "active_units",
        aliases: &[],
        title: "active_units",
        direction: Direction::Unranked,
        decimals: 1,
        spread: true,
        meaning: "embedding dimensions that vary across tracks",
        source: Source::Scores(|scores| scores.active_units.and_then(count)),
    },
    MetricInfo {
        metric: Metric::LatentKmeansAri,
        key: "latent_kmeans_ari",
        aliases: &[],
        title: "latent_kmeans_ari",
        direction: Direction::Higher,
        decimals: 3,
        spread: true,
        meaning: "vade and idec: ARI of the study's clustering of the latent means, beside their own clusters' ari",
        source: Source::Run(|result| {
            result
                .latent_kmeans_scores
                .as_ref()
                .and_then(|scores| scores.ari)
        }),
    },
    MetricInfo {
        metric: Metric::EmptyClusters,
        key: "empty_clusters",
        aliases: &[],
        title: "empty_clusters",
        direction: Direction::Lower,
        decimals: 1,
        spread: true,
        meaning: "vade and idec: mixture components (clusters) that no track fell in",
        source: Source::Run(|result| result.empty_clusters.and_then(count)),
    },
    MetricInfo {
        metric: Metric::FinalLoss,
        key: "final_loss",
        aliases: &[],
        title: "final_loss",
        direction: Direction::Lower,
        decimals: 3,
        spread: true,
        meaning: "training loss of the last epoch",
        source: Source::Run(|result| result.final_train_loss),
    },
    MetricInfo {
        metric: Metric::FinalValidationLoss,
        key: "final_validation_loss",
        aliases: &[],
        title: "final_validation_loss",
        direction: Direction::Lower,
        decimals: 3,
        spread: true,
        meaning: "validation loss of the last epoch",
        source: Source::Run(|result| result.final_validation_loss),
    },
    MetricInfo {
        metric: Metric::ReconstructionLoss,
        key: "reconstruction_loss",
        aliases: &[],
        title: "reconstruction_loss",
        direction: Direction::Lower,
        decimals: 3,
        spread: true,
        meaning: "reconstruction part of the last epoch's loss",
        source: Source::Run(|result| result.reconstruction_loss),
    },
    MetricInfo {
        metric: Metric::KlDivergence,
        key: "kl_divergence",
        aliases: &[],
        title: "kl_divergence",
        direction: Direction::Unranked,
        decimals: 3,
        spread: true,
        meaning: "KL part (unweighted) of the last epoch's loss",
        source: Source::Run(|result| result.kl_divergence),
    },
    MetricInfo {
        metric: Metric::ConvergedEpoch,
        key: "converged_epoch",
        aliases: &[],
        title: "converged_epoch",
        direction: Direction::Lower,
        decimals: 1,
        spread: true,
        meaning: "epoch by which the run made 95% of its own validation improvement",
        source: Source::Run(|result| result.converged_epoch.and_then(count)),
    },
    MetricInfo {
        metric: Metric::EpochsRun,
        key: "epochs_run",
        aliases: &[],
        title: "epochs_run",
        direction: Direction::Lower,
        decimals: 1,
        spread: true,
        meaning: "epochs trained",
        source: Source::Run(|result| count(result.epochs_run)),
    },
    MetricInfo {
        metric: Metric::TrainTimeSec,
        key: "train_time_sec",
        aliases: &[],
        title: "train_time_sec",
        direction: Direction::Lower,
        decimals: 2,
        spread: true,
        meaning: "training wall time, seconds",
        source: Source::Run(|result| Some(result.train_time_sec)),
    },
    MetricInfo {
        metric: Metric::MemoryMb,
        key: "memory_mb",
        aliases: &[],
        title: "memory_mb",
        direction: Direction::Lower,
        decimals: 1,
        spread: true,
        meaning: "peak resident memory of the run's process, MB",
        source: Source::Run(|result| result.memory_mb),
    },
    MetricInfo {
        metric: Metric::Parameters,
        key: "parameters",
        aliases: &[],
        title: "parameters",
        direction: Direction::Lower,
        decimals: 0,
        spread: false,
        meaning: "trainable parameters",
        source: Source::Run(|result| Some(result.parameters as f64)),
    },
];

impl Metric {
    /// Its row of the table.
    #[must_use]
    pub fn info(self) -> &'static MetricInfo {
        let mut index = 0;
        while TABLE[index].metric != self {
            index += 1;
        }
        &TABLE[index]
    }

    /// Its key.
    #[must_use]
    pub fn key(self) -> &'static str {
        self.info().key
    }

    /// The metric of a key or alias.
    #[must_use]
    pub fn from_key(key: &str) -> Option<Self> {
        for info in &TABLE {
            if info.key == key || info.aliases.contains(&key) {
                return Some(info.metric);
            }
        }
        None
    }

    /// The value in the report's format (its decimals).
    #[must_use]
    pub fn format(self, value: f64) -> String {
        format!("{value:.*}", self.info().decimals)
    }
}

/// The metric values of one run, by metric. In JSON every metric of the
/// table is written, in table order, `null` when absent; reading accepts
/// any subset and rejects unknown keys.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MetricValues {
    values: BTreeMap<Metric, f64>,
}

impl MetricValues {
    /// The value of a metric, when the run has one.
    #[must_use]
    pub fn get(&self, metric: Metric) -> Option<f64> {
        self.values.get(&metric).copied()
    }

    /// Sets (or, with `None`, clears) a metric.
    pub fn set(&mut self, metric: Metric, value: Option<f64>) {
        match value {
            Some(value) => {
                self.values.insert(metric, value);
            }
            None => {
                self.values.remove(&metric);
            }
        }
    }

    /// Sets every metric the table reads from scores.
    pub fn set_scores(&mut self, scores: &Scores) {
        for info in &TABLE {
            if let Source::Scores(read) = info.source {
                self.set(info.metric, read(scores));
            }
        }
    }

    /// Sets every metric of a training run: its scores and its own fields.
    pub fn set_run(&mut self, result: &RunResult) {
        for info in &TABLE {
            match (info.source, &result.scores) {
                (Source::Scores(read), Some(scores)) => self.set(info.metric, read(scores)),
                (Source::Scores(_), None) => self.set(info.metric, None),
                (Source::Run(read), _) => self.set(info.metric, read(result)),
            }
        }
    }
}

impl Serialize for MetricValues {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(TABLE.len()))?;
        for info in &TABLE {
            map.serialize_entry(info.key, &self.get(info.metric))?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for MetricValues {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(MetricValuesVisitor)
    }
}

struct MetricValuesVisitor;

impl<'de> Visitor<'de> for MetricValuesVisitor {
    type Value = MetricValues;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("metric values by key")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<MetricValues, A::Error> {
        let mut values = MetricValues::default();
        while let Some(key) = access.next_key::<String>()? {
            let Some(metric) = Metric::from_key(&key) else {
                return Err(de::Error::custom(format!("unknown field `{key}`")));
            };
            let value: Option<f64> = access.next_value()?;
            values.set(metric, value);
        }
        Ok(values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_has_one_row_and_keys_are_unique() {
        let mut keys = std::collections::BTreeSet::new();
        for (index, info) in TABLE.iter().enumerate() {
            assert_eq!(info.metric.info().key, TABLE[index].key);
            assert!(keys.insert(info.key), "{} twice", info.key);
            for alias in info.aliases {
                assert!(keys.insert(alias), "{alias} twice");
            }
            assert_eq!(Metric::from_key(info.key), Some(info.metric));
        }
    }

    #[test]
    fn values_round_trip_with_every_key_written_and_unknown_keys_refused() {
        let mut values = MetricValues::default();
        values.set(Metric::Ari, Some(0.5));
        values.set(Metric::Parameters, Some(1234.0));
        let json = serde_json::to_value(&values).unwrap();
        assert_eq!(json.as_object().unwrap().len(), TABLE.len());
        assert_eq!(json["ari"], 0.5);
        assert!(json["silhouette"].is_null());
        let back: MetricValues = serde_json::from_value(json).unwrap();
        assert_eq!(back, values);
        let alias: MetricValues = serde_json::from_str(r#"{"mig": 0.25}"#).unwrap();
        assert_eq!(alias.get(Metric::DisentanglementScore), Some(0.25));
        let error = serde_json::from_str::<MetricValues>(r#"{"accuracy": 1}"#).unwrap_err();
        assert!(
            error.to_string().contains("unknown field `accuracy`"),
            "{error}"
        );
    }

    #[test]
    fn formats_follow_the_table() {
        assert_eq!(Metric::Ari.format(0.12345), "0.123");
        assert_eq!(Metric::Parameters.format(1234.4), "1234");
        assert_eq!(Metric::TrainTimeSec.format(1.005), "1.00");
        assert_eq!(Metric::CalinskiHarabasz.format(12.34), "12.3");
    }
}
