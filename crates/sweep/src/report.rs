//! The written study: `report.md` (a table and an analysis paragraph per
//! axis, the recommendation, where it ran), `results.csv` (one row per
//! (point, seed)) and SVG plots (see [`crate::plots`]).
//!
//! Several sweep directories (the shards of one study) merge into one
//! report; they must hold the same plan. Everything written is a function
//! of `sweep.json`, `results.jsonl` and the run directories, so the same
//! results give the same report byte for byte.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use songvae_features::cache::write_atomic;
use songvae_run::spec::Architecture;

use crate::aggregate::{LABEL_COLUMNS, PointStats, Summary, aggregate, scored_labels};
use crate::claims::{
    Against, Margin, p_equals, p_note, significance_of, significance_sentences, significance_table,
    tested_margin,
};
use crate::error::{Error, Result};
use crate::plots::{self, PlotFile};
use crate::results::{ResultLine, merge_results};
use crate::runner::SweepRecord;
use crate::significance;
use crate::spec::{Axis, BaselineKind, Column, Job, Mode, Plan, numeric_axis_values};
use songvae_features::fusion::Modality;
use songvae_metrics::scoring::ClusteringConfig;

/// A study merged from one or more sweep directories.
#[derive(Clone, Debug)]
pub struct Study {
    /// The record of the first directory (all must share its plan).
    pub record: SweepRecord,
    /// Every (point, seed) once.
    pub lines: Vec<ResultLine>,
    /// The sweep directories, in the order given.
    pub runs_dirs: Vec<PathBuf>,
}

impl Study {
    /// The directory holding a line's run files, if any holds them.
    #[must_use]
    pub fn run_path(&self, line: &ResultLine, file: &str) -> Option<PathBuf> {
        let relative = line.run_dir.as_ref()?;
        for directory in &self.runs_dirs {
            let path = directory.join(relative).join(file);
            if path.is_file() {
                return Some(path);
            }
        }
        None
    }
}

/// Reads `sweep.json` and `results.jsonl` of every directory and merges them.
pub fn load_study(runs_dirs: &[PathBuf]) -> Result<Study> {
    let Some(first) = runs_dirs.first() else {
        return Err(Error::InvalidArgument {
            flag: "--runs".to_owned(),
            reason: "give at least one sweep directory".to_owned(),
        });
    };
    let mut record: Option<SweepRecord> = None;
    let mut results_paths = Vec::new();
    for directory in runs_dirs {
        let this = SweepRecord::read(&directory.join("sweep.json"))?;
        if let Some(first_record) = &record
            && first_record.plan.point_ids() != this.plan.point_ids()
        {
            return Err(Error::OutputDirectory {
                path: directory.clone(),
                reason: format!(
                    "holds another study than {} (different points); shards must share one spec",
                    first.display()
                ),
            });
        }
        record.get_or_insert(this);
        results_paths.push(directory.join("results.jsonl"));
    }
    let record = record.ok_or_else(|| Error::InvalidArgument {
        flag: "--runs".to_owned(),
        reason: "give at least one sweep directory".to_owned(),
    })?;
    let mut lines = merge_results(&results_paths)?;
    // Shards finish in any order: sort by plan order, then seed.
    let mut order = BTreeMap::new();
    for (index, point) in record.plan.points.iter().enumerate() {
        order.insert(point.id.clone(), index);
    }
    lines.sort_by_key(|line| {
        (
            order.get(&line.point).copied().unwrap_or(usize::MAX),
            line.seed,
        )
    });
    Ok(Study {
        record,
        lines,
        runs_dirs: runs_dirs.to_vec(),
    })
}

/// Files a report wrote, relative to its output directory.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReportFiles {
    /// `report.md`, `results.csv` and every plot.
    pub written: Vec<PathBuf>,
}

/// Writes `report.md`, `results.csv` and `plots/*.svg` into `out_dir`.
pub fn write_report(study: &Study, out_dir: &Path) -> Result<ReportFiles> {
    std::fs::create_dir_all(out_dir.join("plots"))
        .map_err(|cause| Error::io(&out_dir.join("plots"), cause))?;
    let stats = aggregate(&study.lines);
    let plots = plots::draw_all(study, &stats, out_dir)?;
    let markdown = render_markdown(study, &stats, &plots);
    let mut written = Vec::new();
    let report_path = out_dir.join("report.md");
    write_atomic(&report_path, markdown.as_bytes())?;
    written.push(PathBuf::from("report.md"));
    let csv_path = out_dir.join("results.csv");
    write_atomic(&csv_path, &results_csv(study)?)?;
    written.push(PathBuf::from("results.csv"));
    for plot in plots {
        written.push(plot.relative);
    }
    Ok(ReportFiles { written })
}

/// `results.csv`: one row per (point, seed), every metric a column, then
/// `ari[label]`, `nmi[label]` and `purity[label]` for every label column
/// the runs were scored against.
pub fn results_csv(study: &Study) -> Result<Vec<u8>> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let mut header = vec![
        "point".to_owned(),
        "label".to_owned(),
        "seed".to_owned(),
        "status".to_owned(),
        "reason".to_owned(),
        "device".to_owned(),
        "k".to_owned(),
    ];
    for column in Column::numeric() {
        header.push(column.name().to_owned());
    }
    let labels = scored_labels(&study.lines);
    for label in &labels {
        for column in LABEL_COLUMNS {
            header.push(format!("{}[{label}]", column.name()));
        }
    }
    let csv_error = |error: csv::Error| Error::Results {
        path: PathBuf::from("results.csv"),
        line: 0,
        reason: error.to_string(),
    };
    writer.write_record(&header).map_err(csv_error)?;
    for line in &study.lines {
        let mut record = vec![
            line.point.clone(),
            line.label.clone(),
            line.seed.to_string(),
            line.status.name().to_owned(),
            line.reason.clone().unwrap_or_default(),
            line.device.clone().unwrap_or_default(),
            line.k.map(|k| k.to_string()).unwrap_or_default(),
        ];
        for column in Column::numeric() {
            record.push(
                line.metric(column)
                    .map(|value| value.to_string())
                    .unwrap_or_default(),
            );
        }
        for label in &labels {
            for column in LABEL_COLUMNS {
                record.push(
                    line.label_metric(label, column)
                        .map(|value| value.to_string())
                        .unwrap_or_default(),
                );
            }
        }
        writer.write_record(&record).map_err(csv_error)?;
    }
    writer.into_inner().map_err(|error| Error::Results {
        path: PathBuf::from("results.csv"),
        line: 0,
        reason: error.to_string(),
    })
}

/// The number format of a column's cells (the metric table's decimals).
fn format_value(column: Column, value: f64) -> String {
    match column {
        Column::Metric(metric) => metric.format(value),
        Column::ConvergenceStability | Column::BestUseCase => format!("{value:.3}"),
    }
}

/// `mean ± std` of a column (the mean alone where the table says the
/// metric has no spread, e.g. parameters).
pub(crate) fn format_summary(column: Column, summary: &Summary) -> String {
    let spread = match column {
        Column::Metric(metric) => metric.info().spread,
        Column::ConvergenceStability | Column::BestUseCase => true,
    };
    if !spread || summary.count < 2 {
        format_value(column, summary.mean)
    } else {
        format!(
            "{} ± {}",
            format_value(column, summary.mean),
            format_value(column, summary.std)
        )
    }
}

/// What a model family is best used for: the study's "best use case" column.
fn best_use_case(job: &Job) -> &'static str {
    match job {
        Job::Train(config) => match config.architecture {
            Architecture::Vae => "general use: a smooth latent space for clustering and browsing",
            Architecture::ConvVae => {
                "when the time structure of the MFCC frames matters (rhythm, onsets)"
            }
            Architecture::BetaVae => {
                "interpretable, disentangled factors over reconstruction quality"
            }
            Architecture::Cvae => {
                "removing a known nuisance factor (its condition, e.g. language) from the clusters"
            }
            Architecture::Ae => {
                "compression and reconstruction; no prior, a less regular latent space"
            }
            Architecture::Vade => {
                "clusters by design: a Gaussian-mixture prior whose components are the clusters"
            }
            Architecture::Idec => {
                "clusters by design: k-means-like centres sharpened while the autoencoder trains"
            }
        },
        Job::Baseline {
            kind: BaselineKind::PcaKmeans,
            ..
        } => "the linear baseline every VAE must beat to be worth its training time",
        Job::Baseline {
            kind: BaselineKind::RawKmeans,
            ..
        } => "the no-model baseline: what the fused features alone give",
    }
}

/// One table row of an axis, resolved.
#[derive(Clone, Copy)]
pub(crate) struct Row<'a> {
    /// The row's label.
    pub(crate) label: &'a str,
    /// Its point's job, when the plan has the point.
    pub(crate) job: Option<&'a Job>,
    /// Its statistics, when any pair ran.
    pub(crate) stats: Option<&'a PointStats>,
    /// Id of the point's feature set.
    pub(crate) features: &'a str,
}

fn rows_of<'a>(
    axis: &'a Axis,
    plan: &'a Plan,
    stats: &'a BTreeMap<String, PointStats>,
) -> Vec<Row<'a>> {
    let mut rows = Vec::new();
    for entry in &axis.entries {
        let point = plan.point(&entry.point);
        rows.push(Row {
            label: &entry.label,
            job: point.map(|point| &point.job),
            stats: stats.get(&entry.point),
            features: point.map_or("", |point| point.features.as_str()),
        });
    }
    rows
}

fn cell(column: Column, row: &Row<'_>) -> String {
    let Some(stats) = row.stats else {
        return "not run".to_owned();
    };
    if stats.completed == 0 {
        return if stats.not_applicable > 0 {
            "n/a".to_owned()
        } else if stats.diverged > 0 && stats.failed == 0 {
            "diverged".to_owned()
        } else {
            "failed".to_owned()
        };
    }
    match column {
        Column::ConvergenceStability => stats.stability().map_or_else(
            || "n/a (1 seed)".to_owned(),
            |stability| stability.name().to_owned(),
        ),
        Column::BestUseCase => row.job.map(best_use_case).unwrap_or_default().to_owned(),
        numeric @ Column::Metric(_) => stats.metrics.get(&numeric).map_or_else(
            || "-".to_owned(),
            |summary| format_summary(numeric, summary),
        ),
    }
}

/// Rows that have a value of `column`, best first.
pub(crate) fn ranked<'a>(rows: &'a [Row<'a>], column: Column) -> Vec<(&'a Row<'a>, Summary)> {
    let mut with_values = Vec::new();
    for row in rows {
        if let Some(summary) = row.stats.and_then(|stats| stats.metrics.get(&column)) {
            with_values.push((row, *summary));
        }
    }
    let higher = column.higher_is_better().unwrap_or(true);
    with_values.sort_by(|left, right| {
        let order = left.1.mean.total_cmp(&right.1.mean);
        if higher { order.reverse() } else { order }
    });
    with_values
}

/// Completed seeds a row needs before the report may call it best: with
/// fewer, a seed spread (and so any test) means next to nothing.
pub const MIN_SEEDS_TO_RANK: usize = 3;

/// The best row by `column` among those with at least
/// [`MIN_SEEDS_TO_RANK`] completed seeds.
fn best_of<'a>(rows: &'a [Row<'a>], column: Column) -> Option<(&'a Row<'a>, Summary)> {
    for (row, summary) in ranked(rows, column) {
        if summary.count >= MIN_SEEDS_TO_RANK {
            return Some((row, summary));
        }
    }
    None
}

fn best_summary_of(row: &Row<'_>, column: Column) -> Option<Summary> {
    row.stats
        .and_then(|stats| stats.metrics.get(&column))
        .copied()
}

fn describe(column: Column, summary: &Summary) -> String {
    format!("{} = {}", column.name(), format_summary(column, summary))
}

/// The analysis paragraph of one axis, written from the numbers.
/// `against` is the best row's tests against the others ([`significance_of`]).
fn analysis(
    axis: &Axis,
    rows: &[Row<'_>],
    numeric_values: Option<&Vec<f64>>,
    against: &[Against<'_>],
) -> String {
    let primary = axis.primary;
    let subject = axis.parameter.as_deref().unwrap_or("variant");
    let ranking = ranked(rows, primary);
    let mut text = String::new();
    let Some((first, first_summary)) = ranking.first() else {
        return "No run of this axis completed, so there is nothing to rank.".to_owned();
    };
    let Some((best, best_summary)) = best_of(rows, primary) else {
        let _ = write!(
            text,
            "No row has {MIN_SEEDS_TO_RANK} completed seeds, so none is called best; by mean {}, {} comes first ({}).",
            primary.name(),
            first.label,
            describe(primary, first_summary)
        );
        text.push_str(&outcome_notes(rows));
        return text;
    };
    let _ = write!(
        text,
        "By {}, the best {subject} is **{}** ({}, {} seeds).",
        primary.name(),
        best.label,
        describe(primary, &best_summary),
        best_summary.count,
    );
    text.push_str(&significance_sentences(primary, against));
    if let Some(values) = numeric_values {
        let _ = write!(text, " {}", trend(axis, rows, values));
    }
    // Whether or not the table shows it: a row that ranks first on an
    // internal score while the clusters match the labels worse (a collapsed
    // latent space scores a high silhouette) must be called out.
    if primary != Column::ARI
        && let Some((row, summary)) = ranked(rows, Column::ARI).first()
        && row.label != best.label
    {
        let best_ari = best_summary_of(best, Column::ARI)
            .map(|best_ari| {
                format!(
                    ", against {} at {}",
                    format_summary(Column::ARI, &best_ari),
                    best.label
                )
            })
            .unwrap_or_default();
        let _ = write!(
            text,
            " Agreement with the labels peaks elsewhere: ari is best at {} ({}{best_ari}).",
            row.label,
            format_summary(Column::ARI, summary)
        );
    }
    if axis.columns.contains(&Column::TRAIN_TIME_SEC) {
        let times = ranked(rows, Column::TRAIN_TIME_SEC);
        if let (Some((fastest, fast)), Some((slowest, slow))) = (times.first(), times.last())
            && times.len() > 1
        {
            let _ = write!(
                text,
                " Training takes from {:.2} s ({}) to {:.2} s ({}).",
                fast.mean, fastest.label, slow.mean, slowest.label
            );
        }
    }
    text.push_str(&outcome_notes(rows));
    text
}

/// Sentences on rows that did not run, or ran only partly.
fn outcome_notes(rows: &[Row<'_>]) -> String {
    let mut text = String::new();
    for row in rows {
        let Some(stats) = row.stats else { continue };
        if stats.not_applicable > 0 {
            let _ = write!(
                text,
                " {} is not applicable here: {}.",
                row.label,
                stats.reasons.join("; ")
            );
        } else if stats.diverged + stats.failed > 0 {
            let mut parts = Vec::new();
            if stats.diverged > 0 {
                parts.push(format!(
                    "{} of {} seeds diverged",
                    stats.diverged, stats.pairs
                ));
            }
            if stats.failed > 0 {
                parts.push(format!(
                    "{} of {} seeds failed ({})",
                    stats.failed,
                    stats.pairs,
                    stats.reasons.join("; ")
                ));
            }
            let _ = write!(
                text,
                " At {}, {}; its statistics cover the {} completed seed{}.",
                row.label,
                parts.join(" and "),
                stats.completed,
                if stats.completed == 1 { "" } else { "s" }
            );
        }
    }
    text
}

/// How the primary metric moves along a numeric axis.
fn trend(axis: &Axis, rows: &[Row<'_>], values: &[f64]) -> String {
    let primary = axis.primary;
    let parameter = axis.parameter.as_deref().unwrap_or("the value");
    let higher = primary.higher_is_better().unwrap_or(true);
    let mut series = Vec::new();
    for (row, value) in rows.iter().zip(values) {
        if let Some(summary) = row.stats.and_then(|stats| stats.metrics.get(&primary)) {
            series.push((row.label, *value, summary.mean));
        }
    }
    series.sort_by(|left, right| left.1.total_cmp(&right.1));
    if series.len() < 3 {
        return format!("Too few values completed to read a trend in {parameter}.");
    }
    let mut improving = 0;
    let mut worsening = 0;
    for pair in series.windows(2) {
        let better = if higher {
            pair[1].2 > pair[0].2
        } else {
            pair[1].2 < pair[0].2
        };
        if better {
            improving += 1;
        } else {
            worsening += 1;
        }
    }
    let first = series[0];
    let last = series[series.len() - 1];
    if worsening == 0 {
        return format!(
            "{} improves steadily as {parameter} grows from {} to {} ({:.3} to {:.3}).",
            primary.name(),
            first.0,
            last.0,
            first.2,
            last.2
        );
    }
    if improving == 0 {
        return format!(
            "{} worsens steadily as {parameter} grows from {} to {} ({:.3} to {:.3}).",
            primary.name(),
            first.0,
            last.0,
            first.2,
            last.2
        );
    }
    let mut best_index = 0;
    for (index, entry) in series.iter().enumerate() {
        let better = if higher {
            entry.2 > series[best_index].2
        } else {
            entry.2 < series[best_index].2
        };
        if better {
            best_index = index;
        }
    }
    if best_index > 0 && best_index + 1 < series.len() {
        format!(
            "The trend turns at {parameter} = {}: {} improves up to it ({:.3} at {}) and worsens beyond ({:.3} at {}).",
            series[best_index].0,
            primary.name(),
            first.2,
            first.0,
            last.2,
            last.0
        )
    } else {
        format!(
            "{} does not move monotonically with {parameter} ({:.3} at {}, {:.3} at {}); it is best at the {} end.",
            primary.name(),
            first.2,
            first.0,
            last.2,
            last.0,
            if best_index == 0 { "low" } else { "high" }
        )
    }
}

fn markdown_table(axis: &Axis, rows: &[Row<'_>]) -> String {
    let mut text = String::new();
    let first_header = axis.parameter.as_deref().unwrap_or("model");
    let _ = write!(text, "| {first_header} |");
    for column in &axis.columns {
        let _ = write!(text, " {} |", header_of(*column));
    }
    text.push_str(" seeds |\n|---|");
    for column in &axis.columns {
        text.push_str(if column.is_numeric() { "---:|" } else { "---|" });
    }
    text.push_str("---:|\n");
    let best_label = best_of(rows, axis.primary).map(|(row, _)| row.label);
    for row in rows {
        let _ = write!(text, "| {} |", row.label);
        for column in &axis.columns {
            let value = cell(*column, row);
            if *column == axis.primary && Some(row.label) == best_label {
                let _ = write!(text, " **{value}** |");
            } else {
                let _ = write!(text, " {value} |");
            }
        }
        let seeds = row.stats.map_or_else(
            || "0".to_owned(),
            |stats| {
                if stats.completed > 0 && stats.completed < MIN_SEEDS_TO_RANK {
                    format!("{}/{} (too few to rank)", stats.completed, stats.pairs)
                } else {
                    format!("{}/{}", stats.completed, stats.pairs)
                }
            },
        );
        let _ = writeln!(text, " {seeds} |");
    }
    text
}

fn header_of(column: Column) -> &'static str {
    column.title()
}

/// The whole `report.md`.
#[must_use]
pub fn render_markdown(
    study: &Study,
    stats: &BTreeMap<String, PointStats>,
    plots: &[PlotFile],
) -> String {
    let record = &study.record;
    let plan = &record.plan;
    let numeric = numeric_axis_values(plan);
    let mut text = String::new();
    let _ = writeln!(text, "# Ablation study: {}\n", plan.name);
    let _ = writeln!(text, "{}\n", setting_paragraph(study));
    for (index, axis) in plan.axes.iter().enumerate() {
        let rows = rows_of(axis, plan, stats);
        let _ = writeln!(text, "## {}. {}\n", index + 1, axis.title);
        text.push_str(&markdown_table(axis, &rows));
        text.push('\n');
        let best = best_of(&rows, axis.primary);
        let against = best.map_or_else(Vec::new, |(best, _)| {
            significance_of(axis.primary, best, &rows)
        });
        let _ = writeln!(
            text,
            "{}\n",
            analysis(axis, &rows, numeric.get(&axis.name), &against)
        );
        if let Some((best, _)) = best {
            text.push_str(&significance_table(axis.primary, best.label, &against));
        }
        if axis.parameter.is_none()
            && plan.mode == Mode::OneFactor
            && let Some(comparison) = baseline_comparison(&rows)
        {
            let _ = writeln!(text, "{comparison}\n");
        }
        if let Some(comparison) = modality_comparison(study, &rows) {
            let _ = writeln!(text, "{comparison}\n");
        }
        if let Some(comparison) = crate::clustering_models::clustering_models_comparison(
            &rows,
            &scored_labels(&study.lines),
        ) {
            let _ = writeln!(text, "{comparison}");
        }
        let mut links = Vec::new();
        for plot in plots {
            if plot.axis.as_deref() == Some(axis.name.as_str()) {
                links.push(format!(
                    "[{}]({})",
                    plot.title,
                    plot.relative.to_string_lossy()
                ));
            }
        }
        if !links.is_empty() {
            let _ = writeln!(text, "Plots: {}.\n", links.join(", "));
        }
    }
    let _ = writeln!(text, "## Recommendation\n");
    let primary_label = record
        .dataset
        .labels
        .first()
        .map_or("labelled", |label| label.name.as_str());
    let _ = writeln!(text, "{}\n", recommendation(plan, stats, primary_label));
    let labels = scored_labels(&study.lines);
    if !labels.is_empty() {
        let _ = writeln!(text, "## Agreement with each label\n");
        text.push_str(&per_label_summary(plan, stats, &labels));
        text.push('\n');
    }
    for plot in plots {
        if plot.axis.is_none() {
            let _ = writeln!(
                text,
                "![{}]({})\n",
                plot.title,
                plot.relative.to_string_lossy()
            );
        }
    }
    let _ = writeln!(text, "## Files\n");
    let _ = writeln!(
        text,
        "`results.csv` has one row per (point, seed) with every metric; the sweep directories hold `results.jsonl`, `sweep.json` and per-run `result.json`, `latents.npy` and `clusters.txt`. Standard deviations are over seeds (sample, n - 1). `converged_epoch` is the epoch by which a run made 95% of its own validation improvement, `-` where no run of the row learned (no improvement beyond its tolerance) or every run diverged. A best row has at least 3 completed seeds; its tests are two-sided paired t-tests by seed (Welch's where seeds differ), Holm-corrected within the axis, with Hedges' g and the Wilcoxon signed-rank p beside them. `convergence_stability` classes the silhouette spread: very_stable < 0.01 <= stable < 0.03 <= moderate < 0.06 <= high_variance."
    );
    text
}

/// The feature-settings line of the setting paragraph: every feature set
/// with its modalities, transforms and lyrics vectoriser.
fn feature_settings_line(study: &Study) -> String {
    let plan = &study.record.plan;
    let mut text = String::new();
    if !plan.feature_sets.is_empty() {
        let mut sets = Vec::new();
        for set in &plan.feature_sets {
            let modalities = modalities_of(study, &set.id).map_or_else(
                || "every modality".to_owned(),
                |modalities| {
                    modalities
                        .iter()
                        .map(|modality| modality.name())
                        .collect::<Vec<_>>()
                        .join(" + ")
                },
            );
            let fusion = &set.settings.fusion;
            let lyrics = &set.settings.lyrics;
            sets.push(format!(
                "`{}` ({modalities}; audio {}, lyrics {:?} {} dims, {}{} components)",
                set.id,
                fusion.audio_transform.name(),
                lyrics.analyzer,
                lyrics.dims,
                if fusion.lyrics_unit_rows {
                    "unit rows, "
                } else {
                    ""
                },
                fusion.lyrics_transform.name()
            ));
        }
        let _ = write!(
            text,
            "\n- Feature settings ({}, the first is the spec's): {}.",
            sets.len(),
            sets.join("; ")
        );
    }
    text
}

fn setting_paragraph(study: &Study) -> String {
    let record = &study.record;
    let plan = &record.plan;
    let dataset = &record.dataset;
    let mut text = String::new();
    let _ = write!(
        text,
        "- Dataset: `{}` ({} tracks, {} fused feature dimensions",
        dataset.name, dataset.tracks, dataset.feature_dim
    );
    if let Some([channels, time]) = dataset.frames {
        let _ = write!(text, ", frames {channels} x {time}");
    }
    text.push(')');
    if let Some(primary) = dataset.labels.first() {
        let _ = write!(
            text,
            "; external scores against `{}` ({} classes)",
            primary.name, primary.classes
        );
    }
    let _ = write!(
        text,
        ".\n- Spec: `{}` (sha256 {}), {} mode, {} points x {} seeds ({}).",
        plan.spec_path.display(),
        plan.spec_hash.get(..12).unwrap_or(&plan.spec_hash),
        match plan.mode {
            Mode::OneFactor => "one-factor-at-a-time",
            Mode::Grid => "full-grid",
        },
        plan.points.len(),
        plan.seeds.len(),
        plan.seeds
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    );
    let base = &plan.base;
    let _ = write!(
        text,
        "\n- Base point: {}, latent {}, hidden {} (depth {}), learning rate {}, beta {}, batch {}, up to {} epochs (at least {}, patience {}).",
        base.architecture.name(),
        base.latent_dim,
        base.hidden_dim,
        base.depth,
        base.learning_rate,
        base.beta,
        base.batch_size,
        base.max_epochs,
        base.min_epochs,
        base.patience
    );
    text.push_str(&clustering_line(&base.clustering));
    text.push_str(&feature_settings_line(study));
    let machine = &record.machine;
    let mut devices = Vec::new();
    for line in &study.lines {
        if let Some(device) = &line.device
            && !devices.contains(&device.as_str())
        {
            devices.push(device.as_str());
        }
    }
    devices.sort_unstable();
    let _ = write!(
        text,
        "\n- Machine: {} ({} cores), device `{}` (runs used: {}), {} concurrent runs, songvae {}.",
        machine.cpu,
        machine.cores,
        machine.device,
        if devices.is_empty() {
            "none recorded".to_owned()
        } else {
            devices.join(", ")
        },
        machine.jobs,
        machine.version
    );
    let mut counts = [0usize; 4];
    for line in &study.lines {
        counts[line.status as usize] += 1;
    }
    let _ = write!(
        text,
        "\n- Runs: {} recorded of {} planned: {} completed, {} diverged, {} failed, {} not applicable.",
        study.lines.len(),
        plan.points.len() * plan.seeds.len(),
        counts[0],
        counts[1],
        counts[2],
        counts[3]
    );
    text
}

/// How each run's latents were clustered and scored: restarts, and how
/// many independent clusterings each score is the mean of.
fn clustering_line(clustering: &ClusteringConfig) -> String {
    if clustering.draws > 1 {
        format!(
            "\n- Clustering: {} restarts per clustering; every score that depends on the clusters is the mean over {} independent clusterings of the run's latents (`clustering.draws`), and its clusters are the first's.",
            clustering.n_init, clustering.draws
        )
    } else {
        format!(
            "\n- Clustering: {} restarts, one clustering per run, seeded by the run's seed.",
            clustering.n_init
        )
    }
}

/// The modalities a feature set fused: as built (`sweep.json`), else as
/// configured; `None` when neither says (all the dataset has, unknown).
fn modalities_of(study: &Study, features: &str) -> Option<Vec<Modality>> {
    if let Some(built) = study.record.feature_modalities.get(features) {
        return Some(built.clone());
    }
    let set = study
        .record
        .plan
        .feature_sets
        .iter()
        .find(|set| set.id == features)?;
    set.settings.modalities.clone()
}

/// For an axis whose trained rows differ in their modalities: per label,
/// whether the best fused model beats the best single-modality model on
/// ARI and NMI ([`tested_margin`]).
fn modality_comparison(study: &Study, rows: &[Row<'_>]) -> Option<String> {
    let mut fused = Vec::new();
    let mut single = Vec::new();
    for row in rows {
        if !matches!(row.job, Some(Job::Train(_))) {
            continue;
        }
        match modalities_of(study, row.features) {
            Some(modalities) if modalities.len() > 1 => fused.push(*row),
            Some(modalities) if modalities.len() == 1 => single.push((*row, modalities[0])),
            _ => {}
        }
    }
    let mut single_modalities: Vec<Modality> = Vec::new();
    for (_, modality) in &single {
        if !single_modalities.contains(modality) {
            single_modalities.push(*modality);
        }
    }
    // Only an axis whose trained rows differ in their modalities compares them.
    let kinds = single_modalities.len() + usize::from(!fused.is_empty());
    if single.is_empty() || kinds < 2 {
        return None;
    }
    if fused.is_empty() {
        return Some(
            "No trained row fuses two modalities here (the dataset has one, or the fused rows did not run), so fusion cannot be judged on this dataset.".to_owned(),
        );
    }
    let labels = scored_labels(&study.lines);
    let mut sentences = Vec::new();
    for label in &labels {
        let mut parts = Vec::new();
        for column in [Column::ARI, Column::NMI] {
            let value = |row: &Row<'_>| {
                row.stats
                    .and_then(|stats| stats.labels.get(label))
                    .and_then(|scores| scores.get(&column))
                    .copied()
            };
            let seed_values = |row: &Row<'_>| {
                row.stats
                    .and_then(|stats| stats.label_seed_values.get(label))
                    .and_then(|values| values.get(&column))
                    .cloned()
                    .unwrap_or_default()
            };
            let best_fused = fused
                .iter()
                .filter_map(|row| value(row).map(|summary| (*row, summary)))
                .max_by(|left, right| left.1.mean.total_cmp(&right.1.mean));
            let best_single = single
                .iter()
                .filter_map(|(row, modality)| value(row).map(|summary| (*row, *modality, summary)))
                .max_by(|left, right| left.2.mean.total_cmp(&right.2.mean));
            let (Some((fused_row, fused_summary)), Some((single_row, modality, single_summary))) =
                (best_fused, best_single)
            else {
                continue;
            };
            let (margin, p_value) =
                tested_margin(&seed_values(&fused_row), &seed_values(&single_row));
            let verdict = match margin {
                Margin::Ahead => "beats",
                Margin::Level => "is not shown different from",
                Margin::Behind => "loses to",
            };
            parts.push(format!(
                "on {} {} ({}) {verdict} its best single modality{}, {} ({})",
                column.name(),
                fused_row.label,
                format_summary(column, &fused_summary),
                p_note(p_value),
                modality.name(),
                format_summary(column, &single_summary)
            ));
        }
        if !parts.is_empty() {
            sentences.push(format!("For `{label}`, {}.", parts.join("; ")));
        }
    }
    if sentences.is_empty() {
        return None;
    }
    Some(format!(
        "Fusion against single modalities (trained rows, each label): {}",
        sentences.join(" ")
    ))
}

/// Whether the best trained model beats the PCA + k-means baseline on the
/// external scores: one two-sided test (paired by seed where the rows share
/// seeds), p below [`significance::ALPHA`].
fn baseline_comparison(rows: &[Row<'_>]) -> Option<String> {
    let is_pca = |row: &&Row<'_>| {
        matches!(
            row.job,
            Some(Job::Baseline {
                kind: BaselineKind::PcaKmeans,
                ..
            })
        )
    };
    rows.iter().find(is_pca)?;
    let mut sentences = Vec::new();
    for column in [Column::ARI, Column::NMI] {
        let mut trained = Vec::new();
        for row in rows {
            if matches!(row.job, Some(Job::Train(_))) {
                trained.push(*row);
            }
        }
        let Some((best, best_summary)) = best_of(&trained, column) else {
            continue;
        };
        // PCA+KMeans on the same features as the best trained row.
        let Some(pca) = rows
            .iter()
            .filter(is_pca)
            .find(|row| row.features == best.features)
        else {
            continue;
        };
        let Some(pca_summary) = pca.stats.and_then(|stats| stats.metrics.get(&column)) else {
            continue;
        };
        // One planned comparison: its own test, no correction.
        let pca_rows = [*pca];
        let test = significance_of(column, best, &pca_rows)
            .first()
            .and_then(|against| against.comparison);
        let verdict = match test {
            Some(comparison) if comparison.holm_p < significance::ALPHA => {
                let direction = if comparison.t_test.statistic > 0.0 {
                    "beats"
                } else {
                    "loses to"
                };
                format!(
                    "{direction} ({}, g = {})",
                    p_equals(comparison.holm_p),
                    comparison
                        .hedges_g
                        .map_or_else(|| "n/a".to_owned(), |g| format!("{g:.2}"))
                )
            }
            Some(comparison) => format!(
                "is not shown different from ({})",
                p_equals(comparison.holm_p)
            ),
            None => "cannot be tested against".to_owned(),
        };
        sentences.push(format!(
            "On {} the best trained model, {} ({}), {verdict} PCA+KMeans on the same features ({}).",
            column.name(),
            best.label,
            format_summary(column, &best_summary),
            format_summary(column, pca_summary)
        ));
    }
    if sentences.is_empty() {
        None
    } else {
        Some(sentences.join(" "))
    }
}

/// The best trained point and the best baseline by ARI against each label
/// column, with their NMI, as a table and one sentence per label.
fn per_label_summary(
    plan: &Plan,
    stats: &BTreeMap<String, PointStats>,
    labels: &[String],
) -> String {
    let mut table = String::from(
        "| label | best trained point | ARI | NMI | best baseline | ARI | NMI |\n|---|---|---|---|---|---|---|\n",
    );
    let mut notes = Vec::new();
    for label in labels {
        let mut best: [Option<(&str, &BTreeMap<Column, Summary>)>; 2] = [None, None];
        for point in &plan.points {
            let Some(scores) = stats
                .get(&point.id)
                .and_then(|point_stats| point_stats.labels.get(label))
            else {
                continue;
            };
            let Some(ari) = scores.get(&Column::ARI) else {
                continue;
            };
            if ari.count < MIN_SEEDS_TO_RANK {
                continue;
            }
            let slot = match point.job {
                Job::Train(_) => &mut best[0],
                Job::Baseline { .. } => &mut best[1],
            };
            if slot.is_none_or(|(_, current)| {
                current
                    .get(&Column::ARI)
                    .is_none_or(|current_ari| ari.mean > current_ari.mean)
            }) {
                *slot = Some((point.label.as_str(), scores));
            }
        }
        let mut cells = vec![format!("`{label}`")];
        for entry in &best {
            match entry {
                Some((point_label, scores)) => {
                    cells.push((*point_label).to_owned());
                    for column in [Column::ARI, Column::NMI] {
                        cells.push(
                            scores
                                .get(&column)
                                .map(|summary| format_summary(column, summary))
                                .unwrap_or_default(),
                        );
                    }
                }
                None => cells.extend(["-".to_owned(), String::new(), String::new()]),
            }
        }
        let _ = writeln!(table, "| {} |", cells.join(" | "));
        let best_ari = best
            .iter()
            .flatten()
            .filter_map(|(_, scores)| scores.get(&Column::ARI).map(|summary| summary.mean))
            .fold(f64::NEG_INFINITY, f64::max);
        if best_ari.is_finite() && best_ari < WEAK_AGREEMENT {
            notes.push(format!(
                "No point recovers `{label}` (best ARI {best_ari:.3}, below {WEAK_AGREEMENT}): these features do not separate its classes."
            ));
        }
    }
    if !notes.is_empty() {
        table.push('\n');
        table.push_str(&notes.join(" "));
        table.push('\n');
    }
    table
}

/// Below this ARI the clusters hardly match the labels at all (chance is 0).
const WEAK_AGREEMENT: f64 = 0.1;

fn recommendation(
    plan: &Plan,
    stats: &BTreeMap<String, PointStats>,
    primary_label: &str,
) -> String {
    let mut text = String::new();
    match plan.mode {
        Mode::OneFactor => {
            let mut choices = Vec::new();
            for axis in &plan.axes {
                let rows = rows_of(axis, plan, stats);
                let mut trained = Vec::new();
                for row in &rows {
                    if matches!(row.job, Some(Job::Train(_))) {
                        trained.push(*row);
                    }
                }
                if let Some((best, _)) = best_of(&trained, axis.primary) {
                    match &axis.parameter {
                        Some(parameter) => choices.push(format!("{parameter} = {}", best.label)),
                        None => choices.push(format!("model {}", best.label)),
                    }
                }
            }
            if choices.is_empty() {
                return "No training run completed; nothing to recommend.".to_owned();
            }
            let _ = write!(
                text,
                "Each factor at its best value by its axis's primary metric: {}. These come from one-factor-at-a-time runs around the base point, which cannot show interactions: run the combination (or a grid over the two or three most influential factors) with several seeds before relying on it.",
                choices.join(", ")
            );
        }
        Mode::Grid => {
            if let Some(axis) = plan.axes.first() {
                let rows = rows_of(axis, plan, stats);
                if let Some((best, summary)) = best_of(&rows, axis.primary) {
                    let _ = write!(
                        text,
                        "The best grid point by {} is {} ({}).",
                        axis.primary.name(),
                        best.label,
                        format_summary(axis.primary, &summary)
                    );
                }
            }
        }
    }
    text.push_str(&label_agreement(plan, stats, primary_label));
    text
}

/// Sentences on how well the best trained point and the best baseline
/// match the primary label (ARI), and whether either matches it at all.
fn label_agreement(
    plan: &Plan,
    stats: &BTreeMap<String, PointStats>,
    primary_label: &str,
) -> String {
    let mut text = String::new();
    let mut best_trained: Option<(String, Summary, &PointStats)> = None;
    let mut best_baseline: Option<(String, Summary, &PointStats)> = None;
    for point in &plan.points {
        let Some(point_stats) = stats.get(&point.id) else {
            continue;
        };
        let Some(summary) = point_stats.metrics.get(&Column::ARI) else {
            continue;
        };
        if summary.count < MIN_SEEDS_TO_RANK {
            continue;
        }
        let slot = match point.job {
            Job::Train(_) => &mut best_trained,
            Job::Baseline { .. } => &mut best_baseline,
        };
        if slot
            .as_ref()
            .is_none_or(|(_, best, _)| summary.mean > best.mean)
        {
            *slot = Some((point.label.clone(), *summary, point_stats));
        }
    }
    let best_anywhere = [&best_trained, &best_baseline]
        .into_iter()
        .flatten()
        .map(|(_, summary, _)| summary.mean)
        .fold(f64::NEG_INFINITY, f64::max);
    if best_anywhere.is_finite() && best_anywhere < WEAK_AGREEMENT {
        let _ = write!(
            text,
            " Agreement with `{primary_label}` is weak at every point (best ARI {best_anywhere:.3}, below {WEAK_AGREEMENT}): these features barely separate its classes, so differences in ARI between points mean little in practice."
        );
    }
    if let Some((label, summary, trained_stats)) = &best_trained {
        let mut trained_points = 0;
        for point in &plan.points {
            if matches!(point.job, Job::Train(_))
                && stats
                    .get(&point.id)
                    .is_some_and(|point_stats| point_stats.metrics.contains_key(&Column::ARI))
            {
                trained_points += 1;
            }
        }
        let _ = write!(
            text,
            " The trained point that agrees best with the labels is {label} (ARI {}), the best of {trained_points} trained points: picking the maximum of many noisy points flatters it, so read its margin as an upper bound.",
            format_summary(Column::ARI, summary)
        );
        if let Some((baseline_label, baseline, baseline_stats)) = &best_baseline {
            let ari_values = |point_stats: &PointStats| {
                point_stats
                    .seed_values
                    .get(&Column::ARI)
                    .cloned()
                    .unwrap_or_default()
            };
            let (comparison, p_value) =
                tested_margin(&ari_values(trained_stats), &ari_values(baseline_stats));
            let verdict = match comparison {
                Margin::Ahead => "beats the best baseline",
                Margin::Level => "is not shown different from the best baseline",
                Margin::Behind => "loses to the best baseline",
            };
            let _ = write!(
                text,
                " It {verdict}{}, {baseline_label} (ARI {}).",
                p_note(p_value),
                format_summary(Column::ARI, baseline)
            );
            if comparison != Margin::Ahead {
                let _ = write!(
                    text,
                    " On this dataset, training a model does not buy clusters that match `{primary_label}` better than the baseline: prefer the baseline unless the latent space is needed for something else."
                );
            }
        }
    }
    text
}
