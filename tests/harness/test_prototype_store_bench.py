"""The GPU benchmark script runs end to end at tiny sizes on CPU (``--smoke``)."""

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "gpu_prototype_store.py"


def test_gpu_bench_smoke_runs_on_cpu(capsys):
    spec = importlib.util.spec_from_file_location("gpu_prototype_store", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(["--smoke", "--device", "cpu", "--classes", "40", "--repeats", "1"])
    out = capsys.readouterr().out
    assert "store highest" in out and "256/256" in out  # float32 search agrees with float64 here
    assert "[2] TFLOP/s" in out and "[3] updates" in out
