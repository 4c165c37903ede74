import pytest

from harness.registry import load_builtins

load_builtins()


@pytest.fixture
def digits():
    from harness.data_loading import load_dataset
    from harness.datasets.digits import DigitsParams

    return load_dataset("digits", DigitsParams())
