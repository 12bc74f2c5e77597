"""The prediction word by word; unavailable (with the reason) for bidirectional models."""
import itertools

import numpy as np
import pytest
import torch

from sentiment_core.explain import trace, trajectory
from tests.explain_fixtures import single_thread, tiny_model, trained_bundle  # noqa: F401 (fixtures)


@pytest.mark.parametrize("cell,pooling,packed", list(itertools.product(["lstm", "gru", "rnn"],
                                                                       ["last", "mean", "max", "attention"],
                                                                       [True, False])))
def test_prefix_probabilities_equal_running_each_prefix(cell, pooling, packed):
    model = tiny_model(cell, num_layers=2, pooling=pooling, packed=packed, seed=5)
    ids = [3, 14, 15, 9, 26, 5]
    result = trajectory(model, ids)
    assert result.available and result.reason == "" and result.forward_scores is None
    with torch.no_grad():
        expected = np.stack([torch.softmax(model(torch.tensor([ids[: t + 1]])), 1)[0].numpy() for t in range(6)])
    np.testing.assert_allclose(result.probabilities, expected, atol=1e-5)
    np.testing.assert_allclose(result.probabilities[-1], trace(model, ids).prediction.probabilities, atol=1e-5)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_bidirectional_trajectory_is_unavailable_with_forward_projection(cell):
    model = tiny_model(cell, bidirectional=True, num_layers=2, seed=1)
    traced = trace(model, [5, 6, 7, 8])
    result = trajectory(model, [5, 6, 7, 8], traced=traced)
    assert not result.available and result.probabilities is None
    assert "backward" in result.reason and "whole" in result.reason
    assert result.forward_scores.shape == (4, 2)
    forward_top = traced.get(1, 0).hidden[-1]
    w = model.classifier.weight.detach().numpy()[:, :8]
    np.testing.assert_allclose(result.forward_scores[-1], w @ forward_top, atol=1e-5)
    np.testing.assert_allclose(trajectory(model, [5, 6, 7, 8]).forward_scores, result.forward_scores, atol=1e-6)


def test_trajectory_flips_at_the_sentiment_word(trained_bundle):
    result = trajectory(trained_bundle, "the movie was bad")
    positive = result.probabilities[:, 1]
    assert result.tokens == ["the", "movie", "was", "bad"]
    assert positive[3] < 0.1 and positive[2] > positive[3] + 0.3
