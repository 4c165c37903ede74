"""Scorers from the logits alone: maximum softmax probability, maximum logit, energy.

Each reads a prediction's summary when it carries no dense logits (harness.api.summary): the
largest logit, ``T · logsumexp(f / T)`` and the softmax maximum, which the summary holds as the dense
path computes them.
"""

from __future__ import annotations

import numpy as np
import torch
from pydantic import Field

from harness.api.experience import Prediction
from harness.api.params import Params
from harness.api.registry import SCORERS
from harness.api.scorer import Scorer
from harness.api.summary import SummaryRequest


def _logits(prediction: Prediction) -> torch.Tensor:
    return prediction.logits.detach().cpu().double()


def _max_logit(prediction: Prediction) -> torch.Tensor:
    if prediction.logits is None:
        return prediction.summary.max_logit.detach().cpu().double()
    return _logits(prediction).max(dim=1).values


def _logsumexp(prediction: Prediction, temperature: float) -> torch.Tensor:
    """``T · logsumexp(f / T)`` in float64."""
    if prediction.logits is None:
        return prediction.summary.logsumexp[temperature].detach().cpu()
    return temperature * torch.logsumexp(_logits(prediction) / temperature, dim=1)


@SCORERS.register("msp")
class MaxSoftmax(Scorer):
    """Maximum softmax probability, ``max_c softmax(f(x))_c`` (Hendrycks and Gimpel, ICLR 2017)."""

    needs_logits = False

    def reads(self) -> SummaryRequest:
        return SummaryRequest(softmax_max=True)

    def score(self, prediction: Prediction, features=None) -> np.ndarray:
        if prediction.logits is None:
            return prediction.summary.softmax_max.detach().cpu().numpy()
        return torch.softmax(_logits(prediction), dim=1).max(dim=1).values.numpy()


@SCORERS.register("max_logit")
class MaxLogit(Scorer):
    """Maximum logit, ``max_c f_c(x)``: with a good closed-set classifier a strong open-set baseline
    (Hendrycks et al., ICML 2022; Vaze et al., ICLR 2022)."""

    needs_logits = False

    def score(self, prediction: Prediction, features=None) -> np.ndarray:
        return _max_logit(prediction).numpy()


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
        return _logsumexp(prediction, self.params.temperature).numpy()
