"""Predictions without the dense logit matrix: what the metrics, the scorers and the archive read.

With many classes a strategy's ``(N, C)`` logits cost more than everything else of an evaluation
step (100,000 classes and 10,000 test samples: 4 GB, written and read a dozen times).  What the
harness actually reads of them is small: the ``k`` best classes and their logits, the best class
outside the base session's classes (task-aware accuracy of new classes, clustering of discovered
ones), ``T · logsumexp(f / T)`` for the energy score and the largest softmax probability.  A :class:`SummaryRequest`
says which of these a job needs; a :class:`LogitSummary` holds them.

:func:`harness.store.summaries.summary_of_logits` is the definition; the prototype store's
:meth:`~harness.store.prototype_store.PrototypeStore.summarise` gives the values it gives on the
dense scores, bit for bit, because it computes the same scores in blocks of rows and reduces each
row with the same functions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass(frozen=True)
class SummaryRequest:
    """What a job reads of each prediction: ``top_k`` best classes, the best class outside
    ``base_classes`` (the first step's classes), ``logsumexp`` at each temperature listed, and the
    largest softmax probability when ``softmax_max``."""

    top_k: int = 1
    base_classes: tuple[int, ...] = ()
    temperatures: tuple[float, ...] = ()
    softmax_max: bool = False

    def __post_init__(self) -> None:
        if self.top_k < 1:
            raise ValueError(f"top_k must be >= 1, got {self.top_k}")
        if any(t <= 0 for t in self.temperatures):
            raise ValueError(f"temperatures must be positive, got {self.temperatures}")

    def merged(self, other: "SummaryRequest") -> "SummaryRequest":
        """What either request reads (the base classes are this one's)."""
        temperatures = tuple(sorted(set(self.temperatures) | set(other.temperatures)))
        return SummaryRequest(max(self.top_k, other.top_k), self.base_classes, temperatures, self.softmax_max or other.softmax_max)


@dataclass
class LogitSummary:
    """Per test sample: the ``k`` best classes (ids, best first; ties: the earlier column) and their
    logits, the best class outside the base classes (``-1`` and ``-inf`` when every class is a base
    class), ``logsumexp[T]`` = ``T · logsumexp(f / T)`` and ``softmax_max``, in float64."""

    top_values: torch.Tensor  # (N, k), the logits' dtype
    top_classes: torch.Tensor  # (N, k) int64 class ids
    new_best_values: torch.Tensor  # (N,)
    new_best_classes: torch.Tensor  # (N,) int64, -1 where there is none
    logsumexp: dict[float, torch.Tensor] = field(default_factory=dict)  # T -> (N,) float64
    softmax_max: torch.Tensor | None = None  # (N,) float64: max softmax(f) as torch.softmax gives it

    @property
    def max_logit(self) -> torch.Tensor:
        return self.top_values[:, 0]

    @staticmethod
    def cat(parts: list["LogitSummary"]) -> "LogitSummary":
        keys = parts[0].logsumexp.keys()
        return LogitSummary(
            torch.cat([p.top_values for p in parts]),
            torch.cat([p.top_classes for p in parts]),
            torch.cat([p.new_best_values for p in parts]),
            torch.cat([p.new_best_classes for p in parts]),
            {t: torch.cat([p.logsumexp[t] for p in parts]) for t in keys},
            None if parts[0].softmax_max is None else torch.cat([p.softmax_max for p in parts]),
        )

