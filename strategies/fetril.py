"""FeTrIL: feature translation for exemplar-free class-incremental learning (Petit et al., WACV 2023).

The backbone is trained on the base session and frozen.  Each class keeps only its centroid μ_c of
raw (not normalised) features, in the prototype store.  At a step introducing new classes N, every
past class p borrows a new class n(p) ∈ N and gets pseudo-features from all training samples of n::

    f̂_p = f_n − μ_n + μ_p          (translation; ``translate``)

n(p) is the new class whose centroid is closest to μ_p: Euclidean distance between centroids, as the
authors' code does (``distance: euclidean``, default), or the highest cosine similarity, as PyCIL's
port does (``distance: cosine``).  Variants (``variant``): ``closest`` (the paper's FeTrIL, k = 1);
``k_closest`` (FeTrIL^k: the k closest new classes, each lending a random ⌈|n|/k⌉ of its samples, so
that a past class gets about as many pseudo-features as a new class has real ones — the reference
code implements only k = 1, this balancing is our choice); ``random`` (one new class drawn at
random, seeded).  The new classes keep their real features.

Real and pseudo-features are L2-normalised (``normalize``) and a linear classifier is retrained from
scratch over all seen classes:

- ``classifier: svm`` (default, the paper's): scikit-learn ``LinearSVC`` one-vs-rest, squared hinge,
  L2 penalty, primal solver (``dual=False``), intercept, ``C = 1.0``, ``tol = 1e-4`` (the authors'
  ``regul`` and ``toler``).  Logits are the SVM decision values ``w_c·f + b_c``.  ``svm_solver:
  newton`` solves the same problems for all classes at once as tensor operations on the run's device
  (:mod:`harness.components.squared_hinge_svm`: Newton-CG with liblinear's stopping rule); objective
  values agree with scikit-learn's to a relative 1e-4 and predictions on ≥ 99.9 % of samples
  (``bench/fetril_step.py``), not bit for bit, so ``liblinear`` stays the default for reproduction.
- ``classifier: linear``: an ``nn.Linear`` layer trained with cross-entropy, SGD (momentum 0.9,
  lr 0.05, weight decay 5e-4, batch 128, 50 epochs, cosine schedule: PyCIL's ``fetril.json``).
  PyCIL keeps training the previous layer on un-normalised features; here it is retrained from
  scratch on normalised features like the SVM.

- ``classifier: ncm``: no translation and no classifier: the nearest class mean (Euclidean, on the
  normalised features and centroids when ``normalize``) over the same frozen backbone — the
  comparison the paper's claim is made against.

At the base step the classifier is trained on the real base features.  The authors' feature loader
leaves its first batch of 512 features un-normalised before the SVM, which looks accidental; every
feature is normalised here.  Predictions: logits over seen classes, open-set score = the largest logit.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field

from harness.api.seeds import FETRIL_LINEAR_SEED_FACTOR, SeedStream
from harness.api.experience import Experience, Prediction
from harness.components.discovery import Clustering, DiscoveryParams
from harness.components.session_strategy import SessionBackboneStrategy
from harness.api.params import Params
from harness.store.prototype_store import PrototypeStore
from harness.api.registry import STRATEGIES
from harness.training import BackboneParams
from harness.training.linear_probe import train_linear_layer


class FeTrILParams(Params):
    backbone: BackboneParams = Field(default_factory=BackboneParams, description="network trained on the base session")
    classifier: Literal["svm", "linear", "ncm"] = Field(
        "svm", description="LinearSVC (paper), a trained linear layer, or nearest class mean without translation (ablation)"
    )
    svm_c: float = Field(1.0, gt=0.0, description="LinearSVC C")
    svm_tol: float = Field(1e-4, gt=0.0, description="LinearSVC tolerance")
    svm_solver: Literal["liblinear", "newton"] = Field(
        "liblinear", description="scikit-learn's LinearSVC (exact reproduction), or the same problem for all classes at once on the run's device"
    )
    distance: Literal["euclidean", "cosine"] = Field("euclidean", description="centroid similarity choosing the source class")
    variant: Literal["closest", "k_closest", "random"] = Field("closest", description="which new class(es) lend features")
    k: int = Field(3, ge=1, description="new classes lending features in the k_closest variant")
    normalize: bool = Field(True, description="L2-normalise features before the classifier")
    discovery: DiscoveryParams = Field(default_factory=DiscoveryParams, description="options of new-class discovery (ncd, cgcd)")
    linear_epochs: int = Field(50, ge=1)
    linear_lr: float = Field(0.05, gt=0.0)
    linear_batch_size: int = Field(128, ge=1)
    linear_weight_decay: float = Field(5e-4, ge=0.0)
    linear_momentum: float = Field(0.9, ge=0.0, lt=1.0)


def translate(new_features: torch.Tensor, new_mean: torch.Tensor, past_mean: torch.Tensor) -> torch.Tensor:
    """Pseudo-features of a past class: ``f_n − μ_n + μ_p`` for every row ``f_n``."""
    return new_features - new_mean + past_mean


def closest_new_classes(past_means: torch.Tensor, new_means: torch.Tensor, distance: str, k: int = 1) -> torch.Tensor:
    """Rows of ``new_means`` closest to each past mean, ``(P, k)``, closest first (ties: lower row)."""
    if distance == "cosine":
        score = F.normalize(past_means, dim=1) @ F.normalize(new_means, dim=1).T
    else:
        score = -torch.cdist(past_means.double(), new_means.double())
    return torch.sort(score, dim=1, descending=True, stable=True).indices[:, : min(k, len(new_means))]


def pseudo_features(
    features: torch.Tensor,
    rows_of_new: list[torch.Tensor],
    new_means: torch.Tensor,
    past_means: torch.Tensor,
    sources: list[list[int]],
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Translated features for each past class ``p`` from the new classes ``sources[p]``.

    ``rows_of_new[j]`` are the rows of ``features`` of new class ``j``.  With one source a past class
    gets every sample of it; with ``m > 1`` sources a random ``⌈|n_j|/m⌉`` of each.  Returns the
    pseudo-features and the index ``p`` of the past class of each row.
    """
    blocks = [features[r] for r in rows_of_new]  # each new class's features, gathered once
    plan = []  # (past class, source, rows of the source's block to use or None for all)
    for p, src in enumerate(sources):
        for j in src:
            pick = None
            if len(src) > 1:
                take = math.ceil(len(blocks[j]) / len(src))
                pick = torch.randperm(len(blocks[j]), generator=generator)[:take].to(features.device)
            plan.append((p, j, pick))
    sizes = [len(blocks[j]) if pick is None else len(pick) for _, j, pick in plan]
    out = features.new_empty(sum(sizes), features.shape[1])
    owner = torch.empty(sum(sizes), dtype=torch.long, device=features.device)
    start = 0
    for (p, j, pick), size in zip(plan, sizes):
        block = blocks[j] if pick is None else blocks[j][pick]
        # f_n − μ_n + μ_p  (``translate``), written in place into the output
        torch.add(block, past_means[p] - new_means[j], out=out[start : start + size])
        owner[start : start + size] = p
        start += size
    return out, owner


@STRATEGIES.register("fetril")
class FeTrIL(SessionBackboneStrategy):
    __doc__ = __doc__ + """
On unlabeled steps (``ncd``, ``cgcd``) the shared discovery clusters the frozen features with the
known centroids fixed; discovered clusters become new classes (their samples pseudo-labeled by
cluster) and the classifier is retrained as after a labeled step: their real features plus
pseudo-features of every past class.
"""
    Params = FeTrILParams
    def __init__(self, params: FeTrILParams, context):
        super().__init__(params, context)
        self.weight: torch.Tensor | None = None
        self.bias: torch.Tensor | None = None
        self.classes = torch.zeros(0, dtype=torch.long)

    def _normalize(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(x, dim=1) if self.params.normalize else x

    def _sources(self, past_means: torch.Tensor, new_means: torch.Tensor, step: int) -> list[list[int]]:
        p = self.params
        if p.variant == "random":
            g = self.context.generator(SeedStream.FETRIL_SOURCES + step)
            return [[int(j)] for j in torch.randint(0, len(new_means), (len(past_means),), generator=g)]
        k = p.k if p.variant == "k_closest" else 1
        return closest_new_classes(past_means, new_means, p.distance, k).tolist()

    def learn(self, experience: Experience) -> None:
        if experience.is_base:
            self.backbone.fit_base(experience)
        feats = self.backbone.features(experience.inputs)
        labels = experience.labels.to(feats.device)
        if self.store is None:
            self.store = PrototypeStore(feats.shape[1], device=feats.device)
        past = [int(c) for c in self.store.class_ids.tolist() if c not in experience.new_classes]
        self.store.update(feats, labels)
        new = [c for c in experience.new_classes if c in self.store]
        self._retrain(feats, labels, new, past, experience.step)

    def discovery_features(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.backbone.features(inputs)

    def after_discovery(self, experience, features: torch.Tensor, new_ids: list[int], clustering: Clustering) -> None:
        """Retrain on the samples of the discovered clusters (labeled by cluster) and pseudo-features of the past classes."""
        in_new = clustering.assignment >= 0
        labels = torch.tensor(new_ids, dtype=torch.long, device=features.device)[clustering.assignment[in_new].to(features.device)]
        past = [int(c) for c in self.store.class_ids.tolist() if c not in new_ids]
        self._retrain(features[in_new.to(features.device)], labels, [c for c in new_ids if (labels == c).any()], past, experience.step)

    def _retrain(self, feats: torch.Tensor, labels: torch.Tensor, new: list[int], past: list[int], step: int) -> None:
        """Fit the classifier on real features of this step plus translated features of the past classes."""
        if self.params.classifier == "ncm":
            return  # the centroids in the store are the whole classifier
        train_x, train_y = [feats], [labels]
        if past and new:
            new_means, past_means = self.store.means[self.store.rows(new)], self.store.means[self.store.rows(past)]
            rows_of_new = [torch.nonzero(labels == c).flatten() for c in new]
            sources = self._sources(past_means, new_means, step)
            pseudo, owner = pseudo_features(feats, rows_of_new, new_means, past_means, sources, self.context.generator(SeedStream.FETRIL_PSEUDO + step))
            train_x.append(pseudo)
            train_y.append(torch.tensor(past, dtype=torch.long, device=feats.device)[owner])
        self._fit_classifier(self._normalize(torch.cat(train_x)), torch.cat(train_y), step)

    def _fit_classifier(self, x: torch.Tensor, y: torch.Tensor, step: int) -> None:
        classes, targets = torch.unique(y, sorted=True, return_inverse=True)
        self.classes = classes.cpu()
        if len(classes) == 1:
            self.weight = x.new_zeros(1, x.shape[1])
            self.bias = x.new_zeros(1)
            return
        if self.params.classifier == "linear":
            p = self.params
            self.weight, self.bias = train_linear_layer(
                x, targets, len(classes), epochs=p.linear_epochs, lr=p.linear_lr, batch_size=p.linear_batch_size,
                weight_decay=p.linear_weight_decay, momentum=p.linear_momentum, seed=self.context.seed * FETRIL_LINEAR_SEED_FACTOR + step,
            )
            return
        if self.params.svm_solver == "newton":
            from harness.components.squared_hinge_svm import fit_squared_hinge_ovr

            solution = fit_squared_hinge_ovr(x, targets, len(classes), c=self.params.svm_c, tol=self.params.svm_tol)
            self.weight, self.bias = solution.weight.to(torch.float32), solution.bias.to(torch.float32)
            return
        from sklearn.svm import LinearSVC

        svm = LinearSVC(C=self.params.svm_c, tol=self.params.svm_tol, dual=False, penalty="l2", loss="squared_hinge")
        svm.fit(x.cpu().double().numpy(), targets.cpu().numpy())
        coef, intercept = np.asarray(svm.coef_), np.asarray(svm.intercept_)
        if len(classes) == 2:  # one decision function w·f + b for class 1; class 0 gets its negation
            coef, intercept = np.concatenate([-coef, coef]), np.concatenate([-intercept, intercept])
        self.weight = torch.from_numpy(coef).to(x.device, torch.float32)
        self.bias = torch.from_numpy(intercept).to(x.device, torch.float32)

    def predict(self, inputs: torch.Tensor) -> Prediction:
        feats = self._normalize(self.backbone.features(inputs))
        if self.params.classifier == "ncm":
            logits = -torch.cdist(feats, self._normalize(self.store.means.to(feats.dtype)))
            return Prediction(logits=logits, classes=self.store.class_ids.to(logits.device), known_score=logits.max(1).values)
        logits = feats @ self.weight.T + self.bias
        return Prediction(logits=logits, classes=self.classes.to(logits.device), known_score=logits.max(1).values)
