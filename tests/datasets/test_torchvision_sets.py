"""torchvision-backed sets: a missing download is one clear error naming the way out."""

import pytest

from harness.datasets.torchvision_sets import CIFAR100, TorchvisionParams
from harness.api.errors import ConfigError


def test_missing_files_without_download_explain_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match="download: true"):
        CIFAR100().load(TorchvisionParams(root=str(tmp_path)))


def test_config_reports_the_missing_dataset_at_the_dataset_field(tmp_path):
    from harness.config import parse_config

    board = {
        "name": "b",
        "dataset": {"name": "cifar100", "root": str(tmp_path)},
        "scenarios": [{"kind": "cil", "base_classes": 50, "increment": 10}],
        "strategies": ["nmc"],
    }
    with pytest.raises(ConfigError) as err:
        parse_config(board)
    assert err.value.path == "dataset" and "download: true" in err.value.message
