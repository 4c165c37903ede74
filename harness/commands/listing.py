"""``owlbench list [KIND]``: what is registered, by kind, with the first sentence of each docstring."""

from __future__ import annotations

import re
import shutil
import sys
import textwrap

ROLE = re.compile(r":[a-z]+:`~?([^`]+)`")  # :class:`~a.b.C` -> a.b.C (then the last part)
LITERAL = re.compile(r"``([^`]+)``")
SENTENCE_END = re.compile(r"(?<!\be\.g)(?<!\bi\.e)(?<!\betc)(?<!\bvs)\.(?=\s|$)")


def first_sentence(doc: str | None) -> str:
    """The first sentence of a docstring's first paragraph, on one line, without reST markup."""
    paragraph = (doc or "").strip().split("\n\n")[0]
    text = " ".join(line.strip() for line in paragraph.splitlines())
    text = ROLE.sub(lambda m: m.group(1).rsplit(".", 1)[-1], text)
    text = LITERAL.sub(r"\1", text)
    end = SENTENCE_END.search(text)
    return text[: end.end()] if end else text


def cmd_list(kind: str | None = None, pattern: str = "*") -> int:
    from harness.api.registry import ALL, load_all_plugins

    for problem in load_all_plugins():  # built-ins and installed plugins
        print(f"warning: {problem}", file=sys.stderr)
    width = shutil.get_terminal_size((100, 24)).columns
    for name, registry in ALL.items():
        if (kind and kind != name) or (not kind and len(registry) == 0):
            continue
        print(f"{name}:")
        entries = registry.names(pattern)
        column = max((len(e) for e in entries), default=0) + 2
        for entry in entries:
            summary = first_sentence(registry.get(entry).__doc__)
            indent = " " * (2 + column)
            lines = textwrap.wrap(summary, max(30, width - len(indent))) or [""]
            print(f"  {entry.ljust(column)}{lines[0]}".rstrip())
            for line in lines[1:]:
                print(indent + line)
    return 0
