"""A strategy that trains, for the executor benchmark: plain fine-tuning of a small MLP.

Each step trains the whole network (two hidden layers and a linear head over the classes seen so
far) with SGD on that step's data only, the usual lower bound of class-incremental learning (it
forgets). Its jobs are CPU-bound and dominated by many small batches, as small-model continual
learning runs are; a board of them is what the ``process`` executor is meant to speed up. Named in a
YAML as ``finetune_mlp:FinetuneMLP`` with this folder on the Python path (``bench/executors.py``
runs from here).
"""

from __future__ import annotations

import torch
from pydantic import PositiveFloat, PositiveInt

from harness.training.batches import epoch_batches
from harness.api.experience import Experience, Prediction
from harness.api.params import Params
from harness.api.strategy import Strategy


class FinetuneParams(Params):
    """``hidden``: width of both hidden layers; ``epochs``: passes over each step's data; ``lr``: SGD
    learning rate (momentum 0.9); ``batch_size``: samples per SGD step; ``max_classes``: size of the
    output layer (logits of unseen classes are ignored)."""

    hidden: PositiveInt = 256
    epochs: PositiveInt = 20
    lr: PositiveFloat = 0.05
    batch_size: PositiveInt = 32
    max_classes: PositiveInt = 100


class FinetuneMLP(Strategy):
    """Fine-tune an MLP on each step's data with cross-entropy over the classes seen so far."""

    Params = FinetuneParams
    supports = frozenset({"cil", "fscil"})

    def __init__(self, params: FinetuneParams, context):
        super().__init__(params, context)
        h = params.hidden
        self.net = torch.nn.Sequential(
            torch.nn.Flatten(),
            torch.nn.Linear(context.feature_dim, h),
            torch.nn.ReLU(),
            torch.nn.Linear(h, h),
            torch.nn.ReLU(),
            torch.nn.Linear(h, params.max_classes),
        ).to(context.device)
        self.seen = torch.empty(0, dtype=torch.long)
        self.shuffle = context.generator(1)

    def learn(self, experience: Experience) -> None:
        self.seen = torch.tensor(sorted(experience.seen_classes), dtype=torch.long)
        mask = torch.full((self.params.max_classes,), float("-inf"), device=self.device)
        mask[self.seen] = 0.0
        optimizer = torch.optim.SGD(self.net.parameters(), lr=self.params.lr, momentum=0.9)
        x, y = experience.inputs.float(), experience.labels.long()
        self.net.train()
        for _ in range(self.params.epochs):
            for batch in epoch_batches(len(x), self.params.batch_size, self.shuffle, x.device):
                loss = torch.nn.functional.cross_entropy(self.net(x[batch]) + mask, y[batch])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()

    @torch.no_grad()
    def predict(self, inputs: torch.Tensor) -> Prediction:
        self.net.eval()
        logits = self.net(inputs.float())[:, self.seen.to(inputs.device)]
        return Prediction(logits=logits, classes=self.seen.to(logits.device), known_score=logits.max(1).values)
