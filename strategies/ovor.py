"""OVOR: OnePrompt with virtual outlier regularisation (rehearsal-free CIL on a frozen transformer)."""

from __future__ import annotations

import math
from typing import Any, Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from harness.training.augment import BatchAugmenter, Preset
from harness.training.batches import epoch_batches
from harness.api.seeds import OVOR_HEAD_SEED_FACTOR, SeedStream
from harness.api.dataset import Dataset
from harness.api.experience import Experience, Prediction
from harness.api.params import Params
from harness.components.prefix_tuning import OnePrompt
from harness.api.registry import STRATEGIES
from harness.api.strategy import Strategy
from harness.components.virtual_outliers import OutlierConfig, energy_regulariser, virtual_outliers


class OVORParams(Params):
    encoder: Literal["minilm", "timm"] = Field(
        "timm", description="frozen transformer: the packaged MiniLM text encoder (token-id inputs) or a timm ViT (images)"
    )
    timm_model: str = Field("vit_base_patch16_224", description="timm model name (encoder: timm)")
    timm_kwargs: dict[str, Any] = Field({}, description="extra arguments of timm.create_model, e.g. img_size, patch_size")
    weights: str | None = Field(None, description="local file with pretrained ViT weights (encoder: timm)")
    g_length: int = Field(10, ge=2, description="g-prompt length (keys + values)")
    e_length: int = Field(40, ge=2, description="e-prompt length (keys + values)")
    g_layers: list[int] | None = Field(None, description="g-prompt layers; default [0, 1] of 12, scaled to the depth")
    e_layers: list[int] | None = Field(None, description="e-prompt layers; default [2, 3, 4] of 12, scaled to the depth")
    epochs: int = Field(16, ge=0, description="epochs of prompt + head training per task")
    outlier_epochs: int = Field(4, ge=0, description="last epochs per task with virtual outlier regularisation (head only)")
    batch_size: int = Field(128, ge=1)
    lr: float = Field(1e-3, gt=0, description="Adam learning rate, cosine-annealed over all epochs of a task")
    knn: int = Field(50, ge=1, description="K of the k-th nearest-neighbour distance")
    boundary_points: int = Field(50, ge=1)
    candidates_per_point: int = Field(600, ge=1)
    sigma: float = Field(0.1, gt=0, description="standard deviation of the Gaussian candidates")
    outliers_per_class: int = Field(40, ge=1)
    reg_weight: float = Field(0.1, ge=0, description="λ")
    t_id: float = -15.0
    t_ood: float = -3.0
    huber: bool = True
    offsets_only: bool = Field(False, description="reproduce the reference code: one shared set of offsets around the origin (not added to the points)")
    augment: Preset = Field("none", description="augmentation preset of the prompt-training batches (images, encoder: timm)")
    lr_factor: Literal["half_cosine", "reference"] = Field(
        "half_cosine",
        description="per-epoch learning-rate factor over a task's K epochs: cos(π/2 · e / K), or the reference code's cos(99π · e / (200 (K − 1)))",
    )


def lr_factor(kind: str, epoch: int, epochs: int) -> float:
    """The learning-rate multiplier at ``epoch`` of a task's ``epochs``: owlbench's half cosine, or the
    reference code's ``cos(99π·e / (200·(K − 1)))`` (which stays just above 0 at the last epoch)."""
    if kind == "reference":
        return math.cos(99 * math.pi * epoch / (200 * max(1, epochs - 1)))
    return math.cos(math.pi / 2 * epoch / epochs)


@STRATEGIES.register("ovor")
class OVOR(Strategy):
    """OVOR (Huang et al., ICLR 2024) with OnePrompt, after the paper and the authors' code.

    A frozen pretrained transformer gets one set of prefix prompts shared by all tasks
    (:mod:`harness.components.prefix_tuning`: g-prompt length 10 in layers 0–1, e-prompt length 40 in layers 2–4
    for ViT-B/16, scaled to the depth of smaller models) and one linear head.  At each task the
    prompts and the head are trained with cross-entropy over the current task's classes (logits of
    past classes masked with −∞) for ``epochs`` epochs, then, for ``outlier_epochs`` epochs, the head
    alone is trained on fixed features with ``CE + λ·[Huber(ReLU(E_id − t_id)) + Huber(ReLU(t_ood − E_ood))]``
    against virtual outliers regenerated each epoch (:mod:`harness.components.virtual_outliers`; the reference
    uses 16 + 4 epochs on CIFAR-100, Adam lr 1e-3, batch 128, cosine schedule).  Prediction: the head's
    logits over all classes seen; the open-set score is ``−E = logsumexp(logits)``.

    Encoders: ``timm`` (any timm ViT, weights from a local file; inputs are images) and ``minilm``
    (the packaged all-MiniLM-L6-v2, :mod:`harness.components.prompted_minilm`; inputs are token ids, 0 = padding).
    """

    Params = OVORParams
    supports = frozenset({"cil"})

    @classmethod
    def encodes_own_inputs(cls, params: OVORParams) -> bool:
        return True

    @classmethod
    def prepare_inputs(cls, params: OVORParams, data: Dataset) -> tuple[torch.Tensor, torch.Tensor]:
        """Texts become MiniLM token ids ``(N, L)`` (0 = padding); tensors stay as they are."""
        if data.modality == "text":
            from harness.components.prompted_minilm import tokenize

            return tokenize(list(data.train_x)), tokenize(list(data.test_x))
        return super().prepare_inputs(params, data)

    def __init__(self, params: OVORParams, context):
        super().__init__(params, context)
        self.generator = context.generator(SeedStream.OVOR_BATCHES)
        if params.encoder == "minilm":
            from harness.components.prompted_minilm import MiniLMEncoder

            self.encoder = MiniLMEncoder.pretrained()
        else:
            from harness.components.prompted_vit import PromptedViT

            self.encoder = PromptedViT.create(params.timm_model, params.weights, **params.timm_kwargs)
        self.encoder.to(self.device)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(context.seed)
            self.prompt = OnePrompt(
                self.encoder.dim, self.encoder.depth, params.g_length, params.e_length, params.g_layers, params.e_layers
            ).to(self.device)
        self.head: nn.Linear | None = None
        self.class_ids: list[int] = []

    # ------------------------------------------------------------------ pieces
    def features(self, inputs: torch.Tensor) -> torch.Tensor:
        inputs = inputs.to(self.device)
        if self.params.encoder == "timm":
            inputs = inputs.float()
            return self.encoder(inputs, self.prompt)
        # token ids: drop the padding columns this batch does not need; the mean-pooled embedding is
        # taken before sentence-transformers' L2 normalisation, like the ViT's unnormalised class token
        inputs = inputs[:, : max(1, int((inputs != 0).sum(1).max()))]
        return self.encoder(inputs, self.prompt, normalize=False)

    def _grow_head(self, new: int) -> None:
        """Add ``new`` outputs to the head, keeping the old ones (freshly initialised, seeded)."""
        have = 0 if self.head is None else self.head.out_features
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.context.seed * OVOR_HEAD_SEED_FACTOR + have)
            grown = nn.Linear(self.encoder.dim, have + new).to(self.device)
        if self.head is not None:
            with torch.no_grad():
                grown.weight[:have] = self.head.weight
                grown.bias[:have] = self.head.bias
        self.head = grown

    def _masked_logits(self, features: torch.Tensor, start: int) -> torch.Tensor:
        logits = self.head(features)
        return torch.cat([torch.full_like(logits[:, :start], -torch.inf), logits[:, start:]], dim=1)

    def _batches(self, n: int) -> list[torch.Tensor]:
        return epoch_batches(n, self.params.batch_size, self.generator)

    # ------------------------------------------------------------------ interface
    def learn(self, experience: Experience) -> None:
        p = self.params
        start = len(self.class_ids)
        self.class_ids += [int(c) for c in experience.new_classes]
        self._grow_head(len(experience.new_classes))
        column = {c: i for i, c in enumerate(self.class_ids)}
        targets = torch.tensor([column[int(c)] for c in experience.labels.tolist()], device=self.device)
        x = experience.inputs
        optimizer = torch.optim.Adam(list(self.prompt.parameters()) + list(self.head.parameters()), lr=p.lr)
        total = max(1, p.epochs + p.outlier_epochs)
        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda e: lr_factor(p.lr_factor, e, total))
        augmenter = None
        if p.augment != "none":
            if p.encoder != "timm":
                raise ValueError(f"strategy 'ovor': augment {p.augment!r} needs image inputs (encoder: timm)")
            seed = self.context.generator(SeedStream.OVOR_AUGMENT + experience.step).initial_seed()
            augmenter = BatchAugmenter(p.augment, tuple(x.shape[1:]), seed)
        for epoch in range(p.epochs):
            running = 0.0
            for index, idx in enumerate(self._batches(len(x))):
                inputs = augmenter(x[idx].float(), epoch, index) if augmenter else x[idx]
                loss = F.cross_entropy(self._masked_logits(self.features(inputs), start), targets[idx.to(self.device)])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                running += loss.item() * len(idx)
            schedule.step()
            self.log_epoch(experience.step, epoch, running / len(x), ce=running / len(x))
        for epoch in range(p.epochs, p.epochs + p.outlier_epochs):
            terms = self._outlier_epoch(x, targets, start, optimizer)
            self.log_epoch(experience.step, epoch, terms["ce"] + terms["energy"], **terms)
            schedule.step()

    def outlier_losses(self, ids: torch.Tensor, targets: torch.Tensor, oods: torch.Tensor, start: int) -> dict[str, torch.Tensor]:
        """CE on in-distribution features plus the energy regulariser against outlier features."""
        p = self.params
        id_logits = self._masked_logits(ids, start)
        ood_logits = self.head(oods)[:, start:]
        return {
            "ce": F.cross_entropy(id_logits, targets),
            "energy": energy_regulariser(id_logits[:, start:], ood_logits, p.t_id, p.t_ood, p.reg_weight, p.huber),
        }

    def _outlier_epoch(self, x: torch.Tensor, targets: torch.Tensor, start: int, optimizer) -> dict[str, float]:
        p = self.params
        with torch.no_grad():
            feats = torch.cat([self.features(x[i : i + 256]) for i in range(0, len(x), 256)])
        config = OutlierConfig(p.knn, p.boundary_points, p.candidates_per_point, p.sigma, p.outliers_per_class, p.offsets_only)
        oods = virtual_outliers(feats, len(self.class_ids) - start, config, self.generator).to(self.device)
        batches = self._batches(len(feats))
        per_batch = max(1, len(oods) // len(batches))
        totals = {"ce": 0.0, "energy": 0.0}
        for b, idx in enumerate(batches):
            idx = idx.to(self.device)
            terms = self.outlier_losses(feats[idx], targets[idx], oods[b * per_batch : (b + 1) * per_batch], start)
            optimizer.zero_grad()
            sum(terms.values()).backward()
            optimizer.step()
            for key in totals:
                totals[key] += terms[key].item() / len(batches)
        return totals

    @torch.no_grad()
    def predict(self, inputs: torch.Tensor) -> Prediction:
        logits = self.head(self.features(inputs))
        classes = torch.tensor(self.class_ids, device=logits.device)
        return Prediction(logits=logits, classes=classes, known_score=torch.logsumexp(logits, dim=1))
