"""Gradient connectivity: shapes, agreement with autograd, and decay in an untrained RNN."""
import numpy as np
import pytest
import torch

from sentiment_core.explain import connectivity_profile, gradient_connectivity
from tests.explain_fixtures import single_thread, tiny_bundle, tiny_model  # noqa: F401 (fixture)


def _texts(seed: int, n: int = 40) -> list[list[int]]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randint(2, 30, (int(torch.randint(18, 26, (1,), generator=g)),), generator=g).tolist()
            for _ in range(n)]


def test_single_text_connectivity_matches_autograd():
    model = tiny_model("gru", bidirectional=True, seed=2)
    ids = [5, 6, 7, 8, 9]
    result = gradient_connectivity(model, ids, target=1, output="logit", normalize="none")
    embedded = model.embedding(torch.tensor([ids])).detach().requires_grad_(True)
    model.forward_from_embeddings(embedded, torch.tensor([ids]))[0, 1].backward()
    np.testing.assert_allclose(result.norms, embedded.grad[0].norm(dim=-1).numpy(), rtol=1e-5, atol=1e-8)
    assert result.distances.tolist() == [4, 3, 2, 1, 0]
    assert result.normalized.shape == (5,)
    assert gradient_connectivity(model, ids, normalize="max").normalized.max() == pytest.approx(1.0)
    assert gradient_connectivity(model, ids, normalize="sum").normalized.sum() == pytest.approx(1.0)


@pytest.mark.parametrize("packed", [True, False])
def test_profile_shapes_and_batching(packed):
    model = tiny_model("lstm", packed=packed, seed=0)
    texts = _texts(0, 12)
    profile = connectivity_profile(model, texts, sample_size=12, batch_size=4, normalize="none")
    assert profile.n_texts == 12 and profile.skipped == 0
    assert profile.distances.shape == profile.mean.shape == profile.counts.shape
    assert profile.counts[0] == 12 and len(profile.distances) == max(len(t) for t in texts)
    one_batch = connectivity_profile(model, texts, sample_size=12, batch_size=64, normalize="none")
    np.testing.assert_allclose(profile.mean, one_batch.mean, rtol=1e-4, atol=1e-9)
    single = [gradient_connectivity(model, text, normalize="none") for text in texts]
    for distance in (0, 7):
        expected = np.mean([s.norms[-1 - distance] for s in single])
        assert profile.mean[distance] == pytest.approx(expected, rel=1e-4)
    assert len(connectivity_profile(model, texts, sample_size=10, max_distance=5).mean) == 6


def test_untrained_rnn_forgets_quickly():
    """A randomly initialised tanh RNN's gradients vanish with distance (Distill's point), faster
    than an LSTM's whose cell state carries information further."""
    tails = {}
    for cell in ("rnn", "lstm"):
        values = []
        for seed in range(3):
            profile = connectivity_profile(tiny_model(cell, seed=seed), _texts(seed), sample_size=40)
            assert profile.mean[10] < 0.05 * profile.mean[0]
            values.append(profile.mean[3:11].sum())
        tails[cell] = np.mean(values)
    assert tails["rnn"] < tails["lstm"]


def test_profile_reads_raw_texts_with_a_bundle():
    profile = connectivity_profile(tiny_bundle("rnn"), ["the movie was good", "bad", "the plot"], sample_size=10)
    assert profile.n_texts == 3 and profile.counts.tolist() == [3, 2, 1, 1]
    assert profile.model_name == "RNN"
