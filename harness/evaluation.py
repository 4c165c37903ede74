"""Turning a strategy's predictions on the test set into per-step metrics (the harness holds the labels)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from harness.experience import Prediction
from harness.metrics import ClusteringQuality, ContinualAccuracy, OpenSetDetection
from harness.scenario import ScenarioPlan


class StepEvaluator:
    """Per step: accuracy on the test samples of seen classes, open-set detection against the test
    samples of classes not seen yet.  ``test_y`` holds scenario class ids (-1 for classes outside
    the order).

    Plans with unlabeled steps (``ncd``, ``cgcd``) are scored by clustering quality instead of
    accuracy (discovered classes carry ids of the strategy's choosing): :class:`ClusteringQuality`
    with the step-0 classes as "Old", plus the number of new classes the strategy added at each
    unlabeled step (classes it predicts over, minus those of the step before) next to the true one.
    """

    def __init__(self, plan: ScenarioPlan, test_y: np.ndarray):
        self.plan = plan
        self.test_y = test_y
        self.accuracy = ContinualAccuracy(plan.step_of_class())
        self.clustering = ClusteringQuality() if plan.has_unlabeled_steps else None
        self.openset = OpenSetDetection()
        self.train_sizes: list[int] = []
        self._classes_before = 0

    def update(self, step: int, train_size: int, prediction: Prediction) -> None:
        seen = self.plan.seen_after(step)
        predicted = prediction.predicted_classes().cpu().numpy()
        known_score = prediction.known_score.detach().cpu().double().numpy()
        is_seen = np.isin(self.test_y, seen)
        self.accuracy.update(step, self.test_y[is_seen], predicted[is_seen])
        self.openset.update(step, known_score[is_seen], known_score[~is_seen])
        self.train_sizes.append(train_size)
        if self.clustering is not None:
            self._update_clustering(step, prediction, is_seen, predicted)

    def _update_clustering(self, step: int, prediction: Prediction, is_seen: np.ndarray, predicted: np.ndarray) -> None:
        old = self.plan.steps[0].new_classes
        y = self.test_y[is_seen]
        classes = prediction.classes.cpu().numpy()
        not_old = np.flatnonzero(~np.isin(classes, old))
        task_aware = None
        if len(not_old):
            rows = torch.from_numpy(np.flatnonzero(is_seen)[~np.isin(y, old)])
            logits = prediction.logits.detach().cpu()[rows][:, torch.from_numpy(not_old)]
            task_aware = classes[not_old][logits.argmax(dim=1).numpy()]
        labeled = self.plan.steps[step].labeled
        self.clustering.update(
            step,
            y,
            predicted[is_seen],
            old,
            new_pred_task_aware=task_aware,
            new_classes_true=None if labeled else len(self.plan.steps[step].new_classes),
            new_classes_estimated=None if labeled else len(classes) - self._classes_before,
        )
        self._classes_before = len(classes)

    def compute(self) -> dict[str, Any]:
        if self.clustering is not None:
            return self._compute_clustering()
        acc, ood = self.accuracy.compute(), self.openset.compute()
        steps = [
            {
                "step": i,
                "seen_classes": len(self.plan.seen_after(i)),
                "train_samples": self.train_sizes[i],
                "accuracy": acc["accuracy"][i],
                "base_accuracy": acc["base_accuracy"][i],
                "novel_accuracy": acc["novel_accuracy"][i],
                "harmonic_accuracy": acc["harmonic_accuracy"][i],
                "auroc": ood["auroc"][i],
                "fpr95": ood["fpr95"][i],
                "aupr": ood["aupr"][i],
            }
            for i in range(len(self.train_sizes))
        ]
        return {
            "summary": {**acc["summary"], **ood["summary"]},
            "steps": steps,
            "accuracy_matrix": acc["accuracy_matrix"],
            "per_class_accuracy": acc["per_class_accuracy"],
            "per_class_counts": acc["per_class_counts"],
        }

    def _compute_clustering(self) -> dict[str, Any]:
        quality, ood = self.clustering.compute(), self.openset.compute()
        steps = [
            {
                "step": i,
                "labeled": self.plan.steps[i].labeled,
                "seen_classes": len(self.plan.seen_after(i)),
                "train_samples": self.train_sizes[i],
                **{key: quality[key][i] for key in ClusteringQuality.KEYS},
                "auroc": ood["auroc"][i],
                "fpr95": ood["fpr95"][i],
                "aupr": ood["aupr"][i],
            }
            for i in range(len(self.train_sizes))
        ]
        return {"summary": {**quality["summary"], **ood["summary"]}, "steps": steps}
