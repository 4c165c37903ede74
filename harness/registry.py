"""One generic registry type, used for strategies, scenarios, datasets (and later backbones, executors).

Entries are registered with a decorator; a duplicate name is refused; an unknown name is answered with
the known names and the closest match.  ``load_builtins`` imports the packages whose modules register
the built-in entries, so importing ``harness`` alone stays cheap.
"""

from __future__ import annotations

import difflib
import fnmatch
import importlib
import importlib.util
import pkgutil
from typing import Callable, Generic, Iterator, TypeVar

from harness.errors import UnknownNameError

T = TypeVar("T")

NAME_PATTERN = "lowercase letters, digits, '_' and '-', starting with a letter"


def _valid_name(name: str) -> bool:
    return bool(name) and name[0].isalpha() and all(c.islower() or c.isdigit() or c in "_-" for c in name)


class Registry(Generic[T]):
    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        if not _valid_name(name):
            raise ValueError(f"{self.kind} name {name!r} is invalid: use {NAME_PATTERN}")

        def decorator(obj: T) -> T:
            if name in self._entries and self._entries[name] is not obj:
                raise ValueError(f"{self.kind} {name!r} is already registered by {self._entries[name]!r}")
            self._entries[name] = obj
            try:
                obj.registered_name = name  # type: ignore[attr-defined]
            except (AttributeError, TypeError):
                pass
            return obj

        return decorator

    def get(self, name: str) -> T:
        try:
            return self._entries[name]
        except KeyError:
            raise UnknownNameError(self.unknown_message(name)) from None

    def unknown_message(self, name: str) -> str:
        known = sorted(self._entries)
        close = difflib.get_close_matches(str(name), known, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return f"unknown {self.kind} {name!r}{hint} known: {', '.join(known) or '(none)'}"

    def names(self, pattern: str = "*") -> list[str]:
        return sorted(n for n in self._entries if fnmatch.fnmatchcase(n, pattern))

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._entries)


STRATEGIES: Registry = Registry("strategy")
SCENARIOS: Registry = Registry("scenario")
DATASETS: Registry = Registry("dataset")
BACKBONES: Registry = Registry("backbone")
EXECUTORS: Registry = Registry("executor")

ALL = {
    "datasets": DATASETS,
    "scenarios": SCENARIOS,
    "strategies": STRATEGIES,
    "backbones": BACKBONES,
    "executors": EXECUTORS,
}

# packages whose modules register built-in entries; a package that does not exist yet is skipped
_BUILTIN_PACKAGES = ("harness.datasets", "harness.backbones", "harness.executors", "scenarios", "strategies")
_loaded = False


def _import_package_modules(package_name: str) -> None:
    if importlib.util.find_spec(package_name) is None:
        return
    package = importlib.import_module(package_name)
    for module in pkgutil.iter_modules(package.__path__):
        if not module.name.startswith("_"):
            importlib.import_module(f"{package_name}.{module.name}")


def load_builtins() -> None:
    """Import every module of the built-in packages so that their decorators register them."""
    global _loaded
    if _loaded:
        return
    for package_name in _BUILTIN_PACKAGES:
        _import_package_modules(package_name)
    _loaded = True
