"""TEEN: the calibration on hand-computed inputs, base classes only, then digits."""

import math

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.config import parse_config
from harness.api.experience import Experience
from harness.runner import execute
from harness.api.strategy import StrategyContext
from harness.sweep import expand
from strategies.teen import TEEN, TEENParams, calibrate

LN3 = math.log(3.0)  # τ = ln 3 makes exp(τ·1) = 3 and exp(τ·0) = 1


def test_calibration_by_hand():
    # base prototypes along the axes; new prototype (3, 0): cosines 1 and 0
    # softmax(ln3·[1, 0]) = [3/4, 1/4];  Σ w_b·p_b = (0.75, 0.25), norm √0.625 ≈ 0.790569
    # shift = (0.75, 0.25)/0.790569 = (0.948683, 0.316228)
    # p̂ = 0.9·(1, 0) + 0.1·shift = (0.994868, 0.031623)
    got = calibrate(torch.tensor([[3.0, 0.0]]), torch.tensor([[2.0, 0.0], [0.0, 3.0]]), shift_weight=0.1, tau=LN3)
    assert torch.allclose(got, torch.tensor([[0.9948683, 0.0316228]]), atol=1e-6)


def test_teen_calibrates_towards_base_classes_only():
    ctx = StrategyContext(device=torch.device("cpu"), seed=0, input_shape=(2,))
    teen = TEEN(TEENParams(backbone={"arch": "identity"}, shift_weight=0.1, softmax_temperature=LN3, logit_scale=2.0), ctx)

    def exp(step, x, y, new):
        return Experience(step, "fscil", torch.tensor(x), torch.tensor(y), new, ())

    teen.learn(exp(0, [[1.0, 0.0], [3.0, 0.0], [0.0, 2.0], [0.0, 4.0]], [0, 0, 1, 1], (0, 1)))  # means (2,0), (0,3)
    teen.learn(exp(1, [[2.0, 0.0], [4.0, 0.0]], [2, 2], (2,)))  # mean (3, 0): as in the hand case above
    teen.learn(exp(2, [[0.0, 4.0], [0.0, 6.0]], [3, 3], (3,)))  # mean (0, 5)
    means = teen.store.means
    # base means stay raw means
    assert torch.allclose(means[teen.store.rows([0, 1])], torch.tensor([[2.0, 0.0], [0.0, 3.0]]))
    assert torch.allclose(teen.store.mean_of(2), torch.tensor([0.9948683, 0.0316228]), atol=1e-6)
    # class 3: cosines to the base prototypes 0 and 1 → weights 1/4, 3/4 → shift (0.316228, 0.948683);
    # p̂ = 0.9·(0, 1) + 0.1·shift = (0.031623, 0.994868).  Had class 2 counted as a base class the
    # result would differ: calibration ranges over the base classes only.
    assert torch.allclose(teen.store.mean_of(3), torch.tensor([0.0316228, 0.9948683]), atol=1e-6)
    # predictions: logit_scale · cos(f, p̂)
    pred = teen.predict(torch.tensor([[1.0, 1.0]]))
    expected = 2.0 * torch.nn.functional.cosine_similarity(torch.tensor([[1.0, 1.0]]), means)
    assert torch.allclose(pred.logits, expected[None], atol=1e-6)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 5), st.integers(1, 4), st.floats(0.5, 32.0), st.integers(0, 10_000))
def test_calibration_limits(n_base, n_new, tau, seed):
    g = torch.Generator().manual_seed(seed)
    base = torch.randn(n_base, 4, generator=g, dtype=torch.float64)
    new = torch.randn(n_new, 4, generator=g, dtype=torch.float64)
    # s = 0 leaves the normalised prototype; any s gives a vector of norm at most 1 (convex mix of unit vectors)
    assert torch.allclose(calibrate(new, base, 0.0, tau), torch.nn.functional.normalize(new, dim=1))
    assert (calibrate(new, base, 0.5, tau).norm(dim=1) <= 1 + 1e-12).all()
    # s = 1 with one base class: the prototype becomes that base direction
    if n_base == 1:
        assert torch.allclose(calibrate(new, base, 1.0, tau), torch.nn.functional.normalize(base, dim=1).expand(n_new, 4))


def test_teen_defaults_follow_the_reference_scripts():
    p = TEENParams()
    assert (p.shift_weight, p.softmax_temperature, p.logit_scale) == (0.1, 16.0, 16.0)
    assert p.backbone.classifier == "cosine" and p.backbone.temperature == 16.0
    assert TEENParams(backbone={"epochs": 3}).backbone.classifier == "cosine"


def test_teen_runs_on_digits_and_is_deterministic():
    config = parse_config(
        {
            "name": "teen-digits",
            "dataset": "digits",
            "scenarios": [
                {"kind": "cil", "base_classes": 4, "increment": 2},
                {"kind": "fscil", "base_classes": 4, "ways": 2, "shots": 5},
            ],
            "strategies": [{"name": "teen", "backbone": {"width": 8, "epochs": 2}}],
            "seeds": [0],
            "device": "cpu",
        }
    )
    for job in expand(config):
        first = execute(job, progress=False)["metrics"]
        assert first["steps"] == execute(job, progress=False)["metrics"]["steps"]
        assert first["summary"]["last_accuracy"] > 0.4  # 10 classes: chance is 0.1
