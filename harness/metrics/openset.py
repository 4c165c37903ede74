"""Open-set detection: how well the known-score separates seen-class samples from unseen-class ones.

Convention (as in OpenOOD's "in-distribution is positive"): samples of classes the strategy has
seen are positives, samples of classes not yet introduced are negatives, and a higher score means
"known".  When a step has no negatives (every class has been introduced) the metrics are missing
(``None``), never a made-up 0.5.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.stats import rankdata

from harness.api.metric import Metric, MetricKey, StepCurve, StepEvidence
from harness.api.registry import METRICS


def _check(known: np.ndarray, unknown: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    known = np.asarray(known, dtype=np.float64).ravel()
    unknown = np.asarray(unknown, dtype=np.float64).ravel()
    if len(known) == 0 or len(unknown) == 0:
        return None
    return known, unknown


def auroc(known: np.ndarray, unknown: np.ndarray) -> float | None:
    """Area under the ROC curve, ``P(s_known > s_unknown) + ½ P(s_known = s_unknown)``.

    Computed exactly from ranks (the Mann–Whitney U statistic): with ``r_i`` the average rank of the
    known scores among all scores, ``AUROC = (Σ r_i − n_k (n_k + 1) / 2) / (n_k n_u)``.
    """
    pair = _check(known, unknown)
    if pair is None:
        return None
    known, unknown = pair
    ranks = rankdata(np.concatenate([known, unknown]))
    n_k, n_u = len(known), len(unknown)
    return float((ranks[:n_k].sum() - n_k * (n_k + 1) / 2) / (n_k * n_u))


def _roc_points(known: np.ndarray, unknown: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """TPR, FPR and precision at every distinct threshold, from the highest score down."""
    scores = np.concatenate([known, unknown])
    positive = np.concatenate([np.ones(len(known)), np.zeros(len(unknown))])
    order = np.argsort(-scores, kind="mergesort")
    scores, positive = scores[order], positive[order]
    last_of_threshold = np.r_[np.flatnonzero(np.diff(scores)), len(scores) - 1]
    tp = np.cumsum(positive)[last_of_threshold]
    fp = (last_of_threshold + 1) - tp
    return tp / len(known), fp / len(unknown), tp / (tp + fp)


def fpr_at_tpr(known: np.ndarray, unknown: np.ndarray, tpr_level: float = 0.95) -> float | None:
    """FPR@95: the share of unknown samples scored at or above the highest threshold that keeps at
    least ``tpr_level`` of the known samples (``min FPR(t) such that TPR(t) >= 0.95``)."""
    pair = _check(known, unknown)
    if pair is None:
        return None
    tpr, fpr, _ = _roc_points(*pair)
    return float(fpr[np.argmax(tpr >= tpr_level)])


def aupr(known: np.ndarray, unknown: np.ndarray) -> float | None:
    """AUPR-In: average precision with known samples as positives,
    ``AP = Σ_t (TPR_t − TPR_{t−1}) · precision_t`` over distinct thresholds (no interpolation)."""
    pair = _check(known, unknown)
    if pair is None:
        return None
    tpr, _, precision = _roc_points(*pair)
    return float(np.sum(np.diff(np.r_[0.0, tpr]) * precision))


@METRICS.register("open-set-detection")
class OpenSetDetection(Metric):
    """Per-step AUROC, FPR@95 and AUPR-In; ``None`` at steps without unseen-class samples.

    The summaries are means over the steps where the metric exists (``None`` if there is none).
    """

    needs_logits = False

    summary_keys = (
        MetricKey("mean_auroc", "AUROC", percent=False),
        MetricKey("mean_fpr95", "FPR@95", percent=False, higher_is_better=False, show="page"),
        MetricKey("mean_aupr", "AUPR-In", percent=False, show="page"),
    )
    step_keys = ("auroc", "fpr95", "aupr")
    curves = (StepCurve("auroc", "auroc", "open-set AUROC (seen vs unseen classes)", "Open-set AUROC against step"),)
    table_note = " AUROC averaged over steps that have unseen classes."

    def observe(self, evidence: StepEvidence) -> None:
        seen = evidence.is_seen
        self.update(evidence.step, evidence.known_score[seen], evidence.known_score[~seen])

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._steps: list[dict[str, float | None]] = []

    def update(self, step: int, known_scores: np.ndarray, unknown_scores: np.ndarray) -> None:
        if step != len(self._steps):
            raise ValueError(f"steps must be given in order: expected {len(self._steps)}, got {step}")
        self._steps.append(
            {
                "auroc": auroc(known_scores, unknown_scores),
                "fpr95": fpr_at_tpr(known_scores, unknown_scores),
                "aupr": aupr(known_scores, unknown_scores),
            }
        )

    def compute(self) -> dict[str, Any]:
        out: dict[str, Any] = {key: [s[key] for s in self._steps] for key in ("auroc", "fpr95", "aupr")}
        out["summary"] = {}
        for key in ("auroc", "fpr95", "aupr"):
            present = [v for v in out[key] if v is not None]
            out["summary"][f"mean_{key}"] = float(np.mean(present)) if present else None
        return out
