"""The fast paths of the explainer give the same numbers as the straightforward ones:
integrated gradients against Captum's own ``LayerIntegratedGradients``, and a left-to-right
model's trajectory from its trace against running every prefix through the model."""
import itertools

import numpy as np
import pytest
import torch
from captum.attr import LayerIntegratedGradients

from sentiment_core.explain import integrated_gradients, trajectory
from sentiment_core.explain.attribution import _forward, _PathEmbedding, baseline_ids, gauss_legendre
from sentiment_core.explain.trajectory import prefix_probabilities
from sentiment_core.models import ModelConfig, build_model
from tests.explain_fixtures import single_thread, tiny_model  # noqa: F401 (fixtures)

IDS = [3, 9, 4, 12, 5, 20, 7]


def captum_ig(model, ids, target, baseline, output, n_steps, internal_batch_size):
    """Integrated gradients the way the Captum tutorials call it."""
    ids = torch.tensor([ids])
    embed = _PathEmbedding(model.embedding)
    lengths = torch.tensor([ids.shape[1]])
    with torch.backends.cudnn.flags(enabled=False):
        attributions, delta = LayerIntegratedGradients(_forward(model, output, embed), embed).attribute(
            ids, baselines=baseline_ids(ids, baseline, model.config.pad_idx), target=target,
            additional_forward_args=(lengths,), n_steps=n_steps, internal_batch_size=internal_batch_size,
            return_convergence_delta=True)
    return attributions[0].sum(-1).detach().numpy(), float(delta)


@pytest.mark.parametrize("cell,bidirectional,packed,baseline,output,chunk",
                         list(itertools.product(["lstm", "gru", "rnn"], [False, True], [True, False],
                                                ["pad", "unk", "zero"], ["probability", "logit"], [None, 7]))[::5])
def test_integrated_gradients_equal_captums(cell, bidirectional, packed, baseline, output, chunk):
    model = tiny_model(cell, bidirectional, num_layers=2, pooling="mean", packed=packed, seed=3)
    ours = integrated_gradients(model, IDS, target=1, baseline=baseline, n_steps=20, internal_batch_size=chunk,
                                output=output)
    scores, delta = captum_ig(model, IDS, 1, baseline, output, 20, chunk or 20)
    np.testing.assert_allclose(ours.scores, scores, rtol=1e-4, atol=1e-6)
    assert ours.delta == pytest.approx(delta, abs=1e-5)


@pytest.mark.parametrize("cell,pooling,head,packed,output",
                         [("lstm", "last", "linear", True, "softmax"), ("gru", "mean", "linear", False, "softmax"),
                          ("rnn", "max", "mlp", True, "softmax"), ("lstm", "attention", "linear", True, "sigmoid"),
                          ("gru", "last", "per_step", False, "softmax"), ("lstm", "attention", "mlp", False, "softmax")])
def test_trajectory_from_the_trace_equals_running_every_prefix(cell, pooling, head, packed, output):
    torch.manual_seed(5)
    config = ModelConfig(vocab_size=30, cell=cell, emb_dim=8, hidden_dim=8, num_layers=2, pooling=pooling,
                         head=head, packed=packed, output=output)
    model = build_model(config).eval()
    ids = torch.tensor([IDS])
    fast = trajectory(model, ids)
    np.testing.assert_allclose(fast.probabilities, prefix_probabilities(model, ids), atol=1e-5)
    with torch.no_grad():
        whole = torch.softmax(model(ids), dim=1)[0].numpy()
    np.testing.assert_allclose(fast.probabilities[-1], whole, atol=1e-5)


@pytest.mark.parametrize("n_steps", [1, 7, 50])
def test_integration_points_are_captums(n_steps):
    from captum.attr._utils.approximation_methods import approximation_parameters

    weights, points = gauss_legendre(n_steps)
    step_sizes, alphas = approximation_parameters("gausslegendre")
    np.testing.assert_array_equal(weights, step_sizes(n_steps))
    np.testing.assert_array_equal(points, alphas(n_steps))
