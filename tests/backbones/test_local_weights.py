"""Any torchvision model with a local weights file: strict load, classifier removed."""

import pytest
import torch
import torchvision
from pydantic import ValidationError

from harness.backbones.local_weights import LocalWeightsParams, TorchvisionBackbone


def test_torchvision_resnet_features_are_the_pre_classifier_output(tmp_path, digits):
    torch.manual_seed(0)
    reference = torchvision.models.resnet18(num_classes=1000).eval()
    path = tmp_path / "resnet18.pt"
    torch.save(reference.state_dict(), path)
    backbone = TorchvisionBackbone(LocalWeightsParams(arch="resnet18", weights=str(path), image_size=32, batch_size=5))
    features = backbone.encode(digits.train_x[:7], torch.device("cpu"))
    assert features.shape == (7, 512)
    # by hand: grey to RGB, resize, normalise, then every layer but fc
    from harness.backbones.images import rgb_batch

    x = (rgb_batch(digits.train_x[:7], 32) - torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)) / torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    reference.fc = torch.nn.Identity()
    with torch.no_grad():
        assert torch.allclose(features, reference(x), atol=1e-5)
    fingerprint = backbone.fingerprint()
    torch.save({k: v + 1 if v.is_floating_point() else v for k, v in reference.state_dict().items()}, tmp_path / "other.pt")
    other = TorchvisionBackbone(LocalWeightsParams(arch="resnet18", weights=str(tmp_path / "other.pt"), image_size=32)).fingerprint()
    assert fingerprint["weights_sha256"] != other["weights_sha256"]


def test_mismatched_weights_are_refused(tmp_path):
    path = tmp_path / "w.pt"
    torch.save(torchvision.models.resnet18().state_dict(), path)
    backbone = TorchvisionBackbone(LocalWeightsParams(arch="resnet34", weights=str(path)))
    with pytest.raises(RuntimeError, match="Missing key"):
        backbone.encode(torch.zeros(1, 3, 32, 32), torch.device("cpu"))


def test_missing_weights_file_is_a_parameter_error(tmp_path):
    with pytest.raises(ValidationError, match="does not exist"):
        LocalWeightsParams(arch="resnet18", weights=str(tmp_path / "nope.pt"))


def test_timm_model_with_local_weights(tmp_path):
    timm = pytest.importorskip("timm", reason="needs the Python package timm")
    from harness.backbones.local_weights import TimmBackbone

    torch.manual_seed(0)
    reference = timm.create_model("resnet18", pretrained=False).eval()
    path = tmp_path / "timm_r18.pt"
    torch.save(reference.state_dict(), path)
    backbone = TimmBackbone(LocalWeightsParams(arch="resnet18", weights=str(path), image_size=32))
    x = torch.rand(3, 3, 32, 32)
    features = backbone.encode(x, torch.device("cpu"))
    reference.reset_classifier(0)
    normalised = (x - torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)) / torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    with torch.no_grad():
        assert features.shape == (3, 512) and torch.allclose(features, reference(normalised), atol=1e-5)
