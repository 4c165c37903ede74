"""Queries of the prototype store: dense scores, top-k, prototype similarity and neighbours, computed
in blocks under the store's memory budget (the blocked search itself is :mod:`harness.store.search`)."""

from __future__ import annotations

from typing import Iterable, Literal

import torch
import torch.nn.functional as F

from harness.api.summary import LogitSummary, SummaryRequest
from harness.store.covariance import shrink, whitening
from harness.store.search import BlockedSearch, block_topk
from harness.store.summaries import blocked_summary

Metric = Literal["euclidean", "sqeuclidean", "cosine", "dot", "mahalanobis", "sqmahalanobis"]
METRICS = ("euclidean", "sqeuclidean", "cosine", "dot", "mahalanobis", "sqmahalanobis")
_CPU_WHOLE_BLOCK = 1 << 14  # up to this many classes a CPU float32 search scores all classes at once


class Queries:
    """Mixin of :class:`harness.store.prototype_store.PrototypeStore`: scores, top-k and similarity."""

    # ------------------------------------------------------------------ query plumbing
    def _blocks(self, num: int) -> tuple[int, int]:
        """(query_block, class_block) for ``num`` prototype rows within the memory budget."""
        elem = torch.finfo(self.dtype).bits // 8
        cuda = self.device.type == "cuda"
        # CPU, float32, up to 16k classes: one block of all classes and a plain arg-max, which measured
        # 1.0-1.6x faster than 1024-class blocks with group maxima at 1k-10k classes (the bf16
        # search keeps 1024-class blocks: its groups are what the rounding proof works on)
        whole = cuda or (num <= _CPU_WHOLE_BLOCK and self.precision != "bf16")
        cb = self.class_block or (num if whole else 1024)
        cb = max(1, min(cb, num, self.memory_budget_bytes // elem))
        # CPU: blocks of 4M scores (16 MiB, as faiss's 4096 x 1024) keep the GEMM efficient and the
        # number of parallel regions small; CUDA: 16k queries per block
        qb = self.query_block or (16384 if cuda else max(1, 2**22 // cb))
        qb = max(1, min(qb, self.memory_budget_bytes // (elem * cb)))
        return qb, cb

    def _linear(self, metric: str, normalize: bool, mahalanobis: str, shrinkage: float):
        """The metric as ``q'·p' + bias`` (see harness/store/search.py), cached until the next change.

        Returns ``(qmap, protos, bias, kind)``: ``qmap`` maps queries to ``q'``; ``kind`` is
        ``"sim"`` (score = q'·p' + bias), ``"sq"`` (score = -d² with d² = ||q'||² - 2(q'·p' + bias))
        or ``"pc"`` (per-class diagonal Mahalanobis: score = 2(q'·p' + bias) = -d²), or ``None``
        when the metric has no such form (per-class full Mahalanobis).
        """
        key = ("linear", metric, normalize, mahalanobis, shrinkage)
        if key in self._cache:
            return self._cache[key]
        protos = self._protos
        if normalize or metric == "cosine":
            protos = F.normalize(protos, dim=1)
        result = None
        if metric in ("dot", "cosine"):
            qmap = (lambda q: F.normalize(q, dim=1)) if metric == "cosine" else (lambda q: q)
            result = (qmap, protos, None, "sim")
        elif metric in ("euclidean", "sqeuclidean"):
            result = (lambda q: q, protos, -0.5 * (protos * protos).sum(1), "sq")
        elif mahalanobis == "shared":
            cov = self.shared_covariance(shrinkage)
            w = whitening(cov, self.covariance_kind == "full", "the shared covariance").to(self.dtype)
            if w.ndim == 1:
                qmap = lambda q: q * w  # noqa: E731
            else:
                qmap = lambda q: q @ w.T  # noqa: E731
            wp = qmap(protos)
            result = (qmap, wp, -0.5 * (wp * wp).sum(1), "sq")
        elif self.covariance_kind == "diag":
            inv = self._per_class_whitening(shrinkage).to(self.dtype) ** 2  # (P, D): 1/σ²
            p = torch.cat([-0.5 * inv, protos * inv], 1)
            result = (lambda q: torch.cat([q * q, q], 1), p, -0.5 * (protos * protos * inv).sum(1), "pc")
        self._cache[key] = result
        return result

    def _per_class_whitening(self, shrinkage: float) -> torch.Tensor:
        key = ("per_class_w", shrinkage)
        if key not in self._cache:
            self._need_covariance("per-class Mahalanobis")
            full = self.covariance_kind == "full"
            n = self._n
            m2 = self._m2
            cov = m2 / (n - 1).clamp_min(1.0).view(-1, *([1] * (m2.ndim - 1)))
            cov = torch.where((n > 1).view(-1, *([1] * (m2.ndim - 1))), cov, torch.zeros_like(cov))
            self._cache[key] = whitening(shrink(cov, shrinkage, full), full, "a class covariance")
        return self._cache[key]

    def _check_query(self, queries: torch.Tensor, metric: str, mahalanobis: str) -> torch.Tensor:
        if metric not in METRICS:
            raise ValueError(f"unknown metric {metric!r}; use one of {', '.join(METRICS)}")
        if mahalanobis not in ("shared", "per_class"):
            raise ValueError(f"mahalanobis must be 'shared' or 'per_class', got {mahalanobis!r}")
        if self.num_classes == 0:
            raise RuntimeError("the prototype store is empty: learn at least one class before querying")
        if queries.ndim != 2 or queries.shape[1] != self.dim:
            raise ValueError(f"queries must have shape (N, {self.dim}), got {tuple(queries.shape)}")
        return queries.to(self.device, self.dtype)

    def _proto_scores(self, q, metric, normalize, mahalanobis, shrinkage, out=None) -> torch.Tensor:
        """Scores of queries against every prototype, ``(n, P)``, higher is closer.

        Computed a block of queries at a time so that temporaries stay within the budget; the
        bf16 mode computes full score matrices in float32 (TF32 stays TF32).
        """
        out = torch.empty(len(q), self.num_prototypes, dtype=self.dtype, device=self.device) if out is None else out
        lin = self._linear(metric, normalize, mahalanobis, shrinkage)
        if lin is None:
            return self._per_class_full_scores(q, metric, shrinkage, out)
        qmap, protos, bias, kind = lin
        step = self._query_rows_per_chunk(len(q), 2 * protos.shape[1])
        key = ("dense", metric, normalize, mahalanobis, shrinkage)
        search = self._cache.get(key)
        if search is None:  # one block of all prototypes per chunk of queries (``step`` rows at most)
            rows = self._query_rows_per_chunk(1 << 62, 2 * protos.shape[1])
            search = self._cache[key] = BlockedSearch(protos, bias, rows, len(protos), "highest" if self.precision == "bf16" else self.precision)
        for s in range(0, len(q), step):
            qm = qmap(q[s : s + step])
            search.scores_into(qm, out[s : s + step])
            self._finish(out[s : s + step], qm, kind, metric)
        return out

    @staticmethod
    def _finish(lin: torch.Tensor, qm: torch.Tensor, kind: str, metric: str) -> torch.Tensor:
        """Turn ``q'·p' + bias`` (``(n, m)``) into the metric's score, in place.

        ``d² = ||q'||² - 2(q'·p' + bias)`` is accurate to a few float32 roundings of ``||q'||²``
        (as in any matmul-based distance): a query equal to a prototype may score ``-d²`` of about
        ``-1e-7·||q'||²`` instead of 0.  ``||q'||²`` comes from ``vector_norm`` (one vectorised pass).
        """
        if kind == "sim":
            return lin
        if kind == "sq":
            lin.mul_(2.0).sub_(torch.linalg.vector_norm(qm, dim=1, keepdim=True).square_()).clamp_max_(0.0)  # -d²
        else:
            lin.mul_(2.0).clamp_max_(0.0)
        if metric in ("euclidean", "mahalanobis"):
            lin.neg_().sqrt_().neg_()
        return lin

    def _per_class_full_scores(self, q: torch.Tensor, metric: str, shrinkage: float, out: torch.Tensor) -> torch.Tensor:
        """``-d²`` (or ``-d``) with each prototype's own whitening ``W_c``: ``d = ||W_c (q - μ_c)||``."""
        w = self._per_class_whitening(shrinkage).to(self.dtype)  # (P, D, D)
        elem = torch.finfo(self.dtype).bits // 8
        qstep = max(1, min(len(q), self.memory_budget_bytes // (3 * elem * self.dim)))
        cstep = max(1, self.memory_budget_bytes // (3 * elem * self.dim * qstep))
        for s in range(0, len(q), qstep):
            qs = q[s : s + qstep]
            for lo in range(0, len(w), cstep):
                diff = qs[:, None, :] - self._protos[None, lo : lo + cstep]  # (n, c, D)
                y = torch.einsum("ncd,ced->nce", diff, w[lo : lo + cstep])
                out[s : s + qstep, lo : lo + cstep] = -(y * y).sum(-1)
        if metric == "mahalanobis":
            out.neg_().sqrt_().neg_()
        return out

    def _reduce_to_classes(self, proto_scores: torch.Tensor) -> torch.Tensor:
        if self.single_prototype:
            return proto_scores
        out = proto_scores.new_full((len(proto_scores), self.num_classes), -float("inf"))
        index = self._proto_class.expand(len(proto_scores), -1)
        return out.scatter_reduce_(1, index, proto_scores, reduce="amax")

    def _query_rows_per_chunk(self, n: int, width: int) -> int:
        elem = torch.finfo(self.dtype).bits // 8
        return max(1, min(n, self.memory_budget_bytes // (elem * max(1, width))))

    # ------------------------------------------------------------------ queries
    def scores(
        self,
        queries: torch.Tensor,
        metric: Metric = "euclidean",
        normalize_prototypes: bool = False,
        *,
        mahalanobis: Literal["shared", "per_class"] = "shared",
        shrinkage: float = 0.0,
    ) -> torch.Tensor:
        """Similarity of each query to each class, shape ``(N, C)``; higher is closer.

        ``euclidean`` / ``sqeuclidean`` return ``-||q - μ||`` / ``-||q - μ||²``, ``cosine`` the
        cosine similarity, ``dot`` the inner product, ``mahalanobis`` / ``sqmahalanobis``
        ``-d`` / ``-d²`` with ``d² = (q - μ)ᵀ Σ⁻¹ (q - μ)``, ``Σ`` the pooled (``"shared"``) or the
        class's own (``"per_class"``) covariance shrunk by ``shrinkage``.  With several
        prototypes per class, a class scores as its best prototype.
        """
        q = self._check_query(queries, metric, mahalanobis)
        return self._class_scores(q, metric, normalize_prototypes, mahalanobis, shrinkage)

    def _class_scores(self, q, metric, normalize, mahalanobis, shrinkage, out=None) -> torch.Tensor:
        out = torch.empty(len(q), self.num_classes, dtype=self.dtype, device=self.device) if out is None else out
        if self.single_prototype:  # scores are written straight into the result, a block of queries at a time
            return self._proto_scores(q, metric, normalize, mahalanobis, shrinkage, out=out)
        step = self._query_rows_per_chunk(len(q), self.num_prototypes + self.num_classes)
        for s in range(0, len(q), step):
            block = self._proto_scores(q[s : s + step], metric, normalize, mahalanobis, shrinkage)
            out[s : s + step] = self._reduce_to_classes(block)
        return out

    def summarise(
        self,
        queries: torch.Tensor,
        request: SummaryRequest,
        metric: Metric = "euclidean",
        normalize_prototypes: bool = False,
        *,
        scale: float | None = None,
        mahalanobis: Literal["shared", "per_class"] = "shared",
        shrinkage: float = 0.0,
    ) -> LogitSummary:
        """What ``request`` asks of the logits ``scale · scores(queries, ...)`` without computing more
        than a block of them at a time: equal, bit for bit, to
        :func:`harness.store.summaries.summary_of_logits` of the dense logits
        (``harness/store/summaries.py`` says why); the block's working set stays within the budget."""
        q = self._check_query(queries, metric, mahalanobis)

        def score_block(s: int, e: int, out: torch.Tensor) -> torch.Tensor:
            block = self._class_scores(q[s:e], metric, normalize_prototypes, mahalanobis, shrinkage, out=out)
            return block if scale is None else block.mul_(scale)

        return blocked_summary(score_block, len(q), self._ids(), request, self.memory_budget_bytes, self.dtype, self.device)

    def topk(
        self,
        queries: torch.Tensor,
        k: int = 1,
        metric: Metric = "euclidean",
        normalize_prototypes: bool = False,
        *,
        mahalanobis: Literal["shared", "per_class"] = "shared",
        shrinkage: float = 0.0,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The ``k`` closest classes per query: ``(scores, class_ids)``, each ``(N, k)``, best first.

        Ties go to the earlier inserted class.  Scores are those of :meth:`scores` (up to float32
        rounding); in the fast precision modes the answers are proved or recomputed in float32
        (see ``precision``), and top-k scores (k > 1) are recomputed from differences.
        """
        q = self._check_query(queries, metric, mahalanobis)
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        k = min(k, self.num_classes)
        lin = self._linear(metric, normalize_prototypes, mahalanobis, shrinkage)
        if lin is None or not self.single_prototype:
            return self._topk_from_scores(q, k, metric, normalize_prototypes, mahalanobis, shrinkage)
        qmap, protos, bias, kind = lin
        qb, cb = self._blocks(len(protos))
        key = ("search", metric, normalize_prototypes, mahalanobis, shrinkage)
        search = self._cache.get(key)
        if search is None:
            search = self._cache[key] = BlockedSearch(protos, bias, qb, cb, self.precision, kernel=self.kernel)
        ids = self._ids()
        ids_out = torch.empty(len(q), k, dtype=torch.long, device=self.device)
        scores_out = torch.empty(len(q), k, dtype=self.dtype, device=self.device)

        def finish(part, values, rows):  # runs in the search threads, as does the class-id lookup
            return self._finish(values.to(self.dtype)[:, None], part, kind, metric)[:, 0], ids[rows]

        step = len(q) if k == 1 and self.cpu_threads > 1 else qb
        for s in range(0, len(q), step):
            qm = qmap(q[s : s + step])
            if k == 1:
                search.top1_threaded(qm, self.cpu_threads, finish, (scores_out[s : s + step, 0], ids_out[s : s + step, 0]))
                continue
            if search.fast:
                scores, rows = self._fast_topk(search, qm, protos, k, kind, metric)
            else:
                vals, rows = search.topk(qm, k)
                scores = self._finish(vals.to(self.dtype), qm, kind, metric)
            scores_out[s : s + step], ids_out[s : s + step] = scores, ids[rows]
        return scores_out, ids_out

    def fast_pass_counts(self) -> tuple[int, int] | None:
        """``(proved, searched)``: top-1 queries that the fast precision's pass proved, of those it
        searched, since the statistics last changed; None when no search used a fast pass."""
        searches = [v for k, v in self._cache.items() if k[0] == "search" and v.fast]
        if not searches:
            return None
        return sum(s.proved for s in searches), sum(s.searched for s in searches)

    def _fast_topk(self, search, qm, protos, k, kind, metric):
        """Top-k of the fast pass's ``k + rerank`` candidates rescored in float32 from differences;
        queries whose candidates are not proved to hold the top-k are searched again in float32."""
        fast_values, cand = search.topk(qm, min(k + self.rerank, len(protos)))
        redo = (~search.proved_topk(qm, fast_values, k)).nonzero()[:, 0]
        cand = torch.sort(cand, dim=1).values
        scores, pos = block_topk(self._exact(qm, protos, cand, kind, metric), k)
        rows = cand.gather(1, pos)
        if len(redo):
            cand = torch.sort(search.exact().topk(qm[redo], k)[1], dim=1).values
            redo_scores, pos = block_topk(self._exact(qm[redo], protos, cand, kind, metric), k)
            scores[redo], rows[redo] = redo_scores, cand.gather(1, pos)
        return scores, rows

    def _exact(self, qm, protos, rows, kind, metric) -> torch.Tensor:
        """Float32 scores of ``qm`` against the prototype rows ``rows`` ``(n, k)``, from differences."""
        p = protos[rows]  # (n, k, D')
        if kind == "sim":
            return (qm[:, None, :] * p).sum(-1)
        if kind == "sq":
            d2 = ((qm[:, None, :] - p) ** 2).sum(-1)
        else:  # per-class diagonal Mahalanobis: q' = [q², q], p' = [-w/2, μ w]
            d = qm.shape[1] // 2
            inv = -2.0 * p[..., :d]
            mu = p[..., d:] / inv
            d2 = ((qm[:, None, d:] - mu) ** 2 * inv).sum(-1)
        return -d2.sqrt() if metric in ("euclidean", "mahalanobis") else -d2

    def _topk_from_scores(self, q, k, metric, normalize, mahalanobis, shrinkage):
        vals_out = torch.empty(len(q), k, dtype=self.dtype, device=self.device)
        rows_out = torch.empty(len(q), k, dtype=torch.long, device=self.device)
        step = self._query_rows_per_chunk(len(q), 2 * self.num_prototypes + self.num_classes)
        for s in range(0, len(q), step):
            block = self._reduce_to_classes(self._proto_scores(q[s : s + step], metric, normalize, mahalanobis, shrinkage))
            vals_out[s : s + step], rows_out[s : s + step] = block_topk(block, k)
        return vals_out, self._ids()[rows_out]

    def similarity(
        self,
        class_ids_a: Iterable[int] | None = None,
        class_ids_b: Iterable[int] | None = None,
        metric: Metric = "cosine",
        normalize_prototypes: bool = False,
        **options,
    ) -> torch.Tensor:
        """Prototype-to-prototype similarity between class means, ``(A, B)`` (all classes by default)."""
        a = self.means if class_ids_a is None else self.means[self.rows(class_ids_a)]
        s = self.scores(a, metric, normalize_prototypes, **options)
        return s if class_ids_b is None else s[:, self.rows(class_ids_b)]

    def neighbours(self, k: int, metric: Metric = "cosine", normalize_prototypes: bool = False, **options) -> tuple[torch.Tensor, torch.Tensor]:
        """The ``k`` most similar *other* classes of every class: ``(scores, class_ids)``, ``(C, k)``."""
        if not 1 <= k < self.num_classes:
            raise ValueError(f"k must be in [1, {self.num_classes - 1}], got {k}")
        means = self.means
        vals = torch.empty(self.num_classes, k, dtype=self.dtype, device=self.device)
        rows = torch.empty(self.num_classes, k, dtype=torch.long, device=self.device)
        step = self._query_rows_per_chunk(self.num_classes, 2 * self.num_classes)
        for s in range(0, self.num_classes, step):
            block = self.scores(means[s : s + step], metric, normalize_prototypes, **options)
            own = torch.arange(s, s + len(block), device=self.device)
            block[torch.arange(len(block), device=self.device), own] = -float("inf")
            vals[s : s + step], rows[s : s + step] = block_topk(block, k)
        return vals, self._ids()[rows]
