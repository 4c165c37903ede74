"""``owlbench export BOARD [--to DIR]``: the board's rows as portable JSON files, one per scenario ×
strategy (``<scenario>__<strategy>.json``, in the manner of RobustBench's ``model_info/`` entries), so
that leaderboards made on different machines can be merged and checked row by row.

Each file holds the row's metrics (mean and sample std over seeds), the resolved dataset, scenario
and strategy entries, and per finished job its seed, id, summary metrics, provenance hashes, code
fingerprint, package versions and cost.  Default folder: ``<board folder>/export``.

``owlbench export avalanche BOARD --scenario LABEL --seed N [--unlabeled] [--to DIR]``: that scenario's
plan as an avalanche-lib benchmark folder (:mod:`harness.interop.avalanche_benchmark`; load it with
``load_benchmark(DIR)``).  Default folder: ``<board folder>/avalanche/<scenario>-seed<N>``.  It needs
no finished run.
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


def cmd_export_dispatch(args, default_config: str) -> int:
    """``owlbench export``'s two forms, told apart by a first word ``avalanche``."""
    target = list(args.target)
    avalanche = bool(target) and target[0] == "avalanche"
    if avalanche:
        target = target[1:]
    if len(target) > 1:
        print(f"error: export takes one board; got {' '.join(target)}", file=sys.stderr)
        return 2
    config_path = target[0] if target else default_config
    if avalanche:
        return cmd_export_avalanche(config_path, args.output, args.to, args.scenario, args.seed, args.unlabeled, args.overrides)
    given = [flag for flag, value in (("--scenario", args.scenario), ("--seed", args.seed), ("--set", args.overrides)) if value is not None]
    if given or args.unlabeled:
        print(f"error: {', '.join(given + (['--unlabeled'] if args.unlabeled else []))} belong to 'owlbench export avalanche BOARD'", file=sys.stderr)
        return 2
    return cmd_export(config_path, args.output, args.to)


def cmd_export_avalanche(config_path: str, output: str | None, to: str | None, scenario: str | None, seed: int | None,
                         unlabeled: bool, overrides: list[str] | None) -> int:
    from harness.api.errors import ConfigError
    from harness.config import load_config
    from harness.interop.avalanche_benchmark import save_arrays, scenario_arrays

    if scenario is None or seed is None:
        print("error: export avalanche needs --scenario LABEL and --seed N (e.g. --scenario cil --seed 0)", file=sys.stderr)
        return 2
    try:
        config = load_config(config_path, output=output, overrides=overrides)
        if seed not in config.seeds:
            print(f"note: seed {seed} is not one of the board's seeds ({', '.join(map(str, config.seeds))}); exporting it anyway", file=sys.stderr)
        arrays = scenario_arrays(config, scenario, seed, unlabeled)
    except ConfigError as exc:
        print(f"error: {config_path}: {exc}", file=sys.stderr)
        return 2
    target = Path(to) if to else config.board_dir / "avalanche" / f"{scenario}-seed{seed}"
    if target.exists() and not target.is_dir():
        print(f"error: --to: {str(target)!r} is a file, not a folder; choose another", file=sys.stderr)
        return 2
    save_arrays(arrays, target)
    counts = ", ".join(f"{len(arrays.streams[name])} {name}" for name in arrays.streams)
    print(f"wrote {scenario} (seed {seed}) of {config.name} as an avalanche benchmark ({counts} experiences) into {target}")
    print(f"load it with: from harness.interop.avalanche_benchmark import load_benchmark; benchmark = load_benchmark({str(target)!r})")
    return 0


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
