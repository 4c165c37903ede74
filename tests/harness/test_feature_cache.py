"""The feature cache: one computation per key, verified loads, corrupt entries recomputed, locking."""

import multiprocessing
import time

import pytest
import torch

from harness.backbones.feature_cache import STATS, FeatureCache, cache_key

DESCRIPTION = {"dataset": {"name": "toy", "params": {}}, "split": "train", "backbone": {"name": "b", "params": {}}}


class Counter:
    def __init__(self, value):
        self.calls = 0
        self.value = value

    def __call__(self):
        self.calls += 1
        return self.value.clone()


@pytest.fixture
def cache(tmp_path):
    return FeatureCache(tmp_path / "cache")


def test_second_lookup_is_a_hit_and_returns_the_same_features(cache):
    compute = Counter(torch.arange(12, dtype=torch.float32).reshape(3, 4))
    before = STATS.snapshot()
    first = cache.get_or_compute(DESCRIPTION, compute)
    second = cache.get_or_compute(DESCRIPTION, compute)
    assert compute.calls == 1
    assert torch.equal(first, second) and torch.equal(second, compute.value)
    assert STATS.misses - before["misses"] == 1 and STATS.hits - before["hits"] == 1
    assert [e["event"] for e in cache.events()] == ["miss", "hit"]
    (entry,) = cache.entries()
    assert entry["shape"] == [3, 4] and entry["events"] == {"miss": 1, "hit": 1}


def test_key_depends_on_every_part_of_the_description():
    keys = {
        cache_key(DESCRIPTION),
        cache_key({**DESCRIPTION, "split": "test"}),
        cache_key({**DESCRIPTION, "weights_sha256": "00"}),
        cache_key({**DESCRIPTION, "transform": {"size": 224}}),
        cache_key({**DESCRIPTION, "dataset": {"name": "toy", "params": {"cap": 5}}}),
    }
    assert len(keys) == 5
    assert cache_key(dict(reversed(list(DESCRIPTION.items())))) == cache_key(DESCRIPTION)


def _flip_byte(path):
    blob = bytearray(path.read_bytes())
    blob[-3] ^= 0xFF  # inside the tensor data: still parses, wrong values
    path.write_bytes(bytes(blob))


def _truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _garble_record(path):
    path.write_text(path.read_text()[:20])


@pytest.mark.parametrize(
    "damage, target",
    [(_flip_byte, "safetensors"), (_truncate, "safetensors"), (_garble_record, "json"), (lambda p: p.write_bytes(b""), "safetensors")],
    ids=["flipped-byte", "truncated-data", "truncated-record", "emptied-data"],
)
def test_corrupt_or_truncated_entry_is_detected_and_recomputed(cache, damage, target):
    value = torch.linspace(-1, 1, 64).reshape(16, 4)
    compute = Counter(value)
    cache.get_or_compute(DESCRIPTION, compute)
    key = cache_key(DESCRIPTION)
    damage(cache.root / f"{key}.{target}")
    corrupt_before = STATS.corrupt

    again = cache.get_or_compute(DESCRIPTION, compute)

    assert compute.calls == 2, "the damaged entry must be recomputed"
    assert torch.equal(again, value), "the damaged values must never be returned"
    assert STATS.corrupt == corrupt_before + 1
    assert [e["event"] for e in cache.events()] == ["miss", "corrupt", "miss"]
    # the rewritten entry is whole again: the next lookup is a plain hit
    assert torch.equal(cache.get_or_compute(DESCRIPTION, compute), value) and compute.calls == 2


def test_entry_without_its_record_counts_as_absent(cache):
    compute = Counter(torch.ones(2, 2))
    cache.get_or_compute(DESCRIPTION, compute)
    (cache.root / f"{cache_key(DESCRIPTION)}.json").unlink()  # an interrupted write leaves no record
    cache.get_or_compute(DESCRIPTION, compute)
    assert compute.calls == 2 and [e["event"] for e in cache.events()] == ["miss", "miss"]


def _slow_lookup(root, out):
    def compute():
        time.sleep(0.5)
        return torch.full((4, 3), 7.0)

    features = FeatureCache(root).get_or_compute(DESCRIPTION, compute)
    out.put(features.sum().item())


def test_parallel_processes_compute_an_entry_once(cache):
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    procs = [ctx.Process(target=_slow_lookup, args=(cache.root, out)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert all(p.exitcode == 0 for p in procs)
    assert sorted(out.get(timeout=5) for _ in procs) == [84.0] * 4
    events = [e["event"] for e in cache.events()]
    assert events.count("miss") == 1 and events.count("hit") == 3


def test_clear_removes_entries(cache):
    cache.get_or_compute(DESCRIPTION, Counter(torch.ones(1, 1)))
    cache.get_or_compute({**DESCRIPTION, "split": "test"}, Counter(torch.ones(1, 1)))
    assert len(cache.entries()) == 2
    assert cache.clear() == 2
    assert cache.entries() == [] and not list(cache.root.iterdir())
