"""The fork server of the ``process`` executor: when the command line starts it early, and what it preloads."""

import subprocess
import sys

import pytest

from harness.executors.forkserver import board_uses_forkserver


@pytest.mark.parametrize(
    "yaml_executor, override, expected",
    [
        (None, None, False),  # default: local
        ("local", None, False),
        ("process", None, True),
        ({"name": "process", "workers": 2}, None, True),
        ({"name": "process", "start_method": "spawn"}, None, False),
        ({"name": "process", "start_method": "spawn"}, {"name": "process", "workers": 2}, False),  # YAML's parameters kept
        ("local", {"name": "process", "workers": 2}, True),  # --workers 2
        ("process", {"name": "local"}, False),  # --executor local
        ({"name": "ray"}, None, False),
    ],
)
def test_board_uses_forkserver(tmp_path, yaml_executor, override, expected):
    import yaml

    board = {"name": "b", "dataset": "digits"}
    if yaml_executor is not None:
        board["executor"] = yaml_executor
    path = tmp_path / "board.yaml"
    path.write_text(yaml.safe_dump(board))
    assert board_uses_forkserver(path, override) is expected


def test_unreadable_or_malformed_board_is_left_to_the_config_check(tmp_path):
    assert board_uses_forkserver(tmp_path / "missing.yaml", None) is False
    bad = tmp_path / "bad.yaml"
    bad.write_text("executor: [unclosed")
    assert board_uses_forkserver(bad, None) is False


def test_registering_the_builtins_does_not_run_the_worker_warm_up():
    # load_builtins imports every public module of harness.executors; the warm-up must not be one
    code = (
        "import sys; from harness.api.registry import load_builtins; load_builtins(); "
        "assert 'harness.executors._worker_warmup' not in sys.modules; "
        "assert 'torch._dynamo' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
