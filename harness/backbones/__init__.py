"""Frozen pretrained backbones, registered by name in ``harness.api.registry.BACKBONES``."""

from harness.api.backbone import Backbone

__all__ = ["Backbone"]
