"""``owlbench export BOARD [--to DIR]``: the board's rows as portable JSON files, one per scenario ×
strategy (``<scenario>__<strategy>.json``, in the manner of RobustBench's ``model_info/`` entries), so
that leaderboards made on different machines can be merged and checked row by row.

Each file holds the row's metrics (mean and sample std over seeds), the resolved dataset, scenario
and strategy entries, and per finished job its seed, id, summary metrics, provenance hashes, code
fingerprint, package versions and cost.  Default folder: ``<board folder>/export``.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path


FORMAT = "owlbench-row/1"


def _clean(value):
    """JSON-ready: NaN and infinities become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def cmd_export(config_path: str, output: str | None = None, to: str | None = None) -> int:
    from harness.commands.boards import ran_board
    from harness.io import atomic_write_json
    from harness.jobs import read_config, read_manifest
    from harness.report.tables import leaderboard_table, load_records

    config = ran_board(config_path, output)
    if config is None:
        return 2
    board_dir = config.board_dir
    target = Path(to) if to else board_dir / "export"
    if target.exists() and not target.is_dir():
        print(f"error: --to: {str(target)!r} is a file, not a folder; choose another", file=sys.stderr)
        return 2
    manifest = read_manifest(board_dir)
    records = load_records(board_dir, manifest)
    table = leaderboard_table(board_dir, manifest, records)
    written = 0
    for row in table.to_dict("records"):
        mine = [r for r in records if (r["scenario"], r["strategy"]) == (row["scenario"], row["strategy"])]
        jobs = []
        for record in mine:
            job_config = read_config(board_dir, record["id"]) or {}
            jobs.append({
                "id": record["id"], "seed": record["seed"], "summary": record["metrics"]["summary"],
                "provenance": job_config.get("provenance"), "code": job_config.get("code"), "versions": job_config.get("versions"),
                "cost": {k: v for k, v in (record["metrics"].get("cost") or {}).items() if not isinstance(v, list)},
                "wall_time_s": record["metrics"].get("wall_time_s"),
            })
        first = read_config(board_dir, mine[0]["id"]) if mine else None
        entry = {
            "format": FORMAT, "board": config.name, "scenario": row["scenario"], "kind": row["kind"], "strategy": row["strategy"],
            "status": row["status"], "seeds_done": row["seeds_done"], "seeds_total": row["seeds_total"],
            "metrics": {k[: -len("_mean")]: {"mean": row[k], "std": row.get(k[: -len("_mean")] + "_std")}
                        for k in row if k.endswith("_mean") and k != "wall_time_s_mean" and row[k] is not None and not (isinstance(row[k], float) and math.isnan(row[k]))},
            "entries": {k: first.get(k) for k in ("dataset", "scenario", "strategy", "backbone", "device")} if first else None,
            "jobs": jobs,
        }
        atomic_write_json(target / f"{row['scenario']}__{row['strategy']}.json", _clean(entry))
        written += 1
    print(f"wrote {written} rows of {config.name} into {target}")
    return 0
