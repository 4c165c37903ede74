"""Parameter grids: expansion order, labels, and clear errors."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.config import parse_config
from harness.api.errors import ConfigError
from harness.config.grid import combination_label, expand_grid, value_token

BASE = {
    "name": "g",
    "dataset": "digits",
    "scenarios": [{"kind": "cil", "base_classes": 4, "increment": 2}],
    "strategies": [{"name": "nmc"}],
    "seeds": [0],
    "device": "cpu",
}


def test_grid_expands_in_key_order_with_labels():
    combos = expand_grid({"metric": ["euclidean", "cosine"], "normalize_means": [True, False]}, {}, "nmc", "p")
    assert [c for c, _ in combos] == [
        {"metric": "euclidean", "normalize_means": True},
        {"metric": "euclidean", "normalize_means": False},
        {"metric": "cosine", "normalize_means": True},
        {"metric": "cosine", "normalize_means": False},
    ]
    assert [label for _, label in combos] == [
        "nmc.metric-euclidean.normalize_means-true",
        "nmc.metric-euclidean.normalize_means-false",
        "nmc.metric-cosine.normalize_means-true",
        "nmc.metric-cosine.normalize_means-false",
    ]


def test_value_tokens():
    assert value_token(3) == "3" and value_token(0.5) == "0.5" and value_token(None) == "none"
    assert value_token("a b").startswith("h") and len(value_token("a b")) == 7
    assert value_token("1") != "1" and value_token("true") != "true"  # strings never read as numbers or booleans
    assert value_token([1, 2]) != value_token([2, 1])  # list values (class orders) stay distinct


def test_long_label_is_shortened_by_hash():
    label = combination_label("x" * 60, {"class_order": [0, 1]})
    assert len(label) <= 64 and label.startswith("x" * 55 + ".")


def test_board_with_grids_on_strategy_and_list_typed_scenario_parameter():
    orders = [list(range(10)), list(range(9, -1, -1))]
    cfg = {
        **BASE,
        "scenarios": [{"kind": "cil", "base_classes": 4, "increment": 2, "grid": {"class_order": orders}}],
        "strategies": [{"name": "nmc", "metric": "cosine", "grid": {"normalize_means": [True, False]}}],
    }
    config = parse_config(cfg)
    assert [s.params.class_order for s in config.scenarios] == orders
    assert len({s.label for s in config.scenarios}) == 2
    assert [s.label for s in config.strategies] == ["nmc.normalize_means-true", "nmc.normalize_means-false"]
    assert all(s.params.metric == "cosine" for s in config.strategies)


@pytest.mark.parametrize(
    "grid, field, words",
    [
        ({"metric": "cosine"}, "strategies[0].grid.metric", "non-empty list"),
        ({"metric": []}, "strategies[0].grid.metric", "non-empty list"),
        ({"metric": ["cosine", "cosine"]}, "strategies[0].grid.metric", "twice"),
        ({"metric": ["cosine", "manhattan"]}, "strategies[0].grid.metric", "euclidean"),
        ({"colour": [1, 2]}, "strategies[0].grid.colour", "valid keys"),
        ([1, 2], "strategies[0].grid", "mapping"),
    ],
)
def test_grid_errors_name_the_field(grid, field, words):
    cfg = {**BASE, "strategies": [{"name": "nmc", "grid": grid}]}
    with pytest.raises(ConfigError) as info:
        parse_config(cfg)
    assert info.value.path == field and words in info.value.message


def test_parameter_both_fixed_and_in_grid_is_refused():
    cfg = {**BASE, "strategies": [{"name": "nmc", "metric": "cosine", "grid": {"metric": ["euclidean"]}}]}
    with pytest.raises(ConfigError, match="set it in one place"):
        parse_config(cfg)


@settings(max_examples=50, deadline=None)
@given(st.dictionaries(st.sampled_from("abcdef"), st.lists(st.one_of(st.integers(), st.text(max_size=5), st.booleans()), min_size=1, max_size=3, unique_by=repr), min_size=1, max_size=3))
def test_expansion_size_and_distinct_labels(grid):
    combos = expand_grid(grid, {}, "s", "p")
    size = 1
    for values in grid.values():
        size *= len(values)
    assert len(combos) == size
    assert len({label for _, label in combos}) == size
