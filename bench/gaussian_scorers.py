"""Per-class Mahalanobis scoring: owlbench's low-rank precisions against the dense peer (scipy's
``pinvh`` of each shrunk covariance, then ``(x − μ_c) P_c (x − μ_c)`` with the full D × D matrix),
measured in one run on the same class statistics; prints both times, their ratio and the largest
relative difference of the scores.

The default sizes are those of leaderboards/open-set-wordnet100.yaml's last step: 100 classes of
80 training features in 384 dimensions (rank 79 per class), 2,300 scored samples (test and far).

    python bench/gaussian_scorers.py
    python bench/gaussian_scorers.py --dim 784 --per-class 240 --classes 10   # MNIST pixels
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from harness.api.registry import SCORERS, load_builtins


def dense_scores(scorer, x: np.ndarray) -> np.ndarray:
    """The peer: each class's precision as one matrix from scipy's pinvh of its shrunk covariance."""
    from scipy.linalg import pinvh

    stats, alpha = scorer.stats, scorer.params.shrinkage
    out = np.empty((len(x), len(stats.classes)))
    for j, (c, mean) in enumerate(zip(stats.classes, stats.means())):
        cov = stats.covariance(c)
        shrunk = (1 - alpha) * cov + alpha * np.trace(cov) / len(cov) * np.eye(len(cov))
        d = x - mean
        out[:, j] = ((d @ pinvh(shrunk)) * d).sum(1)
    return -np.maximum(out, 0.0).min(axis=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--classes", type=int, default=100)
    parser.add_argument("--per-class", type=int, default=80, help="training features per class")
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--queries", type=int, default=2300)
    parser.add_argument("--shrinkage", type=float, default=0.5)
    parser.add_argument("--repeats", type=int, default=3, help="each path timed this many times, taking turns; the best is kept")
    args = parser.parse_args()

    load_builtins()
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(args.classes), args.per_class)
    centres = rng.normal(size=(args.classes, args.dim))
    features = centres[labels] + rng.normal(size=(len(labels), args.dim)) * rng.uniform(0.5, 2.0, args.dim)
    queries = centres[rng.integers(0, args.classes, args.queries)] + rng.normal(size=(args.queries, args.dim)) * 1.5

    cls = SCORERS.get("mahalanobis")
    times: dict[str, list[float]] = {"owlbench": [], "dense pinvh": []}
    results = {}
    for _ in range(args.repeats):
        for name in times:
            scorer = cls(cls.Params(covariance="per_class", shrinkage=args.shrinkage))
            scorer.observe(torch.from_numpy(features), torch.from_numpy(labels))
            start = time.perf_counter()
            results[name] = scorer.score(None, torch.from_numpy(queries)) if name == "owlbench" else dense_scores(scorer, queries)
            times[name].append(time.perf_counter() - start)

    best = {name: min(t) for name, t in times.items()}
    difference = np.abs(results["owlbench"] - results["dense pinvh"]).max() / np.abs(results["dense pinvh"]).max()
    print(f"per-class Mahalanobis: {args.classes} classes x {args.per_class} features, D = {args.dim}, "
          f"{args.queries} queries, shrinkage {args.shrinkage}, torch threads {torch.get_num_threads()}")
    for name, t in best.items():
        print(f"{name:12s} {t:8.3f} s (best of {args.repeats}; all: {', '.join(f'{v:.3f}' for v in times[name])})")
    print(f"speed-up owlbench / dense: {best['dense pinvh'] / best['owlbench']:.2f}x; "
          f"largest score difference relative to the largest score: {difference:.1e}")


if __name__ == "__main__":
    main()
