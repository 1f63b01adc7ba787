"""scikit-learn side of `cargo xtask bench metrics`.

    python metrics_sklearn.py generate OUT_DIR
    python metrics_sklearn.py time OUT_DIR MEASUREMENT

`generate` writes the benchmark data once for both sides: OUT_DIR/data.npy
(20000 x 16 float64 Gaussian blobs, 10 centres,
make_blobs(random_state=0, cluster_std=3.0)), truth.npy (blob ids), init.npy
(10 initial centres: rows 0, 2000, ..., 18000), pred.npy (the labels of
sklearn's KMeans from init.npy), and data_100k.npy / truth_100k.npy
(100000 x 16, same recipe, random_state=1) for the memory measurement.

`time` loads the data and times one run of MEASUREMENT, printing JSON with
the wall seconds, the process CPU seconds and the values:
- silhouette: silhouette_score(data, truth);
- kmeans: KMeans(n_clusters=10, init=init, n_init=1).fit(data), after one
  untimed fit (OpenMP thread pool start-up);
- scores: silhouette, Davies-Bouldin, Calinski-Harabasz on (data, pred); ARI,
  NMI and purity of pred against truth;
- ward: AgglomerativeClustering(n_clusters=10, linkage="ward",
  compute_distances=True) on the first 10000 rows (labels and merge distances);
- gmm_full / gmm_diag: GaussianMixture(n_components=10, covariance_type=...)
  with sklearn's defaults (reg_covar=1e-6, tol=1e-3, max_iter=100), its k-means
  initialisation replaced by the labels pred.npy (the Rust side starts from
  the same labels), so both time the EM iterations only (lower bound,
  iterations, predict labels).
The Rust side alternates these runs with its own, so both see the same load.
Threads: scikit-learn's defaults (OpenMP/BLAS use every core).
"""

import json
import pathlib
import sys
import time

import numpy as np
import sklearn
from sklearn.cluster import AgglomerativeClustering, KMeans
from sklearn.datasets import make_blobs
from sklearn.metrics import (
    adjusted_rand_score,
    calinski_harabasz_score,
    davies_bouldin_score,
    normalized_mutual_info_score,
    silhouette_score,
)
from sklearn.metrics.cluster import contingency_matrix

# The same "start from these k-means labels" GaussianMixture as the stored
# reference values (fixtures/metrics/make_clustering_reference.py).
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "fixtures" / "metrics"))
from make_clustering_reference import GaussianMixtureFromLabels  # noqa: E402

# Rows of the data that the Ward measurement clusters (its SciPy distance
# matrix takes 4 n (n - 1) bytes: 400 MB here).
WARD_ROWS = 10000


def full_scores(data, pred, truth):
    table = contingency_matrix(truth, pred)
    return {
        "silhouette": float(silhouette_score(data, pred)),
        "davies_bouldin": float(davies_bouldin_score(data, pred)),
        "calinski_harabasz": float(calinski_harabasz_score(data, pred)),
        "ari": float(adjusted_rand_score(truth, pred)),
        "nmi": float(normalized_mutual_info_score(truth, pred)),
        "purity": float(table.max(axis=0).sum() / table.sum()),
    }


def generate(out):
    data, truth = make_blobs(n_samples=20000, n_features=16, centers=10, cluster_std=3.0, random_state=0)
    init = data[::2000][:10].copy()
    big, big_truth = make_blobs(n_samples=100000, n_features=16, centers=10, cluster_std=3.0, random_state=1)
    np.save(out / "data.npy", data)
    np.save(out / "truth.npy", truth.astype(np.int64))
    np.save(out / "init.npy", init)
    np.save(out / "data_100k.npy", big)
    np.save(out / "truth_100k.npy", big_truth.astype(np.int64))
    pred = KMeans(n_clusters=10, init=init, n_init=1).fit(data).labels_.astype(np.int64)
    np.save(out / "pred.npy", pred)
    print(json.dumps({"sklearn": sklearn.__version__, "numpy": np.__version__}))


def time_one(out, measurement):
    data = np.load(out / "data.npy")
    truth = np.load(out / "truth.npy")
    init = np.load(out / "init.npy")
    pred = np.load(out / "pred.npy")
    if measurement == "kmeans":
        KMeans(n_clusters=10, init=init, n_init=1).fit(data)
    wall, cpu = time.perf_counter(), time.process_time()
    if measurement == "silhouette":
        values = {"silhouette": float(silhouette_score(data, truth))}
    elif measurement == "kmeans":
        model = KMeans(n_clusters=10, init=init, n_init=1).fit(data)
        values = {"inertia": float(model.inertia_), "n_iter": int(model.n_iter_)}
    elif measurement == "scores":
        values = full_scores(data, pred, truth)
    elif measurement == "ward":
        model = AgglomerativeClustering(n_clusters=10, linkage="ward", compute_distances=True).fit(data[:WARD_ROWS])
        values = {"labels": [int(x) for x in model.labels_], "distances": [float(x) for x in model.distances_]}
    elif measurement in ("gmm_full", "gmm_diag"):
        model = GaussianMixtureFromLabels(initial_labels=pred, n_components=10,
                                          covariance_type=measurement[4:]).fit(data)
        values = {"lower_bound": float(model.lower_bound_), "n_iter": int(model.n_iter_),
                  "labels": [int(x) for x in model.predict(data)]}
    else:
        raise SystemExit(f"unknown measurement {measurement!r}")
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(json.dumps({"seconds": wall, "cpu_seconds": cpu, "values": values}))


def main():
    mode, out = sys.argv[1], pathlib.Path(sys.argv[2])
    if mode == "generate":
        generate(out)
    elif mode == "time":
        time_one(out, sys.argv[3])
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main()
