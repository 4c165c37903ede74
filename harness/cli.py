"""The ``owlbench`` command line (``python run_benchmark.py`` does the same).

    owlbench run [CONFIG]      run a leaderboard (default leaderboards/quickstart.yaml)
    owlbench CONFIG            the same
    owlbench list [KIND]       what is registered, by kind (also: owlbench --list)
    owlbench cache list|clear  what the feature cache holds; empty it
    owlbench publish [DOC]     rewrite DOC's marked result sections (default README.md) from result folders

A bad config prints one line ``error: <file>: <field path>: <problem>`` and exits with 2 before
anything is written.  Finished jobs are skipped (``--rerun`` runs them again); ``--only``/``--exclude``
pick jobs by glob on their scenario and strategy labels; ``--executor``/``--workers`` override the
YAML's executor.  Failed jobs are recorded in their folder; the run goes on and exits with 1.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path

from harness.api.errors import ConfigError

DEFAULT_CONFIG = "leaderboards/quickstart.yaml"
COMMANDS = ("run", "list", "cache", "publish")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="owlbench",
        description="Benchmark harness for continual and open-world learning.",
        epilog="Run 'owlbench run --help' for the options of a run.",
    )
    parser.add_argument("--list", action="store_true", help="print the registered datasets, scenarios and strategies")
    sub = parser.add_subparsers(dest="command")
    run = sub.add_parser("run", help="run a leaderboard YAML (finished jobs are skipped)")
    run.add_argument("config", nargs="?", default=DEFAULT_CONFIG, help=f"leaderboard YAML (default: {DEFAULT_CONFIG})")
    run.add_argument("--output", help="output folder (overrides the YAML's 'output')")
    run.add_argument("--rerun", action="store_true", help="run every job again, even those with a done marker")
    run.add_argument(
        "--rerun-stale", action="store_true", help="run again the finished jobs whose strategy or scenario source (or owlbench version) changed since"
    )
    run.add_argument("--quiet", action="store_true", help="no progress bars and no table at the end")
    run.add_argument(
        "--set", action="append", metavar="KEY=VALUE", dest="overrides",
        help="override a value of the YAML, e.g. --set strategies[0].backbone.epochs=1 (checked like the file; repeatable)",
    )
    run.add_argument("--executor", help="local | process | ray (overrides the YAML's 'executor')")
    run.add_argument("--workers", type=int, help="worker processes of the process executor (implies --executor process)")
    run.add_argument("--only", action="append", metavar="GLOB", help="run only jobs whose scenario or strategy label (or 'scenario/strategy') matches; repeatable")
    run.add_argument("--exclude", action="append", metavar="GLOB", help="do not run jobs matched by this glob; repeatable")
    listing = sub.add_parser("list", help="print what is registered, by kind")
    listing.add_argument("kind", nargs="?", choices=("datasets", "scenarios", "strategies", "backbones", "executors", "metrics"), help="only this kind")
    listing.add_argument("--pattern", default="*", help="wildcard filter on names, e.g. 'n*'")
    add_cache_parser(sub)
    publish = sub.add_parser("publish", help="rewrite a document's result sections and docs/claims.md from the boards' result folders")
    publish.add_argument("document", nargs="?", default="README.md", help="markdown file with '<!-- results: BOARD.yaml -->' markers (default: README.md)")
    publish.add_argument("--claims", metavar="FILE", help="also write the claims of the marked boards into FILE (e.g. docs/claims.md)")
    publish.add_argument("--output", help="results folder (overrides the boards' 'output')")
    publish.add_argument("--keep-missing", action="store_true", help="leave the sections of boards that have not run as they are (default: error)")
    return parser


def cmd_publish(document: str, claims: str | None, output: str | None, keep_missing: bool = False) -> int:
    from harness.config import load_config
    from harness.io import atomic_write_text
    from harness.report.publish import claims_document, marked_boards, publish_document

    path = Path(document)
    try:
        text = path.read_text(encoding="utf-8")
        boards = marked_boards(text, path.parent, lambda board: load_config(board, output=output).board_dir)
        if not boards:
            raise ConfigError("", "no '<!-- results: BOARD.yaml -->' ... '<!-- /results -->' markers; add one per board to publish")
        missing = [b for b in boards if not b.has_run()]
        if missing and not keep_missing:
            raise ConfigError(str(missing[0].board_dir), f"no results yet; run 'owlbench run {missing[0].config_path}' first, or pass --keep-missing")
        new_text = publish_document(text, boards, keep_missing)
        claims_text = claims_document(boards) if claims else None
    except (OSError, UnicodeDecodeError) as exc:
        print(f"error: {document}: cannot read it ({exc.__class__.__name__}); give a markdown file", file=sys.stderr)
        return 2
    except ConfigError as exc:
        print(f"error: {document}: {exc}", file=sys.stderr)
        return 2
    atomic_write_text(path, new_text)
    print(f"{document}: {len(boards) - len(missing)} result sections written" + (f", {len(missing)} kept (not run yet)" if missing else ""))
    if claims_text is not None:
        atomic_write_text(Path(claims), claims_text)
        print(f"{claims}: written from {sum(b.has_run() for b in boards)} result folders")
    return 0


def add_cache_parser(sub) -> None:
    cache = sub.add_parser("cache", help="list or clear the feature cache")
    cache.add_argument("action", choices=("list", "clear"), help="list the entries, or remove them all")
    cache.add_argument("--dir", help="cache folder (default: $OWLBENCH_CACHE_DIR or ~/.cache/owlbench/features)")


def _text(value: object, width: int) -> str:
    return str(value)[:width]


def cmd_cache(action: str, directory: str | None = None) -> int:
    from harness.backbones.feature_cache import CacheFolderError, FeatureCache  # imports torch: only when the command runs

    cache = FeatureCache(Path(directory) if directory else None)
    if action == "clear":
        try:
            print(f"removed {cache.clear()} entries from {cache.root}")
        except CacheFolderError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        return 0
    entries = cache.entries() if cache.root.is_dir() else []
    print(f"{cache.root}: {len(entries)} entries")
    if entries:
        print(f"  {'key':<32}  {'dataset':<14} {'split':<5} {'backbone':<18} {'shape':<12} {'MB':>7} {'hits':>5} {'misses':>6}")
    total = 0
    for e in entries:
        if e.get("unreadable"):
            print(f"  {_text(e['key'], 32):<32}  (unreadable record)")
            continue
        d = e["description"]
        size = e.get("bytes") if isinstance(e.get("bytes"), int) else 0
        total += size
        events = {k: v for k, v in e["events"].items() if isinstance(v, int)}
        dataset, backbone = (d.get(k) if isinstance(d.get(k), dict) else {} for k in ("dataset", "backbone"))
        print(
            f"  {_text(e['key'], 32):<32}  {_text(dataset.get('name', '?'), 14):<14} {_text(d.get('split', '?'), 5):<5} "
            f"{_text(backbone.get('name', '?'), 18):<18} {'×'.join(str(s) for s in e['shape']):<12} "
            f"{size / 1e6:7.1f} {events.get('hit', 0):5d} {events.get('miss', 0):6d}"
        )
    if entries:
        print(f"  total {total / 1e6:.1f} MB")
    return 0


def cmd_list(kind: str | None = None, pattern: str = "*") -> int:
    from harness.api.registry import ALL, load_all_plugins

    for problem in load_all_plugins():  # built-ins and installed plugins
        print(f"warning: {problem}", file=sys.stderr)
    for name, registry in ALL.items():
        if (kind and kind != name) or (not kind and len(registry) == 0):
            continue
        print(f"{name}:")
        for entry in registry.names(pattern):
            doc = (registry.get(entry).__doc__ or "").strip().splitlines()
            print(f"  {entry:<12} {doc[0] if doc else ''}")
    return 0


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
        _, markdown = write_report(board_dir)
    if not quiet:
        print(markdown)
    print(f"wrote {board_dir / 'leaderboard.csv'} in {time.perf_counter() - started:.1f}s")
    if failed:
        for outcome in failed:
            job = outcome.job
            print(f"failed: {job.title} ({job.id}): {outcome.error}; see {job.folder(board_dir) / FAILED_FILE}", file=sys.stderr)
        print(f"{len(failed)} of {len(todo)} jobs failed", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and not argv[0].startswith("-") and argv[0] not in COMMANDS:
        argv.insert(0, "run")  # 'owlbench board.yaml' means 'owlbench run board.yaml'
    args = _parser().parse_args(argv)
    try:
        if args.list:
            return cmd_list()
        if args.command == "list":
            return cmd_list(args.kind, args.pattern)
        if args.command == "cache":
            return cmd_cache(args.action, args.dir)
        if args.command == "publish":
            return cmd_publish(args.document, args.claims, args.output, args.keep_missing)
        if args.command == "run":
            return cmd_run(
                args.config, args.output, args.rerun, args.quiet, args.executor, args.workers, args.only, args.exclude,
                args.rerun_stale, args.overrides,
            )
        return cmd_run(DEFAULT_CONFIG, None, False, False)
    except KeyboardInterrupt:  # outside the run loop (loading, checking, reporting): one line, no traceback
        print("interrupted; nothing was lost: run the same command again to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
