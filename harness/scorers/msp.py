"""The maximum softmax probability scorer."""

from __future__ import annotations

import numpy as np
import torch

from harness.api.experience import Prediction
from harness.api.registry import SCORERS
from harness.api.scorer import Scorer
from harness.api.summary import SummaryRequest
from harness.scorers.logit_summary import logits


@SCORERS.register("msp")
class MaxSoftmax(Scorer):
    """Maximum softmax probability, ``max_c softmax(f(x))_c`` (Hendrycks and Gimpel, ICLR 2017)."""

    needs_logits = False

    def reads(self) -> SummaryRequest:
        return SummaryRequest(softmax_max=True)

    def score(self, prediction: Prediction, features=None) -> np.ndarray:
        if prediction.logits is None:
            return prediction.summary.softmax_max.detach().cpu().numpy()
        return torch.softmax(logits(prediction), dim=1).max(dim=1).values.numpy()
