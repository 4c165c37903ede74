"""A metric defined outside owlbench's packages (for tests): its own file and one registration."""

from harness.api.metric import Metric, MetricKey, StepEvidence
from harness.api.registry import METRICS


@METRICS.register("test-known-classes")
class KnownClasses(Metric):
    """How many classes a strategy predicts over after each step (a count, every scenario kind)."""

    summary_keys = (MetricKey("last_known_classes", "known classes", percent=False, higher_is_better=None),)
    step_keys = ("known_classes",)

    def __init__(self):
        self.counts = []

    def observe(self, evidence: StepEvidence) -> None:
        self.counts.append(len(evidence.prediction.classes))

    def compute(self):
        return {"known_classes": list(self.counts), "summary": {"last_known_classes": self.counts[-1]}}
