"""Neural-gas edges against straightforward loops, and the NA hinge loss on hand-computed inputs."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.components.neural_gas import (
    NeuralGasTopology,
    distance_logits,
    feature_distillation,
    mix_prototypes,
    neighbourhood_hinge_loss,
)

EPS, EMIN = 0.9, 0.9**10


def loop_sequential(edges, nearest):
    """The per-input rule, one input after the other."""
    e = edges.clone().tolist()
    for row in nearest.tolist():
        w = row[0]
        for j in range(len(e)):
            e[w][j] = 1.0 if j in row else e[w][j] * EPS
    return [[0.0 if v < EMIN else v for v in r] for r in e]


def loop_reference(edges, nearest):
    """The authors' order-free rule written out cell by cell."""
    m = len(edges)
    visits = [0] * m
    hits = [[0] * m for _ in range(m)]
    for row in nearest.tolist():
        visits[row[0]] += 1
        for j in row:
            hits[row[0]][j] += 1
    e = edges.clone().tolist()
    for w in range(m):
        for j in range(m):
            base = max(e[w][j], 1.0 if hits[w][j] > 0 else 0.0)
            e[w][j] = base * EPS ** max(visits[w] - hits[w][j], 0)
    return [[0.0 if v < EMIN else v for v in r] for r in e]


def test_strength_exactly_at_the_threshold_is_kept():
    # an edge set to 1 and decayed 10 times equals 0.9**10: not below the threshold, so kept
    topo = NeuralGasTopology(2, k=1, rule="reference")
    topo.edges = torch.tensor([[1.0, 0.0], [1.0, 1.0]], dtype=torch.float64)
    got = topo.update(torch.tensor([[1]] * 10))
    assert got[1, 0].item() == pytest.approx(0.9**10) and got[1, 0].item() > 0


@settings(max_examples=80, deadline=None)
@given(m=st.integers(2, 9), n=st.integers(1, 25), k=st.integers(1, 4), seed=st.integers(0, 10_000), rule=st.sampled_from(["sequential", "reference"]))
def test_vectorised_update_matches_loop(m, n, k, seed, rule):
    g = torch.Generator().manual_seed(seed)
    topo = NeuralGasTopology(m, k=k, rule=rule)
    topo.edges = ((torch.rand(m, m, generator=g) > 0.5).float() * torch.rand(m, m, generator=g)).double()
    topo.edges.fill_diagonal_(1.0)
    start = topo.edges.clone()
    x = torch.randn(n, 3, generator=g)
    vectors = torch.randn(m, 3, generator=g)
    nearest = topo.nearest(x, vectors)
    got = topo.update(nearest)
    expected = (loop_sequential if rule == "sequential" else loop_reference)(start, nearest)
    assert torch.allclose(got, torch.tensor(expected, dtype=torch.float64), atol=1e-12)


def test_rules_differ_when_a_neighbour_is_hit_twice():
    # two inputs won by code vector 0: the first hits {0, 1}, the second hits {0, 1} too
    nearest = torch.tensor([[0, 1], [0, 1], [0, 2]])
    seq = NeuralGasTopology(3, k=2, rule="sequential")
    ref = NeuralGasTopology(3, k=2, rule="reference")
    # sequential: edge 0-1 set to 1 by input 2, decays once by input 3 -> 0.9
    assert seq.update(nearest)[0, 1].item() == pytest.approx(0.9)
    # reference: visits 3, hits 2 -> 0.9 ** 1 as well; edge 0-2: hit once -> 0.9 ** 2 vs sequential 1.0
    ref_edges = ref.update(nearest)
    assert ref_edges[0, 1].item() == pytest.approx(0.9)
    assert ref_edges[0, 2].item() == pytest.approx(0.81)
    assert seq.edges[0, 2].item() == pytest.approx(1.0)


def test_pruning_and_symmetrising():
    topo = NeuralGasTopology(2, k=1)
    topo.edges = torch.tensor([[1.0, EMIN * 1.05], [0.0, 1.0]])
    topo.update(torch.tensor([[0]]))  # 0 wins, 0-1 decays below the minimum
    assert topo.edges[0, 1].item() == 0.0
    topo.edges = torch.tensor([[1.0, 0.5], [0.0, 1.0]])
    topo.symmetrise()
    assert topo.edges[0, 1].item() == topo.edges[1, 0].item() == 0.25


def test_grow_keeps_old_edges():
    topo = NeuralGasTopology(2)
    topo.edges[0, 1] = 0.5
    topo.grow(2)
    assert topo.edges.shape == (4, 4)
    assert topo.edges[0, 1].item() == 0.5 and topo.edges[3, 3].item() == 1.0 and topo.edges[2, 3].item() == 0.0


def test_hinge_loss_by_hand():
    # x at the origin; v0 (own) at squared distance 9, neighbours v1 at 1 and v2 at 4,
    # v3 (squared distance 0.25) not connected
    x = torch.zeros(1, 2)
    vectors = torch.tensor([[3.0, 0.0], [1.0, 0.0], [0.0, 2.0], [0.0, 0.5]])
    edges = torch.tensor([[1.0, 0.5, 0.2, 0.0]] + [[0.0] * 4] * 3)
    labels = torch.tensor([0])
    a1 = math.exp(-0.001) / (math.exp(-0.001) + math.exp(-0.004))  # ~0.50075
    expected = 9 - (a1 * 1 + (1 - a1) * 4)  # ~6.5022
    got = neighbourhood_hinge_loss(x, labels, vectors, edges)
    assert got.item() == pytest.approx(expected, rel=1e-5)
    assert 6.50 < got.item() < 6.51
    # a sample already closer to its own vector than to its neighbours costs nothing
    near = torch.tensor([[2.9, 0.0]])
    assert neighbourhood_hinge_loss(near, labels, vectors, edges).item() == 0.0
    # with no neighbour the loss is the squared distance to the own code vector
    lonely = torch.eye(4)
    assert neighbourhood_hinge_loss(x, labels, vectors, lonely).item() == pytest.approx(9.0)


def test_distance_logits_by_hand():
    x = torch.tensor([[0.0, 0.0]])
    vectors = torch.tensor([[3.0, 4.0], [0.0, 1.0]])
    assert distance_logits(x, vectors, 0.1).tolist() == [[pytest.approx(-50.0), pytest.approx(-10.0)]]


def test_feature_distillation_is_the_norm_of_the_whole_difference():
    f = torch.tensor([[1.0, 2.0], [0.0, 0.0]])
    old = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    # differences (0, 2) and (0, -1): sqrt(4 + 1)
    assert feature_distillation(f, old).item() == pytest.approx(math.sqrt(5.0))


def test_prototype_mixing_by_hand():
    p = torch.tensor([[2.0, 0.0]])
    partner = torch.tensor([[0.0, 4.0]])
    # 0.75 * (2, 0) + 0.25 * (0, 4) = (1.5, 1.0)
    assert mix_prototypes(p, partner, torch.tensor([[0.75]])).tolist() == [[1.5, 1.0]]

