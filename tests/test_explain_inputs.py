"""Inputs that cannot be explained give user-facing messages, never unhandled exceptions."""
import pytest
import torch

from sentiment_core.encoding import EncodingConfig
from sentiment_core.explain import (EXPLAIN_SPEC, ExplanationInputError, check_explainable, connectivity_profile,
                                    counterfactual_edits, explain, gate_statistics, gradient_connectivity,
                                    integrated_gradients, occlusion, saliency, step_through, trace, trajectory)
from tests.explain_fixtures import single_thread, tiny_bundle, tiny_model  # noqa: F401 (fixture)

EXPLAINERS = [explain, trace, trajectory, integrated_gradients, saliency, occlusion, counterfactual_edits,
              step_through, gradient_connectivity]


@pytest.mark.parametrize("text,words", [("", "empty"), ("   \n ", "empty"), ("zzz qqq xyzzy", "vocabulary"),
                                        ("<pad> <pad>", "vocabulary")])
def test_bad_text_gets_a_message(text, words):
    bundle = tiny_bundle()
    check = check_explainable(bundle, text)
    assert not check.ok and words in check.message and check.input is None
    for explainer in EXPLAINERS:
        with pytest.raises(ExplanationInputError, match=words):
            explainer(bundle, text)


def test_long_text_is_truncated_to_max_len_with_a_note():
    bundle = tiny_bundle()
    bundle.encoding = EncodingConfig(max_len=5, truncation="pre")
    text = "the movie was good and the plot was bad"
    check = check_explainable(bundle, text)
    assert check.ok and check.input.truncated and check.input.total_tokens == 9
    assert check.input.tokens == ["and", "the", "plot", "was", "bad"]
    assert any("at most 5" in note for note in check.notes)
    result = explain(bundle, text, n_steps=10)
    assert result.trace.outputs.shape[0] == 5 and result.notes == check.notes
    ids = bundle.vocab.lookup_indices(text.split())
    assert trace(bundle, ids).input.truncated


def test_ok_text_and_partial_unknowns():
    check = check_explainable(tiny_bundle(), "the movie was splendid")
    assert check.ok and check.message == "" and check.input.unknown == [False, False, False, True]


def test_ids_and_models_are_checked():
    model = tiny_model()
    assert "outside the vocabulary" in check_explainable(model, [5, 99]).message
    assert "empty" in check_explainable(model, [0, 0]).message
    assert "bundle" in check_explainable(model, "raw text").message
    assert check_explainable(model, torch.tensor([[5, 6]])).ok
    with pytest.raises(ExplanationInputError, match="bundle"):
        counterfactual_edits(model, [5, 6], replacement="word")


def test_training_mode_is_noted():
    model = tiny_model()
    model.train()
    assert any("training mode" in note for note in check_explainable(model, [5, 6]).notes)


def test_dataset_explainers_skip_bad_texts_and_fail_clearly_when_none_is_left():
    bundle = tiny_bundle()
    stats = gate_statistics(bundle, ["", "the movie was good", "zzz"], n=10)
    assert stats.n_texts == 1 and stats.skipped == 2
    with pytest.raises(ExplanationInputError):
        connectivity_profile(bundle, ["", "zzz"], sample_size=10)


def test_spec_defaults_are_valid_and_options_are_checked():
    for name, spec in EXPLAIN_SPEC.items():
        spec.validate(name, spec.default)
        assert spec.help and spec.label
    assert EXPLAIN_SPEC["n_steps"].default == 50 and (EXPLAIN_SPEC["n_steps"].min, EXPLAIN_SPEC["n_steps"].max) == (5, 300)
    assert EXPLAIN_SPEC["connectivity_sample"].default == 100
    with pytest.raises(ValueError, match="baseline"):
        integrated_gradients(tiny_model(), [5, 6], baseline="mean")
    with pytest.raises(ValueError, match="target"):
        integrated_gradients(tiny_model(), [5, 6], target=5)
