"""What a strategy is given at one step, and what it answers.

An :class:`Experience` holds exactly what a strategy may use at one step: the inputs of this step, the
labels it is allowed to see and which classes are introduced.  An :class:`UnlabeledExperience` holds
the inputs of an unlabeled step and no labels at all: it has no field that could hold them.
Evaluation data and its labels never appear here; they stay inside the runner.  Fields are slots of
a frozen dataclass: there is nothing else to reach.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from harness.api.summary import LogitSummary


def _describe(experience, **fields) -> str:
    """A short repr: the step, the kind, the number of inputs and ``fields`` (never the tensors)."""
    extra = "".join(f", {k}={v}" for k, v in fields.items())
    return f"{type(experience).__name__}(step={experience.step}, kind={experience.scenario_kind!r}, n={len(experience.inputs)}{extra})"


@dataclass(frozen=True, slots=True)
class Experience:
    """A labeled training step (``cil``, ``fscil``, the labeled stage of open-world scenarios).

    ``labels`` are class ids in ``0 .. num_classes - 1``, numbered by the scenario's class order
    (id 0 is the first class of the order).  ``seen_classes`` lists every class introduced so far,
    this step's ``new_classes`` included.
    """

    step: int
    scenario_kind: str
    inputs: torch.Tensor
    labels: torch.Tensor
    new_classes: tuple[int, ...]
    seen_classes: tuple[int, ...]

    @property
    def is_base(self) -> bool:
        return self.step == 0

    def __repr__(self) -> str:
        return _describe(self, new_classes=list(self.new_classes))


@dataclass(frozen=True, slots=True)
class UnlabeledExperience:
    """An unlabeled training step (``ncd``, ``cgcd``): inputs only, labels hidden by construction.

    ``num_new_classes`` is how many classes not seen before appear among the inputs when the scenario
    gives it, ``None`` when the strategy must estimate it; which classes they are is never told.
    ``may_contain_known`` says whether inputs of classes seen before are mixed in (``cgcd``) or every
    input belongs to a new class (``ncd``).  ``inputs`` is a fresh tensor (no view of a larger one).
    """

    step: int
    scenario_kind: str
    inputs: torch.Tensor
    num_new_classes: int | None
    may_contain_known: bool

    def __repr__(self) -> str:
        return _describe(self, num_new_classes=self.num_new_classes, may_contain_known=self.may_contain_known)


@dataclass(frozen=True, slots=True)
class Prediction:
    """A strategy's answer for a batch of inputs.

    ``logits[i, k]`` scores input ``i`` for class ``classes[k]`` (higher is more likely);
    ``known_score[i]`` is the open-set score, higher meaning "belongs to a known class".  A strategy
    asked for a summary (:meth:`harness.api.strategy.Strategy.predict_summary`) gives ``summary``
    instead of ``logits`` (``None``): the top classes and the reductions the harness reads
    (:mod:`harness.api.summary`), so that no ``N × C`` matrix is made.
    """

    logits: torch.Tensor | None
    classes: torch.Tensor
    known_score: torch.Tensor
    summary: LogitSummary | None = None

    def __post_init__(self) -> None:
        if self.logits is None and self.summary is None:
            raise ValueError("a Prediction needs logits or a summary")

    def predicted_classes(self) -> torch.Tensor:
        if self.logits is None:
            return self.summary.top_classes[:, 0]
        return self.classes[self.logits.argmax(dim=1)]
