"""``owlbench rescore BOARD``: compute every metric again from the jobs' archived predictions.

No strategy runs: each finished job's ``predictions.npz`` (:mod:`harness.predictions`) is replayed
through every registered metric, its ``metrics.json`` and ``steps.csv`` are rewritten (training
curves and wall time kept), and the report is rebuilt.  With the metrics of the run the files come
out byte-identical; a metric registered since (a plugin, a newer owlbench) gets its values for the
old runs.  A job without an archive, or with a damaged one, keeps its numbers and is named.
"""

from __future__ import annotations

import json
import sys


def cmd_rescore(config_path: str, output: str | None = None, quiet: bool = False) -> int:
    from tqdm.auto import tqdm

    from harness.commands.run import _board_lock
    from harness.commands.boards import ran_board
    from harness.io import atomic_write_json, atomic_write_text
    from harness.jobs import is_done, read_manifest, steps_csv
    from harness.predictions import ARCHIVE, ArchiveError, read_archive, rescored_metrics
    from harness.report import write_report
    from harness.report.terminal import terminal_table

    config = ran_board(config_path, output)
    if config is None:
        return 2
    board_dir = config.board_dir
    problems = []
    with _board_lock(board_dir):
        done = [j["id"] for j in read_manifest(board_dir)["jobs"] if is_done(board_dir, j["id"])]
        for job_id in tqdm(done, desc=f"rescore {config.name}", unit="job", disable=quiet):
            folder = board_dir / job_id
            try:
                metrics = rescored_metrics(read_archive(folder / ARCHIVE), folder / ARCHIVE)
            except ArchiveError as exc:
                problems.append(str(exc))
                continue
            old = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
            atomic_write_json(folder / "metrics.json", {**metrics, "training": old.get("training", []), "cost": old.get("cost", {}), "wall_time_s": old.get("wall_time_s")})
            atomic_write_text(folder / "steps.csv", steps_csv(metrics["steps"]))
        table, _ = write_report(board_dir)
    if not quiet:
        print(terminal_table(table, config.name))
    for problem in problems:
        print(f"kept: {problem}", file=sys.stderr)
    print(f"rescored {len(done) - len(problems)} of {len(done)} finished jobs from their archives; wrote {board_dir / 'leaderboard.csv'}")
    return 1 if problems else 0
