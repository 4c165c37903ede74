"""The figures: a panel with one evaluated step is drawn as points around that step; titles say what is shown."""

from __future__ import annotations

from harness.report.plots import accuracy_matrix_plot, step_curve_figure


def _record(scenario, strategy, seed, values, matrix=None):
    metrics = {"steps": [{"auroc": v} for v in values]}
    if matrix is not None:
        metrics["accuracy_matrix"] = matrix
    return {"scenario": scenario, "strategy": strategy, "seed": seed, "metrics": metrics}


def test_a_one_step_panel_encloses_its_step_with_a_margin():
    records = [
        _record("ncd", s, seed, [None, 0.8 + 0.01 * seed + 0.05 * k]) for k, s in enumerate(("nmc", "teen")) for seed in range(3)
    ] + [_record("cil", "nmc", seed, [0.9, 0.85, 0.8]) for seed in range(3)]
    fig = step_curve_figure(["nmc", "teen"], records, "auroc", "AUROC", title="Open-set AUROC against step")
    ncd, cil = fig.axes[0], fig.axes[1]
    assert ncd.get_title() == "ncd" and cil.get_title() == "cil"
    low, high = ncd.get_xlim()
    assert low <= 1 - 0.25 and high >= 1 + 0.25 and high - low <= 2  # the step, with a margin, not a vanishing axis
    assert list(ncd.get_xticks()) == [1]
    points = [line.get_xydata() for line in ncd.lines if line.get_marker() == "o"]  # not the error bars' caps
    assert len(points) == 2 and all(low < p[0][0] < high for p in points)  # one point per strategy, inside the axis
    assert cil.get_xlim()[1] - cil.get_xlim()[0] >= 2  # a real curve keeps its steps
    assert "Open-set AUROC against step" in fig._suptitle.get_text()


def test_accuracy_matrix_heat_maps():
    matrix = [[1.0, None], [0.9, 0.7]]
    png = accuracy_matrix_plot(["nmc"], [_record("cil", "nmc", 0, [0.9], matrix), _record("cil", "nmc", 1, [0.9], matrix)])
    assert png is not None and png[:8] == b"\x89PNG\r\n\x1a\n"
    assert accuracy_matrix_plot(["nmc"], [_record("ncd", "nmc", 0, [0.9])]) is None  # open-world records have no matrix
