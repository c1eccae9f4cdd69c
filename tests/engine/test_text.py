from __future__ import annotations

import os

import pytest
import torch

from acegit.engine.text import TextEncoder


@pytest.fixture(scope="module")
def encoder() -> TextEncoder:
    return TextEncoder(max_tokens=64)


def test_tokens_are_padded_to_a_fixed_shape_and_the_empty_prompt_is_null(encoder: TextEncoder) -> None:
    emb, mask = encoder.encode("calm piano, rainy night")
    assert emb.shape == (64, 384) and mask.shape == (64,)
    n = int(mask.sum())
    assert 4 < n < 20 and bool(mask[:n].all())
    assert torch.all(emb[n:] == 0)
    emb0, mask0 = encoder.encode("")
    assert not mask0.any() and torch.all(emb0 == 0)


def test_long_prompts_are_truncated(encoder: TextEncoder) -> None:
    _, mask = encoder.encode("drums " * 200)
    assert bool(mask.all())


def test_matches_sentence_transformers(encoder: TextEncoder) -> None:
    """Our BERT forward against the reference implementation, once (mean-pooled sentence embedding)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    st = pytest.importorskip("sentence_transformers")
    from acegit.engine.text import model_dir

    ref = st.SentenceTransformer(str(model_dir()), device="cpu")
    prompts = ["epic orchestral battle theme with choir", "lo-fi hip hop beat, vinyl crackle"]
    expected = torch.from_numpy(ref.encode(prompts, normalize_embeddings=True))
    ours = torch.stack([encoder.sentence_embedding(p) for p in prompts])
    torch.testing.assert_close(ours, expected, rtol=0, atol=1e-4)


def test_the_encoder_is_built_without_a_random_init(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every weight comes from the packaged file (strict load), so the build draws no random numbers: a random init
    of the 22 M parameters cost ~0.15-0.3 s of every cold render (docs/performance.md)."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("random initialisation of the text encoder")

    for name in ("normal_", "uniform_"):
        monkeypatch.setattr(torch.Tensor, name, refuse)
    monkeypatch.setattr(torch.nn.init, "kaiming_uniform_", refuse)
    emb, mask = TextEncoder().encode("warm lo-fi piano")
    assert bool(mask.any()) and float(emb.abs().sum()) > 0
