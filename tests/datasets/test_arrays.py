"""The ``arrays`` dataset on files the tests write, in every format, and one bad file per kind of problem."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from harness.cli import main
from harness.datasets.arrays import Arrays, ArraysParams

N_CLASSES, PER_CLASS, DIM = 6, 10, 5


def _data(seed: int = 0):
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(N_CLASSES), PER_CLASS)
    x = (rng.normal(size=(len(y), DIM)) + 4 * y[:, None]).astype(np.float32)
    return x, y


def _load(**params):
    return Arrays().load(ArraysParams(**params))


def _write(tmp_path, fmt: str, x, y, stem: str = "train") -> dict:
    """Write one split in ``fmt``; the dataset params that read it."""
    if fmt == "npz":
        np.savez(tmp_path / f"{stem}.npz", x=x, y=y)
        return {stem: str(tmp_path / f"{stem}.npz")}
    if fmt == "npy":
        np.save(tmp_path / f"{stem}_x.npy", x)
        np.save(tmp_path / f"{stem}_y.npy", y)
        return {stem: str(tmp_path / f"{stem}_x.npy"), f"{stem}_labels": str(tmp_path / f"{stem}_y.npy")}
    if fmt == "safetensors":
        from safetensors.numpy import save_file

        save_file({"x": x, "y": y}, str(tmp_path / f"{stem}.safetensors"))
        return {stem: str(tmp_path / f"{stem}.safetensors")}
    frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(x.shape[1])]).assign(label=y)
    if fmt == "parquet":
        pytest.importorskip("pyarrow")
        frame.to_parquet(tmp_path / f"{stem}.parquet")
        return {stem: str(tmp_path / f"{stem}.parquet")}
    frame.to_csv(tmp_path / f"{stem}.csv", index=False)
    return {stem: str(tmp_path / f"{stem}.csv")}


@pytest.mark.parametrize("fmt", ["npz", "npy", "safetensors", "parquet", "csv"])
def test_every_format_reads_the_same_arrays(tmp_path, fmt):
    x, y = _data()
    xt, yt = _data(1)
    data = _load(**_write(tmp_path, fmt, x, y), **_write(tmp_path, fmt, xt, yt, "test"))
    assert np.allclose(data.train_x.numpy(), x, atol=1e-6) and data.train_y.tolist() == y.tolist()
    assert np.allclose(data.test_x.numpy(), xt, atol=1e-6) and data.test_y.tolist() == yt.tolist()
    assert data.class_names == tuple(str(c) for c in range(N_CLASSES)) and data.train_x.dtype.is_floating_point


def test_one_file_is_split_stratified_and_seeded(tmp_path):
    x, y = _data()
    params = _write(tmp_path, "npz", x, y)
    a, b, c = _load(**params), _load(**params), _load(**params, split_seed=1)
    assert a.train_x.shape == (48, DIM) and a.test_x.shape == (12, DIM)
    assert np.bincount(a.test_y.numpy()).tolist() == [2] * N_CLASSES  # 20 % of each class
    assert a.test_x.numpy().tobytes() == b.test_x.numpy().tobytes()
    assert a.test_x.numpy().tobytes() != c.test_x.numpy().tobytes()


def test_string_labels_and_class_names(tmp_path):
    x, y = _data()
    names = np.array(["cat", "dog", "eel", "fox", "gnu", "hen"])
    frame = pd.DataFrame(x).rename(columns=str).assign(label=names[y])
    frame.to_csv(tmp_path / "train.csv", index=False)
    frame.iloc[::-1].to_csv(tmp_path / "test.csv", index=False)
    data = _load(train=str(tmp_path / "train.csv"), test=str(tmp_path / "test.csv"))
    assert data.class_names == tuple(names) and data.test_y.tolist() == y[::-1].tolist()
    named = _load(**_write(tmp_path, "npz", x, y), class_names=list(names))
    assert named.class_names == tuple(names)


def _bad(tmp_path, name, **arrays):
    np.savez(tmp_path / name, **arrays)
    return str(tmp_path / name)


@pytest.mark.parametrize(
    "case, needle",
    [
        ("missing file", "does not exist"),
        ("wrong suffix", "give a .npz"),
        ("missing key", "no array 'x' (features_key)"),
        ("one-dimensional features", "2 to 4 dimensions"),
        ("text features", "features must be numeric"),
        ("non-finite", "non-finite feature values"),
        ("length mismatch", "60 feature rows but 59 labels"),
        ("fractional labels", "labels must be integers or strings"),
        ("class of one sample", "each class needs 2"),
        ("test shape", "per sample, training ones"),
        ("unknown test label", "do not occur in the training split"),
        ("missing column", "no column 'label' (label_column)"),
        ("text column", "is not numeric"),
        ("npy without labels", "give train_labels"),
        ("class names count", "class_names lists 2 names"),
    ],
)
def test_each_problem_gets_one_clear_error(tmp_path, case, needle):
    x, y = _data()
    good = _bad(tmp_path, "good.npz", x=x, y=y)
    params = {
        "missing file": lambda: {"train": str(tmp_path / "absent.npz")},
        "wrong suffix": lambda: {"train": _txt(tmp_path)},
        "missing key": lambda: {"train": _bad(tmp_path, "b.npz", features=x, y=y)},
        "one-dimensional features": lambda: {"train": _bad(tmp_path, "b.npz", x=x[:, 0], y=y)},
        "text features": lambda: {"train": _bad(tmp_path, "b.npz", x=x.astype(str), y=y)},
        "non-finite": lambda: {"train": _bad(tmp_path, "b.npz", x=np.where(np.arange(x.size).reshape(x.shape) == 7, np.inf, x), y=y)},
        "length mismatch": lambda: {"train": _bad(tmp_path, "b.npz", x=x, y=y[:-1])},
        "fractional labels": lambda: {"train": _bad(tmp_path, "b.npz", x=x, y=y + 0.5)},
        "class of one sample": lambda: {"train": _bad(tmp_path, "b.npz", x=x[: PER_CLASS * 5 + 1], y=y[: PER_CLASS * 5 + 1])},
        "test shape": lambda: {"train": good, "test": _bad(tmp_path, "t.npz", x=x[:, :3], y=y)},
        "unknown test label": lambda: {"train": good, "test": _bad(tmp_path, "t.npz", x=x, y=y + 1)},
        "missing column": lambda: {"train": _csv(tmp_path, pd.DataFrame(x).rename(columns=str).assign(cls=y))},
        "text column": lambda: {"train": _csv(tmp_path, pd.DataFrame(x).rename(columns=str).assign(note="a", label=y))},
        "npy without labels": lambda: {"train": _npy(tmp_path, x)},
        "class names count": lambda: {"train": good, "class_names": ["a", "b"]},
    }[case]()
    with pytest.raises(ValueError) as caught:
        _load(**params)
    assert needle in str(caught.value), str(caught.value)


def _csv(tmp_path, frame) -> str:
    frame.to_csv(tmp_path / "b.csv", index=False)
    return str(tmp_path / "b.csv")


def _txt(tmp_path) -> str:
    (tmp_path / "a.txt").write_text("1 2 3\n")
    return str(tmp_path / "a.txt")


def _npy(tmp_path, x) -> str:
    np.save(tmp_path / "b.npy", x)
    return str(tmp_path / "b.npy")


def test_a_board_on_arrays_runs_and_a_bad_file_exits_2(tmp_path, capsys):
    x, y = _data()
    board = {
        "name": "own-arrays", "dataset": {"name": "arrays", **_write(tmp_path, "npz", x, y)},
        "scenarios": [{"kind": "cil", "base_classes": 2, "increment": 2}], "strategies": ["nmc"], "seeds": [0], "device": "cpu",
    }
    config = tmp_path / "board.yaml"
    config.write_text(yaml.safe_dump(board))
    assert main(["run", str(config), "--output", str(tmp_path / "out"), "--quiet"]) == 0
    assert (tmp_path / "out" / "own-arrays" / "leaderboard.csv").is_file()
    board["dataset"]["train"] = _bad(tmp_path, "nan.npz", x=np.full_like(x, np.nan), y=y)
    config.write_text(yaml.safe_dump(board))
    capsys.readouterr()
    assert main(["run", str(config), "--output", str(tmp_path / "out2"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "dataset: cannot load 'arrays'" in err[0] and "non-finite" in err[0], err
    assert not (tmp_path / "out2").exists()


def test_the_readme_example_runs_as_written(tmp_path):
    """The three lines of the README's 'Your own data' example, run in an empty folder."""
    import os
    import re
    import subprocess
    import sys
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    block = re.search(r"Your own data, in three lines.*?```bash\n(.*?)```", readme, flags=re.S).group(1)
    lines = block.strip().splitlines()
    assert len(lines) == 3 and lines[-1] == "owlbench run iris.yaml"
    lines[0] = lines[0].replace("python -c", f"{sys.executable} -c", 1)
    lines[-1] = f"{sys.executable} -m harness.cli run iris.yaml --quiet"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    done = subprocess.run(["bash", "-c", "\n".join(["set -e", *lines])], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    table = pd.read_csv(tmp_path / "results" / "iris" / "leaderboard.csv")
    assert list(table["strategy"]) == ["nmc", "fetril"] and (table["seeds_done"] == 3).all()
