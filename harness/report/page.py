"""``leaderboard.html``: one self-contained page (inline CSS and JavaScript, plots as data URIs), so it
opens from disk or a mail attachment with no network access.

The table sorts by any column when its header is clicked (again: the other direction); numbers sort
by value with missing values last. ``leaderboard.html#sort=<column>:<asc|desc>`` opens it sorted.
"""

from __future__ import annotations

import base64
import html
from typing import Any

import pandas as pd

from harness.api.metric import MetricKey
from harness.report.columns import family_groups, format_cell, present, seeds_cell, table_keys

TEXT_COLUMNS = ("scenario", "kind", "strategy", "status")

STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; max-width: 100%; }
.table-scroll { max-width: 100%; max-height: 80vh; overflow: auto; margin-bottom: 1em; border: 1px solid #eee; }
table { border-collapse: collapse; }
th, td { padding: 4px 8px; border-bottom: 1px solid #ddd; text-align: right; white-space: nowrap; }
th { cursor: pointer; background: #f4f4f4; user-select: none; position: sticky; top: 0; z-index: 1; }
td.jobs a { margin-left: 0.3em; }
th[aria-sort=ascending]::after { content: " \\25B2"; }
th[aria-sort=descending]::after { content: " \\25BC"; }
td.text, th.text { text-align: left; }
td.best { font-weight: bold; background: #e8f4e8; }
td.tied { background: #f2f8f2; }
tr.failed td { background: #fde8e8; }
tr.partial td, tr.pending td { color: #888; }
figure { display: inline-block; margin: 1em 1em 0 0; max-width: 100%; vertical-align: top; }
figcaption { color: #444; font-size: 13px; }
img { max-width: 100%; height: auto; border: 1px solid #eee; }
.note { color: #666; }
"""

SCRIPT = """
(function () {
 var sorters = [];
 Array.prototype.forEach.call(document.querySelectorAll('table.leaderboard'), function (table) {
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
  sorters.push(sortBy);
 });
 function sortAll(column, direction) { sorters.forEach(function (sortBy) { sortBy(column, direction); }); }
 var match = /sort=([A-Za-z0-9_]+)(?::(asc|desc))?/.exec(window.location.hash);
 if (match) { sortAll(match[1], match[2] || 'asc'); }
 window.owlbenchSort = sortAll;
})();
"""


def _metric_cell(row: dict[str, Any], key: MetricKey) -> tuple[str, str]:
    """(text shown, sort value) of a metric's cell."""
    mean = row.get(f"{key.name}_mean")
    return format_cell(row, key), repr(float(mean)) if present(mean) else ""


def _th(column: str, title: str, better: bool | None = None) -> str:
    css = "text" if column in TEXT_COLUMNS else ""
    hint = "" if better is None else f' title="{"higher is better" if better else "lower is better"}"'
    return f'<th data-column="{column}" class="{css}"{hint}>{html.escape(title)}</th>'


def _td(text: str, value: str, column: str, mark: str | None = None) -> str:
    css = ' class="text"' if column in TEXT_COLUMNS else f' class="{mark}"' if mark else ""
    shown = html.escape(text) + (" ≈" if mark == "tied" else "")
    return f'<td{css} data-value="{html.escape(value)}">{shown}</td>'


def _jobs_cell(row: dict[str, Any], job_links: dict[tuple[str, str], list[tuple[int, str]]]) -> str:
    links = job_links.get((row["scenario"], row["strategy"]), [])
    inner = "".join(f'<a href="{html.escape(job_id)}/" title="job {html.escape(job_id)}">s{seed}</a>' for seed, job_id in links)
    return f'<td class="text jobs" data-value="">{inner}</td>'


def _table(rows: list[dict[str, Any]], index: int, marks: dict, job_links: dict) -> str:
    """One family's sortable table (the first has the id ``leaderboard``, the next ``leaderboard-2``, ...)."""
    esc = html.escape
    keys = table_keys(rows)
    head = "".join(
        [*(_th(c, c) for c in TEXT_COLUMNS), _th("seeds", "seeds")]
        + [_th(k.name, f"{k.label} (%)" if k.percent else k.label, k.higher_is_better) for k in keys]
        + [_th("time", "time/job (s)"), _th("jobs", "job folders")]
    )
    body = []
    for row in rows:
        cells = [_td(str(row[c]), str(row[c]), c) for c in TEXT_COLUMNS]
        cells.append(_td(seeds_cell(row), str(row["seeds_done"]), "seeds"))
        cells += [_td(*_metric_cell(row, k), k.name, marks.get((row["scenario"], k.name, row["strategy"]))) for k in keys]
        wall = row.get("wall_time_s_mean")
        cells.append(_td(f"{wall:.1f}", repr(float(wall)), "time") if present(wall) else _td("–", "", "time"))
        cells.append(_jobs_cell(row, job_links))
        body.append(f'<tr class="{esc(row["status"])}">{"".join(cells)}</tr>')
    table_id = "leaderboard" if index == 0 else f"leaderboard-{index + 1}"
    return (f'<div class="table-scroll"><table id="{table_id}" class="leaderboard"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table></div>')


def leaderboard_html(
    board: str,
    table: pd.DataFrame,
    plots: dict[str, tuple[str, bytes]],
    skips: tuple[dict[str, str], ...] = (),
    extra: str = "",
    marks: dict[tuple[str, str, str], str] | None = None,
    job_links: dict[tuple[str, str], list[tuple[int, str]]] | None = None,
) -> str:
    """The page: one sortable table per family of scenarios (the markdown table's columns, plus a
    link to each seed's job folder, ``job_links``: ``{(scenario, strategy): [(seed, job id)]}``),
    the skipped pairs, then the figures with their captions.  The tables scroll inside their box
    with a sticky header, so the page itself never overflows the window; the best entry of a
    scenario is bold and the entries tied with it are marked, as in the markdown."""
    esc = html.escape
    marks = marks or {}
    tables = [_table(rows, i, marks, job_links or {}) for i, rows in enumerate(family_groups(table.to_dict("records")))]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(board)} leaderboard</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>{esc(board)}</h1>",
        '<p class="note">Mean ± sample std over seeds; accuracies in %. Click a column header to sort.'
        + (" <b>Bold</b>: the best mean of a scenario; ≈: not distinguishable from it (paired tests over the seeds,"
           " Holm-corrected, p ≥ 0.05; comparisons.csv)." if marks else "") + "</p>",
        *tables,
    ]
    if extra:  # further sections of the page, already HTML (the reproduction table)
        parts.append(extra)
    if skips:
        items = "".join(f"<li>{esc(s['scenario'])} × {esc(s['strategy'])}: {esc(s['reason'])}</li>" for s in skips)
        parts.append(f'<h2>Skipped</h2><ul id="skipped">{items}</ul>')
    if plots:
        parts.append("<h2>Figures</h2>")
        for title, png in plots.values():
            data = base64.b64encode(png).decode("ascii")
            parts.append(f'<figure><img alt="{esc(title)}" src="data:image/png;base64,{data}"><figcaption>{esc(title)}</figcaption></figure>')
    parts.append(f"<script>{SCRIPT}</script></body></html>")
    return "\n".join(parts) + "\n"
