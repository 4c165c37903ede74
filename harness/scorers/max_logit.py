"""The maximum logit scorer."""

from __future__ import annotations

import numpy as np

from harness.api.experience import Prediction
from harness.api.registry import SCORERS
from harness.api.scorer import Scorer
from harness.scorers.logit_summary import max_logit


@SCORERS.register("max_logit")
class MaxLogit(Scorer):
    """Maximum logit, ``max_c f_c(x)``: with a good closed-set classifier a strong open-set baseline
    (Hendrycks et al., ICML 2022; Vaze et al., ICLR 2022)."""

    needs_logits = False

    def score(self, prediction: Prediction, features=None) -> np.ndarray:
        return max_logit(prediction).numpy()
