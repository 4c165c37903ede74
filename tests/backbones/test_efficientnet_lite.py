"""EfficientNet-Lite0: TF "SAME" padding by hand, strict loading, and real ImageNet predictions."""

import pytest
import torch
import torch.nn.functional as F

from harness.backbones.efficientnet_lite import EfficientNetLite0, SameConv2d
from tests.sources import needs_effnet


@pytest.mark.parametrize(
    "size, kernel, stride, pads",
    [
        (5, 3, 2, (1, 1)),  # total (3-1)*2 + 3 - 5 = 2: one each side
        (4, 3, 2, (0, 1)),  # total (2-1)*2 + 3 - 4 = 1: the odd pixel goes to the bottom/right
        (7, 5, 1, (2, 2)),  # stride 1: k - 1 = 4
        (8, 1, 1, (0, 0)),
    ],
)
def test_same_padding_matches_tensorflow(size, kernel, stride, pads):
    torch.manual_seed(0)
    conv = SameConv2d(2, 3, kernel, stride=stride, bias=False)
    x = torch.randn(1, 2, size, size)
    lo, hi = pads
    expected = F.conv2d(F.pad(x, (lo, hi, lo, hi)), conv.weight, stride=stride)
    out = conv(x)
    assert out.shape[-1] == -(-size // stride)  # ceil(size / stride), as in TensorFlow
    assert torch.allclose(out, expected)


def test_architecture_has_the_lite0_shape():
    model = EfficientNetLite0().eval()
    assert len(model._blocks) == 16
    assert not any("_se_" in name for name, _ in model.named_parameters())  # no squeeze-excitation
    assert all(m.eps == 1e-3 for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d))
    with torch.no_grad():
        assert model.features(torch.rand(2, 3, 64, 64) * 255).shape == (2, 1280)


@needs_effnet
def test_packaged_weights_load_strictly_and_recognise_real_photos():
    """scikit-learn ships two photos: a Chinese palace and a daisy-like flower (ImageNet 698, 985)."""
    from sklearn.datasets import load_sample_image

    from harness.backbones.efficientnet_lite import load_pretrained
    from harness.backbones.images import rgb_batch

    model = load_pretrained()
    for name, label in (("china.jpg", 698), ("flower.jpg", 985)):
        image = torch.from_numpy(load_sample_image(name).copy()).permute(2, 0, 1).float() / 255
        _, h, w = image.shape
        s = min(h, w)
        image = image[:, (h - s) // 2 : (h - s) // 2 + s, (w - s) // 2 : (w - s) // 2 + s]
        with torch.no_grad():
            logits = model(rgb_batch(image[None], 224) * 255)
        assert logits.argmax().item() == label


@needs_effnet
def test_backbone_encodes_grey_images(digits):
    from harness.backbones.efficientnet_lite import EfficientNetLite0Backbone, LiteParams

    backbone = EfficientNetLite0Backbone(LiteParams(image_size=32, batch_size=4))
    features = backbone.encode(digits.train_x[:6], torch.device("cpu"))
    assert features.shape == (6, 1280) and features.dtype == torch.float32
    assert backbone.fingerprint()["transform"]["size"] == 32
    single = backbone.encode(digits.train_x[2:3], torch.device("cpu"))
    assert torch.allclose(single[0], features[2], atol=1e-5)  # batching does not change a sample's features
