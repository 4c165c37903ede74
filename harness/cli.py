"""The ``owlbench`` command line (``python run_benchmark.py`` does the same).

    owlbench run [CONFIG]      run a leaderboard (default leaderboards/quickstart.yaml)
    owlbench CONFIG            the same
    owlbench list [KIND]       what is registered, by kind (also: owlbench --list)
    owlbench cache list|clear  what the feature cache holds; empty it

A bad config prints one line ``error: <file>: <field path>: <problem>`` and exits with 2 before
anything is written.  Failed jobs are recorded in their folder; the run goes on and exits with 1.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from pathlib import Path

from harness.cache_cli import add_cache_parser, cmd_cache
from harness.errors import ConfigError

DEFAULT_CONFIG = "leaderboards/quickstart.yaml"
COMMANDS = ("run", "list", "cache")


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
    run.add_argument("--quiet", action="store_true", help="no progress bars and no table at the end")
    listing = sub.add_parser("list", help="print what is registered, by kind")
    listing.add_argument("kind", nargs="?", choices=("datasets", "scenarios", "strategies", "backbones", "executors"), help="only this kind")
    listing.add_argument("--pattern", default="*", help="wildcard filter on names, e.g. 'n*'")
    add_cache_parser(sub)
    return parser


def cmd_list(kind: str | None = None, pattern: str = "*") -> int:
    from harness.registry import ALL, load_builtins

    load_builtins()
    for name, registry in ALL.items():
        if (kind and kind != name) or (not kind and len(registry) == 0):
            continue
        print(f"{name}:")
        for entry in registry.names(pattern):
            doc = (registry.get(entry).__doc__ or "").strip().splitlines()
            print(f"  {entry:<12} {doc[0] if doc else ''}")
    return 0


def _record_failure(job, board_dir: Path, exc: BaseException) -> None:
    from harness.io import atomic_write_json

    atomic_write_json(
        job.folder(board_dir) / "failed.json",
        {"job_id": job.id, "status": "failed", "error": repr(exc), "traceback": traceback.format_exc()},
    )


def cmd_run(config_path: str, output: str | None, rerun: bool, quiet: bool) -> int:
    from tqdm.auto import tqdm

    from harness.config import load_config
    from harness.report import write_report
    from harness.runner import run_job
    from harness.sweep import expand

    try:
        config = load_config(config_path, output=output)
    except ConfigError as exc:
        print(f"error: {config_path}: {exc}", file=sys.stderr)
        return 2
    jobs = expand(config)
    board_dir = config.board_dir
    todo = [j for j in jobs if rerun or not j.is_done(board_dir)]
    started = time.perf_counter()
    print(f"{config.name}: {len(jobs)} jobs, {len(jobs) - len(todo)} already done, {len(todo)} to run -> {board_dir}")
    failed = []
    for job in tqdm(todo, desc=config.name, unit="job", disable=quiet):
        try:
            run_job(job, board_dir, progress=not quiet)
        except Exception as exc:  # one failing job is recorded and does not stop the others
            _record_failure(job, board_dir, exc)
            failed.append((job, exc))
    _, markdown = write_report(jobs, board_dir)
    if not quiet:
        print(markdown)
    print(f"wrote {board_dir / 'leaderboard.csv'} in {time.perf_counter() - started:.1f}s")
    if failed:
        for job, exc in failed:
            print(f"failed: {job.title} ({job.id}): {exc!r}; see {job.folder(board_dir) / 'failed.json'}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and not argv[0].startswith("-") and argv[0] not in COMMANDS:
        argv.insert(0, "run")  # 'owlbench board.yaml' means 'owlbench run board.yaml'
    args = _parser().parse_args(argv)
    if args.list:
        return cmd_list()
    if args.command == "list":
        return cmd_list(args.kind, args.pattern)
    if args.command == "cache":
        return cmd_cache(args.action, args.dir)
    if args.command == "run":
        return cmd_run(args.config, args.output, args.rerun, args.quiet)
    return cmd_run(DEFAULT_CONFIG, None, False, False)
