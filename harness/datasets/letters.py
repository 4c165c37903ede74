"""LetterRecognition (UCI; Frey & Slate, 1991): 20,000 letter images described by 16 integer
features, 26 classes A..Z.  Read from the R package mlbench as Debian ships it (``r-cran-mlbench``),
with the pure-Python package ``rdata``; nothing is downloaded at run time.

Fetch the data once (no installation of R needed)::

    d="${OWLBENCH_DATA_DIR:-$HOME/.cache/owlbench/data}/mlbench"; mkdir -p "$d" && cd "$d" \\
        && apt-get download r-cran-mlbench && dpkg -x r-cran-mlbench_*.deb .

The file is looked up in ``<root>/mlbench/`` (the extracted package; ``root`` defaults to
``$OWLBENCH_DATA_DIR``, see :mod:`harness.datasets.paths`), then in the system R library
(``/usr/lib/R/site-library``) where ``r-cran-mlbench`` is installed.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
from pydantic import Field

from harness.api.dataset import Dataset, DatasetSource
from harness.datasets.paths import data_dir
from harness.api.params import Params
from harness.api.registry import DATASETS
from harness.datasets.splits import stratified_split

RDA_IN_PACKAGE = Path("usr/lib/R/site-library/mlbench/data/LetterRecognition.rda")
FETCH_HINT = (
    "fetch it with: d=\"${OWLBENCH_DATA_DIR:-$HOME/.cache/owlbench/data}/mlbench\"; mkdir -p \"$d\" && cd \"$d\" && "
    "apt-get download r-cran-mlbench && dpkg -x r-cran-mlbench_*.deb ."
)


class LettersParams(Params):
    test_fraction: float = Field(0.3, gt=0.0, lt=1.0, description="share of each class held out for testing")
    split_seed: int = Field(0, ge=0, description="seed of the train/test split (fixed across run seeds)")
    standardize: bool = Field(True, description="subtract the training mean and divide by the training std, per feature")
    root: str | None = Field(None, description="data folder holding mlbench/, the extracted r-cran-mlbench (default $OWLBENCH_DATA_DIR)")


def candidate_files(root: str | None) -> list[Path]:
    return [data_dir(root) / "mlbench" / RDA_IN_PACKAGE, Path("/") / RDA_IN_PACKAGE]


def find_rda(root: str | None = None) -> Path:
    for path in candidate_files(root):
        if path.is_file():
            return path
    raise FileNotFoundError(f"LetterRecognition.rda not found (looked in {', '.join(map(str, candidate_files(root)))}); {FETCH_HINT}")


def read_letters(path: Path) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Features ``(20000, 16)`` float32, labels 0..25 and the class names, from the mlbench ``.rda``."""
    try:
        import rdata
    except ImportError:
        raise ImportError("the LetterRecognition dataset needs the package 'rdata': pip install 'owlbench[letters]'") from None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "Unknown encoding. Assumed ASCII." (the file is ASCII)
        frame = rdata.read_rda(str(path))["LetterRecognition"]
    letters = frame["lettr"]
    names = tuple(str(c) for c in letters.cat.categories)
    x = frame.drop(columns=["lettr"]).to_numpy(dtype=np.float32)
    return x, letters.cat.codes.to_numpy().astype(np.int64), names


@DATASETS.register("letters")
class LetterRecognition(DatasetSource):
    """16 integer features per letter image, 26 classes; stratified split fixed by ``split_seed``,
    features standardised with training statistics (as in the tabular NCD literature)."""

    Params = LettersParams

    def load(self, params: LettersParams) -> Dataset:
        x, y, names = read_letters(find_rda(params.root))
        train_idx, test_idx = stratified_split(y, params.test_fraction, params.split_seed)
        if params.standardize:
            mean, std = x[train_idx].mean(0), x[train_idx].std(0)
            x = (x - mean) / np.where(std > 0, std, 1.0)
        x_t, y_t = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)), torch.from_numpy(y)
        return Dataset("letters", x_t[train_idx], y_t[train_idx], x_t[test_idx], y_t[test_idx], names)
