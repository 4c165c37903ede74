"""Where owlbench and the reference code differ, the reference's way is available and exact."""

import math

import torch

from harness.components.virtual_outliers import OutlierConfig, virtual_outliers
from strategies.napa_vq import step_period
from strategies.ovor import lr_factor


def test_napa_vq_step_periods_follow_the_reference_and_never_fire_every_epoch():
    assert (step_period(0.45, 100), step_period(0.2, 100)) == (45, 20)  # the reference's 45 and 20 epochs
    assert step_period(0.2, 6) == 2 and step_period(0.45, 6) == 3  # 6 epochs: decays at epochs 2, 4 (not every epoch)
    assert step_period(0.2, 1) == 2  # one epoch: no decay inside it


def test_ovor_reference_learning_rate_factor():
    k = 20
    assert lr_factor("reference", 0, k) == 1.0
    assert math.isclose(lr_factor("reference", k - 1, k), math.cos(99 * math.pi / 200))  # just above 0
    assert math.isclose(lr_factor("half_cosine", 10, k), math.cos(math.pi / 4))
    assert lr_factor("reference", 0, 1) == 1.0  # K = 1 has no division by zero


def test_offsets_only_shares_one_set_of_offsets_like_the_reference():
    features = torch.randn(60, 4, generator=torch.Generator().manual_seed(0))
    config = OutlierConfig(k=5, select=3, sample_from=7, sigma=0.1, per_class=100, offsets_only=True)
    out = virtual_outliers(features, 1, config, torch.Generator().manual_seed(1))
    assert len(torch.unique(out, dim=0)) <= 7  # every boundary point gets the same 7 offsets
