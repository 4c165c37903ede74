"""Every board under leaderboards/papers/ passes the config check and runs end to end on synthetic
stand-ins in the datasets' real layouts, shrunk with ``--set``; the reference columns appear.  The
numbers of these runs mean nothing and are never reported."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from harness.cli import main
from tests.leaderboards import stand_ins

ROOT = Path(__file__).resolve().parents[2]
PAPERS = sorted((ROOT / "leaderboards" / "papers").glob("*.yaml"))
pytest.importorskip("PIL", reason="the stand-in images need Pillow (the vision extra)")

TINY_CNN = ["backbone.epochs=1", "backbone.width=4", "backbone.batch_size=64"]
SHRINK = {
    # board stem: (stand-in datasets, --set overrides)
    "teen-cifar100": (["cifar100"], [f"strategies[0].{s}" for s in TINY_CNN] + ["strategies[0].backbone.resnet_blocks=[1, 1, 1]",
                      "scenarios[0].split=null", "scenarios[0].shots=2"]),
    "teen-mini-imagenet": (["mini-imagenet"], ["dataset.image_size=16", "strategies[0].backbone.epochs=1", "scenarios[0].split=null", "scenarios[0].shots=2"]),
    "teen-cub200": (["cub200", "resnet18"], ["dataset.image_size=16", "strategies[0].backbone.epochs=1", "scenarios[0].split=null",
                    "scenarios[0].shots=1", "strategies[0].backbone.init_weights={weights}/resnet18.pth"]),
    "fetril-cifar100-b50-5": (["cifar100"], [f"strategies[0].{s}" for s in TINY_CNN] + ["strategies[0].backbone.resnet_blocks=[1, 1, 1]"]),
    "fetril-cifar100-b50-10": (["cifar100"], [f"strategies[0].{s}" for s in TINY_CNN] + ["strategies[0].backbone.resnet_blocks=[1, 1, 1]"]),
    "fetril-cifar100-b40-20": (["cifar100"], [f"strategies[0].{s}" for s in TINY_CNN] + ["strategies[0].backbone.resnet_blocks=[1, 1, 1]"]),
    "napa-vq-cifar100-b50-5": (["cifar100"], ["strategies[0].epochs=1", "strategies[0].width=4", "strategies[0].resnet_blocks=[1, 1, 1, 1]"]),
    "napa-vq-cifar100-b50-10": (["cifar100"], ["strategies[0].epochs=1", "strategies[0].width=4", "strategies[0].resnet_blocks=[1, 1, 1, 1]"]),
    "ovor-cifar100-10x10": (["cifar100", "vit-small-input"], ["strategies[0].timm_model=vit_tiny_patch16_224",
                            "strategies[0].timm_kwargs={img_size: 32, depth: 2}", "strategies[0].weights={weights}/vit32.pth",
                            "strategies[0].epochs=1", "strategies[0].outlier_epochs=1", "strategies[0].batch_size=64"]),
    "ovor-imagenet-r-10x20": (["imagenet-r", "vit-small-input"], ["dataset.image_size=32", "strategies[0].timm_model=vit_tiny_patch16_224",
                              "strategies[0].timm_kwargs={img_size: 32, depth: 2}", "strategies[0].weights={weights}/vit32.pth",
                              "strategies[0].epochs=1", "strategies[0].outlier_epochs=1", "strategies[0].batch_size=64"]),
    "nmc-cifar100-vit": (["cifar100", "vit"], ["backbone.arch=vit_tiny_patch16_224", "backbone.weights={weights}/vit.pth", "backbone.image_size=224"]),
    "happy-cgcd-cifar100": (["cifar100-more", "vit"], ["backbone.arch=vit_tiny_patch16_224", "backbone.weights={weights}/vit.pth",
                            "backbone.image_size=224", "seeds=[0]"]),
}


def test_every_paper_board_has_a_smoke_run():
    assert sorted(p.stem for p in PAPERS) == sorted(SHRINK)


def _prepare(needs: list[str], data: Path, weights: Path) -> None:
    makers = {
        "cifar100": lambda: stand_ins.cifar100(data),
        "cifar100-more": lambda: stand_ins.cifar100(data, train_per_class=10, test_per_class=2),
        "mini-imagenet": lambda: stand_ins.mini_imagenet(data),
        "cub200": lambda: stand_ins.cub200(data),
        "imagenet-r": lambda: stand_ins.imagenet_r(data),
        "resnet18": lambda: stand_ins.resnet18_weights(weights / "resnet18.pth"),
        "vit": lambda: stand_ins.vit_weights(weights / "vit.pth"),
        "vit-small-input": lambda: stand_ins.vit_weights(weights / "vit32.pth", img_size=32, depth=2),
    }
    for need in needs:
        makers[need]()


@pytest.mark.parametrize("board", PAPERS, ids=[p.stem for p in PAPERS])
def test_paper_board_runs_on_a_stand_in(board, tmp_path, monkeypatch, capsys):
    import torchvision

    needs, overrides = SHRINK[board.stem]
    if any(n.startswith("vit") for n in needs):
        pytest.importorskip("timm", reason="needs the timm extra")
    data, weights = tmp_path / "data", tmp_path / "weights"
    data.mkdir()
    weights.mkdir()
    _prepare(needs, data, weights)
    monkeypatch.setenv("OWLBENCH_DATA_DIR", str(data))
    monkeypatch.setenv("OWLBENCH_CACHE_DIR", str(tmp_path / "cache"))
    # the stand-in pickles are not the released files: torchvision's checksum test is skipped for them
    monkeypatch.setattr(torchvision.datasets.CIFAR100, "_check_integrity", lambda self: True)
    monkeypatch.setattr(torchvision.datasets.cifar, "check_integrity", lambda *args, **kwargs: True)
    sets = [o.replace("{weights}", str(weights)) for o in overrides]
    if any(n in needs for n in ("mini-imagenet", "cub200", "imagenet-r")):
        sets.append(f"dataset.root={data}")
    args = ["run", str(board), "--output", str(tmp_path / "out"), "--quiet"]
    for s in sets:
        args += ["--set", s]
    code = main(args)
    captured = capsys.readouterr()
    assert code == 0, captured.err
    name = board.stem
    with open(tmp_path / "out" / name / "leaderboard.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows and all(r["status"] == "complete" for r in rows)
    config = json.loads(next((tmp_path / "out" / name).glob("*/config.json")).read_text())
    assert config["overrides"] == sets
    manifest = json.loads((tmp_path / "out" / name / "board.json").read_text())
    if manifest["reference"]:
        reproduction = (tmp_path / "out" / name / "reproduction.md").read_text()
        assert "| paper | measured | Δ |" in reproduction and "measured on cpu" in reproduction
        assert 'id="reproduction"' in (tmp_path / "out" / name / "leaderboard.html").read_text()
