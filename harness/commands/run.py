"""``owlbench run [CONFIG]``: run a leaderboard; finished jobs are skipped, failed ones recorded."""

from __future__ import annotations

import contextlib
import sys
import time
from pathlib import Path

from harness.api.errors import ConfigError


def _executor_override(name: str | None, workers: int | None) -> dict | None:
    if name is None and workers is None:
        return None
    override = {"name": name or "process"}
    if workers is not None:
        override["workers"] = workers
    return override


def _output_problem(board_dir: Path) -> str | None:
    """Why results cannot be written to ``board_dir`` (a file on the way, an unwritable folder, a
    report file whose place is taken by a folder), checked before anything runs."""
    import os

    from harness.jobs import MANIFEST
    from harness.report import output_files

    for place in (board_dir, *board_dir.parents):
        if place.exists() or place.is_symlink():
            if not place.is_dir():
                return f"{str(place)!r} is a file, not a folder; choose another --output"
            if not os.access(place, os.W_OK | os.X_OK):
                return f"cannot write into {str(place)!r}; choose another --output"
            break
    for name in (*output_files(), MANIFEST):
        path = board_dir / name
        if (path.exists() or path.is_symlink()) and (path.is_symlink() or not path.is_file()):
            return f"{str(path)!r} is in the way of a report file (not a plain file); move it away"
    return None


@contextlib.contextmanager
def _board_lock(board_dir: Path):
    """One run per board folder at a time: a second run waits for the first (a lock file beside the
    folder, ``.<board>.owlbench.lock``, released by the operating system if the process dies)."""
    from filelock import FileLock, Timeout

    board_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(board_dir.parent / f".{board_dir.name}.owlbench.lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        print(f"waiting: another owlbench run is writing {board_dir}; this one goes on when it ends", file=sys.stderr, flush=True)
        lock.acquire()
    try:
        yield
    finally:
        lock.release()


def _stale_jobs(board_dir: Path, jobs) -> dict[str, str]:
    """``{job id: why}`` for the finished jobs whose recorded code differs from the code present now."""
    from harness.jobs import code_fingerprint, stale_reason

    out = {}
    for job in jobs:
        if job.is_done(board_dir):
            reason = stale_reason(board_dir, job, code_fingerprint(job))
            if reason:
                out[job.id] = reason
    return out


def cmd_run(
    config_path: str,
    output: str | None,
    rerun: bool,
    quiet: bool,
    executor: str | None = None,
    workers: int | None = None,
    only: list[str] | None = None,
    exclude: list[str] | None = None,
    rerun_stale: bool = False,
    overrides: list[str] | None = None,
) -> int:
    from harness.executors import forkserver

    if forkserver.board_uses_forkserver(config_path, _executor_override(executor, workers)):
        forkserver.start()  # its workers' imports run while this process imports and checks the board

    from tqdm.auto import tqdm

    from harness.config import load_config
    from harness.executors.base import record_outcome
    from harness.jobs import FAILED_FILE, remove_stale_staging, set_aside_damaged, write_manifest
    from harness.api.registry import EXECUTORS
    from harness.report import write_report
    from harness.report.terminal import terminal_table
    from harness.sweep import expand, select, skipped

    try:
        config = load_config(config_path, output=output, executor=_executor_override(executor, workers), overrides=overrides)
        runner = EXECUTORS.get(config.executor.name)(config.executor.params)
        runner.check()
    except ConfigError as exc:
        print(f"error: {config_path}: {exc}", file=sys.stderr)
        return 2
    jobs = expand(config)
    skips = skipped(config)
    board_dir = config.board_dir
    problem = _output_problem(board_dir)
    if problem:
        print(f"error: {config_path}: output: {problem}", file=sys.stderr)
        return 2
    with _board_lock(board_dir):
        for old, new, why in set_aside_damaged(board_dir, jobs):
            print(f"damaged: {old}: {why}; moved aside to {new.name}, the job runs again", file=sys.stderr)
        chosen = select(jobs, only, exclude)
        stale = _stale_jobs(board_dir, chosen)
        todo = [j for j in chosen if rerun or not j.is_done(board_dir) or (rerun_stale and j.id in stale)]
        started = time.perf_counter()
        filtered = f", {len(jobs) - len(chosen)} filtered out" if len(chosen) != len(jobs) else ""
        print(
            f"{config.name}: {len(jobs)} jobs{filtered}, {len(chosen) - len(todo)} already done, {len(todo)} to run "
            f"({config.executor.name}) -> {board_dir}"
        )
        for job in chosen:
            if job.id in stale and not rerun and not rerun_stale:
                print(f"stale: {job.title} ({job.id}): {stale[job.id]}; kept (--rerun-stale runs it again)", file=sys.stderr)
        for skip in skips:
            print(f"skipped: {skip.scenario} × {skip.strategy}: {skip.reason}")
        if (only or exclude) and not chosen:
            print("warning: --only/--exclude match no job", file=sys.stderr)
        remove_stale_staging(board_dir, todo)
        write_manifest(board_dir, config.name, jobs, [vars(s) for s in skips], list(config.reference), config.compare_to, list(config.claims))
        failed, finished = [], 0
        try:
            for outcome in tqdm(runner.run(todo, progress=not quiet), total=len(todo), desc=config.name, unit="job", disable=quiet):
                if outcome.ok and overrides:
                    outcome.record["config"]["overrides"] = list(overrides)  # the --set values, as typed
                outcome = record_outcome(outcome, board_dir)  # one failing job is recorded and does not stop the others
                finished += 1
                if not outcome.ok:
                    failed.append(outcome)
        except ConfigError as exc:  # found when the executor starts (e.g. a Ray cluster that cannot be reached)
            print(f"error: {config_path}: {exc}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print(f"interrupted: {finished} of {len(todo)} jobs finished in this run; run the same command again to resume", file=sys.stderr)
            return 130
        table, _ = write_report(board_dir)
    if not quiet:
        print(terminal_table(table, config.name))
    print(f"wrote {board_dir / 'leaderboard.csv'} in {time.perf_counter() - started:.1f}s")
    if failed:
        for outcome in failed:
            job = outcome.job
            print(f"failed: {job.title} ({job.id}): {outcome.error}; see {job.folder(board_dir) / FAILED_FILE}", file=sys.stderr)
        print(f"{len(failed)} of {len(todo)} jobs failed", file=sys.stderr)
        return 1
    return 0
