"""Expanding a board into jobs (scenario × strategy × seed) with ids that hash their resolved config."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.config import BoardConfig, Entry

DONE_MARKER = "done"


@dataclass(frozen=True)
class Job:
    board: str
    dataset: Entry
    scenario: Entry
    strategy: Entry
    seed: int
    device: str
    backbone: Entry | None = None

    def resolved(self) -> dict[str, Any]:
        """Everything that determines the job's numbers; its hash is the job id."""
        resolved = {
            "board": self.board,
            "dataset": self.dataset.resolved(),
            "scenario": self.scenario.resolved(),
            "strategy": self.strategy.resolved(),
            "seed": self.seed,
            "device": self.device,
        }
        if self.backbone is not None:  # absent without one, so boards without a backbone keep their ids
            resolved["backbone"] = self.backbone.resolved()
        return resolved

    @property
    def id(self) -> str:
        canonical = json.dumps(self.resolved(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:12]

    @property
    def title(self) -> str:
        return f"{self.scenario.label}/{self.strategy.label}/seed{self.seed}"

    def folder(self, board_dir: Path) -> Path:
        return board_dir / self.id

    def is_done(self, board_dir: Path) -> bool:
        return (self.folder(board_dir) / DONE_MARKER).is_file()


def expand(config: BoardConfig) -> list[Job]:
    """Jobs in a stable order: scenarios, then strategies, then seeds, as listed in the YAML."""
    return [
        Job(config.name, config.dataset, scenario, strategy, seed, config.device, config.backbone)
        for scenario in config.scenarios
        for strategy in config.strategies
        for seed in config.seeds
    ]
