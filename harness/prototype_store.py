"""The one place class statistics live: per-class counts and means on the run's device.

Importable with torch and numpy alone.  Means are merged with the pairwise update of Chan et al.
(``mean += (batch_mean - mean) * n_b / (n_a + n_b)``), so any split of the data into batches, in any
order, gives the batch mean up to floating-point rounding.  Queries are chunked so that no block of
scores larger than ``memory_budget_bytes`` is allocated except the result the caller asked for.
"""

from __future__ import annotations

from typing import Iterable, Literal

import torch
import torch.nn.functional as F

Metric = Literal["euclidean", "sqeuclidean", "cosine", "dot"]
METRICS = ("euclidean", "sqeuclidean", "cosine", "dot")


def resolve_store_device(device: str | torch.device) -> torch.device:
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


class PrototypeStore:
    """Per-class counts and means, keyed by integer class ids in insertion order.

    Row ``r`` of :attr:`means` belongs to ``class_ids[r]``.  Scores from :meth:`scores` are ordered
    the same way, and ties in :meth:`topk` go to the lower row (the earlier inserted class).
    """

    def __init__(
        self,
        dim: int,
        device: str | torch.device = "auto",
        dtype: torch.dtype = torch.float32,
        memory_budget_bytes: int = 256 * 2**20,
    ):
        if dim < 1:
            raise ValueError(f"dim must be >= 1, got {dim}")
        self.dim = dim
        self.device = resolve_store_device(device)
        self.dtype = dtype
        self.memory_budget_bytes = int(memory_budget_bytes)
        self._ids: list[int] = []
        self._row: dict[int, int] = {}
        self._counts = torch.zeros(0, dtype=torch.float64, device=self.device)
        self._means = torch.zeros(0, dim, dtype=dtype, device=self.device)

    # ------------------------------------------------------------------ classes
    @property
    def class_ids(self) -> torch.Tensor:
        return torch.tensor(self._ids, dtype=torch.long)

    @property
    def num_classes(self) -> int:
        return len(self._ids)

    @property
    def counts(self) -> torch.Tensor:
        return self._counts.clone()

    @property
    def means(self) -> torch.Tensor:
        return self._means

    def __contains__(self, class_id: object) -> bool:
        return class_id in self._row

    def rows(self, class_ids: Iterable[int]) -> torch.Tensor:
        missing = [c for c in class_ids if c not in self._row]
        if missing:
            raise KeyError(f"classes not in the store: {missing[:10]}")
        return torch.tensor([self._row[int(c)] for c in class_ids], dtype=torch.long, device=self.device)

    def mean_of(self, class_id: int) -> torch.Tensor:
        return self._means[self._row[int(class_id)]]

    def _ensure_classes(self, class_ids: Iterable[int]) -> None:
        new = [int(c) for c in class_ids if int(c) not in self._row]
        if not new:
            return
        for c in new:
            self._row[c] = len(self._ids)
            self._ids.append(c)
        self._counts = torch.cat([self._counts, self._counts.new_zeros(len(new))])
        self._means = torch.cat([self._means, self._means.new_zeros(len(new), self.dim)])

    def set_means(self, class_ids: Iterable[int], means: torch.Tensor, counts: torch.Tensor | None = None) -> None:
        """Overwrite (or add) classes with given means, e.g. calibrated prototypes."""
        class_ids = [int(c) for c in class_ids]
        means = means.to(self.device, self.dtype)
        if means.shape != (len(class_ids), self.dim):
            raise ValueError(f"means must have shape ({len(class_ids)}, {self.dim}), got {tuple(means.shape)}")
        self._ensure_classes(class_ids)
        rows = self.rows(class_ids)
        self._means[rows] = means
        if counts is not None:
            self._counts[rows] = counts.to(self.device, torch.float64)

    # ------------------------------------------------------------------ updates
    def update(self, features: torch.Tensor, labels: torch.Tensor) -> None:
        """Merge a batch into the per-class counts and means (Chan et al.'s pairwise update)."""
        if features.ndim != 2 or features.shape[1] != self.dim:
            raise ValueError(f"features must have shape (N, {self.dim}), got {tuple(features.shape)}")
        if len(features) != len(labels):
            raise ValueError(f"{len(features)} features but {len(labels)} labels")
        if len(features) == 0:
            return
        labels = labels.to(self.device)
        present = torch.unique(labels).tolist()
        self._ensure_classes(present)
        lookup = torch.full((max(present) + 1,), -1, dtype=torch.long, device=self.device)
        lookup[torch.tensor(present, device=self.device)] = self.rows(present)
        rows = lookup[labels]
        feats = features.to(self.device, torch.float64)
        batch_sum = torch.zeros(self.num_classes, self.dim, dtype=torch.float64, device=self.device)
        batch_sum.index_add_(0, rows, feats)
        batch_n = torch.bincount(rows, minlength=self.num_classes).to(torch.float64)
        touched = batch_n > 0
        n_a = self._counts[touched]
        n_b = batch_n[touched]
        mean_a = self._means[touched].to(torch.float64)
        mean_b = batch_sum[touched] / n_b[:, None]
        merged = mean_a + (mean_b - mean_a) * (n_b / (n_a + n_b))[:, None]
        self._means[touched] = merged.to(self.dtype)
        self._counts[touched] = n_a + n_b

    # ------------------------------------------------------------------ queries
    def _prototypes(self, metric: str, normalize_prototypes: bool) -> torch.Tensor:
        protos = self._means
        if normalize_prototypes or metric == "cosine":
            protos = F.normalize(protos, dim=1)
        return protos

    def _chunk_rows(self, n_queries: int) -> int:
        per_row = max(1, self.num_classes) * torch.finfo(self.dtype).bits // 8 * 3
        return max(1, min(n_queries, self.memory_budget_bytes // per_row))

    def _score_block(self, q: torch.Tensor, protos: torch.Tensor, sq_norms: torch.Tensor, metric: str) -> torch.Tensor:
        if metric in ("dot", "cosine"):
            return q @ protos.T
        d2 = (q * q).sum(1, keepdim=True) - 2.0 * (q @ protos.T) + sq_norms[None, :]
        d2 = d2.clamp_min_(0.0)
        return -(d2.sqrt_() if metric == "euclidean" else d2)

    def _prepare(self, queries: torch.Tensor, metric: str, normalize_prototypes: bool):
        if metric not in METRICS:
            raise ValueError(f"unknown metric {metric!r}; use one of {', '.join(METRICS)}")
        if self.num_classes == 0:
            raise RuntimeError("the prototype store is empty: learn at least one class before querying")
        q = queries.to(self.device, self.dtype)
        if metric == "cosine":
            q = F.normalize(q, dim=1)
        protos = self._prototypes(metric, normalize_prototypes)
        return q, protos, (protos * protos).sum(1)

    def scores(self, queries: torch.Tensor, metric: Metric = "euclidean", normalize_prototypes: bool = False) -> torch.Tensor:
        """Similarity of each query to each class, shape ``(N, C)``; higher is closer.

        ``euclidean`` and ``sqeuclidean`` return negated (squared) distances, ``cosine`` the cosine
        similarity, ``dot`` the inner product.
        """
        q, protos, sq = self._prepare(queries, metric, normalize_prototypes)
        out = torch.empty(len(q), self.num_classes, dtype=self.dtype, device=self.device)
        step = self._chunk_rows(len(q))
        for start in range(0, len(q), step):
            out[start : start + step] = self._score_block(q[start : start + step], protos, sq, metric)
        return out

    def topk(
        self, queries: torch.Tensor, k: int = 1, metric: Metric = "euclidean", normalize_prototypes: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The ``k`` closest classes per query: ``(scores, class_ids)``, each ``(N, k)``, best first."""
        q, protos, sq = self._prepare(queries, metric, normalize_prototypes)
        k = min(k, self.num_classes)
        best_scores, best_rows = [], []
        step = self._chunk_rows(len(q))
        for start in range(0, len(q), step):
            block = self._score_block(q[start : start + step], protos, sq, metric)
            s, r = _stable_topk(block, k)
            best_scores.append(s)
            best_rows.append(r)
        ids = self.class_ids.to(self.device)
        return torch.cat(best_scores), ids[torch.cat(best_rows)]


def _stable_topk(block: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-k along dim 1 with ties broken towards the lower column index."""
    if k == 1:
        s, r = block.max(dim=1)  # torch returns the first maximal index
        return s[:, None], r[:, None]
    s, r = torch.sort(block, dim=1, descending=True, stable=True)
    return s[:, :k], r[:, :k]
