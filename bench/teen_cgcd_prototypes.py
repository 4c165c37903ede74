"""TEEN on the quickstart ``cgcd`` pair: discovered prototypes kept at their class mean's length
(``calibrated_norm: mean``) against unit length (``unit``, earlier owlbench).

For each seed and setting it prints the last clustering accuracy (All) and, after every unlabeled
stage, the share of the samples each discovered cluster was made of whose nearest prototype in the
store (Euclidean, the distance the next stage's discovery uses with the known prototypes fixed) is
that cluster's own prototype.  Run: ``python bench/teen_cgcd_prototypes.py``.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from harness.config import load_config  # noqa: E402
from harness.runner import execute  # noqa: E402
from harness.sweep import expand  # noqa: E402
from strategies.teen import TEEN  # noqa: E402


def _own_share(store, features: torch.Tensor, assignment: torch.Tensor, new_ids: list[int]) -> float:
    """Share of the clustered samples whose nearest prototype (Euclidean) is their own cluster's."""
    ids = store.class_ids
    nearest = ids[torch.cdist(features.double(), store.means.double()).argmin(1).cpu()]
    own = torch.tensor(new_ids)[assignment.clamp_min(0).cpu()]
    mask = assignment.cpu() >= 0
    return float((nearest[mask] == own[mask]).double().mean()) if mask.any() else float("nan")


def main() -> None:
    shares: list[float] = []
    original = TEEN.after_discovery

    def measuring(self, experience, features, new_ids, clustering):
        original(self, experience, features, new_ids, clustering)
        shares.append(_own_share(self.store, features, clustering.assignment, new_ids))

    TEEN.after_discovery = measuring
    config = load_config(Path(__file__).resolve().parents[1] / "leaderboards" / "quickstart.yaml", overrides=["device=cpu"])
    jobs = [j for j in expand(config) if j.scenario.name == "cgcd" and j.strategy.name == "teen"]
    print(f"{'setting':<6} {'seed':>4} {'last clust acc':>15} {'own-prototype share per stage':>32}")
    for norm in ("unit", "mean"):
        for job in jobs:
            params = job.strategy.params.model_copy(update={"calibrated_norm": norm})
            job = replace(job, strategy=replace(job.strategy, params=params))
            shares.clear()
            summary = execute(job, progress=False)["metrics"]["summary"]
            print(f"{norm:<6} {job.seed:>4} {summary['last_clustering_accuracy'] * 100:15.1f} {'  '.join(f'{s * 100:5.1f}' for s in shares):>32}")


if __name__ == "__main__":
    main()
