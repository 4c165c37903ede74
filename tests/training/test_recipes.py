"""Training recipes: augmentation deterministic per seed and epoch and equal to the same v2 pipelines
applied by hand; schedules equal to torch's schedulers; strict weight and checkpoint loading."""

from __future__ import annotations

import pytest
import torch
from torchvision.transforms import v2

from harness.training import BackboneParams
from harness.training.augment import NORMALIZATION, PRESETS, BatchAugmenter, Cutout, Normalized, preset_transform
from harness.training.base_training import save_checkpoint, train_base_backbone
from harness.training.schedules import build_optimizer, build_schedule

IMAGES = torch.rand(6, 3, 32, 32, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("preset", [p for p in PRESETS if p != "none"])
def test_augmentation_is_deterministic_per_seed_and_epoch(preset):
    a = BatchAugmenter(preset, (3, 32, 32), seed=3)
    first = a(IMAGES, epoch=0, index=0)
    assert torch.equal(first, BatchAugmenter(preset, (3, 32, 32), seed=3)(IMAGES, epoch=0, index=0))
    assert not torch.equal(first, a(IMAGES, epoch=1, index=0))
    assert not torch.equal(first, BatchAugmenter(preset, (3, 32, 32), seed=4)(IMAGES, epoch=0, index=0))
    assert first.shape == IMAGES.shape and first.dtype == torch.float32
    assert 0.0 <= float(first.min()) and float(first.max()) <= 1.0


def test_augmentation_does_not_touch_the_run_random_state():
    torch.manual_seed(11)
    expected = torch.rand(3)
    torch.manual_seed(11)
    BatchAugmenter("cifar", (3, 32, 32), seed=0)(IMAGES, 0, 0)
    assert torch.equal(torch.rand(3), expected)


BY_HAND = {
    "cifar": lambda: v2.Compose([v2.RandomCrop((32, 32), padding=4), v2.RandomHorizontalFlip()]),
    "imagenet": lambda: v2.Compose([v2.RandomResizedCrop((32, 32), antialias=True), v2.RandomHorizontalFlip()]),
    "napa_vq": lambda: v2.Compose([v2.RandomCrop((32, 32), padding=4), v2.RandomHorizontalFlip(), v2.ColorJitter(brightness=63 / 255)]),
    "augmix": lambda: v2.Compose([v2.RandomCrop((32, 32), padding=4), v2.RandomHorizontalFlip(), v2.ToDtype(torch.uint8, scale=True),
                                  v2.AugMix(), v2.ToDtype(torch.float32, scale=True)]),
    "autoaugment_cutout": lambda: v2.Compose([v2.RandomCrop((32, 32), padding=4), v2.RandomHorizontalFlip(), v2.ColorJitter(brightness=63 / 255),
                                              v2.ToDtype(torch.uint8, scale=True), v2.AutoAugment(v2.AutoAugmentPolicy.CIFAR10),
                                              v2.ToDtype(torch.float32, scale=True), Cutout(16)]),
}


@pytest.mark.parametrize("preset", sorted(BY_HAND))
def test_presets_equal_the_v2_pipelines_applied_by_hand(preset):
    ours = BatchAugmenter(preset, (3, 32, 32), seed=5)(IMAGES, epoch=2, index=7)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed((5 * 1_000_003 + 2 * 10_007 + 7) % 2**63)
        pipeline = BY_HAND[preset]()
        theirs = torch.stack([pipeline(image) for image in IMAGES])
    assert torch.equal(ours, theirs)


def test_cutout_zeroes_one_clipped_square():
    torch.manual_seed(0)
    out = Cutout(4)(torch.ones(1, 8, 8))
    zeros = (out == 0).sum().item()
    assert 4 <= zeros <= 16 and (out[out != 0] == 1).all()


def test_augmentation_refuses_vectors_and_none_is_a_no_op():
    with pytest.raises(ValueError, match="needs images"):
        preset_transform("cifar", (64,))
    assert preset_transform("none", (64,)) is None
    assert not BatchAugmenter("none", (64,), 0)


def test_normalisation_is_part_of_the_network():
    net = torch.nn.Flatten()
    net.out_dim = 3 * 32 * 32
    wrapped = Normalized(net, "cifar100")
    mean, std = NORMALIZATION["cifar100"]
    expected = ((IMAGES - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)).flatten(1)
    assert torch.allclose(wrapped(IMAGES), expected) and wrapped.out_dim == 3 * 32 * 32
    with pytest.raises(ValueError, match="channels"):
        Normalized(net, "mnist")(IMAGES)


def _rates(schedule, per_iteration_steps, epochs, steps):
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    scheduler, per_iteration = schedule(opt)
    rates = []
    for _ in range(epochs):
        for _ in range(steps):
            rates.append(opt.param_groups[0]["lr"])
            opt.step()
            if per_iteration:
                scheduler.step()
        if not per_iteration:
            scheduler.step()
    return rates


@pytest.mark.parametrize(
    "name, torch_schedule",
    [
        ("cosine", lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=12)),
        ("cosine_epoch", lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=4)),
        ("multistep", lambda o: torch.optim.lr_scheduler.MultiStepLR(o, milestones=[2, 3], gamma=0.5)),
        ("constant", lambda o: torch.optim.lr_scheduler.ConstantLR(o, factor=1.0, total_iters=0)),
    ],
)
def test_schedules_equal_torch_schedulers(name, torch_schedule):
    ours = _rates(lambda o: build_schedule(o, name, 4, 3, [2, 3], 0.5, 0), None, 4, 3)
    per_iteration = name in ("cosine", "constant")
    theirs = _rates(lambda o: (torch_schedule(o), per_iteration), None, 4, 3)
    assert ours == pytest.approx(theirs, rel=1e-12, abs=1e-15)


def test_warmup_rises_linearly_then_follows_the_schedule():
    rates = _rates(lambda o: build_schedule(o, "cosine_epoch", 6, 1, [], 0.1, 2), None, 6, 1)
    assert rates[0] == pytest.approx(0.1 / 3) and rates[1] == pytest.approx(0.2 / 3) and rates[2] == pytest.approx(0.1)
    assert rates[2] > rates[3] > rates[4] > rates[5]


def test_nesterov_and_adam():
    params = [torch.zeros(1, requires_grad=True)]
    sgd = build_optimizer("sgd", params, 0.1, 0.9, 5e-4, True)
    assert isinstance(sgd, torch.optim.SGD) and sgd.defaults["nesterov"] is True
    assert isinstance(build_optimizer("adam", params, 1e-3, 0.9, 0.0, False), torch.optim.Adam)


def _digits():
    x = torch.rand(40, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    y = torch.arange(40) % 4
    return x, y


def test_training_with_a_recipe_is_deterministic_on_the_cpu():
    x, y = _digits()
    params = BackboneParams(arch="small_cnn", width=4, depth=1, epochs=2, augment="cifar", schedule="multistep", milestones=[1], nesterov=True)
    a = train_base_backbone(params, x, y, seed=0)
    b = train_base_backbone(params, x, y, seed=0)
    assert torch.equal(a.features(x), b.features(x))


def test_checkpoint_round_trip_and_strict_errors(tmp_path):
    x, y = _digits()
    params = BackboneParams(arch="small_cnn", width=4, depth=1, epochs=1)
    trained = train_base_backbone(params, x, y, seed=0)
    path = tmp_path / "first_state.pt"
    save_checkpoint(trained, path)
    loaded = train_base_backbone(params.model_copy(update={"checkpoint": str(path), "epochs": 50}), x, y, seed=9)
    assert torch.equal(loaded.features(x), trained.features(x)) and loaded.history == []
    wider = params.model_copy(update={"checkpoint": str(path), "width": 8})
    with pytest.raises(ValueError, match="do not fit the network"):
        train_base_backbone(wider, x, y, seed=0)
    (tmp_path / "junk.pt").write_bytes(b"not a torch file")
    with pytest.raises(ValueError, match="cannot be read"):
        train_base_backbone(params.model_copy(update={"checkpoint": str(tmp_path / "junk.pt")}), x, y, seed=0)
    with pytest.raises(ValueError, match="does not exist"):
        BackboneParams(checkpoint=str(tmp_path / "absent.pt"))


def test_init_weights_load_strictly_into_torchvision_resnet18(tmp_path):
    from torchvision.models import resnet18

    reference = resnet18(weights=None)
    torch.save(reference.state_dict(), tmp_path / "imagenet.pth")  # with fc.*: left out on loading
    params = BackboneParams(arch="resnet18", epochs=0, init_weights=str(tmp_path / "imagenet.pth"))
    trained = train_base_backbone(params, torch.rand(4, 3, 32, 32), torch.tensor([0, 1, 0, 1]), seed=0)
    assert torch.equal(trained.network.model.conv1.weight, reference.conv1.weight)
    torch.save({"conv1.weight": torch.zeros(1)}, tmp_path / "wrong.pth")
    with pytest.raises(ValueError, match="init_weights file"):
        train_base_backbone(params.model_copy(update={"init_weights": str(tmp_path / "wrong.pth")}), torch.rand(4, 3, 32, 32), torch.tensor([0, 1, 0, 1]), seed=0)
