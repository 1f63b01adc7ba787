//! `results.jsonl`: one JSON line per finished (point, seed), appended
//! atomically, read back for resuming and reporting.
//!
//! Every line is written with one `write` of the whole line and its newline
//! and then synced. A sweep killed at any moment can leave at most one torn
//! line, at the very end, without a newline: readers ignore it and
//! [`ResultsFile::open`] cuts it off before appending, so a finished pair is
//! never lost and a torn one is run again.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use songvae_metrics::scoring::{LabelScores, Scores};
use songvae_run::result::{RunResult, RunStatus};

use crate::error::{Error, Result};
use crate::spec::Column;

/// How a (point, seed) pair ended. The default, `failed`, is what a line
/// is until a run says otherwise.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PairStatus {
    /// Trained (or computed, for a baseline), clustered and scored.
    Completed,
    /// The loss became NaN or infinite.
    Diverged,
    /// The run stopped with an error; `reason` says which.
    #[default]
    Failed,
    /// The point cannot apply to this dataset; `reason` says why.
    NotApplicable,
}

impl PairStatus {
    /// The status as written in `results.jsonl`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Completed => "completed",
            Self::Diverged => "diverged",
            Self::Failed => "failed",
            Self::NotApplicable => "not_applicable",
        }
    }
}

/// One finished (point, seed): its status and every metric.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResultLine {
    /// Stable id of the point.
    pub point: String,
    /// The point's label, for readers of the raw file.
    pub label: String,
    /// The seed.
    pub seed: u64,
    /// How it ended.
    pub status: PairStatus,
    /// Why it failed or does not apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Where it ran (`cpu`, `cuda:0`).
    #[serde(default)]
    pub device: Option<String>,
    /// Number of clusters.
    #[serde(default)]
    pub k: Option<usize>,
    /// Mean silhouette.
    #[serde(default)]
    pub silhouette: Option<f64>,
    /// Davies-Bouldin index.
    #[serde(default)]
    pub davies_bouldin: Option<f64>,
    /// Calinski-Harabasz index.
    #[serde(default)]
    pub calinski_harabasz: Option<f64>,
    /// Adjusted Rand index.
    #[serde(default)]
    pub ari: Option<f64>,
    /// Normalised mutual information.
    #[serde(default)]
    pub nmi: Option<f64>,
    /// Purity.
    #[serde(default)]
    pub purity: Option<f64>,
    /// Mutual information gap.
    #[serde(default)]
    pub disentanglement_score: Option<f64>,
    /// Active latent units.
    #[serde(default)]
    pub active_units: Option<f64>,
    /// Training loss of the last epoch.
    #[serde(default)]
    pub final_loss: Option<f64>,
    /// Validation loss of the last epoch.
    #[serde(default)]
    pub final_validation_loss: Option<f64>,
    /// Reconstruction part of the last epoch's loss.
    #[serde(default)]
    pub reconstruction_loss: Option<f64>,
    /// KL part of the last epoch's loss.
    #[serde(default)]
    pub kl_divergence: Option<f64>,
    /// Epoch of convergence.
    #[serde(default)]
    pub converged_epoch: Option<f64>,
    /// Epochs trained.
    #[serde(default)]
    pub epochs_run: Option<f64>,
    /// Training (or baseline fitting) wall time, seconds.
    #[serde(default)]
    pub train_time_sec: Option<f64>,
    /// Peak resident memory of the run's process, MB.
    #[serde(default)]
    pub memory_mb: Option<f64>,
    /// Trainable parameters.
    #[serde(default)]
    pub parameters: Option<f64>,
    /// Run directory relative to the sweep's output directory.
    #[serde(default)]
    pub run_dir: Option<String>,
    /// ARI, NMI and purity against every label column (the first is the primary).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<LabelScores>,
    /// Why a score of this line is absent, by its column (for example
    /// `disentanglement_score` with one latent dimension).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub absent: BTreeMap<String, String>,
}

impl ResultLine {
    /// A line without metrics.
    #[must_use]
    pub fn bare(point: &str, label: &str, seed: u64, status: PairStatus) -> Self {
        Self {
            point: point.to_owned(),
            label: label.to_owned(),
            seed,
            status,
            ..Self::default()
        }
    }

    /// The line of a finished training run.
    #[must_use]
    pub fn from_run(point: &str, label: &str, seed: u64, result: &RunResult) -> Self {
        let status = match result.status {
            RunStatus::Completed => PairStatus::Completed,
            RunStatus::Diverged => PairStatus::Diverged,
        };
        let mut line = Self::bare(point, label, seed, status);
        if let Some(epoch) = result.diverged_epoch {
            line.reason = Some(format!("loss became NaN or infinite in epoch {epoch}"));
        }
        line.device = Some(result.device.clone());
        if let Some(scores) = &result.scores {
            line.set_scores(scores);
        }
        line.final_loss = result.final_train_loss;
        line.final_validation_loss = result.final_validation_loss;
        line.reconstruction_loss = result.reconstruction_loss;
        line.kl_divergence = result.kl_divergence;
        line.converged_epoch = result.converged_epoch.map(|epoch| epoch as f64);
        line.epochs_run = Some(result.epochs_run as f64);
        line.train_time_sec = Some(result.train_time_sec);
        line.memory_mb = result.memory_mb;
        line.parameters = Some(result.parameters as f64);
        line
    }

    /// Copies the clustering scores.
    pub fn set_scores(&mut self, scores: &Scores) {
        self.k = Some(scores.k);
        self.silhouette = scores.silhouette;
        self.davies_bouldin = scores.davies_bouldin;
        self.calinski_harabasz = scores.calinski_harabasz;
        self.ari = scores.ari;
        self.nmi = scores.nmi;
        self.purity = scores.purity;
        self.disentanglement_score = scores.mig;
        self.active_units = scores.active_units.map(|count| count as f64);
        self.labels.clone_from(&scores.labels);
        self.absent.clear();
        for (key, reason) in &scores.absent {
            // The line's name of the mutual information gap.
            let column = if key == "mig" {
                "disentanglement_score"
            } else {
                key
            };
            self.absent.insert(column.to_owned(), reason.clone());
        }
    }

    /// The value of an external score (ARI, NMI or purity) against one label column.
    #[must_use]
    pub fn label_metric(&self, label: &str, column: Column) -> Option<f64> {
        let scores = self.labels.iter().find(|scores| scores.label == label)?;
        match column {
            Column::Ari => Some(scores.ari),
            Column::Nmi => Some(scores.nmi),
            Column::Purity => Some(scores.purity),
            _ => None,
        }
    }

    /// The value of a numeric column.
    #[must_use]
    pub fn metric(&self, column: Column) -> Option<f64> {
        match column {
            Column::Silhouette => self.silhouette,
            Column::DaviesBouldin => self.davies_bouldin,
            Column::CalinskiHarabasz => self.calinski_harabasz,
            Column::Ari => self.ari,
            Column::Nmi => self.nmi,
            Column::Purity => self.purity,
            Column::DisentanglementScore => self.disentanglement_score,
            Column::ActiveUnits => self.active_units,
            Column::FinalLoss => self.final_loss,
            Column::FinalValidationLoss => self.final_validation_loss,
            Column::ReconstructionLoss => self.reconstruction_loss,
            Column::KlDivergence => self.kl_divergence,
            Column::ConvergedEpoch => self.converged_epoch,
            Column::EpochsRun => self.epochs_run,
            Column::TrainTimeSec => self.train_time_sec,
            Column::MemoryMb => self.memory_mb,
            Column::Parameters => self.parameters,
            Column::ConvergenceStability | Column::BestUseCase => None,
        }
    }
}

/// The lines of a results file and where its last complete line ends.
#[derive(Debug)]
pub struct ReadResults {
    /// Every complete line, in file order.
    pub lines: Vec<ResultLine>,
    /// Byte length of the complete lines; anything after is a torn line.
    pub complete_len: u64,
    /// Whether a torn last line was found (and ignored).
    pub torn_tail: bool,
}

/// Reads a results file. A missing file reads as empty. A last line without
/// its newline is torn (a kill while appending) and ignored; any other line
/// that does not parse is an error naming the file and line.
pub fn read_results(path: &Path) -> Result<ReadResults> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(cause) if cause.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(cause) => return Err(Error::io(path, cause)),
    };
    let complete_len = bytes
        .iter()
        .rposition(|byte| *byte == b'\n')
        .map_or(0, |position| position + 1);
    let mut lines = Vec::new();
    for (index, raw) in bytes[..complete_len]
        .split(|byte| *byte == b'\n')
        .enumerate()
    {
        if raw.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let line: ResultLine = serde_json::from_slice(raw).map_err(|error| Error::Results {
            path: path.to_path_buf(),
            line: index + 1,
            reason: error.to_string(),
        })?;
        lines.push(line);
    }
    Ok(ReadResults {
        lines,
        complete_len: complete_len as u64,
        torn_tail: complete_len < bytes.len(),
    })
}

/// Lines of several results files (shards of one study), each (point, seed)
/// once: the first occurrence wins.
pub fn merge_results(paths: &[PathBuf]) -> Result<Vec<ResultLine>> {
    let mut seen = BTreeSet::new();
    let mut merged = Vec::new();
    for path in paths {
        for line in read_results(path)?.lines {
            if seen.insert((line.point.clone(), line.seed)) {
                merged.push(line);
            }
        }
    }
    Ok(merged)
}

/// An open results file that appends whole lines.
#[derive(Debug)]
pub struct ResultsFile {
    path: PathBuf,
    file: File,
}

impl ResultsFile {
    /// Opens (creating) a results file for appending, after cutting off a
    /// torn last line. Returns the file and the complete lines already in it.
    pub fn open(path: &Path) -> Result<(Self, Vec<ResultLine>)> {
        let existing = read_results(path)?;
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|cause| Error::io(path, cause))?;
        if existing.torn_tail {
            file.set_len(existing.complete_len)
                .map_err(|cause| Error::io(path, cause))?;
            file.sync_all().map_err(|cause| Error::io(path, cause))?;
        }
        Ok((
            Self {
                path: path.to_path_buf(),
                file,
            },
            existing.lines,
        ))
    }

    /// Appends one line with a single write and syncs it to disk.
    pub fn append(&mut self, line: &ResultLine) -> Result<()> {
        let mut text = serde_json::to_string(line).map_err(|error| Error::Results {
            path: self.path.clone(),
            line: 0,
            reason: format!("cannot serialise result: {error}"),
        })?;
        text.push('\n');
        self.file
            .write_all(text.as_bytes())
            .map_err(|cause| Error::io(&self.path, cause))?;
        self.file
            .sync_data()
            .map_err(|cause| Error::io(&self.path, cause))
    }
}
