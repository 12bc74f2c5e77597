"""The one-call explanation used by the explainer page."""
import numpy as np
import torch

from sentiment_core.explain import explain, integrated_gradients, trace, trajectory
from tests.explain_fixtures import single_thread, tiny_bundle, trained_bundle  # noqa: F401 (fixtures)


def test_explain_bundles_prediction_trace_trajectory_and_ig(trained_bundle):
    result = explain(trained_bundle, "the acting was good", n_steps=30)
    with torch.no_grad():
        ids = torch.tensor([trained_bundle.vocab.lookup_indices(["the", "acting", "was", "good"])])
        probs = torch.softmax(trained_bundle.model(ids), 1)[0].numpy()
    np.testing.assert_allclose(result.prediction.probabilities, probs, atol=1e-5)
    assert result.prediction.label_name == "positive"
    assert result.integrated_gradients.target == result.prediction.label
    assert result.integrated_gradients.n_steps == 30
    assert result.trajectory.available and result.trajectory.probabilities.shape == (4, 2)
    np.testing.assert_allclose(result.trajectory.probabilities[-1], probs, atol=1e-5)
    separate = integrated_gradients(trained_bundle, "the acting was good", n_steps=30)
    np.testing.assert_allclose(result.integrated_gradients.scores, separate.scores, atol=1e-6)


def test_explain_bidirectional_and_target_choice():
    bundle = tiny_bundle("gru", bidirectional=True, seed=4)
    result = explain(bundle, "the plot was bad", target=0, baseline="unk", n_steps=10, output="logit")
    assert not result.trajectory.available
    assert result.integrated_gradients.target == 0 and result.integrated_gradients.baseline == "unk"
    assert result.trace.get(0, 1).hidden.shape == (4, 8)
    np.testing.assert_allclose(result.trajectory.forward_scores,
                               trajectory(bundle, "the plot was bad", traced=trace(bundle, "the plot was bad")).forward_scores)
