"""Streaming statistics of the prototype store: exact updates in any batch order, covariances, and
Gaussian sampling of pseudo-features."""

from __future__ import annotations

from typing import Iterable, Literal

import torch

from harness.store.covariance import shrink
from harness.store.streaming import batch_moments, chan_merge, first_positions, merge_groups, merge_samples

_UPDATE_CHUNK = 1 << 16  # rows summed before each pairwise merge (bounds float32 summation error)
_SAMPLE_CHUNK = 1 << 13  # rows per sample-wise float64 merge (its two scratch buffers: 2 x rows x D)


class Statistics:
    """Mixin of :class:`harness.store.prototype_store.PrototypeStore`: updates, covariances, sampling."""

    # ------------------------------------------------------------------ updates
    def update(self, features: torch.Tensor, labels: torch.Tensor, slots: torch.Tensor | None = None) -> None:
        """Merge a batch into the statistics of its classes (exact, any batch order and size).

        ``slots`` (optional, ``(N,)`` non-negative ints) puts each sample into prototype ``slot``
        of its class, for methods that keep several prototypes per class.
        """
        if features.ndim != 2 or features.shape[1] != self.dim:
            raise ValueError(f"features must have shape (N, {self.dim}), got {tuple(features.shape)}")
        if labels.ndim != 1 or len(features) != len(labels):
            raise ValueError(f"labels must have shape ({len(features)},), got {tuple(labels.shape)}")
        if slots is not None and (slots.ndim != 1 or len(slots) != len(labels)):
            raise ValueError(f"slots must have shape ({len(labels)},), got {tuple(slots.shape)}")
        if slots is not None and len(slots) and int(slots.min()) < 0:
            raise ValueError("slots must be non-negative")
        if len(features) == 0:
            return
        features = features.to(self.device)
        if not bool(torch.isfinite(torch.stack(torch.aminmax(features))).all()):  # NaN and inf reach min or max
            raise ValueError("features contain NaN or infinite values")
        labels = labels.to(self.device, torch.long)
        if slots is None and self._update_known(features, labels):
            return
        if slots is None:
            keys_t, inverse = torch.unique(labels, return_inverse=True)
            keys = [(c, 0) for c in keys_t.tolist()]
        else:
            pairs = torch.stack([labels, slots.to(self.device, torch.long)], 1)
            keys_t, inverse = torch.unique(pairs, dim=0, return_inverse=True)
            keys = [tuple(k) for k in keys_t.tolist()]
        self._ensure(keys)
        rows = torch.tensor([self._proto_row[k] for k in keys], dtype=torch.long, device=self.device)
        for start in range(0, len(features), _UPDATE_CHUNK):
            part = slice(start, start + _UPDATE_CHUNK)
            self._merge_batch(features[part], inverse[part], rows)
        self._protos[rows] = self._mu[rows].to(self.dtype)
        self._changed(classes=False)

    def _update_known(self, features: torch.Tensor, labels: torch.Tensor) -> bool:
        """Fast path without Python work per class: every label is a known single-prototype class.

        A dense ``class id -> row`` table (ids up to 4·C + 2^16) maps labels to rows on the device.
        Returns False (nothing done) when the batch has unknown or out-of-table labels.
        """
        if not self.single_prototype or self.num_classes == 0:
            return False
        table = self._cache.get("lookup")
        if table is None:
            ids = torch.tensor(self._classes, dtype=torch.long, device=self.device)
            if int(ids.min()) < 0 or int(ids.max()) >= 4 * len(ids) + 2**16:
                return False
            table = torch.full((int(ids.max()) + 1,), -1, dtype=torch.long, device=self.device)
            table[ids] = torch.arange(len(ids), device=self.device)
            self._cache["lookup"] = table
        inside = (labels >= 0) & (labels < len(table))
        rows = table[labels.clamp(0, len(table) - 1)]
        if not bool((inside & (rows >= 0)).all()):
            return False
        urows, inverse = torch.unique(rows, return_inverse=True)
        for start in range(0, len(features), _UPDATE_CHUNK):
            part = slice(start, start + _UPDATE_CHUNK)
            self._merge_batch(features[part], inverse[part], urows)
        self._protos[urows] = self._mu[urows].to(self.dtype)
        self._changed(classes=False)
        return True

    def _merge_batch(self, x: torch.Tensor, inverse: torch.Tensor, rows: torch.Tensor) -> None:
        if self.accumulate_dtype == self.stats_dtype == torch.float64 and self.covariance_kind != "full":
            scratch = self._spare.get("scratch")
            if scratch is None or scratch.shape[1] < min(len(x), _SAMPLE_CHUNK):
                scratch = self._spare["scratch"] = self._mu.new_empty((2, min(len(x), _SAMPLE_CHUNK), self.dim))
            r = rows[inverse]
            for s in range(0, len(x), _SAMPLE_CHUNK):
                merge_samples(self._n, self._mu, self._m2, x[s : s + _SAMPLE_CHUNK], r[s : s + _SAMPLE_CHUNK], scratch)
            return
        n_a, mu_a = self._n[rows], self._mu[rows]
        shift = None
        if self.accumulate_dtype != torch.float64:  # float32 sums: centre on the running mean
            first = first_positions(inverse, len(rows)).clamp_max_(len(x) - 1)
            shift = torch.where((n_a > 0)[:, None], mu_a.to(x.dtype), x[first])
        n_b, mu_b, m2_b = batch_moments(x, inverse, len(rows), shift, self.covariance_kind, self.accumulate_dtype, self.stats_dtype)
        m2_a = None if self._m2 is None else self._m2[rows]
        n, mu, m2 = chan_merge(n_a, mu_a, m2_a, n_b, mu_b, m2_b)
        self._n[rows], self._mu[rows] = n, mu
        if m2 is not None:
            self._m2[rows] = m2

    # ------------------------------------------------------------------ statistics
    def _class_stats(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """(counts, means, M2) per class, in stats dtype; prototypes of a class merged exactly."""
        if self.single_prototype:
            return self._n, self._mu, self._m2
        if "class_stats" not in self._cache:
            self._cache["class_stats"] = merge_groups(self._n, self._mu, self._m2, self._proto_class, self.num_classes)
        return self._cache["class_stats"]

    def _need_covariance(self, what: str) -> None:
        if self.covariance_kind is None:
            raise ValueError(f"{what} needs covariances: create the store with covariance='diag' or 'full'")

    def covariance(self, class_ids: Iterable[int] | None = None, ddof: int = 1, shrinkage: float = 0.0) -> torch.Tensor:
        """Per-class covariance ``M2 / (n - ddof)``, shrunk by ``shrinkage`` (see harness/store/covariance.py).

        Shape ``(m, D)`` (diagonal) or ``(m, D, D)``; a class with ``n <= ddof`` gets zeros before
        shrinkage.
        """
        self._need_covariance("covariance()")
        n, _, m2 = self._class_stats()
        if class_ids is not None:
            rows = self.rows(class_ids)
            n, m2 = n[rows], m2[rows]
        denom = (n - ddof).clamp_min(1.0)
        cov = m2 / denom.view(-1, *([1] * (m2.ndim - 1)))
        cov = torch.where((n > ddof).view(-1, *([1] * (m2.ndim - 1))), cov, torch.zeros_like(cov))
        return shrink(cov, shrinkage, self.covariance_kind == "full")

    def pooled_scatter(self) -> torch.Tensor:
        """``Σ_c M2_c``: the scatter of every sample about its own class's mean, summed over classes."""
        self._need_covariance("pooled_scatter()")
        return self._class_stats()[2].sum(0)

    def shared_covariance(self, shrinkage: float = 0.0) -> torch.Tensor:
        """Pooled within-class covariance ``Σ_c M2_c / (Σ_c n_c - C)``, shrunk by ``shrinkage``."""
        self._need_covariance("shared_covariance()")
        n = self._class_stats()[0]
        dof = float(n.sum()) - int((n > 0).sum())
        if dof <= 0:
            raise ValueError("the shared covariance needs more samples than classes")
        return shrink(self.pooled_scatter() / dof, shrinkage, self.covariance_kind == "full")

    # ------------------------------------------------------------------ sampling
    def sample(
        self,
        class_ids: Iterable[int],
        num_per_class: int,
        generator: torch.Generator,
        *,
        covariance: Literal["class", "shared"] = "class",
        shrinkage: float = 0.0,
        scale: float = 1.0,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Gaussian pseudo-features ``μ_c + scale · L z``, ``z ~ N(0, I)`` drawn from ``generator``.

        ``L L ᵀ`` is the class covariance (``"class"``) or the pooled one (``"shared"``), shrunk by
        ``shrinkage``; diagonal stores use ``L = diag(σ)``.  Returns ``(features (m·n, D), labels)``,
        class by class.  Deterministic for a given generator state (draws happen on the
        generator's device, then move to the store's).
        """
        class_ids = [int(c) for c in class_ids]
        if covariance not in ("class", "shared"):
            raise ValueError(f"covariance must be 'class' or 'shared', got {covariance!r}")
        rows = self.rows(class_ids)
        full = self.covariance_kind == "full"
        if covariance == "shared":
            cov = self.shared_covariance(shrinkage).expand(len(rows), *([self.dim] * (2 if full else 1)))
        else:
            cov = self.covariance(class_ids, shrinkage=shrinkage)
        mu = self._class_stats()[1][rows]
        z = torch.randn(len(rows), num_per_class, self.dim, generator=generator, dtype=self.stats_dtype, device=generator.device)
        z = z.to(self.device)
        if full:
            chol, info = torch.linalg.cholesky_ex(cov)
            if bool((info != 0).any()):
                raise ValueError("a class covariance is not positive definite; use shrinkage > 0")
            x = mu[:, None, :] + scale * torch.einsum("cij,cnj->cni", chol, z)
        else:
            x = mu[:, None, :] + scale * z * cov.sqrt()[:, None, :]
        labels = torch.tensor(class_ids, dtype=torch.long, device=self.device).repeat_interleave(num_per_class)
        return x.reshape(-1, self.dim).to(self.dtype), labels
