"""Base class for the typed parameters that registered datasets, scenarios and strategies declare."""

from __future__ import annotations

import types
import typing

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator


def _numeric(annotation) -> bool:
    """True for ``int``, ``float`` and unions of them (with ``None``), not for ``bool``."""
    if annotation in (int, float):
        return True
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return bool(args) and all(a in (int, float) for a in args)
    return False


class Params(BaseModel):
    """Parameters of one registered entry: unknown keys are refused, values are checked by type, and
    a boolean is not taken for a number (pydantic would read ``true`` as 1)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("*", mode="before")
    @classmethod
    def _booleans_are_not_numbers(cls, value, info: ValidationInfo):
        if isinstance(value, bool) and info.field_name and _numeric(cls.model_fields[info.field_name].annotation):
            raise ValueError(f"must be a number, not the boolean {value}")
        return value
