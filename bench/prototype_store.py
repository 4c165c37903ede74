"""Exact nearest-prototype search on CPU: the prototype store against faiss-cpu and other peers.

Every method gets the same class means (float32) and the same queries and returns the top-1 class;
all run in this process, interleaved, and each time is the best of ``--repeats`` runs, or of as
many as take about a second when calls are short (at most 30; the machine may be shared).  A call
shorter than a second is timed right after an untimed call of the same method, so that it does
not pay for the OpenMP workers the previous method leaves spinning (faiss's for some milliseconds).  Peers: faiss ``IndexFlatL2`` / ``IndexFlatIP``, scikit-learn ``NearestCentroid``,
avalanche's ``NCMClassifier`` (when importable) and ``torch.cdist`` + argmin; the last three get
query batches sized to the same memory budget as the store.  Top-1 answers are compared with the
store's; where they differ, the float64 distances decide whether it is a rounding-level tie.
Peak memory is the largest rise of the resident set during a call (sampled every millisecond by
a thread), measured in one untimed call per method after a warm-up call on 64 queries (the store
then holds its search copy of the prototypes, ``(C, D + 1)`` floats, as faiss holds its index);
the timed calls run without the sampler, which would take CPU time and the interpreter lock.

The store runs twice: in float32 (``precision="highest"``) and with ``precision="bf16"``, whose
bf16 pass proposes and proves each top-1 answer (or leaves it to a float32 search), so that its
answers are the float32 store's; the script prints the share of answers the bf16 pass proved.

    python bench/prototype_store.py            # D=512, C in {100, 10000, 100000}, N=20000
    python bench/prototype_store.py --quick    # smaller sizes
"""

from __future__ import annotations

import argparse
import importlib
import math
import os
import sys
import threading
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from harness.store.prototype_store import PrototypeStore  # noqa: E402
from bench.store_args import add_size_options  # noqa: E402

PAGE = os.sysconf("SC_PAGE_SIZE")


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


class PeakMemory:
    """Largest rise of the resident set while the block runs, sampled every millisecond."""

    def __enter__(self):
        self.base = self.peak = rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def _watch(self):
        while not self._stop.wait(0.001):
            self.peak = max(self.peak, rss())

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss())
        self.rise = self.peak - self.base


def optional(name: str):
    try:
        return importlib.import_module(name), None
    except Exception as e:  # noqa: BLE001 - any import failure means "not available"
        return None, f"{type(e).__name__}: {e}"


def make_data(c: int, n: int, d: int, seed: int):
    """Class means ~ N(0, I); each query is a random class mean plus N(0, I) noise."""
    g = torch.Generator().manual_seed(seed)
    means = torch.randn(c, d, generator=g)
    owner = torch.randint(0, c, (n,), generator=g)
    queries = means[owner] + torch.randn(n, d, generator=g)
    return means, queries


def batched(fn, queries: torch.Tensor, rows: int) -> np.ndarray:
    return np.concatenate([fn(queries[s : s + rows]) for s in range(0, len(queries), rows)])


def build_methods(means: torch.Tensor, budget: int, faiss, sklearn_nc, avalanche_ncm):
    c, d = means.shape
    rows = max(1, budget // (4 * c))  # query batch whose (rows, C) float32 scores fit the budget
    m_np = means.numpy()
    methods = {}
    stores = {}
    for precision, label in (("highest", ""), ("bf16", " bf16")):
        store = stores[precision] = PrototypeStore(d, device="cpu", memory_budget_bytes=budget, precision=precision)
        store.set_means(range(c), means)
        methods[f"store L2{label}"] = ("L2", lambda q, s=store: s.topk(q, 1, "sqeuclidean")[1][:, 0].numpy())
        methods[f"store IP{label}"] = ("IP", lambda q, s=store: s.topk(q, 1, "dot")[1][:, 0].numpy())
    if faiss is not None:
        l2, ip = faiss.IndexFlatL2(d), faiss.IndexFlatIP(d)
        l2.add(m_np)
        ip.add(m_np)
        methods["faiss IndexFlatL2"] = ("L2", lambda q: l2.search(q.numpy(), 1)[1][:, 0])
        methods["faiss IndexFlatIP"] = ("IP", lambda q: ip.search(q.numpy(), 1)[1][:, 0])
    if sklearn_nc is not None:
        nc = sklearn_nc().fit(m_np, np.arange(c))  # one sample per class: the centroids are the means
        methods["sklearn NearestCentroid"] = ("L2", lambda q: nc.predict(q.numpy()))
    if avalanche_ncm is not None:
        ncm = avalanche_ncm(normalize=False)
        ncm.replace_class_means_dict({i: means[i] for i in range(c)})
        methods["avalanche NCMClassifier"] = ("L2", lambda q: batched(lambda b: ncm(b).argmax(1).numpy(), q, rows))
    methods["torch.cdist + argmin"] = ("L2", lambda q: batched(lambda b: torch.cdist(b, means).argmin(1).numpy(), q, rows))
    return methods, stores["bf16"]


def proved_fraction(store: PrototypeStore) -> str:
    """Share of the bf16 store's top-1 queries that the fast pass proved (the rest ran in float32)."""
    counts = store.fast_pass_counts()
    if counts is None:
        return "bf16 not used below the size threshold: the search ran in float32"
    proved, searched = counts
    return f"bf16 pass proved {proved / max(searched, 1):.4%} of {searched:,} top-1 answers; the rest ran in float32"


def near_tie(means: torch.Tensor, queries: torch.Tensor, a: np.ndarray, b: np.ndarray, kind: str, rtol: float) -> bool:
    """True if, in float64, the two answers' scores agree within ``rtol`` wherever they differ."""
    diff = np.nonzero(a != b)[0]
    q, m = queries[diff].double(), means.double()
    if kind == "IP":
        sa, sb = (q * m[a[diff]]).sum(1), (q * m[b[diff]]).sum(1)
    else:
        sa, sb = ((q - m[a[diff]]) ** 2).sum(1), ((q - m[b[diff]]) ** 2).sum(1)
    return bool(torch.all((sa - sb).abs() <= rtol * torch.maximum(sa.abs(), sb.abs())))


def bench_search(c, n, d, args, faiss, sklearn_nc, avalanche_ncm):
    means, queries = make_data(c, n, d, seed=c)
    methods, bf16_store = build_methods(means, args.budget_mib * 2**20, faiss, sklearn_nc, avalanche_ncm)
    best = {name: float("inf") for name in methods}
    peak = {name: 0 for name in methods}
    answers = {}
    slow = {"sklearn NearestCentroid", "avalanche NCMClassifier", "torch.cdist + argmin"}
    for _, fn in methods.values():  # warm-up on a few queries: caches and thread pools, like faiss's add()
        fn(queries[:64])
    for name, (_, fn) in methods.items():  # peak memory, in an untimed call: the sampler thread costs CPU
        with PeakMemory() as mem:
            fn(queries)
        peak[name] = mem.rise
    t = time.perf_counter()
    methods["store L2"][1](queries)
    # short calls vary most between runs: at least --repeats rounds and about a second per method
    rounds = max(args.repeats, min(30, math.ceil(1.0 / (time.perf_counter() - t))))
    for r in range(rounds):
        for name, (_, fn) in methods.items():
            if name in slow and r >= args.peer_repeats:
                continue
            if best[name] < 1.0:  # an untimed call first: the previous method's OpenMP workers may
                fn(queries)  # still spin for some milliseconds after it returned, taking cores
            t = time.perf_counter()
            answers[name] = np.asarray(fn(queries)).astype(np.int64)
            best[name] = min(best[name], time.perf_counter() - t)
    print(f"\nC = {c:,}  D = {d}  N = {n:,}  (best of {rounds} runs; slow peers {args.peer_repeats})")
    print(f"{'method':26s} {'queries/s':>12s} {'store/method':>13s} {'peak MiB':>9s}  top-1 vs store")
    for name, (kind, _) in methods.items():
        ours = "store L2" if kind == "L2" else "store IP"  # the float32 store is the reference
        qps = n / best[name]
        ratio = best[name] / best[ours]
        differ = int((answers[name] != answers[ours]).sum())
        if differ == 0:
            agree = "identical"
        else:
            tie = near_tie(means, queries, answers[name], answers[ours], kind, 1e-5)
            agree = f"{differ} differ ({'all float32 near-ties' if tie else 'NOT near-ties'})"
        print(f"{name:26s} {qps:12,.0f} {ratio:12.2f}x {peak[name] / 2**20:9.1f}  {agree}")
    print(proved_fraction(bf16_store))
    return {name: n / best[name] for name in methods}, peak


def bench_update(c, n, d, batch, covariance=None):
    """features/s of ``store.update``: a first pass that creates the classes as they arrive, then
    a pass over known classes; the peer is a bare float32 ``index_add_`` of class sums."""
    g = torch.Generator().manual_seed(1)
    feats, labels = torch.randn(n, d, generator=g), torch.randint(0, c, (n,), generator=g)
    first, known = [], []
    for _ in range(3):
        store = PrototypeStore(d, device="cpu", covariance=covariance)
        for times in (first, known):
            t = time.perf_counter()
            for s in range(0, n, batch):
                store.update(feats[s : s + batch], labels[s : s + batch])
            times.append(time.perf_counter() - t)
    t_sum = []
    for _ in range(3):  # peer: plain float32 class sums with index_add_ (no means, not exact)
        sums = torch.zeros(c, d)
        t = time.perf_counter()
        for s in range(0, n, batch):
            sums.index_add_(0, labels[s : s + batch], feats[s : s + batch])
        t_sum.append(time.perf_counter() - t)
    return n / min(first), n / min(known), n / min(t_sum)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="D=128, C in {100, 2000, 20000}, N=4000")
    add_size_options(p, 256, "store memory budget and peers' batch size")
    p.add_argument("--peer-repeats", type=int, default=1, help="runs of sklearn, avalanche and cdist")
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = p.parse_args(argv)
    if args.repeats < 1 or args.peer_repeats < 1:
        p.error("--repeats and --peer-repeats must be at least 1")
    classes = args.classes or ([100, 2000, 20000] if args.quick else [100, 10_000, 100_000])
    n = args.queries or (4000 if args.quick else 20_000)
    d = args.dim or (128 if args.quick else 512)
    torch.set_num_threads(args.threads)
    faiss, why_faiss = optional("faiss")
    if faiss is not None:
        faiss.omp_set_num_threads(args.threads)
    sk, why_sk = optional("sklearn.neighbors")
    av, why_av = optional("avalanche.models")
    print(f"torch {torch.__version__}, {args.threads} threads; faiss {getattr(faiss, '__version__', '-')}; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for name, why in (("faiss-cpu", why_faiss), ("scikit-learn", why_sk), ("avalanche", why_av)):
        if why:
            print(f"skipped {name}: not importable ({why})")
    results = {}
    for c in classes:
        results[c] = bench_search(
            c, n, d, args, faiss, sk.NearestCentroid if sk else None, av.NCMClassifier if av else None
        )
    print("\nratio store / faiss (queries/s), peak memory of the store vs budget")
    for c, (qps, peak) in results.items():
        if faiss is not None:
            l2, ip = qps["faiss IndexFlatL2"], qps["faiss IndexFlatIP"]
            print(
                f"C = {c:>7,}: float32 L2 {qps['store L2'] / l2:.2f}x  IP {qps['store IP'] / ip:.2f}x   "
                f"bf16 L2 {qps['store L2 bf16'] / l2:.2f}x  IP {qps['store IP bf16'] / ip:.2f}x"
                f"  peak {max(v for k, v in peak.items() if k.startswith('store')) / 2**20:.1f} MiB (budget {args.budget_mib} MiB)"
            )
    print(f"load average now {os.getloadavg()[0]:.1f}")
    print("\nstreaming update throughput (features/s), batches of 4096; float64 statistics")
    print(f"{'':28s} {'new classes':>12s} {'known':>12s} {'index_add_':>12s}  known/index_add_")
    for c in classes:
        for cov in (None, "diag"):
            first, known, plain = bench_update(c, n, d, 4096, cov)
            print(f"C = {c:>7,} covariance={str(cov):5s}: {first:12,.0f} {known:12,.0f} {plain:12,.0f}  {known / plain:.2f}x")


if __name__ == "__main__":
    main()
