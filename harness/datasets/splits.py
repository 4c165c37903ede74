"""Deterministic index splits shared by dataset sources and scenarios."""

from __future__ import annotations

import numpy as np


def stratified_split(labels: np.ndarray, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split indices so that each class keeps ``round(n_c * test_fraction)`` test samples (at least one).

    The result depends only on ``labels``, ``test_fraction`` and ``seed``; both index arrays are sorted.
    """
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        idx = idx[rng.permutation(len(idx))]
        n_test = min(len(idx) - 1, max(1, int(round(len(idx) * test_fraction))))
        test.append(idx[:n_test])
        train.append(idx[n_test:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def cap_per_class(labels: np.ndarray, cap: int | None, seed) -> np.ndarray:
    """Sorted indices keeping at most ``cap`` random samples of every class, drawn with
    ``np.random.default_rng(seed)`` (all indices when ``cap`` is None)."""
    if cap is None:
        return np.arange(len(labels))
    rng = np.random.default_rng(seed)
    return np.sort(np.concatenate([rng.permutation(np.flatnonzero(labels == c))[:cap] for c in np.unique(labels)]))
