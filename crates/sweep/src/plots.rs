//! SVG plots of a report, drawn with `plotters`:
//!
//! - `plots/<axis>-<metric>.svg`: each numeric metric of an axis against the
//!   axis's values, mean with an error bar of one across-seed standard
//!   deviation;
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
use songvae_features::training_data::LabelsFile;
use songvae_metrics::pca::Pca;
use songvae_run::result::RunResult;

use crate::aggregate::PointStats;
use crate::error::{Error, Result};
use crate::report::Study;
use crate::results::PairStatus;
use crate::spec::{Column, Job};

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
                let summary = stats
                    .get(&entry.point)
                    .and_then(|point_stats| point_stats.metrics.get(column));
                points.push(summary.map(|summary| (summary.mean, summary.std)));
            }
            if points.iter().all(Option::is_none) {
                continue;
            }
            let relative = PathBuf::from(format!("plots/{}-{}.svg", axis.name, column.name()));
            let x_name = axis.parameter.as_deref().unwrap_or("model");
            metric_plot(
                &out_dir.join(&relative),
                x_name,
                column.name(),
                &labels,
                &points,
            )?;
            files.push(PlotFile {
                relative,
                title: column.name().to_owned(),
                axis: Some(axis.name.clone()),
            });
        }
        let mut curves = Vec::new();
        for entry in &axis.entries {
            if let Some(curve) = first_curve(study, &entry.point) {
                let label = match &axis.parameter {
                    Some(parameter) => format!("{parameter} = {}", entry.label),
                    None => entry.label.clone(),
                };
                curves.push((label, curve));
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

/// The validation-loss curve of a point's first completed seed, if its
/// `result.json` is at hand.
fn first_curve(study: &Study, point: &str) -> Option<Vec<f64>> {
    for line in &study.lines {
        if line.point != point || line.status != PairStatus::Completed {
            continue;
        }
        let path = study.run_path(line, "result.json")?;
        let text = std::fs::read_to_string(path).ok()?;
        let result: RunResult = serde_json::from_str(&text).ok()?;
        if result.curves.validation_loss.is_empty() {
            return None;
        }
        return Some(result.curves.validation_loss);
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

/// Categorical x axis: position `i` shows `labels[i]`.
fn metric_plot(
    path: &Path,
    x_name: &str,
    y_name: &str,
    labels: &[String],
    points: &[Option<(f64, f64)>],
) -> Result<()> {
    let mut low = f64::INFINITY;
    let mut high = f64::NEG_INFINITY;
    for (mean, std) in points.iter().flatten() {
        low = low.min(mean - std);
        high = high.max(mean + std);
    }
    let margin = ((high - low) * 0.1).max(1e-6);
    let root = SVGBackend::new(path, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE).map_err(|error| plot_error(path, error))?;
    let count = labels.len();
    let mut chart = ChartBuilder::on(&root)
        .caption(format!("{y_name} by {x_name}"), ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(
            -0.5f64..(count as f64 - 0.5),
            (low - margin)..(high + margin),
        )
        .map_err(|error| plot_error(path, error))?;
    // About 7 px a character at the axis font: longer labels would run into
    // their neighbours, so they lose their middle (the table has them whole).
    let slot_pixels = f64::from(WIDTH.saturating_sub(70 + 24)) / count.max(1) as f64;
    let max_chars = ((slot_pixels / 7.0) as usize).max(6);
    let label_of = |x: &f64| {
        let index = x.round();
        if (x - index).abs() < 1e-6 && index >= 0.0 && (index as usize) < count {
            fit_label(&labels[index as usize], max_chars)
        } else {
            String::new()
        }
    };
    chart
        .configure_mesh()
        .x_labels(count * 2 + 1)
        .x_label_formatter(&label_of)
        .x_desc(x_name)
        .y_desc(y_name)
        .disable_x_mesh()
        .draw()
        .map_err(|error| plot_error(path, error))?;
    let mut line_points = Vec::new();
    for (index, point) in points.iter().enumerate() {
        let Some((mean, std)) = point else { continue };
        let x = index as f64;
        line_points.push((x, *mean));
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(x, mean - std), (x, mean + std)],
                BLUE.stroke_width(2),
            )))
            .map_err(|error| plot_error(path, error))?;
        for y in [mean - std, mean + std] {
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(x - 0.08, y), (x + 0.08, y)],
                    BLUE.stroke_width(2),
                )))
                .map_err(|error| plot_error(path, error))?;
        }
    }
    chart
        .draw_series(LineSeries::new(line_points.clone(), BLUE.mix(0.5)))
        .map_err(|error| plot_error(path, error))?;
    chart
        .draw_series(
            line_points
                .iter()
                .map(|point| Circle::new(*point, 4, BLUE.filled())),
        )
        .map_err(|error| plot_error(path, error))?;
    root.present().map_err(|error| plot_error(path, error))?;
    Ok(())
}

fn loss_plot(path: &Path, title: &str, curves: &[(String, Vec<f64>)]) -> Result<()> {
    let mut longest = 1;
    let mut low = f64::INFINITY;
    let mut high = f64::NEG_INFINITY;
    for (_, curve) in curves {
        longest = longest.max(curve.len());
        for value in curve {
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
    let margin = ((high - low) * 0.05).max(1e-6);
    let root = SVGBackend::new(path, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE).map_err(|error| plot_error(path, error))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(format!("Validation loss: {title}"), ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(1f64..longest as f64, (low - margin)..(high + margin))
        .map_err(|error| plot_error(path, error))?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .y_desc("validation loss")
        .draw()
        .map_err(|error| plot_error(path, error))?;
    for (index, (label, curve)) in curves.iter().enumerate() {
        let colour = Palette99::pick(index).to_rgba();
        let mut series = Vec::new();
        for (epoch, value) in curve.iter().enumerate() {
            if value.is_finite() {
                series.push(((epoch + 1) as f64, *value));
            }
        }
        chart
            .draw_series(LineSeries::new(series, colour.stroke_width(2)))
            .map_err(|error| plot_error(path, error))?
            .label(label.clone())
            .legend(move |(x, y)| {
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
        .build_cartesian_2d(
            (x_range.0 - x_margin)..(x_range.1 + x_margin),
            (y_range.0 - y_margin)..(y_range.1 + y_margin),
        )
        .map_err(|error| plot_error(path, error))?;
    chart
        .configure_mesh()
        .x_desc("PC 1")
        .y_desc("PC 2")
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
    use super::fit_label;

    #[test]
    fn long_labels_keep_their_start_and_end() {
        assert_eq!(fit_label("audio: VAE", 12), "audio: VAE");
        let long = "fused, first-eigenvalue weights: PCA+KMeans";
        assert_eq!(fit_label(long, 15), "fused, \u{2026}+KMeans");
        assert_eq!(fit_label(long, 15).chars().count(), 15);
    }
}
