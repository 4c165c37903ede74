"""FeTrIL and TEEN on an unlabeled step: discovered clusters become classes they predict."""

import pytest

from harness.config import parse_config
from harness.runner import execute
from harness.sweep import expand


@pytest.mark.parametrize("name", ["fetril", "teen"])
def test_ncd_on_digits(name):
    config = parse_config(
        {
            "name": "discover",
            "dataset": "digits",
            "scenarios": [{"kind": "ncd", "known_classes": 5}],
            "strategies": [{"name": name, "backbone": {"arch": "small_cnn", "width": 8, "depth": 1, "epochs": 2}}],
            "seeds": [0],
            "device": "cpu",
        }
    )
    record = execute(expand(config)[0], progress=False)
    summary = record["metrics"]["summary"]
    steps = record["metrics"]["steps"]
    assert steps[-1]["new_classes_estimated"] == steps[-1]["new_classes_true"] == 5
    # well above the 1/10 a random assignment would reach
    assert summary["last_clustering_accuracy"] > 0.4
