"""The board's ``open_set`` block: the open-set scorers it names and a far-unknown dataset, checked
like every other entry (one error naming the field)."""

from __future__ import annotations

from typing import Any

from harness.api.errors import ConfigError
from harness.api.registry import DATASETS, SCORERS
from harness.jobs import Entry


def parse_scorers(open_set: dict[str, Any] | None, parse_entry) -> list[Entry]:
    """The scorers of ``open_set: {scorers: [...]}``, each a name or a mapping with name, label and parameters."""
    if open_set is None:
        return []
    unknown = sorted(set(open_set) - {"scorers", "far"})
    if unknown:
        raise ConfigError(f"open_set.{unknown[0]}", "unknown key; valid keys: scorers, far")
    raw = open_set.get("scorers", [])
    if not isinstance(raw, list):
        raise ConfigError("open_set.scorers", f"must be a list of scorer names or mappings; got {type(raw).__name__}")
    scorers = [parse_entry(s, f"open_set.scorers[{i}]", "name", SCORERS) for i, s in enumerate(raw)]
    labels = [s.label for s in scorers]
    for i, label in enumerate(labels):
        if label == "default" or label in labels[:i]:
            raise ConfigError(f"open_set.scorers[{i}].label", f"label {label!r} is {'taken by the strategy’s own score' if label == 'default' else 'used twice'}; give each scorer its own label")
    return scorers


def parse_far(open_set: dict[str, Any] | None, parse_entry) -> Entry | None:
    """The dataset of ``open_set: {far: ...}`` (a name, or a mapping with its parameters), if any."""
    raw = (open_set or {}).get("far")
    return None if not raw else parse_entry(raw, "open_set.far", "name", DATASETS, reserved=())


def check_far(config, data) -> None:
    """The far-unknown dataset must load and give inputs the board's strategies can take: the same
    modality, and without a backbone the same shape per sample."""
    from harness.datasets.loading import load_dataset

    try:
        far = load_dataset(config.far.name, config.far.params)
    except Exception as exc:  # noqa: BLE001 - any failure to load is the user's to fix
        raise ConfigError("open_set.far", f"cannot load {config.far.name!r}: {exc}") from None
    if far.modality != data.modality:
        raise ConfigError("open_set.far", f"{config.far.name!r} holds {far.modality} inputs, the board's dataset {data.modality}; choose a dataset of the same kind")
    if config.backbone is None and data.modality == "tensor" and tuple(far.test_x.shape[1:]) != tuple(data.test_x.shape[1:]):
        raise ConfigError("open_set.far", f"{config.far.name!r} gives inputs of shape {tuple(far.test_x.shape[1:])}, the board's dataset {tuple(data.test_x.shape[1:])}; they must match")
