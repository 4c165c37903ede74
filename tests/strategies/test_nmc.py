"""NMC does not forget: after the last CIL step it equals an offline nearest-centroid classifier."""

import numpy as np
import torch.nn.functional as F
from sklearn.neighbors import NearestCentroid

from harness.config import parse_config
from harness.runner import execute
from harness.sweep import expand


def test_nmc_last_step_equals_offline_nearest_centroid(digits):
    config = parse_config(
        {
            "name": "nmc-offline",
            "dataset": "digits",
            "scenarios": [{"kind": "cil", "base_classes": 4, "increment": 2}],
            "strategies": [{"name": "nmc"}],
            "seeds": [7],
            "device": "cpu",
        }
    )
    record = execute(expand(config)[0], progress=False)
    last = record["metrics"]["summary"]["last_accuracy"]

    def feats(x):
        return F.normalize(x.reshape(len(x), -1), dim=1).numpy()

    offline = NearestCentroid().fit(feats(digits.train_x), digits.train_y.numpy())
    expected = float(np.mean(offline.predict(feats(digits.test_x)) == digits.test_y.numpy()))
    assert last == expected
    # the last step sees every class, so the open-set metrics are missing there
    assert record["metrics"]["steps"][-1]["auroc"] is None
    assert record["metrics"]["steps"][0]["auroc"] is not None


def test_nmc_discovery_adds_new_classes_and_keeps_known_means(digits):
    import torch

    from harness.components.discovery import DiscoveryParams
    from harness.api.experience import Experience, UnlabeledExperience
    from harness.api.strategy import StrategyContext
    from strategies.nmc import NMC, NMCParams

    x, y = digits.train_x, digits.train_y
    known = y < 6
    nmc = NMC(NMCParams(discovery=DiscoveryParams(n_init=3)), StrategyContext(torch.device("cpu"), 0, (1, 8, 8)))
    nmc.learn(Experience(0, "ncd", x[known], y[known], tuple(range(6)), tuple(range(6))))
    before = nmc.store.means.clone()
    nmc.learn_unlabeled(UnlabeledExperience(1, "ncd", x[~known], 4, False))
    assert nmc.store.class_ids.tolist() == list(range(10))  # new ids follow the largest known id
    assert torch.equal(nmc.store.means[:6], before)  # known prototypes held fixed
    # the discovered means are the means of their clusters' features
    feats = nmc._features(x[~known])
    assigned = nmc.store.scores(feats, "sqeuclidean")[:, 6:].argmax(1)
    for j in range(4):
        assert torch.allclose(nmc.store.means[6 + j], feats[assigned == j].mean(0), atol=1e-5)
    # digits are well separated: the clusters match the novel classes well
    from harness.metrics.clustering import cluster_accuracy

    assert cluster_accuracy(y[~known].numpy(), assigned.numpy()).all > 0.8


def test_nmc_estimates_the_number_of_novel_classes_in_a_run():
    config = parse_config(
        {
            "name": "ncd-estimate",
            "dataset": "digits",
            "scenarios": [{"kind": "ncd", "known_classes": 7, "estimate_num_novel": True}],
            "strategies": [{"name": "nmc", "discovery": {"k_min": 2, "k_max": 5, "repeats": 1, "n_init": 3}}],
            "seeds": [0],
            "device": "cpu",
        }
    )
    job = expand(config)[0]
    record = execute(job, progress=False)
    summary = record["metrics"]["summary"]
    assert summary["new_classes_true"] == 3
    assert 2 <= summary["new_classes_estimated"] <= 5
    assert record["metrics"]["steps"][1]["new_classes_estimated"] == summary["new_classes_estimated"]
    assert execute(job, progress=False)["metrics"] == record["metrics"]  # same config and seed, same numbers
