"""Discovering new classes in unlabeled features: semi-supervised k-means with the known prototypes
held fixed, and an estimate of the number of new clusters by the silhouette.

Given unlabeled features ``x_1..x_n`` (rows of the latent space a strategy classifies in), the fixed
prototypes ``μ_1..μ_m`` of the classes already known, and a number ``k`` of new clusters:

1. k-means++ seeding of the new centres ``ν_1..ν_k``: each next centre is a sample drawn with
   probability ``∝ D(x)²``, the squared distance to the closest centre chosen so far, the fixed
   prototypes counting as already chosen (as the NCD k-means of Troisemaine et al. and the
   semi-supervised k-means of the GCD code do; the former's code weights by ``D(x)``, unsquared,
   the latter's by ``D(x)²``, the usual k-means++ rule kept here).
2. Lloyd iterations: assign every sample to its closest centre, among the new centres and — when
   the unlabeled data may hold samples of known classes (``mixes_known``, C-GCD) — the fixed
   prototypes; move each new centre to the mean of its samples (an empty one stays where it is);
   the prototypes never move (the GCD code moves the labeled centres with the labeled samples it
   holds; here no past samples are kept, so the prototypes stay as learned).  Stop when no assignment changes, when ``Σ_j ||ν_j − ν_j'||²`` is at
   most ``tol`` times the mean per-feature variance of ``x`` (scikit-learn's criterion), or after
   ``max_iter`` rounds.  Objective (inertia): ``Σ_i min_c ||x_i − c||²``.
3. ``n_init`` seedings; the lowest inertia wins.

When the unlabeled data hold only new classes (NCD), step 2 assigns among the new centres alone,
as the ``unlab_only`` mode of the reference NCD k-means; the prototypes only shape the seeding.

Unknown ``k`` (after "A Practical Approach to Novel Class Discovery in Tabular Data", Troisemaine
et al., 2023): for each ``k`` in ``k_min..k_max`` cluster ``repeats`` times, score each clustering
by its mean silhouette on the unlabeled samples, and take the ``k`` with the best average score.
The reference code (``estimate_k_with_silhouette``: range 2..30, 3 repeats of scikit-learn's
k-means with 10 restarts, silhouette in the latent space of the unlabeled data) clusters with plain
k-means; here the clusterings are those of steps 1-3, the same procedure as the final fit, so that
for C-GCD the silhouette sees samples that join known classes too.  The silhouette of sample ``i``
is ``s_i = (b_i − a_i) / max(a_i, b_i)``, ``a_i`` its mean distance to the other members of its
cluster, ``b_i`` the smallest mean distance to another cluster's members (``s_i = 0`` in a
singleton cluster); the score is the mean of ``s_i``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from pydantic import Field, model_validator

from harness.api.seeds import SeedStream
from harness.api.params import Params

SILHOUETTE_CHUNK = 1024


class DiscoveryParams(Params):
    """Options of the shared discovery step (a strategy's ``discovery`` entry in the YAML)."""

    k_min: int = Field(2, ge=1, description="smallest number of new clusters tried when it must be estimated")
    k_max: int = Field(30, ge=1, description="largest number of new clusters tried when it must be estimated")
    repeats: int = Field(3, ge=1, description="clusterings per k whose silhouettes are averaged (estimation only)")
    n_init: int = Field(10, ge=1, description="k-means++ seedings per clustering; the lowest inertia wins")
    max_iter: int = Field(300, ge=1, description="Lloyd iterations per seeding")
    tol: float = Field(1e-4, ge=0.0, description="stop when the summed squared centre shift is at most tol × the mean feature variance")
    silhouette_samples: int | None = Field(
        None, ge=2, description="score the silhouette on at most this many unlabeled samples (drawn by the seed); all when absent"
    )

    @model_validator(mode="after")
    def _range(self) -> "DiscoveryParams":
        if self.k_max < self.k_min:
            raise ValueError(f"k_max ({self.k_max}) must be at least k_min ({self.k_min})")
        return self


@dataclass(frozen=True)
class Clustering:
    """Result of one fit: the new centres, each sample's cluster (``-1 - r`` for known prototype row
    ``r``, ``j >= 0`` for new centre ``j``), the inertia, and, when ``k`` was estimated, the
    silhouette score of every ``k`` tried."""

    centres: torch.Tensor
    assignment: torch.Tensor
    inertia: float
    silhouettes: dict[int, float] | None = None

    @property
    def k(self) -> int:
        return len(self.centres)

    def counts(self) -> torch.Tensor:
        """Samples per new centre."""
        return torch.bincount(self.assignment[self.assignment >= 0], minlength=self.k)


def _sq_dists(x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """Squared Euclidean distances ``(..., n, m)`` between rows of ``x`` ``(n, d)`` and ``c`` ``(..., m, d)``."""
    return ((x * x).sum(-1)[:, None] - 2.0 * x @ c.transpose(-1, -2) + (c * c).sum(-1)[..., None, :]).clamp_min_(0.0)


def _seed(x: torch.Tensor, known: torch.Tensor, k: int, runs: int, generator: torch.Generator) -> torch.Tensor:
    """k-means++ seeding of ``k`` new centres for ``runs`` independent runs at once, ``(runs, k, d)``;
    the known prototypes count as centres already chosen."""
    n = len(x)
    if len(known):
        closest = _sq_dists(x, known).min(1).values.double().cpu().expand(runs, n).clone()
    else:
        closest = None
    picks = []
    for _ in range(k):
        if closest is None:
            i = torch.randint(n, (runs,), generator=generator)
        else:
            weights = torch.where(closest.sum(1, keepdim=True) > 0, closest, torch.ones_like(closest))
            i = torch.multinomial(weights, 1, generator=generator)[:, 0]
        picks.append(i)
        d = _sq_dists(x, x[i.to(x.device)]).double().cpu().T  # (runs, n)
        closest = d if closest is None else torch.minimum(closest, d)
    return x[torch.stack(picks, 1).to(x.device)]


def _lloyd(x: torch.Tensor, known: torch.Tensor, centres: torch.Tensor, mixes_known: bool, max_iter: int, tol: float):
    """Lloyd iterations of ``runs`` clusterings at once (a run stops moving once converged, and only
    the runs still moving are computed); returns (centres, assignment, inertia) per run."""
    runs, k, dim = centres.shape
    m = len(known) if mixes_known else 0
    threshold = tol * float(x.var(0).mean()) if len(x) > 1 else tol
    centres = centres.clone()
    active = torch.arange(runs, device=x.device)
    previous = torch.full((runs, len(x)), -2, dtype=torch.long, device=x.device)
    for _ in range(max_iter):
        current = centres[active]
        allc = torch.cat([known.expand(len(active), m, dim), current], 1) if m else current
        nearest = _sq_dists(x, allc).argmin(-1) - m  # (a, n); < 0: a known prototype
        onehot = torch.zeros(len(active), len(x), k + 1, dtype=x.dtype, device=x.device)
        onehot.scatter_(2, (nearest.clamp_min(-1) + 1)[..., None], 1.0)
        onehot = onehot[..., 1:]
        sizes = onehot.sum(1)
        moved = torch.where(sizes[..., None] > 0, (onehot.transpose(1, 2) @ x) / sizes.clamp_min(1)[..., None], current)
        shift = ((moved - current) ** 2).sum((1, 2))
        centres[active] = moved
        same = (nearest == previous[active]).all(1)
        previous[active] = nearest
        active = active[(shift > threshold) & ~same]
        if len(active) == 0:
            break
    allc = torch.cat([known.expand(runs, m, dim), centres], 1) if m else centres
    d, nearest = _sq_dists(x, allc).min(-1)
    assignment = torch.where(nearest >= m, nearest - m, -1 - nearest)
    return centres, assignment, d.double().sum(-1)


def constrained_kmeans_runs(
    x: torch.Tensor,
    known: torch.Tensor,
    k: int,
    generator: torch.Generator,
    mixes_known: bool = False,
    n_init: int = 10,
    max_iter: int = 300,
    tol: float = 1e-4,
    groups: int = 1,
) -> list[Clustering]:
    """``groups`` independent fits, each the best of ``n_init`` seedings (all run as one batch)."""
    if not 1 <= k <= len(x):
        raise ValueError(f"k must be between 1 and the {len(x)} unlabeled samples; got {k}")
    x = x.float()
    known = known.to(x.device, x.dtype).reshape(-1, x.shape[1])
    centres, assignment, inertia = _lloyd(x, known, _seed(x, known, k, groups * n_init, generator), mixes_known, max_iter, tol)
    fits = []
    for g in range(groups):
        best = g * n_init + int(inertia[g * n_init : (g + 1) * n_init].argmin())
        fits.append(Clustering(centres[best], assignment[best], float(inertia[best])))
    return fits


def constrained_kmeans(x: torch.Tensor, known: torch.Tensor, k: int, generator: torch.Generator, **options) -> Clustering:
    """k-means of ``x`` into ``k`` new clusters with the ``known`` prototypes fixed (see module
    docstring); ``options`` are those of :func:`constrained_kmeans_runs` (``mixes_known``, ``n_init``,
    ``max_iter``, ``tol``)."""
    return constrained_kmeans_runs(x, known, k, generator, **options)[0]


def silhouette_score(x: torch.Tensor, labels: torch.Tensor) -> float:
    """Mean silhouette ``(b_i − a_i) / max(a_i, b_i)`` with Euclidean distances, computed in row chunks
    (never an n×n matrix); needs ``2 <= #clusters <= n − 1``."""
    x = x.double()
    _, labels = torch.unique(labels, return_inverse=True)
    n, c = len(x), int(labels.max()) + 1 if len(labels) else 0
    if not 2 <= c <= n - 1:
        raise ValueError(f"the silhouette needs 2..{n - 1} clusters; got {c}")
    onehot = torch.zeros(n, c, dtype=x.dtype, device=x.device)
    onehot[torch.arange(n, device=x.device), labels] = 1.0
    sizes = onehot.sum(0)
    scores = torch.empty(n, dtype=x.dtype, device=x.device)
    for start in range(0, n, SILHOUETTE_CHUNK):
        block = slice(start, start + SILHOUETTE_CHUNK)
        dist = torch.cdist(x[block], x, compute_mode="donot_use_mm_for_euclid_dist")  # exact, also d(x, x) = 0
        sums = dist @ onehot  # (b, c): summed distance to each cluster
        own = labels[block]
        rows = torch.arange(len(own), device=x.device)
        own_size = sizes[own]
        a = sums[rows, own] / (own_size - 1).clamp_min(1)
        others = sums / sizes[None, :]
        others[rows, own] = torch.inf
        b = others.min(1).values
        s = (b - a) / torch.maximum(a, b)
        scores[block] = torch.where(own_size > 1, torch.nan_to_num(s, nan=0.0), torch.zeros_like(s))
    return float(scores.mean())


def discover(
    x: torch.Tensor,
    known: torch.Tensor,
    num_new: int | None,
    params: DiscoveryParams,
    generator: torch.Generator,
    mixes_known: bool = False,
) -> Clustering:
    """Cluster unlabeled features into new classes; ``num_new`` given, or estimated when ``None``."""
    runs = lambda k, groups: constrained_kmeans_runs(  # noqa: E731
        x, known, k, generator, mixes_known, params.n_init, params.max_iter, params.tol, groups
    )
    if num_new is not None:
        return runs(num_new, 1)[0]
    sample = torch.arange(len(x))
    if params.silhouette_samples is not None and len(x) > params.silhouette_samples:
        sample = torch.randperm(len(x), generator=generator)[: params.silhouette_samples].sort().values
    sample = sample.to(x.device)
    scores: dict[int, float] = {}
    best_of_k: dict[int, Clustering] = {}
    for k in range(params.k_min, min(params.k_max, len(x) - 1) + 1):
        values = []
        for result in runs(k, params.repeats):
            labels = result.assignment[sample]
            distinct = len(torch.unique(labels))
            values.append(silhouette_score(x[sample], labels) if 2 <= distinct <= len(labels) - 1 else -1.0)
            if k not in best_of_k or result.inertia < best_of_k[k].inertia:
                best_of_k[k] = result
        scores[k] = sum(values) / len(values)
    if not scores:
        raise ValueError(f"cannot estimate the number of new clusters from {len(x)} samples with k_min={params.k_min}")
    k_hat = max(scores, key=lambda k: (scores[k], -k))
    chosen = best_of_k[k_hat]
    return Clustering(chosen.centres, chosen.assignment, chosen.inertia, scores)




class PrototypeDiscovery:
    """Mixin giving a prototype strategy :meth:`learn_unlabeled` through :func:`discover`.

    The strategy provides ``self.store`` (a :class:`harness.store.prototype_store.PrototypeStore`; or
    override :meth:`discovery_store`),
    ``self.params.discovery`` (:class:`DiscoveryParams`; or override :meth:`discovery_params`) and
    :meth:`discovery_features` (inputs to the latent space its store lives in).  Discovered clusters
    enter the store as new classes whose ids follow the largest id it holds; the prototypes already
    there are not moved.  :meth:`after_discovery` is the place for what a strategy does on top
    (calibrate the new prototypes, refit a classifier); the default does nothing.
    """

    def discovery_features(self, inputs: torch.Tensor) -> torch.Tensor:  # pragma: no cover - interface
        raise NotImplementedError

    def discovery_params(self) -> DiscoveryParams:
        return self.params.discovery

    def discovery_store(self):
        """The prototype store that receives the discovered classes (``self.store`` by default)."""
        return self.store

    def after_discovery(self, experience, features: torch.Tensor, new_ids: list[int], clustering: Clustering) -> None:
        """Called once the new classes are in the store; ``clustering.assignment`` gives each input's cluster."""

    def learn_unlabeled(self, experience) -> None:
        features = self.discovery_features(experience.inputs)
        store = self.discovery_store()
        known = store.means if len(store.class_ids) else features.new_zeros(0, features.shape[1])
        clustering = discover(
            features,
            known,
            experience.num_new_classes,
            self.discovery_params(),
            self.context.generator(SeedStream.DISCOVERY + experience.step),
            mixes_known=experience.may_contain_known and len(store.class_ids) > 0,
        )
        first = int(store.class_ids.max()) + 1 if len(store.class_ids) else 0
        new_ids = list(range(first, first + clustering.k))
        store.set_means(new_ids, clustering.centres, clustering.counts().to(torch.float64))
        self.after_discovery(experience, features, new_ids, clustering)
