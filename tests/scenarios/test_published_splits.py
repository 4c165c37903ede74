"""Published FSCIL session lists: read, matched to samples, and turned into a plan."""

import numpy as np
import pytest
import torch

from harness.api.dataset import Dataset
from harness.api.errors import ConfigError
from harness.datasets.published_splits import available, session_lists
from scenarios.fscil import FewShotClassIncremental, FSCILParams


def test_shipped_lists_have_the_published_shapes():
    assert available("cec") == ["cifar100", "cub200", "mini-imagenet"]
    cifar = session_lists("cec", "cifar100")
    assert len(cifar) == 9 and len(cifar[0]) == 30000 and all(len(s) == 25 for s in cifar[1:])
    cub = session_lists("cec", "cub200")
    assert len(cub) == 11 and len(cub[0]) == 3000 and all(len(s) == 50 for s in cub[1:])
    mini = session_lists("cec", "mini-imagenet")
    assert len(mini) == 9 and len(mini[0]) == 30000 and mini[1][0].startswith("MINI-ImageNet/train/")


def _cifar_like():
    """50,000 training samples whose labels follow the CIFAR-100 lists: session 1 line i has class
    i // 500, session t line j has class 60 + 5 (t - 2) + j // 5; unlisted samples get class 99."""
    lists = session_lists("cec", "cifar100")
    labels = np.full(50000, 99)
    for i, entry in enumerate(lists[0]):
        labels[int(entry)] = i // 500
    for t, lines in enumerate(lists[1:], start=2):
        for j, entry in enumerate(lines):
            labels[int(entry)] = 60 + 5 * (t - 2) + j // 5
    y = torch.from_numpy(labels)
    data = Dataset("cifar100", torch.zeros(50000, 1), y, torch.zeros(100, 1), torch.arange(100), tuple(map(str, range(100))))
    return data, lists


def test_cifar100_split_plan_follows_the_lists():
    data, lists = _cifar_like()
    params = FSCILParams(base_classes=60, ways=5, shots=5, split="cec")
    FewShotClassIncremental().check(params, data)
    plan = FewShotClassIncremental().plan(params, data, seed=3)
    assert plan.class_order == tuple(range(100))
    assert len(plan.steps) == 9
    assert np.array_equal(plan.steps[0].train_indices, np.sort([int(e) for e in lists[0]]))
    assert plan.steps[0].new_classes == tuple(range(60))
    assert np.array_equal(plan.steps[1].train_indices, np.sort([int(e) for e in lists[1]]))
    assert plan.steps[8].new_classes == (95, 96, 97, 98, 99)
    # the seed changes nothing
    other = FewShotClassIncremental().plan(params, data, seed=11)
    assert all(np.array_equal(a.train_indices, b.train_indices) for a, b in zip(plan.steps, other.steps))


@pytest.mark.parametrize(
    "change, field",
    [({"shots": 10}, "shots"), ({"ways": 10}, "ways"), ({"base_classes": 50}, "base_classes"), ({"class_order": list(range(100))}, "class_order"), ({"sessions": 9}, "sessions")],
)
def test_parameters_must_match_the_split(change, field):
    data, _ = _cifar_like()
    params = FSCILParams(**{"base_classes": 60, "ways": 5, "shots": 5, "split": "cec", **change})
    with pytest.raises(ConfigError) as err:
        FewShotClassIncremental().check(params, data)
    assert err.value.path == field


def test_split_needs_lists_for_the_dataset(digits):
    with pytest.raises(ConfigError, match="not for dataset 'digits'"):
        FewShotClassIncremental().check(FSCILParams(base_classes=4, ways=2, shots=5, split="cec"), digits)


def test_image_paths_match_by_file_name():
    """miniImageNet lists name MINI-ImageNet/train/<wnid>/<file>; the dataset's ids are file names."""
    lists = session_lists("cec", "mini-imagenet")
    listed = [e for s in lists for e in s]
    ids = tuple(e.rsplit("/", 1)[-1] for e in reversed(listed))  # any order
    label_of = {}
    for t, lines in enumerate(lists):
        for j, entry in enumerate(lines):
            label_of[entry.rsplit("/", 1)[-1]] = j // 500 if t == 0 else 60 + 5 * (t - 1) + j // 5
    y = torch.tensor([label_of[i] for i in ids])
    data = Dataset("mini-imagenet", torch.zeros(len(ids), 1), y, torch.zeros(1, 1), torch.zeros(1, dtype=torch.long), tuple(map(str, range(100))), train_ids=ids)
    plan = FewShotClassIncremental().plan(FSCILParams(base_classes=60, ways=5, shots=5, split="cec", sessions=2), data, 0)
    assert len(plan.steps) == 3 and plan.steps[2].new_classes == (65, 66, 67, 68, 69)
    first = {ids[i] for i in plan.steps[1].train_indices}
    assert first == {e.rsplit("/", 1)[-1] for e in lists[1]}
