"""The base-session training helper: shapes, determinism, freezing, validation split, bad configs."""

import pytest
import torch

from harness.config import parse_config
from harness.api.errors import ConfigError
from harness.training import BackboneParams, train_base_backbone
from harness.training.networks import build_network


@pytest.fixture
def base(digits):
    keep = digits.train_y < 4
    return digits.train_x[keep], digits.train_y[keep]


@pytest.mark.parametrize(
    "params, shape, dim",
    [
        (BackboneParams(arch="small_cnn", width=8, depth=2), (1, 8, 8), 16),
        (BackboneParams(arch="mlp", width=12, depth=2), (64,), 12),
        (BackboneParams(arch="resnet", width=4, resnet_blocks=[1, 1, 1]), (1, 8, 8), 16),
        (BackboneParams(arch="identity"), (1, 8, 8), 64),
    ],
)
def test_networks_output_their_declared_dimension(params, shape, dim):
    net = build_network(params, shape).eval()
    out = net(torch.rand(3, *shape))
    assert out.shape == (3, dim) == (3, net.out_dim)


def test_image_networks_refuse_vectors():
    with pytest.raises(ValueError, match="small_cnn.*needs image inputs.*mlp or identity"):
        build_network(BackboneParams(arch="small_cnn"), (16,))


def test_same_seed_same_weights_other_seed_other_weights(base):
    x, y = base
    params = BackboneParams(width=8, epochs=1)
    a = train_base_backbone(params, x, y, seed=3)
    b = train_base_backbone(params, x, y, seed=3)
    c = train_base_backbone(params, x, y, seed=4)
    assert torch.equal(a.features(x), b.features(x))
    assert not torch.equal(a.features(x), c.features(x))


def test_trained_backbone_is_frozen_and_learns(base):
    x, y = base
    trained = train_base_backbone(BackboneParams(width=8, epochs=3), x, y, seed=0)
    assert all(not p.requires_grad for p in trained.network.parameters())
    assert not trained.network.training
    first = trained.features(x)
    assert torch.equal(first, trained.features(x))  # eval mode: BatchNorm statistics do not move
    logits = trained.head(first)
    accuracy = (torch.tensor(trained.head_classes)[logits.argmax(1)] == y).float().mean()
    assert accuracy > 0.9  # 4 digit classes are easy; chance is 0.25
    assert [r["epoch"] for r in trained.history] == [0, 1, 2]


def test_validation_split_keeps_the_best_epoch(base):
    x, y = base
    trained = train_base_backbone(BackboneParams(width=8, epochs=3, validation_fraction=0.25), x, y, seed=0)
    val = [r["val_accuracy"] for r in trained.history]
    assert trained.best_epoch == val.index(max(val))


def test_identity_needs_no_training(base):
    x, y = base
    trained = train_base_backbone(BackboneParams(arch="identity", epochs=5), x, y, seed=0)
    assert torch.equal(trained.features(x), x.reshape(len(x), -1))
    assert trained.history == []


def test_cosine_head_scales_cosines_by_the_temperature(base):
    x, y = base
    trained = train_base_backbone(BackboneParams(width=8, epochs=1, classifier="cosine", temperature=5.0), x, y, seed=0)
    logits = trained.head(trained.features(x))
    assert logits.abs().max() <= 5.0 + 1e-5


def test_bad_backbone_key_names_the_field():
    with pytest.raises(ConfigError) as err:
        parse_config(
            {
                "name": "b",
                "dataset": "digits",
                "scenarios": [{"kind": "cil", "base_classes": 4, "increment": 2}],
                "strategies": [{"name": "fetril", "backbone": {"arch": "vgg"}}],
            }
        )
    assert err.value.path == "strategies[0].backbone.arch"
