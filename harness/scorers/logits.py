"""Scorers from the logits alone: maximum softmax probability, maximum logit, energy."""

from __future__ import annotations

import numpy as np
import torch
from pydantic import Field

from harness.api.experience import Prediction
from harness.api.params import Params
from harness.api.registry import SCORERS
from harness.api.scorer import Scorer


def _logits(prediction: Prediction) -> torch.Tensor:
    return prediction.logits.detach().cpu().double()


@SCORERS.register("msp")
class MaxSoftmax(Scorer):
    """Maximum softmax probability, ``max_c softmax(f(x))_c`` (Hendrycks and Gimpel, ICLR 2017)."""

    def score(self, prediction: Prediction, features=None) -> np.ndarray:
        return torch.softmax(_logits(prediction), dim=1).max(dim=1).values.numpy()


@SCORERS.register("max_logit")
class MaxLogit(Scorer):
    """Maximum logit, ``max_c f_c(x)``: with a good closed-set classifier a strong open-set baseline
    (Hendrycks et al., ICML 2022; Vaze et al., ICLR 2022)."""

    def score(self, prediction: Prediction, features=None) -> np.ndarray:
        return _logits(prediction).max(dim=1).values.numpy()


class EnergyParams(Params):
    temperature: float = Field(1.0, gt=0.0, description="T of the energy score")


@SCORERS.register("energy")
class Energy(Scorer):
    """Negative free energy, ``T · logsumexp(f(x) / T)`` (Liu et al., NeurIPS 2020); classes the
    strategy rules out (``-inf`` logits) add nothing."""

    Params = EnergyParams

    def score(self, prediction: Prediction, features=None) -> np.ndarray:
        t = self.params.temperature
        return (t * torch.logsumexp(_logits(prediction) / t, dim=1)).numpy()
