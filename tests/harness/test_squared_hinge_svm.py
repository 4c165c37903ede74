"""The batched squared-hinge SVM solves scikit-learn's LinearSVC problem (dual=False, C, intercept)."""

import numpy as np
import pytest
import torch
from sklearn.svm import LinearSVC

from harness.components.squared_hinge_svm import fit_squared_hinge_ovr, objective


def test_hand_computed_two_points():
    # x = ±1 with classes 1 / 0: by symmetry b = 0 and f(w) = ½w² + 2(1 − w)² is least at w = 4/5,
    # where f = 0.32 + 0.08 = 0.4; class 0's problem is the mirror image
    solution = fit_squared_hinge_ovr(torch.tensor([[1.0], [-1.0]], dtype=torch.float64), torch.tensor([1, 0]), 2, tol=1e-12)
    assert solution.converged
    assert solution.weight[:, 0].tolist() == pytest.approx([-0.8, 0.8], abs=1e-9)
    assert solution.bias.tolist() == pytest.approx([0.0, 0.0], abs=1e-9)
    assert solution.objective.tolist() == pytest.approx([0.4, 0.4], abs=1e-9)


def _problem(n, d, k, seed):
    g = torch.Generator().manual_seed(seed)
    means = torch.randn(k, d, generator=g)
    labels = torch.randint(0, k, (n,), generator=g)
    x = torch.nn.functional.normalize(means[labels] + 1.5 * torch.randn(n, d, generator=g), dim=1).double()
    return x, labels


@pytest.mark.parametrize("n, d, k, seed", [(200, 3, 2, 0), (400, 10, 3, 1), (900, 16, 6, 2), (1500, 32, 12, 3)])
def test_same_objective_and_predictions_as_scikit_learn(n, d, k, seed):
    x, labels = _problem(n, d, k, seed)
    svm = LinearSVC(C=0.5, tol=1e-10, dual=False, max_iter=10_000).fit(x.numpy(), labels.numpy())
    ours = fit_squared_hinge_ovr(x, labels, k, c=0.5, tol=1e-10, cg_dtype=torch.float64)
    assert ours.converged
    reference = objective(torch.from_numpy(svm.coef_), torch.from_numpy(svm.intercept_), x, labels, k, c=0.5)
    assert ours.objective.numpy() == pytest.approx(reference.numpy(), rel=1e-8)
    assert torch.equal(torch.from_numpy(svm.predict(x.numpy())), (x @ ours.weight.T + ours.bias).argmax(1))


def test_default_tolerance_and_float32_directions_stay_close():
    x, labels = _problem(2000, 24, 8, 4)
    svm = LinearSVC(C=1.0, tol=1e-4, dual=False).fit(x.numpy(), labels.numpy())
    ours = fit_squared_hinge_ovr(x, labels, 8)
    reference = objective(torch.from_numpy(svm.coef_), torch.from_numpy(svm.intercept_), x, labels, 8)
    assert np.max(np.abs(ours.objective.numpy() / reference.numpy() - 1)) < 1e-4
    agree = (torch.from_numpy(svm.predict(x.numpy())) == (x @ ours.weight.T + ours.bias).argmax(1)).double().mean()
    assert agree >= 0.999


def test_fetril_with_the_newton_solver_predicts_as_with_liblinear(digits):
    from harness.api.experience import Experience
    from harness.api.strategy import StrategyContext
    from strategies.fetril import FeTrIL, FeTrILParams

    x, y = digits.train_x.flatten(1), digits.train_y
    predictions = {}
    for solver in ("liblinear", "newton"):
        fetril = FeTrIL(FeTrILParams(backbone={"arch": "identity"}, svm_solver=solver), StrategyContext(torch.device("cpu"), 0, (64,)))
        base = y < 5
        fetril.learn(Experience(0, "cil", x[base], y[base], tuple(range(5)), tuple(range(5))))
        fetril.learn(Experience(1, "cil", x[~base], y[~base], tuple(range(5, 10)), tuple(range(10))))
        predictions[solver] = fetril.predict(digits.test_x.flatten(1)).predicted_classes()
    assert (predictions["liblinear"] == predictions["newton"]).double().mean() >= 0.99


def test_gathered_hessian_products_equal_the_dense_ones():
    from harness.components import squared_hinge_svm as svm

    g = torch.Generator().manual_seed(5)
    xt = torch.randn(400, 9, generator=g, dtype=torch.float64)
    inside = torch.rand(400, 7, generator=g) < 0.01  # sparse enough for the gathered form
    p = torch.randn(7, 9, generator=g, dtype=torch.float64)
    gathered = svm._hessian_products(inside, xt, 0.7)(p)
    dense = p + 2 * 0.7 * ((inside.double() * (xt @ p.T)).T @ xt)
    assert torch.allclose(gathered, dense, rtol=1e-12, atol=1e-12)
