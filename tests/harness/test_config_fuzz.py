"""Random YAML documents and random bytes through the config loader: only ConfigError comes out.

Budget: 300 random byte strings, 300 random documents built from the board's own keys, values of
every YAML type, anchors and aliases, and 300 valid boards with one value replaced by such a document
(hypothesis, no deadline).
"""

from __future__ import annotations

import string
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.api.errors import ConfigError
from harness.config import parse_config, read_yaml

KEYS = ["name", "dataset", "scenarios", "strategies", "seeds", "device", "output", "backbone", "executor", "max_jobs",
        "kind", "base_classes", "increment", "shots", "ways", "label", "grid", "metric", "test_fraction", "class_order"]
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=True, allow_infinity=True),
    st.text(string.printable, max_size=12), st.sampled_from(["digits", "cil", "fscil", "ncd", "cgcd", "nmc", "cpu", "cuda", "auto"]),
)
documents = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=5), st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=5), inner, max_size=6)),
    max_leaves=30,
)
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def _load_and_parse(path: Path) -> None:
    try:
        parse_config(read_yaml(path), source=path, output=path.parent / "out")
    except ConfigError:
        pass


@SETTINGS
@given(blob=st.binary(max_size=400))
def test_random_bytes(tmp_path_factory, blob):
    path = tmp_path_factory.mktemp("fuzz") / "board.yaml"
    path.write_bytes(blob)
    _load_and_parse(path)


@SETTINGS
@given(document=documents, anchors=st.booleans())
def test_random_documents(tmp_path_factory, document, anchors):
    text = yaml.safe_dump(document, allow_unicode=True)
    if anchors and isinstance(document, dict) and document:
        key = next(iter(document))
        text = f"shared: &s {yaml.safe_dump(document[key], default_flow_style=True).strip() or 'null'}\n" + text + "again: *s\n"
    path = tmp_path_factory.mktemp("fuzz") / "board.yaml"
    path.write_text(text, encoding="utf-8")
    _load_and_parse(path)


VALID = {
    "name": "fuzz",
    "dataset": {"name": "digits", "test_fraction": 0.3},
    "scenarios": [{"kind": "cil", "base_classes": 4, "increment": 2}, {"kind": "fscil", "base_classes": 4, "ways": 2, "shots": 5},
                  {"kind": "ncd", "known_classes": 5}, {"kind": "cgcd", "old_classes": 4, "stages": 3}],
    "strategies": [{"name": "nmc", "grid": {"metric": ["cosine", "euclidean"]}}, {"name": "fetril", "backbone": {"arch": "small_cnn"}}],
    "seeds": [0, 1],
    "device": "cpu",
}


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, (*prefix, i))


PATHS = [p for p in _paths(VALID) if p]


@SETTINGS
@given(where=st.sampled_from(PATHS), value=documents)
def test_one_value_of_a_valid_board_replaced(tmp_path_factory, where, value):
    import copy

    board = copy.deepcopy(VALID)
    node = board
    for part in where[:-1]:
        node = node[part]
    node[where[-1]] = value
    path = tmp_path_factory.mktemp("fuzz") / "board.yaml"
    path.write_text(yaml.safe_dump(board, allow_unicode=True), encoding="utf-8")
    _load_and_parse(path)
