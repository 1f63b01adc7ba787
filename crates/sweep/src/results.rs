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
use songvae_run::metric::{Metric, MetricValues};
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
// No `deny_unknown_fields`: serde does not combine it with `flatten`; the
// metric values refuse any key that is neither a field nor a metric.
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
    /// Every metric of the table (`songvae_run::metric`), written flat:
    /// one key per metric, `null` when absent.
    #[serde(flatten)]
    pub values: MetricValues,
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
        line.values.set_run(result);
        if let Some(scores) = &result.scores {
            line.k = Some(scores.k);
            line.labels.clone_from(&scores.labels);
            line.set_absent(scores);
        }
        line
    }

    /// Copies the clustering scores (a baseline's, or a run's).
    pub fn set_scores(&mut self, scores: &Scores) {
        self.k = Some(scores.k);
        self.values.set_scores(scores);
        self.labels.clone_from(&scores.labels);
        self.set_absent(scores);
    }

    /// Copies why scores are absent, keyed by their metric's key.
    fn set_absent(&mut self, scores: &Scores) {
        self.absent.clear();
        for (key, reason) in &scores.absent {
            let column = match Metric::from_key(key) {
                Some(metric) => metric.key().to_owned(),
                None => key.clone(),
            };
            self.absent.insert(column, reason.clone());
        }
    }

    /// The value of an external score (ARI, NMI or purity) against one label column.
    #[must_use]
    pub fn label_metric(&self, label: &str, column: Column) -> Option<f64> {
        let scores = self.labels.iter().find(|scores| scores.label == label)?;
        match column {
            Column::ARI => Some(scores.ari),
            Column::NMI => Some(scores.nmi),
            Column::PURITY => Some(scores.purity),
            _ => None,
        }
    }

    /// The value of a numeric column.
    #[must_use]
    pub fn metric(&self, column: Column) -> Option<f64> {
        match column {
            Column::Metric(metric) => self.values.get(metric),
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
