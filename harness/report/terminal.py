"""The table printed at the end of a run: one block per family of scenarios, fitted to the terminal.

The columns are those of ``leaderboard.md`` (:func:`harness.report.columns.table_keys`); when a
block is wider than the terminal, the metric columns that do not fit are left out, from the right,
and named under the block (the files hold them all).
"""

from __future__ import annotations

import math
import shutil
import textwrap
from typing import Any

import pandas as pd

from harness.report.columns import family_groups, format_cell, seeds_cell, table_keys

GAP = "  "
MARK_SUFFIX = {"best": " *", "tied": " ≈"}


def _width(column: list[str]) -> int:
    return max(len(cell) for cell in column)


def _block(rows: list[dict[str, Any]], width: int, marks: dict) -> list[str]:
    keys = table_keys(rows)
    show_status = any(r.get("status", "complete") != "complete" for r in rows)
    fixed = [
        ["scenario", *(str(r["scenario"]) for r in rows)],
        ["strategy", *(str(r["strategy"]) for r in rows)],
        *([["status", *(str(r["status"]) for r in rows)]] if show_status else []),
        ["seeds", *(seeds_cell(r) for r in rows)],
    ]
    metrics = []
    for key in keys:
        cells = []
        for r in rows:
            mark = marks.get((r["scenario"], key.name, r["strategy"]))
            cells.append(format_cell(r, key) + MARK_SUFFIX.get(mark, ""))
        metrics.append([key.label, *cells])
    walls = [r.get("wall_time_s_mean") for r in rows]
    timing = ["s/job", *("–" if w is None or math.isnan(w) else f"{w:.1f}" for w in walls)]
    used = sum(_width(c) for c in fixed) + len(GAP) * (len(fixed) - 1)
    shown, left_out = [], []
    for column in [*metrics, timing]:
        if not left_out and used + len(GAP) + _width(column) <= width:
            shown.append(column)
            used += len(GAP) + _width(column)
        else:
            left_out.append(column[0])
    columns = [*fixed, *shown]
    widths = [_width(c) for c in columns]
    lines = []
    for i in range(len(rows) + 1):
        cells = [c[i].ljust(w) if j < len(fixed) else c[i].rjust(w) for j, (c, w) in enumerate(zip(columns, widths))]
        lines.append(GAP.join(cells).rstrip())
    lines.insert(1, GAP.join("-" * w for w in widths))
    if left_out:
        lines.append(f"(not shown at this width: {', '.join(left_out)}; see leaderboard.md)")
    return lines


def terminal_table(table: pd.DataFrame, board: str, width: int | None = None, marks: dict | None = None) -> str:
    """The board's table as aligned text no wider than ``width`` (default: the terminal's, from
    ``COLUMNS`` when set); accuracies in %, mean ± std over seeds; ``*`` best, ``≈`` tied with it
    (``marks`` default: those :func:`harness.report.write_report` left in ``table.attrs``)."""
    width = width or shutil.get_terminal_size((120, 24)).columns
    marks = table.attrs.get("marks", {}) if marks is None else marks
    lines = [board]
    for rows in family_groups(table.to_dict("records")):
        lines += ["", *_block(rows, width, marks)]
    if marks:
        lines += ["", "* best mean of its scenario; ≈ not distinguishable from it (see comparisons.csv)"]
    fitted = [wrapped for line in lines for wrapped in (textwrap.wrap(line, width, subsequent_indent=" ") if line.startswith(("(", "*")) else [line[:width]])]
    return "\n".join(fitted) + "\n"
