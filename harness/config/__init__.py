"""The leaderboard YAML to a typed, validated board: reading with limits (:mod:`.safe_yaml`), command-line
overrides (:mod:`.overrides`), parameter grids (:mod:`.grid`) and the board itself (:mod:`.board`)."""

from harness.jobs import Entry
from harness.config.board import (
    BoardConfig,
    BoardModel,
    executor_entry,
    load_config,
    parse_config,
    read_yaml,
)

__all__ = ["BoardConfig", "BoardModel", "Entry", "executor_entry", "load_config", "parse_config", "read_yaml"]
