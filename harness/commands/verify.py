"""``owlbench verify BOARD``: check a board's results against the data, config and code present now.

It re-derives ``leaderboard.csv`` from the job folders, and for every finished job compares what its
``config.json`` recorded (:mod:`harness.provenance`, :func:`harness.jobs.code_fingerprint`) with what
the board gives now: the resolved config, the dataset's train and test splits as loaded, the scenario
plan, the files the config names, the published split files, and the code.  One line per difference,
naming what changed and how many jobs it touches; exit 0 when nothing differs, 1 otherwise.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path


def _short(sha: str | None) -> str:
    return sha[:12] if isinstance(sha, str) else "none"


def _config_differences(recorded: dict, current: dict, prefix: str = "") -> list[str]:
    out = []
    for key in sorted(set(recorded) | set(current)):
        a, b = recorded.get(key), current.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            out += _config_differences(a, b, f"{prefix}{key}.")
        elif a != b:
            out.append(f"{prefix}{key}: {json.dumps(a)} -> {json.dumps(b)}")
    return out


def cmd_verify(config_path: str, output: str | None = None) -> int:
    from harness.api.registry import DATASETS, SCENARIOS
    from harness.commands.boards import ran_board
    from harness.jobs import code_fingerprint, is_done, read_config, read_manifest, stale_reason
    from harness.provenance import backbone_fingerprint, config_sha256, dataset_sha256, file_sha256, plan_sha256, split_file_hashes
    from harness.report.tables import leaderboard_csv, leaderboard_table, load_records
    from harness.sweep import expand

    config = ran_board(config_path, output)
    if config is None:
        return 2
    board_dir = config.board_dir
    manifest = read_manifest(board_dir)
    problems: dict[str, list[str]] = defaultdict(list)  # one line each, with the jobs it touches

    table = leaderboard_table(board_dir, manifest, load_records(board_dir, manifest))
    on_disk = board_dir / "leaderboard.csv"
    if not on_disk.is_file() or on_disk.read_text() != leaderboard_csv(table):
        problems[f"{on_disk}: differs from what the job folders give; run 'owlbench report {config_path}'"].append("")

    current = {(j.scenario.label, j.strategy.label, j.seed): j for j in expand(config)}
    data = DATASETS.get(config.dataset.name)().load(config.dataset.params)  # read again now, not the process's cached copy
    now_data = dataset_sha256(data)
    checked = 0
    for entry in manifest["jobs"]:
        job_id = entry["id"]
        if not is_done(board_dir, job_id):
            continue
        checked += 1
        recorded = read_config(board_dir, job_id) or {}
        job = current.get((entry["scenario"], entry["strategy"], entry["seed"]))
        if job is None:
            problems[f"config: {entry['scenario']} × {entry['strategy']} seed {entry['seed']} is no longer on the board"].append(job_id)
            continue
        resolved = job.resolved()
        changes = _config_differences({k: recorded.get(k) for k in resolved}, resolved)
        for change in changes:
            problems[f"config changed: {change}"].append(job_id)
        if changes:
            continue
        reason = stale_reason(board_dir, job, code_fingerprint(job))
        if reason:
            problems[f"code: {reason}"].append(job_id)
        before = recorded.get("provenance")
        if not isinstance(before, dict):
            problems["no provenance recorded (made by an older owlbench); rerun the jobs to record it"].append(job_id)
            continue
        if before.get("config") != config_sha256(resolved):
            problems["config hash differs from the resolved config"].append(job_id)
        for split in ("train", "test"):
            was, now = (before.get("dataset") or {}).get(split), now_data[split]
            if was != now:
                problems[f"dataset {config.dataset.name!r}: the {split} split as loaded changed ({_short(was)} -> {_short(now)})"].append(job_id)
        if "backbone" in before and before["backbone"] != backbone_fingerprint(resolved):  # weight hashes are remembered per file
            problems[f"backbone {resolved['backbone']['name']!r}: its weights or input transform changed"].append(job_id)
        plan = SCENARIOS.get(job.scenario.name)().plan(job.scenario.params, data, job.seed)
        if before.get("plan") != plan_sha256(plan):
            problems[f"scenario {job.scenario.label!r}: the plan (class order, step samples) changed"].append(job_id)
        now_files = split_file_hashes(resolved, data.name)
        for name, was in (before.get("files") or {}).items():
            if name.startswith("split:"):
                now = now_files.get(name)
            else:
                try:
                    now = file_sha256(Path(name).expanduser())  # remembered per path, size and mtime
                except OSError:
                    now = None
            if now != was:
                what = "is missing" if now is None else f"changed ({_short(was)} -> {_short(now)})"
                problems[f"file {name.removeprefix('split:')!r} {what}"].append(job_id)
    for line, jobs in problems.items():
        jobs = [j for j in jobs if j]
        print(line + (f" [{len(jobs)} job{'s' if len(jobs) != 1 else ''}: {', '.join(jobs[:3])}{', ...' if len(jobs) > 3 else ''}]" if jobs else ""))
    if problems:
        print(f"{config.name}: {len(problems)} difference{'s' if len(problems) != 1 else ''} found in {checked} finished jobs", file=sys.stderr)
        return 1
    print(f"{config.name}: verified {checked} finished jobs and every row of leaderboard.csv; nothing changed")
    return 0
