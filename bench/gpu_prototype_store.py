"""The prototype store on a GPU: correctness against float64, TFLOP/s against a plain matmul, update bandwidth.

Needs torch and numpy only (the store module imports nothing else).  Three parts, each printed as
a table:

1. top-1 agreement with a float64 reference (computed on the GPU in float64 for ``--check``
   queries and cross-checked on the CPU in float64 for the first 256 of them) for the store in
   ``highest`` (float32), ``tf32`` and ``bf16`` precision (a fast pass whose answers are proved
   by a rounding bound or searched again in float32; the share proved is printed), and for a
   plain bf16 matmul + argmax;
2. achieved TFLOP/s (``2·N·C·D`` per search) of the store's top-1 query path (torch's blocked
   search, and the fused Triton matmul + arg-max, ``kernel="triton"``, where it runs), a naive chunked
   matmul + argmax and ``torch.cdist`` + argmin, each as a fraction of a plain matmul
   (``(chunk, D) @ (D, C)`` into a preallocated buffer) measured in the same run and precision;
3. streaming update throughput (features/s) of ``store.update`` and of a bare ``index_add_`` of
   class sums, as a fraction of the rate at which ``clone`` copies the same features.

    python bench/gpu_prototype_store.py                 # D=768, N=131072, C in {1000, 10000, 100000}
    python bench/gpu_prototype_store.py --smoke         # tiny sizes, runs on CPU too (checks the script)
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from harness.store.prototype_store import PrototypeStore  # noqa: E402
from harness.store.fused_top1 import unavailable_reason  # noqa: E402
from harness.store.precision import matmul_precision  # noqa: E402
from harness.devices import resolve_device  # noqa: E402
from bench.store_args import add_size_options  # noqa: E402

PRECISIONS = ("highest", "tf32", "bf16")


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn, device: torch.device, repeats: int) -> float:
    """Best wall time of ``repeats`` runs after one warm-up."""
    fn()
    sync(device)
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        sync(device)
        best = min(best, time.perf_counter() - t)
    return best


def make_data(c: int, n: int, d: int, device: torch.device, seed: int = 0):
    """Means and queries drawn independently from N(0, I): nearest means are close calls."""
    g = torch.Generator(device=device).manual_seed(seed)
    return torch.randn(c, d, generator=g, device=device), torch.randn(n, d, generator=g, device=device)


def reference_top1(means: torch.Tensor, queries: torch.Tensor, chunk: int = 1024) -> torch.Tensor:
    """Float64 arg-min of the squared Euclidean distance."""
    m = means.double()
    msq = (m * m).sum(1)
    out = []
    for s in range(0, len(queries), chunk):
        q = queries[s : s + chunk].double()
        out.append(((q * q).sum(1, keepdim=True) - 2 * q @ m.T + msq).argmin(1))
    return torch.cat(out)


def plain_matmul(means, queries, chunk, precision):
    """``(chunk, D) @ (D, C)`` into one buffer for every chunk of queries: the peak to compare with."""
    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    m, q = means.to(dtype), queries.to(dtype)
    buf = torch.empty(chunk, len(m), dtype=dtype, device=m.device)

    def run():
        with matmul_precision(precision, m.device):
            for s in range(0, len(q), chunk):
                qs = q[s : s + chunk]
                torch.mm(qs, m.T, out=buf[: len(qs)])

    return run


def naive_argmax(means, queries, chunk, precision):
    """Chunked ``q @ mᵀ - ||m||²/2`` then ``argmax``: the obvious implementation."""
    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    m, q = means.to(dtype), queries.to(dtype)
    bias = -0.5 * (m.float() ** 2).sum(1).to(dtype)

    def run():
        with matmul_precision(precision, m.device):
            return torch.cat([torch.addmm(bias, q[s : s + chunk], m.T).argmax(1) for s in range(0, len(q), chunk)])

    return run


def cdist_argmin(means, queries, chunk, precision):
    def run():
        with matmul_precision(precision, means.device):
            return torch.cat([torch.cdist(queries[s : s + chunk], means).argmin(1) for s in range(0, len(queries), chunk)])

    return run


def kernels(device) -> list[str]:
    """The top-1 kernels to measure: torch's blocked search, and the fused Triton one where it runs."""
    return ["torch"] if unavailable_reason(device) else ["torch", "triton"]


def store_for(means, precision, budget, kernel="torch"):
    store = PrototypeStore(means.shape[1], device=means.device, precision=precision, memory_budget_bytes=budget, kernel=kernel)
    store.set_means(range(len(means)), means)
    return store


def part_correctness(means, queries, args, device):
    check = queries[: args.check]
    ref = reference_top1(means, check)
    cpu = reference_top1(means.cpu(), check[:256].cpu())
    cross = int((cpu == ref[:256].cpu()).sum())
    rows = []
    for kernel in kernels(device):
        for p in PRECISIONS:
            store = store_for(means, p, args.budget, kernel)
            got = store.topk(check, 1, "sqeuclidean")[1][:, 0]
            counts = store.fast_pass_counts()
            proved = f"  (fast pass proved {counts[0] / max(1, counts[1]):.3%})" if counts else ""
            rows.append((f"store {p} {kernel}{proved}", int((got == ref).sum())))
    chunk = max(1, min(len(check), args.budget // (4 * len(means))))
    rows.append(("plain bf16 matmul + argmax", int((naive_argmax(means, check, chunk, "bf16")() == ref).sum())))
    print(f"\n[1] top-1 agreement with float64 (C={len(means):,}, {len(check):,} queries; the {device.type} float64 reference equals the CPU float64 one on {cross}/{len(cpu)})")
    for name, agree in rows:
        print(f"  {name:52s} {agree:>8,}/{len(check):,}  {100 * agree / len(check):8.3f} %")
    return rows


def part_throughput(means, queries, args, device):
    c, d = means.shape
    flops = 2.0 * len(queries) * c * d
    chunk = max(1, min(len(queries), args.budget // (4 * c)))
    print(f"\n[2] TFLOP/s, C={c:,} D={d} N={len(queries):,} (plain matmul and naive paths: {chunk:,} queries per chunk)")
    print(f"  {'precision':9s} {'plain matmul':>13s} {'store top-1':>12s} {'store, Triton':>14s} {'naive argmax':>13s} {'cdist':>8s}")
    out = {}
    for p in PRECISIONS:
        store = store_for(means, p, args.budget)
        t_mm = timed(plain_matmul(means, queries, chunk, p), device, args.repeats)
        t_store = timed(lambda: store.topk(queries, 1, "sqeuclidean"), device, args.repeats)
        if "triton" in kernels(device):
            fused = store_for(means, p, args.budget, "triton")
            t_fused = timed(lambda: fused.topk(queries, 1, "sqeuclidean"), device, args.repeats)
        else:
            t_fused = float("nan")
        t_naive = timed(naive_argmax(means, queries, chunk, p), device, args.repeats)
        t_cdist = timed(cdist_argmin(means, queries, chunk, p), device, args.repeats) if p != "bf16" else float("nan")
        peak = flops / t_mm / 1e12
        cells = [flops / t / 1e12 for t in (t_store, t_fused, t_naive, t_cdist)]
        out[p] = (peak, *cells)
        print(f"  {p:9s} {peak:13.4g} " + " ".join(f"{v:8.4g} ({v / peak:4.2f})" for v in cells))
    return out


def part_update(c, args, device):
    n, d = args.queries, args.dim
    g = torch.Generator(device=device).manual_seed(1)
    feats = torch.randn(n, d, generator=g, device=device)
    labels = torch.randint(0, c, (n,), generator=g, device=device)
    store = PrototypeStore(d, device=device)
    store.update(feats, labels)  # creates the classes; the timed updates are the steady state
    t_store = timed(lambda: store.update(feats, labels), device, args.repeats)
    sums = torch.zeros(c, d, device=device)
    t_add = timed(lambda: sums.index_add_(0, labels, feats), device, args.repeats)
    t_copy = timed(lambda: feats.clone(), device, args.repeats)
    copy = n / t_copy
    print(f"\n[3] updates, C={c:,} D={d} N={n:,} (features/s; fraction of the clone rate)")
    for name, t in (("store.update", t_store), ("index_add_ class sums", t_add), ("clone (copy bandwidth)", t_copy)):
        print(f"  {name:24s} {n / t / 1e6:10.4g} M/s  ({n / t / copy:4.2f})")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--smoke", action="store_true", help="tiny sizes (C in {50, 300}, N=512, D=32), CPU allowed")
    add_size_options(p, 1024, "store memory budget")
    p.add_argument("--check", type=int, help="queries checked against float64 (default 16384)")
    p.add_argument("--device", default="auto")
    args = p.parse_args(argv)
    device = resolve_device(args.device)
    if device.type != "cuda" and not args.smoke:
        p.error("no CUDA device: run with --smoke to exercise the script on CPU")
    args.classes = args.classes or ([50, 300] if args.smoke else [1000, 10_000, 100_000])
    args.queries = args.queries or (512 if args.smoke else 131_072)
    args.dim = args.dim or (32 if args.smoke else 768)
    args.check = min(args.check or (256 if args.smoke else 16_384), args.queries)
    args.budget = args.budget_mib * 2**20
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"device: {name}; torch {torch.__version__}")
    if unavailable_reason(device):
        print(f"fused Triton top-1 not measured: {unavailable_reason(device)}")
    for c in args.classes:
        means, queries = make_data(c, args.queries, args.dim, device)
        print(f"\n=== C = {c:,}")
        part_correctness(means, queries, args, device)
        part_throughput(means, queries, args, device)
        part_update(c, args, device)


if __name__ == "__main__":
    main()
