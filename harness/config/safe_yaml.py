"""Reading a config file with limits: UTF-8 checked, size bounded, duplicate keys refused, aliases
and the size of the document they expand to bounded, so that no file can exhaust memory or time.

PyYAML's ``safe_load`` builds only plain Python objects, but an alias makes the same object appear
again wherever it is used: a few lines ("billion laughs") expand to billions of items as soon as
anything walks the result.  The loader below counts aliases while composing and then walks the
result with a budget on the expanded size, so such a document is refused in milliseconds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

MAX_BYTES = 1 << 20  # a leaderboard config is a few KB; 1 MiB leaves room for long class orders
MAX_ALIASES = 100
MAX_EXPANDED_NODES = 200_000
SHOWN = 80  # characters of a value echoed in an error message


class YAMLLimitError(ValueError):
    """A document over one of the limits, or with a duplicate key; the message says which."""


def shorten(value: Any, limit: int = SHOWN) -> str:
    """``repr(value)``, cut to ``limit`` characters with the number of characters left out."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text) - limit} more characters)"


class _LimitedLoader(yaml.SafeLoader):
    def __init__(self, stream):
        super().__init__(stream)
        self._aliases = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                mark = self.peek_event().start_mark
                raise YAMLLimitError(f"more than {MAX_ALIASES} YAML aliases (line {mark.line + 1}); write the values out")
        return super().compose_node(parent, index)

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.get(key)
                except TypeError:  # an unhashable key: PyYAML reports it below
                    continue
                line = key_node.start_mark.line + 1
                if first is not None:
                    raise YAMLLimitError(f"key {shorten(key)} appears twice (lines {first} and {line}); keep one")
                seen[key] = line
        return super().construct_mapping(node, deep=deep)


_LimitedLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _LimitedLoader.construct_mapping)


def _check_expanded_size(data: Any) -> None:
    budget = MAX_EXPANDED_NODES
    stack = [data]
    while stack:
        item = stack.pop()
        budget -= 1
        if budget < 0:
            raise YAMLLimitError(f"the document expands to more than {MAX_EXPANDED_NODES:,} values (through its aliases)")
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def decode(blob: bytes, where: str) -> str:
    """The text of a config file; :class:`YAMLLimitError` naming the first byte that is not UTF-8."""
    if len(blob) > MAX_BYTES:
        raise YAMLLimitError(f"{where} is {len(blob):,} bytes; a config may have at most {MAX_BYTES:,}")
    try:
        return blob.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise YAMLLimitError(f"{where} is not UTF-8 text (byte {exc.start}: {blob[exc.start:exc.start + 1]!r}); save it as UTF-8") from None


def load(text: str) -> Any:
    """``yaml.safe_load`` with the limits of this module (raises :class:`YAMLLimitError` or ``yaml.YAMLError``)."""
    if len(text) > MAX_BYTES:
        raise YAMLLimitError(f"the config has {len(text):,} characters; at most {MAX_BYTES:,}")
    loader = _LimitedLoader(text)
    try:
        data = loader.get_single_data()
    finally:
        loader.dispose()
    _check_expanded_size(data)
    return data


def read(path: Path) -> Any:
    """Load a config file with every limit: size, encoding, duplicate keys, aliases."""
    return load(decode(path.read_bytes(), "the config file"))
