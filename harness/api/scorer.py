"""The interface of an open-set scorer: a strategy's prediction (and, for some scorers, features and
class statistics fitted on the training data the strategy was given) in, one score per test sample
out, higher meaning "belongs to a known class".

A scorer is told each labeled step's training features and labels as the step is given to the
strategy (:meth:`Scorer.observe`) and keeps only what it declares (class statistics; no samples
unless it says so in ``keeps_samples``).  It never sees test labels or test statistics: :meth:`score`
gets the prediction and the test features only.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import torch

from harness.api.experience import Prediction
from harness.api.params import Params
from harness.api.summary import SummaryRequest


class Scorer:
    """Base of registered scorers: declares ``Params``, whether it needs features, and implements
    :meth:`score` (and :meth:`observe` when it fits class statistics)."""

    Params: ClassVar[type[Params]] = Params
    needs_features: ClassVar[bool] = False
    keeps_samples: ClassVar[bool] = False  # True when it keeps training features themselves (marked in the results)
    #: False when it reads a prediction's summary alone (:meth:`reads` says what of it);
    #: True (the default) when it needs every logit, which keeps the board's predictions dense
    needs_logits: ClassVar[bool] = True
    registered_name: ClassVar[str] = ""

    def __init__(self, params: Params):
        self.params = params

    def observe(self, features: torch.Tensor, labels: torch.Tensor) -> None:
        """One labeled step's training features (N×D) and scenario class ids; default: nothing kept."""

    def score(self, prediction: Prediction, features: torch.Tensor | None) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def reads(self) -> SummaryRequest:
        """What it reads of a prediction's summary besides the top class (``logsumexp`` at which
        temperatures, the softmax maximum)."""
        return SummaryRequest()

    @property
    def fitted(self) -> bool:
        """Whether it holds what it needs to score (the statistics of a labeled step, when it uses them)."""
        return True
