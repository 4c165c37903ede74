"""LetterRecognition from the r-cran-mlbench files (skipped when the package rdata or the data is absent)."""

import importlib.util

import numpy as np
import pytest

from harness.datasets.letters import FETCH_HINT, LettersParams, find_rda

if importlib.util.find_spec("rdata") is None:
    pytest.skip("LetterRecognition needs the optional package 'rdata' (pip install 'owlbench[letters]')", allow_module_level=True)
try:
    find_rda()
except FileNotFoundError:
    pytest.skip(f"LetterRecognition data (Debian package r-cran-mlbench) not found; {FETCH_HINT}", allow_module_level=True)


def test_letters_loads_26_classes_standardised():
    from harness.datasets.loading import load_dataset

    data = load_dataset("letters", LettersParams())
    assert data.class_names == tuple("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    assert len(data.train_x) + len(data.test_x) == 20_000 and data.train_x.shape[1] == 16
    assert np.allclose(data.train_x.mean(0).numpy(), 0, atol=1e-4) and np.allclose(data.train_x.std(0, unbiased=False).numpy(), 1, atol=1e-4)
    counts = data.test_counts() / (data.train_counts() + data.test_counts())
    assert np.allclose(counts, 0.3, atol=0.002)  # stratified 70/30
    raw = load_dataset("letters", LettersParams(standardize=False))
    assert raw.train_x.min() >= 0 and raw.train_x.max() <= 15 and np.array_equal(raw.train_x, raw.train_x.round())


def test_letters_missing_data_dir_says_how_to_fetch(tmp_path):
    from pathlib import Path

    from harness.datasets.letters import RDA_IN_PACKAGE

    if (Path("/") / RDA_IN_PACKAGE).is_file():
        pytest.skip("r-cran-mlbench is installed system-wide: the data is always found")
    with pytest.raises(FileNotFoundError, match="apt-get download r-cran-mlbench"):
        find_rda(str(tmp_path))
