"""A metric registered after a board ran (for the rescore tests): top-5 accuracy on the seen classes."""

import numpy as np

from harness.api.metric import Metric, MetricKey, StepEvidence


class TopFiveAccuracy(Metric):
    """Share of the test samples of seen classes whose class is among the five largest logits."""

    summary_keys = (MetricKey("last_top5_accuracy", "last top-5 acc"),)
    step_keys = ("top5_accuracy",)

    def __init__(self):
        self.values = []

    def observe(self, evidence: StepEvidence) -> None:
        logits = evidence.prediction.logits.numpy()
        classes = evidence.prediction.classes.numpy()
        k = min(5, logits.shape[1])
        top = classes[np.argsort(-logits, axis=1, kind="stable")[:, :k]]
        seen = evidence.is_seen
        hit = (top[seen] == evidence.test_y[seen][:, None]).any(axis=1)
        self.values.append(float(hit.mean()))

    def compute(self):
        return {"top5_accuracy": list(self.values), "summary": {"last_top5_accuracy": self.values[-1]}}
