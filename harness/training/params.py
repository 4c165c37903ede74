"""The ``backbone:`` parameters a strategy exposes when it trains its own network on the base session."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from harness.api.params import Params

Arch = Literal["small_cnn", "mlp", "resnet", "identity"]


class BackboneParams(Params):
    """How the base-session backbone is built and trained.

    ``arch``: ``small_cnn`` (images), ``mlp`` (any input, flattened), ``resnet`` (images; CIFAR-style
    basic-block ResNet, ``resnet_blocks`` per stage, stage ``s`` has ``width·2^s`` channels), or
    ``identity`` (no training: the flattened raw inputs are the features).

    Training: SGD with momentum, ``epochs`` epochs, cosine or constant learning rate; classifier
    ``linear`` (logits ``W f + b``) or ``cosine`` (logits ``temperature · cos(f, w_c)``), with
    cross-entropy.  ``validation_fraction > 0`` holds out that share of every base class of the base
    TRAINING data and keeps the epoch with the best validation accuracy; 0 trains on all of it for the
    fixed schedule.  No data augmentation.

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
    schedule: Literal["cosine", "constant"] = Field("cosine", description="learning-rate schedule over the epochs")
    classifier: Literal["linear", "cosine"] = Field("linear", description="head used for training")
    temperature: float = Field(16.0, gt=0.0, description="scale of the cosine classifier's logits")
    cpu_threads: int | None = Field(
        1, ge=1, description="torch threads while training and extracting features on the CPU (null: leave torch's setting)"
    )
    validation_fraction: float = Field(
        0.0, ge=0.0, lt=1.0, description="share of base training data held out to pick the best epoch (0: fixed schedule)"
    )

    @model_validator(mode="after")
    def _blocks_positive(self) -> "BackboneParams":
        if any(b < 1 for b in self.resnet_blocks):
            raise ValueError(f"resnet_blocks must all be >= 1; got {self.resnet_blocks}")
        return self
