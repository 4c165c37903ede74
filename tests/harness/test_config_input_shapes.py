"""A network that needs images, on a board that gives vectors, is refused before anything runs."""

import pytest
import torch

from harness.config import parse_config
from harness.api.dataset import Dataset, DatasetSource
from harness.api.errors import ConfigError
from harness.api.registry import DATASETS
from strategies.fetril import FeTrIL, FeTrILParams


@DATASETS.register("test-vectors")
class _Vectors(DatasetSource):
    """Six 4-d vectors of two classes (a test fixture)."""

    def load(self, params) -> Dataset:
        x = torch.arange(24, dtype=torch.float32).reshape(6, 4)
        y = torch.tensor([0, 0, 0, 1, 1, 1])
        return Dataset("test-vectors", x, y, x, y, ("a", "b"))


def _board(strategy: dict) -> dict:
    return {
        "name": "shapes",
        "dataset": "test-vectors",
        "scenarios": [{"kind": "cil", "base_classes": 1, "increment": 1}],
        "strategies": [strategy],
        "device": "cpu",
    }


@pytest.mark.parametrize(
    "strategy, field",
    [
        ({"name": "fetril"}, "strategies[0].backbone.arch"),
        ({"name": "teen", "backbone": {"arch": "resnet"}}, "strategies[0].backbone.arch"),
        ({"name": "napa-vq"}, "strategies[0].arch"),
    ],
)
def test_image_networks_on_vectors_are_refused(strategy, field):
    with pytest.raises(ConfigError) as info:
        parse_config(_board(strategy))
    assert info.value.path == field
    assert "needs image inputs" in info.value.message and "use mlp or identity" in info.value.message


def test_vector_networks_are_accepted():
    parse_config(_board({"name": "fetril", "backbone": {"arch": "mlp"}}))
    parse_config(_board({"name": "napa-vq", "arch": "mlp"}))


def test_backbone_features_count_as_vectors():
    problem = FeTrIL.input_problem(FeTrILParams(), (-1,))
    assert problem[0] == "backbone.arch" and "feature vectors" in problem[1]
    assert FeTrIL.input_problem(FeTrILParams(), (1, 8, 8)) is None
