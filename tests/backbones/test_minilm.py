"""The packaged MiniLM sentence encoder."""

import torch

from tests.sources import needs_minilm


@needs_minilm
def test_minilm_embeddings_are_unit_norm_and_semantic():
    from harness.backbones.minilm import MiniLM, MiniLMParams

    backbone = MiniLM(MiniLMParams(batch_size=2))
    texts = ["a dog is a loyal animal", "the puppy barked at the cat", "stock prices fell sharply today"]
    emb = backbone.encode(texts, torch.device("cpu"))
    assert emb.shape == (3, 384)
    assert torch.allclose(emb.norm(dim=1), torch.ones(3), atol=1e-4)
    assert emb[0] @ emb[1] > emb[0] @ emb[2] + 0.2
    # the same text gives the same vector, whatever its batch
    assert torch.allclose(backbone.encode(texts[2:], torch.device("cpu"))[0], emb[2], atol=1e-5)
    assert len(backbone.fingerprint()["weights_sha256"]) == 64
