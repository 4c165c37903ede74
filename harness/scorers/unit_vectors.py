"""Rows scaled to unit length, as the neighbour scorers compare features (cosine geometry)."""

from __future__ import annotations

import numpy as np


def normalised(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
