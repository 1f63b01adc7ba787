//! The report's comparison of the models that cluster by design (`vade`,
//! `idec`) with the plain VAE and the baselines of their axis, per label.
//!
//! For each label column: a table of every such model's own clusters, the
//! plain VAE on the same features (k-means on its latent means) and the
//! best baseline, ARI and NMI with their seed spread; then, per model, one
//! planned test against the plain VAE and one against the best baseline
//! ([`tested_margin`], paired by seed). A sentence gives what the study's
//! k-means finds on the same models' latent means (primary label) and how
//! many mixture components or clusters stayed empty.

use std::fmt::Write as _;

use songvae_run::metric::Metric;
use songvae_run::spec::Architecture;

use crate::claims::{Margin, p_equals, tested_margin};
use crate::report::{Row, format_summary};
use crate::spec::{Column, Job};

/// The section, when the axis has a `vade` or `idec` row with results.
pub(crate) fn clustering_models_comparison(rows: &[Row<'_>], labels: &[String]) -> Option<String> {
    let mut designed = Vec::new();
    for row in rows {
        if let Some(Job::Train(config)) = row.job
            && config.architecture.clusters_by_design()
            && row.stats.is_some_and(|stats| stats.completed > 0)
        {
            designed.push(*row);
        }
    }
    if designed.is_empty() {
        return None;
    }
    let plain_vae = rows.iter().find(|row| {
        matches!(row.job, Some(Job::Train(config)) if config.architecture == Architecture::Vae)
            && row.features == designed[0].features
            && row.stats.is_some_and(|stats| stats.completed > 0)
    });
    let mut text = String::from(
        "Models that cluster by design (their own clusters: VaDE's most responsible mixture component, IDEC's most likely cluster) against the plain VAE (k-means on its latent means) and the best baseline, each label:\n\n| label | row | ARI | NMI |\n|---|---|---|---|\n",
    );
    let mut sentences = Vec::new();
    for label in labels {
        let best_baseline = best_baseline_for(rows, label);
        let mut compared: Vec<Row<'_>> = designed.clone();
        compared.extend(plain_vae.copied());
        compared.extend(best_baseline);
        for row in &compared {
            let _ = writeln!(
                text,
                "| `{label}` | {} | {} | {} |",
                row.label,
                label_cell(row, label, Column::ARI),
                label_cell(row, label, Column::NMI)
            );
        }
        for row in &designed {
            let mut parts = Vec::new();
            for (other, what) in [
                (plain_vae.copied(), "plain VAE"),
                (best_baseline, "best baseline"),
            ] {
                let Some(other) = other else {
                    continue;
                };
                let (margin, p_value) = tested_margin(
                    &label_values(row, label, Column::ARI),
                    &label_values(&other, label, Column::ARI),
                );
                let verdict = match margin {
                    Margin::Ahead => "beats",
                    Margin::Level => "is not shown different from",
                    Margin::Behind => "loses to",
                };
                let p_text = p_value.map_or_else(String::new, |p| format!(", {}", p_equals(p)));
                parts.push(format!("{verdict} {} ({what}{p_text})", other.label));
            }
            if !parts.is_empty() {
                sentences.push(format!(
                    "On `{label}` ARI, {} {}.",
                    row.label,
                    parts.join(" and ")
                ));
            }
        }
    }
    text.push('\n');
    text.push_str(&sentences.join(" "));
    text.push_str(&latent_sentence(&designed));
    text.push('\n');
    Some(text)
}

/// What the study's k-means finds on the latent means of the models that
/// cluster by design (primary label), and their empty clusters.
fn latent_sentence(designed: &[Row<'_>]) -> String {
    let mut text = String::new();
    let mut latent_notes = Vec::new();
    for row in designed {
        let Some(stats) = row.stats else {
            continue;
        };
        let latent = stats
            .metrics
            .get(&Column::Metric(Metric::LatentKmeansAri))
            .map(|summary| format_summary(Column::Metric(Metric::LatentKmeansAri), summary));
        let empty = stats
            .metrics
            .get(&Column::Metric(Metric::EmptyClusters))
            .map(|summary| summary.mean);
        let mut note = format!("{}: k-means on its latent means", row.label);
        match latent {
            Some(latent) => {
                let _ = write!(note, " {latent}");
            }
            None => note.push_str(" n/a"),
        }
        if let Some(empty) = empty {
            let _ = write!(note, ", {empty:.1} empty clusters on average");
        }
        latent_notes.push(note);
    }
    if !latent_notes.is_empty() {
        let _ = write!(
            text,
            " The study's clustering of the same models' latent means, primary label ARI: {}.",
            latent_notes.join("; ")
        );
    }
    text
}

/// The baseline row with the highest mean ARI against `label`.
fn best_baseline_for<'a>(rows: &[Row<'a>], label: &str) -> Option<Row<'a>> {
    let mut best: Option<(Row<'a>, f64)> = None;
    for row in rows {
        if !matches!(row.job, Some(Job::Baseline { .. })) {
            continue;
        }
        let Some(mean) = row
            .stats
            .and_then(|stats| stats.labels.get(label))
            .and_then(|scores| scores.get(&Column::ARI))
            .map(|summary| summary.mean)
        else {
            continue;
        };
        if best.is_none_or(|(_, best_mean)| mean > best_mean) {
            best = Some((*row, mean));
        }
    }
    best.map(|(row, _)| row)
}

fn label_cell(row: &Row<'_>, label: &str, column: Column) -> String {
    row.stats
        .and_then(|stats| stats.labels.get(label))
        .and_then(|scores| scores.get(&column))
        .map_or_else(
            || "n/a".to_owned(),
            |summary| format_summary(column, summary),
        )
}

fn label_values(row: &Row<'_>, label: &str, column: Column) -> Vec<(u64, f64)> {
    row.stats
        .and_then(|stats| stats.label_seed_values.get(label))
        .and_then(|values| values.get(&column))
        .cloned()
        .unwrap_or_default()
}
