"""Accuracy over a sequence of steps: the accuracy matrix and the summaries derived from it.

Notation: ``T`` steps; ``R[i][j]`` is the accuracy (share of correct test samples) on the classes
introduced at step ``j`` after learning step ``i`` (defined for ``j <= i``); ``A_i`` is the accuracy on
the test samples of all classes seen after step ``i``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from harness.api.metric import Metric, MetricKey, StepCurve, StepEvidence
from harness.api.registry import METRICS
from harness.api.scenario import ScenarioPlan


def average_incremental_accuracy(step_accuracies: list[float]) -> float:
    """``AIA = (1/T) Σ_i A_i``, the mean over all steps, step 0 included."""
    return float(np.mean(step_accuracies))


def forgetting(matrix: np.ndarray) -> float | None:
    """``F = 1/(T-1) Σ_{j<T-1} [max_{j<=i<T-1} R[i][j] − R[T-1][j]]`` (Chaudhry et al., 2018).

    The best accuracy ever reached on step ``j``'s classes before the last step, minus the final
    one, averaged over every step but the last. ``None`` for a single step.
    """
    matrix = np.asarray(matrix, dtype=float)
    t = matrix.shape[0]
    if t < 2:
        return None
    drops = [np.max(matrix[j : t - 1, j]) - matrix[t - 1, j] for j in range(t - 1)]
    return float(np.mean(drops))


def backward_transfer(matrix: np.ndarray) -> float | None:
    """``BWT = 1/(T-1) Σ_{j<T-1} (R[T-1][j] − R[j][j])`` (Lopez-Paz & Ranzato, 2017); negative means forgetting."""
    matrix = np.asarray(matrix, dtype=float)
    t = matrix.shape[0]
    if t < 2:
        return None
    return float(np.mean([matrix[t - 1, j] - matrix[j, j] for j in range(t - 1)]))


def harmonic_mean(a: float | None, b: float | None) -> float | None:
    """``HM = 2ab / (a + b)``; ``None`` when either side is missing, 0 when both are 0."""
    if a is None or b is None:
        return None
    return 0.0 if a + b == 0 else 2 * a * b / (a + b)


def _mean_or_none(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


@METRICS.register("continual-accuracy")
class ContinualAccuracy(Metric):
    """Per-step, per-class test accuracy of a class-incremental run and its summaries.

    ``update(step, y_true, y_pred)`` takes the test samples of the classes seen after ``step``.
    Per class it keeps correct/total counts, so every published variant of "average accuracy"
    (sample-weighted or class-weighted) can be derived from the saved results.

    - ``accuracy[i] = A_i``: share of correct test samples over all seen classes (sample-weighted).
    - ``accuracy_matrix``: ``R[i][j]`` as defined in the module docstring (``None`` above the diagonal).
    - ``base_accuracy[i]``, ``novel_accuracy[i]``: mean per-class accuracy over the classes of step 0,
      and over the classes introduced after step 0 and seen by step ``i`` (as TEEN reports them for
      FSCIL); ``harmonic_accuracy[i]`` their harmonic mean (``None`` at step 0).
    """

    needs_logits = False

    kinds = frozenset({"cil", "fscil"})
    summary_keys = (
        MetricKey("last_accuracy", "last acc"),
        MetricKey("average_incremental_accuracy", "avg inc acc"),
        MetricKey("forgetting", "forgetting", higher_is_better=False),
        MetricKey("backward_transfer", "BWT", show="page"),
        MetricKey("last_base_accuracy", "last base acc", show="csv"),
        MetricKey("last_novel_accuracy", "last novel acc", show="csv"),
        MetricKey("last_harmonic_accuracy", "last HM (base/novel)"),
    )
    step_keys = ("accuracy", "base_accuracy", "novel_accuracy", "harmonic_accuracy")
    extra_keys = ("accuracy_matrix", "per_class_accuracy", "per_class_counts")
    curves = (StepCurve("accuracy", "accuracy", "accuracy on seen classes (%)", "Accuracy on seen classes against step", 100.0),)

    @classmethod
    def applies(cls, plan: ScenarioPlan) -> bool:
        """Every plan whose steps are all labeled (closed-world kinds, built-in or not)."""
        return not plan.has_unlabeled_steps

    @classmethod
    def for_plan(cls, plan: ScenarioPlan) -> "ContinualAccuracy":
        return cls(plan.step_of_class())

    def observe(self, evidence: StepEvidence) -> None:
        seen = evidence.is_seen
        self.update(evidence.step, evidence.test_y[seen], evidence.predicted[seen])

    def __init__(self, step_of_class: dict[int, int]):
        self.step_of_class = dict(step_of_class)
        self.reset()

    def reset(self) -> None:
        self._per_step: list[dict[int, tuple[int, int]]] = []

    def update(self, step: int, y_true: np.ndarray, y_pred: np.ndarray) -> None:
        if step != len(self._per_step):
            raise ValueError(f"steps must be given in order: expected {len(self._per_step)}, got {step}")
        y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
        counts = {}
        for c in np.unique(y_true):
            mask = y_true == c
            counts[int(c)] = (int((y_pred[mask] == c).sum()), int(mask.sum()))
        self._per_step.append(counts)

    def _group_accuracy(self, step: int, classes: list[int]) -> float | None:
        counts = [self._per_step[step][c] for c in classes if c in self._per_step[step]]
        total = sum(n for _, n in counts)
        return sum(k for k, _ in counts) / total if total else None

    def compute(self) -> dict[str, Any]:
        t = len(self._per_step)
        groups = [[c for c, s in self.step_of_class.items() if s == j] for j in range(t)]
        matrix = [[self._group_accuracy(i, groups[j]) if j <= i else None for j in range(t)] for i in range(t)]
        accuracy = [self._group_accuracy(i, sorted(self._per_step[i])) for i in range(t)]
        per_class = [{c: k / n for c, (k, n) in sorted(counts.items())} for counts in self._per_step]
        base = [_mean_or_none([a for c, a in pc.items() if self.step_of_class.get(c) == 0]) for pc in per_class]
        novel = [_mean_or_none([a for c, a in pc.items() if self.step_of_class.get(c, 0) > 0]) for pc in per_class]
        harmonic = [harmonic_mean(b, n) for b, n in zip(base, novel)]
        dense = np.array([[v if v is not None else math.nan for v in row] for row in matrix])
        return {
            "accuracy": accuracy,
            "accuracy_matrix": matrix,
            "per_class_accuracy": per_class,
            "per_class_counts": [{c: list(v) for c, v in sorted(counts.items())} for counts in self._per_step],
            "base_accuracy": base,
            "novel_accuracy": novel,
            "harmonic_accuracy": harmonic,
            "summary": {
                "last_accuracy": accuracy[-1],
                "average_incremental_accuracy": average_incremental_accuracy(accuracy),
                "forgetting": forgetting(dense),
                "backward_transfer": backward_transfer(dense),
                "last_base_accuracy": base[-1],
                "last_novel_accuracy": novel[-1],
                "last_harmonic_accuracy": harmonic[-1],
            },
        }
