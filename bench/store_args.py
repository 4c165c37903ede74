"""Command-line options the prototype-store benchmarks share (sizes, repeats, memory budget)."""

from __future__ import annotations

import argparse


def add_size_options(parser: argparse.ArgumentParser, budget_mib: int, budget_help: str) -> None:
    """``--classes``, ``--queries``, ``--dim`` (defaults chosen by each script), ``--repeats``, ``--budget-mib``."""
    parser.add_argument("--classes", type=int, nargs="+", help="numbers of classes to measure")
    parser.add_argument("--queries", type=int, help="number of queries")
    parser.add_argument("--dim", type=int, help="feature dimension")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs; the best is reported")
    parser.add_argument("--budget-mib", type=int, default=budget_mib, help=budget_help)
