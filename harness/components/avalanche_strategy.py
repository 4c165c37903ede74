"""The base of every avalanche-lib strategy run as an owlbench strategy (``strategies/avalanche_baselines.py``).

One avalanche training template per job, fed one owlbench step at a time; owlbench evaluates.

- Network: ``network.arch`` of :mod:`harness.training.networks` (``mlp`` by default; ``small_cnn`` and
  ``resnet`` for images; ``identity`` for StreamingLDA on the board's backbone features or raw
  inputs) with a head: avalanche's ``IncrementalClassifier`` (it grows with the classes of each
  experience and masks the units of classes not seen) or a fixed ``Linear`` over all of the
  scenario's classes (iCaRL and DER need one; ``StrategyContext.num_classes`` gives its size).
- Training: avalanche's own loop (``train_epochs``, ``train_mb_size``, its plugins and buffers) with
  SGD or Adam, ``cpu_threads`` torch threads on the CPU.  avalanche's defaults of one epoch and
  mini-batches of one sample are replaced by ``epochs: 5`` and ``batch_size: 32``.
- Randomness: the network is initialised under ``torch.manual_seed(seed)``; step ``i`` trains under
  ``torch.manual_seed(seed · 1000 + i)`` (and the same seed for Python's and NumPy's generators,
  which some buffers use), inside :func:`torch.random.fork_rng`, so that the job's other random
  streams are untouched and a step is reproducible alone.
- Evaluation: never avalanche's (its evaluation between steps draws from torch's global random stream
  and would shift the next step's batches): the template gets an ``EvaluationPlugin`` without metrics
  or loggers and is only asked for outputs.  Predictions are over the classes seen so far (other units
  of a fixed head are not candidates); the open-set score is the maximum softmax probability over them.
- Per-epoch training loss: a plugin averages avalanche's mini-batch losses into ``metrics.json``.
- Repaired: avalanche 0.6's Synaptic Intelligence keeps its snapshots of the weights as
  ``param.detach().cpu().flatten()``, which on the CPU is a view of the live parameter, not a copy:
  the weights "before" an update and at the start of a step always equal the current ones, so its
  importance and its penalty stay exactly 0 and SI trains as naive fine-tuning (on a GPU ``.cpu()``
  copies).  :func:`repair_template` gives its plugin copies (:func:`copying_si_plugin`).  With copies,
  avalanche's importance ``clamp(−Σ g·Δθ / (Δ² + ε), max=0.001)`` can be negative without bound (for
  weights that barely moved), which rewards drifting away and drove the training loss to −39, then
  NaN, on digits; the repaired plugin also clamps it at 0 from below (the paper's importance is a
  non-negative cost).
"""

from __future__ import annotations

import contextlib
import os
import random
import warnings
from typing import Any, ClassVar, Literal

import numpy as np
import torch
from pydantic import Field
from torch import nn

from harness.api.experience import Experience, Prediction
from harness.api.params import Params
from harness.api.strategy import Strategy, StrategyContext
from harness.components.avalanche_data import (
    DISTRIBUTION,
    avalanche_missing,
    benchmark_view,
    import_avalanche,
    tensor_dataset,
    training_experience,
)
from harness.devices import cpu_threads
from harness.training.networks import arch_field_problem, build_network
from harness.training.params import BackboneParams

STEP_SEED = 1000
EVAL_BATCH = 256


class NetworkParams(Params):
    """The network an avalanche strategy trains (``identity``: no trainable features)."""

    arch: Literal["mlp", "small_cnn", "resnet", "identity"] = Field("mlp", description="feature network: mlp, small_cnn, resnet (images) or identity")
    width: int = Field(128, ge=1, description="hidden units (mlp) or first-stage channels (cnn, resnet)")
    depth: int = Field(2, ge=1, description="hidden layers (mlp) or conv blocks (small_cnn)")
    resnet_blocks: list[int] = Field([2, 2, 2, 2], min_length=1, description="basic blocks per ResNet stage")


class AvalancheParams(Params):
    """Options every avalanche strategy shares."""

    network: NetworkParams = Field(default_factory=NetworkParams)
    head: Literal["incremental", "fixed"] = Field("incremental", description="IncrementalClassifier (grows per step) or a fixed Linear over all classes")
    epochs: int = Field(5, ge=1, description="epochs per step (avalanche's default: 1)")
    batch_size: int = Field(32, ge=1, description="training mini-batch (avalanche's default: 1)")
    optimizer: Literal["sgd", "adam"] = Field("sgd", description="sgd (with momentum) or adam")
    lr: float = Field(0.01, gt=0)
    momentum: float = Field(0.9, ge=0, lt=1, description="SGD momentum")
    weight_decay: float = Field(0.0, ge=0)
    cpu_threads: int | None = Field(1, ge=1, description="torch threads while training and predicting on the CPU (null: leave torch's setting)")


class HeadedNetwork(nn.Module):
    """``head(features(x))``; :meth:`embed` gives the features (for the open-set scorers)."""

    def __init__(self, features: nn.Module, head: nn.Module):
        super().__init__()
        self.features = features
        self.head = head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def _loss_logger(strategy: "AvalancheStrategy"):
    """An avalanche plugin that hands the mean mini-batch loss of every epoch to ``strategy.log_epoch``."""
    from avalanche.core import SupervisedPlugin

    class EpochLoss(SupervisedPlugin):
        def __init__(self):
            super().__init__()
            self.total, self.batches, self.epoch = 0.0, 0, 0

        def before_training_exp(self, template, **kwargs):
            self.epoch = 0

        def after_training_iteration(self, template, **kwargs):
            loss = template.loss
            self.total += float(loss.detach()) if torch.is_tensor(loss) else float(loss)
            self.batches += 1

        def after_training_epoch(self, template, **kwargs):
            if self.batches:
                strategy.log_epoch(strategy.step, self.epoch, self.total / self.batches)
            self.total, self.batches = 0.0, 0
            self.epoch += 1

    return EpochLoss()


def copying_si_plugin(plugin_cls: type) -> type:
    """A subclass of avalanche's ``SynapticIntelligencePlugin`` whose weight snapshots (the anchor of a
    step, the weights before each update) are copies, as the method needs, on every device, and whose
    importance is clamped to ``[0, 0.001]`` (avalanche clamps it from above only)."""

    def freeze(entries) -> None:
        for entry in entries.values():
            entry.data = entry.data.clone()

    class CopyingSynapticIntelligencePlugin(plugin_cls):
        def after_training_exp(self, strategy, **kwargs):
            super().after_training_exp(strategy, **kwargs)
            for entry in self.ewc_data[1].values():  # importance: at least 0, as in the paper
                entry.data = entry.data.clamp(min=0)

        def before_training_exp(self, strategy, **kwargs):
            super().before_training_exp(strategy, **kwargs)
            freeze(self.ewc_data[0])

        def before_training_iteration(self, strategy, **kwargs):
            super().before_training_iteration(strategy, **kwargs)
            freeze(self.syn_data["old_theta"])

    return CopyingSynapticIntelligencePlugin


def repair_template(template) -> None:
    """Fix, in place, what avalanche gets wrong in a built template (see the module docstring)."""
    from avalanche.training.plugins import SynapticIntelligencePlugin

    repaired = copying_si_plugin(SynapticIntelligencePlugin)
    for plugin in template.plugins:
        if type(plugin) is SynapticIntelligencePlugin:
            plugin.__class__ = repaired


@contextlib.contextmanager
def seeded(seed: int, device: torch.device):
    """Run under ``seed`` for torch (CPU and the CUDA device), Python and NumPy, then restore every state."""
    py_state, np_state = random.getstate(), np.random.get_state()
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        random.seed(seed)
        np.random.seed(seed % 2**32)
        try:
            yield
        finally:
            random.setstate(py_state)
            np.random.set_state(np_state)


class AvalancheStrategy(Strategy):
    """Base of the avalanche strategies: a subclass implements :meth:`template_class` (its class of
    ``avalanche.training``, imported there) and, where the method has options, sets ``Params``."""

    Params: ClassVar[type[Params]] = AvalancheParams
    supports = frozenset({"cil", "fscil"})
    packages: ClassVar[tuple[str, ...]] = (DISTRIBUTION,)
    #: a fixed head over all of the scenario's classes whatever ``head`` says (iCaRL, DER)
    needs_fixed_head: ClassVar[bool] = False
    #: the template takes ``criterion`` (iCaRL brings its own loss)
    takes_criterion: ClassVar[bool] = True

    @classmethod
    def input_problem(cls, params: Params, input_shape: tuple[int, ...]) -> tuple[str, str] | None:
        missing = avalanche_missing()
        if missing:
            return "name", f"strategy {cls.registered_name!r} {missing}"
        return arch_field_problem("network.arch", params.network.arch, input_shape)

    def __init__(self, params: Params, context: StrategyContext):
        super().__init__(params, context)
        import_avalanche()
        if (self.needs_fixed_head or getattr(params, "head", None) == "fixed") and not context.num_classes:
            raise ValueError(f"{self.registered_name}: a fixed head needs the scenario's number of classes (StrategyContext.num_classes)")
        self.step = -1
        self.seen: list[int] = []
        self.step_sizes: list[int] = []
        with seeded(context.seed, context.device), self._threads():
            self.template = self.build_template()
            repair_template(self.template)
        self.model = self.template.model

    # ------------------------------------------------------------------ construction
    def features_network(self) -> nn.Module:
        n = self.params.network
        spec = BackboneParams(arch=n.arch, width=n.width, depth=n.depth, resnet_blocks=n.resnet_blocks)
        return build_network(spec, self.context.input_shape)

    def head(self, in_features: int) -> nn.Module:
        if self.needs_fixed_head or self.params.head == "fixed":
            return nn.Linear(in_features, self.context.num_classes)
        from avalanche.models import IncrementalClassifier

        return IncrementalClassifier(in_features, initial_out_features=2)

    def optimizer(self, parameters) -> torch.optim.Optimizer:
        p = self.params
        if p.optimizer == "adam":
            return torch.optim.Adam(parameters, lr=p.lr, weight_decay=p.weight_decay)
        return torch.optim.SGD(parameters, lr=p.lr, momentum=p.momentum, weight_decay=p.weight_decay)

    def common_options(self) -> dict[str, Any]:
        """The template arguments every avalanche strategy takes."""
        from avalanche.training.plugins import EvaluationPlugin

        options = {
            "train_mb_size": self.params.batch_size,
            "train_epochs": self.params.epochs,
            "eval_mb_size": EVAL_BATCH,
            "device": self.device,
            "plugins": [_loss_logger(self)],
            "evaluator": EvaluationPlugin(loggers=[]),
        }
        if self.takes_criterion:
            options["criterion"] = nn.CrossEntropyLoss()
        return options

    def method_options(self) -> dict[str, Any]:
        """The method's own template arguments (its ``Params`` beyond the shared ones)."""
        shared = set(AvalancheParams.model_fields)
        return {k: v for k, v in self.params.model_dump().items() if k not in shared}

    def template_class(self) -> type:  # pragma: no cover - interface
        raise NotImplementedError

    def build_template(self):
        """The avalanche template: ``model`` = features + head, trained by ``optimizer``."""
        features = self.features_network()
        model = HeadedNetwork(features, self.head(features.out_dim)).to(self.device)
        return self.template_class()(model=model, optimizer=self.optimizer(model.parameters()), **self.common_options(), **self.method_options())

    # ------------------------------------------------------------------ steps
    @contextlib.contextmanager
    def _threads(self):
        """The configured torch threads, and the warnings raised inside avalanche's files not shown
        (that no loggers are given, that the loss plugin defines callbacks StreamingLDA does not call,
        its own deprecations: it resets the warning filters itself, so they are dropped at display)."""
        with cpu_threads(self.params.cpu_threads, self.device), warnings.catch_warnings():
            shown = warnings.showwarning

            def show_unless_avalanche(message, category, filename, lineno, file=None, line=None):
                if f"{os.sep}avalanche{os.sep}" not in str(filename):
                    shown(message, category, filename, lineno, file, line)

            warnings.showwarning = show_unless_avalanche
            yield

    def learn(self, experience: Experience) -> None:
        self.step = experience.step
        previous = list(self.seen)
        self.seen = list(experience.seen_classes)
        self.step_sizes.append(len(experience.new_classes))
        dataset = tensor_dataset(experience.inputs, experience.labels)
        view = benchmark_view(self.step_sizes, self.seen, self.context.num_classes)
        avalanche_experience = training_experience(dataset, experience.step, experience.new_classes, previous, view)
        with seeded(self.context.seed * STEP_SEED + experience.step, self.device), self._threads():
            self.template.train(avalanche_experience)

    def outputs(self, inputs: torch.Tensor) -> torch.Tensor:
        """The template's class scores for ``inputs`` (all of its head's units)."""
        return self.template.model(inputs)

    @torch.no_grad()
    def predict(self, inputs: torch.Tensor) -> Prediction:
        with self._threads():
            self.template.model.eval()
            scores = self.outputs(inputs.to(self.device, torch.float32))
        classes = torch.tensor(self.seen, device=scores.device)
        logits = scores[:, classes].float()
        return Prediction(logits=logits, classes=classes, known_score=torch.softmax(logits, 1).max(1).values)

    @torch.no_grad()
    def embed(self, inputs: torch.Tensor) -> torch.Tensor | None:
        with self._threads():
            self.template.model.eval()
            return self.feature_module()(inputs.to(self.device, torch.float32)).flatten(1)

    def feature_module(self) -> nn.Module:
        return self.template.model.features
