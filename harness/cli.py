"""The ``owlbench`` command line (``python run_benchmark.py`` does the same).

    owlbench run [CONFIG]      run a leaderboard (default leaderboards/quickstart.yaml)
    owlbench CONFIG            the same
    owlbench plan [CONFIG]     the jobs a run would start (done, would run, skipped), running nothing
    owlbench report [CONFIG]   rebuild the tables, figures and page from the board's job folders
    owlbench rescore [CONFIG]  compute every metric again from the jobs' archived predictions
    owlbench verify [CONFIG]   check the results against the data, config and code present now
    owlbench export [CONFIG]   the board's rows as portable JSON files, one per scenario × strategy
    owlbench export avalanche [CONFIG] --scenario LABEL --seed N
                               one scenario as an avalanche-lib benchmark (harness.interop.avalanche_benchmark)
    owlbench list [KIND]       what is registered, by kind (also: owlbench --list)
    owlbench cache list|clear  what the feature cache holds; empty it
    owlbench publish [DOC]     rewrite DOC's marked result sections (default README.md) from result folders

A bad config prints one line ``error: <file>: <field path>: <problem>`` and exits with 2 before
anything is written.  Finished jobs are skipped (``--rerun`` runs them again); ``--only``/``--exclude``
pick jobs by glob on their scenario and strategy labels; ``--executor``/``--workers`` override the
YAML's executor.  Failed jobs are recorded in their folder; the run goes on and exits with 1.  A
mistyped command or option is answered with the closest valid one.  The command modules live in
:mod:`harness.commands`; this module parses the line and dispatches.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from pathlib import Path

DEFAULT_CONFIG = "leaderboards/quickstart.yaml"
COMMANDS = ("run", "plan", "report", "rescore", "verify", "export", "list", "cache", "publish")
KINDS = ("datasets", "scenarios", "strategies", "backbones", "executors", "metrics", "scorers")


class SuggestingParser(argparse.ArgumentParser):
    """An argument parser whose 'unrecognized arguments' error names the closest valid option."""

    def error(self, message: str):
        if message.startswith("unrecognized arguments:"):
            options = sorted(_long_options(self))
            hints = []
            for word in message.split(":", 1)[1].split():
                close = difflib.get_close_matches(word.split("=")[0], options, n=1, cutoff=0.6) if word.startswith("-") else []
                if close:
                    hints.append(f"{word!r}: did you mean {close[0]!r}?")
            if hints:
                message += "; " + "; ".join(hints)
        super().error(message)


def _long_options(parser: argparse.ArgumentParser) -> set[str]:
    """Every ``--option`` of the parser and of its subcommands (an unknown one may be meant for either)."""
    found = set()
    for action in parser._actions:  # argparse keeps no public list of its actions
        found.update(o for o in action.option_strings if o.startswith("--"))
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found |= _long_options(sub)
    return found


def _version() -> str:
    from harness import __version__

    return f"owlbench {__version__} (Python {sys.version.split()[0]})"


def _board_arguments(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("config", nargs="?", default=DEFAULT_CONFIG, help=f"leaderboard YAML {what} (default: {DEFAULT_CONFIG})")
    parser.add_argument("--output", help="output folder (overrides the YAML's 'output')")


def _selection_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--set", action="append", metavar="KEY=VALUE", dest="overrides",
        help="override a value of the YAML, e.g. --set strategies[0].backbone.epochs=1 (checked like the file; repeatable)",
    )
    parser.add_argument("--only", action="append", metavar="GLOB", help="only jobs whose scenario or strategy label (or 'scenario/strategy') matches; repeatable")
    parser.add_argument("--exclude", action="append", metavar="GLOB", help="leave out the jobs matched by this glob; repeatable")


def _parser() -> argparse.ArgumentParser:
    parser = SuggestingParser(
        prog="owlbench",
        description="Benchmark harness for continual and open-world learning.",
        epilog="Run 'owlbench COMMAND --help' for the options of a command.",
    )
    parser.add_argument("--version", action="version", version=_version())
    parser.add_argument("--list", action="store_true", help="print the registered datasets, scenarios and strategies")
    sub = parser.add_subparsers(dest="command", parser_class=SuggestingParser)
    run = sub.add_parser("run", help="run a leaderboard YAML (finished jobs are skipped)")
    _board_arguments(run, "to run")
    run.add_argument("--rerun", action="store_true", help="run every job again, even those with a done marker")
    run.add_argument(
        "--rerun-stale", action="store_true", help="run again the finished jobs whose strategy or scenario source (or owlbench version) changed since"
    )
    run.add_argument("--quiet", action="store_true", help="no progress bars and no table at the end")
    run.add_argument("--executor", help="local | process | ray (overrides the YAML's 'executor')")
    run.add_argument("--workers", type=int, help="worker processes of the process executor (implies --executor process)")
    _selection_arguments(run)
    plan = sub.add_parser("plan", help="list the jobs a run would start, which are done and which are skipped; runs nothing")
    _board_arguments(plan, "to plan")
    _selection_arguments(plan)
    report = sub.add_parser("report", help="rebuild a board's tables, figures and page from its job folders")
    _board_arguments(report, "whose results to report")
    report.add_argument("--quiet", action="store_true", help="do not print the table")
    rescore = sub.add_parser("rescore", help="compute every metric again from the jobs' archived predictions (no strategy runs)")
    _board_arguments(rescore, "whose jobs to rescore")
    rescore.add_argument("--quiet", action="store_true", help="no progress bar and no table")
    verify = sub.add_parser("verify", help="check a board's results against the data, config and code present now")
    _board_arguments(verify, "whose results to verify")
    export = sub.add_parser(
        "export", help="write the board's rows as portable JSON files, or ('export avalanche') one scenario as an avalanche-lib benchmark",
        usage="owlbench export [avalanche] [CONFIG] [--to DIR] [--scenario LABEL --seed N [--unlabeled]]",
    )
    export.add_argument("target", nargs="*", metavar="[avalanche] CONFIG", help=f"leaderboard YAML (default: {DEFAULT_CONFIG}), after 'avalanche' for a benchmark")
    export.add_argument("--output", help="output folder (overrides the YAML's 'output')")
    export.add_argument("--to", metavar="DIR", help="folder written (default: <board folder>/export, or <board folder>/avalanche/<scenario>-seed<N>)")
    export.add_argument("--scenario", metavar="LABEL", help="avalanche: the scenario to export (its label in the board)")
    export.add_argument("--seed", type=int, help="avalanche: the seed of the scenario's plan (class order, shots)")
    export.add_argument("--unlabeled", action="store_true", help="avalanche: also export unlabeled steps (targets -1)")
    export.add_argument("--set", action="append", metavar="KEY=VALUE", dest="overrides", help="avalanche: override a value of the YAML (repeatable)")
    listing = sub.add_parser("list", help="print what is registered, by kind")
    listing.add_argument("kind", nargs="?", choices=KINDS, help="only this kind")
    listing.add_argument("--pattern", default="*", help="wildcard filter on names, e.g. 'n*'")
    cache = sub.add_parser("cache", help="list or clear the feature cache")
    cache.add_argument("action", choices=("list", "clear"), help="list the entries, or remove them all")
    cache.add_argument("--dir", help="cache folder (default: $OWLBENCH_CACHE_DIR or ~/.cache/owlbench/features)")
    publish = sub.add_parser("publish", help="rewrite a document's result sections and docs/claims.md from the boards' result folders")
    publish.add_argument("document", nargs="?", default="README.md", help="markdown file with '<!-- results: BOARD.yaml -->' markers (default: README.md)")
    publish.add_argument("--claims", metavar="FILE", help="also write the claims of the marked boards into FILE (e.g. docs/claims.md)")
    publish.add_argument("--output", help="results folder (overrides the boards' 'output')")
    publish.add_argument("--keep-missing", action="store_true", help="leave the sections of boards that have not run as they are (default: error)")
    return parser


def mistyped_command(word: str) -> str | None:
    """The command ``word`` was probably meant to be, when it is neither a command nor a file."""
    if word in COMMANDS or Path(word).suffix.lower() in (".yaml", ".yml") or Path(word).exists():
        return None
    close = difflib.get_close_matches(word, COMMANDS, n=1, cutoff=0.5)
    return close[0] if close else None


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and not argv[0].startswith("-") and argv[0] not in COMMANDS:
        meant = mistyped_command(argv[0])
        if meant:
            print(f"owlbench: error: unknown command {argv[0]!r}; did you mean {meant!r}? (commands: {', '.join(COMMANDS)})", file=sys.stderr)
            return 2
        argv.insert(0, "run")  # 'owlbench board.yaml' means 'owlbench run board.yaml'
    args = _parser().parse_args(argv)
    try:
        return _dispatch(args)
    except KeyboardInterrupt:  # outside the run loop (loading, checking, reporting): one line, no traceback
        print("interrupted; nothing was lost: run the same command again to resume", file=sys.stderr)
        return 130


def _dispatch(args: argparse.Namespace) -> int:
    if args.list or args.command == "list":
        from harness.commands.listing import cmd_list

        return cmd_list(getattr(args, "kind", None), getattr(args, "pattern", "*"))
    if args.command == "cache":
        from harness.commands.cache import cmd_cache

        return cmd_cache(args.action, args.dir)
    if args.command == "publish":
        from harness.commands.publish import cmd_publish

        return cmd_publish(args.document, args.claims, args.output, args.keep_missing)
    if args.command == "plan":
        from harness.commands.plan import cmd_plan

        return cmd_plan(args.config, args.output, args.only, args.exclude, args.overrides)
    if args.command == "report":
        from harness.commands.report import cmd_report

        return cmd_report(args.config, args.output, args.quiet)
    if args.command == "export":
        from harness.commands.export import cmd_export_dispatch

        return cmd_export_dispatch(args, DEFAULT_CONFIG)
    if args.command == "verify":
        from harness.commands.verify import cmd_verify

        return cmd_verify(args.config, args.output)
    if args.command == "rescore":
        from harness.commands.rescore import cmd_rescore

        return cmd_rescore(args.config, args.output, args.quiet)
    from harness.commands.run import cmd_run

    if args.command == "run":
        return cmd_run(
            args.config, args.output, args.rerun, args.quiet, args.executor, args.workers, args.only, args.exclude,
            args.rerun_stale, args.overrides,
        )
    return cmd_run(DEFAULT_CONFIG, None, False, False)


if __name__ == "__main__":
    sys.exit(main())
