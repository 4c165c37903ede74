"""The contracts a plugin author imports: parameters, errors, registries, what a strategy is given
and answers, and the bases of strategies, scenarios, datasets, backbones and metrics.

    from harness.api import STRATEGIES, Experience, Params, Prediction, Strategy

Everything here imports torch, numpy and pydantic only (and other modules of this package). The
names are loaded on first use, so that ``harness.api.errors`` (which the command line imports)
stays free of torch.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "backbone": ("Backbone",),
    "dataset": ("Dataset", "DatasetSource", "ImageFiles"),
    "errors": ("ConfigError", "PluginError", "UnknownNameError"),
    "experience": ("Experience", "Prediction", "UnlabeledExperience"),
    "metric": ("Metric", "MetricKey", "StepCurve", "StepEvidence"),
    "params": ("Params",),
    "registry": ("BACKBONES", "DATASETS", "EXECUTORS", "METRICS", "SCENARIOS", "STRATEGIES", "Registry"),
    "scenario": ("Scenario", "ScenarioPlan", "StepPlan"),
    "strategy": ("Strategy", "StrategyContext"),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_MODULE_OF)


def __getattr__(name: str):
    if name not in _MODULE_OF:
        raise AttributeError(f"module 'harness.api' has no attribute {name!r}")
    return getattr(importlib.import_module(f"harness.api.{_MODULE_OF[name]}"), name)
