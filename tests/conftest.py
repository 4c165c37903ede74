import pytest

from harness.api.registry import load_builtins

load_builtins()


@pytest.fixture
def digits():
    from harness.datasets.loading import load_dataset
    from harness.datasets.digits import DigitsParams

    return load_dataset("digits", DigitsParams())


@pytest.fixture(scope="session")
def feature_cache_dir(tmp_path_factory):
    """One feature cache for the whole test session, so MiniLM encodes each test text set once."""
    return tmp_path_factory.mktemp("feature-cache")


@pytest.fixture
def shared_cache(feature_cache_dir, monkeypatch):
    from harness.backbones.feature_cache import ENV_DIR

    monkeypatch.setenv(ENV_DIR, str(feature_cache_dir))
    return feature_cache_dir
