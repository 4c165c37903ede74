"""The report's view of the metric declarations: which summary keys exist, in which order, and
which of them a table of given scenario kinds shows (see :class:`harness.api.metric.MetricKey`)."""

from __future__ import annotations

import math
from typing import Any

from harness.api.metric import MetricKey, StepCurve
from harness.api.registry import METRICS


def summary_keys() -> list[tuple[MetricKey, frozenset[str] | None]]:
    """Every declared summary key with its metric's scenario kinds, in registration order."""
    return [(key, metric.kinds) for metric in METRICS.in_order() for key in metric.summary_keys]


def summary_key_names() -> tuple[str, ...]:
    return tuple(key.name for key, _ in summary_keys())


def step_curves() -> list[StepCurve]:
    return [curve for metric in METRICS.in_order() for curve in metric.curves]


def present(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def shown_keys(records: list[dict[str, Any]], where: str) -> list[MetricKey]:
    """The keys a table (``where="table"``: markdown and page; ``"page"``: the page) shows for these
    rows: those of metrics that apply to some row's kind, or that some row has a value for; the
    kind-specific ones first, then those of every kind, each group in registration order."""
    allowed = ("table",) if where == "table" else ("table", "page")
    kinds = {r.get("kind") for r in records}
    chosen = [
        (key, metric_kinds)
        for key, metric_kinds in summary_keys()
        if key.show in allowed
        and (metric_kinds is None or kinds & metric_kinds or any(present(r.get(f"{key.name}_mean")) for r in records))
    ]
    return [k for k, m in chosen if m is not None] + [k for k, m in chosen if m is None]


def table_notes(keys: list[MetricKey]) -> str:
    """The sentences of the metrics that have a column in the table."""
    names = {k.name for k in keys}
    return "".join(m.table_note for m in METRICS.in_order() if any(k.name in names for k in m.summary_keys))


def format_value(mean: Any, std: Any, percent: bool) -> str:
    """``mean ± std`` (in percent with one decimal, or with three decimals); ``–`` when missing."""
    if not present(mean):
        return "–"
    scale, digits = (100.0, 1) if percent else (1.0, 3)
    text = f"{mean * scale:.{digits}f}"
    if present(std):
        text += f" ± {std * scale:.{digits}f}"
    return text


def format_cell(row: dict[str, Any], key: MetricKey) -> str:
    """A key's cell: ``mean ± std``, or ``est ± std / true`` for a key shown with its pair."""
    mean, std = row.get(f"{key.name}_mean"), row.get(f"{key.name}_std")
    if key.paired_with is None:
        return format_value(mean, std, key.percent)
    if not present(mean):
        return "–"
    return f"{mean:.1f}" + (f" ± {std:.1f}" if present(std) else "") + f" / {row[f'{key.paired_with}_mean']:.0f}"


def seeds_cell(row: dict[str, Any]) -> str:
    text = f"{row['seeds_done']}/{row['seeds_total']}"
    return text + (f" ({row['seeds_failed']} failed)" if row.get("seeds_failed") else "")


def table_keys(records: list[dict[str, Any]]) -> list[MetricKey]:
    """The metric columns of a table of these rows, the same in ``leaderboard.md``, the page and the
    printed table (which may leave some out to fit the terminal); the CSV has every key."""
    return shown_keys(records, "page")


def family_groups(records: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The rows split into families of scenario kinds that share their columns (class-incremental and
    few-shot apart from the open-world kinds), each family's rows in table order, the families in the
    order of their first row.  Two kinds share a family when the kind-specific keys of one include
    those of the other, so a kind a plugin registers joins the family whose metrics it reports."""
    kind_keys: dict[Any, frozenset[str]] = {}
    for record in records:
        kind = record.get("kind")
        if kind not in kind_keys:
            kind_keys[kind] = frozenset(k.name for k, m in summary_keys() if m is not None and kind in m)
    family: dict[Any, int] = {}
    members: list[set[frozenset[str]]] = []
    for kind, names in kind_keys.items():
        for index, group in enumerate(members):
            if any(names <= other or other <= names for other in group):
                group.add(names)
                family[kind] = index
                break
        else:
            family[kind] = len(members)
            members.append({names})
    groups: dict[int, list[dict[str, Any]]] = {}
    for record in records:
        groups.setdefault(family[record.get("kind")], []).append(record)
    return list(groups.values())
