"""``owlbench plan BOARD``: the jobs a run of the board would start, without running or writing anything.

One line per job (id, scenario, strategy, seed, state), then the skipped pairs with their reasons
and a count.  A job is ``done`` (finished; a run skips it), ``stale`` (finished, but its strategy or
scenario code changed since: kept unless ``--rerun-stale``), ``failed`` (a run tries it again),
``damaged`` (its folder is set aside and the job runs again) or ``would run``.
"""

from __future__ import annotations

import sys

from harness.api.errors import ConfigError


def job_state(board_dir, job, fingerprint) -> str:
    from harness.jobs import folder_problem, is_failed, stale_reason

    if folder_problem(board_dir, job.id):
        return "damaged"
    if job.is_done(board_dir):
        return "stale" if stale_reason(board_dir, job, fingerprint(job)) else "done"
    return "failed" if is_failed(board_dir, job.id) else "would run"


def cmd_plan(config_path: str, output: str | None = None, only=None, exclude=None, overrides=None, rerun: bool = False) -> int:
    from harness.config import load_config
    from harness.jobs import code_fingerprint
    from harness.sweep import expand, select, skipped

    try:
        config = load_config(config_path, output=output, overrides=overrides)
    except ConfigError as exc:
        print(f"error: {config_path}: {exc}", file=sys.stderr)
        return 2
    jobs = expand(config)
    chosen = select(jobs, only, exclude)
    board_dir = config.board_dir
    states = {job.id: ("would run" if rerun else job_state(board_dir, job, code_fingerprint)) for job in chosen}
    rows = [(job.id, job.scenario.label, job.strategy.label, str(job.seed), states[job.id]) for job in chosen]
    header = ("id", "scenario", "strategy", "seed", "state")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    print(f"{config.name}: {board_dir} ({config.executor.name} executor)")
    for row in [header, *rows]:
        print("  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    for skip in skipped(config):
        print(f"skipped: {skip.scenario} × {skip.strategy}: {skip.reason}")
    counts = {state: sum(s == state for s in states.values()) for state in ("done", "stale", "failed", "damaged", "would run")}
    filtered = f", {len(jobs) - len(chosen)} filtered out" if len(chosen) != len(jobs) else ""
    summary = ", ".join(f"{n} {state}" for state, n in counts.items() if n or state in ("done", "would run"))
    n_skipped = len(skipped(config))
    print(f"{len(jobs)} jobs{filtered}: {summary}; {n_skipped} pair{'' if n_skipped == 1 else 's'} skipped; nothing was run")
    return 0
