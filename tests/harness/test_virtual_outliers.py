"""OVOR's energy loss on hand-computed logits, and the outlier generator's geometry."""

import math

import pytest
import torch

from harness.components.virtual_outliers import (
    OutlierConfig,
    boundary_indices,
    energy,
    energy_regulariser,
    virtual_outliers,
)


def test_energy_by_hand():
    logits = torch.tensor([[0.0, 0.0], [math.log(3.0), 0.0]])
    assert energy(logits).tolist() == [pytest.approx(-math.log(2.0)), pytest.approx(-math.log(4.0))]


def test_energy_regulariser_by_hand():
    # id energies: -log(e^2 + e^2) = -2 - log 2 ≈ -2.693 -> gap to t_id=-15 is 12.693 -> huber = 12.193
    id_logits = torch.tensor([[2.0, 2.0]])
    # ood energy: -log(e^-1 + e^-1) = 1 - log 2 ≈ 0.307 -> t_ood - E = -3.307 -> ReLU 0 -> 0
    ood_logits = torch.tensor([[-1.0, -1.0]])
    gap = 15 - 2 - math.log(2.0)
    expected = 0.1 * (gap - 0.5)  # Huber for |a| > 1 is |a| - 1/2
    assert energy_regulariser(id_logits, ood_logits).item() == pytest.approx(expected, rel=1e-6)
    # a confident outlier is penalised: E_ood = -log(2 e^5) = -5.693 -> gap 2.693 -> huber 2.193
    ood_confident = torch.tensor([[5.0, 5.0]])
    expected_ood = 0.1 * (gap - 0.5 + (5 + math.log(2.0) - 3) - 0.5)
    assert energy_regulariser(id_logits, ood_confident).item() == pytest.approx(expected_ood, rel=1e-6)
    # small gaps use the quadratic branch: E_id = -15.5 + ... choose logits with E_id = -14.5
    near = torch.tensor([[14.5 - math.log(2.0), 14.5 - math.log(2.0)]])
    assert energy_regulariser(near, ood_logits).item() == pytest.approx(0.1 * 0.5 * 0.5**2, rel=1e-5)


def test_boundary_points_are_the_isolated_ones():
    # a tight cluster of directions plus two outlying directions
    g = torch.Generator().manual_seed(0)
    cluster = torch.tensor([[1.0, 0.0]]) + 0.01 * torch.randn(20, 2, generator=g)
    far = torch.tensor([[0.0, 1.0], [-1.0, 0.2]])
    feats = torch.cat([cluster, far])
    assert sorted(boundary_indices(feats, k=3, select=2).tolist()) == [20, 21]


def test_outliers_lie_around_boundary_points_or_origin():
    g = torch.Generator().manual_seed(1)
    feats = torch.randn(60, 4, generator=g) + 10
    cfg = OutlierConfig(k=5, select=3, sample_from=20, sigma=0.1, per_class=4)
    paper = virtual_outliers(feats, num_classes=2, config=cfg, generator=torch.Generator().manual_seed(2))
    assert paper.shape == (8, 4)
    boundary = feats[boundary_indices(feats, 5, 3)]
    assert torch.cdist(paper, boundary).min(1).values.max() < 1.0  # near a boundary point
    code = virtual_outliers(feats, 2, OutlierConfig(**{**cfg.__dict__, "offsets_only": True}), torch.Generator().manual_seed(2))
    assert code.norm(dim=1).max() < 1.0  # the reference code's outliers sit around the origin
