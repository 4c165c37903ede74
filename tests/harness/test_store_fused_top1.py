"""The fused Triton top-1 kernel, run by Triton's interpreter on CPU, answers as the torch search does."""

import os
import subprocess
import sys
import textwrap

import pytest
import torch

from harness.store.prototype_store import PrototypeStore

pytest.importorskip("triton")

CHECK = textwrap.dedent(
    """
    import numpy as np, torch
    from harness.store.prototype_store import PrototypeStore
    from harness.store.search import FAST_MIN_ROWS

    def pair(protos, **options):
        out = []
        for kernel in ("triton", "torch"):
            store = PrototypeStore(protos.shape[1], device="cpu", kernel=kernel, cpu_threads=1, **options)
            store.set_means(range(len(protos)), protos)
            out.append(store)
        return out

    g = torch.Generator().manual_seed(0)
    # float32 with many exact ties (small integers): same rows, ties to the lower row
    rng = np.random.default_rng(0)
    protos = torch.from_numpy(rng.integers(-2, 3, (70, 5)).astype(np.float32))
    q = torch.from_numpy(rng.integers(-2, 3, (45, 5)).astype(np.float32))
    fused, plain = pair(protos)
    for metric in ("dot", "sqeuclidean"):
        vf, idf = fused.topk(q, 1, metric)
        vt, idt = plain.topk(q, 1, metric)
        assert torch.equal(idf, idt), metric
        torch.testing.assert_close(vf, vt)
    # bf16 with the rounding proof: the float32 answers, most of them proved by the fast pass
    protos = torch.randn(FAST_MIN_ROWS + 30, 12, generator=g)
    q = protos[torch.randint(0, len(protos), (60,), generator=g)] + 0.2 * torch.randn(60, 12, generator=g)
    q[:5] = protos[:5] * 0.5 + protos[5:10] * 0.5  # equidistant from two means: left to float32
    fused, plain = pair(protos, precision="bf16")
    exact = PrototypeStore(12, device="cpu", cpu_threads=1)
    exact.set_means(range(len(protos)), protos)
    for metric in ("dot", "sqeuclidean"):
        vf, idf = fused.topk(q, 1, metric)
        ve, ide = exact.topk(q, 1, metric)
        assert torch.equal(idf, ide), metric
        torch.testing.assert_close(vf, ve, rtol=1e-5, atol=1e-4)
    search = next(v for k, v in fused._cache.items() if k[0] == "search" and k[1] == "dot")
    assert search.kernel == "triton" and 0.5 * search.searched <= search.proved < search.searched
    print("ok")
    """
)


def test_fused_kernel_in_the_interpreter_equals_the_torch_search():
    env = {**os.environ, "TRITON_INTERPRET": "1"}
    done = subprocess.run([sys.executable, "-c", CHECK], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().endswith("ok")


def test_triton_kernel_is_refused_without_cuda():
    if os.environ.get("TRITON_INTERPRET") == "1" or torch.cuda.is_available():
        pytest.skip("a CUDA device or the interpreter is present")
    with pytest.raises(ValueError, match="kernel='triton' cannot be used: .*CUDA"):
        PrototypeStore(4, device="cpu", kernel="triton")
