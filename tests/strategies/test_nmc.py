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
