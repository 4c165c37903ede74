"""Loading a registered dataset once per process (validation and every job of a sweep share it)."""

from __future__ import annotations

import functools
import json

from harness.api.dataset import Dataset
from harness.api.params import Params
from harness.api.registry import DATASETS, load_builtins


@functools.lru_cache(maxsize=8)
def _load(name: str, params_json: str) -> Dataset:
    source = DATASETS.get(name)
    params = source.Params.model_validate(json.loads(params_json))
    return source().load(params)


def load_dataset(name: str, params: Params) -> Dataset:
    load_builtins()
    return _load(name, json.dumps(params.model_dump(mode="json"), sort_keys=True))
