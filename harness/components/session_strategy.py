"""The shared header of strategies built on a session backbone (FeTrIL, TEEN): a network trained on
the base session (:class:`harness.training.SessionBackbone`), frozen afterwards, a prototype store
of its features, and the shared discovery on unlabeled steps."""

from __future__ import annotations

from harness.api.strategy import Strategy
from harness.components.discovery import PrototypeDiscovery
from harness.store.prototype_store import PrototypeStore
from harness.training import SessionBackbone
from harness.training.networks import arch_field_problem


class SessionBackboneStrategy(PrototypeDiscovery, Strategy):
    """Base of strategies whose ``params.backbone`` is trained on the base session; they run every
    scenario kind (unlabeled steps through :class:`PrototypeDiscovery`)."""

    supports = frozenset({"cil", "fscil", "ncd", "cgcd"})

    @classmethod
    def input_problem(cls, params, input_shape):
        return arch_field_problem("backbone.arch", params.backbone.arch, input_shape)

    def __init__(self, params, context):
        super().__init__(params, context)
        self.backbone = SessionBackbone(params.backbone, context)
        self.store: PrototypeStore | None = None

    def embed(self, inputs):
        """The session backbone's features (those its classifier and prototypes use)."""
        return self.backbone.features(inputs) if self.backbone.trained is not None else None

    def training_log(self) -> list[dict[str, float]]:
        """The base network's epochs (step 0: training loss, and validation accuracy when a share of
        the base data is held out), then whatever the strategy logs itself."""
        trained = self.backbone.trained
        base = [{"step": 0, **record} for record in trained.history] if trained is not None else []
        return base + super().training_log()
