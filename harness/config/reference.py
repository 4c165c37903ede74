"""A paper board's ``reference:`` block: the published numbers it is meant to reproduce.

    reference:
      source: "TEEN (Wang et al., NeurIPS 2023), Table 2"       # default source of every value
      values:
        - {scenario: fscil-cec, strategy: teen, metric: last_accuracy, value: 52.64}
        - {scenario: fscil-cec, strategy: teen, metric: average_incremental_accuracy, value: 63.10,
           source: "the authors' README"}

``metric`` is a summary key a registered metric declares; ``value`` is in the units the tables show
it in (percent for accuracies, as papers print them).  ``verified`` says whether the number was
checked against the paper itself (``false``: taken from a secondary source, as stated in ``source``).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, ValidationError

from harness.api.errors import ConfigError
from harness.api.params import Params


class ReferenceValue(Params):
    scenario: str
    strategy: str
    metric: str
    value: float
    source: str | None = Field(None, description="where the number comes from (default: the block's source)")
    verified: bool = Field(True, description="checked against the paper itself")
    note: str | None = None


class Reference(Params):
    source: str = Field(..., description="the paper and table the values come from")
    values: list[ReferenceValue] = Field(..., min_length=1)


def parse_reference(raw: Any, scenario_labels: set[str], strategy_labels: set[str], first_error) -> list[dict[str, Any]]:
    """The validated values as plain records (each with its source); ``ConfigError`` naming the field."""
    if raw is None:
        return []
    try:
        block = Reference.model_validate(raw)
    except ValidationError as err:
        raise first_error(err, Reference, "reference") from None
    from harness.api.registry import METRICS

    known = [key.name for metric in METRICS.in_order() for key in metric.summary_keys]
    out = []
    for i, v in enumerate(block.values):
        where = f"reference.values[{i}]"
        if v.scenario not in scenario_labels:
            raise ConfigError(f"{where}.scenario", f"no scenario of this board is labelled {v.scenario!r}; labels: {', '.join(sorted(scenario_labels))}")
        if v.strategy not in strategy_labels:
            raise ConfigError(f"{where}.strategy", f"no strategy of this board is labelled {v.strategy!r}; labels: {', '.join(sorted(strategy_labels))}")
        if v.metric not in known:
            raise ConfigError(f"{where}.metric", f"{v.metric!r} is not a summary metric; known: {', '.join(known)}")
        out.append({**v.model_dump(), "source": v.source or block.source})
    return out
