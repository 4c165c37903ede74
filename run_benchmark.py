"""Command-line entry: ``python run_benchmark.py [run] CONFIG`` or ``--list``; see ``harness.cli``."""

import sys

from harness.cli import main

if __name__ == "__main__":
    sys.exit(main())
