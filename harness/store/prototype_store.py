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

from typing import Iterable

import torch

from harness.store.fused_top1 import unavailable_reason
from harness.devices import resolve_device
from harness.store.bookkeeping import ClassBookkeeping
from harness.store.files import Files
from harness.store.queries import METRICS, Metric, Queries
from harness.store.search import KERNELS, PRECISIONS
from harness.store.statistics import Statistics
from harness.store.streaming import COVARIANCE_KINDS

__all__ = ["METRICS", "Metric", "PrototypeStore"]


class PrototypeStore(ClassBookkeeping, Statistics, Queries, Files):
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
        self.device = resolve_device(device)
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
