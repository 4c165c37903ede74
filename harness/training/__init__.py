"""Training a backbone on the base session only, then freezing it (shared by FeTrIL, TEEN and others)."""

from harness.training.base_training import TrainedBackbone, train_base_backbone
from harness.training.params import BackboneParams
from harness.training.session_backbone import SessionBackbone

__all__ = ["BackboneParams", "SessionBackbone", "TrainedBackbone", "train_base_backbone"]
