"""The ``backbone:`` parameters a strategy exposes when it trains its own network on the base session."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from harness.api.params import Params
from harness.training.augment import NORMALIZATION, Preset

Arch = Literal["small_cnn", "mlp", "resnet", "resnet18", "identity"]


class BackboneParams(Params):
    """How the base-session backbone is built and trained.

    ``arch``: ``small_cnn`` (images), ``mlp`` (any input, flattened), ``resnet`` (images; CIFAR-style
    basic-block ResNet, ``resnet_blocks`` per stage, stage ``s`` has ``width·2^s`` channels: ResNet-20
    is ``width: 16, resnet_blocks: [3, 3, 3]``, ResNet-32 ``[5, 5, 5]``), ``resnet18`` (torchvision's
    ImageNet ResNet-18, 512 features), or ``identity`` (no training: the flattened raw inputs are the
    features).

    Training (the recipe): SGD with momentum (optionally Nesterov) or Adam, ``epochs`` epochs, a
    learning-rate schedule of :mod:`harness.training.schedules` with optional warm-up, data
    augmentation of :mod:`harness.training.augment` (``none`` by default; never on feature vectors),
    optional per-dataset input normalisation (part of the network, so features see it too), optional
    bf16 autocast on CUDA; classifier ``linear`` (logits ``W f + b``) or ``cosine`` (logits
    ``temperature · cos(f, w_c)``), with cross-entropy.  ``validation_fraction > 0`` holds out that
    share of every base class of the base TRAINING data and keeps the epoch with the best validation
    accuracy; 0 trains on all of it for the fixed schedule.

    ``init_weights`` starts the network from a local state-dict file (e.g. an ImageNet-pretrained
    ResNet-18, as TEEN does on CUB-200); ``checkpoint`` loads network and head whole from a file written
    by another run (``{"network": ..., "head": ...}``) and skips training.  Both load strictly.

    ``cpu_threads`` (1 by default) sets torch's intra-op threads while this network trains or
    extracts features on the CPU, then restores the previous setting: for networks this small, more
    threads mostly add synchronisation, and on a busy machine far more (training on 4 digit classes:
    1.2 s with one thread against 10 s with two, measured one after the other on the shared 2-core
    machine).  Numbers are reproducible for a given setting; other settings may differ in rounding.
    """

    arch: Arch = Field("small_cnn", description="network: small_cnn, mlp, resnet or identity (raw inputs)")
    width: int = Field(32, ge=1, description="channels of the first stage (cnn, resnet) or hidden units (mlp)")
    depth: int = Field(2, ge=1, description="conv blocks (small_cnn) or hidden layers (mlp)")
    resnet_blocks: list[int] = Field([2, 2, 2, 2], min_length=1, description="basic blocks per ResNet stage")
    epochs: int = Field(10, ge=0, description="training epochs on the base session")
    lr: float = Field(0.05, gt=0.0, description="initial learning rate (SGD)")
    momentum: float = Field(0.9, ge=0.0, lt=1.0)
    weight_decay: float = Field(5e-4, ge=0.0)
    batch_size: int = Field(64, ge=1)
    schedule: Literal["cosine", "cosine_epoch", "multistep", "constant"] = Field(
        "cosine", description="cosine per iteration, cosine per epoch, multistep or constant"
    )
    classifier: Literal["linear", "cosine"] = Field("linear", description="head used for training")
    temperature: float = Field(16.0, gt=0.0, description="scale of the cosine classifier's logits")
    cpu_threads: int | None = Field(
        1, ge=1, description="torch threads while training and extracting features on the CPU (null: leave torch's setting)"
    )
    validation_fraction: float = Field(
        0.0, ge=0.0, lt=1.0, description="share of base training data held out to pick the best epoch (0: fixed schedule)"
    )
    optimizer: Literal["sgd", "adam"] = Field("sgd", description="sgd (with momentum) or adam")
    nesterov: bool = Field(False, description="Nesterov momentum (SGD; TEEN's base training uses it)")
    milestones: list[int] = Field([], description="epochs at which the multistep schedule multiplies the rate by gamma")
    gamma: float = Field(0.1, gt=0.0, description="factor of the multistep schedule")
    warmup_epochs: int = Field(0, ge=0, description="epochs of linear warm-up before the schedule")
    augment: Preset = Field("none", description="augmentation preset of the training batches (images only)")
    normalize: str | None = Field(None, description=f"input normalisation statistics: {', '.join(NORMALIZATION)}")
    autocast_bf16: bool = Field(False, description="bf16 autocast of the forward pass on CUDA (ignored on the CPU)")
    init_weights: str | None = Field(None, description="local state-dict file the network starts from (strict)")
    checkpoint: str | None = Field(None, description="local file with the trained network and head, loaded instead of training")

    @model_validator(mode="after")
    def _consistent(self) -> "BackboneParams":
        if any(b < 1 for b in self.resnet_blocks):
            raise ValueError(f"resnet_blocks must all be >= 1; got {self.resnet_blocks}")
        if self.normalize is not None and self.normalize not in NORMALIZATION:
            raise ValueError(f"normalize must be one of {', '.join(NORMALIZATION)}; got {self.normalize!r}")
        if self.schedule == "multistep" and not self.milestones:
            raise ValueError("the multistep schedule needs milestones (epochs)")
        if any(m < 1 for m in self.milestones) or sorted(set(self.milestones)) != self.milestones:
            raise ValueError(f"milestones must be increasing epochs >= 1; got {self.milestones}")
        for name in ("init_weights", "checkpoint"):
            value = getattr(self, name)
            if value is not None and not Path(value).expanduser().is_file():
                raise ValueError(f"{name} file {value!r} does not exist")
        return self
