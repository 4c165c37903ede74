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


class BrokenParams(NMCParams):
    fault: str = Field("nan-logits", description="what goes wrong in the predictions")
    at_step: int = Field(1, ge=0, description="the step from which predictions are broken")


class BrokenNMC(NMC):
    """NMC whose predictions go wrong from ``at_step`` on, in the way ``fault`` names."""

    Params = BrokenParams

    def learn(self, experience) -> None:
        self._step = experience.step
        super().learn(experience)

    def predict(self, inputs):
        import torch

        from harness.api.experience import Prediction

        p = super().predict(inputs)
        if self._step < self.params.at_step:
            return p
        fault = self.params.fault
        if fault == "nan-logits":
            return Prediction(torch.full_like(p.logits, float("nan")), p.classes, p.known_score)
        if fault == "inf-logits":
            return Prediction(torch.full_like(p.logits, float("inf")), p.classes, p.known_score)
        if fault == "nan-score":
            return Prediction(p.logits, p.classes, torch.full_like(p.known_score, float("nan")))
        if fault == "short-logits":
            return Prediction(p.logits[:, :-1], p.classes, p.known_score)
        if fault == "unseen-class":
            return Prediction(p.logits, p.classes + 100, p.known_score)
        if fault == "float-classes":
            return Prediction(p.logits, p.classes.float(), p.known_score)
        raise ValueError(fault)


class LoggingParams(NMCParams):
    log: str = Field(..., description="file that gets one line per job run")


class LoggingNMC(NMC):
    """NMC that appends its seed to a file when a job starts (to count how often each job ran)."""

    Params = LoggingParams

    def learn(self, experience) -> None:
        if experience.step == 0:
            with open(self.params.log, "a", encoding="utf-8") as handle:
                handle.write(f"{self.context.seed}\n")
            time.sleep(0.2)
        super().learn(experience)


class PidParams(NMCParams):
    pid_dir: str = Field(..., description="folder that gets '<seed>.pid' when a job starts")
    delay: float = Field(0.5, ge=0, description="seconds slept at every step")


class PidNMC(NMC):
    """NMC that writes its process id when a job starts and sleeps at every step (to be killed)."""

    Params = PidParams

    def learn(self, experience) -> None:
        import os
        from pathlib import Path

        if experience.step == 0:
            Path(self.params.pid_dir, f"{self.context.seed}.pid").write_text(str(os.getpid()))
        time.sleep(self.params.delay)
        super().learn(experience)


class FeaturelessNMC(NMC):
    """NMC that gives no features to the open-set scorers (as a strategy with no embedding would)."""

    def embed(self, inputs):
        return None
