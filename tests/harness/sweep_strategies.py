"""Strategies used by the sweep tests through ``tests.harness.sweep_strategies:Class`` names."""

from __future__ import annotations

import time

from pydantic import Field

from strategies.nmc import NMC, NMCParams


class SlowParams(NMCParams):
    delay: float = Field(0.0, ge=0, description="seconds slept at every step")


class SlowNMC(NMC):
    """NMC that sleeps at every step, so that a sweep can be interrupted halfway through."""

    Params = SlowParams

    def learn(self, experience) -> None:
        time.sleep(self.params.delay)
        super().learn(experience)


class FlakyParams(NMCParams):
    fail_seeds: list[int] = Field(default_factory=list, description="seeds whose job raises")


class FlakyNMC(NMC):
    """NMC that raises at step 1 for the listed seeds."""

    Params = FlakyParams

    def learn(self, experience) -> None:
        if experience.step == 1 and self.context.seed in self.params.fail_seeds:
            raise RuntimeError(f"planned failure for seed {self.context.seed}")
        super().learn(experience)
