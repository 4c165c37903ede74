"""The board's tables, from its folder alone: ``board.json`` names the jobs, their folders hold the
records (DomainBed's collector is the model: nothing from the YAML or of a run is needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness import jobs
from harness.report.columns import summary_key_names


def load_records(board_dir: Path, manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """``{scenario, kind, strategy, seed, id, metrics}`` for every finished job of the board, in job order."""
    records = []
    for job in manifest["jobs"]:
        metrics = jobs.read_metrics(board_dir, job["id"])
        if metrics is not None:
            records.append({**job, "metrics": metrics})
    return records


def mean_std(values: list[float | None]) -> tuple[float | None, float | None]:
    present = [v for v in values if v is not None]
    if not present:
        return None, None
    std = float(np.std(present, ddof=1)) if len(present) > 1 else None
    return float(np.mean(present)), std


def _status(done: int, failed: int, total: int) -> str:
    """``failed`` when any seed failed, else ``complete``, ``partial`` or ``pending``."""
    if failed:
        return "failed"
    return "complete" if done == total else "partial" if done else "pending"


def _pair(item: dict[str, Any]) -> tuple[str, str]:
    return item["scenario"], item["strategy"]


def leaderboard_table(board_dir: Path, manifest: dict[str, Any], records: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per scenario × strategy (in YAML order): status, then mean and sample std (ddof=1) over
    seeds of every declared summary key, and the ids of the finished jobs behind the row; jobs whose
    folder holds ``failed.json`` count in ``seeds_failed``."""
    planned = manifest["jobs"]
    kinds = {j["scenario"]: j["kind"] for j in planned}
    rows = []
    for pair in dict.fromkeys(_pair(j) for j in planned):
        mine = [r for r in records if _pair(r) == pair]
        pair_jobs = [j for j in planned if _pair(j) == pair]
        failed = sum(jobs.is_failed(board_dir, j["id"]) for j in pair_jobs)
        row: dict[str, Any] = {
            "scenario": pair[0],
            "kind": kinds[pair[0]],
            "strategy": pair[1],
            "status": _status(len(mine), failed, len(pair_jobs)),
            "seeds_done": len(mine),
            "seeds_failed": failed,
            "seeds_total": len(pair_jobs),
        }
        for key in summary_key_names():
            row[f"{key}_mean"], row[f"{key}_std"] = mean_std([r["metrics"]["summary"].get(key) for r in mine])
        row["wall_time_s_mean"] = mean_std([r["metrics"].get("wall_time_s") for r in mine])[0]
        row["job_ids"] = " ".join(r["id"] for r in mine)  # the finished jobs behind the row, in seed order
        rows.append(row)
    return pd.DataFrame(rows)


def steps_table(records: list[dict[str, Any]]) -> pd.DataFrame:
    """Per scenario × strategy × step: seeds, and mean / std (ddof=1) over seeds of each per-step metric."""
    groups: dict[tuple[str, str, int], list[dict[str, Any]]] = {}
    for r in records:
        for step in r["metrics"]["steps"]:
            groups.setdefault((r["scenario"], r["strategy"], step["step"]), []).append(step)
    rows = []
    for (scenario, strategy, step), items in groups.items():
        row: dict[str, Any] = {"scenario": scenario, "strategy": strategy, "step": step, "seeds": len(items)}
        keys = [k for k in items[0] if k != "step" and all(isinstance(i.get(k), (int, float, type(None))) for i in items)]
        for key in keys:
            row[f"{key}_mean"], row[f"{key}_std"] = mean_std([i.get(key) for i in items])
        rows.append(row)
    return pd.DataFrame(rows)


def leaderboard_csv(table: pd.DataFrame) -> str:
    """The bytes of ``leaderboard.csv``: the table without its wall times, so the file depends on the results alone."""
    return to_csv(table.drop(columns=["wall_time_s_mean"]))


def to_csv(frame: pd.DataFrame) -> str:
    return frame.to_csv(index=False, float_format="%.6f", lineterminator="\n")
