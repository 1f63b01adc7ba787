//! What a run reports: its status, loss curves and scores (`result.json`),
//! and the outcome record a training process leaves for the sweep that
//! started it.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use songvae_metrics::scoring::Scores;

use crate::config::RunConfig;

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Trained to convergence or to `max_epochs`, then clustered and scored.
    Completed,
    /// A loss became NaN or infinite; training stopped at `diverged_epoch`.
    Diverged,
}

/// Loss per epoch.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LossCurves {
    /// Mean training loss (reconstruction + weighted KL) per epoch.
    pub train_loss: Vec<f64>,
    /// Validation loss per epoch (latent mean decoded, KL weighted).
    pub validation_loss: Vec<f64>,
    /// Mean training reconstruction part per epoch.
    pub reconstruction_loss: Vec<f64>,
    /// Mean training KL part (unweighted) per epoch: for `vade` the
    /// mixture KL, for `idec` the clustering loss `KL(P || Q)`.
    pub kl_divergence: Vec<f64>,
    /// `vade` and `idec`: mean training reconstruction loss per epoch of
    /// the autoencoder pretraining (the curves above are the joint phase).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pretrain_loss: Vec<f64>,
    /// `idec`: share of tracks whose most likely cluster changed, at each
    /// update of the target distribution after the first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub assignment_changes: Vec<f64>,
}

impl LossCurves {
    /// The curve early stopping watched and `converged_epoch` is read
    /// from: the validation loss, or the training loss of a run that held
    /// no tracks out (`validation_fraction: 0`, no validation curve).
    #[must_use]
    pub fn watched(&self) -> &[f64] {
        if self.validation_loss.is_empty() {
            &self.train_loss
        } else {
            &self.validation_loss
        }
    }
}

/// Share of a run's own total validation improvement that may still be
/// ahead of it when [`converged_epoch`] counts it as converged.
pub const CONVERGENCE_SHARE: f64 = 0.05;

/// The epoch (1-based) at which a run converged, relative to its own
/// progress: the first epoch from which the best validation loss so far
/// is within [`CONVERGENCE_SHARE`] of the run's total improvement (from the
/// first epoch after KL warm-up to the best loss of the run) above that
/// best loss. The running best makes the answer robust to noisy curves
/// and monotone: once reached it holds to the end.
///
/// A fast learner converges early, a steady slow learner late (near its
/// last epoch, which also says it was still improving when it stopped), a
/// plateau then a drop after the drop. `None` for a run that did not learn
/// (its best loss is not below its first counted epoch's by more than
/// `tolerance` of it, the relative improvement early stopping counts as
/// progress: a flat curve's "convergence" would be noise), for an empty
/// curve, and for one with a non-finite loss (a diverged run).
///
/// Early stopping keeps its own rule (`patience` epochs without a relative
/// improvement above `tolerance`, see `songvae-train`): it decides when to
/// stop, this says when the run had done its learning. They differ most
/// for slow learners, whose per-epoch improvements are under `tolerance`
/// from the start.
#[must_use]
pub fn converged_epoch(validation: &[f64], warmup_epochs: usize, tolerance: f64) -> Option<usize> {
    if validation.is_empty() || validation.iter().any(|loss| !loss.is_finite()) {
        return None;
    }
    let start = warmup_epochs.min(validation.len() - 1);
    let mut running_best = Vec::with_capacity(validation.len() - start);
    let mut best = f64::INFINITY;
    for loss in &validation[start..] {
        best = best.min(*loss);
        running_best.push(best);
    }
    let total_improvement = validation[start] - best;
    if total_improvement <= tolerance * validation[start].abs() || total_improvement <= 0.0 {
        return None;
    }
    let threshold = best + CONVERGENCE_SHARE * total_improvement;
    for (offset, best_so_far) in running_best.iter().enumerate() {
        if *best_so_far <= threshold {
            return Some(start + offset + 1);
        }
    }
    Some(validation.len())
}

/// What a run reports (written as `result.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    /// The config that ran.
    pub config: RunConfig,
    /// How it ended.
    pub status: RunStatus,
    /// Epoch (1-based) in which the loss became NaN or infinite.
    pub diverged_epoch: Option<usize>,
    /// Epochs trained.
    pub epochs_run: usize,
    /// Epoch at which the run had made all but [`CONVERGENCE_SHARE`] of its
    /// own validation improvement ([`converged_epoch`]); `None` when it
    /// diverged or did not learn.
    pub converged_epoch: Option<usize>,
    /// Epochs at whose plateau the learning rate was multiplied by
    /// `plateau_factor` instead of stopping (`plateau_decays` of them at most).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub plateau_decay_epochs: Vec<usize>,
    /// Training loss of the last epoch.
    pub final_train_loss: Option<f64>,
    /// Validation loss of the last epoch.
    pub final_validation_loss: Option<f64>,
    /// Reconstruction part of the last epoch's training loss.
    pub reconstruction_loss: Option<f64>,
    /// KL part (unweighted) of the last epoch's training loss.
    pub kl_divergence: Option<f64>,
    /// Per-epoch curves.
    pub curves: LossCurves,
    /// Scores of the run's clusters (absent after divergence): the study's
    /// clustering of the latent means, or, for the models that cluster by
    /// design (`vade`, `idec`), their own clusters.
    pub scores: Option<Scores>,
    /// `vade` and `idec`: scores of the study's clustering of their latent
    /// means, as every other model is scored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latent_kmeans_scores: Option<Scores>,
    /// `vade` and `idec`: how many of the k mixture components (clusters) no
    /// track fell in; above 0 the model collapsed onto fewer clusters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub empty_clusters: Option<usize>,
    /// `vade`: the mixture's weights at the end of training (positive,
    /// summing to 1); a weight near 0 is a component that died.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mixture_weights: Option<Vec<f64>>,
    /// Wall time of training (not clustering), seconds.
    pub train_time_sec: f64,
    /// Peak resident memory of the process hosting the run, MB (`VmHWM` of
    /// `/proc/self/status`): a run alone, its own peak; a member of a
    /// stacked group, the group process's peak when the member ended.
    pub memory_mb: Option<f64>,
    /// Trainable parameters.
    pub parameters: i64,
    /// The device it ran on, for example `cpu` or `cuda:0`.
    pub device: String,
    /// The processor's model name (`/proc/cpuinfo`), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processor: Option<String>,
    /// The CPU kernel variables the process ran with, `NAME=value`
    /// ([`crate::machine`]; empty: the libraries chose for the processor).
    #[serde(default)]
    pub kernel_environment: Vec<String>,
    /// Tracks trained on and held out.
    pub train_tracks: usize,
    /// Tracks held out for validation.
    pub validation_tracks: usize,
}

/// The environment variable that gives a training process the process id
/// of the sweep that started it. On Linux the process asks for SIGTERM
/// when its parent exits (`PR_SET_PDEATHSIG`) and then compares its parent
/// with this id, which catches a sweep that died before the request took
/// effect; the killed run is not recorded, and a resume runs it again.
pub const SWEEP_PID_VARIABLE: &str = "SONGVAE_SWEEP_PID";

/// How a training process ended, written by `songvae-train --outcome FILE`
/// and read by the sweep that started it instead of the process's stderr.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunOutcome {
    /// `completed` or `diverged` when training ran (see [`RunStatus`]),
    /// `failed` when it could not.
    pub status: OutcomeStatus,
    /// Why it failed: the error, each cause once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The `result.json` written, when training ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<PathBuf>,
}

/// The status of a [`RunOutcome`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeStatus {
    /// Trained and scored.
    Completed,
    /// The loss became NaN or infinite.
    Diverged,
    /// The run could not train: bad config for this dataset, unreadable
    /// features, an unavailable device.
    Failed,
}

impl From<RunStatus> for OutcomeStatus {
    fn from(status: RunStatus) -> Self {
        match status {
            RunStatus::Completed => Self::Completed,
            RunStatus::Diverged => Self::Diverged,
        }
    }
}

/// The runs one `songvae-train --group FILE` process trains as a stacked
/// group, written by the sweep that starts it. The process writes each
/// member's outputs into its `out` directory and its [`RunOutcome`] to its
/// `outcome` file as the member ends, then prints the member's index on a
/// line of its standard output, so the sweep records it at once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupFile {
    /// The members, in the order their indices count.
    pub members: Vec<GroupMember>,
}

/// One run of a [`GroupFile`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupMember {
    /// Its run config (JSON).
    pub config: PathBuf,
    /// Its run directory.
    pub out: PathBuf,
    /// Where its outcome record goes.
    pub outcome: PathBuf,
}
