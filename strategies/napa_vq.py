"""NAPA-VQ: neighbourhood-aware prototype augmentation with vector quantisation (exemplar-free CIL)."""

from __future__ import annotations

import copy
from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from harness.training.augment import BatchAugmenter, Preset
from harness.training.batches import epoch_batches
from harness.api.seeds import SeedStream
from harness.api.experience import Experience, Prediction
from harness.components.neural_gas import (
    NeuralGasTopology,
    distance_logits,
    feature_distillation,
    mix_prototypes,
    neighbourhood_hinge_loss,
)
from harness.api.params import Params
from harness.store.prototype_store import PrototypeStore
from harness.api.registry import STRATEGIES
from harness.api.strategy import Strategy
from harness.training.networks import arch_field_problem, build_network
from harness.training.params import BackboneParams

ROTATIONS = 4


class NAPAVQParams(Params):
    arch: Literal["small_cnn", "mlp", "resnet"] = Field("small_cnn", description="feature network, trained at every step")
    width: int = Field(32, ge=1, description="first-stage channels (cnn, resnet) or hidden units (mlp)")
    depth: int = Field(2, ge=1, description="conv blocks (small_cnn) or hidden layers (mlp)")
    resnet_blocks: list[int] = Field([2, 2, 2, 2], min_length=1)
    epochs: int = Field(10, ge=1, description="epochs per step (the reference trains 100 on CIFAR-100)")
    batch_size: int = Field(64, ge=1)
    lr: float = Field(1e-3, gt=0, description="Adam learning rate of the network at step 0 (later steps: × lr_decay)")
    cv_lr: float = Field(5.0, gt=0, description="SGD learning rate of the code vectors at step 0 (later: × lr_decay)")
    lr_decay: float = Field(0.1, gt=0, description="factor on both learning rates after step 0")
    weight_decay: float = Field(2e-4, ge=0)
    model_step_fraction: float = Field(
        0.45, gt=0, le=1, description="StepLR period of the network as a share of the epochs (45 of the reference's 100; at least 2 epochs)"
    )
    cv_step_fraction: float = Field(
        0.2, gt=0, le=1, description="StepLR period of the code vectors as a share of the epochs (20 of 100; at least 2 epochs)"
    )
    augment: Preset = Field("none", description="augmentation preset of the training batches (images only; napa_vq: crop + flip + brightness)")
    temperature: float = Field(0.1, gt=0, description="T in logits = -distance / T")
    neighbours: int = Field(15, ge=1, description="k of the neural-gas update")
    edge_decay: float = Field(0.9, gt=0, lt=1)
    min_edge: float = Field(0.9**10, ge=0, lt=1)
    edge_rule: Literal["sequential", "reference"] = Field("sequential", description="batch semantics of the edge update")
    neighbour_softmax: float = Field(0.001, gt=0, description="weights softmax(-a·d) of the hinge loss")
    protoaug_weight: float = Field(10.0, ge=0)
    distill_weight: float = Field(10.0, ge=0)
    rotations: bool = Field(True, description="4-rotation label augmentation (square images only)")
    na_loss: bool = Field(True, description="the neighbourhood-aware hinge loss L_NA (false: ablation; the graph is still updated)")
    prototype_augmentation: Literal["neighbourhood", "none"] = Field(
        "neighbourhood", description="old-class prototype replay from step 1: mixed with a graph neighbour (the paper), or none (ablation)"
    )


def step_period(fraction: float, epochs: int) -> int:
    """StepLR period in epochs: ``round(fraction × epochs)`` (45 and 20 at the reference's 100 epochs),
    at least 2, so that with few epochs a decay never fires at every epoch."""
    return max(2, round(fraction * epochs))


@STRATEGIES.register("napa-vq")
class NAPAVQ(Strategy):
    """NAPA-VQ (Malepathirana et al., ICCV 2023), after the authors' code.

    The feature network keeps training at every step.  Each class ``c`` (and, with rotation
    augmentation, each rotated copy: label ``4c + k``) has a learnable code vector ``v``; training
    minimises ``CE(−‖f − v‖/T) + L_NA`` where ``L_NA`` is the neighbourhood-aware hinge loss over the
    neural-gas graph of the code vectors (:mod:`harness.components.neural_gas`; the graph is updated at every
    forward pass).  From step 1 on, ``+ 10·‖f − f_old‖₂`` (feature distillation from the previous
    network: the norm over the whole batch, as in the code) and neighbourhood-aware prototype
    augmentation: for a batch of old classes ``c`` drawn uniformly, ``p̃ = γ·p_c + (1 − γ)·p_j`` with
    ``γ ~ U(0.5, 1)`` and ``j`` a random graph neighbour of ``c`` (itself included, as the graph keeps
    its diagonal), weighted ``10·CE(−‖p̃ − v‖/T)`` plus ``L_NA`` on ``p̃``.  Old code vectors are frozen.
    Optimisers: Adam (lr 1e-3, weight decay 2e-4) for the network and SGD (lr 5) for the code vectors,
    both ×0.1 after step 0, with step decays (×0.1) after 45 % and 20 % of the epochs.
    Class prototypes (mean features per code vector, computed after each step, and for new classes
    before training) live in the prototype store.  Inference: nearest normalised code vector of the
    unrotated classes among normalised features; the open-set score is the largest logit
    ``−‖f̂ − v̂‖``.

    Ablations (the paper's Table of components): ``na_loss: false`` drops ``L_NA`` everywhere (the
    neural-gas graph is still updated, since the prototype augmentation draws its neighbours from it);
    ``prototype_augmentation: none`` drops the replay of old-class prototypes (its cross-entropy and its
    ``L_NA``), leaving distillation alone against forgetting.
    """

    Params = NAPAVQParams
    supports = frozenset({"cil"})

    @classmethod
    def input_problem(cls, params, input_shape):
        return arch_field_problem("arch", params.arch, input_shape)

    def __init__(self, params: NAPAVQParams, context):
        super().__init__(params, context)
        self.generator = context.generator(SeedStream.NAPA_VQ_BATCHES)
        self.network: nn.Module | None = None
        self.old_network: nn.Module | None = None
        self.code_vectors = torch.zeros(0, 0)
        self.topology: NeuralGasTopology | None = None
        self.prototypes: PrototypeStore | None = None
        self.class_ids: list[int] = []
        self.rotate = params.rotations and len(context.input_shape) == 3 and context.input_shape[1] == context.input_shape[2]
        self.copies = ROTATIONS if self.rotate else 1

    # ------------------------------------------------------------------ helpers
    def _build(self) -> None:
        p = self.params
        spec = BackboneParams(arch=p.arch, width=p.width, depth=p.depth, resnet_blocks=p.resnet_blocks)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.context.seed)
            self.network = build_network(spec, self.context.input_shape).to(self.device)
        self.dim = self.network.out_dim
        self.code_vectors = torch.zeros(0, self.dim, device=self.device)
        self.topology = NeuralGasTopology(0, p.neighbours, p.edge_decay, p.min_edge, p.edge_rule, self.device)
        self.prototypes = PrototypeStore(self.dim, device=self.device)

    def _augment(self, x: torch.Tensor, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Rotation label augmentation: inputs rotated by k·90°, labels ``4·row + k``."""
        if not self.rotate:
            return x, rows
        x4 = torch.stack([torch.rot90(x, k, (2, 3)) for k in range(ROTATIONS)], 1).flatten(0, 1)
        y4 = (rows[:, None] * ROTATIONS + torch.arange(ROTATIONS, device=rows.device)).flatten()
        return x4, y4

    def _na_loss(self, features: torch.Tensor, targets: torch.Tensor, vectors: torch.Tensor) -> torch.Tensor:
        edges = self.topology.update(self.topology.nearest(features, vectors))
        if self.params.na_loss:
            loss = neighbourhood_hinge_loss(features, targets, vectors, edges, self.params.neighbour_softmax)
        else:
            loss = features.new_zeros(())
        self.topology.symmetrise()
        return loss

    def _prototype_augmentation(self, n: int, old_vectors: int, vectors: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        g = self.generator
        old_rows = old_vectors // self.copies
        picked = torch.randint(old_rows, (n,), generator=g) * self.copies
        protos = self.prototypes.means[self.prototypes.rows(picked.tolist())]
        # a uniform draw among each class's graph neighbours that have a prototype (itself included)
        has_prototype = torch.zeros(self.topology.num_vectors, dtype=torch.bool)
        has_prototype[self.prototypes.class_ids] = True
        allowed = (self.topology.edges[picked].cpu() > 0) & has_prototype
        partners = torch.multinomial(allowed.float(), 1, generator=g).squeeze(1)
        partner_protos = self.prototypes.means[self.prototypes.rows(partners.tolist())]
        gamma = (0.5 + 0.5 * torch.rand(n, 1, generator=g)).to(self.device)
        augmented = mix_prototypes(protos, partner_protos, gamma)
        return augmented, picked.to(self.device)

    # ------------------------------------------------------------------ interface
    def learn(self, experience: Experience) -> None:
        p = self.params
        if self.network is None:
            self._build()
        for c in experience.new_classes:
            self.class_ids.append(int(c))
        row_of = {c: r for r, c in enumerate(self.class_ids)}
        rows = torch.tensor([row_of[int(c)] for c in experience.labels.tolist()], device=self.device)
        x = experience.inputs.to(self.device, torch.float32)
        old_vectors = len(self.code_vectors)
        first = old_vectors == 0
        if not first:
            self.old_network = copy.deepcopy(self.network).eval().requires_grad_(False)
            self._replace_prototypes(x, rows)  # new classes, current network, before training
        new = len(experience.new_classes) * self.copies
        fresh = torch.randn(new, self.dim, generator=self.generator).to(self.device)
        self.code_vectors = nn.Parameter(torch.cat([self.code_vectors.detach(), fresh]))
        self.topology.grow(new)

        scale = 1.0 if first else p.lr_decay
        opt = torch.optim.Adam(self.network.parameters(), lr=p.lr * scale, weight_decay=p.weight_decay)
        opt_cv = torch.optim.SGD([self.code_vectors], lr=p.cv_lr * scale)
        sched = torch.optim.lr_scheduler.StepLR(opt, step_period(p.model_step_fraction, p.epochs), 0.1)
        sched_cv = torch.optim.lr_scheduler.StepLR(opt_cv, step_period(p.cv_step_fraction, p.epochs), 0.1)
        augmenter = BatchAugmenter(p.augment, tuple(x.shape[1:]), self.context.generator(SeedStream.NAPA_VQ_AUGMENT + experience.step).initial_seed()) if p.augment != "none" else None
        self.network.train()
        for epoch in range(p.epochs):
            totals, batches = torch.zeros(3), 0
            for index, idx in enumerate(epoch_batches(len(x), p.batch_size, self.generator, self.device)):
                batch = augmenter(x[idx], epoch, index) if augmenter else x[idx]
                terms = self.step_losses(batch, rows[idx], old_vectors)
                loss = sum(terms.values())
                opt.zero_grad()
                opt_cv.zero_grad()
                loss.backward()
                if old_vectors:
                    self.code_vectors.grad[:old_vectors] = 0
                opt.step()
                opt_cv.step()
                totals += torch.tensor([terms["ce"].item(), terms["na"].item(), loss.item()])
                batches += 1
            sched.step()
            sched_cv.step()
            ce, na, total = (totals / max(1, batches)).tolist()
            self.log_epoch(experience.step, epoch, total, ce=ce, na=na)
        self._replace_prototypes(x, rows)  # this step's classes, with the trained network

    def step_losses(self, x: torch.Tensor, rows: torch.Tensor, old_vectors: int) -> dict[str, torch.Tensor]:
        """The loss terms of one minibatch (exposed for tests and device checks)."""
        p = self.params
        xa, targets = self._augment(x, rows)
        features = self.network(xa)
        vectors = self.code_vectors
        terms = {
            "ce": F.cross_entropy(distance_logits(features, vectors, p.temperature), targets),
            "na": self._na_loss(features, targets, vectors),
        }
        if self.old_network is not None and old_vectors:
            with torch.no_grad():
                old_features = self.old_network(xa)
            terms["distill"] = p.distill_weight * feature_distillation(features, old_features)
            if p.prototype_augmentation == "none":
                return terms
            augmented, labels = self._prototype_augmentation(len(x), old_vectors, vectors)
            terms["na"] = terms["na"] + self._na_loss(augmented, labels, vectors)
            terms["protoaug"] = p.protoaug_weight * F.cross_entropy(distance_logits(augmented, vectors, p.temperature), labels)
        return terms

    @torch.no_grad()
    def _replace_prototypes(self, x: torch.Tensor, rows: torch.Tensor) -> None:
        """Mean feature per code-vector label of (x, rows), computed afresh with the current network."""
        self.network.eval()
        sums: dict[int, torch.Tensor] = {}
        counts: dict[int, int] = {}
        for start in range(0, len(x), 512):
            xa, ya = self._augment(x[start : start + 512], rows[start : start + 512])
            f = self.network(xa)
            for label in ya.unique().tolist():
                mask = ya == label
                sums[label] = sums.get(label, 0) + f[mask].sum(0)
                counts[label] = counts.get(label, 0) + int(mask.sum())
        labels = sorted(sums)
        means = torch.stack([sums[c] / counts[c] for c in labels])
        self.prototypes.set_means(labels, means, torch.tensor([counts[c] for c in labels], dtype=torch.float64))
        self.network.train()

    @torch.no_grad()
    def predict(self, inputs: torch.Tensor) -> Prediction:
        self.network.eval()
        features = F.normalize(self.network(inputs.to(self.device, torch.float32)), dim=1)
        vectors = F.normalize(self.code_vectors.detach()[:: self.copies], dim=1)
        logits = -torch.cdist(features, vectors)
        classes = torch.tensor(self.class_ids, device=logits.device)
        return Prediction(logits=logits, classes=classes, known_score=logits.max(1).values)
