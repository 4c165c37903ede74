"""The job's torch threads: the harness's choice, an explicit setting, recorded in config.json, and
a board's numbers, its scorers' included, the same whatever the setting (networks train with their
own ``cpu_threads``, 1 by default: convolutions' gradients round differently with other thread
counts; scorers run on one BLAS thread); the BLAS limit itself."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from harness.cli import main
from harness.devices import SMALL_WORK, blas_threads, job_threads

QUICKSTART = Path(__file__).resolve().parents[2] / "leaderboards" / "quickstart.yaml"


def test_auto_gives_small_jobs_one_thread_and_large_ones_what_the_executor_gave():
    assert job_threads("auto", 8, SMALL_WORK - 1) == 1
    assert job_threads("auto", 8, SMALL_WORK) == 8
    assert job_threads("auto", 0, SMALL_WORK) == 1
    assert job_threads(3, 8, 10) == 3 and job_threads(1, 8, SMALL_WORK * 10) == 1


def test_blas_threads_are_limited_inside_the_block_and_restored_after():
    from threadpoolctl import threadpool_info

    import numpy  # noqa: F401  (loads the BLAS numpy calls)

    def blas() -> list[int]:
        return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]

    before = blas()
    with blas_threads(1):
        assert blas() and set(blas()) == {1}
    assert blas() == before
    with blas_threads(None):
        assert blas() == before


def _run(tmp_path: Path, threads) -> Path:
    config = yaml.safe_load(QUICKSTART.read_text())
    config.update(name="threads", seeds=[0], device="cpu", threads=threads)
    config["scenarios"] = config["scenarios"][:2]
    config["strategies"] = [
        {"name": "nmc"},
        {"name": "fetril", "svm_solver": "newton", "backbone": {"arch": "small_cnn", "width": 8, "depth": 1, "epochs": 1}},
        {"name": "teen", "backbone": {"arch": "small_cnn", "width": 8, "depth": 1, "epochs": 1}},  # trains with its cpu_threads (1)
    ]
    config["open_set"] = {"scorers": ["msp", {"name": "mahalanobis", "covariance": "per_class", "shrinkage": 0.5}, "relative_mahalanobis", "knn", "mixture"]}
    path = tmp_path / f"{threads}.yaml"
    path.write_text(yaml.safe_dump(config))
    assert main(["run", str(path), "--output", str(tmp_path / str(threads)), "--quiet"]) == 0
    return tmp_path / str(threads) / "threads"


def test_one_and_two_threads_give_the_same_board_and_the_setting_is_recorded(tmp_path):
    one, two, auto = _run(tmp_path, 1), _run(tmp_path, 2), _run(tmp_path, "auto")
    for name in ("leaderboard.csv", "steps.csv", "scorers.csv"):
        assert (one / name).read_bytes() == (two / name).read_bytes() == (auto / name).read_bytes(), name
    for folder in one.glob("*/done"):
        job = folder.parent.name
        assert _same_metrics(one / job, two / job), job
        assert json.loads((two / job / "config.json").read_text())["threads"] == {"setting": 2, "used": 2}
        assert json.loads((auto / job / "config.json").read_text())["threads"] == {"setting": "auto", "used": 1}  # digits: small


def _same_metrics(a: Path, b: Path) -> bool:
    ma, mb = (json.loads((p / "metrics.json").read_text()) for p in (a, b))
    return ma["summary"] == mb["summary"] and ma["steps"] == mb["steps"]


def test_scorers_run_on_one_blas_thread_whatever_the_job_has():
    from threadpoolctl import threadpool_info, threadpool_limits

    from harness.runner import score_step

    seen = []

    class Spy:
        needs_features, fitted = False, True

        def score(self, prediction, features):
            seen.append({pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"})
            return []

    with threadpool_limits(limits=2, user_api="blas"):
        score_step({"spy": Spy()}, None, False, None, None, None, None)
    assert seen == [{1}]
