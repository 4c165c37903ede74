"""LetterRecognition (UCI; Frey & Slate, 1991): 20,000 letter images described by 16 integer
features, 26 classes A..Z.  Read from the R package mlbench as Debian ships it (``r-cran-mlbench``),
with the pure-Python package ``rdata``; nothing is downloaded at run time.

Fetch the data once (no installation of R needed)::

    mkdir -p ~/.cache/owlbench/mlbench && cd ~/.cache/owlbench/mlbench \\
        && apt-get download r-cran-mlbench && dpkg -x r-cran-mlbench_*.deb .

The file is looked up under ``data_dir`` when given, else ``$OWLBENCH_MLBENCH_DIR``, else
``~/.cache/owlbench/mlbench``, each as the root of the extracted package, and finally in the system
R library (``/usr/lib/R/site-library``) where ``r-cran-mlbench`` is installed.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import torch
from pydantic import Field

from harness.datasets.base import Dataset, DatasetSource
from harness.params import Params
from harness.registry import DATASETS
from harness.splits import stratified_split

RDA_IN_PACKAGE = Path("usr/lib/R/site-library/mlbench/data/LetterRecognition.rda")
FETCH_HINT = (
    "fetch it with: mkdir -p ~/.cache/owlbench/mlbench && cd ~/.cache/owlbench/mlbench && "
    "apt-get download r-cran-mlbench && dpkg -x r-cran-mlbench_*.deb ."
)


class LettersParams(Params):
    test_fraction: float = Field(0.3, gt=0.0, lt=1.0, description="share of each class held out for testing")
    split_seed: int = Field(0, ge=0, description="seed of the train/test split (fixed across run seeds)")
    standardize: bool = Field(True, description="subtract the training mean and divide by the training std, per feature")
    data_dir: str | None = Field(None, description="root of the extracted r-cran-mlbench package (see the module docstring)")


def candidate_files(data_dir: str | None) -> list[Path]:
    roots = [data_dir] if data_dir else [os.environ.get("OWLBENCH_MLBENCH_DIR"), "~/.cache/owlbench/mlbench"]
    files = [Path(r).expanduser() / RDA_IN_PACKAGE for r in roots if r]
    if not data_dir:
        files.append(Path("/") / RDA_IN_PACKAGE)
    return files


def find_rda(data_dir: str | None = None) -> Path:
    for path in candidate_files(data_dir):
        if path.is_file():
            return path
    raise FileNotFoundError(f"LetterRecognition.rda not found (looked in {', '.join(map(str, candidate_files(data_dir)))}); {FETCH_HINT}")


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
        x, y, names = read_letters(find_rda(params.data_dir))
        train_idx, test_idx = stratified_split(y, params.test_fraction, params.split_seed)
        if params.standardize:
            mean, std = x[train_idx].mean(0), x[train_idx].std(0)
            x = (x - mean) / np.where(std > 0, std, 1.0)
        x_t, y_t = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)), torch.from_numpy(y)
        return Dataset("letters", x_t[train_idx], y_t[train_idx], x_t[test_idx], y_t[test_idx], names)
