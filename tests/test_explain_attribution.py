"""Integrated gradients, saliency, occlusion and counterfactual edits."""
import itertools

import numpy as np
import pytest
import torch

from sentiment_core.explain import counterfactual_edits, integrated_gradients, occlusion, saliency
from tests.explain_fixtures import single_thread, tiny_bundle, tiny_model, trained_bundle  # noqa: F401 (fixtures)

POSITIVE = 1


@pytest.mark.parametrize("cell,bidirectional,packed,baseline,output",
                         list(itertools.product(["lstm", "gru", "rnn"], [False, True], [True, False],
                                                ["pad", "unk", "zero"], ["probability", "logit"]))[::3])
def test_integrated_gradients_completeness(cell, bidirectional, packed, baseline, output):
    model = tiny_model(cell, bidirectional, num_layers=2, pooling="attention", packed=packed, seed=7)
    ids = [3, 9, 4, 12, 5, 20]
    result = integrated_gradients(model, ids, baseline=baseline, n_steps=50, output=output)
    difference = result.input_score - result.baseline_score
    assert result.scores.shape == (6,)
    assert result.scores.sum() == pytest.approx(difference, abs=abs(result.delta) + 1e-6)
    assert abs(result.delta) <= 0.05 * abs(difference) + 1e-6
    with torch.no_grad():
        logits = model(torch.tensor([ids]))[0]
    expected = torch.softmax(logits, 0)[result.target] if output == "probability" else logits[result.target]
    assert result.input_score == pytest.approx(float(expected), abs=1e-5)
    assert result.target == int(logits.argmax())
    np.testing.assert_allclose(result.input_probabilities, torch.softmax(logits, 0).numpy(), atol=1e-5)


def test_integrated_gradients_trained_model_completeness_and_signs(trained_bundle):
    for text in ["the movie was good and the plot", "it was bad really", "good"]:
        result = integrated_gradients(trained_bundle, text, target=POSITIVE, n_steps=50)
        difference = result.input_score - result.baseline_score
        assert abs(result.delta) < 0.05 * abs(difference)
        assert result.scores.sum() == pytest.approx(difference, abs=abs(result.delta) + 1e-6)
        tokens = result.tokens
        word = "good" if "good" in tokens else "bad"
        score = result.scores[tokens.index(word)]
        assert score > 0 if word == "good" else score < 0
        assert np.abs(result.scores).argmax() == tokens.index(word)


def test_baselines_differ_and_zero_baseline_is_the_zero_embedding(trained_bundle):
    pad = integrated_gradients(trained_bundle, "the plot was bad", baseline="pad")
    unk = integrated_gradients(trained_bundle, "the plot was bad", baseline="unk")
    zero = integrated_gradients(trained_bundle, "the plot was bad", baseline="zero")
    # GateScope keeps the <pad> embedding at zero, so 'zero' and 'pad' coincide; <unk> is learned.
    assert zero.baseline_score == pytest.approx(pad.baseline_score, abs=1e-6)
    assert unk.baseline_score != pytest.approx(pad.baseline_score, abs=1e-6)
    model = trained_bundle.model
    with torch.no_grad():
        zeros = torch.zeros(1, 4, model.config.emb_dim)
        expected = torch.softmax(model.forward_from_embeddings(zeros, torch.ones(1, 4, dtype=torch.long),
                                                               torch.tensor([4])), 1)[0]
    np.testing.assert_allclose(zero.baseline_probabilities, expected.numpy(), atol=1e-6)


def test_internal_batch_size_does_not_change_the_result(trained_bundle):
    full = integrated_gradients(trained_bundle, "good acting and the story", n_steps=20)
    stepwise = integrated_gradients(trained_bundle, "good acting and the story", n_steps=20, internal_batch_size=1)
    np.testing.assert_allclose(full.scores, stepwise.scores, atol=1e-5)


def test_saliency_shapes_and_sign(trained_bundle):
    result = saliency(trained_bundle, "the film was good", target=POSITIVE, output="logit")
    assert result.gradient_x_input.shape == result.gradient_norm.shape == (4,)
    assert (result.gradient_norm >= 0).all()
    assert result.gradient_x_input[3] > 0
    assert result.target_name == "positive"


@pytest.mark.parametrize("mode", ["drop", "pad", "unk"])
def test_occlusion_signs_and_shapes(trained_bundle, mode):
    positive = occlusion(trained_bundle, "the film was good really", mode=mode, target=POSITIVE)
    negative = occlusion(trained_bundle, "the film was bad really", mode=mode, target=POSITIVE)
    assert positive.scores.shape == (5,) and positive.mode == mode and positive.description
    # Without a sentiment word this model leans positive, so removing "good" costs less than "bad".
    assert positive.scores[3] > 0 and positive.scores.argmax() == 3
    assert negative.scores[3] < -0.1 and negative.scores.argmin() == 3


@pytest.mark.parametrize("cell,packed", list(itertools.product(["lstm", "gru", "rnn"], [True, False])))
def test_occlusion_matches_manual_edits(cell, packed):
    model = tiny_model(cell, bidirectional=True, pooling="max", packed=packed, seed=2)
    ids = [5, 6, 7, 8]
    with torch.no_grad():
        def prob(seq):
            return float(torch.softmax(model(torch.tensor([seq])), 1)[0, 1])
        base = prob(ids)
        dropped = [base - prob(ids[:t] + ids[t + 1:]) for t in range(4)]
        padded = [base - float(torch.softmax(model(torch.tensor([ids[:t] + [0] + ids[t + 1:]]), torch.tensor([4])),
                                             1)[0, 1]) for t in range(4)]
    np.testing.assert_allclose(occlusion(model, ids, "drop", target=1).scores, dropped, atol=1e-5)
    np.testing.assert_allclose(occlusion(model, ids, "pad", target=1).scores, padded, atol=1e-5)
    logits = occlusion(model, ids, "unk", target=1, output="logit")
    assert logits.output == "logit" and logits.scores.shape == (4,)


def test_counterfactual_replace_and_drop(trained_bundle):
    swap = counterfactual_edits(trained_bundle, "the film was good", edit="replace", replacement="bad")
    assert swap.replacement == "bad" and swap.replacement_known
    assert swap.target == POSITIVE and swap.flipped.tolist() == [False, False, False, True]
    assert swap.delta[3] < -0.5 and swap.edited_labels[3] == 0
    np.testing.assert_allclose(swap.edited_probabilities.sum(1), 1.0, atol=1e-5)
    oov = counterfactual_edits(trained_bundle, "the film was good", edit="replace", replacement="splendiferous")
    assert oov.replacement == "<unk>" and not oov.replacement_known
    dropped = counterfactual_edits(trained_bundle, "the film was good", edit="drop")
    assert dropped.replacement is None and dropped.delta.shape == (4,)
    assert dropped.delta.argmin() == 3


def test_counterfactual_matches_separate_forward_passes():
    bundle = tiny_bundle("gru", bidirectional=True, pooling="mean", seed=3)
    result = counterfactual_edits(bundle, "the movie was good", edit="replace", replacement="plot", target=0)
    ids = bundle.vocab.lookup_indices(["the", "movie", "was", "good"])
    plot = bundle.vocab["plot"]
    with torch.no_grad():
        for t in range(4):
            edited = ids[:t] + [plot] + ids[t + 1:]
            expected = torch.softmax(bundle.model(torch.tensor([edited])), 1)[0].numpy()
            np.testing.assert_allclose(result.edited_probabilities[t], expected, atol=1e-5)


def test_dropping_the_only_token_is_handled():
    result = counterfactual_edits(tiny_bundle(), "good", edit="drop")
    assert result.edited_probabilities.shape == (1, 2)
