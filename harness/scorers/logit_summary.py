"""What the logit scorers read from a prediction: its dense logits in float64, or, when it carries
none, its summary (harness.api.summary): the largest logit, ``T · logsumexp(f / T)`` and the softmax
maximum, which the summary holds as the dense path computes them."""

from __future__ import annotations

import torch

from harness.api.experience import Prediction


def logits(prediction: Prediction) -> torch.Tensor:
    return prediction.logits.detach().cpu().double()


def max_logit(prediction: Prediction) -> torch.Tensor:
    if prediction.logits is None:
        return prediction.summary.max_logit.detach().cpu().double()
    return logits(prediction).max(dim=1).values


def logsumexp(prediction: Prediction, temperature: float) -> torch.Tensor:
    """``T · logsumexp(f / T)`` in float64."""
    if prediction.logits is None:
        return prediction.summary.logsumexp[temperature].detach().cpu()
    return temperature * torch.logsumexp(logits(prediction) / temperature, dim=1)
