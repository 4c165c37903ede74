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
  * the SVM on the step's training set (real new + pseudo-features, L2-normalised), scikit-learn's
    ``LinearSVC`` against the batched Newton solver (``svm_solver: newton``) on the same rows:
    objective values, prediction agreement on the training rows and on fresh samples, wall and CPU
    time (``--solvers``; ``--small`` adds the same comparison on a tenth of the rows and dimensions);
  * the full step ``FeTrIL.learn`` (store update, translation, normalisation, classifier) with the
    LinearSVC (default) and with the linear layer (PyCIL schedule: 50 epochs, batch 128).

    python bench/fetril_step.py [--classifiers [svm] [linear]] [--solvers [liblinear] [newton]] [--per-class 500] [--dim 512]
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
    ap.add_argument("--solvers", nargs="*", default=[], choices=["liblinear", "newton"], help="compare SVM solvers on the step's training set")
    ap.add_argument("--small", action="store_true", help="also compare the solvers on a smaller problem (N/10, D/4)")
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

    # --- the SVM solvers on the step's training set -------------------------------------------------
    if args.solvers:
        x = torch.nn.functional.normalize(torch.cat([new_feats, pseudo]), dim=1)
        y = torch.cat([new_labels, owner])  # owner: the past class of each pseudo-feature
        test_feats, test_labels = synthetic(args.classes, 100, args.dim, args.seed, noise_seed=args.seed + 2)
        compare_solvers(x, y, args.classes, torch.nn.functional.normalize(test_feats, dim=1), args.solvers, "full")
        if args.small:
            keep = torch.arange(0, len(x), 10)
            dims = args.dim // 4
            compare_solvers(torch.nn.functional.normalize(x[keep, :dims], dim=1), y[keep], args.classes,
                            torch.nn.functional.normalize(test_feats[:, :dims], dim=1), args.solvers, "small")

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


def compare_solvers(x: torch.Tensor, y: torch.Tensor, classes: int, test_x: torch.Tensor, solvers: list[str], name: str) -> None:
    """Both solvers on (x, y): objective values (computed alike for both), agreement, wall and CPU time."""
    from sklearn.svm import LinearSVC

    from harness.components.squared_hinge_svm import fit_squared_hinge_ovr, objective

    xd = x.double()
    solutions = {}
    for solver in solvers:
        if solver == "liblinear":
            (wall, cpu), svm = timed(lambda: LinearSVC(C=1.0, tol=1e-4, dual=False).fit(xd.numpy(), y.numpy()), with_cpu=True)
            weight, bias = torch.from_numpy(svm.coef_), torch.from_numpy(svm.intercept_)
        else:
            (wall, cpu), solution = timed(lambda: fit_squared_hinge_ovr(xd, y, classes), with_cpu=True)
            weight, bias = solution.weight, solution.bias
        solutions[solver] = (weight, bias, objective(weight, bias, xd, y, classes), wall, cpu)
    print(f"SVM solvers on the step's training set ({name}: N = {len(x):,}, D = {x.shape[1]}, {classes} classes; C = 1, tol = 1e-4):")
    for solver, (weight, bias, values, wall, cpu) in solutions.items():
        print(f"  {solver:<9}  {wall:8.2f} s wall  {cpu:8.2f} s CPU   objective Σ_k f_k = {float(values.sum()):.6f}")
    if len(solutions) == 2:
        (w1, b1, f1, t1, c1), (w2, b2, f2, t2, c2) = solutions["liblinear"], solutions["newton"]
        rel = float(((f2 - f1) / f1).abs().max())
        train = float(((xd @ w1.T + b1).argmax(1) == (xd @ w2.T + b2).argmax(1)).double().mean())
        test = float(((test_x.double() @ w1.T + b1).argmax(1) == (test_x.double() @ w2.T + b2).argmax(1)).double().mean())
        print(f"  newton / liblinear: {t1 / t2:.1f}× faster (wall), {c1 / c2:.1f}× less CPU; objective per class: max relative "
              f"difference {rel:.2e} (newton − liblinear summed: {float((f2 - f1).sum()):+.2e}); predictions agree on "
              f"{100 * train:.3f} % of the training rows and {100 * test:.3f} % of {len(test_x):,} fresh samples")


if __name__ == "__main__":
    main()
