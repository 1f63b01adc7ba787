//! The config of one training run, checked before any tensor is made.

use std::path::Path;

use serde::{Deserialize, Serialize};
use songvae_metrics::gaussian_mixture::CovarianceType;
use songvae_metrics::scoring::{ClusteringAlgorithm, ClusteringConfig, MAX_DRAWS};

use crate::device::DeviceChoice;
use crate::machine::Kernels;
use crate::spec::{Activation, Architecture, ModelSpec};

use crate::error::{Error, Result};

/// One training run. Unknown keys are rejected.
///
/// | key | default | valid |
/// |---|---|---|
/// | `architecture` | `vae` | `vae`, `conv_vae`, `beta_vae`, `cvae`, `ae`, `vade`, `idec` |
/// | `latent_dim` | 16 | 1 ..= 4096 |
/// | `hidden_dim` | 256 | 1 ..= 65536 |
/// | `depth` | 2 | 1 ..= 8 |
/// | `activation` | `relu` | `relu`, `tanh`, `elu`: hidden layers of the dense models |
/// | `bounded_code` | `false` | `true` puts the `ae`'s code through `tanh` (`ae` only) |
/// | `learning_rate` | 1e-3 | > 0, <= 100 |
/// | `beta` | 1.0 | >= 0 (KL weight; 1 is the plain VAE) |
/// | `batch_size` | 32 | >= 1 |
/// | `max_epochs` | 200 | 1 ..= 100000 |
/// | `patience` | 10 | >= 1 epochs |
/// | `min_epochs` | 0 | <= `max_epochs`; early stopping never ends a run before this (small datasets often sit on a plateau first) |
/// | `tolerance` | 1e-3 | >= 0 (relative validation-loss improvement) |
/// | `plateau_decays` | 0 | 0 ..= 10: at a plateau (patience epochs without progress, after `min_epochs`) the learning rate is multiplied by `plateau_factor` and training goes on, this many times; the next plateau ends the run (0: the first plateau ends it) |
/// | `plateau_factor` | 0.2 | 0 < f < 1 |
/// | `gradient_clip` | none | > 0 (maximum gradient norm) |
/// | `kl_warmup_epochs` | 0 | KL weight rises linearly from 0 to `beta` over these epochs |
/// | `validation_fraction` | 0.2 | 0 <= f < 1; tracks held out for early stopping; 0 holds none out (every track trains, as a run of fixed length wants: `min_epochs` = `max_epochs`), and early stopping then watches the epoch's mean training loss |
/// | `condition` | none | label column that conditions a `cvae` |
/// | `pretrain_epochs` | 100 | 1 ..= 100000; `vade` and `idec` only: autoencoder pretraining epochs before the mixture / k-means fit |
/// | `gamma` | 0.1 | > 0, <= 1000; `idec` only: weight of the clustering loss `KL(P \|\| Q)` |
/// | `update_interval` | none: once per epoch, at least 100 steps apart | >= 1 steps; `idec` only: steps between updates of the target `P` |
/// | `assignment_tolerance` | 0.001 | 0 <= t < 1; `idec` only: fine-tuning ends when fewer than this share of tracks change cluster between two target updates |
///
/// `idec` ends on its own rule (`assignment_tolerance`, or `max_epochs`):
/// `patience`, `min_epochs`, `tolerance`, the plateau decays, `beta` and the
/// KL warm-up do not apply to it, as `beta` does not to the `ae`; `vade`
/// uses them all, for its joint phase.
/// | `seed` | 0 | any u64 |
/// | `device` | `auto` | `auto`, `cpu`, `cuda`, `cuda:N` |
/// | `intra_op_threads` | 1 | 1 ..= 256; set once per process by the binary |
/// | `kernels` | `native` | `native` (the libraries pick for the processor: the same numbers on the same machine) or `strict` (the same CPU kernels, so the same numbers, on Intel and AMD; slower); see [`crate::machine::Kernels`]; set once per process |
/// | `clustering` | `{"algorithm": "kmeans"}` | see `songvae_metrics::scoring::ClusteringConfig` |
///
/// Valid by construction when parsed: deserialising checks every range
/// ([`RunConfig::validate`]) in the same step, so a `RunConfig` read from
/// JSON (a config file, a sweep spec, a `result.json`) is a valid one.
// `remote = "Self"` makes serde's derive generate inherent `serialize` and
// `deserialize` functions; the trait impls below call them and check the
// result, without a second copy of the fields.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", deny_unknown_fields, default)]
pub struct RunConfig {
    /// Model family.
    pub architecture: Architecture,
    /// Latent size.
    pub latent_dim: usize,
    /// Width of the first hidden layer.
    pub hidden_dim: usize,
    /// Hidden layers in the encoder.
    pub depth: usize,
    /// Non-linearity of the dense models' hidden layers.
    #[serde(skip_serializing_if = "is_default")]
    pub activation: Activation,
    /// A `tanh` on the autoencoder's code.
    #[serde(skip_serializing_if = "is_default")]
    pub bounded_code: bool,
    /// Adam learning rate.
    pub learning_rate: f64,
    /// Weight of the KL term.
    pub beta: f64,
    /// Tracks per batch.
    pub batch_size: usize,
    /// Upper bound on epochs.
    pub max_epochs: usize,
    /// Epochs without relative improvement above `tolerance` before stopping.
    pub patience: usize,
    /// Epochs that always run before early stopping may end the run.
    pub min_epochs: usize,
    /// Relative improvement of the validation loss that counts as progress.
    pub tolerance: f64,
    /// Learning-rate decays at a plateau before a plateau ends the run.
    #[serde(skip_serializing_if = "is_default")]
    pub plateau_decays: usize,
    /// Factor of each plateau decay.
    #[serde(skip_serializing_if = "is_default_plateau_factor")]
    pub plateau_factor: f64,
    /// Maximum gradient norm, when clipping.
    pub gradient_clip: Option<f64>,
    /// Epochs of linear KL warm-up.
    pub kl_warmup_epochs: usize,
    /// Share of tracks held out for validation.
    pub validation_fraction: f64,
    /// Label column that conditions the CVAE.
    pub condition: Option<String>,
    /// Autoencoder pretraining epochs of `vade` and `idec`.
    #[serde(skip_serializing_if = "is_default_pretrain_epochs")]
    pub pretrain_epochs: usize,
    /// IDEC's weight of the clustering loss.
    #[serde(skip_serializing_if = "is_default_gamma")]
    pub gamma: f64,
    /// IDEC's steps between target updates; `None`: once per epoch, at
    /// least 100 steps apart.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub update_interval: Option<usize>,
    /// IDEC's stopping share of changed assignments.
    #[serde(skip_serializing_if = "is_default_assignment_tolerance")]
    pub assignment_tolerance: f64,
    /// Seed of every random draw of the run.
    pub seed: u64,
    /// Where to compute.
    pub device: DeviceChoice,
    /// libtorch intra-op threads of the hosting process.
    pub intra_op_threads: usize,
    /// CPU kernel paths of the hosting process.
    #[serde(skip_serializing_if = "is_default")]
    pub kernels: Kernels,
    /// How the latent means are clustered afterwards.
    pub clustering: ClusteringConfig,
}

impl Default for RunConfig {
    fn default() -> Self {
        Self {
            architecture: Architecture::Vae,
            latent_dim: 16,
            hidden_dim: 256,
            depth: 2,
            activation: Activation::Relu,
            bounded_code: false,
            learning_rate: 1e-3,
            beta: 1.0,
            batch_size: 32,
            max_epochs: 200,
            patience: 10,
            min_epochs: 0,
            tolerance: 1e-3,
            plateau_decays: 0,
            plateau_factor: DEFAULT_PLATEAU_FACTOR,
            gradient_clip: None,
            kl_warmup_epochs: 0,
            validation_fraction: 0.2,
            condition: None,
            pretrain_epochs: DEFAULT_PRETRAIN_EPOCHS,
            gamma: DEFAULT_GAMMA,
            update_interval: None,
            assignment_tolerance: DEFAULT_ASSIGNMENT_TOLERANCE,
            seed: 0,
            device: DeviceChoice::Auto,
            intra_op_threads: 1,
            kernels: Kernels::Native,
            clustering: ClusteringConfig::default(),
        }
    }
}

/// The default of `plateau_factor`.
const DEFAULT_PLATEAU_FACTOR: f64 = 0.2;

/// The default of `pretrain_epochs`: about where the study's base VAE and
/// AE have made 95% of their validation improvement on the four datasets
/// (mean converged epochs 13 to 110 in `docs/results/`), without the cost
/// of a full run (`docs/sweep.md`).
const DEFAULT_PRETRAIN_EPOCHS: usize = 100;

/// The default of `gamma`, IDEC's published value.
const DEFAULT_GAMMA: f64 = 0.1;

/// The default of `assignment_tolerance`, IDEC's published `tol` (0.1%).
const DEFAULT_ASSIGNMENT_TOLERANCE: f64 = 0.001;

/// Keys added after the study's first sweeps are left out of the JSON at
/// their defaults, so configs (and sweep point ids) written before them
/// stay the same.
fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

// serde's `skip_serializing_if` passes the field by reference.
#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_default_plateau_factor(factor: &f64) -> bool {
    factor.to_bits() == DEFAULT_PLATEAU_FACTOR.to_bits()
}

// serde's `skip_serializing_if` passes the field by reference.
#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_default_pretrain_epochs(epochs: &usize) -> bool {
    *epochs == DEFAULT_PRETRAIN_EPOCHS
}

// serde's `skip_serializing_if` passes the field by reference.
#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_default_gamma(gamma: &f64) -> bool {
    gamma.to_bits() == DEFAULT_GAMMA.to_bits()
}

// serde's `skip_serializing_if` passes the field by reference.
#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_default_assignment_tolerance(tolerance: &f64) -> bool {
    tolerance.to_bits() == DEFAULT_ASSIGNMENT_TOLERANCE.to_bits()
}

fn invalid(key: &str, reason: impl Into<String>) -> Error {
    Error::InvalidConfig {
        key: key.to_owned(),
        reason: reason.into(),
    }
}

impl Serialize for RunConfig {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        Self::serialize(self, serializer)
    }
}

impl<'de> Deserialize<'de> for RunConfig {
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Self, D::Error> {
        let config = Self::deserialize(deserializer)?;
        config.validate().map_err(serde::de::Error::custom)?;
        Ok(config)
    }
}

/// What runs trained as one stacked group share (see
/// `songvae_train::group`): the architecture and every shape, the batch
/// size, the validation fraction (the split sizes), the device, the
/// threads and the kernels. Members may differ in everything else: seed, learning rate,
/// beta, KL warm-up, epochs, patience, tolerance, plateau decays, gradient
/// clip and the clustering step.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupKey {
    /// The model (architecture, sizes, activation, code), one that stacks.
    pub model: ModelSpec,
    /// Tracks per batch.
    pub batch_size: usize,
    /// Held-out share, as its bits (the split sizes must agree).
    pub validation_fraction_bits: u64,
    /// Where to compute.
    pub device: DeviceChoice,
    /// libtorch threads of the hosting process.
    pub intra_op_threads: usize,
    /// CPU kernel paths of the hosting process.
    pub kernels: Kernels,
}

impl RunConfig {
    /// The group this run can train in; `None` when its architecture
    /// trains one model per process (`cvae`, `conv_vae`).
    #[must_use]
    pub fn group_key(&self) -> Option<GroupKey> {
        self.architecture.stacks().then(|| GroupKey {
            model: self.model_spec(),
            batch_size: self.batch_size,
            validation_fraction_bits: self.validation_fraction.to_bits(),
            device: self.device,
            intra_op_threads: self.intra_op_threads,
            kernels: self.kernels,
        })
    }

    /// Reads and validates a JSON config file.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|error| Error::ConfigSyntax {
            path: path.to_path_buf(),
            reason: error.to_string(),
        })?;
        let config: Self = serde_json::from_str(&text).map_err(|error| Error::ConfigSyntax {
            path: path.to_path_buf(),
            reason: error.to_string(),
        })?;
        config.validate()?;
        Ok(config)
    }

    /// The model part of the config.
    #[must_use]
    pub fn model_spec(&self) -> ModelSpec {
        ModelSpec {
            architecture: self.architecture,
            latent_dim: self.latent_dim,
            hidden_dim: self.hidden_dim,
            depth: self.depth,
            activation: self.activation,
            bounded_code: self.bounded_code,
        }
    }

    /// The early-stopping keys: `min_epochs`, `patience`, `tolerance` and the plateau decays.
    fn validate_stopping(&self) -> Result<()> {
        if self.min_epochs > self.max_epochs {
            return Err(invalid(
                "min_epochs",
                format!(
                    "{} is above max_epochs ({})",
                    self.min_epochs, self.max_epochs
                ),
            ));
        }
        if self.patience == 0 {
            return Err(invalid("patience", "must be at least 1"));
        }
        if !(self.tolerance >= 0.0 && self.tolerance.is_finite()) {
            return Err(invalid(
                "tolerance",
                format!("{} must be finite and >= 0", self.tolerance),
            ));
        }
        if self.plateau_decays > 10 {
            return Err(invalid(
                "plateau_decays",
                format!("{} is outside 0 to 10", self.plateau_decays),
            ));
        }
        if !(self.plateau_factor > 0.0 && self.plateau_factor < 1.0) {
            return Err(invalid(
                "plateau_factor",
                format!("{} is outside (0, 1)", self.plateau_factor),
            ));
        }
        Ok(())
    }

    /// The keys of the models that cluster by design: ranges, and no value
    /// away from its default on an architecture that does not read it.
    fn validate_clustering_model(&self) -> Result<()> {
        let clusters_by_design = self.architecture.clusters_by_design();
        let is_idec = self.architecture == Architecture::Idec;
        if self.pretrain_epochs == 0 || self.pretrain_epochs > 100_000 {
            return Err(invalid(
                "pretrain_epochs",
                format!("{} is outside 1 to 100000", self.pretrain_epochs),
            ));
        }
        if !clusters_by_design && self.pretrain_epochs != DEFAULT_PRETRAIN_EPOCHS {
            return Err(invalid("pretrain_epochs", "applies to vade and idec only"));
        }
        if !(self.gamma > 0.0 && self.gamma <= 1000.0) {
            return Err(invalid(
                "gamma",
                format!("{} is outside (0, 1000]", self.gamma),
            ));
        }
        if !(self.assignment_tolerance >= 0.0 && self.assignment_tolerance < 1.0) {
            return Err(invalid(
                "assignment_tolerance",
                format!("{} is outside [0, 1)", self.assignment_tolerance),
            ));
        }
        if self.update_interval == Some(0) {
            return Err(invalid("update_interval", "must be at least 1 step"));
        }
        if !is_idec {
            let idec_keys = [
                ("gamma", !is_default_gamma(&self.gamma)),
                ("update_interval", self.update_interval.is_some()),
                (
                    "assignment_tolerance",
                    !is_default_assignment_tolerance(&self.assignment_tolerance),
                ),
            ];
            for (key, set) in idec_keys {
                if set {
                    return Err(invalid(key, "applies to idec only"));
                }
            }
        }
        Ok(())
    }

    /// Checks every value against its valid range (the table above). Checks
    /// that need the dataset (frames, condition column, k) run when the data
    /// is loaded.
    pub fn validate(&self) -> Result<()> {
        if !(self.learning_rate > 0.0 && self.learning_rate <= 100.0) {
            return Err(invalid(
                "learning_rate",
                format!("{} is outside (0, 100]", self.learning_rate),
            ));
        }
        if !(self.beta >= 0.0 && self.beta.is_finite()) {
            return Err(invalid(
                "beta",
                format!("{} must be finite and >= 0", self.beta),
            ));
        }
        if self.batch_size == 0 {
            return Err(invalid("batch_size", "must be at least 1"));
        }
        if self.max_epochs == 0 || self.max_epochs > 100_000 {
            return Err(invalid(
                "max_epochs",
                format!("{} is outside 1 to 100000", self.max_epochs),
            ));
        }
        self.validate_stopping()?;
        self.validate_clustering_model()?;
        if let Some(clip) = self.gradient_clip
            && !(clip > 0.0 && clip.is_finite())
        {
            return Err(invalid(
                "gradient_clip",
                format!("{clip} must be finite and > 0"),
            ));
        }
        if !(self.validation_fraction >= 0.0 && self.validation_fraction < 1.0) {
            return Err(invalid(
                "validation_fraction",
                format!("{} is outside [0, 1)", self.validation_fraction),
            ));
        }
        if self.intra_op_threads == 0 || self.intra_op_threads > 256 {
            return Err(invalid(
                "intra_op_threads",
                format!("{} is outside 1 to 256", self.intra_op_threads),
            ));
        }
        if self.clustering.n_init == 0 {
            return Err(invalid("clustering.n_init", "must be at least 1"));
        }
        if self.clustering.draws == 0 || self.clustering.draws > MAX_DRAWS {
            return Err(invalid(
                "clustering.draws",
                format!("{} is outside 1 to {MAX_DRAWS}", self.clustering.draws),
            ));
        }
        if self.clustering.covariance != CovarianceType::Full
            && self.clustering.algorithm != ClusteringAlgorithm::Gmm
        {
            return Err(invalid(
                "clustering.covariance",
                "applies to the gmm algorithm only",
            ));
        }
        if let Some(k) = self.clustering.k
            && k < 2
        {
            return Err(invalid("clustering.k", format!("{k} is below 2")));
        }
        if self.architecture == Architecture::Cvae && self.condition.is_none() {
            return Err(invalid(
                "condition",
                "cvae needs a label column to condition on",
            ));
        }
        let shape_free = crate::spec::DataShape {
            feature_dim: 1,
            frames: Some((1, 1)),
            lyrics_dim: 0,
            condition_classes: 2,
        };
        self.model_spec().validate(&shape_free)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parsing checks the ranges: a bad value fails to parse.
    fn error_of(json: &str) -> String {
        serde_json::from_str::<RunConfig>(json)
            .expect_err("an invalid config must not parse")
            .to_string()
    }

    #[test]
    fn defaults_are_the_study_base_point() {
        let config: RunConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(config, RunConfig::default());
        assert_eq!(config.latent_dim, 16);
        assert_eq!(config.hidden_dim, 256);
        assert_eq!(config.batch_size, 32);
        config.validate().unwrap();
    }

    #[test]
    fn bad_values_name_their_key() {
        let cases = [
            (r#"{"learning_rate": 0}"#, "learning_rate"),
            (r#"{"beta": -1}"#, "beta"),
            (r#"{"batch_size": 0}"#, "batch_size"),
            (r#"{"validation_fraction": 1.0}"#, "validation_fraction"),
            (r#"{"validation_fraction": -0.1}"#, "validation_fraction"),
            (r#"{"latent_dim": 0}"#, "latent_dim"),
            (r#"{"gradient_clip": 0}"#, "gradient_clip"),
            (r#"{"clustering": {"k": 1}}"#, "clustering.k"),
            (r#"{"architecture": "cvae"}"#, "condition"),
            (r#"{"intra_op_threads": 0}"#, "intra_op_threads"),
            (
                r#"{"kernels": "fastest"}"#,
                "unknown variant `fastest`, expected `strict` or `native`",
            ),
            (r#"{"min_epochs": 500, "max_epochs": 100}"#, "min_epochs"),
            (r#"{"plateau_decays": 11}"#, "plateau_decays"),
            (r#"{"plateau_factor": 1.0}"#, "plateau_factor"),
            (
                r#"{"bounded_code": true}"#,
                "bounded_code: a bounded (tanh) code applies to the ae only",
            ),
            (
                r#"{"architecture": "conv_vae", "activation": "tanh"}"#,
                "activation: the conv_vae's layers use relu",
            ),
            (
                r#"{"pretrain_epochs": 20}"#,
                "pretrain_epochs: applies to vade and idec only",
            ),
            (
                r#"{"architecture": "vade", "pretrain_epochs": 0}"#,
                "pretrain_epochs: 0 is outside 1 to 100000",
            ),
            (
                r#"{"architecture": "vade", "gamma": 0.5}"#,
                "gamma: applies to idec only",
            ),
            (
                r#"{"architecture": "idec", "gamma": 0}"#,
                "gamma: 0 is outside",
            ),
            (
                r#"{"architecture": "idec", "update_interval": 0}"#,
                "update_interval: must be at least 1 step",
            ),
            (
                r#"{"architecture": "idec", "assignment_tolerance": 1.0}"#,
                "assignment_tolerance: 1 is outside [0, 1)",
            ),
            (
                r#"{"architecture": "ae", "update_interval": 5}"#,
                "update_interval: applies to idec only",
            ),
            (
                r#"{"clustering": {"draws": 0}}"#,
                "clustering.draws: 0 is outside 1 to 1000",
            ),
            (
                r#"{"clustering": {"draws": 1001}}"#,
                "clustering.draws: 1001 is outside 1 to 1000",
            ),
        ];
        for (json, key) in cases {
            let message = error_of(json);
            assert!(message.contains(key), "{json}: {message}");
        }
    }

    #[test]
    fn keys_added_later_stay_out_of_the_json_at_their_defaults() {
        let json = serde_json::to_value(RunConfig::default()).unwrap();
        for key in [
            "activation",
            "bounded_code",
            "plateau_decays",
            "plateau_factor",
            "kernels",
            "pretrain_epochs",
            "gamma",
            "update_interval",
            "assignment_tolerance",
        ] {
            assert!(json.get(key).is_none(), "{key} is written at its default");
        }
        assert!(
            json["clustering"].get("draws").is_none(),
            "clustering.draws is written at its default"
        );
        let tanh: RunConfig =
            serde_json::from_str(r#"{"activation": "tanh", "plateau_decays": 2}"#).unwrap();
        let json = serde_json::to_value(&tanh).unwrap();
        assert_eq!(json["activation"], "tanh");
        assert_eq!(json["plateau_decays"], 2);
        tanh.validate().unwrap();
    }

    #[test]
    fn unknown_keys_and_values_are_rejected() {
        assert!(error_of(r#"{"laten_dim": 8}"#).contains("unknown field `laten_dim`"));
        assert!(error_of(r#"{"architecture": "gan"}"#).contains("unknown variant `gan`"));
        assert!(error_of(r#"{"device": "gpu"}"#).contains("invalid device 'gpu'"));
        assert!(error_of(r#"{"activation": "gelu"}"#).contains("unknown variant `gelu`"));
        assert!(error_of(r#"{"clustering": {"algorithm": "dbscan"}}"#).contains("unknown variant"));
        assert!(
            error_of(r#"{"clustering": {"covariance": "diag"}}"#)
                .contains("clustering.covariance: applies to the gmm algorithm only")
        );
    }
}
