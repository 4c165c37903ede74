"""avalanche-lib's strategies as owlbench strategies (``avalanche-<name>``; the optional ``avalanche`` extra).

Each class names its avalanche template and the method's options with avalanche's defaults; where
avalanche has none, the value is the method paper's and its description says so.  What they share
(network, head, training options, seeding, evaluation) is :mod:`harness.components.avalanche_strategy`.
avalanche is imported when such a strategy is built, never by this module.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator
from torch import nn

from harness.api.registry import STRATEGIES
from harness.components.avalanche_strategy import AvalancheParams, AvalancheStrategy, NetworkParams


@STRATEGIES.register("avalanche-naive")
class AvalancheNaive(AvalancheStrategy):
    """Fine-tuning on each step alone (avalanche ``Naive``): the lower bound of class-incremental learning."""

    def template_class(self) -> type:
        from avalanche.training import Naive

        return Naive


@STRATEGIES.register("avalanche-cumulative")
class AvalancheCumulative(AvalancheStrategy):
    """Joint training on every step so far (avalanche ``Cumulative``): the upper bound, keeping all past data."""

    def template_class(self) -> type:
        from avalanche.training import Cumulative

        return Cumulative


class LwFParams(AvalancheParams):
    alpha: float = Field(1.0, ge=0, description="weight of the distillation loss (no avalanche default; the LwF paper's λ = 1)")
    temperature: float = Field(2.0, gt=0, description="distillation temperature (no avalanche default; the LwF paper's T = 2)")


@STRATEGIES.register("avalanche-lwf")
class AvalancheLwF(AvalancheStrategy):
    """Learning without Forgetting (Li & Hoiem, 2016; avalanche ``LwF``): distillation of the previous model's outputs."""

    Params = LwFParams

    def template_class(self) -> type:
        from avalanche.training import LwF

        return LwF


class EWCParams(AvalancheParams):
    ewc_lambda: float = Field(100.0, ge=0, description="weight of the quadratic penalty (no avalanche default)")
    mode: Literal["separate", "online"] = Field("separate", description="one penalty per past step, or one running importance")
    decay_factor: float | None = Field(None, gt=0, le=1, description="decay of the importance in online mode (required there)")
    keep_importance_data: bool = False

    @model_validator(mode="after")
    def _online_needs_decay(self) -> "EWCParams":
        if self.mode == "online" and self.decay_factor is None:
            raise ValueError("mode 'online' needs decay_factor")
        return self


@STRATEGIES.register("avalanche-ewc")
class AvalancheEWC(AvalancheStrategy):
    """Elastic Weight Consolidation (Kirkpatrick et al., 2017; avalanche ``EWC``)."""

    Params = EWCParams

    def template_class(self) -> type:
        from avalanche.training import EWC

        return EWC


class SIParams(AvalancheParams):
    si_lambda: float = Field(1.0, ge=0, description="weight of the surrogate loss (no avalanche default; the SI paper's c ≈ 0.1–1)")
    eps: float = Field(1e-7, gt=0, description="damping of the importance (avalanche's default)")


@STRATEGIES.register("avalanche-si")
class AvalancheSI(AvalancheStrategy):
    """Synaptic Intelligence (Zenke et al., 2017; avalanche ``SynapticIntelligence``)."""

    Params = SIParams

    def template_class(self) -> type:
        from avalanche.training import SynapticIntelligence

        return SynapticIntelligence


class MemoryParams(AvalancheParams):
    mem_size: int = Field(200, ge=1, description="samples kept in the buffer (avalanche's default); a memory of real samples")


@STRATEGIES.register("avalanche-replay")
class AvalancheReplay(AvalancheStrategy):
    """Experience replay with a class-balanced buffer of past samples (avalanche ``Replay``)."""

    Params = MemoryParams

    def template_class(self) -> type:
        from avalanche.training import Replay

        return Replay


@STRATEGIES.register("avalanche-gdumb")
class AvalancheGDumb(AvalancheStrategy):
    """GDumb (Prabhu et al., 2020; avalanche ``GDumb``): a class-balanced buffer, and a network trained
    from its initial weights on the buffer alone at every step."""

    Params = MemoryParams

    def template_class(self) -> type:
        from avalanche.training import GDumb

        return GDumb


class DERParams(MemoryParams):
    batch_size_mem: int | None = Field(None, ge=1, description="buffer samples per mini-batch (null: the training batch size)")
    alpha: float = Field(0.1, ge=0, description="weight of the logit-matching loss (avalanche's default)")
    beta: float = Field(0.5, ge=0, description="weight of the buffer cross-entropy (avalanche's default)")
    head: Literal["fixed"] = Field("fixed", description="DER keeps past logits: a fixed head over all classes")


@STRATEGIES.register("avalanche-der")
class AvalancheDER(AvalancheStrategy):
    """Dark Experience Replay++ (Buzzega et al., 2020; avalanche ``DER``): replay of past samples with their logits."""

    Params = DERParams
    needs_fixed_head = True

    def template_class(self) -> type:
        from avalanche.training import DER

        return DER


class AGEMParams(AvalancheParams):
    patterns_per_exp: int = Field(100, ge=1, description="samples kept per step (no avalanche default); a memory of real samples")
    sample_size: int = Field(64, ge=1, description="buffer samples per reference gradient (avalanche's default)")


@STRATEGIES.register("avalanche-agem")
class AvalancheAGEM(AvalancheStrategy):
    """Averaged GEM (Chaudhry et al., 2019; avalanche ``AGEM``): gradients projected so the buffer's loss does not rise."""

    Params = AGEMParams

    def template_class(self) -> type:
        from avalanche.training import AGEM

        return AGEM


class ICaRLParams(AvalancheParams):
    memory_size: int = Field(2000, ge=1, description="exemplars kept in all (no avalanche default; the iCaRL paper's K = 2000)")
    fixed_memory: bool = Field(True, description="memory_size shared by all classes seen (false: memory_size per class)")
    head: Literal["fixed"] = Field("fixed", description="iCaRL's training head: a fixed head over all classes")


@STRATEGIES.register("avalanche-icarl")
class AvalancheICaRL(AvalancheStrategy):
    """iCaRL (Rebuffi et al., 2017; avalanche ``ICaRL``): exemplars chosen by herding, sigmoid
    distillation, nearest-mean-of-exemplars classification (its predictions and scores).

    It reads ``experience.benchmark`` for the class order and step sizes: it is given the order and
    sizes so far and the number of classes not seen yet
    (:func:`harness.components.avalanche_data.benchmark_view`)."""

    Params = ICaRLParams
    needs_fixed_head = True
    takes_criterion = False

    def template_class(self) -> type:
        from avalanche.training import ICaRL

        return ICaRL

    def build_template(self):
        features = self.features_network().to(self.device)
        classifier = self.head(features.out_dim).to(self.device)
        parameters = list(features.parameters()) + list(classifier.parameters())
        return self.template_class()(
            feature_extractor=features, classifier=classifier, optimizer=self.optimizer(parameters),
            memory_size=self.params.memory_size, buffer_transform=None, fixed_memory=self.params.fixed_memory,
            **self.common_options(),
        )

    def feature_module(self) -> nn.Module:
        return self.template.model.feature_extractor


class SLDAParams(AvalancheParams):
    network: NetworkParams = Field(default_factory=lambda: NetworkParams(arch="identity"), description="fixed feature extractor (identity: the board's features or raw inputs)")
    shrinkage: float = Field(1e-4, ge=0, le=1, description="shrinkage of the shared covariance towards I (avalanche's default)")
    streaming_update_sigma: bool = Field(True, description="update the shared covariance with every sample (avalanche's default)")

    @model_validator(mode="after")
    def _fixed_features(self) -> "SLDAParams":
        if self.network.arch != "identity":
            raise ValueError("StreamingLDA does not train its feature extractor: network.arch must be identity (give the board a backbone for learned features)")
        return self


@STRATEGIES.register("avalanche-slda")
class AvalancheSLDA(AvalancheStrategy):
    """Deep Streaming LDA (Hayes & Kanan, 2020; avalanche ``StreamingLDA``): running class means and a
    shared covariance of fixed features, one sample at a time; linear discriminant scores."""

    Params = SLDAParams
    needs_fixed_head = True
    takes_criterion = True

    def template_class(self) -> type:
        from avalanche.training import StreamingLDA

        return StreamingLDA

    def build_template(self):
        features = self.features_network().to(self.device)
        options = self.common_options()
        return self.template_class()(
            slda_model=features, input_size=features.out_dim, num_classes=self.context.num_classes,
            shrinkage_param=self.params.shrinkage, streaming_update_sigma=self.params.streaming_update_sigma, **options,
        )

    def outputs(self, inputs):
        return self.template.predict(self.template.model(inputs))

    def feature_module(self) -> nn.Module:
        return self.template.model
