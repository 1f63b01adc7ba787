//! The sweep spec (JSON) and the checked plan it expands into.
//!
//! A spec names a dataset, a base run config and axes; every axis lists the
//! values of one run-config key (`parameter` + `values`) or named variants
//! that set several keys at once or stand for a baseline (`variants`).
//! [`load_plan`] parses the spec (unknown keys are an error), builds the run
//! config of every point, validates each one and gives every point a stable
//! id, all before any training starts.
//!
//! | key | default | valid |
//! |---|---|---|
//! | `name` | required | non-empty; names the default output directory `runs/<name>` |
//! | `dataset` | required | path of a `dataset.json`, relative to the spec file |
//! | `features` | defaults | `FeatureSettings` of `songvae-features` (modalities, MFCC, lyrics, fusion) |
//! | `base` | run-config defaults | a run config (`songvae_run::config::RunConfig`); the point every axis varies around |
//! | `axes` | required | at least one; see [`AxisSpec`] |
//! | `mode` | `one_factor` | `one_factor` (each axis varies alone around `base`) or `grid` (every combination) |
//! | `seeds` | 3 | 1 ..= 1000 seeds per point: `first_seed`, `first_seed + 1`, ... |
//! | `first_seed` | 0 | any u64 |
//! | `clustering` | `{"algorithms": ["kmeans"]}` | see [`ClusteringSpec`] |
//! | `primary_metric` | `silhouette` | the column that ranks points when an axis names none |

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use songvae_features::dataset::FeatureSettings;
use songvae_metrics::gaussian_mixture::CovarianceType;
use songvae_metrics::scoring::{ClusteringAlgorithm, ClusteringConfig, MAX_DRAWS};
use songvae_run::config::RunConfig;
use songvae_run::device::DeviceChoice;
use songvae_run::metric::{Direction, Metric, TABLE};

use crate::error::{Error, Result};

/// A sweep spec as written. See the module docs for the keys.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepSpec {
    /// Name of the study.
    pub name: String,
    /// The dataset descriptor, relative to the spec file.
    pub dataset: PathBuf,
    /// Feature settings of the dataset build.
    #[serde(default)]
    pub features: FeatureSettings,
    /// The base run config, as a JSON object of run-config keys.
    #[serde(default)]
    pub base: Map<String, Value>,
    /// The axes of the study.
    pub axes: Vec<AxisSpec>,
    /// How axes combine.
    #[serde(default)]
    pub mode: Mode,
    /// Seeds per point.
    #[serde(default = "default_seeds")]
    pub seeds: usize,
    /// The first seed.
    #[serde(default)]
    pub first_seed: u64,
    /// Clustering of the latent means.
    #[serde(default)]
    pub clustering: ClusteringSpec,
    /// Column that ranks the points of an axis that names none.
    #[serde(default = "default_primary")]
    pub primary_metric: Column,
}

fn default_seeds() -> usize {
    3
}

fn default_primary() -> Column {
    Column::SILHOUETTE
}

/// How the axes of a spec combine into points.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Each axis varies alone; every other key stays at the base value.
    #[default]
    OneFactor,
    /// Every combination of the axes' values (baselines once each).
    Grid,
}

/// The clustering step of every point.
///
/// | key | default | valid |
/// |---|---|---|
/// | `algorithms` | `["kmeans"]` | non-empty list of `kmeans`, `agglomerative` (Ward), `gmm`; more than one multiplies every point |
/// | `k` | classes of the primary label | 2 ..= tracks - 1 |
/// | `n_init` | 10 | >= 1 restarts of k-means and of the mixture |
/// | `covariance` | `full` | `full` or `diag`, for the `gmm` points |
/// | `draws` | 1 | 1 ..= 1000 clusterings per run whose scores are averaged (`ClusteringConfig::draws`; the default study sets 10) |
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusteringSpec {
    /// Algorithms applied to the latent means.
    pub algorithms: Vec<ClusteringAlgorithm>,
    /// Number of clusters.
    pub k: Option<usize>,
    /// Restarts of the clustering.
    pub n_init: usize,
    /// Covariance form of the `gmm` points.
    pub covariance: CovarianceType,
    /// Clusterings per run whose scores are averaged.
    pub draws: usize,
}

impl Default for ClusteringSpec {
    fn default() -> Self {
        Self {
            algorithms: vec![ClusteringAlgorithm::Kmeans],
            k: None,
            n_init: 10,
            covariance: CovarianceType::Full,
            draws: 1,
        }
    }
}

/// One axis of the study: either `parameter` + `values`, or `variants`.
///
/// | key | default | valid |
/// |---|---|---|
/// | `name` | required | unique among the axes; names plot files |
/// | `title` | `name` | heading of the axis's report section |
/// | `parameter` | none | a run-config key (dotted for nested keys, `clustering.n_init`); not `seed`, `device`, `intra_op_threads` |
/// | `values` | none | non-empty list of values for `parameter` |
/// | `variants` | none | non-empty list of [`VariantSpec`] |
/// | `columns` | by parameter | report columns, see [`Column`] |
/// | `primary` | the spec's `primary_metric` | the column that ranks this axis |
/// | `baselines` | none | with a `features.*` parameter: baselines (`pca_kmeans`, `raw_kmeans`) run on each value's feature setting, rows `value: baseline` |
///
/// A key (in `parameter` or a variant's `set`) that starts with `features.`
/// sets a feature setting (`features.modalities`,
/// `features.fusion.audio_transform`, `features.lyrics.dims`, ...) on top
/// of the spec's `features`; every distinct feature setting is built once
/// and the points that use it train on it.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AxisSpec {
    /// Short name.
    pub name: String,
    /// Section heading.
    #[serde(default)]
    pub title: Option<String>,
    /// The run-config key this axis varies.
    #[serde(default)]
    pub parameter: Option<String>,
    /// The values of `parameter`.
    #[serde(default)]
    pub values: Vec<Value>,
    /// Named variants.
    #[serde(default)]
    pub variants: Vec<VariantSpec>,
    /// Report columns.
    #[serde(default)]
    pub columns: Vec<Column>,
    /// Ranking column.
    #[serde(default)]
    pub primary: Option<Column>,
    /// Baselines run on each value's feature setting (feature parameters only).
    #[serde(default)]
    pub baselines: Vec<BaselineKind>,
}

/// A named variant of an axis: run-config keys to set, or a baseline.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariantSpec {
    /// Row label in the report.
    pub label: String,
    /// Run-config keys set on top of the base (dotted keys reach nested
    /// ones), and `features.*` keys (the only keys a baseline may set).
    #[serde(default)]
    pub set: Map<String, Value>,
    /// A baseline instead of a trained model.
    #[serde(default)]
    pub baseline: Option<BaselineKind>,
    /// PCA components of a `pca_kmeans` baseline (default: the base `latent_dim`).
    #[serde(default)]
    pub components: Option<usize>,
}

/// Baselines that every VAE must beat to be worth its training time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BaselineKind {
    /// PCA of the fused features to `components` dimensions, then clustering.
    PcaKmeans,
    /// Clustering of the fused features themselves.
    RawKmeans,
}

impl BaselineKind {
    /// The row label of a baseline paired with a feature setting.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Self::PcaKmeans => "PCA+KMeans",
            Self::RawKmeans => "KMeans (raw features)",
        }
    }
}

/// A report column: a metric of the table (`songvae_run::metric`), or a
/// text derived from a row. Written and read as the metric's key (or
/// `convergence_stability`, `best_use_case`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Column {
    /// A metric of the table.
    Metric(Metric),
    /// Across-seed spread of silhouette as a class (see `aggregate`).
    ConvergenceStability,
    /// What a model is best used for (architecture comparison).
    BestUseCase,
}

impl Serialize for Column {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Column {
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        match name.as_str() {
            "convergence_stability" => Ok(Self::ConvergenceStability),
            "best_use_case" => Ok(Self::BestUseCase),
            other => Metric::from_key(other).map(Self::Metric).ok_or_else(|| {
                let mut known: Vec<&str> = TABLE.iter().map(|info| info.key).collect();
                known.extend(["convergence_stability", "best_use_case"]);
                serde::de::Error::custom(format!(
                    "unknown variant `{other}`, expected one of {}",
                    known.join(", ")
                ))
            }),
        }
    }
}

impl Column {
    /// Mean silhouette.
    pub const SILHOUETTE: Self = Self::Metric(Metric::Silhouette);
    /// Adjusted Rand index against the primary label.
    pub const ARI: Self = Self::Metric(Metric::Ari);
    /// Normalised mutual information against the primary label.
    pub const NMI: Self = Self::Metric(Metric::Nmi);
    /// Purity against the primary label.
    pub const PURITY: Self = Self::Metric(Metric::Purity);
    /// Training wall time.
    pub const TRAIN_TIME_SEC: Self = Self::Metric(Metric::TrainTimeSec);

    /// Every metric column, in table order.
    #[must_use]
    pub fn numeric() -> Vec<Self> {
        TABLE.iter().map(|info| Self::Metric(info.metric)).collect()
    }

    /// The column's name in specs, CSV and JSON.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Metric(metric) => metric.key(),
            Self::ConvergenceStability => "convergence_stability",
            Self::BestUseCase => "best_use_case",
        }
    }

    /// The column's title in the report's tables.
    #[must_use]
    pub fn title(self) -> &'static str {
        match self {
            Self::Metric(metric) => metric.info().title,
            other => other.name(),
        }
    }

    /// `Some(true)` when higher is better, `Some(false)` when lower is,
    /// `None` for columns that do not rank (counts, text).
    #[must_use]
    pub fn higher_is_better(self) -> Option<bool> {
        match self {
            Self::Metric(metric) => match metric.info().direction {
                Direction::Higher => Some(true),
                Direction::Lower => Some(false),
                Direction::Unranked => None,
            },
            Self::ConvergenceStability | Self::BestUseCase => None,
        }
    }

    /// Whether the column holds a number per run.
    #[must_use]
    pub fn is_numeric(self) -> bool {
        matches!(self, Self::Metric(_))
    }

    /// The columns the study reports for an axis over `parameter` when the
    /// spec lists none.
    #[must_use]
    pub fn defaults_for(parameter: Option<&str>) -> Vec<Self> {
        match parameter {
            Some("learning_rate") => vec![
                Self::Metric(Metric::Silhouette),
                Self::Metric(Metric::DaviesBouldin),
                Self::Metric(Metric::FinalLoss),
                Self::Metric(Metric::ConvergedEpoch),
                Self::Metric(Metric::TrainTimeSec),
            ],
            Some("beta") => vec![
                Self::Metric(Metric::Silhouette),
                Self::Metric(Metric::DaviesBouldin),
                Self::Metric(Metric::KlDivergence),
                Self::Metric(Metric::ReconstructionLoss),
                Self::Metric(Metric::DisentanglementScore),
            ],
            Some("batch_size") => vec![
                Self::Metric(Metric::Silhouette),
                Self::Metric(Metric::TrainTimeSec),
                Self::Metric(Metric::MemoryMb),
                Self::ConvergenceStability,
            ],
            None => vec![
                Self::Metric(Metric::Silhouette),
                Self::Metric(Metric::Ari),
                Self::Metric(Metric::Nmi),
                Self::Metric(Metric::TrainTimeSec),
                Self::Metric(Metric::Parameters),
                Self::BestUseCase,
            ],
            Some(_) => vec![
                Self::Metric(Metric::Silhouette),
                Self::Metric(Metric::DaviesBouldin),
                Self::Metric(Metric::CalinskiHarabasz),
                Self::Metric(Metric::Ari),
                Self::Metric(Metric::Nmi),
                Self::Metric(Metric::Purity),
                Self::Metric(Metric::TrainTimeSec),
            ],
        }
    }
}

/// What a point computes.
// A plan holds a few hundred jobs, built once: the size gap between a
// config and a baseline's few fields costs nothing worth a Box.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Job {
    /// Train a model with this config (its seed is replaced per run).
    Train(RunConfig),
    /// A baseline over the fused features.
    Baseline {
        /// Which baseline.
        kind: BaselineKind,
        /// PCA components (`pca_kmeans` only).
        components: Option<usize>,
        /// The clustering step.
        clustering: ClusteringConfig,
    },
}

/// One distinct configuration of the study.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Point {
    /// Stable id: a hash of the job, independent of seed, device and thread count.
    pub id: String,
    /// Human label (the axis value, or the grid values joined by ` / `).
    pub label: String,
    /// What it computes.
    pub job: Job,
    /// Id of its [`FeatureSet`] in [`Plan::feature_sets`] (empty in plans
    /// written before feature axes existed: the plan's `features`).
    #[serde(default)]
    pub features: String,
}

/// One distinct feature setting of a study: built once, shared by every
/// point that uses it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FeatureSet {
    /// The first 12 hex digits of the SHA-256 of the settings' JSON.
    pub id: String,
    /// The settings: the spec's `features` with the point's `features.*` keys.
    pub settings: FeatureSettings,
}

/// One row of an axis table: a label and the point it refers to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AxisEntry {
    /// Row label.
    pub label: String,
    /// Id of the point.
    pub point: String,
}

/// A checked axis: its rows and report columns.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Axis {
    /// Short name (plot file names).
    pub name: String,
    /// Section heading.
    pub title: String,
    /// The run-config key varied, when it is one key.
    pub parameter: Option<String>,
    /// Report columns.
    pub columns: Vec<Column>,
    /// The column that ranks the rows.
    pub primary: Column,
    /// Rows in spec order.
    pub entries: Vec<AxisEntry>,
}

/// A checked, expanded sweep: what runs and how the report groups it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// Study name.
    pub name: String,
    /// Hash of the spec's content; a resumed sweep must have the same.
    pub spec_hash: String,
    /// The spec file as given.
    pub spec_path: PathBuf,
    /// The dataset descriptor, resolved against the spec's directory.
    pub dataset: PathBuf,
    /// The spec's feature settings (the base of every feature set).
    pub features: FeatureSettings,
    /// Every distinct feature setting the points use, base first.
    #[serde(default)]
    pub feature_sets: Vec<FeatureSet>,
    /// How the axes combined.
    pub mode: Mode,
    /// The base config every axis varies around.
    pub base: RunConfig,
    /// Seeds of every point.
    pub seeds: Vec<u64>,
    /// Distinct points in first-appearance order.
    pub points: Vec<Point>,
    /// Report tables (in grid mode, one table over every point).
    pub axes: Vec<Axis>,
}

impl Plan {
    /// The ids of the points in plan order: two plans with the same ids run
    /// the same jobs (the id is a hash of the job).
    #[must_use]
    pub fn point_ids(&self) -> Vec<&str> {
        let mut ids = Vec::new();
        for point in &self.points {
            ids.push(point.id.as_str());
        }
        ids
    }

    /// The point with this id.
    #[must_use]
    pub fn point(&self, id: &str) -> Option<&Point> {
        self.points.iter().find(|point| point.id == id)
    }

    /// The feature settings of a point: its feature set's, or the plan's
    /// `features` for a plan written before feature sets existed.
    #[must_use]
    pub fn features_of(&self, point: &Point) -> &FeatureSettings {
        self.feature_sets
            .iter()
            .find(|set| set.id == point.features)
            .map_or(&self.features, |set| &set.settings)
    }
}

/// The root of the keys that set feature settings instead of run-config keys.
const FEATURES_KEY: &str = "features";

/// Keys an axis may not vary: seeds are the spec's `seeds`, the device and
/// thread count are properties of the machine, not of the study.
const RESERVED_KEYS: [&str; 3] = ["seed", "device", "intra_op_threads"];

/// Reads, parses and checks a spec file and expands it into a plan.
pub fn load_plan(path: &Path) -> Result<Plan> {
    load_plan_with_base(path, &[])
}

/// As [`load_plan`], with keys of the spec's `base` set first (a command
/// line's `--kernels`): every point then has them, and its id says so.
pub fn load_plan_with_base(path: &Path, base_keys: &[(&str, Value)]) -> Result<Plan> {
    let text = std::fs::read_to_string(path).map_err(|cause| Error::io(path, cause))?;
    let mut spec: SweepSpec = serde_json::from_str(&text).map_err(|error| Error::SpecSyntax {
        path: path.to_path_buf(),
        reason: error.to_string(),
    })?;
    for (key, value) in base_keys {
        spec.base.insert((*key).to_owned(), value.clone());
    }
    let directory = path.parent().unwrap_or_else(|| Path::new(""));
    let mut plan = expand(&spec, directory)?;
    plan.spec_path = path.to_path_buf();
    plan.spec_hash = hex_digest(text.as_bytes());
    Ok(plan)
}

/// Sets the spec's clustering keys (`n_init`, `draws` when not 1, `k` when
/// given) in the base run config, from where every point inherits them.
fn set_clustering_keys(base_json: &mut Map<String, Value>, clustering: &ClusteringSpec) {
    set_key(
        base_json,
        "clustering.n_init",
        Value::from(clustering.n_init),
    );
    if clustering.draws != 1 {
        set_key(base_json, "clustering.draws", Value::from(clustering.draws));
    }
    if let Some(k) = clustering.k {
        set_key(base_json, "clustering.k", Value::from(k));
    }
}

/// Checks a parsed spec and expands it into a plan; `directory` resolves the
/// dataset path. `spec_path` and `spec_hash` are left empty for the caller.
pub fn expand(spec: &SweepSpec, directory: &Path) -> Result<Plan> {
    check_top_level(spec)?;
    let clustering = check_clustering(&spec.clustering)?;
    let mut base_json = spec.base.clone();
    set_clustering_keys(&mut base_json, &clustering);
    let base = run_config_from("base", &base_json)?;

    let mut axis_variants = Vec::new();
    let mut names = Vec::new();
    for (index, axis) in spec.axes.iter().enumerate() {
        let key = format!("axes[{index}]");
        if axis.name.trim().is_empty() || names.contains(&axis.name) {
            return Err(Error::spec(
                format!("{key}.name"),
                format!("'{}' must be non-empty and unique", axis.name),
            ));
        }
        names.push(axis.name.clone());
        axis_variants.push(axis_variants_of(axis, &key)?);
    }

    let base_features = serde_json::to_value(&spec.features)
        .map_err(|error| Error::spec("features", error.to_string()))?;
    let mut builder = PointBuilder {
        points: Vec::new(),
        feature_sets: Vec::new(),
        base_json: &base_json,
        base_features,
        base_latent: base.latent_dim,
        algorithms: &spec.clustering.algorithms,
        covariance: spec.clustering.covariance,
    };
    let mut axes = Vec::new();
    match spec.mode {
        Mode::OneFactor => {
            for (index, (axis, variants)) in spec.axes.iter().zip(&axis_variants).enumerate() {
                let mut entries = Vec::new();
                for (variant_index, variant) in variants.iter().enumerate() {
                    let key = format!("axes[{index}].{}[{variant_index}]", variant.source);
                    let set: Vec<&Map<String, Value>> = vec![&variant.set];
                    let labels = [variant.label.as_str(), variant.point_label.as_str()];
                    entries.extend(builder.add(&key, labels, &set, variant.baseline)?);
                }
                axes.push(Axis {
                    name: axis.name.clone(),
                    title: axis.title.clone().unwrap_or_else(|| axis.name.clone()),
                    parameter: axis.parameter.clone(),
                    columns: columns_of(axis),
                    primary: primary_of(axis, spec.primary_metric, index)?,
                    entries,
                });
            }
        }
        Mode::Grid => axes.push(grid_axis(spec, &axis_variants, &names, &mut builder)?),
    }

    // The base feature set first, as the one the sweep's dataset summary describes.
    let base_feature_set = builder.feature_set("features", None)?;
    let mut points = builder.points;
    let mut feature_sets = Vec::new();
    for set in &builder.feature_sets {
        let used = points.iter().any(|point| point.features == set.id);
        if set.id == base_feature_set {
            feature_sets.insert(0, set.clone());
        } else if used {
            feature_sets.push(set.clone());
        }
    }
    let canonical_base = canonical(base.clone());
    for point in &mut points {
        if point.job == Job::Train(canonical_base.clone()) && point.features == base_feature_set {
            "base".clone_into(&mut point.label);
        }
    }
    let mut seeds = Vec::new();
    for offset in 0..spec.seeds as u64 {
        let seed = spec
            .first_seed
            .checked_add(offset)
            .ok_or_else(|| Error::spec("first_seed", "first_seed + seeds overflows a u64"))?;
        seeds.push(seed);
    }
    Ok(Plan {
        name: spec.name.clone(),
        spec_hash: String::new(),
        spec_path: PathBuf::new(),
        dataset: directory.join(&spec.dataset),
        features: spec.features.clone(),
        feature_sets,
        mode: spec.mode,
        base,
        seeds,
        points,
        axes,
    })
}

/// Checks the spec's own keys (not its axes).
fn check_top_level(spec: &SweepSpec) -> Result<()> {
    if spec.name.trim().is_empty() {
        return Err(Error::spec("name", "must not be empty"));
    }
    if spec.name.contains(['/', '\\']) || spec.name.starts_with('.') {
        return Err(Error::spec(
            "name",
            format!("'{}' must be usable as a directory name", spec.name),
        ));
    }
    if spec.axes.is_empty() {
        return Err(Error::spec("axes", "must list at least one axis"));
    }
    if spec.seeds == 0 || spec.seeds > 1000 {
        return Err(Error::spec(
            "seeds",
            format!("{} is outside 1 ..= 1000", spec.seeds),
        ));
    }
    if !spec.primary_metric.is_numeric() {
        return Err(Error::spec(
            "primary_metric",
            format!("{} is not a numeric column", spec.primary_metric.name()),
        ));
    }
    spec.features
        .validate()
        .map_err(|error| Error::spec("features", error.to_string()))?;
    if spec.base.contains_key("seed") {
        return Err(Error::spec(
            "base.seed",
            "seeds come from the spec's `seeds` and `first_seed`",
        ));
    }
    Ok(())
}

/// The one table of a grid: every combination of the axes' trained
/// variants, then each baseline once; columns are the union of the axes'.
fn grid_axis(
    spec: &SweepSpec,
    axis_variants: &[Vec<Variant>],
    names: &[String],
    builder: &mut PointBuilder<'_>,
) -> Result<Axis> {
    let mut entries = Vec::new();
    let mut combinations: Vec<Vec<&Variant>> = vec![Vec::new()];
    for variants in axis_variants {
        let mut next = Vec::new();
        for combination in &combinations {
            for variant in variants {
                if variant.baseline.is_some() {
                    continue;
                }
                let mut extended = combination.clone();
                extended.push(variant);
                next.push(extended);
            }
        }
        combinations = next;
    }
    for (combination_index, combination) in combinations.iter().enumerate() {
        let mut labels = Vec::new();
        let mut sets = Vec::new();
        for variant in combination {
            labels.push(variant.point_label.clone());
            sets.push(&variant.set);
        }
        let label = labels.join(" / ");
        let key = format!("grid point {combination_index} ({label})");
        entries.extend(builder.add(&key, [label.as_str(), label.as_str()], &sets, None)?);
    }
    // Each baseline once per distinct feature setting of the grid's points.
    let mut feature_parts: Vec<(String, Map<String, Value>)> = Vec::new();
    for combination in &combinations {
        let mut labels = Vec::new();
        let mut features = Map::new();
        for variant in combination {
            if variant.set.contains_key(FEATURES_KEY) {
                labels.push(variant.point_label.clone());
                if let Some(value) = variant.set.get(FEATURES_KEY) {
                    merge_value(&mut features, FEATURES_KEY, value);
                }
            }
        }
        if !feature_parts.iter().any(|(_, known)| *known == features) {
            feature_parts.push((labels.join(" / "), features));
        }
    }
    for (index, variants) in axis_variants.iter().enumerate() {
        for (variant_index, variant) in variants.iter().enumerate() {
            if variant.baseline.is_none() {
                continue;
            }
            let key = format!("axes[{index}].variants[{variant_index}]");
            for (features_label, features) in &feature_parts {
                let sets: Vec<&Map<String, Value>> = vec![&variant.set, features];
                let (label, point_label) = if features_label.is_empty() {
                    (variant.label.clone(), variant.point_label.clone())
                } else {
                    (
                        format!("{} / {features_label}", variant.label),
                        format!("{} / {features_label}", variant.point_label),
                    )
                };
                entries.extend(builder.add(
                    &key,
                    [&label, &point_label],
                    &sets,
                    variant.baseline,
                )?);
            }
        }
    }
    let mut columns = Vec::new();
    for axis in &spec.axes {
        for column in columns_of(axis) {
            if !columns.contains(&column) {
                columns.push(column);
            }
        }
    }
    Ok(Axis {
        name: "grid".to_owned(),
        title: format!("Grid over {}", names.join(" x ")),
        parameter: None,
        columns,
        primary: spec.primary_metric,
        entries,
    })
}

/// A variant of an axis after checking: what it sets, or its baseline.
struct Variant {
    /// Table row label (the value alone on a parameter axis).
    label: String,
    /// Label of the point outside its table (`latent_dim = 4`).
    point_label: String,
    set: Map<String, Value>,
    baseline: Option<(BaselineKind, Option<usize>)>,
    /// `values` or `variants`, for error keys.
    source: &'static str,
}

fn axis_variants_of(axis: &AxisSpec, key: &str) -> Result<Vec<Variant>> {
    let mut variants = Vec::new();
    match (&axis.parameter, axis.variants.is_empty()) {
        (Some(parameter), true) => {
            if axis.values.is_empty() {
                return Err(Error::spec(
                    format!("{key}.values"),
                    format!("axis '{}' lists no values", axis.name),
                ));
            }
            let root = parameter.split('.').next().unwrap_or_default();
            if RESERVED_KEYS.contains(&root) {
                return Err(Error::spec(
                    format!("{key}.parameter"),
                    format!(
                        "'{parameter}' cannot be an axis (seeds come from `seeds`, the device and threads from the command line)"
                    ),
                ));
            }
            if !axis.baselines.is_empty() && root != FEATURES_KEY {
                return Err(Error::spec(
                    format!("{key}.baselines"),
                    format!(
                        "only an axis over a `features.*` parameter pairs baselines with its values; '{parameter}' trains models"
                    ),
                ));
            }
            for value in &axis.values {
                let mut set = Map::new();
                set_key(&mut set, parameter, value.clone());
                let label = value_label(value);
                variants.push(Variant {
                    label: label.clone(),
                    point_label: format!("{parameter} = {label}"),
                    set: set.clone(),
                    baseline: None,
                    source: "values",
                });
                for kind in &axis.baselines {
                    variants.push(Variant {
                        label: format!("{label}: {}", kind.label()),
                        point_label: format!("{parameter} = {label}: {}", kind.label()),
                        set: set.clone(),
                        baseline: Some((*kind, None)),
                        source: "values",
                    });
                }
            }
        }
        (None, false) => {
            if !axis.baselines.is_empty() {
                return Err(Error::spec(
                    format!("{key}.baselines"),
                    "a variants axis lists its baselines as variants",
                ));
            }
            if !axis.values.is_empty() {
                return Err(Error::spec(
                    format!("{key}.values"),
                    "`values` needs `parameter`; variants set their keys in `set`",
                ));
            }
            for (index, variant) in axis.variants.iter().enumerate() {
                variants.push(variant_of(variant, &format!("{key}.variants[{index}]"))?);
            }
        }
        (Some(_), false) => {
            return Err(Error::spec(
                key,
                format!(
                    "axis '{}' has both `parameter` and `variants`; give one",
                    axis.name
                ),
            ));
        }
        (None, true) => {
            return Err(Error::spec(
                key,
                format!(
                    "axis '{}' needs `parameter` with `values`, or `variants`",
                    axis.name
                ),
            ));
        }
    }
    Ok(variants)
}

/// Checks one named variant: its keys, or its baseline and components.
fn variant_of(variant: &VariantSpec, variant_key: &str) -> Result<Variant> {
    if variant.label.trim().is_empty() {
        return Err(Error::spec(
            format!("{variant_key}.label"),
            "must not be empty",
        ));
    }
    for set_key_name in variant.set.keys() {
        let root = set_key_name.split('.').next().unwrap_or_default();
        if RESERVED_KEYS.contains(&root) {
            return Err(Error::spec(
                format!("{variant_key}.set.{set_key_name}"),
                "cannot be set per variant",
            ));
        }
    }
    let components_error = || {
        Error::spec(
            format!("{variant_key}.components"),
            "only a pca_kmeans baseline has components",
        )
    };
    let baseline = match (variant.baseline, variant.components) {
        (Some(kind), components) => {
            for set_key_name in variant.set.keys() {
                if set_key_name.split('.').next() != Some(FEATURES_KEY) {
                    return Err(Error::spec(
                        format!("{variant_key}.set.{set_key_name}"),
                        "a baseline trains nothing; it takes only `features.*` keys",
                    ));
                }
            }
            if components == Some(0) {
                return Err(Error::spec(
                    format!("{variant_key}.components"),
                    "must be at least 1",
                ));
            }
            if kind == BaselineKind::RawKmeans && components.is_some() {
                return Err(components_error());
            }
            Some((kind, components))
        }
        (None, Some(_)) => return Err(components_error()),
        (None, None) => None,
    };
    let mut set = Map::new();
    for (name, value) in &variant.set {
        set_key(&mut set, name, value.clone());
    }
    Ok(Variant {
        label: variant.label.clone(),
        point_label: variant.label.clone(),
        set,
        baseline,
        source: "variants",
    })
}

fn columns_of(axis: &AxisSpec) -> Vec<Column> {
    if axis.columns.is_empty() {
        Column::defaults_for(axis.parameter.as_deref())
    } else {
        axis.columns.clone()
    }
}

fn primary_of(axis: &AxisSpec, spec_primary: Column, index: usize) -> Result<Column> {
    let primary = axis.primary.unwrap_or(spec_primary);
    if !primary.is_numeric() {
        return Err(Error::spec(
            format!("axes[{index}].primary"),
            format!("{} is not a numeric column", primary.name()),
        ));
    }
    Ok(primary)
}

fn check_clustering(clustering: &ClusteringSpec) -> Result<ClusteringSpec> {
    if clustering.algorithms.is_empty() {
        return Err(Error::spec(
            "clustering.algorithms",
            "must list at least one algorithm",
        ));
    }
    let mut seen = Vec::new();
    for algorithm in &clustering.algorithms {
        if seen.contains(algorithm) {
            return Err(Error::spec(
                "clustering.algorithms",
                format!("{algorithm:?} is listed twice"),
            ));
        }
        seen.push(*algorithm);
    }
    if clustering.n_init == 0 {
        return Err(Error::spec("clustering.n_init", "must be at least 1"));
    }
    if clustering.draws == 0 || clustering.draws > MAX_DRAWS {
        return Err(Error::spec(
            "clustering.draws",
            format!("{} is outside 1 to {MAX_DRAWS}", clustering.draws),
        ));
    }
    if let Some(k) = clustering.k
        && k < 2
    {
        return Err(Error::spec("clustering.k", format!("{k} is below 2")));
    }
    Ok(clustering.clone())
}

/// Collects distinct points; a point met again (the base point on every
/// one-factor axis) keeps its first id and label.
struct PointBuilder<'a> {
    points: Vec<Point>,
    feature_sets: Vec<FeatureSet>,
    base_json: &'a Map<String, Value>,
    base_features: Value,
    base_latent: usize,
    algorithms: &'a [ClusteringAlgorithm],
    covariance: CovarianceType,
}

impl PointBuilder<'_> {
    /// Adds the point(s) of one row, one per clustering algorithm, and
    /// returns their axis entries. `labels` are the row label and the
    /// point label.
    fn add(
        &mut self,
        key: &str,
        labels: [&str; 2],
        sets: &[&Map<String, Value>],
        baseline: Option<(BaselineKind, Option<usize>)>,
    ) -> Result<Vec<AxisEntry>> {
        let mut entries = Vec::new();
        let [label, point_label] = labels;
        for algorithm in self.algorithms {
            let (row_label, point_label) = if self.algorithms.len() > 1 {
                let name = algorithm_name(*algorithm);
                (
                    format!("{label} ({name})"),
                    format!("{point_label} ({name})"),
                )
            } else {
                (label.to_owned(), point_label.to_owned())
            };
            let mut json = self.base_json.clone();
            for set in sets {
                for (name, value) in *set {
                    merge_value(&mut json, name, value);
                }
            }
            set_key(
                &mut json,
                "clustering.algorithm",
                serde_json::to_value(algorithm).unwrap_or(Value::Null),
            );
            if *algorithm == ClusteringAlgorithm::Gmm {
                set_key(
                    &mut json,
                    "clustering.covariance",
                    serde_json::to_value(self.covariance).unwrap_or(Value::Null),
                );
            }
            let feature_set = self.feature_set(key, json.remove(FEATURES_KEY).as_ref())?;
            let config = run_config_from(key, &json)?;
            let job = match baseline {
                None => Job::Train(canonical(config)),
                Some((kind, components)) => Job::Baseline {
                    kind,
                    components: match kind {
                        BaselineKind::PcaKmeans => Some(components.unwrap_or(self.base_latent)),
                        BaselineKind::RawKmeans => None,
                    },
                    clustering: config.clustering.clone(),
                },
            };
            let id = point_id(&job, &feature_set);
            if !self.points.iter().any(|point| point.id == id) {
                self.points.push(Point {
                    id: id.clone(),
                    label: point_label,
                    job,
                    features: feature_set,
                });
            }
            entries.push(AxisEntry {
                label: row_label,
                point: id,
            });
        }
        Ok(entries)
    }

    /// The id of the feature set of the spec's `features` with `overrides`
    /// (the row's `features.*` keys), registering it when new. Errors name
    /// `key` and the feature key.
    fn feature_set(&mut self, key: &str, overrides: Option<&Value>) -> Result<String> {
        let mut json = self.base_features.clone();
        if let (Value::Object(base), Some(Value::Object(overrides))) = (&mut json, overrides) {
            for (name, value) in overrides {
                merge_value(base, name, value);
            }
        }
        let settings: FeatureSettings = serde_json::from_value(json)
            .map_err(|error| Error::spec(key, format!("invalid feature settings: {error}")))?;
        settings
            .validate()
            .map_err(|error| Error::spec(key, format!("invalid feature settings: {error}")))?;
        let id = feature_set_id(&settings);
        if !self.feature_sets.iter().any(|set| set.id == id) {
            self.feature_sets.push(FeatureSet {
                id: id.clone(),
                settings,
            });
        }
        Ok(id)
    }
}

/// The id of a feature setting: the first 12 hex digits of the SHA-256 of its JSON.
#[must_use]
pub fn feature_set_id(settings: &FeatureSettings) -> String {
    let json = serde_json::to_string(settings).unwrap_or_default();
    let mut digest = hex_digest(json.as_bytes());
    digest.truncate(12);
    digest
}

fn algorithm_name(algorithm: ClusteringAlgorithm) -> String {
    match serde_json::to_value(algorithm) {
        Ok(Value::String(name)) => name,
        _ => format!("{algorithm:?}"),
    }
}

/// The config with the per-run keys at fixed values, so that the point id
/// does not depend on them.
fn canonical(mut config: RunConfig) -> RunConfig {
    config.seed = 0;
    config.device = DeviceChoice::Auto;
    config
}

/// Parses and validates a run config; errors name `key` and the config key.
fn run_config_from(key: &str, json: &Map<String, Value>) -> Result<RunConfig> {
    let config: RunConfig = serde_json::from_value(Value::Object(json.clone()))
        .map_err(|error| Error::spec(key, error.to_string()))?;
    config
        .validate()
        .map_err(|error| Error::spec(key, error.to_string()))?;
    Ok(config)
}

/// Sets a dotted key (`clustering.n_init`) in a JSON object, creating the
/// nested objects on the way.
fn set_key(object: &mut Map<String, Value>, dotted: &str, value: Value) {
    match dotted.split_once('.') {
        None => {
            object.insert(dotted.to_owned(), value);
        }
        Some((head, rest)) => {
            let entry = object
                .entry(head.to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            if !entry.is_object() {
                *entry = Value::Object(Map::new());
            }
            if let Value::Object(inner) = entry {
                set_key(inner, rest, value);
            }
        }
    }
}

/// Merges `value` at `name`: objects merge key by key, anything else replaces.
fn merge_value(object: &mut Map<String, Value>, name: &str, value: &Value) {
    match (object.get_mut(name), value) {
        (Some(Value::Object(existing)), Value::Object(update)) => {
            for (inner_name, inner_value) in update {
                merge_value(existing, inner_name, inner_value);
            }
        }
        _ => {
            object.insert(name.to_owned(), value.clone());
        }
    }
}

/// The label of a parameter value: numbers and strings as written.
fn value_label(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// The stable id of a point: the first 12 hex digits of the SHA-256 of its
/// [`point_identity`].
#[must_use]
pub fn point_id(job: &Job, feature_set: &str) -> String {
    let mut digest = hex_digest(point_identity(job, feature_set).as_bytes());
    digest.truncate(12);
    digest
}

/// What a point id hashes: an explicit projection of the job on the keys
/// that change a result, then a newline and the feature set's id.
///
/// A trained point writes, in this order, `architecture`, `latent_dim`,
/// `hidden_dim`, `depth`, `activation` and `bounded_code` (only when not at
/// their defaults), `learning_rate`, `beta`, `batch_size`, `max_epochs`,
/// `patience`, `min_epochs`, `tolerance`, `plateau_decays` and
/// `plateau_factor` (only when not at their defaults), `gradient_clip`,
/// `kl_warmup_epochs`, `validation_fraction`, `condition`, `seed` and
/// `device` as the constants `0` and `"auto"` (a point's runs differ in
/// seed and device, its id does not), `intra_op_threads`, `kernels` (only
/// when not at its default) and the clustering
/// (`algorithm`, `k`, `n_init`, `covariance` only when not `full` and
/// `draws` only when not 1). A
/// baseline writes its `kind`, `components` and clustering. The text is the
/// compact JSON those keys have always had, so ids written before this
/// projection existed are unchanged (`tests/spec.rs` resumes a committed
/// sweep directory); **a key added later is written only when it differs
/// from its default**, so adding one leaves every existing id as it was.
#[must_use]
pub fn point_identity(job: &Job, feature_set: &str) -> String {
    let mut text = match job {
        Job::Train(config) => {
            let mut fields = Fields::default();
            fields.push("architecture", &config.architecture);
            fields.push("latent_dim", &config.latent_dim);
            fields.push("hidden_dim", &config.hidden_dim);
            fields.push("depth", &config.depth);
            let defaults = RunConfig::default();
            fields.push_unless_default("activation", &config.activation, &defaults.activation);
            fields.push_unless_default(
                "bounded_code",
                &config.bounded_code,
                &defaults.bounded_code,
            );
            fields.push("learning_rate", &config.learning_rate);
            fields.push("beta", &config.beta);
            fields.push("batch_size", &config.batch_size);
            fields.push("max_epochs", &config.max_epochs);
            fields.push("patience", &config.patience);
            fields.push("min_epochs", &config.min_epochs);
            fields.push("tolerance", &config.tolerance);
            fields.push_unless_default(
                "plateau_decays",
                &config.plateau_decays,
                &defaults.plateau_decays,
            );
            fields.push_unless_default(
                "plateau_factor",
                &config.plateau_factor,
                &defaults.plateau_factor,
            );
            fields.push("gradient_clip", &config.gradient_clip);
            fields.push("kl_warmup_epochs", &config.kl_warmup_epochs);
            fields.push("validation_fraction", &config.validation_fraction);
            fields.push("condition", &config.condition);
            fields.push("seed", &0u64);
            fields.push("device", &DeviceChoice::Auto);
            fields.push("intra_op_threads", &config.intra_op_threads);
            fields.push_unless_default("kernels", &config.kernels, &defaults.kernels);
            fields.push_raw("clustering", &clustering_identity(&config.clustering));
            format!("{{\"train\":{}}}", fields.object())
        }
        Job::Baseline {
            kind,
            components,
            clustering,
        } => {
            let mut fields = Fields::default();
            fields.push("kind", kind);
            fields.push("components", components);
            fields.push_raw("clustering", &clustering_identity(clustering));
            format!("{{\"baseline\":{}}}", fields.object())
        }
    };
    text.push('\n');
    text.push_str(feature_set);
    text
}

/// The clustering part of a point's identity.
fn clustering_identity(clustering: &ClusteringConfig) -> String {
    let mut fields = Fields::default();
    fields.push("algorithm", &clustering.algorithm);
    fields.push("k", &clustering.k);
    fields.push("n_init", &clustering.n_init);
    fields.push_unless_default(
        "covariance",
        &clustering.covariance,
        &ClusteringConfig::default().covariance,
    );
    fields.push_unless_default(
        "draws",
        &clustering.draws,
        &ClusteringConfig::default().draws,
    );
    fields.object()
}

/// `"key":value` pairs of compact JSON, in the order pushed.
#[derive(Default)]
struct Fields {
    pairs: Vec<String>,
}

impl Fields {
    fn push<T: Serialize>(&mut self, key: &str, value: &T) {
        let json = serde_json::to_string(value).unwrap_or_default();
        self.push_raw(key, &json);
    }

    fn push_unless_default<T: Serialize + PartialEq>(&mut self, key: &str, value: &T, default: &T) {
        if value != default {
            self.push(key, value);
        }
    }

    fn push_raw(&mut self, key: &str, json: &str) {
        self.pairs.push(format!("\"{key}\":{json}"));
    }

    fn object(&self) -> String {
        format!("{{{}}}", self.pairs.join(","))
    }
}

fn hex_digest(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut text = String::with_capacity(64);
    for byte in digest {
        let _ = write!(text, "{byte:02x}");
    }
    text
}

/// Labels of the values of every parameter axis, keyed by axis name; used
/// by the report to tell numeric axes (trend analysis) from categorical ones.
#[must_use]
pub fn numeric_axis_values(plan: &Plan) -> BTreeMap<String, Vec<f64>> {
    let mut numeric = BTreeMap::new();
    for axis in &plan.axes {
        if axis.parameter.is_none() {
            continue;
        }
        let mut values = Vec::new();
        for entry in &axis.entries {
            match entry.label.parse::<f64>() {
                Ok(value) => values.push(value),
                Err(_) => break,
            }
        }
        if values.len() == axis.entries.len() {
            numeric.insert(axis.name.clone(), values);
        }
    }
    numeric
}
