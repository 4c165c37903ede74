"""A board's ``claims:`` block: a paper's central claim, as a paired comparison the board can check.

    claims:
      - claim: "TEEN's calibration raises novel-class accuracy over uncalibrated prototypes"
        source: "Wang et al., NeurIPS 2023, Sec. 4 (s = 0 ablation)"
        scenario: fscil
        metric: last_novel_accuracy
        treatment: teen
        control: teen-uncalibrated
        expect: better            # better | not_worse
        margin: 0.0               # in the table's units (points for accuracies); not_worse only

``expect: better`` is reproduced when the 95 % paired interval of ``treatment − control`` lies on the
claimed side of 0 (in the metric's direction), not reproduced when it lies on the other side, and
inconclusive otherwise.  ``expect: not_worse`` (for "matches or beats") is reproduced when the
interval's worse end stays within ``margin`` of 0, not reproduced when even its better end is worse
than ``−margin``, inconclusive otherwise (:mod:`harness.report.claims`).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, ValidationError

from harness.api.errors import ConfigError
from harness.api.params import Params


class Claim(Params):
    claim: str = Field(..., min_length=1, max_length=500, description="the claim, in a sentence")
    source: str = Field(..., min_length=1, max_length=300, description="the paper and the table or section it is made in")
    scenario: str = Field(..., description="label of the board's scenario it is checked on")
    metric: str = Field(..., description="summary metric compared")
    treatment: str = Field(..., description="strategy label the claim is about")
    control: str = Field(..., description="strategy label it is compared with")
    expect: Literal["better", "not_worse"] = Field("better", description="better, or not_worse within margin")
    margin: float = Field(0.0, ge=0.0, description="tolerance of not_worse, in the units the tables show")


def parse_claims(raw: Any, scenario_labels: set[str], strategy_labels: set[str], first_error) -> list[dict[str, Any]]:
    """The validated claims as plain records; ``ConfigError`` naming the field."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ConfigError("claims", "must be a list of claims (each with claim, source, scenario, metric, treatment, control)")
    from harness.api.registry import METRICS

    directed = [key.name for metric in METRICS.in_order() for key in metric.summary_keys if key.higher_is_better is not None]
    out = []
    for i, item in enumerate(raw):
        where = f"claims[{i}]"
        try:
            claim = Claim.model_validate(item)
        except ValidationError as err:
            raise first_error(err, Claim, where) from None
        if claim.scenario not in scenario_labels:
            raise ConfigError(f"{where}.scenario", f"no scenario of this board is labelled {claim.scenario!r}; labels: {', '.join(sorted(scenario_labels))}")
        for field in ("treatment", "control"):
            if getattr(claim, field) not in strategy_labels:
                raise ConfigError(
                    f"{where}.{field}", f"no strategy of this board is labelled {getattr(claim, field)!r}; labels: {', '.join(sorted(strategy_labels))}"
                )
        if claim.treatment == claim.control:
            raise ConfigError(f"{where}.control", "must name another strategy than treatment")
        if claim.metric not in directed:
            raise ConfigError(f"{where}.metric", f"{claim.metric!r} is not a summary metric with a direction; known: {', '.join(directed)}")
        out.append(claim.model_dump())
    return out
