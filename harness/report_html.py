"""``leaderboard.html``: one self-contained page (inline CSS and JavaScript, plots as data URIs), so it
opens from disk or a mail attachment with no network access.

The table sorts by any column when its header is clicked (again: the other direction); numbers sort
by value with missing values last. ``leaderboard.html#sort=<column>:<asc|desc>`` opens it sorted.
"""

from __future__ import annotations

import base64
import html
import math
from typing import Any

import pandas as pd

# (column id, header, key in the table or None for a derived cell, percent?, higher is better?)
COLUMNS: tuple[tuple[str, str, str | None, bool, bool | None], ...] = (
    ("scenario", "scenario", "scenario", False, None),
    ("kind", "kind", "kind", False, None),
    ("strategy", "strategy", "strategy", False, None),
    ("status", "status", "status", False, None),
    ("seeds", "seeds", None, False, None),
    ("last_accuracy", "last acc (%)", "last_accuracy", True, True),
    ("average_incremental_accuracy", "avg inc acc (%)", "average_incremental_accuracy", True, True),
    ("forgetting", "forgetting (%)", "forgetting", True, False),
    ("backward_transfer", "BWT (%)", "backward_transfer", True, True),
    ("last_harmonic_accuracy", "last HM (%)", "last_harmonic_accuracy", True, True),
    ("last_clustering_accuracy", "clust acc All (%)", "last_clustering_accuracy", True, True),
    ("last_clustering_accuracy_old", "Old (%)", "last_clustering_accuracy_old", True, True),
    ("last_clustering_accuracy_new", "New (%)", "last_clustering_accuracy_new", True, True),
    ("last_nmi", "NMI", "last_nmi", False, True),
    ("last_ari", "ARI", "last_ari", False, True),
    ("mean_auroc", "AUROC", "mean_auroc", False, True),
    ("mean_fpr95", "FPR@95", "mean_fpr95", False, False),
    ("mean_aupr", "AUPR-In", "mean_aupr", False, True),
    ("time", "time/job (s)", "wall_time_s_mean", False, None),
)

PLOT_TITLES = {
    "accuracy": "Accuracy on seen classes against step",
    "auroc": "Open-set AUROC against step",
    "forgetting": "Forgetting per strategy",
    "clustering": "Clustering accuracy (All) against step, open-world scenarios",
}

STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; }
th, td { padding: 4px 8px; border-bottom: 1px solid #ddd; text-align: right; white-space: nowrap; }
th { cursor: pointer; background: #f4f4f4; user-select: none; }
th[aria-sort=ascending]::after { content: " \\25B2"; }
th[aria-sort=descending]::after { content: " \\25BC"; }
td.text, th.text { text-align: left; }
tr.failed td { background: #fde8e8; }
tr.partial td, tr.pending td { color: #888; }
figure { display: inline-block; margin: 1em 1em 0 0; }
img { max-width: 100%; border: 1px solid #eee; }
.note { color: #666; }
"""

SCRIPT = """
(function () {
  var table = document.getElementById('leaderboard');
  var heads = table.tHead.rows[0].cells;
  function key(cell) {
    var v = cell.getAttribute('data-value');
    return v === null || v === '' ? null : (isNaN(Number(v)) ? v : Number(v));
  }
  function sortBy(column, direction) {
    var index = -1;
    for (var i = 0; i < heads.length; i++) {
      if (heads[i].getAttribute('data-column') === column) { index = i; }
      heads[i].removeAttribute('aria-sort');
    }
    if (index < 0) { return; }
    var sign = direction === 'desc' ? -1 : 1;
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = key(a.cells[index]), y = key(b.cells[index]);
      if (x === null || y === null) { return (x === null) - (y === null); }
      if (typeof x !== typeof y) { x = String(x); y = String(y); }
      return sign * (x < y ? -1 : x > y ? 1 : 0);
    });
    rows.forEach(function (row) { body.appendChild(row); });
    heads[index].setAttribute('aria-sort', direction === 'desc' ? 'descending' : 'ascending');
  }
  for (var i = 0; i < heads.length; i++) {
    heads[i].addEventListener('click', function () {
      var next = this.getAttribute('aria-sort') === 'ascending' ? 'desc' : 'asc';
      sortBy(this.getAttribute('data-column'), next);
    });
  }
  var match = /sort=([A-Za-z0-9_]+)(?::(asc|desc))?/.exec(window.location.hash);
  if (match) { sortBy(match[1], match[2] || 'asc'); }
  window.owlbenchSort = sortBy;
})();
"""


def _number(value: Any) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return float(value)


def _cell(row: dict[str, Any], key: str | None, percent: bool, column: str) -> tuple[str, str]:
    """(text shown, sort value) of one cell."""
    if key is None:  # seeds
        text = f"{row['seeds_done']}/{row['seeds_total']}" + (f" ({row['seeds_failed']} failed)" if row["seeds_failed"] else "")
        return text, str(row["seeds_done"])
    value = row.get(key)
    if isinstance(value, str):
        return value, value
    mean = _number(value)
    if mean is None:
        return "–", ""
    if column == "time":
        return f"{mean:.1f}", repr(mean)
    std = _number(row.get(key.removesuffix("_mean") + "_std") if key.endswith("_mean") else row.get(f"{key}_std"))
    scale, digits = (100.0, 1) if percent else (1.0, 3)
    text = f"{mean * scale:.{digits}f}" + (f" ± {std * scale:.{digits}f}" if std is not None else "")
    return text, repr(mean)


def leaderboard_html(board: str, table: pd.DataFrame, plots: dict[str, bytes], skips: tuple = ()) -> str:
    """The page: the sortable table (mean ± std over seeds), the skipped pairs, then the plots."""
    esc = html.escape
    head = "".join(
        f'<th data-column="{cid}" class="{"text" if key in ("scenario", "kind", "strategy", "status") else ""}"'
        f'{"" if better is None else " title=" + chr(34) + ("higher is better" if better else "lower is better") + chr(34)}>{esc(title)}</th>'
        for cid, title, key, _, better in COLUMNS
    )
    body = []
    for row in table.to_dict("records"):
        cells = []
        for cid, _, key, percent, _ in COLUMNS:
            lookup = key if key in (None, "scenario", "kind", "strategy", "status", "wall_time_s_mean") else f"{key}_mean"
            text, value = _cell(row, lookup, percent, cid)
            css = ' class="text"' if cid in ("scenario", "kind", "strategy", "status") else ""
            cells.append(f'<td{css} data-value="{esc(value)}">{esc(text)}</td>')
        body.append(f'<tr class="{esc(row["status"])}">{"".join(cells)}</tr>')
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{esc(board)} leaderboard</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>{esc(board)}</h1>",
        '<p class="note">Mean ± sample std over seeds; accuracies in %. Click a column header to sort.</p>',
        f'<table id="leaderboard"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>',
    ]
    if skips:
        items = "".join(f"<li>{esc(s.scenario)} × {esc(s.strategy)}: {esc(s.reason)}</li>" for s in skips)
        parts.append(f'<h2>Skipped</h2><ul id="skipped">{items}</ul>')
    if plots:
        parts.append("<h2>Plots</h2>")
        for stem, png in plots.items():
            data = base64.b64encode(png).decode("ascii")
            title = esc(PLOT_TITLES.get(stem, stem))
            parts.append(f'<figure><img alt="{title}" src="data:image/png;base64,{data}"><figcaption>{title}</figcaption></figure>')
    parts.append(f"<script>{SCRIPT}</script></body></html>")
    return "\n".join(parts) + "\n"
