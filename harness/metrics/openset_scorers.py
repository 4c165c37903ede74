"""Open-set detection per scorer: AUROC, FPR@95, AUPR-In and AUPR-Out at every step, for each scorer
the board names (``open_set: {scorers: [...]}``) and for the strategy's own score (``default``).

Positives are the test samples of classes seen so far, negatives those of classes not introduced
yet, as in :mod:`harness.metrics.openset`; AUPR-Out is the average precision with the unknown samples
as positives and the negated score.  Kept in ``metrics.json`` under ``scorers``
(``{scorer: {"auroc": [per step], ...}}``, and ``"skipped": [reason or None per step]`` for a scorer
that could not score at some step); reported in ``scorers.csv``.

With ``open_set: {far: DATASET}`` the same four measures are computed a second time against far
unknowns, the test samples of another dataset (``auroc_far``, ...): near unknowns are the board's
unseen classes, far ones a dataset the strategy is never shown.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from harness.api.metric import Metric, StepEvidence
from harness.api.registry import METRICS
from harness.metrics.openset import aupr, auroc, fpr_at_tpr

MEASURES = ("auroc", "fpr95", "aupr_in", "aupr_out")
FAR_MEASURES = tuple(f"{m}_far" for m in MEASURES)


def detection(known: np.ndarray, unknown: np.ndarray) -> dict[str, float | None]:
    return {
        "auroc": auroc(known, unknown),
        "fpr95": fpr_at_tpr(known, unknown),
        "aupr_in": aupr(known, unknown),
        "aupr_out": aupr(-unknown, -known),
    }


@METRICS.register("open-set-scorers")
class OpenSetScorers(Metric):
    """Per step and per scorer (the board's ``open_set.scorers`` and ``default``, the strategy's own
    score): AUROC, FPR@95, AUPR-In and AUPR-Out; ``None`` at steps without unseen-class samples."""

    needs_logits = False

    extra_keys = ("scorers",)

    def __init__(self) -> None:
        self.steps: list[dict[str, dict[str, float | None]]] = []
        self.used = False

    def observe(self, evidence: StepEvidence) -> None:
        scores = {"default": evidence.known_score, **(evidence.scorer_scores or {})}
        far = evidence.far_scores
        self.used = self.used or bool(evidence.scorer_scores) or far is not None
        row = {}
        for name, score in scores.items():
            if isinstance(score, str) or score is None:  # a scorer that cannot score: missing, with the reason
                row[name] = {**dict.fromkeys(MEASURES + (FAR_MEASURES if far is not None else ())), "skipped": score or "skipped"}
                continue
            score = np.asarray(score, dtype=np.float64)
            row[name] = detection(score[evidence.is_seen], score[~evidence.is_seen])
            if far is not None:  # known: the seen classes' test samples; unknown: every far sample
                far_score = far.get(name)
                usable = far_score is not None and not isinstance(far_score, str)
                far_row = detection(score[evidence.is_seen], np.asarray(far_score, dtype=np.float64)) if usable else dict.fromkeys(MEASURES)
                row[name].update({f"{m}_far": v for m, v in far_row.items()})
        self.steps.append(row)

    def compute(self) -> dict[str, Any]:
        if not self.used:
            return {"summary": {}, "scorers": None}  # no scorer on this board: nothing beyond the open-set metric
        names = list(self.steps[0])
        keys = {n: list(dict.fromkeys(k for step in self.steps for k in step[n])) for n in names}
        return {"summary": {}, "scorers": {n: {m: [step[n].get(m) for step in self.steps] for m in keys[n]} for n in names}}
