"""Archived predictions: what a job's strategy answered at every step, kept in its folder as
``predictions.npz`` (NumPy's compressed archive, read without pickle), so that every metric can be
computed again from the folder alone (``owlbench rescore``), also a metric registered after the run.

Per step ``i`` the archive holds, for the test samples in dataset order:

- ``step{i}/classes``: the class ids the strategy predicted over (the columns of its logits);
- ``step{i}/predicted``: the predicted class id (argmax of the logits);
- ``step{i}/known_score``: the open-set score, in the strategy's own dtype (so a rescore is exact);
- ``step{i}/top_classes``, ``step{i}/top_logits``: the ``k`` largest logits and their class ids;
- ``step{i}/new_best_class``, ``step{i}/new_best_logit``: the best class outside step 0's classes
  (``-1`` when there is none), which the task-aware accuracy of new classes needs;
- ``step{i}/train_size``: the number of training samples of the step;
- ``step{i}/scorers`` and ``step{i}/scorer/<label>``: the board's open-set scorers and their scores;
  ``step{i}/far_scorers`` and ``step{i}/far/<label>``: the scores on the far unknowns.

and, once: ``test_y`` (scenario class ids, ``-1`` outside the order), ``test_index`` (the samples'
positions in the dataset's test split) and ``plan`` (the scenario plan as JSON, without sample
indices).  Rescoring rebuilds from these a logit matrix that is ``-inf`` except at the archived
entries: argmax, the top ``k`` and the task-aware choice are those of the run; a metric that would
need every logit's value is not recomputable from an archive (and says so).
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from harness.api.experience import Prediction
from harness.api.scenario import ScenarioPlan, StepPlan
from harness.api.summary import SummaryRequest
from harness.jobs import PREDICTIONS_FILE
from harness.store.summaries import summary_of_logits

ARCHIVE = PREDICTIONS_FILE
DEFAULT_TOP_K = 5


class ArchiveError(ValueError):
    """A predictions archive that cannot be read or does not hold what it must."""


def plan_to_json(plan: ScenarioPlan) -> str:
    steps = [{"new_classes": list(s.new_classes), "labeled": s.labeled, "mixes_seen": s.mixes_seen} for s in plan.steps]
    return json.dumps({"kind": plan.kind, "class_order": list(plan.class_order), "steps": steps, "num_new_given": plan.num_new_given}, sort_keys=True)


def plan_from_json(text: str) -> ScenarioPlan:
    raw = json.loads(text)
    steps = tuple(
        StepPlan(np.zeros(0, dtype=np.int64), tuple(int(c) for c in s["new_classes"]), bool(s["labeled"]), bool(s["mixes_seen"])) for s in raw["steps"]
    )
    return ScenarioPlan(str(raw["kind"]), tuple(int(c) for c in raw["class_order"]), steps, bool(raw["num_new_given"]))


class PredictionRecorder:
    """Collects the archive's arrays step by step while a job runs."""

    def __init__(self, plan: ScenarioPlan, test_y: np.ndarray, top_k: int = DEFAULT_TOP_K):
        self.plan, self.top_k = plan, top_k
        self.base = np.asarray(plan.steps[0].new_classes, dtype=np.int64)
        self.arrays: dict[str, np.ndarray] = {
            "test_y": np.asarray(test_y, dtype=np.int64),
            "test_index": np.arange(len(test_y), dtype=np.int64),
            "plan": np.array(plan_to_json(plan)),
        }

    def add(self, step: int, train_size: int, prediction: Prediction, scorer_scores: dict[str, Any] | None = None, far_scores: dict[str, Any] | None = None) -> None:
        classes = prediction.classes.detach().cpu().numpy().astype(np.int64)
        summary = prediction.summary
        if prediction.logits is not None:
            request = SummaryRequest(self.top_k, tuple(int(c) for c in self.base))
            summary = summary_of_logits(prediction.logits.detach().cpu(), prediction.classes.detach().cpu(), request)
        k = min(self.top_k, summary.top_classes.shape[1])
        new_class, new_logit = summary.new_best_classes.detach().cpu().numpy(), summary.new_best_values.detach().cpu().numpy()
        prefix = f"step{step}/"
        self.arrays.update({
            prefix + "classes": classes,
            prefix + "predicted": prediction.predicted_classes().detach().cpu().numpy().astype(np.int64),
            prefix + "known_score": prediction.known_score.detach().cpu().numpy(),
            prefix + "top_classes": summary.top_classes[:, :k].detach().cpu().numpy().astype(np.int64),
            prefix + "top_logits": summary.top_values[:, :k].detach().cpu().numpy(),
            prefix + "new_best_class": np.asarray(new_class, dtype=np.int64),
            prefix + "new_best_logit": np.asarray(new_logit),
            prefix + "train_size": np.array(train_size, dtype=np.int64),
        })
        for label, score in (scorer_scores or {}).items():  # a scorer that could not score keeps its reason
            self.arrays[f"{prefix}scorer/{label}"] = np.array(score) if isinstance(score, str) else np.asarray(score)
        if scorer_scores is not None:
            self.arrays[f"{prefix}scorers"] = np.array(list(scorer_scores))
        for label, score in (far_scores or {}).items():
            self.arrays[f"{prefix}far/{label}"] = np.array(score) if isinstance(score, str) else np.asarray(score)
        if far_scores is not None:
            self.arrays[f"{prefix}far_scorers"] = np.array(list(far_scores))


def archive_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def read_archive(path: Path) -> dict[str, np.ndarray]:
    """The arrays of ``path``; :class:`ArchiveError` naming the file when it is damaged or incomplete."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except FileNotFoundError:
        raise ArchiveError(f"{path}: no predictions archive (made before archives were kept, or with archive_top_k: 0)") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as exc:
        raise ArchiveError(f"{path}: damaged predictions archive ({type(exc).__name__}); run the job again with --rerun") from None
    for key in ("test_y", "plan", "step0/predicted"):
        if key not in arrays:
            raise ArchiveError(f"{path}: damaged predictions archive (no {key!r}); run the job again with --rerun")
    return arrays


def steps_of(arrays: dict[str, np.ndarray]) -> int:
    steps = 0
    while f"step{steps}/predicted" in arrays:
        steps += 1
    return steps


def prediction_at(arrays: dict[str, np.ndarray], step: int, n: int) -> Prediction:
    """The step's prediction as rebuilt from the archive: ``-inf`` logits except the archived ones."""
    p = f"step{step}/"
    classes = arrays[p + "classes"]
    column = {int(c): j for j, c in enumerate(classes)}
    dtype = arrays[p + "top_logits"].dtype
    logits = np.full((n, len(classes)), -np.inf, dtype=dtype)
    rows = np.arange(n)
    new_class, new_logit = arrays[p + "new_best_class"], arrays[p + "new_best_logit"]
    has_new = new_class >= 0
    if has_new.any():
        logits[rows[has_new], [column[int(c)] for c in new_class[has_new]]] = new_logit[has_new]
    top_classes, top_logits = arrays[p + "top_classes"], arrays[p + "top_logits"]
    for j in range(top_classes.shape[1]):
        logits[rows, [column[int(c)] for c in top_classes[:, j]]] = top_logits[:, j]
    # the predicted class holds the largest logit; a class tied with it comes after it (argmax takes the first)
    logits[rows, [column[int(c)] for c in arrays[p + "predicted"]]] = top_logits[:, 0]
    return Prediction(torch.from_numpy(logits), torch.from_numpy(classes), torch.from_numpy(arrays[p + "known_score"]))


def scorer_scores_at(arrays: dict[str, np.ndarray], step: int, where: str = "scorer") -> dict[str, np.ndarray | None] | None:
    """The archived scores of the board's scorers at ``step`` on the test samples (``where="far"``: on
    the far unknowns); ``None`` for a scorer that had no features."""
    names = arrays.get(f"step{step}/{'scorers' if where == 'scorer' else 'far_scorers'}")
    if names is None:
        return None
    out: dict[str, np.ndarray | str | None] = {}
    for name in names.tolist():
        value = arrays.get(f"step{step}/{where}/{name}")
        out[str(name)] = str(value) if value is not None and value.dtype.kind == "U" else value  # a reason, or the scores
    return out


def rescored_metrics(arrays: dict[str, np.ndarray], where: Path | str = "") -> dict[str, Any]:
    """Every registered metric computed again from an archive (``summary``, ``steps`` and extras)."""
    from harness.metrics.evaluator import StepEvaluator

    plan = plan_from_json(str(arrays["plan"]))
    test_y = arrays["test_y"]
    evaluator = StepEvaluator(plan, test_y)
    for step in range(steps_of(arrays)):
        prediction = prediction_at(arrays, step, len(test_y))
        if not np.array_equal(prediction.predicted_classes().numpy(), arrays[f"step{step}/predicted"]):
            raise ArchiveError(f"{where}: step {step}: the archived logits do not reproduce the archived predictions")
        evaluator.update(step, int(arrays[f"step{step}/train_size"]), prediction, scorer_scores_at(arrays, step), scorer_scores_at(arrays, step, "far"))
    return evaluator.compute()
