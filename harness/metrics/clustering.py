"""Clustering quality of discovered classes: Hungarian clustering accuracy (All/Old/New), NMI and ARI.

Notation: ``n`` evaluated samples with true classes ``y`` and predicted ids ``p`` (cluster ids need not
equal class ids); the contingency table ``N[a, b] = #{i : p_i = a, y_i = b}`` with row sums ``a_a`` and
column sums ``b_b``.

Clustering accuracy follows the "v2" convention of the GCD code (``split_cluster_acc_v2`` of Vaze et
al., 2022, also used by Happy for continual GCD): ONE one-to-one assignment ``m`` of predicted ids to
classes is computed with the Hungarian algorithm over ALL evaluated samples, maximising the matched
count ``Σ_a N[a, m(a)]``; then

    ACC_All = Σ_a N[a, m(a)] / n
    ACC_Old = #{i : y_i ∈ Old, m(p_i) = y_i} / #{i : y_i ∈ Old}      (same m)
    ACC_New = #{i : y_i ∈ New, m(p_i) = y_i} / #{i : y_i ∈ New}      (same m)

A predicted id left unmatched (more clusters than classes) counts as wrong.  The older "v1"
convention (a separate assignment per subset) is not used.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from harness.api.metric import Metric, MetricKey, StepCurve, StepEvidence
from harness.api.registry import METRICS
from harness.api.scenario import ScenarioPlan


def contingency(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(N, predicted ids, true classes)`` with ``N[a, b]`` = samples predicted ``pred_ids[a]`` of class ``classes[b]``."""
    y_true, y_pred = np.asarray(y_true).ravel(), np.asarray(y_pred).ravel()
    if len(y_true) != len(y_pred):
        raise ValueError(f"{len(y_true)} true labels but {len(y_pred)} predictions")
    classes, t = np.unique(y_true, return_inverse=True)
    pred_ids, p = np.unique(y_pred, return_inverse=True)
    table = np.zeros((len(pred_ids), len(classes)), dtype=np.int64)
    np.add.at(table, (p, t), 1)
    return table, pred_ids, classes


def hungarian_mapping(y_true: np.ndarray, y_pred: np.ndarray) -> dict[int, int]:
    """The one-to-one map ``predicted id -> class`` that maximises the number of matched samples."""
    table, pred_ids, classes = contingency(y_true, y_pred)
    if table.size == 0:
        return {}
    rows, cols = linear_sum_assignment(table, maximize=True)
    return {int(pred_ids[r]): int(classes[c]) for r, c in zip(rows, cols)}


@dataclass(frozen=True)
class SplitAccuracy:
    all: float | None
    old: float | None
    new: float | None


def cluster_accuracy(y_true: np.ndarray, y_pred: np.ndarray, old_mask: np.ndarray | None = None) -> SplitAccuracy:
    """Clustering accuracy with one Hungarian assignment over all samples, then All/Old/New ("v2").

    ``old_mask[i]`` marks samples of old (labeled) classes; a subset without samples gives ``None``.
    """
    y_true, y_pred = np.asarray(y_true).ravel(), np.asarray(y_pred).ravel()
    if len(y_true) == 0:
        return SplitAccuracy(None, None, None)
    mapping = hungarian_mapping(y_true, y_pred)
    matched = np.array([mapping.get(int(p), None) == int(t) for p, t in zip(y_pred, y_true)], dtype=bool)
    old_mask = np.zeros(len(y_true), dtype=bool) if old_mask is None else np.asarray(old_mask, dtype=bool).ravel()

    def share(mask: np.ndarray) -> float | None:
        return float(matched[mask].mean()) if mask.any() else None

    return SplitAccuracy(float(matched.mean()), share(old_mask), share(~old_mask))


def _entropy(counts: np.ndarray) -> float:
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())


def normalized_mutual_info(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """``NMI = I(Y; P) / ((H(Y) + H(P)) / 2)`` (arithmetic normalisation, natural log), with
    ``I = Σ_ab (N_ab/n) log(n N_ab / (a_a b_b))``.  1 when both labelings are a single group
    (nothing to tell apart), 0 when ``I = 0`` otherwise — scikit-learn's conventions."""
    table, pred_ids, classes = contingency(y_true, y_pred)
    if len(classes) == len(pred_ids) and len(classes) <= 1:
        return 1.0
    n = table.sum()
    rows, cols = table.sum(1), table.sum(0)
    a, b = np.nonzero(table)
    nab = table[a, b].astype(np.float64)
    mi = float(np.sum(nab / n * (np.log(nab) + math.log(n) - np.log(rows[a].astype(np.float64)) - np.log(cols[b].astype(np.float64)))))
    if mi <= 1e-15:
        return 0.0
    return mi / ((_entropy(cols) + _entropy(rows)) / 2)


def adjusted_rand_index(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """``ARI = (Σ C(N_ab,2) − E) / (½(Σ C(a_a,2) + Σ C(b_b,2)) − E)`` with ``E = Σ C(a_a,2) Σ C(b_b,2) / C(n,2)``
    (Hubert & Arabie, 1985); 1 when both labelings agree on every pair (including n < 2)."""
    table, _, _ = contingency(y_true, y_pred)
    n = int(table.sum())

    def pairs(x: np.ndarray) -> int:
        return int(sum(int(v) * (int(v) - 1) // 2 for v in np.ravel(x)))

    both, rows, cols = pairs(table), pairs(table.sum(1)), pairs(table.sum(0))
    total = n * (n - 1) // 2
    if rows == cols == both:  # every pair treated alike by both labelings (no disagreement)
        return 1.0
    expected = rows * cols / total
    return float((both - expected) / ((rows + cols) / 2 - expected))


def _last(values: list) -> object:
    return values[-1] if values else None


@METRICS.register("clustering-quality")
class ClusteringQuality(Metric):
    """Per-step clustering quality of an open-world run (``ncd``, ``cgcd``) and its summaries.

    ``update`` takes the test samples of the classes seen after the step: true classes, predicted
    ids, the old (step-0, labeled) classes, optionally the predictions restricted to the
    strategy's non-old classes for the new-class samples (task-aware), and the true and estimated
    numbers of new classes of the step (``None`` at labeled steps).  Per step:

    - ``clustering_accuracy`` / ``_old`` / ``_new``: :func:`cluster_accuracy` (one Hungarian map).
    - ``nmi``, ``ari``: over all evaluated samples.
    - ``old_accuracy``: share of old-class samples predicted as exactly their class (no matching:
      the old classes keep their ids), whose drop over steps is forgetting.
    - ``new_task_aware_accuracy``: clustering accuracy of the new-class samples alone, each
      predicted among the strategy's non-old classes only (the NCD papers' evaluation).

    Summaries: the last step's values; ``mean_clustering_accuracy`` over the unlabeled steps;
    ``old_forgetting = max_{i<T-1} old_accuracy[i] − old_accuracy[T-1]``; ``new_classes_true`` and
    ``new_classes_estimated`` summed over the unlabeled steps, and ``new_classes_error``, the sum over
    those steps of ``|estimated − true|`` (0 when the number is given).
    """

    needs_logits = False

    kinds = frozenset({"ncd", "cgcd"})
    summary_keys = (
        MetricKey("last_clustering_accuracy", "clust acc All"),
        MetricKey("last_clustering_accuracy_old", "Old"),
        MetricKey("last_clustering_accuracy_new", "New"),
        MetricKey("mean_clustering_accuracy", "mean clust acc", show="csv"),
        MetricKey("last_nmi", "NMI", percent=False),
        MetricKey("last_ari", "ARI", percent=False),
        MetricKey("last_old_accuracy", "last old acc", show="csv"),
        MetricKey("old_forgetting", "old forgetting", higher_is_better=False),
        MetricKey("last_new_task_aware_accuracy", "New, task-aware"),
        MetricKey("new_classes_true", "new classes", percent=False, higher_is_better=None, show="csv"),
        MetricKey("new_classes_estimated", "new classes est. / true", percent=False, higher_is_better=None, paired_with="new_classes_true"),
        MetricKey("new_classes_error", "new classes |est. − true|", percent=False, higher_is_better=False, show="csv"),
    )
    KEYS = (
        "clustering_accuracy",
        "clustering_accuracy_old",
        "clustering_accuracy_new",
        "nmi",
        "ari",
        "old_accuracy",
        "new_task_aware_accuracy",
        "new_classes_true",
        "new_classes_estimated",
    )
    step_keys = KEYS
    curves = (
        StepCurve(
            "clustering_accuracy", "clustering", "clustering accuracy, All (%)",
            "Clustering accuracy (All) against step, open-world scenarios", 100.0,
        ),
    )
    table_note = (
        " Open-world rows: clustering accuracy after the last step (one Hungarian assignment over all test"
        " samples of seen classes, then Old/New subsets), NMI and ARI over the same samples."
    )

    @classmethod
    def applies(cls, plan: ScenarioPlan) -> bool:
        """Every plan with unlabeled steps (open-world kinds): discovered classes carry ids of the
        strategy's choosing, so they are scored by clustering quality."""
        return plan.has_unlabeled_steps

    @classmethod
    def for_plan(cls, plan: ScenarioPlan) -> "ClusteringQuality":
        metric = cls()
        metric.plan = plan
        return metric

    def observe(self, evidence: StepEvidence) -> None:
        """The step-0 classes are "Old"; the new classes of an unlabeled step are counted as the classes
        the strategy predicts over minus those of the step before, next to the true number."""
        plan, prediction, step = self.plan, evidence.prediction, evidence.step
        old = plan.steps[0].new_classes
        y = evidence.test_y[evidence.is_seen]
        classes = prediction.classes.cpu().numpy()
        not_old = np.flatnonzero(~np.isin(classes, old))
        task_aware = None
        if len(not_old):
            rows = torch.from_numpy(np.flatnonzero(evidence.is_seen)[~np.isin(y, old)])
            if prediction.logits is None:  # the summary's best class outside the first step's
                task_aware = prediction.summary.new_best_classes.cpu()[rows].numpy()
            else:
                logits = prediction.logits.detach().cpu()[rows][:, torch.from_numpy(not_old)]
                task_aware = classes[not_old][logits.argmax(dim=1).numpy()]
        labeled = plan.steps[step].labeled
        self.update(
            step,
            y,
            evidence.predicted[evidence.is_seen],
            old,
            new_pred_task_aware=task_aware,
            new_classes_true=None if labeled else len(plan.steps[step].new_classes),
            new_classes_estimated=None if labeled else len(classes) - self._classes_before,
        )
        self._classes_before = len(classes)

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._steps: list[dict[str, object]] = []
        self._classes_before = 0

    def update(
        self,
        step: int,
        y_true: np.ndarray,
        y_pred: np.ndarray,
        old_classes: tuple[int, ...],
        new_pred_task_aware: np.ndarray | None = None,
        new_classes_true: int | None = None,
        new_classes_estimated: int | None = None,
    ) -> None:
        if step != len(self._steps):
            raise ValueError(f"steps must be given in order: expected {len(self._steps)}, got {step}")
        y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
        old_mask = np.isin(y_true, old_classes)
        split = cluster_accuracy(y_true, y_pred, old_mask)
        empty = len(y_true) == 0
        task_aware = None
        if new_pred_task_aware is not None and (~old_mask).any():
            task_aware = cluster_accuracy(y_true[~old_mask], np.asarray(new_pred_task_aware)).all
        self._steps.append(
            {
                "clustering_accuracy": split.all,
                "clustering_accuracy_old": split.old,
                "clustering_accuracy_new": split.new,
                "nmi": None if empty else normalized_mutual_info(y_true, y_pred),
                "ari": None if empty else adjusted_rand_index(y_true, y_pred),
                "old_accuracy": float((y_pred[old_mask] == y_true[old_mask]).mean()) if old_mask.any() else None,
                "new_task_aware_accuracy": task_aware,
                "new_classes_true": new_classes_true,
                "new_classes_estimated": new_classes_estimated,
            }
        )

    def compute(self) -> dict[str, object]:
        out: dict[str, object] = {key: [s[key] for s in self._steps] for key in self.KEYS}
        unlabeled = [s for s in self._steps if s["new_classes_true"] is not None]
        old = [v for v in out["old_accuracy"] if v is not None]
        estimated = [s["new_classes_estimated"] for s in unlabeled]
        out["summary"] = {
            "last_clustering_accuracy": _last(out["clustering_accuracy"]),
            "last_clustering_accuracy_old": _last(out["clustering_accuracy_old"]),
            "last_clustering_accuracy_new": _last(out["clustering_accuracy_new"]),
            "mean_clustering_accuracy": float(np.mean([s["clustering_accuracy"] for s in unlabeled])) if unlabeled else None,
            "last_nmi": _last(out["nmi"]),
            "last_ari": _last(out["ari"]),
            "last_old_accuracy": _last(out["old_accuracy"]),
            "old_forgetting": float(max(old[:-1]) - old[-1]) if len(old) > 1 else None,
            "last_new_task_aware_accuracy": _last(out["new_task_aware_accuracy"]),
            "new_classes_true": sum(s["new_classes_true"] for s in unlabeled) if unlabeled else None,
            "new_classes_estimated": sum(estimated) if unlabeled and None not in estimated else None,
        }
        known = unlabeled and None not in estimated
        out["summary"]["new_classes_error"] = sum(abs(e - s["new_classes_true"]) for e, s in zip(estimated, unlabeled)) if known else None
        return out
