//! `clustering.draws`: the scores of several independent clusterings are
//! averaged, the first draw is the one a single draw gives, and the
//! partition-free scores (MIG, active units) are left as they are.

use ndarray::Array2;
use songvae_metrics::scoring::{
    ClusteringAlgorithm, ClusteringConfig, LabelColumn, Scores, cluster, cluster_and_score,
    draw_seed, score_clusters,
};

/// Points spread evenly over a square with no cluster structure, so that
/// single-restart k-means lands in a different local optimum per seed.
fn structureless_points() -> Array2<f64> {
    let mut state: u64 = 0x2545_F491_4F6C_DD1D;
    Array2::from_shape_fn((240, 3), |_| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    })
}

/// Two label columns: a coarse split on the first coordinate and a finer
/// one on the second.
fn label_columns(points: &Array2<f64>) -> Vec<LabelColumn> {
    let mut coarse = Vec::new();
    let mut fine = Vec::new();
    for row in points.rows() {
        coarse.push(if row[0] < 0.5 { "low" } else { "high" }.to_owned());
        fine.push(format!("band{}", (row[1] * 4.0).floor() as usize));
    }
    vec![("coarse".to_owned(), coarse), ("fine".to_owned(), fine)]
}

fn kmeans_config(draws: usize) -> ClusteringConfig {
    ClusteringConfig {
        algorithm: ClusteringAlgorithm::Kmeans,
        k: Some(6),
        n_init: 1,
        draws,
        ..ClusteringConfig::default()
    }
}

fn assert_close(actual: Option<f64>, expected: f64, what: &str) {
    let actual = actual.unwrap_or_else(|| panic!("{what} is absent"));
    assert!(
        (actual - expected).abs() <= 1e-12 * expected.abs().max(1.0),
        "{what}: {actual} against {expected}"
    );
}

#[test]
fn one_draw_is_the_single_clustering_of_the_run_seed() {
    let points = structureless_points();
    let labels = label_columns(&points);
    let (clusters, scores) =
        cluster_and_score(points.view(), 6, &kmeans_config(1), 7, &labels).unwrap();
    let expected_clusters = cluster(points.view(), 6, &kmeans_config(1), 7).unwrap();
    assert_eq!(clusters, expected_clusters);
    let expected = score_clusters(points.view(), &expected_clusters, 6, &labels).unwrap();
    assert_eq!(scores, expected);
    assert_eq!(draw_seed(7, 0), 7);
}

#[test]
fn several_draws_average_every_partition_score_and_keep_the_first_partition() {
    let points = structureless_points();
    let labels = label_columns(&points);
    let draws = 5;
    let (clusters, averaged) =
        cluster_and_score(points.view(), 6, &kmeans_config(draws), 3, &labels).unwrap();

    let mut per_draw: Vec<Scores> = Vec::new();
    let mut first_partition = Vec::new();
    for draw in 0..draws {
        let predicted = cluster(points.view(), 6, &kmeans_config(1), draw_seed(3, draw)).unwrap();
        if draw == 0 {
            first_partition.clone_from(&predicted);
        }
        per_draw.push(score_clusters(points.view(), &predicted, 6, &labels).unwrap());
    }
    assert_eq!(clusters, first_partition);
    let distinct_aris: std::collections::BTreeSet<u64> = per_draw
        .iter()
        .map(|scores| scores.ari.unwrap().to_bits())
        .collect();
    assert!(
        distinct_aris.len() > 1,
        "the draws must differ for the mean to be tested"
    );

    let mean = |pick: &dyn Fn(&Scores) -> f64| -> f64 {
        per_draw.iter().map(pick).sum::<f64>() / draws as f64
    };
    assert_close(
        averaged.silhouette,
        mean(&|scores| scores.silhouette.unwrap()),
        "silhouette",
    );
    assert_close(
        averaged.davies_bouldin,
        mean(&|scores| scores.davies_bouldin.unwrap()),
        "davies_bouldin",
    );
    assert_close(
        averaged.calinski_harabasz,
        mean(&|scores| scores.calinski_harabasz.unwrap()),
        "calinski_harabasz",
    );
    for (index, (name, _)) in labels.iter().enumerate() {
        let label = &averaged.labels[index];
        assert_eq!(&label.label, name);
        assert_close(
            Some(label.ari),
            mean(&|scores| scores.labels[index].ari),
            "ari",
        );
        assert_close(
            Some(label.nmi),
            mean(&|scores| scores.labels[index].nmi),
            "nmi",
        );
        assert_close(
            Some(label.purity),
            mean(&|scores| scores.labels[index].purity),
            "purity",
        );
    }
    assert_eq!(averaged.ari, Some(averaged.labels[0].ari));
    assert_eq!(averaged.nmi, Some(averaged.labels[0].nmi));
    assert_eq!(averaged.purity, Some(averaged.labels[0].purity));
    assert_eq!(averaged.mig, per_draw[0].mig);
    assert_eq!(averaged.active_units, per_draw[0].active_units);
    assert!(averaged.absent.is_empty(), "{:?}", averaged.absent);
}

#[test]
fn ward_is_deterministic_and_clusters_once_whatever_the_draws() {
    let points = structureless_points();
    let labels = label_columns(&points);
    let ward = |draws| ClusteringConfig {
        algorithm: ClusteringAlgorithm::Agglomerative,
        k: Some(6),
        draws,
        ..ClusteringConfig::default()
    };
    let once = cluster_and_score(points.view(), 6, &ward(1), 0, &labels).unwrap();
    let many = cluster_and_score(points.view(), 6, &ward(8), 0, &labels).unwrap();
    assert_eq!(once, many);
}
