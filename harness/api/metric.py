"""The shape every metric takes, and what it declares once for the evaluator and the reports.

A metric accumulates evidence step by step (``update`` with its own arguments, or :meth:`Metric.observe`
with the :class:`StepEvidence` the step evaluator hands every metric) and ``compute`` returns plain
JSON-ready values.  Where it is defined, it declares:

- ``summary_keys``: one :class:`MetricKey` per summary value (its label, percent or not, direction,
  where it is shown); the CSV, the markdown table and the HTML page are built from these;
- ``step_keys``: its per-step values (lists in ``compute()``), written into every step row;
- ``extra_keys``: other outputs of ``compute()`` kept in ``metrics.json`` (the accuracy matrix, ...);
- ``curves``: per-step keys drawn as a figure, one panel per scenario;
- ``kinds``: the scenario kinds whose tables show its columns (``None``: every kind);
- ``table_note``: a sentence for the note under the markdown table.

Registering it (``@METRICS.register("name")``) is all it takes: the evaluator runs it on every plan
for which :meth:`Metric.applies` is true, in registration order, which is also the column order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np

from harness.api.experience import Prediction
from harness.api.scenario import ScenarioPlan


@dataclass(frozen=True)
class MetricKey:
    """One summary value: ``<name>_mean`` and ``<name>_std`` over seeds in ``leaderboard.csv``.

    ``show``: ``table`` (markdown table and page), ``page`` (page only) or ``csv`` (the CSV alone).
    ``paired_with`` names a key shown after this one in the same cell (``6.5 / 7``: estimated / true).
    """

    name: str
    label: str
    percent: bool = True
    higher_is_better: bool | None = True
    show: Literal["table", "page", "csv"] = "table"
    paired_with: str | None = None


@dataclass(frozen=True)
class StepCurve:
    """A per-step key drawn against step: the figure ``<stem>.png`` with ``title`` on the page."""

    key: str
    stem: str
    ylabel: str
    title: str
    scale: float = 1.0


@dataclass(frozen=True)
class StepEvidence:
    """What the evaluator knows after one step: the plan, the test labels it holds (scenario class
    ids, ``-1`` for classes outside the order), the strategy's prediction and a few derived views."""

    step: int
    plan: ScenarioPlan
    test_y: np.ndarray
    prediction: Prediction
    predicted: np.ndarray  # predicted class id per test sample
    known_score: np.ndarray  # open-set score per test sample, float64
    is_seen: np.ndarray  # test samples of classes introduced up to this step
    train_size: int
    scorer_scores: dict[str, np.ndarray | str] | None = None  # the board's open-set scorers' scores, or why one cannot score
    far_scores: dict[str, np.ndarray | str] | None = None  # the same (and "default") on the far-unknown samples


class Metric:
    """Accumulates evidence step by step; ``compute`` returns plain JSON-ready values."""

    kinds: ClassVar[frozenset[str] | None] = None
    summary_keys: ClassVar[tuple[MetricKey, ...]] = ()
    step_keys: ClassVar[tuple[str, ...]] = ()
    extra_keys: ClassVar[tuple[str, ...]] = ()
    curves: ClassVar[tuple[StepCurve, ...]] = ()
    table_note: ClassVar[str] = ""
    registered_name: ClassVar[str] = ""
    #: True (the default) when :meth:`observe` may read every logit (``prediction.logits``),
    #: which keeps a board's predictions dense; False when it reads ``evidence.predicted``, the
    #: open-set scores and ``prediction.summary`` only (harness.api.summary), as the built-in ones do
    needs_logits: ClassVar[bool] = True

    @classmethod
    def higher_is_better(cls) -> dict[str, bool | None]:
        """Each summary key's direction (``None``: neither, e.g. a count)."""
        return {key.name: key.higher_is_better for key in cls.summary_keys}

    @classmethod
    def applies(cls, plan: ScenarioPlan) -> bool:
        """Whether the evaluator runs this metric on ``plan`` (default: its kind is among ``kinds``)."""
        return cls.kinds is None or plan.kind in cls.kinds

    @classmethod
    def for_plan(cls, plan: ScenarioPlan) -> "Metric":
        """A fresh instance for one job's plan."""
        return cls()

    def observe(self, evidence: StepEvidence) -> None:  # pragma: no cover - interface
        """Take one step's evidence (the evaluator calls this; ``update`` is the metric's own form)."""
        raise NotImplementedError

    def reset(self) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def update(self, *args: Any, **kwargs: Any) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def compute(self) -> dict[str, Any]:  # pragma: no cover - interface
        """``{"summary": {...}, <step key>: [one value per step], <extra key>: ...}``."""
        raise NotImplementedError
