"""Time one FeTrIL incremental step on cached features.

Setting (CIFAR-100-sized, last step of 50 + 5×10): 100 seen classes, 10 of them new with
``--per-class`` (500) real features each; the 90 past classes are known by their centroids only and
receive 500 pseudo-features each, so the classifier is trained on N = 100 × 500 = 50,000 rows of
dimension D = 512.  Features are synthetic (ReLU of Gaussian class means plus noise), seeded.

Timed, in one run:
  * the translation that builds the 45,000 pseudo-features: FeTrIL's ``pseudo_features`` (each new
    class gathered once, every past class written in place into one preallocated block) against
    three peers: the authors' way (per past class, select the source's rows with a boolean mask over
    all features, translate, concatenate at the end; NumPy), a one-shot gather over all rows
    (``f[rows] − μ_n[row] + μ_p[row]``; torch), and a per-sample Python loop (timed on one past
    class, scaled by the number of past classes);
  * the full step ``FeTrIL.learn`` (store update, translation, normalisation, classifier) with the
    LinearSVC (default) and with the linear layer (PyCIL schedule: 50 epochs, batch 128).

    python bench/fetril_step.py [--classifiers [svm] [linear]] [--per-class 500] [--dim 512]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from harness.api.experience import Experience
from harness.store.prototype_store import PrototypeStore
from harness.api.strategy import StrategyContext
from strategies.fetril import FeTrIL, FeTrILParams, closest_new_classes, pseudo_features


def synthetic(classes: int, per_class: int, dim: int, seed: int, noise_seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    means = torch.randn(classes, dim, generator=torch.Generator().manual_seed(seed)) * 0.5
    labels = torch.arange(classes).repeat_interleave(per_class)
    noise = torch.randn(len(labels), dim, generator=torch.Generator().manual_seed(noise_seed))
    feats = torch.relu(means[labels] + noise)
    return feats, labels


def timed(fn, repeat: int = 1, with_cpu: bool = False):
    """Best wall time over ``repeat`` calls (and the process CPU time of that call when ``with_cpu``)."""
    best, best_cpu = float("inf"), float("inf")
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        out = fn()
        wall, cpu = time.perf_counter() - start, time.process_time() - start_cpu
        if wall < best:
            best, best_cpu = wall, cpu
    return ((best, best_cpu) if with_cpu else best), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--classes", type=int, default=100)
    ap.add_argument("--new", type=int, default=10, help="new classes of the step")
    ap.add_argument("--per-class", type=int, default=500)
    ap.add_argument("--dim", type=int, default=512)
    ap.add_argument("--classifiers", nargs="*", default=["svm", "linear"], choices=["svm", "linear"])
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    n_past = args.classes - args.new
    feats, labels = synthetic(args.classes, args.per_class, args.dim, args.seed, noise_seed=args.seed + 1)
    past_feats, new_feats = feats[labels < n_past], feats[labels >= n_past]
    new_labels = labels[labels >= n_past]
    past_means = torch.stack([past_feats[labels[labels < n_past] == c].mean(0) for c in range(n_past)])
    rows = [torch.nonzero(new_labels == c).flatten() for c in range(n_past, args.classes)]
    new_means = torch.stack([new_feats[r].mean(0) for r in rows])
    sources = closest_new_classes(past_means, new_means, "euclidean").tolist()
    n_rows = n_past * args.per_class + len(new_feats)
    print(f"step: {args.classes} classes ({n_past} past, {args.new} new × {args.per_class}), "
          f"classifier trained on N = {n_rows:,} × D = {args.dim}; torch threads = {torch.get_num_threads()}")

    # --- translation: vectorised vs per-class NumPy loop vs per-sample Python loop -------------------
    t_vec, (pseudo, owner) = timed(lambda: pseudo_features(new_feats, rows, new_means, past_means, sources), repeat=3)
    nf, nm, pm = new_feats.numpy(), new_means.numpy(), past_means.numpy()
    ny = new_labels.numpy() - n_past
    np_rows = [r.numpy() for r in rows]

    def per_class_loop():
        return np.concatenate([nf[ny == s[0]] - nm[s[0]] + pm[p] for p, s in enumerate(sources)])

    t_class, looped = timed(per_class_loop, repeat=3)
    src = torch.tensor([s[0] for s in sources])
    all_rows = torch.cat([rows[j] for j in src.tolist()])
    row_src = src.repeat_interleave(torch.tensor([len(rows[j]) for j in src.tolist()]))
    row_past = torch.arange(n_past).repeat_interleave(torch.tensor([len(rows[j]) for j in src.tolist()]))
    t_gather, gathered = timed(lambda: new_feats[all_rows] - new_means[row_src] + past_means[row_past], repeat=3)

    def per_sample_one_class():
        s, out = sources[0][0], []
        for i in np_rows[s]:
            out.append([nf[i, d] - nm[s, d] + pm[0, d] for d in range(args.dim)])
        return out

    t_one, _ = timed(per_sample_one_class)
    t_sample = t_one * n_past  # every past class borrows per_class rows
    assert np.allclose(pseudo.numpy(), looped, atol=1e-5), "pseudo_features and the per-class loop differ"
    assert torch.allclose(pseudo, gathered, atol=1e-5), "pseudo_features and the one-shot gather differ"
    print(f"translation of {len(pseudo):,} pseudo-features (best of 3):")
    print(f"  pseudo_features (FeTrIL here)      {t_vec * 1e3:9.1f} ms")
    print(f"  per-class mask + concat (NumPy)    {t_class * 1e3:9.1f} ms   ({t_class / t_vec:.1f}× pseudo_features)")
    print(f"  one-shot gather (torch)            {t_gather * 1e3:9.1f} ms   ({t_gather / t_vec:.1f}× pseudo_features)")
    print(f"  per-sample Python loop (scaled)    {t_sample * 1e3:9.1f} ms   ({t_sample / t_vec:.0f}× pseudo_features)")

    # --- the whole step through the strategy ---------------------------------------------------------
    ctx = StrategyContext(device=torch.device("cpu"), seed=args.seed, input_shape=(args.dim,))
    for classifier in args.classifiers:
        strategy = FeTrIL(FeTrILParams(backbone={"arch": "identity"}, classifier=classifier), ctx)
        strategy.backbone.fit_base(Experience(0, "cil", feats[:2], labels[:2], (), ()))  # identity: nothing to train
        strategy.store = PrototypeStore(args.dim, device="cpu")
        strategy.store.set_means(range(n_past), past_means, torch.full((n_past,), float(args.per_class)))
        step = Experience(1, "cil", new_feats, new_labels, tuple(range(n_past, args.classes)), tuple(range(args.classes)))
        (t_step, cpu_step), _ = timed(lambda: strategy.learn(step), with_cpu=True)
        test_feats, test_labels = synthetic(args.classes, 100, args.dim, args.seed, noise_seed=args.seed + 2)
        accuracy = (strategy.predict(test_feats).predicted_classes() == test_labels).float().mean()
        print(f"FeTrIL step, classifier={classifier:<6}  {t_step:8.1f} s wall, {cpu_step:8.1f} s CPU   (accuracy on {len(test_feats):,} fresh synthetic samples {accuracy:.3f})")


if __name__ == "__main__":
    main()
