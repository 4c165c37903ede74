"""Frozen pretrained backbones, registered by name in ``harness.registry.BACKBONES``."""

from harness.backbones.base import Backbone

__all__ = ["Backbone"]
