"""The energy scorer."""

from __future__ import annotations

import numpy as np
from pydantic import Field

from harness.api.experience import Prediction
from harness.api.params import Params
from harness.api.registry import SCORERS
from harness.api.scorer import Scorer
from harness.api.summary import SummaryRequest
from harness.scorers.logit_summary import logsumexp


class EnergyParams(Params):
    temperature: float = Field(1.0, gt=0.0, description="T of the energy score")


@SCORERS.register("energy")
class Energy(Scorer):
    """Negative free energy, ``T · logsumexp(f(x) / T)`` (Liu et al., NeurIPS 2020); classes the
    strategy rules out (``-inf`` logits) add nothing."""

    Params = EnergyParams

    needs_logits = False

    def reads(self) -> SummaryRequest:
        return SummaryRequest(temperatures=(self.params.temperature,))

    def score(self, prediction: Prediction, features=None) -> np.ndarray:
        return logsumexp(prediction, self.params.temperature).numpy()
