"""The one place class statistics live: per-class counts, means, optional covariances, on one device.

Importable with torch and numpy alone (safetensors is imported by :meth:`PrototypeStore.save` and
:meth:`PrototypeStore.load` only).  The pieces live in ``harness/store/``:

- ``streaming.py``: exact streaming statistics merged with Chan et al.'s pairwise update, so any
  split of the data into batches, in any order, gives the batch statistics up to rounding;
- ``search.py``: blocked exact search that never allocates more than ``query_block × class_block``
  scores, with deterministic ties (the lower row, i.e. the earlier inserted prototype, wins);
- ``covariance.py``: shrinkage and whitening for Mahalanobis distances;
- ``serialization.py``: safetensors files.

Each class holds one prototype (slot 0) unless :meth:`PrototypeStore.update` is given ``slots``;
a class then scores as its best prototype, and its mean/covariance are those of all its samples.
"""

from __future__ import annotations

import os
from typing import Iterable, Literal

import torch
import torch.nn.functional as F

from harness.store import serialization
from harness.store.covariance import shrink, whitening
from harness.store.fused_top1 import unavailable_reason
from harness.store.search import KERNELS, PRECISIONS, BlockedSearch, block_topk
from harness.store.streaming import COVARIANCE_KINDS, batch_moments, chan_merge, first_positions, merge_groups, merge_samples

Metric = Literal["euclidean", "sqeuclidean", "cosine", "dot", "mahalanobis", "sqmahalanobis"]
METRICS = ("euclidean", "sqeuclidean", "cosine", "dot", "mahalanobis", "sqmahalanobis")
_UPDATE_CHUNK = 1 << 16  # rows summed before each pairwise merge (bounds float32 summation error)
_CPU_WHOLE_BLOCK = 1 << 14  # up to this many classes a CPU float32 search scores all classes at once
_SAMPLE_CHUNK = 1 << 13  # rows per sample-wise float64 merge (its two scratch buffers: 2 x rows x D)


_CLASS_CACHE = ("ids", "lookup")  # cache entries that depend on the classes only, not their statistics


def _appendable(new: list[tuple[int, int]], known: dict) -> bool:
    """True when ``new`` (class, slot) keys are all of unknown classes, each class's keys
    contiguous with ascending slots: appended as they are, rows stay ordered by (class, slot)."""
    seen = set()
    for i, (c, slot) in enumerate(new):
        if c in known:
            return False
        if i and new[i - 1][0] == c:
            if new[i - 1][1] >= slot:
                return False
        elif c in seen:
            return False
        seen.add(c)
    return True


def resolve_store_device(device: str | torch.device) -> torch.device:
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


class PrototypeStore:
    """Per-class statistics keyed by integer class ids in insertion order.

    Row ``r`` of :attr:`means` belongs to ``class_ids[r]``; :meth:`scores` columns follow the same
    order.  Queries are computed in blocks whose scores never exceed ``memory_budget_bytes``.

    Args:
        dim: feature dimension D.
        device: ``"auto"`` (CUDA when present), ``"cpu"``, ``"cuda"``, ``"cuda:N"``.
        dtype: dtype of the prototypes used by queries (float32).
        memory_budget_bytes: the largest block of scores a query allocates (besides the result
            the caller asked for: ``scores`` returns ``(N, C)``).
        covariance: ``None``, ``"diag"`` or ``"full"``: which second moments to keep.
        precision: ``"highest"`` (IEEE float32), ``"tf32"`` (TF32 tensor cores on CUDA; plain
            float32 on CPU) or ``"bf16"`` (bfloat16 matmuls; AMX on recent Intel CPUs).  The
            fast modes give :meth:`topk` the same answers as float32: the fast pass proposes
            candidates (the winning group for top-1, ``k + rerank`` rows for top-k), a bound on
            its rounding proves each query's answer among them, and the candidates are rescored in
            float32; queries the bound cannot prove are searched again in float32
            (``harness/store/search.py``).  :meth:`scores` in ``"bf16"`` runs in float32.
        stats_dtype: dtype of the streaming statistics (float64).
        accumulate_dtype: dtype of per-batch sums before the merge; ``None``: ``stats_dtype`` on
            CPU, float32 on CUDA (sums are taken around the current mean, so float32 keeps ~1e-7
            relative accuracy on data with a large offset).
        query_block, class_block: block sizes of queries (``None``: chosen for the device and
            clipped so that ``query_block × class_block`` scores fit the memory budget).
        rerank: extra candidates re-ranked exactly in the fast precision modes.
        cpu_threads: top-1 on CPU splits the queries between this many Python threads, each
            running single-threaded torch operations (``None``: ``torch.get_num_threads()``;
            1: torch's own threading).  torch's thread count is restored afterwards.
        kernel: top-1 by blocks of torch operations (``"torch"``) or by a fused Triton matmul +
            arg-max that never writes a block of scores (``"triton"``; CUDA and float32 only,
            ``harness/store/fused_top1.py``; other queries use the torch path either way).
    """

    def __init__(
        self,
        dim: int,
        device: str | torch.device = "auto",
        dtype: torch.dtype = torch.float32,
        memory_budget_bytes: int = 256 * 2**20,
        *,
        covariance: str | None = None,
        precision: str = "highest",
        stats_dtype: torch.dtype = torch.float64,
        accumulate_dtype: torch.dtype | None = None,
        query_block: int | None = None,
        class_block: int | None = None,
        rerank: int = 8,
        cpu_threads: int | None = None,
        kernel: str = "torch",
    ):
        if dim < 1:
            raise ValueError(f"dim must be >= 1, got {dim}")
        if covariance not in COVARIANCE_KINDS:
            raise ValueError(f"covariance must be one of None, 'diag', 'full'; got {covariance!r}")
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}; got {precision!r}")
        if memory_budget_bytes < 1:
            raise ValueError(f"memory_budget_bytes must be positive, got {memory_budget_bytes}")
        self.dim = dim
        self.device = resolve_store_device(device)
        if kernel not in KERNELS:
            raise ValueError(f"kernel must be one of {', '.join(KERNELS)}; got {kernel!r}")
        if kernel == "triton":
            reason = unavailable_reason(self.device) or (None if dtype == torch.float32 else "it needs dtype float32")
            if reason:
                raise ValueError(f"kernel='triton' cannot be used: {reason}; use kernel='torch'")
        self.kernel = kernel
        self.dtype = dtype
        self.memory_budget_bytes = int(memory_budget_bytes)
        self.covariance_kind = covariance
        self.precision = precision
        self.stats_dtype = stats_dtype
        self.accumulate_dtype = accumulate_dtype or (stats_dtype if self.device.type == "cpu" else torch.float32)
        self.query_block = query_block
        self.class_block = class_block
        self.rerank = int(rerank)
        # top-1 on CPU: queries split between this many Python threads of single-threaded torch
        self.cpu_threads = (torch.get_num_threads() if cpu_threads is None else int(cpu_threads)) if self.device.type == "cpu" else 1
        self._classes: list[int] = []
        self._class_row: dict[int, int] = {}
        self._keys: list[tuple[int, int]] = []  # (class id, slot) of each prototype row
        self._proto_row: dict[tuple[int, int], int] = {}
        self._proto_class = torch.zeros(0, dtype=torch.long, device=self.device)
        self._n = torch.zeros(0, dtype=stats_dtype, device=self.device)
        self._mu = torch.zeros(0, dim, dtype=stats_dtype, device=self.device)
        self._m2 = self._empty_m2(0)
        self._protos = torch.zeros(0, dim, dtype=dtype, device=self.device)
        self._version = 0
        self._cache: dict = {}
        self._spare: dict[str, torch.Tensor] = {}  # growth buffers behind the statistics tensors

    def _empty_m2(self, rows: int) -> torch.Tensor | None:
        if self.covariance_kind is None:
            return None
        shape = (rows, self.dim) if self.covariance_kind == "diag" else (rows, self.dim, self.dim)
        return torch.zeros(shape, dtype=self.stats_dtype, device=self.device)

    # ------------------------------------------------------------------ classes
    @property
    def class_ids(self) -> torch.Tensor:
        return torch.tensor(self._classes, dtype=torch.long)

    def _ids(self) -> torch.Tensor:
        """Class id of each row on the store's device (cached until the next change)."""
        if "ids" not in self._cache:
            self._cache["ids"] = torch.tensor(self._classes, dtype=torch.long, device=self.device)
        return self._cache["ids"]

    @property
    def num_classes(self) -> int:
        return len(self._classes)

    @property
    def num_prototypes(self) -> int:
        return len(self._keys)

    @property
    def single_prototype(self) -> bool:
        """True when every class has exactly one prototype (prototype row == class row)."""
        return len(self._keys) == len(self._classes)

    @property
    def counts(self) -> torch.Tensor:
        """Samples seen per class, float64, shape ``(C,)``."""
        return self._class_stats()[0].to(torch.float64).clone()

    @property
    def means(self) -> torch.Tensor:
        """Class means ``(C, D)`` in :attr:`dtype` (the query prototypes when one per class)."""
        if self.single_prototype:
            return self._protos
        return self._class_stats()[1].to(self.dtype)

    @property
    def prototypes(self) -> torch.Tensor:
        """Every prototype ``(P, D)``; row ``p`` belongs to class ``prototype_class_ids[p]``."""
        return self._protos

    @property
    def prototype_class_ids(self) -> torch.Tensor:
        return torch.tensor([c for c, _ in self._keys], dtype=torch.long)

    @property
    def prototype_slots(self) -> torch.Tensor:
        return torch.tensor([s for _, s in self._keys], dtype=torch.long)

    def __contains__(self, class_id: object) -> bool:
        return class_id in self._class_row

    def __len__(self) -> int:
        return len(self._classes)

    def rows(self, class_ids: Iterable[int]) -> torch.Tensor:
        """Rows of the given classes in :attr:`means` (and columns of :meth:`scores`)."""
        class_ids = [int(c) for c in class_ids]
        missing = [c for c in class_ids if c not in self._class_row]
        if missing:
            raise KeyError(f"classes not in the store: {missing[:10]}")
        return torch.tensor([self._class_row[c] for c in class_ids], dtype=torch.long, device=self.device)

    def mean_of(self, class_id: int) -> torch.Tensor:
        return self.means[self.rows([class_id])[0]]

    def _changed(self, classes: bool = True) -> None:
        """Drop cached query structures; the class-id lookups too when ``classes`` changed."""
        self._version += 1
        keep = {} if classes else {k: self._cache[k] for k in _CLASS_CACHE if k in self._cache}
        self._cache = keep

    def _ensure(self, keys: list[tuple[int, int]]) -> None:
        """Add empty prototypes for unknown (class, slot) keys, keeping rows ordered by class, slot.

        New classes whose slots arrive in ascending order are appended in place (amortised
        growth, no reordering), so streaming in new classes costs nothing per known class.
        """
        new = [k for k in dict.fromkeys(keys) if k not in self._proto_row]
        if not new:
            return
        appended = _appendable(new, self._class_row)
        for c, _ in new:
            if c not in self._class_row:
                self._class_row[c] = len(self._classes)
                self._classes.append(c)
        first = len(self._keys)
        self._keys.extend(new)
        for name in ("_n", "_mu", "_m2", "_protos"):
            if getattr(self, name) is not None:
                setattr(self, name, self._grown(name, len(new)))
        if not appended:
            self._reindex(list(range(len(self._keys))))
            return
        self._proto_row.update((k, first + i) for i, k in enumerate(new))
        rows = torch.tensor([self._class_row[c] for c, _ in new], dtype=torch.long, device=self.device)
        self._proto_class = torch.cat([self._proto_class, rows])
        self._changed()

    def _grown(self, name: str, extra: int) -> torch.Tensor:
        """Tensor ``name`` with ``extra`` zero rows appended, inside a buffer grown by half when full."""
        t = getattr(self, name)
        n = len(t)
        buf = self._spare.get(name)
        if buf is None or buf.data_ptr() != t.data_ptr() or len(buf) < n + extra:
            buf = t.new_zeros((max(n + extra, n + n // 2, 16), *t.shape[1:]))
            buf[:n] = t
            self._spare[name] = buf
        else:
            buf[n : n + extra].zero_()
        return buf[: n + extra]

    def _reindex(self, keep: list[int]) -> None:
        """Keep prototype rows ``keep``, sorted by (class row, slot); rebuild every lookup."""
        keep = sorted(keep, key=lambda r: (self._class_row[self._keys[r][0]], self._keys[r][1]))
        live = list(dict.fromkeys(self._keys[r][0] for r in keep))
        self._classes = live
        self._class_row = {c: i for i, c in enumerate(live)}
        idx = torch.tensor(keep, dtype=torch.long, device=self.device)
        self._keys = [self._keys[r] for r in keep]
        self._proto_row = {k: i for i, k in enumerate(self._keys)}
        self._proto_class = torch.tensor([self._class_row[c] for c, _ in self._keys], dtype=torch.long, device=self.device)
        self._n, self._mu, self._protos = self._n[idx], self._mu[idx], self._protos[idx]
        if self._m2 is not None:
            self._m2 = self._m2[idx]
        self._changed()

    def set_means(self, class_ids: Iterable[int], means: torch.Tensor, counts: torch.Tensor | None = None) -> None:
        """Overwrite (or add) classes with the given means, e.g. calibrated prototypes.

        A class keeps one prototype (slot 0); its covariance is reset to zero and its count set to
        ``counts`` (kept when not given and the class exists, else 0).
        """
        class_ids = [int(c) for c in class_ids]
        means = torch.as_tensor(means).to(self.device)
        if means.shape != (len(class_ids), self.dim):
            raise ValueError(f"means must have shape ({len(class_ids)}, {self.dim}), got {tuple(means.shape)}")
        if len(set(class_ids)) != len(class_ids):
            raise ValueError("class_ids must not repeat")
        if counts is not None and len(counts) != len(class_ids):
            raise ValueError(f"counts must have length {len(class_ids)}, got {len(counts)}")
        current = self.counts.tolist()
        old_counts = {c: current[self._class_row[c]] for c in class_ids if c in self._class_row}
        drop = {r for r, (c, s) in enumerate(self._keys) if c in old_counts and s != 0}
        if drop:
            self._reindex([r for r in range(len(self._keys)) if r not in drop])
        self._ensure([(c, 0) for c in class_ids])
        rows = torch.tensor([self._proto_row[(c, 0)] for c in class_ids], dtype=torch.long, device=self.device)
        if counts is None:
            counts = torch.tensor([old_counts.get(c, 0.0) for c in class_ids])
        self._n[rows] = torch.as_tensor(counts).to(self.device, self.stats_dtype)
        self._mu[rows] = means.to(self.stats_dtype)
        self._protos[rows] = means.to(self.dtype)
        if self._m2 is not None:
            self._m2[rows] = 0
        self._changed(classes=False)

    def add(self, class_ids: Iterable[int], means: torch.Tensor, counts: torch.Tensor | None = None) -> None:
        """Add new classes with the given means; refuses classes already in the store."""
        class_ids = [int(c) for c in class_ids]
        present = [c for c in class_ids if c in self._class_row]
        if present:
            raise ValueError(f"classes already in the store: {present[:10]} (use set_means to overwrite)")
        self.set_means(class_ids, means, counts)

    def remove(self, class_ids: Iterable[int]) -> None:
        """Forget classes and all their prototypes."""
        gone = {int(c) for c in class_ids}
        missing = sorted(gone - set(self._class_row))
        if missing:
            raise KeyError(f"classes not in the store: {missing[:10]}")
        self._reindex([r for r, (c, _) in enumerate(self._keys) if c not in gone])

    def merge(self, class_ids: Iterable[int], into: int) -> None:
        """Pool the samples of ``class_ids`` (and of ``into`` if present) into class ``into``.

        Prototypes with the same slot are merged exactly (pairwise update); the sources are removed.
        ``into`` keeps its position if it exists, else takes the position of the first source.
        """
        sources = [int(c) for c in class_ids]
        into = int(into)
        missing = [c for c in sources if c not in self._class_row]
        if missing:
            raise KeyError(f"classes not in the store: {missing[:10]}")
        members = set(sources) | ({into} if into in self._class_row else set())
        rows = [r for r, (c, _) in enumerate(self._keys) if c in members]
        slots = sorted({self._keys[r][1] for r in rows})
        group = torch.tensor([slots.index(self._keys[r][1]) for r in rows], dtype=torch.long, device=self.device)
        idx = torch.tensor(rows, dtype=torch.long, device=self.device)
        m2 = None if self._m2 is None else self._m2[idx]
        n, mu, m2 = merge_groups(self._n[idx], self._mu[idx], m2, group, len(slots))
        position = self._class_row.get(into, self._class_row[sources[0]])
        others = [r for r in range(len(self._keys)) if r not in set(rows)]
        # rename: `into` takes `position`; its prototypes are rebuilt from the merged statistics
        order = [c for c in self._classes if c not in members]
        order.insert(min(position, len(order)), into)
        self._class_row = {c: i for i, c in enumerate(order)}
        self._classes = order
        base = len(self._keys)
        self._keys.extend((into, s) for s in slots)
        self._n = torch.cat([self._n, n])
        self._mu = torch.cat([self._mu, mu])
        if self._m2 is not None:
            self._m2 = torch.cat([self._m2, m2])
        self._protos = torch.cat([self._protos, mu.to(self.dtype)])
        self._reindex(others + list(range(base, base + len(slots))))

    def relabel(self, mapping: dict[int, int]) -> None:
        """Rename classes (``old id -> new id``); positions are kept.  Use :meth:`merge` to combine."""
        mapping = {int(a): int(b) for a, b in mapping.items()}
        missing = [c for c in mapping if c not in self._class_row]
        if missing:
            raise KeyError(f"classes not in the store: {missing[:10]}")
        new_ids = [mapping.get(c, c) for c in self._classes]
        if len(set(new_ids)) != len(new_ids):
            raise ValueError("relabel would give two classes the same id; use merge() to combine classes")
        self._classes = new_ids
        self._class_row = {c: i for i, c in enumerate(new_ids)}
        self._keys = [(mapping.get(c, c), s) for c, s in self._keys]
        self._proto_row = {k: i for i, k in enumerate(self._keys)}
        self._changed()

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

    def shared_covariance(self, shrinkage: float = 0.0) -> torch.Tensor:
        """Pooled within-class covariance ``Σ_c M2_c / (Σ_c n_c - C)``, shrunk by ``shrinkage``."""
        self._need_covariance("shared_covariance()")
        n, _, m2 = self._class_stats()
        dof = float(n.sum()) - int((n > 0).sum())
        if dof <= 0:
            raise ValueError("the shared covariance needs more samples than classes")
        return shrink(m2.sum(0) / dof, shrinkage, self.covariance_kind == "full")

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
        search = BlockedSearch(protos, bias, step, len(protos), "highest" if self.precision == "bf16" else self.precision)
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
        out = torch.empty(len(q), self.num_classes, dtype=self.dtype, device=self.device)
        if self.single_prototype:  # scores are written straight into the result, a block of queries at a time
            return self._proto_scores(q, metric, normalize_prototypes, mahalanobis, shrinkage, out=out)
        step = self._query_rows_per_chunk(len(q), self.num_prototypes + self.num_classes)
        for s in range(0, len(q), step):
            block = self._proto_scores(q[s : s + step], metric, normalize_prototypes, mahalanobis, shrinkage)
            out[s : s + step] = self._reduce_to_classes(block)
        return out

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

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike) -> None:
        """Write the store to a safetensors file (atomically; no pickle)."""
        tensors = {
            "class_ids": torch.tensor(self._classes, dtype=torch.long),
            "proto_class": self.prototype_class_ids,
            "proto_slot": self.prototype_slots,
            "counts": self._n,
            "means": self._mu,
            "prototypes": self._protos,
        }
        if self._m2 is not None:
            tensors["m2"] = self._m2
        meta = {"dim": self.dim, "covariance": self.covariance_kind, "dtype": str(self.dtype).removeprefix("torch.")}
        serialization.write(path, tensors, meta)

    @classmethod
    def load(cls, path: str | os.PathLike, dim: int | None = None, device: str | torch.device = "auto", **options) -> "PrototypeStore":
        """Read a store written by :meth:`save`; ``dim`` (when given) must match the file's."""
        tensors, meta = serialization.read(path)
        try:
            file_dim, kind, dtype = int(meta["dim"]), meta["covariance"], getattr(torch, meta["dtype"])
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise ValueError(f"{path}: corrupt prototype store metadata ({e})") from None
        if dim is not None and dim != file_dim:
            raise ValueError(f"{path}: the store holds features of dimension {file_dim}, expected {dim}")
        options.setdefault("dtype", dtype)
        options.setdefault("stats_dtype", tensors["means"].dtype)
        store = cls(file_dim, device=device, covariance=kind, **options)
        classes = tensors["class_ids"].tolist()
        keys = list(zip(tensors["proto_class"].tolist(), tensors["proto_slot"].tolist()))
        p = len(keys)
        expected = {"counts": (p,), "means": (p, file_dim), "prototypes": (p, file_dim)}
        if kind is not None:
            expected["m2"] = (p, file_dim) if kind == "diag" else (p, file_dim, file_dim)
        bad = [f"{k} {tuple(tensors[k].shape) if k in tensors else 'missing'} (expected {s})" for k, s in expected.items() if k not in tensors or tuple(tensors[k].shape) != s]
        if bad or len(set(keys)) != p or set(c for c, _ in keys) != set(classes) or len(set(classes)) != len(classes):
            raise ValueError(f"{path}: inconsistent prototype store file: {'; '.join(bad) or 'class ids do not match'}")
        store._classes = classes
        store._class_row = {c: i for i, c in enumerate(classes)}
        store._keys = keys
        store._proto_row = {k: i for i, k in enumerate(keys)}
        store._proto_class = torch.tensor([store._class_row[c] for c, _ in keys], dtype=torch.long, device=store.device)
        store._n = tensors["counts"].to(store.device, store.stats_dtype)
        store._mu = tensors["means"].to(store.device, store.stats_dtype)
        store._protos = tensors["prototypes"].to(store.device, store.dtype)
        if kind is not None:
            store._m2 = tensors["m2"].to(store.device, store.stats_dtype)
        store._changed()
        return store
