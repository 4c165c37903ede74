"""Image datasets kept as files: layouts read from a small folder made here, features via a backbone."""

import pytest
import torch

from harness.datasets.image_folders import CUB200, FolderParams, ImageFolder, MiniImageNet
from harness.backbones.images import load_image_file

PIL = pytest.importorskip("PIL.Image", reason="needs the Python package pillow")


def _png(path, value, size=(12, 8)):
    path.parent.mkdir(parents=True, exist_ok=True)
    PIL.new("RGB", size, (value, 255 - value, 0)).save(path)


def test_class_folders_with_train_and_test(tmp_path):
    for split in ("train", "test"):
        for c, cls in enumerate(("ant", "bee")):
            for k in range(3):
                _png(tmp_path / split / cls / f"{k}.png", 40 * c + k)
    data = ImageFolder().load(FolderParams(root=str(tmp_path)))
    assert data.modality == "image-files" and data.class_names == ("ant", "bee")
    assert data.train_x.paths[0] == "train/ant/0.png" and data.train_y.tolist() == [0, 0, 0, 1, 1, 1]
    image = load_image_file(data.train_x.root / data.train_x.paths[4], 16)
    assert image.shape == (3, 16, 16)
    assert abs(image[0].mean().item() - 41 / 255) < 0.01  # the red channel of class 1, sample 1


def test_cub_layout_uses_the_official_split(tmp_path):
    base = tmp_path / "CUB_200_2011"
    rows = [(1, "001.A/a1.jpg", 1, 1), (2, "001.A/a2.jpg", 1, 0), (3, "002.B/b1.jpg", 2, 1), (4, "002.B/b2.jpg", 2, 0)]
    for i, path, _, _ in rows:
        _png(base / "images" / path, 10 * i)
    (base / "images.txt").write_text("".join(f"{i} {p}\n" for i, p, _, _ in rows))
    (base / "image_class_labels.txt").write_text("".join(f"{i} {c}\n" for i, _, c, _ in rows))
    (base / "train_test_split.txt").write_text("".join(f"{i} {t}\n" for i, _, _, t in rows))
    (base / "classes.txt").write_text("1 001.A\n2 002.B\n")
    data = CUB200().load(FolderParams(root=str(tmp_path)))
    assert data.train_ids == ("CUB_200_2011/images/001.A/a1.jpg", "CUB_200_2011/images/002.B/b1.jpg")
    assert data.test_y.tolist() == [0, 1] and data.class_names == ("001.A", "002.B")


def test_mini_imagenet_csv_layout(tmp_path):
    root = tmp_path / "miniimagenet"
    (root / "split").mkdir(parents=True)
    (root / "split/train.csv").write_text("filename,label\nn01000000001.jpg,n01\nn02000000001.jpg,n02\n")
    (root / "split/test.csv").write_text("filename,label\nn02000000009.jpg,n02\n")
    for name in ("n01000000001.jpg", "n02000000001.jpg", "n02000000009.jpg"):
        _png(root / "images" / name, 5)
    data = MiniImageNet().load(FolderParams(root=str(tmp_path)))
    assert data.train_ids == ("n01000000001.jpg", "n02000000001.jpg") and data.test_y.tolist() == [1]


def test_image_files_become_features_through_the_cache(tmp_path, monkeypatch):
    """A torchvision model with a local weights file encodes image files; a second job reads the cache."""
    import torchvision

    from harness.config import Entry
    from harness.backbones.inputs import job_inputs
    from harness.backbones.local_weights import LocalWeightsParams
    from harness.datasets.image_folders import FolderParams as FP
    from harness.backbones.feature_cache import ENV_DIR, FeatureCache

    for c, cls in enumerate(("ant", "bee")):
        for k in range(4):
            _png(tmp_path / "imgs" / cls / f"{k}.png", 60 * c + 10 * k)
    torch.manual_seed(0)
    weights = tmp_path / "r18.pt"
    torch.save(torchvision.models.resnet18().state_dict(), weights)
    monkeypatch.setenv(ENV_DIR, str(tmp_path / "cache"))

    class Job:
        device = "cpu"
        dataset = Entry("image-folder", "image-folder", FP(root=str(tmp_path / "imgs"), test_fraction=0.25), "dataset")
        backbone = Entry("torchvision", "torchvision", LocalWeightsParams(arch="resnet18", weights=str(weights), image_size=32), "backbone")

    data = ImageFolder().load(Job.dataset.params)
    train, test = job_inputs(Job, data)
    assert train.shape == (6, 512) and test.shape == (2, 512)
    again, _ = job_inputs(Job, data)
    assert torch.equal(again, train)
    assert [e["event"] for e in FeatureCache(tmp_path / "cache").events()] == ["miss", "miss", "hit", "hit"]


def test_image_files_without_a_backbone_are_a_config_error(tmp_path):
    from harness.api.errors import ConfigError
    from harness.backbones.inputs import job_inputs

    for cls in ("ant", "bee"):
        for k in range(2):
            _png(tmp_path / cls / f"{k}.png", k)
    data = ImageFolder().load(FolderParams(root=str(tmp_path), test_fraction=0.5))

    class Job:
        device = "cpu"
        backbone = None

    with pytest.raises(ConfigError) as err:
        job_inputs(Job, data)
    assert err.value.path == "backbone" and "image-files inputs" in err.value.message and "efficientnet-lite0" in err.value.message


def test_index_files_cannot_point_outside_the_dataset(tmp_path):
    root = tmp_path / "miniimagenet"
    (root / "split").mkdir(parents=True)
    (root / "split/train.csv").write_text("filename,label\n../../secret.jpg,n01\n")
    (root / "split/test.csv").write_text("filename,label\n")
    with pytest.raises(ValueError, match="refusing image path"):
        MiniImageNet().load(FolderParams(root=str(tmp_path)))
