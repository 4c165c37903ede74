"""``leaderboard.md``: the readable table, printed at the end of a run."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from harness.report.columns import family_groups, format_cell, seeds_cell, table_keys, table_notes


MARKS = {"best": "**{}**", "tied": "{} ≈"}
MARKS_NOTE = (
    " **bold**: the best mean of a scenario; ≈: not distinguishable from it (paired tests over the seeds,"
    " Holm-corrected over the board, p ≥ 0.05; see comparisons.csv)."
)


def markdown_table(
    table: pd.DataFrame, board: str, skips: tuple[dict[str, str], ...] = (), marks: dict[tuple[str, str, str], str] | None = None
) -> str:
    """Accuracies in percent, mean ± std over seeds, wall time per job; then the skipped pairs.

    One table per family of scenario kinds (:func:`harness.report.columns.family_groups`: accuracy
    columns for the closed-world kinds, clustering columns for the open-world ones), with the columns
    of :func:`harness.report.columns.table_keys`; a status column appears when some pair of the
    family is not complete.  ``marks`` (:func:`harness.report.comparisons.table_marks`) bolds the
    best entry of each scenario and metric and marks the entries tied with it."""
    marks = marks or {}
    lines = [f"### {board}"]
    keys_shown = []
    for records in family_groups(table.to_dict("records")):
        keys = table_keys(records)
        keys_shown += [k for k in keys if k not in keys_shown]
        show_status = any(r.get("status", "complete") != "complete" for r in records)
        header = ["scenario", "strategy", *(["status"] if show_status else []), "seeds", *(k.label for k in keys), "time/job (s)"]
        lines += ["", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for row in records:
            cells: list[Any] = [row["scenario"], row["strategy"], *([row["status"]] if show_status else []), seeds_cell(row)]
            for key in keys:
                mark = marks.get((row["scenario"], key.name, row["strategy"]))
                cells.append(MARKS[mark].format(format_cell(row, key)) if mark else format_cell(row, key))
            wall = row["wall_time_s_mean"]
            cells.append("–" if wall is None or math.isnan(wall) else f"{wall:.1f}")
            lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    keys = keys_shown
    lines += ["", "Accuracies in %, mean ± sample std over seeds;" + table_notes(keys) + (MARKS_NOTE if marks else "")]
    if skips:
        lines += ["", "Skipped (not run):", ""] + [f"- {s['scenario']} × {s['strategy']}: {s['reason']}" for s in skips]
    return "\n".join(lines) + "\n"
