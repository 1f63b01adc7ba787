"""How much of a point's scores is the k-means draw (docs/features.md).

Scores each seed's latent means of one sweep point with scikit-learn's
KMeans at many random states (and once at the best of many restarts), and
PCA + the same k-means on the features the point trained on, so that the
spread across seeds can be split into training and clustering.

    python3 -m venv /tmp/skl && /tmp/skl/bin/pip install numpy scikit-learn
    /tmp/skl/bin/python xtask/bench/kmeans_spread.py \
        --runs runs/gtzan-features --point 770a24e390fc \
        --features runs/gtzan-features/features/<hash> --label label --k 10
"""

import argparse
import glob
import json
import os

import numpy as np
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score


def scores(truth, embedding, k, states, restarts):
    per_state = []
    for state in range(states):
        predicted = KMeans(k, n_init=restarts, random_state=state).fit_predict(embedding)
        per_state.append(
            (adjusted_rand_score(truth, predicted), normalized_mutual_info_score(truth, predicted))
        )
    best = KMeans(k, n_init=300, random_state=0).fit_predict(embedding)
    best_scores = (adjusted_rand_score(truth, best), normalized_mutual_info_score(truth, best))
    return np.array(per_state), best_scores


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", required=True, help="sweep directory")
    parser.add_argument("--point", required=True, help="point id")
    parser.add_argument("--features", required=True, help="features directory of the point")
    parser.add_argument("--label", required=True)
    parser.add_argument("--k", type=int, required=True)
    parser.add_argument("--states", type=int, default=20)
    parser.add_argument("--restarts", type=int, default=10)
    parser.add_argument("--components", type=int, default=16)
    args = parser.parse_args()

    with open(os.path.join(args.features, "labels.json")) as handle:
        truth = json.load(handle)["labels"][args.label]
    all_states = []
    best = []
    for path in sorted(glob.glob(os.path.join(args.runs, "runs", args.point, "seed-*", "latents.npy"))):
        latents = np.load(path).astype(np.float64)
        per_state, best_scores = scores(truth, latents, args.k, args.states, args.restarts)
        all_states.append(per_state)
        best.append(best_scores)
        print(
            f"{path}: ARI {per_state[:, 0].mean():.3f} +- {per_state[:, 0].std():.3f}, "
            f"NMI {per_state[:, 1].mean():.3f} +- {per_state[:, 1].std():.3f}; "
            f"best of 300: ARI {best_scores[0]:.3f} NMI {best_scores[1]:.3f}"
        )
    stacked = np.concatenate(all_states)
    latent_means = np.array([per_state.mean(axis=0) for per_state in all_states])
    best = np.array(best)
    print(
        f"point, {len(best)} latents x {args.states} states: ARI {stacked[:, 0].mean():.3f} +- "
        f"{stacked[:, 0].std():.3f}, NMI {stacked[:, 1].mean():.3f} +- {stacked[:, 1].std():.3f}"
    )
    print(
        f"point, each latent scored as the mean of its {args.states} states: ARI "
        f"{latent_means[:, 0].mean():.3f} +- {latent_means[:, 0].std(ddof=1):.3f}, "
        f"NMI {latent_means[:, 1].mean():.3f} +- {latent_means[:, 1].std(ddof=1):.3f}"
    )
    print(
        f"point, best of 300 per latent: ARI {best[:, 0].mean():.3f} +- {best[:, 0].std(ddof=1):.3f}, "
        f"NMI {best[:, 1].mean():.3f} +- {best[:, 1].std(ddof=1):.3f}"
    )
    features = np.load(os.path.join(args.features, "features.npy")).astype(np.float64)
    projected = PCA(args.components, random_state=0).fit_transform(features)
    per_state, best_scores = scores(truth, projected, args.k, args.states, args.restarts)
    print(
        f"PCA({args.components})+KMeans, {args.states} states: ARI {per_state[:, 0].mean():.3f} +- "
        f"{per_state[:, 0].std():.3f}, NMI {per_state[:, 1].mean():.3f} +- {per_state[:, 1].std():.3f}; "
        f"best of 300: ARI {best_scores[0]:.3f} NMI {best_scores[1]:.3f}"
    )


if __name__ == "__main__":
    main()
