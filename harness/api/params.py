"""Base class for the typed parameters that registered datasets, scenarios and strategies declare."""

from pydantic import BaseModel, ConfigDict


class Params(BaseModel):
    """Parameters of one registered entry: unknown keys are refused, values are checked by type."""

    model_config = ConfigDict(extra="forbid", frozen=True)
