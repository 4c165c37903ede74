"""The shape every metric takes: ``update`` with one step's evidence, ``compute``, ``reset``."""

from __future__ import annotations

from typing import Any, ClassVar


class Metric:
    """Accumulates evidence step by step; ``compute`` returns plain JSON-ready values.

    ``higher_is_better`` maps each summary key to its direction, so reports can rank strategies.
    """

    higher_is_better: ClassVar[dict[str, bool]] = {}

    def reset(self) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def update(self, *args: Any, **kwargs: Any) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def compute(self) -> dict[str, Any]:  # pragma: no cover - interface
        raise NotImplementedError
