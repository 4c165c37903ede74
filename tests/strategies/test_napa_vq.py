"""NAPA-VQ end to end on tiny data: it learns, old code vectors stay frozen, losses are all present."""

import torch

from harness.api.experience import Experience
from harness.api.strategy import StrategyContext
from strategies.napa_vq import NAPAVQ, NAPAVQParams


def _experience(step, classes, n=16):
    g = torch.Generator().manual_seed(step)
    labels = torch.tensor(classes).repeat_interleave(n)
    # class c: a bright pixel block at a class-specific place, plus noise
    x = 0.1 * torch.rand(len(labels), 1, 8, 8, generator=g)
    for i, c in enumerate(labels.tolist()):
        x[i, 0, (c // 4) * 2 : (c // 4) * 2 + 2, (c % 4) * 2 : (c % 4) * 2 + 2] = 1.0
    return Experience(step, "cil", x, labels, tuple(classes), tuple(range(max(classes) + 1)))


def test_napa_vq_learns_and_freezes_old_code_vectors():
    params = NAPAVQParams(width=8, depth=1, epochs=3, batch_size=16, neighbours=3)
    napa = NAPAVQ(params, StrategyContext(torch.device("cpu"), seed=0, input_shape=(1, 8, 8)))
    napa.learn(_experience(0, [0, 1]))
    assert napa.code_vectors.shape == (8, 8)  # 2 classes x 4 rotations, dim 8
    old = napa.code_vectors.detach()[:8].clone()
    terms = napa.step_losses(_experience(5, [0, 1]).inputs[:4].to(torch.float32), torch.tensor([0, 1, 0, 1]), 0)
    assert set(terms) == {"ce", "na"}
    napa.learn(_experience(1, [2, 3]))
    assert torch.equal(napa.code_vectors.detach()[:8], old)
    x = _experience(1, [2, 3]).inputs[:4]
    rows = torch.tensor([2, 3, 2, 3])
    terms = napa.step_losses(x, rows, old_vectors=8)
    assert set(terms) == {"ce", "na", "distill", "protoaug"}
    pred = napa.predict(_experience(9, [0, 1, 2, 3]).inputs)
    assert pred.classes.tolist() == [0, 1, 2, 3]
    assert pred.logits.shape == (64, 4)
    assert len(napa.prototypes.class_ids) == 16  # 4 classes x 4 rotations
