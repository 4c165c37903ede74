"""The interface every strategy implements, and what the harness passes to its constructor."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch

from harness.api.dataset import Dataset
from harness.api.errors import ConfigError
from harness.api.experience import Experience, Prediction, UnlabeledExperience
from harness.api.params import Params
from harness.api.summary import SummaryRequest


@dataclass(frozen=True)
class StrategyContext:
    """Run facts a strategy may rely on: its device, the job's seed and the shape of one input.

    ``input_shape`` is the shape of one sample as the strategy receives it (``(1, 8, 8)`` for digit
    images, ``(D,)`` for feature vectors); ``feature_dim`` is its flattened size.  ``num_classes`` is
    the number of classes in the scenario's class order (``None`` when the harness does not say): the
    output size of a fixed classifier head (iCaRL, DER and StreamingLDA allocate one), never which
    classes come when.
    """

    device: torch.device
    seed: int
    input_shape: tuple[int, ...]
    num_classes: int | None = None

    @property
    def feature_dim(self) -> int:
        return math.prod(self.input_shape)

    def generator(self, stream: int = 0) -> torch.Generator:
        """A CPU generator seeded from the job seed; ``stream`` separates independent uses."""
        return torch.Generator().manual_seed(self.seed * 1_000_003 + stream)


class Strategy:
    """Base of all strategies.

    A subclass declares ``Params`` (a :class:`harness.api.params.Params` model of its options, validated
    from the YAML) and ``supports`` (the scenario kinds it can run), and implements :meth:`learn` and
    :meth:`predict`.  Register it with ``@STRATEGIES.register("name")``.
    """

    Params: ClassVar[type[Params]] = Params
    supports: ClassVar[frozenset[str]] = frozenset()
    registered_name: ClassVar[str] = ""
    #: distributions besides owlbench's own whose versions a job of this strategy records in config.json
    packages: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def unsupported_reason(cls, kind: str, name: str | None = None) -> str | None:
        """Why this strategy (named ``name`` in the YAML) cannot run scenario kind ``kind``; ``None``
        when it can.  The one capability check: the config and the sweep both ask it."""
        if kind in cls.supports:
            return None
        return (
            f"strategy {name or cls.registered_name!r} does not support scenario kind {kind!r} "
            f"(it supports: {', '.join(sorted(cls.supports))})"
        )

    @classmethod
    def encodes_own_inputs(cls, params: Params) -> bool:
        """True for strategies that bring their own encoder (e.g. a prompted transformer): they get the
        dataset's raw inputs, prepared by :meth:`prepare_inputs`, instead of the board's backbone features."""
        return False

    @classmethod
    def prepare_inputs(cls, params: Params, data: Dataset) -> tuple[torch.Tensor, torch.Tensor]:
        """Train and test inputs of ``data`` as tensors, for a strategy that encodes its own inputs.

        Tensors are passed as they are; a strategy that reads texts or image files overrides this
        (OVOR turns texts into its encoder's token ids)."""
        if data.modality != "tensor":
            raise ConfigError("backbone", f"dataset {data.name!r} holds {data.modality} inputs, which strategy {cls.registered_name!r} does not read")
        return data.train_x, data.test_x

    @classmethod
    def input_problem(cls, params: Params, input_shape: tuple[int, ...]) -> tuple[str, str] | None:
        """``(field path, message)`` when the strategy cannot take inputs of ``input_shape`` (one sample;
        ``(-1,)`` stands for feature vectors of a board's backbone), checked before a board runs."""
        return None

    def __init__(self, params: Params, context: StrategyContext):
        self.params = params
        self.context = context

    @property
    def device(self) -> torch.device:
        return self.context.device

    def learn(self, experience: Experience) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def learn_unlabeled(self, experience: UnlabeledExperience) -> None:
        """Learn from an unlabeled step (``ncd``, ``cgcd``).  Prototype strategies get it from
        :class:`harness.components.discovery.PrototypeDiscovery`; any strategy may implement its own."""
        raise NotImplementedError(f"strategy {self.registered_name or type(self).__name__!r} cannot learn from unlabeled data")

    def predict(self, inputs: torch.Tensor) -> Prediction:  # pragma: no cover - interface
        raise NotImplementedError

    def predict_summary(self, inputs: torch.Tensor, request: SummaryRequest) -> Prediction | None:
        """:meth:`predict` with a :class:`~harness.api.summary.LogitSummary` instead of the logits,
        equal to the summary of :meth:`predict`'s logits; ``None`` (the default): this strategy
        cannot, and the harness calls :meth:`predict`.  The harness asks for it on boards with
        ``predictions: summary`` (or ``auto`` and many classes)."""
        return None

    def embed(self, inputs: torch.Tensor) -> torch.Tensor | None:
        """Feature vectors of ``inputs`` for the open-set scorers that need features (``None``: this
        strategy gives none, and those scorers are reported missing).  Default: the inputs flattened,
        which is what a strategy working on backbone features classifies; a strategy that encodes its
        inputs with a network of its own returns that network's features."""
        return inputs.flatten(1) if inputs.is_floating_point() else None

    def log_epoch(self, step: int, epoch: int, train_loss: float, **values: float) -> None:
        """Record one training epoch: the mean training loss over its batches and any other per-epoch
        value (``val_accuracy`` on a held-out share of the training data, loss terms).  The runner writes
        the records to ``metrics.json`` under ``training``; the report draws them."""
        record = {"step": int(step), "epoch": int(epoch), "train_loss": float(train_loss)}
        record.update({key: float(value) for key, value in values.items()})
        self.__dict__.setdefault("_training_log", []).append(record)

    def training_log(self) -> list[dict[str, float]]:
        """Every epoch recorded by :meth:`log_epoch`, in order (empty for strategies that do not train)."""
        return list(self.__dict__.get("_training_log", []))
