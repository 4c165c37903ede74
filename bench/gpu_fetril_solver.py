"""FeTrIL's batched SVM solver on a GPU against the CPU: the same problem, objective values, predictions, time.

The problem is a FeTrIL step at CIFAR-100 scale (N = 50,000 L2-normalised rows, D = 512, 100
classes; seeded synthetic features, as in ``bench/fetril_step.py``).  Solved, in one run:

1. on the CPU in float64 by scikit-learn's ``LinearSVC`` (the reference; ``--no-liblinear`` skips it,
   it takes minutes) and by ``fit_squared_hinge_ovr`` (float64 gradients, float32 CG);
2. on the GPU by ``fit_squared_hinge_ovr`` with float64 gradients and float32 CG directions (TF32 off),
   and with TF32 allowed in the CG products.

For each: wall time, the objective Σ_k f_k, the largest relative difference of a class's objective
from the CPU reference, and prediction agreement with it on the training rows and on fresh
samples.  Needs torch, numpy and scikit-learn.

    python bench/gpu_fetril_solver.py                    # the full size
    python bench/gpu_fetril_solver.py --smoke            # tiny, runs on the CPU too (checks the script)
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from harness.components.squared_hinge_svm import fit_squared_hinge_ovr, objective  # noqa: E402


def problem(n: int, d: int, k: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    means = torch.randn(k, d, generator=g) * 0.5
    labels = torch.arange(k).repeat_interleave(n // k)
    x = torch.relu(means[labels] + torch.randn(len(labels), d, generator=g))
    return torch.nn.functional.normalize(x, dim=1).double(), labels


def synchronised(device: torch.device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=50_000)
    ap.add_argument("--dim", type=int, default=512)
    ap.add_argument("--classes", type=int, default=100)
    ap.add_argument("--no-liblinear", action="store_true")
    ap.add_argument("--smoke", action="store_true", help="N = 2,000, D = 32, 10 classes")
    args = ap.parse_args()
    if args.smoke:
        args.rows, args.dim, args.classes = 2000, 32, 10
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "no GPU: CPU only"
    x, y = problem(args.rows, args.dim, args.classes, 0)
    test_x, _ = problem(args.classes * 100, args.dim, args.classes, 1)
    print(f"device: {name}; N = {len(x):,}, D = {args.dim}, {args.classes} classes; torch {torch.__version__}, CPU threads {torch.get_num_threads()}")
    runs: dict[str, tuple[torch.Tensor, torch.Tensor, float]] = {}
    if not args.no_liblinear:
        from sklearn.svm import LinearSVC

        start = time.perf_counter()
        svm = LinearSVC(C=1.0, tol=1e-4, dual=False).fit(x.numpy(), y.numpy())
        runs["cpu liblinear (reference)"] = (torch.from_numpy(svm.coef_), torch.from_numpy(svm.intercept_), time.perf_counter() - start)
    start = time.perf_counter()
    cpu = fit_squared_hinge_ovr(x, y, args.classes)
    runs["cpu newton"] = (cpu.weight, cpu.bias, time.perf_counter() - start)
    if device.type == "cuda":
        xg, yg = x.to(device), y.to(device)
        fit_squared_hinge_ovr(xg[:1000], yg[:1000], args.classes)  # warm-up
        for label, tf32 in (("gpu newton (fp32 CG)", False), ("gpu newton (tf32 CG)", True)):
            torch.backends.cuda.matmul.allow_tf32 = tf32
            synchronised(device)
            start = time.perf_counter()
            sol = fit_squared_hinge_ovr(xg, yg, args.classes)
            synchronised(device)
            runs[label] = (sol.weight.cpu(), sol.bias.cpu(), time.perf_counter() - start)
        torch.backends.cuda.matmul.allow_tf32 = False
    reference_label = next(iter(runs))
    rw, rb, rt = runs[reference_label]
    reference = objective(rw, rb, x, y, args.classes)
    print(f"{'solver':<28} {'wall s':>9} {'× ref':>7} {'Σ f_k':>14} {'max rel Δf_k':>13} {'agree train':>12} {'agree fresh':>12}")
    for label, (w, b, t) in runs.items():
        values = objective(w, b, x, y, args.classes)
        w, b = (torch.cat([-w, w]), torch.cat([-b, b])) if len(w) == 1 else (w, b)
        rw2, rb2 = (torch.cat([-rw, rw]), torch.cat([-rb, rb])) if len(rw) == 1 else (rw, rb)
        train = ((x @ w.T + b).argmax(1) == (x @ rw2.T + rb2).argmax(1)).double().mean()
        fresh = ((test_x @ w.T + b).argmax(1) == (test_x @ rw2.T + rb2).argmax(1)).double().mean()
        rel = ((values - reference) / reference).abs().max()
        print(f"{label:<28} {t:9.2f} {rt / t:7.1f} {float(values.sum()):14.6f} {float(rel):13.2e} {100 * float(train):11.3f}% {100 * float(fresh):11.3f}%")


if __name__ == "__main__":
    main()
