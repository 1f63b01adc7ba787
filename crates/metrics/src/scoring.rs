//! The one scoring path of the study: cluster an embedding with the
//! configured algorithm, then compute every score against the dataset's
//! labels.
//!
//! A training run (latent means), the sweep's baselines (PCA projection or
//! raw features) and `cargo xtask score` all call [`cluster_and_score`] or,
//! with given clusters, [`score_clusters`].
//!
//! # Degenerate inputs
//!
//! One rule, never an error after training: a score whose definition does
//! not apply is absent (`None`) and [`Scores::absent`] says why.
//!
//! | case | absent | reason |
//! |---|---|---|
//! | a single predicted cluster (or one per track) | silhouette, Davies-Bouldin, Calinski-Harabasz | scikit-learn's rule `2 <= clusters <= n - 1` |
//! | one latent dimension | MIG | the gap between the two most informative dimensions needs two |
//! | every label column has a single class | MIG | a single class has zero entropy |
//! | no label column | ARI, NMI, purity, MIG | nothing to compare with |
//!
//! A single-class label column still gets its ARI, NMI and purity (as
//! scikit-learn computes them); it only leaves the MIG average.

use std::collections::{BTreeMap, BTreeSet};

use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};

use crate::agglomerative::ward;
use crate::contingency::ContingencyTable;
use crate::disentanglement::{active_units, mutual_information_gap};
use crate::error::{Error, Result};
use crate::external::{
    adjusted_rand_from_table, normalized_mutual_info_from_table, purity_from_table,
};
use crate::gaussian_mixture::{CovarianceType, GaussianMixtureConfig, gaussian_mixture};
use crate::internal::{calinski_harabasz_score, davies_bouldin_score};
use crate::kmeans::{KMeansConfig, kmeans};
use crate::labels::encode_labels;
use crate::silhouette::silhouette_score;

/// The clustering step after training.
///
/// | key | default | valid |
/// |---|---|---|
/// | `algorithm` | `kmeans` | `kmeans`, `agglomerative` (Ward linkage, at most 20000 tracks), `gmm` (Gaussian mixture, EM from k-means) |
/// | `k` | number of classes of the primary label | 2 ..= tracks - 1 |
/// | `n_init` | 10 | >= 1 restarts of k-means and of the mixture (Ward is deterministic) |
/// | `covariance` | `full` | `full` or `diag`: the mixture's covariances (`gmm` only) |
/// | `draws` | 1 | 1 ..= 1000 independent clusterings (each of `n_init` restarts) whose scores are averaged; Ward is deterministic and clusters once |
///
/// Why `draws`: `n_init` keeps the lowest-inertia of its restarts, but on
/// real latents several partitions of nearly equal inertia score differently
/// against the labels (on the gtzan-features recipe latents one k-means
/// draw moves NMI by 0.011-0.015 with the latent fixed, as much as
/// training does; `docs/features.md`). One draw per seed then mixes that
/// lottery into the seed spread. The mean over draws estimates the score
/// the embedding gives in expectation; the run's `clusters.txt` is the
/// first draw's partition, the one a single draw gives. The default 1 keeps
/// every config and sweep point id written before the key existed meaning
/// what it meant; the default study sets 10.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusteringConfig {
    /// Which algorithm.
    pub algorithm: ClusteringAlgorithm,
    /// Number of clusters; `None` takes the number of primary-label classes.
    pub k: Option<usize>,
    /// Restarts of k-means or of the mixture.
    pub n_init: usize,
    /// Covariance form of the Gaussian mixture. Left out of the JSON when
    /// `full`, so that configs (and sweep point ids) written before the
    /// mixture existed stay the same.
    #[serde(skip_serializing_if = "is_full_covariance")]
    pub covariance: CovarianceType,
    /// Independent clusterings whose scores are averaged. Left out of the
    /// JSON when 1, so that configs written before it existed stay the same.
    #[serde(skip_serializing_if = "is_single_draw")]
    pub draws: usize,
}

/// The largest `draws` a config may ask for.
pub const MAX_DRAWS: usize = 1000;

// serde's `skip_serializing_if` passes the field by reference.
#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_single_draw(draws: &usize) -> bool {
    *draws == 1
}

// serde's `skip_serializing_if` passes the field by reference.
#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_full_covariance(covariance: &CovarianceType) -> bool {
    *covariance == CovarianceType::Full
}

impl Default for ClusteringConfig {
    fn default() -> Self {
        Self {
            algorithm: ClusteringAlgorithm::Kmeans,
            k: None,
            n_init: 10,
            covariance: CovarianceType::Full,
            draws: 1,
        }
    }
}

/// Clustering algorithms available to a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClusteringAlgorithm {
    /// k-means++ with Lloyd iterations, as scikit-learn.
    Kmeans,
    /// Agglomerative clustering with Ward linkage, as scikit-learn.
    Agglomerative,
    /// A Gaussian mixture fitted by EM from a k-means start, as scikit-learn.
    Gmm,
}

/// Every score of a clustered embedding.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Scores {
    /// Number of clusters asked for.
    pub k: usize,
    /// Mean silhouette (Euclidean) of the embedding.
    pub silhouette: Option<f64>,
    /// Davies-Bouldin index (lower is better).
    pub davies_bouldin: Option<f64>,
    /// Calinski-Harabasz index.
    pub calinski_harabasz: Option<f64>,
    /// Adjusted Rand index against the primary label.
    pub ari: Option<f64>,
    /// Normalised mutual information (arithmetic) against the primary label.
    pub nmi: Option<f64>,
    /// Purity against the primary label.
    pub purity: Option<f64>,
    /// Mutual information gap over every label column with two classes or more.
    pub mig: Option<f64>,
    /// Embedding dimensions whose value varies by more than 0.01 across tracks.
    pub active_units: Option<usize>,
    /// ARI, NMI and purity against every label column, in descriptor order
    /// (the first is the primary label of `ari`, `nmi` and `purity`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<LabelScores>,
    /// Why a score is absent, by its key (see the module docs).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub absent: BTreeMap<String, String>,
}

/// Agreement of the clusters with one label column.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelScores {
    /// The label column.
    pub label: String,
    /// Adjusted Rand index.
    pub ari: f64,
    /// Normalised mutual information (arithmetic).
    pub nmi: f64,
    /// Purity.
    pub purity: f64,
}

/// Why the external scores and MIG are absent when there is no label column.
pub const NO_LABELS: &str = "the dataset has no label column";

/// A label column: its name and one value per row, in row order.
pub type LabelColumn = (String, Vec<String>);

/// The number of clusters: `clustering.k`, else the number of classes of
/// the primary (first) label; checked to satisfy `2 <= k < rows`.
pub fn cluster_count(
    clustering: &ClusteringConfig,
    rows: usize,
    labels: &[LabelColumn],
) -> Result<usize> {
    if rows < 4 {
        return Err(Error::InvalidParameter {
            parameter: "tracks",
            value: rows.to_string(),
            expected: "at least 4".to_owned(),
        });
    }
    let k = match (clustering.k, labels.first()) {
        (Some(k), _) => k,
        (None, Some((_, values))) => encode_labels(values).classes.len(),
        (None, None) => {
            return Err(Error::InvalidParameter {
                parameter: "clustering.k",
                value: "none".to_owned(),
                expected: "a value: the dataset has no label to take k from".to_owned(),
            });
        }
    };
    if k < 2 || k >= rows {
        return Err(Error::InvalidParameter {
            parameter: "clustering.k",
            value: k.to_string(),
            expected: format!("2 <= k < {rows} (tracks)"),
        });
    }
    Ok(k)
}

/// Clusters `embedding` (one row per track) into `k` clusters with the
/// configured algorithm, seeded by `seed`.
pub fn cluster(
    embedding: ArrayView2<'_, f64>,
    k: usize,
    clustering: &ClusteringConfig,
    seed: u64,
) -> Result<Vec<usize>> {
    let labels = match clustering.algorithm {
        ClusteringAlgorithm::Kmeans => {
            kmeans(
                embedding,
                &KMeansConfig {
                    n_clusters: k,
                    n_init: clustering.n_init,
                    seed,
                    ..KMeansConfig::default()
                },
            )?
            .labels
        }
        ClusteringAlgorithm::Agglomerative => ward(embedding, k)?.labels,
        ClusteringAlgorithm::Gmm => {
            gaussian_mixture(
                embedding,
                &GaussianMixtureConfig {
                    n_components: k,
                    covariance_type: clustering.covariance,
                    n_init: clustering.n_init,
                    seed,
                    ..GaussianMixtureConfig::default()
                },
            )?
            .labels
        }
    };
    Ok(labels)
}

/// Clusters `embedding`, then scores the clusters ([`cluster`], then
/// [`score_clusters`]). Returns the cluster of every row and the scores.
///
/// With `clustering.draws` above 1 (k-means and the mixture), clusters that
/// many times, the first draw seeded by `seed` and draw `d` by
/// [`draw_seed`], and every score that depends on the partition (internal
/// scores, ARI, NMI and purity per label) is the mean over the draws; the
/// returned clusters are the first draw's. An internal score is absent when
/// any draw leaves it undefined, with that draw's reason.
pub fn cluster_and_score(
    embedding: ArrayView2<'_, f64>,
    k: usize,
    clustering: &ClusteringConfig,
    seed: u64,
    labels: &[LabelColumn],
) -> Result<(Vec<usize>, Scores)> {
    let draws = match clustering.algorithm {
        ClusteringAlgorithm::Agglomerative => 1,
        ClusteringAlgorithm::Kmeans | ClusteringAlgorithm::Gmm => clustering.draws.max(1),
    };
    let first = cluster(embedding, k, clustering, seed)?;
    let mut scores = score_clusters(embedding, &first, k, labels)?;
    if draws > 1 {
        let mut later_draws = Vec::with_capacity(draws - 1);
        for draw in 1..draws {
            let predicted = cluster(embedding, k, clustering, draw_seed(seed, draw))?;
            let mut draw_scores = Scores::default();
            score_partition(embedding, &predicted, labels, &mut draw_scores)?;
            later_draws.push(draw_scores);
        }
        average_over_draws(&mut scores, &later_draws);
    }
    Ok((first, scores))
}

/// The seed of clustering draw `draw` of a run seeded by `seed`: `seed`
/// itself for the first draw, so that one draw clusters as it always did.
#[must_use]
pub fn draw_seed(seed: u64, draw: usize) -> u64 {
    seed ^ (draw as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

const INTERNAL_KEYS: [&str; 3] = ["silhouette", "davies_bouldin", "calinski_harabasz"];

/// Replaces the partition-dependent scores of `scores` (the first draw's)
/// by their means over it and `later_draws` (which hold only those scores).
fn average_over_draws(scores: &mut Scores, later_draws: &[Scores]) {
    let count = (later_draws.len() + 1) as f64;
    let mut internal_absent = None;
    for (draw, draw_scores) in std::iter::once(&*scores).chain(later_draws).enumerate() {
        if let Some(reason) = draw_scores.absent.get(INTERNAL_KEYS[0]) {
            internal_absent = Some(format!("clustering draw {draw}: {reason}"));
            break;
        }
    }
    let mean = |first: Option<f64>, pick: fn(&Scores) -> Option<f64>| {
        let mut sum = first?;
        for draw_scores in later_draws {
            sum += pick(draw_scores)?;
        }
        Some(sum / count)
    };
    if let Some(reason) = internal_absent {
        scores.silhouette = None;
        scores.davies_bouldin = None;
        scores.calinski_harabasz = None;
        for key in INTERNAL_KEYS {
            scores.absent.insert(key.to_owned(), reason.clone());
        }
    } else {
        scores.silhouette = mean(scores.silhouette, |draw| draw.silhouette);
        scores.davies_bouldin = mean(scores.davies_bouldin, |draw| draw.davies_bouldin);
        scores.calinski_harabasz = mean(scores.calinski_harabasz, |draw| draw.calinski_harabasz);
    }
    for (index, label) in scores.labels.iter_mut().enumerate() {
        for draw_scores in later_draws {
            label.ari += draw_scores.labels[index].ari;
            label.nmi += draw_scores.labels[index].nmi;
            label.purity += draw_scores.labels[index].purity;
        }
        label.ari /= count;
        label.nmi /= count;
        label.purity /= count;
    }
    if let Some(primary) = scores.labels.first() {
        scores.ari = Some(primary.ari);
        scores.nmi = Some(primary.nmi);
        scores.purity = Some(primary.purity);
    }
}

/// Every score of given clusters of `embedding`: internal scores, ARI, NMI
/// and purity against each label column, MIG over the label columns, and
/// the active units. Errors only on malformed input (lengths, non-finite
/// values); degenerate cases are absent with their reason.
pub fn score_clusters(
    embedding: ArrayView2<'_, f64>,
    predicted: &[usize],
    k: usize,
    labels: &[LabelColumn],
) -> Result<Scores> {
    let mut scores = Scores {
        k,
        active_units: Some(active_units(embedding)?.count),
        ..Scores::default()
    };
    score_partition(embedding, predicted, labels, &mut scores)?;
    let mut factors = Vec::new();
    for (_, values) in labels {
        let truth = encode_labels(values);
        if truth.classes.len() >= 2 {
            factors.push(truth.ids);
        }
    }
    match scores.labels.first() {
        Some(primary) => {
            scores.ari = Some(primary.ari);
            scores.nmi = Some(primary.nmi);
            scores.purity = Some(primary.purity);
        }
        None => {
            for key in ["ari", "nmi", "purity"] {
                scores.absent.insert(key.to_owned(), NO_LABELS.to_owned());
            }
        }
    }
    let mig_absent = if labels.is_empty() {
        Some(NO_LABELS.to_owned())
    } else if embedding.ncols() < 2 {
        Some(format!(
            "{} latent dimension: the gap between the two most informative needs at least 2",
            embedding.ncols()
        ))
    } else if factors.is_empty() {
        Some("every label column has a single class (zero entropy)".to_owned())
    } else {
        None
    };
    match mig_absent {
        Some(reason) => {
            scores.absent.insert("mig".to_owned(), reason);
        }
        None => scores.mig = Some(mutual_information_gap(embedding, &factors)?.mig),
    }
    Ok(scores)
}

/// The scores that depend on the partition: the internal ones (or why they
/// are absent) and ARI, NMI and purity against each label column.
fn score_partition(
    embedding: ArrayView2<'_, f64>,
    predicted: &[usize],
    labels: &[LabelColumn],
    scores: &mut Scores,
) -> Result<()> {
    let distinct_predicted = predicted.iter().collect::<BTreeSet<_>>().len();
    if distinct_predicted > 1 && distinct_predicted < predicted.len() {
        scores.silhouette = Some(silhouette_score(embedding, predicted)?);
        scores.davies_bouldin = Some(davies_bouldin_score(embedding, predicted)?);
        scores.calinski_harabasz = Some(calinski_harabasz_score(embedding, predicted)?);
    } else {
        let reason = format!(
            "{distinct_predicted} distinct clusters for {} tracks: internal scores need 2 to n - 1",
            predicted.len()
        );
        for key in INTERNAL_KEYS {
            scores.absent.insert(key.to_owned(), reason.clone());
        }
    }
    for (name, values) in labels {
        let truth = encode_labels(values);
        let table = ContingencyTable::new(&truth.ids, predicted)?;
        scores.labels.push(LabelScores {
            label: name.clone(),
            ari: adjusted_rand_from_table(&table),
            nmi: normalized_mutual_info_from_table(&table),
            purity: purity_from_table(&table)?,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use ndarray::Array2;

    use super::*;

    fn labels(values: &[&str]) -> Vec<LabelColumn> {
        vec![(
            "genre".to_owned(),
            values.iter().map(|value| (*value).to_owned()).collect(),
        )]
    }

    fn two_blobs(columns: usize) -> Array2<f64> {
        Array2::from_shape_fn((8, columns), |(row, column)| {
            let centre = if row < 4 { 0.0 } else { 10.0 };
            centre + (row * 7 + column * 3) as f64 % 5.0 * 0.1
        })
    }

    #[test]
    fn one_latent_dimension_scores_everything_but_mig_and_says_why() {
        let truth = labels(&["a", "a", "a", "a", "b", "b", "b", "b"]);
        let (clusters, scores) = cluster_and_score(
            two_blobs(1).view(),
            2,
            &ClusteringConfig::default(),
            0,
            &truth,
        )
        .unwrap();
        assert_eq!(clusters.len(), 8);
        assert_eq!(scores.ari, Some(1.0));
        assert!(scores.silhouette.is_some());
        assert_eq!(scores.mig, None);
        assert!(
            scores.absent["mig"].contains("1 latent dimension"),
            "{:?}",
            scores.absent
        );
    }

    #[test]
    fn a_single_predicted_cluster_leaves_internal_scores_absent() {
        let truth = labels(&["a", "a", "a", "a", "b", "b", "b", "b"]);
        let scores = score_clusters(two_blobs(3).view(), &[0; 8], 2, &truth).unwrap();
        assert_eq!(scores.silhouette, None);
        assert_eq!(scores.davies_bouldin, None);
        assert_eq!(scores.calinski_harabasz, None);
        assert!(scores.absent["silhouette"].starts_with("1 distinct clusters"));
        assert_eq!(scores.ari, Some(0.0));
        assert!(scores.mig.is_some());
    }

    #[test]
    fn single_class_labels_have_no_mig_and_no_labels_no_external_scores() {
        let single = labels(&["a"; 8]);
        let scores =
            score_clusters(two_blobs(3).view(), &[0, 0, 0, 0, 1, 1, 1, 1], 2, &single).unwrap();
        assert!(scores.ari.is_some());
        assert_eq!(scores.mig, None);
        assert!(scores.absent["mig"].contains("single class"));
        let scores =
            score_clusters(two_blobs(3).view(), &[0, 0, 0, 0, 1, 1, 1, 1], 2, &[]).unwrap();
        assert_eq!(
            (scores.ari, scores.nmi, scores.purity, scores.mig),
            (None, None, None, None)
        );
        assert_eq!(scores.absent.len(), 4);
    }

    #[test]
    fn the_cluster_count_comes_from_the_primary_label_and_is_checked() {
        let truth = labels(&["a", "b", "c", "a", "b", "c", "a", "b"]);
        assert_eq!(
            cluster_count(&ClusteringConfig::default(), 8, &truth).unwrap(),
            3
        );
        let too_many = ClusteringConfig {
            k: Some(8),
            ..ClusteringConfig::default()
        };
        assert_eq!(
            cluster_count(&too_many, 8, &truth).unwrap_err().to_string(),
            "invalid clustering.k = 8: 2 <= k < 8 (tracks)"
        );
        assert_eq!(
            cluster_count(&ClusteringConfig::default(), 8, &[])
                .unwrap_err()
                .to_string(),
            "invalid clustering.k = none: a value: the dataset has no label to take k from"
        );
    }
}
