"""avalanche-lib strategies through owlbench: every one runs; each equals the same avalanche code run by
hand on the exported benchmark; reruns and the process executor agree byte for byte; without the
extra a board naming one is a config error; nothing else imports avalanche."""

import json
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from torch import nn

from harness.cli import main

ROOT = Path(__file__).resolve().parents[2]
NAMES = ["naive", "cumulative", "lwf", "ewc", "si", "replay", "gdumb", "der", "agem", "icarl", "slda"]
SCENARIOS = [{"kind": "cil", "base_classes": 4, "increment": 2}, {"kind": "fscil", "base_classes": 4, "ways": 2, "shots": 5}]


def _board(tmp_path: Path, strategies: list[dict], seeds=(1,), name="av") -> Path:
    path = tmp_path / f"{name}.yaml"
    board = {"name": name, "dataset": "digits", "scenarios": SCENARIOS, "strategies": strategies, "seeds": list(seeds), "device": "cpu"}
    path.write_text(yaml.safe_dump(board))
    return path


def _jobs(board_dir: Path) -> dict[tuple[str, str, int], dict]:
    out = {}
    for config_path in board_dir.glob("*/config.json"):
        config = json.loads(config_path.read_text())
        metrics = json.loads((config_path.parent / "metrics.json").read_text())
        out[(config["scenario"]["label"], config["strategy"]["label"], config["seed"])] = {"config": config, "metrics": metrics}
    return out


def test_import_of_the_strategies_and_the_list_do_not_import_avalanche(tmp_path):
    board = _board(tmp_path, [{"name": "nmc"}], name="plain")
    code = (
        "import sys; from harness.cli import main; "
        "assert main(['list', 'strategies']) == 0; "
        f"assert main(['run', {str(board)!r}, '--output', {str(tmp_path / 'out')!r}, '--quiet']) == 0; "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] == 'avalanche'); assert not bad, bad; print('clean')"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert "avalanche-icarl" in result.stdout and "clean" in result.stdout


def test_a_board_naming_one_without_the_extra_is_a_config_error(tmp_path, monkeypatch, capsys):
    import harness.components.avalanche_strategy as bridge

    monkeypatch.setattr(bridge, "avalanche_missing", lambda: "needs the optional avalanche-lib, which is not installed: pip install -e '.[avalanche]'")
    board = _board(tmp_path, [{"name": "nmc"}, {"name": "avalanche-replay"}])
    assert main(["run", str(board), "--output", str(tmp_path / "out"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "strategies[1].name" in err and "pip install -e '.[avalanche]'" in err
    assert not (tmp_path / "out").exists()


avalanche = pytest.importorskip("avalanche", reason="the optional avalanche extra is not installed (pip install -e '.[avalanche]')")


def test_every_avalanche_strategy_runs_cil_and_fscil(tmp_path):
    strategies = [{"name": f"avalanche-{n}", "epochs": 1} for n in NAMES]
    board = _board(tmp_path, strategies)
    assert main(["run", str(board), "--output", str(tmp_path / "out"), "--quiet"]) == 0
    jobs = _jobs(tmp_path / "out/av")
    assert len(jobs) == 2 * len(NAMES)
    from importlib import metadata

    for (scenario, strategy, _), job in jobs.items():
        assert job["config"]["versions"]["avalanche-lib"] == metadata.version("avalanche-lib")
        last = job["metrics"]["summary"]["last_accuracy"]
        assert 0.0 <= last <= 1.0, (scenario, strategy)
        assert strategy == "avalanche-slda" or job["metrics"]["training"], f"{strategy} logged no epoch"
    # naive fine-tuning forgets the earlier classes (it predicts the last step's); the joint bound does not
    last = {k[1]: v["metrics"]["summary"]["last_accuracy"] for k, v in jobs.items() if k[0] == "cil"}
    assert last["avalanche-naive"] < 0.3 and last["avalanche-cumulative"] > last["avalanche-naive"] + 0.3


def _seeded(seed):
    torch.manual_seed(seed)
    random.seed(seed)
    np.random.seed(seed)


def _by_hand(name: str, benchmark, seed: int, epochs: int) -> list[list[float]]:
    """The avalanche strategy written out with avalanche's own classes, trained on the exported
    benchmark under the documented seeds, evaluated on its test stream over the classes seen."""
    from avalanche.models import IncrementalClassifier
    from avalanche.training import DER, ICaRL, Naive, StreamingLDA
    from avalanche.training.plugins import EvaluationPlugin

    from harness.training.networks import MLP

    common = dict(train_mb_size=32, train_epochs=epochs, eval_mb_size=256, evaluator=EvaluationPlugin(loggers=[]))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if name == "slda":
            template = StreamingLDA(slda_model=nn.Flatten(), criterion=nn.CrossEntropyLoss(), input_size=64, num_classes=10, **common)
            outputs = lambda x: template.predict(template.model(x))  # noqa: E731
        elif name == "icarl":
            features, classifier = MLP((1, 8, 8), 128, 2), nn.Linear(128, 10)
            optimizer = torch.optim.SGD([*features.parameters(), *classifier.parameters()], lr=0.01, momentum=0.9)
            template = ICaRL(feature_extractor=features, classifier=classifier, optimizer=optimizer, memory_size=2000,
                             buffer_transform=None, fixed_memory=True, **common)
            outputs = lambda x: template.model(x)  # noqa: E731
        else:
            features = MLP((1, 8, 8), 128, 2)
            head = nn.Linear(128, 10) if name == "der" else IncrementalClassifier(128, initial_out_features=2)
            model = nn.Sequential(features, head)
            optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
            template = (DER if name == "der" else Naive)(model=model, optimizer=optimizer, criterion=nn.CrossEntropyLoss(), **common)
            outputs = lambda x: template.model(x)  # noqa: E731
    matrix = []
    for i, experience in enumerate(benchmark.train_stream):
        with torch.random.fork_rng(devices=[]):
            _seeded(seed * 1000 + i)
            template.train(experience)
        seen = torch.tensor(experience.classes_seen_so_far)
        template.model.eval()
        row = []
        with torch.no_grad():
            for test in benchmark.test_stream[: i + 1]:
                x = torch.stack([test.dataset[k][0] for k in range(len(test.dataset))])
                y = torch.tensor(list(test.dataset.targets))
                predicted = seen[outputs(x)[:, seen].argmax(1)]
                row.append(int((predicted == y).sum()) / len(y))
        matrix.append(row + [None] * (len(benchmark.train_stream) - i - 1))
    return matrix


@pytest.mark.parametrize("name", ["naive", "der", "icarl", "slda"])
@pytest.mark.filterwarnings("ignore:No loggers specified")
def test_through_owlbench_equals_the_strategy_run_by_hand_on_the_export(tmp_path, name):
    from harness.interop.avalanche_benchmark import benchmark_from_board

    board = _board(tmp_path, [{"name": f"avalanche-{name}", "epochs": 2}], seeds=(2,))
    assert main(["run", str(board), "--output", str(tmp_path / "out"), "--quiet"]) == 0
    jobs = _jobs(tmp_path / "out/av")
    for scenario in ("cil", "fscil"):
        by_hand = _by_hand(name, benchmark_from_board(board, scenario, 2), seed=2, epochs=2)
        assert jobs[(scenario, f"avalanche-{name}", 2)]["metrics"]["accuracy_matrix"] == by_hand, scenario


def test_reruns_and_the_process_executor_give_identical_leaderboards(tmp_path):
    strategies = [{"name": "avalanche-replay", "epochs": 1}, {"name": "avalanche-icarl", "epochs": 1}, {"name": "avalanche-lwf", "epochs": 1}]
    board = _board(tmp_path, strategies, seeds=(0, 1))
    assert main(["run", str(board), "--output", str(tmp_path / "a"), "--quiet"]) == 0
    first = (tmp_path / "a/av/leaderboard.csv").read_bytes()
    assert main(["run", str(board), "--output", str(tmp_path / "a"), "--quiet", "--rerun"]) == 0
    assert (tmp_path / "a/av/leaderboard.csv").read_bytes() == first
    assert main(["run", str(board), "--output", str(tmp_path / "b"), "--quiet", "--workers", "2"]) == 0
    assert (tmp_path / "b/av/leaderboard.csv").read_bytes() == first


def _si_importance(strategy_cls, params):
    from harness.api.experience import Experience
    from harness.api.strategy import StrategyContext
    from harness.datasets.digits import DigitsParams
    from harness.datasets.loading import load_dataset

    data = load_dataset("digits", DigitsParams())
    strategy = strategy_cls(params, StrategyContext(torch.device("cpu"), 0, (1, 8, 8), 10))
    for i, classes in enumerate([[0, 1, 2, 3], [4, 5]]):
        mask = torch.isin(data.train_y, torch.tensor(classes))
        strategy.learn(Experience(i, "cil", data.train_x[mask], data.train_y[mask], tuple(classes), tuple(range(4 + 2 * i))))
    return strategy


@pytest.mark.filterwarnings("ignore")
def test_synaptic_intelligence_is_repaired_on_the_cpu(monkeypatch):
    """avalanche's own SI plugin snapshots CPU weights as views: its importance stays 0 and it trains as
    naive; the repaired one has a positive, bounded importance and a penalty that changes training."""
    from avalanche.training.plugins import SynapticIntelligencePlugin

    from harness.components.avalanche_strategy import AvalancheParams
    from strategies.avalanche_baselines import AvalancheNaive, AvalancheSI, SIParams

    si = _si_importance(AvalancheSI, SIParams(epochs=1, si_lambda=1e4))
    plugin = next(p for p in si.template.plugins if isinstance(p, SynapticIntelligencePlugin))
    importance = torch.cat([entry.data for entry in plugin.ewc_data[1].values()])
    assert importance.min() >= 0 and importance.max() <= 0.001 and importance.max() > 0
    naive = _si_importance(AvalancheNaive, AvalancheParams(epochs=1))
    assert si.training_log()[-1]["train_loss"] != naive.training_log()[-1]["train_loss"]
    # the upstream plugin alone, on the same data: no importance at all
    import harness.components.avalanche_strategy as bridge

    monkeypatch.setattr(bridge, "repair_template", lambda template: None)
    plain = _si_importance(AvalancheSI, SIParams(epochs=1, si_lambda=1e4))
    plain_plugin = next(p for p in plain.template.plugins if isinstance(p, SynapticIntelligencePlugin))
    assert all(float(entry.data.abs().sum()) == 0 for entry in plain_plugin.ewc_data[1].values())
    assert plain.training_log()[-1]["train_loss"] == naive.training_log()[-1]["train_loss"]
