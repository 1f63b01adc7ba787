//! Parallel code reduces in a fixed order: one thread and several threads
//! give bit-identical silhouettes, k-means fits, Gaussian mixtures and Ward
//! trees.

use ndarray::Array2;
use songvae_metrics::agglomerative::ward;
use songvae_metrics::gaussian_mixture::{GaussianMixtureConfig, gaussian_mixture};
use songvae_metrics::kmeans::{KMeansConfig, kmeans};
use songvae_metrics::silhouette::silhouette_samples;

/// Deterministic, irregular data: 3000 x 5 (several row blocks, tiles and
/// k-means row chunks), five loose groups.
fn data_and_labels() -> (Array2<f64>, Vec<usize>) {
    let n = 3000;
    let d = 5;
    let mut data = Array2::<f64>::zeros((n, d));
    let mut labels = Vec::with_capacity(n);
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    for row in 0..n {
        let group = (row * 7) % 5;
        labels.push(group);
        for column in 0..d {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let noise = (state >> 11) as f64 / (1_u64 << 53) as f64;
            data[[row, column]] = (group * 3 + column) as f64 + 4.0 * noise;
        }
    }
    (data, labels)
}

#[test]
fn one_and_two_threads_give_the_same_bits() {
    let (data, labels) = data_and_labels();
    let config = KMeansConfig {
        n_clusters: 5,
        n_init: 3,
        seed: 7,
        ..KMeansConfig::default()
    };
    let mixture_config = GaussianMixtureConfig {
        n_components: 5,
        n_init: 2,
        seed: 7,
        ..GaussianMixtureConfig::default()
    };
    let mut results = Vec::new();
    for threads in [1, 2, 3] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("thread pool");
        let (silhouettes, fit, mixture, tree) = pool.install(|| {
            (
                silhouette_samples(data.view(), &labels).expect("valid"),
                kmeans(data.view(), &config).expect("valid"),
                gaussian_mixture(data.view(), &mixture_config).expect("valid"),
                ward(data.view(), 5).expect("valid"),
            )
        });
        let silhouette_bits: Vec<u64> = silhouettes.iter().map(|value| value.to_bits()).collect();
        results.push((
            silhouette_bits,
            fit.labels,
            fit.inertia.to_bits(),
            fit.centres,
            mixture.lower_bound.to_bits(),
            mixture.means,
            mixture.labels,
            tree.distances
                .iter()
                .map(|value| value.to_bits())
                .collect::<Vec<u64>>(),
            tree.labels,
        ));
    }
    assert_eq!(results[0], results[1]);
    assert_eq!(results[0], results[2]);
}
