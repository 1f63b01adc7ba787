//! Aggregation over seeds: mean, standard deviation and count of every
//! metric per point, and the convergence-stability class.
//!
//! Standard deviations are sample standard deviations (n - 1 in the
//! denominator, as pandas' `std`), 0 for a single seed. Only completed
//! pairs enter the statistics; diverged, failed and not-applicable pairs are
//! counted beside them.
//!
//! `convergence_stability` classifies the across-seed standard deviation of
//! the silhouette of a point with at least two completed seeds:
//!
//! | class | silhouette std |
//! |---|---|
//! | `very_stable` | < 0.01 |
//! | `stable` | 0.01 ..< 0.03 |
//! | `moderate` | 0.03 ..< 0.06 |
//! | `high_variance` | >= 0.06, or some seeds diverged or failed while others completed |
//!
//! A silhouette lies in [-1, 1]; a spread of 0.06 is about the gap between
//! neighbouring rows of a typical ablation table, so a point above it cannot
//! be ranked with three seeds.

use std::collections::BTreeMap;

use crate::results::{PairStatus, ResultLine};
use crate::spec::Column;

/// Mean, sample standard deviation and count of one metric over seeds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    /// Mean over seeds.
    pub mean: f64,
    /// Sample standard deviation (0 for one seed).
    pub std: f64,
    /// Seeds that reported the metric.
    pub count: usize,
}

/// Mean and sample standard deviation of `values`; `None` when empty.
#[must_use]
pub fn summarise(values: &[f64]) -> Option<Summary> {
    if values.is_empty() {
        return None;
    }
    let count = values.len();
    let mut sum = 0.0;
    for value in values {
        sum += value;
    }
    let mean = sum / count as f64;
    let mut squares = 0.0;
    for value in values {
        squares += (value - mean) * (value - mean);
    }
    let std = if count > 1 {
        (squares / (count - 1) as f64).sqrt()
    } else {
        0.0
    };
    Some(Summary { mean, std, count })
}

/// How much a point's silhouette moves between seeds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stability {
    /// Silhouette std below 0.01.
    VeryStable,
    /// Silhouette std from 0.01 to below 0.03.
    Stable,
    /// Silhouette std from 0.03 to below 0.06.
    Moderate,
    /// Silhouette std 0.06 or more, or mixed completed and failed seeds.
    HighVariance,
}

impl Stability {
    /// The class from a silhouette standard deviation.
    #[must_use]
    pub fn from_std(std: f64) -> Self {
        if std < 0.01 {
            Self::VeryStable
        } else if std < 0.03 {
            Self::Stable
        } else if std < 0.06 {
            Self::Moderate
        } else {
            Self::HighVariance
        }
    }

    /// The class as written in tables.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::VeryStable => "very_stable",
            Self::Stable => "stable",
            Self::Moderate => "moderate",
            Self::HighVariance => "high_variance",
        }
    }
}

/// Everything the report says about one point.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PointStats {
    /// Pairs recorded.
    pub pairs: usize,
    /// Completed pairs.
    pub completed: usize,
    /// Diverged pairs.
    pub diverged: usize,
    /// Failed pairs.
    pub failed: usize,
    /// Not-applicable pairs.
    pub not_applicable: usize,
    /// Distinct reasons of failed and not-applicable pairs.
    pub reasons: Vec<String>,
    /// Statistics of every numeric column over completed pairs.
    pub metrics: BTreeMap<Column, Summary>,
    /// The values behind `metrics`: `(seed, value)` of each completed pair, by seed.
    pub seed_values: BTreeMap<Column, Vec<(u64, f64)>>,
    /// Seeds of the completed pairs, ascending.
    pub completed_seeds: Vec<u64>,
    /// Statistics of ARI, NMI and purity against each label column, by label.
    pub labels: BTreeMap<String, BTreeMap<Column, Summary>>,
    /// The values behind `labels`: `(seed, value)` by label and column, by seed.
    pub label_seed_values: BTreeMap<String, BTreeMap<Column, Vec<(u64, f64)>>>,
}

/// The external scores that every label column gets.
pub const LABEL_COLUMNS: [Column; 3] = [Column::ARI, Column::NMI, Column::PURITY];

/// The label columns that the lines were scored against, in the order
/// they first appear (the primary label first).
#[must_use]
pub fn scored_labels<'a>(lines: impl IntoIterator<Item = &'a ResultLine>) -> Vec<String> {
    let mut labels: Vec<String> = Vec::new();
    for line in lines {
        for scores in &line.labels {
            if !labels.contains(&scores.label) {
                labels.push(scores.label.clone());
            }
        }
    }
    labels
}

impl PointStats {
    /// The convergence-stability class; `None` with fewer than two
    /// completed seeds and nothing failed.
    #[must_use]
    pub fn stability(&self) -> Option<Stability> {
        if self.completed > 0 && self.diverged + self.failed > 0 {
            return Some(Stability::HighVariance);
        }
        let silhouette = self.metrics.get(&Column::SILHOUETTE)?;
        if silhouette.count < 2 {
            return None;
        }
        Some(Stability::from_std(silhouette.std))
    }
}

/// Groups lines by point and summarises each.
#[must_use]
pub fn aggregate(lines: &[ResultLine]) -> BTreeMap<String, PointStats> {
    let mut grouped: BTreeMap<String, Vec<&ResultLine>> = BTreeMap::new();
    for line in lines {
        grouped.entry(line.point.clone()).or_default().push(line);
    }
    let mut stats = BTreeMap::new();
    for (point, point_lines) in grouped {
        let mut point_stats = PointStats {
            pairs: point_lines.len(),
            ..PointStats::default()
        };
        for line in &point_lines {
            match line.status {
                PairStatus::Completed => {
                    point_stats.completed += 1;
                    point_stats.completed_seeds.push(line.seed);
                }
                PairStatus::Diverged => point_stats.diverged += 1,
                PairStatus::Failed => point_stats.failed += 1,
                PairStatus::NotApplicable => point_stats.not_applicable += 1,
            }
            if matches!(line.status, PairStatus::Failed | PairStatus::NotApplicable)
                && let Some(reason) = &line.reason
                && !point_stats.reasons.contains(reason)
            {
                point_stats.reasons.push(reason.clone());
            }
        }
        point_stats.completed_seeds.sort_unstable();
        for column in Column::numeric() {
            let mut seed_values = Vec::new();
            for line in &point_lines {
                if line.status == PairStatus::Completed
                    && let Some(value) = line.metric(column)
                    && value.is_finite()
                {
                    seed_values.push((line.seed, value));
                }
            }
            seed_values.sort_by_key(|(seed, _)| *seed);
            let values: Vec<f64> = seed_values.iter().map(|(_, value)| *value).collect();
            if let Some(summary) = summarise(&values) {
                point_stats.metrics.insert(column, summary);
                point_stats.seed_values.insert(column, seed_values);
            }
        }
        for label in scored_labels(point_lines.iter().copied()) {
            for column in LABEL_COLUMNS {
                let mut seed_values = Vec::new();
                for line in &point_lines {
                    if line.status == PairStatus::Completed
                        && let Some(value) = line.label_metric(&label, column)
                        && value.is_finite()
                    {
                        seed_values.push((line.seed, value));
                    }
                }
                seed_values.sort_by_key(|(seed, _)| *seed);
                let values: Vec<f64> = seed_values.iter().map(|(_, value)| *value).collect();
                if let Some(summary) = summarise(&values) {
                    point_stats
                        .labels
                        .entry(label.clone())
                        .or_default()
                        .insert(column, summary);
                    point_stats
                        .label_seed_values
                        .entry(label.clone())
                        .or_default()
                        .insert(column, seed_values);
                }
            }
        }
        stats.insert(point, point_stats);
    }
    stats
}

#[cfg(test)]
mod tests {
    use songvae_run::metric::Metric;

    use super::*;

    #[test]
    fn summary_uses_the_sample_standard_deviation() {
        let summary = summarise(&[1.0, 2.0, 3.0, 4.0]).unwrap();
        assert!((summary.mean - 2.5).abs() < 1e-12);
        // pandas: pd.Series([1, 2, 3, 4]).std() == 1.2909944487358056
        assert!((summary.std - 1.290_994_448_735_805_6).abs() < 1e-12);
        assert_eq!(summary.count, 4);
        assert!(summarise(&[5.0]).unwrap().std.abs() < f64::EPSILON);
        assert!(summarise(&[]).is_none());
    }

    #[test]
    fn stability_thresholds() {
        let cases = [
            (0.0, Stability::VeryStable),
            (0.009_99, Stability::VeryStable),
            (0.01, Stability::Stable),
            (0.029, Stability::Stable),
            (0.03, Stability::Moderate),
            (0.059, Stability::Moderate),
            (0.06, Stability::HighVariance),
            (0.5, Stability::HighVariance),
        ];
        for (std, expected) in cases {
            assert_eq!(Stability::from_std(std), expected, "std {std}");
        }
    }

    #[test]
    fn mixed_outcomes_are_high_variance_and_failures_stay_out_of_means() {
        let mut completed = ResultLine::bare("p", "p", 0, PairStatus::Completed);
        completed.values.set(Metric::Silhouette, Some(0.5));
        let mut other = ResultLine::bare("p", "p", 1, PairStatus::Completed);
        other.values.set(Metric::Silhouette, Some(0.5));
        let mut diverged = ResultLine::bare("p", "p", 2, PairStatus::Diverged);
        diverged.values.set(Metric::Silhouette, Some(-1.0));
        let stats = aggregate(&[completed, other, diverged]);
        let point = &stats["p"];
        assert!((point.metrics[&Column::SILHOUETTE].mean - 0.5).abs() < 1e-12);
        assert_eq!(point.metrics[&Column::SILHOUETTE].count, 2);
        assert_eq!(point.stability(), Some(Stability::HighVariance));
        assert_eq!((point.completed, point.diverged), (2, 1));
    }
}
