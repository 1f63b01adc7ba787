//! SVG plots of a report, drawn with `plotters`:
//!
//! - `plots/<axis>-<metric>.svg`: each numeric metric of an axis, mean with
//!   an error bar of one across-seed standard deviation: against the values
//!   of a numeric parameter (a log axis for values spanning a factor of 8 or
//!   more, such as learning rates and betas), or one row per variant with
//!   its whole label and no line between variants, `n/a` where a variant
//!   does not apply;
//! - `plots/<axis>-loss.svg`: validation-loss curves of every row of the
//!   axis (the first completed seed of each);
//! - `plots/best-latents.svg`: a 2-D PCA projection of the latent means of
//!   the best configuration by ARI (by silhouette without labels),
//!   coloured by the primary label.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ndarray::Array2;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use songvae_features::training_data::LabelsFile;
use songvae_metrics::pca::Pca;
use songvae_run::result::RunResult;

use crate::aggregate::PointStats;
use crate::error::{Error, Result};
use crate::report::Study;
use crate::results::PairStatus;
use crate::spec::{Column, Job, numeric_axis_values};

/// A plot written for the report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlotFile {
    /// Path relative to the report directory.
    pub relative: PathBuf,
    /// Link text.
    pub title: String,
    /// The axis it belongs to; `None` for study-wide plots.
    pub axis: Option<String>,
}

const WIDTH: u32 = 720;
const HEIGHT: u32 = 420;

fn plot_error(path: &Path, error: impl std::fmt::Display) -> Error {
    Error::Plot {
        path: path.to_path_buf(),
        reason: error.to_string(),
    }
}

/// Draws every plot of the report into `out_dir/plots/`.
pub fn draw_all(
    study: &Study,
    stats: &BTreeMap<String, PointStats>,
    out_dir: &Path,
) -> Result<Vec<PlotFile>> {
    let plan = &study.record.plan;
    let numeric = numeric_axis_values(plan);
    let mut files = Vec::new();
    for axis in &plan.axes {
        let labels: Vec<String> = axis
            .entries
            .iter()
            .map(|entry| entry.label.clone())
            .collect();
        for column in &axis.columns {
            if !column.is_numeric() {
                continue;
            }
            let mut points = Vec::new();
            for entry in &axis.entries {
                let point_stats = stats.get(&entry.point);
                let summary = point_stats.and_then(|point_stats| point_stats.metrics.get(column));
                points.push(match summary {
                    Some(summary) => Mark::Value {
                        mean: summary.mean,
                        std: summary.std,
                    },
                    None if point_stats.is_some_and(|point_stats| {
                        point_stats.completed == 0 && point_stats.not_applicable > 0
                    }) =>
                    {
                        Mark::NotApplicable
                    }
                    None => Mark::Missing,
                });
            }
            if !points.iter().any(|mark| matches!(mark, Mark::Value { .. })) {
                continue;
            }
            let relative = PathBuf::from(format!("plots/{}-{}.svg", axis.name, column.name()));
            let x_axis = match (axis.parameter.as_deref(), numeric.get(&axis.name)) {
                (Some(parameter), Some(values)) => MetricAxis::Numeric {
                    name: parameter,
                    values,
                    labels: &labels,
                },
                _ => MetricAxis::Categorical { labels: &labels },
            };
            metric_plot(&out_dir.join(&relative), &x_axis, column.name(), &points)?;
            files.push(PlotFile {
                relative,
                title: column.name().to_owned(),
                axis: Some(axis.name.clone()),
            });
        }
        let mut curves = Vec::new();
        for entry in &axis.entries {
            if let Some((values, kind)) = first_curve(study, &entry.point) {
                let label = match &axis.parameter {
                    Some(parameter) => format!("{parameter} = {}", entry.label),
                    None => entry.label.clone(),
                };
                curves.push(LossCurve {
                    label,
                    values,
                    kind,
                });
            }
        }
        if !curves.is_empty() {
            let relative = PathBuf::from(format!("plots/{}-loss.svg", axis.name));
            loss_plot(&out_dir.join(&relative), &axis.title, &curves)?;
            files.push(PlotFile {
                relative,
                title: "loss curves".to_owned(),
                axis: Some(axis.name.clone()),
            });
        }
    }
    if let Some(best) = best_latents(study, stats)? {
        let relative = PathBuf::from("plots/best-latents.svg");
        latent_plot(
            &out_dir.join(&relative),
            &best.label,
            &best.latents,
            &best.classes,
        )?;
        files.push(PlotFile {
            relative,
            title: format!("Latent means of {}, PCA projection", best.label),
            axis: None,
        });
    }
    Ok(files)
}

/// Which loss a drawn curve is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CurveKind {
    /// The held-out tracks' loss, the curve early stopping watched.
    Validation,
    /// The epoch's mean training loss: the run held no tracks out
    /// (`validation_fraction: 0`), so this is the curve it watched.
    Training,
}

/// One point's loss curve on an axis's loss plot.
struct LossCurve {
    label: String,
    values: Vec<f64>,
    kind: CurveKind,
}

/// The loss curve early stopping watched in a point's first completed
/// seed, if its `result.json` is at hand: the validation loss, or the
/// training loss of a run that held no tracks out.
fn first_curve(study: &Study, point: &str) -> Option<(Vec<f64>, CurveKind)> {
    for line in &study.lines {
        if line.point != point || line.status != PairStatus::Completed {
            continue;
        }
        let path = study.run_path(line, "result.json")?;
        let text = std::fs::read_to_string(path).ok()?;
        let result: RunResult = serde_json::from_str(&text).ok()?;
        let kind = if result.curves.validation_loss.is_empty() {
            CurveKind::Training
        } else {
            CurveKind::Validation
        };
        let watched = result.curves.watched();
        return (!watched.is_empty()).then(|| (watched.to_vec(), kind));
    }
    None
}

/// The latent means of one point and the primary label of every track.
struct BestLatents {
    label: String,
    latents: Array2<f64>,
    classes: Vec<String>,
}

/// Latents of the best point (ARI, else silhouette) with a `latents.npy`,
/// and the primary label of every track.
fn best_latents(
    study: &Study,
    stats: &BTreeMap<String, PointStats>,
) -> Result<Option<BestLatents>> {
    let plan = &study.record.plan;
    let rank_by = if study.record.dataset.labels.is_empty() {
        Column::SILHOUETTE
    } else {
        Column::ARI
    };
    let mut candidates = Vec::new();
    for point in &plan.points {
        if let Some(summary) = stats
            .get(&point.id)
            .and_then(|point_stats| point_stats.metrics.get(&rank_by))
        {
            candidates.push((point, summary.mean));
        }
    }
    candidates.sort_by(|left, right| right.1.total_cmp(&left.1));
    // A features directory that is gone (a moved or canned sweep) leaves
    // the report without this plot; one that is there must read.
    if !study.record.features_dir.join(LabelsFile::NAME).exists() {
        return Ok(None);
    }
    let labels = LabelsFile::read(&study.record.features_dir)?;
    let Some(primary) = study.record.dataset.labels.first() else {
        return Ok(None);
    };
    let classes = labels.values(&primary.name).unwrap_or_default().to_vec();
    for (point, _) in candidates {
        if matches!(point.job, Job::Baseline { .. }) && !has_latents(study, &point.id) {
            continue;
        }
        for line in &study.lines {
            if line.point != point.id || line.status != PairStatus::Completed {
                continue;
            }
            let Some(path) = study.run_path(line, "latents.npy") else {
                continue;
            };
            let latents: Array2<f32> =
                ndarray_npy::read_npy(&path).map_err(|error| plot_error(&path, error))?;
            if latents.nrows() != classes.len() {
                continue;
            }
            return Ok(Some(BestLatents {
                label: point.label.clone(),
                latents: latents.mapv(f64::from),
                classes,
            }));
        }
    }
    Ok(None)
}

fn has_latents(study: &Study, point: &str) -> bool {
    for line in &study.lines {
        if line.point == point && study.run_path(line, "latents.npy").is_some() {
            return true;
        }
    }
    false
}

/// A chart over two `f64` axes drawn on an SVG file.
type SvgChart<'a> = ChartContext<'a, SVGBackend<'a>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// Draws the series legend and writes the file.
fn legend_and_present(
    chart: &mut SvgChart<'_>,
    root: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    path: &Path,
) -> Result<()> {
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|error| plot_error(path, error))?;
    root.present().map_err(|error| plot_error(path, error))
}

/// `label` in at most `max_chars` characters: its start and end around an
/// ellipsis, so that rows differing at the end (`: VAE`, `: PCA+KMeans`)
/// stay apart.
fn fit_label(label: &str, max_chars: usize) -> String {
    let characters: Vec<char> = label.chars().collect();
    if characters.len() <= max_chars {
        return label.to_owned();
    }
    let kept = max_chars.saturating_sub(1);
    let head = kept.div_ceil(2);
    let tail = kept - head;
    let mut fitted: String = characters[..head].iter().collect();
    fitted.push('\u{2026}');
    fitted.extend(&characters[characters.len() - tail..]);
    fitted
}

/// What a metric plot shows for one row of its axis.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Mark {
    /// Mean and across-seed standard deviation.
    Value { mean: f64, std: f64 },
    /// The row does not apply to this dataset.
    NotApplicable,
    /// No completed seed reported the metric.
    Missing,
}

/// The rows of a metric plot.
enum MetricAxis<'a> {
    /// A numeric parameter: each value at its place on the x axis (a log
    /// axis when the values are positive and span a factor of 8 or more,
    /// as learning rates, betas and layer sizes do), joined by a line.
    Numeric {
        name: &'a str,
        values: &'a [f64],
        labels: &'a [String],
    },
    /// Variants (models, modalities): one row each with its whole label,
    /// a point and its error bar, no line between them.
    Categorical { labels: &'a [String] },
}

/// Tick labels with as many decimals as the span needs: whole numbers for
/// spans over 10 (epochs, sizes, counts), never `20.0`.
fn tick_label(value: f64, span: f64) -> String {
    let decimals: i32 = if span >= 10.0 {
        0
    } else if span >= 1.0 {
        1
    } else if span >= 0.1 {
        2
    } else {
        3
    };
    // A tick at zero prints as `0`, never `-0.0`.
    let rounded_to_zero = value.abs() < 0.5 * 10f64.powi(-decimals);
    let value = if rounded_to_zero { 0.0 } else { value };
    format!("{value:.precision$}", precision = decimals as usize)
}

/// The value range of the marks, with a margin; `(0, 1)` without values.
fn value_range(points: &[Mark]) -> (f64, f64) {
    let mut low = f64::INFINITY;
    let mut high = f64::NEG_INFINITY;
    for mark in points {
        if let Mark::Value { mean, std } = mark {
            low = low.min(mean - std);
            high = high.max(mean + std);
        }
    }
    if !low.is_finite() {
        return (0.0, 1.0);
    }
    let margin = ((high - low) * 0.1).max(1e-6);
    (low - margin, high + margin)
}

fn metric_plot(path: &Path, x_axis: &MetricAxis<'_>, y_name: &str, points: &[Mark]) -> Result<()> {
    match x_axis {
        MetricAxis::Numeric {
            name,
            values,
            labels,
        } => numeric_metric_plot(path, name, values, labels, y_name, points),
        MetricAxis::Categorical { labels } => categorical_metric_plot(path, labels, y_name, points),
    }
}

/// The error bar of one mark, vertical (`along_y`) or horizontal, with caps.
fn error_bar(
    chart: &mut SvgChart<'_>,
    path: &Path,
    centre: f64,
    mean: f64,
    std: f64,
    along_y: bool,
    cap: f64,
) -> Result<()> {
    let place = |position: f64, value: f64| {
        if along_y {
            (position, value)
        } else {
            (value, position)
        }
    };
    let mut segments = vec![vec![place(centre, mean - std), place(centre, mean + std)]];
    for end in [mean - std, mean + std] {
        segments.push(vec![place(centre - cap, end), place(centre + cap, end)]);
    }
    for segment in segments {
        chart
            .draw_series(std::iter::once(PathElement::new(
                segment,
                BLUE.stroke_width(2),
            )))
            .map_err(|error| plot_error(path, error))?;
    }
    chart
        .draw_series(std::iter::once(Circle::new(
            place(centre, mean),
            4,
            BLUE.filled(),
        )))
        .map_err(|error| plot_error(path, error))?;
    Ok(())
}

fn numeric_metric_plot(
    path: &Path,
    x_name: &str,
    values: &[f64],
    labels: &[String],
    y_name: &str,
    points: &[Mark],
) -> Result<()> {
    let (low, high) = value_range(points);
    let smallest = values.iter().copied().fold(f64::INFINITY, f64::min);
    let largest = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let log = smallest > 0.0 && largest / smallest >= 8.0;
    let position = |value: f64| if log { value.log10() } else { value };
    let (first, last) = (position(smallest), position(largest));
    let pad = ((last - first) * 0.06).max(1e-6);
    let root = SVGBackend::new(path, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE).map_err(|error| plot_error(path, error))?;
    let x_description = if log {
        format!("{x_name} (log scale)")
    } else {
        x_name.to_owned()
    };
    let mut chart = ChartBuilder::on(&root)
        .caption(format!("{y_name} by {x_name}"), ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(70)
        .build_cartesian_2d((first - pad)..(last + pad), low..high)
        .map_err(|error| plot_error(path, error))?;
    let span = high - low;
    chart
        .configure_mesh()
        .x_labels(0)
        .x_desc(x_description)
        .y_desc(y_name)
        .y_label_formatter(&|value: &f64| tick_label(*value, span))
        .disable_x_mesh()
        .draw()
        .map_err(|error| plot_error(path, error))?;
    // Tick labels at the axis's own values, as the spec wrote them.
    let label_style = ("sans-serif", 13).into_font().color(&BLACK);
    for (value, label) in values.iter().zip(labels) {
        let (pixel_x, pixel_y) = chart.backend_coord(&(position(*value), low));
        root.draw(&Text::new(
            label.clone(),
            (pixel_x - 3 * label.chars().count() as i32, pixel_y + 6),
            label_style.clone(),
        ))
        .map_err(|error| plot_error(path, error))?;
    }
    let mut line = Vec::new();
    for (value, mark) in values.iter().zip(points) {
        if let Mark::Value { mean, .. } = mark {
            line.push((position(*value), *mean));
        }
    }
    chart
        .draw_series(LineSeries::new(line, BLUE.mix(0.5)))
        .map_err(|error| plot_error(path, error))?;
    let cap = (last - first + 2.0 * pad) * 0.01;
    for (value, mark) in values.iter().zip(points) {
        if let Mark::Value { mean, std } = mark {
            error_bar(&mut chart, path, position(*value), *mean, *std, true, cap)?;
        }
    }
    root.present().map_err(|error| plot_error(path, error))
}

/// Rows top to bottom in the axis's order; values along x.
fn categorical_metric_plot(
    path: &Path,
    labels: &[String],
    x_name: &str,
    points: &[Mark],
) -> Result<()> {
    let (low, high) = value_range(points);
    let count = labels.len();
    // About 7 px a character at the axis font; past 52 characters a label
    // loses its middle (the table has it whole).
    let max_chars = 52;
    let longest = labels
        .iter()
        .map(|label| label.chars().count().min(max_chars))
        .max()
        .unwrap_or(1);
    let label_area = (longest as u32 * 7 + 16).clamp(80, 380);
    let height = (90 + 34 * count as u32).max(200);
    let root = SVGBackend::new(path, (WIDTH, height)).into_drawing_area();
    root.fill(&WHITE).map_err(|error| plot_error(path, error))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(format!("{x_name} by variant"), ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(label_area)
        .build_cartesian_2d(low..high, -0.5f64..(count as f64 - 0.5))
        .map_err(|error| plot_error(path, error))?;
    // Row i sits at y = count - 1 - i, so the first row is on top.
    let row_of = |y: &f64| {
        let index = y.round();
        if (y - index).abs() < 1e-6 && index >= 0.0 && (index as usize) < count {
            Some(count - 1 - index as usize)
        } else {
            None
        }
    };
    let span = high - low;
    chart
        .configure_mesh()
        .y_labels(count * 2 + 1)
        .y_label_formatter(&|y: &f64| {
            row_of(y).map_or_else(String::new, |row| fit_label(&labels[row], max_chars))
        })
        .x_label_formatter(&|value: &f64| tick_label(*value, span))
        .x_desc(x_name)
        .disable_y_mesh()
        .draw()
        .map_err(|error| plot_error(path, error))?;
    let cap = 0.12;
    for (row, mark) in points.iter().enumerate() {
        let y = (count - 1 - row) as f64;
        match mark {
            Mark::Value { mean, std } => error_bar(&mut chart, path, y, *mean, *std, false, cap)?,
            Mark::NotApplicable | Mark::Missing => {
                let text = if *mark == Mark::NotApplicable {
                    "n/a: does not apply to this dataset"
                } else {
                    "no completed run"
                };
                let style = ("sans-serif", 13)
                    .into_font()
                    .color(&RGBColor(120, 120, 120))
                    .pos(Pos::new(HPos::Left, VPos::Center));
                chart
                    .draw_series(std::iter::once(Text::new(
                        text,
                        (low + span * 0.02, y),
                        style,
                    )))
                    .map_err(|error| plot_error(path, error))?;
            }
        }
    }
    root.present().map_err(|error| plot_error(path, error))
}

/// The loss curves of an axis's points, one line each; a training-loss
/// curve (a run with no tracks held out) is dashed and says so in the
/// legend, since it is not the held-out loss the other lines show.
fn loss_plot(path: &Path, title: &str, curves: &[LossCurve]) -> Result<()> {
    let mut longest = 1;
    let mut low = f64::INFINITY;
    let mut high = f64::NEG_INFINITY;
    let mut any_training = false;
    for curve in curves {
        longest = longest.max(curve.values.len());
        any_training |= curve.kind == CurveKind::Training;
        for value in &curve.values {
            if value.is_finite() {
                low = low.min(*value);
                high = high.max(*value);
            }
        }
    }
    if !low.is_finite() {
        low = 0.0;
        high = 1.0;
    }
    // Curves of different models can differ by orders of magnitude (the
    // ConvVAE reconstructs frames, the others a feature vector): a log axis
    // then keeps every curve readable.
    let log = low > 0.0 && high / low >= 8.0;
    let position = |value: f64| if log { value.log10() } else { value };
    let (low, high) = (position(low), position(high));
    let margin = ((high - low) * 0.05).max(1e-6);
    let root = SVGBackend::new(path, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE).map_err(|error| plot_error(path, error))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            if any_training {
                format!("Loss: {title}")
            } else {
                format!("Validation loss: {title}")
            },
            ("sans-serif", 20),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(1f64..longest as f64, (low - margin)..(high + margin))
        .map_err(|error| plot_error(path, error))?;
    let span = high - low + 2.0 * margin;
    let y_description = match (any_training, log) {
        (false, true) => "validation loss (log scale)",
        (false, false) => "validation loss",
        (true, true) => "validation loss; dashed: training loss (log scale)",
        (true, false) => "validation loss; dashed: training loss",
    };
    chart
        .configure_mesh()
        .x_desc("epoch")
        .y_desc(y_description)
        .x_label_formatter(&|epoch: &f64| format!("{epoch:.0}"))
        .y_label_formatter(&|value: &f64| {
            if log {
                let shown = 10f64.powf(*value);
                tick_label(shown, shown)
            } else {
                tick_label(*value, span)
            }
        })
        .draw()
        .map_err(|error| plot_error(path, error))?;
    for (index, curve) in curves.iter().enumerate() {
        let colour = Palette99::pick(index).to_rgba();
        let mut series = Vec::new();
        for (epoch, value) in curve.values.iter().enumerate() {
            if value.is_finite() && (!log || *value > 0.0) {
                series.push(((epoch + 1) as f64, position(*value)));
            }
        }
        let drawn = match curve.kind {
            CurveKind::Validation => chart
                .draw_series(LineSeries::new(series, colour.stroke_width(2)))
                .map_err(|error| plot_error(path, error))?
                .label(curve.label.clone()),
            CurveKind::Training => chart
                .draw_series(DashedLineSeries::new(series, 6, 4, colour.stroke_width(2)))
                .map_err(|error| plot_error(path, error))?
                .label(format!("{} (training loss)", curve.label)),
        };
        drawn.legend(move |(x, y)| {
            PathElement::new(vec![(x, y), (x + 16, y)], colour.stroke_width(2))
        });
    }
    legend_and_present(&mut chart, &root, path)
}

fn latent_plot(path: &Path, label: &str, latents: &Array2<f64>, classes: &[String]) -> Result<()> {
    let components = 2.min(latents.ncols()).min(latents.nrows());
    let pca = Pca::fit(latents.view(), components).map_err(|error| plot_error(path, error))?;
    let projected = pca
        .transform(latents.view())
        .map_err(|error| plot_error(path, error))?;
    let mut x_range = (f64::INFINITY, f64::NEG_INFINITY);
    let mut y_range = (f64::INFINITY, f64::NEG_INFINITY);
    for row in projected.rows() {
        let x = row[0];
        let y = if components > 1 { row[1] } else { 0.0 };
        x_range = (x_range.0.min(x), x_range.1.max(x));
        y_range = (y_range.0.min(y), y_range.1.max(y));
    }
    let x_margin = ((x_range.1 - x_range.0) * 0.05).max(1e-6);
    let y_margin = ((y_range.1 - y_range.0) * 0.05).max(1e-6);
    let root = SVGBackend::new(path, (WIDTH, HEIGHT + 60)).into_drawing_area();
    root.fill(&WHITE).map_err(|error| plot_error(path, error))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(format!("Latent means of {label} (PCA)"), ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        // Room on the right for the legend, so that it hides no point.
        .build_cartesian_2d(
            (x_range.0 - x_margin)..(x_range.1 + 6.0 * x_margin),
            (y_range.0 - y_margin)..(y_range.1 + y_margin),
        )
        .map_err(|error| plot_error(path, error))?;
    let x_span = x_range.1 - x_range.0;
    let y_span = y_range.1 - y_range.0;
    chart
        .configure_mesh()
        .x_desc("PC 1")
        .y_desc("PC 2")
        .x_label_formatter(&|value: &f64| tick_label(*value, x_span))
        .y_label_formatter(&|value: &f64| tick_label(*value, y_span))
        .draw()
        .map_err(|error| plot_error(path, error))?;
    let mut distinct: Vec<&String> = classes.iter().collect();
    distinct.sort();
    distinct.dedup();
    for (class_index, class) in distinct.iter().enumerate() {
        let colour = Palette99::pick(class_index).to_rgba();
        let mut points = Vec::new();
        for (row, row_class) in projected.rows().into_iter().zip(classes) {
            if row_class == *class {
                let y = if components > 1 { row[1] } else { 0.0 };
                points.push((row[0], y));
            }
        }
        chart
            .draw_series(
                points
                    .into_iter()
                    .map(|point| Circle::new(point, 4, colour.filled())),
            )
            .map_err(|error| plot_error(path, error))?
            .label((*class).clone())
            .legend(move |(x, y)| Circle::new((x + 6, y), 4, colour.filled()));
    }
    legend_and_present(&mut chart, &root, path)
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use ndarray::Array2;

    use super::{
        CurveKind, LossCurve, Mark, MetricAxis, fit_label, latent_plot, loss_plot, metric_plot,
    };

    /// Where each plot kind's snapshot lives.
    fn snapshot_path(kind: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../fixtures/sweeps/plots")
            .join(format!("{kind}.svg"))
    }

    /// Compares a drawn SVG with its snapshot; `SONGVAE_UPDATE_SNAPSHOTS=1`
    /// rewrites the snapshot (render it to PNG and look at it first).
    fn assert_plot_snapshot(kind: &str, drawn: &Path) {
        let actual = std::fs::read_to_string(drawn).expect("the plot was written");
        assert!(actual.starts_with("<svg"), "{kind}");
        let stored = snapshot_path(kind);
        if std::env::var_os("SONGVAE_UPDATE_SNAPSHOTS").is_some() {
            std::fs::create_dir_all(stored.parent().expect("a folder")).expect("create");
            std::fs::write(&stored, &actual).expect("write snapshot");
        }
        let expected = std::fs::read_to_string(&stored)
            .unwrap_or_else(|error| panic!("{}: {error}", stored.display()));
        assert!(
            actual == expected,
            "{kind} plot differs from {} (rewrite with SONGVAE_UPDATE_SNAPSHOTS=1 if intended)",
            stored.display()
        );
    }

    #[test]
    fn a_run_with_no_tracks_held_out_is_drawn_by_its_training_loss() {
        let directory = tempfile::tempdir().expect("tempdir");
        let mut curves = Vec::new();
        for (index, rate) in [0.5f64, 0.8].iter().enumerate() {
            curves.push(LossCurve {
                label: format!("learning_rate = {index}"),
                values: (0..40)
                    .map(|epoch| 50.0 + 40.0 * rate.powi(epoch))
                    .collect(),
                kind: CurveKind::Validation,
            });
        }
        curves.push(LossCurve {
            label: "AE (every track trains)".to_owned(),
            values: (0..60)
                .map(|epoch| 45.0 + 40.0 * 0.9f64.powi(epoch))
                .collect(),
            kind: CurveKind::Training,
        });
        let training_loss = directory.path().join("loss-training.svg");
        loss_plot(&training_loss, "Architecture comparison", &curves).expect("training loss plot");
        let drawn = std::fs::read_to_string(&training_loss).expect("training loss svg");
        assert!(drawn.contains("AE (every track trains) (training loss)"));
        assert!(drawn.contains("dashed: training loss"));
        assert!(drawn.contains("Loss: Architecture comparison"));
        assert_plot_snapshot("loss-training", &training_loss);
    }

    #[test]
    fn every_plot_kind_matches_its_snapshot() {
        let directory = tempfile::tempdir().expect("tempdir");
        let learning_rates = ["0.0001", "0.0005", "0.001", "0.005", "0.01"].map(str::to_owned);
        let values = [1e-4, 5e-4, 1e-3, 5e-3, 1e-2];
        let epochs = [
            Mark::Value {
                mean: 180.0,
                std: 12.0,
            },
            Mark::Value {
                mean: 120.0,
                std: 16.5,
            },
            Mark::Value {
                mean: 68.3,
                std: 5.0,
            },
            Mark::Value {
                mean: 39.0,
                std: 7.5,
            },
            Mark::Missing,
        ];
        let numeric = directory.path().join("numeric.svg");
        let axis = MetricAxis::Numeric {
            name: "learning_rate",
            values: &values,
            labels: &learning_rates,
        };
        metric_plot(&numeric, &axis, "converged_epoch", &epochs).expect("numeric plot");
        assert_plot_snapshot("numeric", &numeric);

        let variants = [
            "VAE (FC)",
            "ConvVAE",
            "beta-VAE (beta 4)",
            "CVAE (condition: language)",
            "AE (tanh, tanh code, depth 1, latent 32, 300 epochs)",
            "PCA+KMeans",
        ]
        .map(str::to_owned);
        let ari = [
            Mark::Value {
                mean: 0.212,
                std: 0.018,
            },
            Mark::NotApplicable,
            Mark::Value {
                mean: 0.18,
                std: 0.01,
            },
            Mark::NotApplicable,
            Mark::Value {
                mean: 0.225,
                std: 0.036,
            },
            Mark::Value {
                mean: 0.208,
                std: 0.008,
            },
        ];
        let categorical = directory.path().join("categorical.svg");
        let axis = MetricAxis::Categorical { labels: &variants };
        metric_plot(&categorical, &axis, "ari", &ari).expect("categorical plot");
        assert_plot_snapshot("categorical", &categorical);

        let mut curves = Vec::new();
        for (index, rate) in [0.5f64, 0.8, 0.95].iter().enumerate() {
            let curve: Vec<f64> = (0..40)
                .map(|epoch| 50.0 + 40.0 * rate.powi(epoch))
                .collect();
            curves.push(LossCurve {
                label: format!("learning_rate = {index}"),
                values: curve,
                kind: CurveKind::Validation,
            });
        }
        let loss = directory.path().join("loss.svg");
        loss_plot(&loss, "Learning rate", &curves).expect("loss plot");
        assert_plot_snapshot("loss", &loss);
        // Curves two orders of magnitude apart (a ConvVAE beside dense
        // models) are drawn on a log axis.
        curves.push(LossCurve {
            label: "ConvVAE".to_owned(),
            values: (0..30)
                .map(|epoch| 1700.0 + 1300.0 * 0.9f64.powi(epoch))
                .collect(),
            kind: CurveKind::Validation,
        });
        let log_loss = directory.path().join("loss-log.svg");
        loss_plot(&log_loss, "Architecture comparison", &curves).expect("log loss plot");
        assert_plot_snapshot("loss-log", &log_loss);

        let mut latents = Array2::zeros((12, 3));
        let mut classes = Vec::new();
        for row in 0..12 {
            let class = row % 3;
            latents[[row, 0]] = class as f64 * 2.0 + (row as f64 * 0.37).sin() * 0.3;
            latents[[row, 1]] = (row as f64 * 0.91).cos() * 0.5;
            latents[[row, 2]] = class as f64 - 1.0;
            classes.push(["blues", "jazz", "rock"][class].to_owned());
        }
        let latent = directory.path().join("latents.svg");
        latent_plot(&latent, "VAE (FC)", &latents, &classes).expect("latent plot");
        assert_plot_snapshot("latents", &latent);
    }

    #[test]
    fn long_labels_keep_their_start_and_end() {
        assert_eq!(fit_label("audio: VAE", 12), "audio: VAE");
        let long = "fused, first-eigenvalue weights: PCA+KMeans";
        assert_eq!(fit_label(long, 15), "fused, \u{2026}+KMeans");
        assert_eq!(fit_label(long, 15).chars().count(), 15);
    }
}
