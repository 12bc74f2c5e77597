"""Gate surgery: no intervention is the model's own forward pass; clamped gates do exactly what
the gate equations say, for LSTM and GRU, stacked and bidirectional."""
import itertools

import numpy as np
import pytest
import torch

from sentiment_core.explain import trajectory
from sentiment_core.explain.intervene import (LESSONS, Intervention, check_interventions, intervene,
                                              lesson_interventions)
from sentiment_core.explain.trace import layer_weights
from tests.explain_fixtures import single_thread, tiny_bundle, tiny_model  # noqa: F401 (fixture)

IDS = [3, 14, 15, 9, 26, 5, 8]
SHAPES = list(itertools.product([False, True], [1, 2]))  # bidirectional, layers


def _pytorch_states(model, ids):
    with torch.no_grad():
        return model.rnn(model.embedding(torch.tensor([ids])))


@pytest.mark.parametrize("cell,bidirectional,layers,pooling", [
    (c, b, n, p) for c, (b, n), p in itertools.product(["lstm", "gru", "rnn"], SHAPES, ["last", "mean", "max",
                                                                                      "attention"])])
def test_no_intervention_equals_the_models_forward_pass(cell, bidirectional, layers, pooling):
    model = tiny_model(cell, bidirectional, layers, pooling, seed=layers + len(cell))
    result = intervene(model, IDS, [])
    with torch.no_grad():
        logits = model(torch.tensor([IDS]))[0]
    outputs, state = _pytorch_states(model, IDS)
    h_n, c_n = state if cell == "lstm" else (state, None)
    assert torch.allclose(torch.from_numpy(result.logits_before), logits, atol=1e-6)
    assert torch.allclose(torch.from_numpy(result.logits_after), logits, atol=1e-6)
    D = 2 if bidirectional else 1
    top = np.concatenate([result.get(layers - 1, d).hidden_after for d in range(D)], axis=1)
    assert torch.allclose(torch.from_numpy(top), outputs[0], atol=1e-6)
    for k, d in enumerate(result.directions):
        final = 0 if d.direction else -1
        assert torch.allclose(torch.from_numpy(d.hidden_after[final]), h_n[k, 0], atol=1e-6)
        if cell == "lstm":
            assert torch.allclose(torch.from_numpy(d.cell_after[final]), c_n[k, 0], atol=1e-6)
        assert np.array_equal(d.hidden_difference, np.zeros_like(d.hidden_difference))
    if not bidirectional:
        np.testing.assert_allclose(result.per_token_before, trajectory(model, IDS).probabilities, atol=1e-6)
        np.testing.assert_array_equal(result.per_token_before, result.per_token_after)
    else:
        assert not result.per_token_available and "backward" in result.reason


@pytest.mark.parametrize("bidirectional,layers", SHAPES)
def test_lstm_forget_one_input_zero_keeps_the_cell_state_constant(bidirectional, layers):
    model = tiny_model("lstm", bidirectional, layers, "max", seed=3)
    at = (2, 3, 4)
    changes = [Intervention(gate, layer, direction, None, at, op)
               for layer in range(layers) for direction in range(2 if bidirectional else 1)
               for gate, op in (("forget", "clamp1"), ("input", "clamp0"))]
    result = intervene(model, IDS, changes)
    for d in result.directions:
        c = d.cell_after
        before = 1 if d.direction == 0 else 5  # the state each direction held before reading position 2..4
        for t in at:
            assert np.array_equal(c[t], c[before]), (d.name, t)
        assert np.array_equal(d.gates_after["forget"][list(at)], np.ones((3, 8), np.float32))
        assert not np.array_equal(d.cell_before[3], d.cell_before[1])  # the plain run does change it
    assert not np.allclose(result.logits_after, result.logits_before)


@pytest.mark.parametrize("cell,bidirectional,layers", [(c, b, n) for c in ("lstm", "gru") for b, n in SHAPES])
def test_zeroed_output_gate_or_hidden_gives_zero_hidden_states_there(cell, bidirectional, layers):
    model = tiny_model(cell, bidirectional, layers, "mean", seed=4)
    target = "output" if cell == "lstm" else "hidden"
    changes = [Intervention(target, layers - 1, d, (1, 5), (0, 6)) for d in range(2 if bidirectional else 1)]
    result = intervene(model, IDS, changes)
    for d in result.directions:
        h = d.hidden_after
        if d.layer == layers - 1:
            assert np.array_equal(h[[0, 6]][:, [1, 5]], np.zeros((2, 2), np.float32))
            assert np.all(h[[0, 6]][:, [0, 2, 3]] != 0)  # other units untouched
            assert np.all(h[1:6][:, [1, 5]] != 0)  # other tokens untouched
        else:
            np.testing.assert_array_equal(d.hidden_after, d.hidden_before)  # layers below are upstream


@pytest.mark.parametrize("bidirectional,layers", SHAPES)
def test_gru_update_gate_one_keeps_the_hidden_state_exactly(bidirectional, layers):
    model = tiny_model("gru", bidirectional, layers, "last", seed=5)
    at = (3, 4)
    changes = [Intervention("update", layer, direction, None, at, "clamp1")
               for layer in range(layers) for direction in range(2 if bidirectional else 1)]
    result = intervene(model, IDS, changes)
    for d in result.directions:
        before = 2 if d.direction == 0 else 5
        for t in at:
            assert np.array_equal(d.hidden_after[t], d.hidden_after[before])
    # z = 0 at the first token: h = n exactly (nothing of the zero start state is mixed in)
    result = intervene(model, IDS, [Intervention("update", 0, 0, None, (2,), "clamp0")])
    d = result.get(0, 0)
    assert np.array_equal(d.hidden_after[2], d.gates_after["new"][2])


@pytest.mark.parametrize("bidirectional,layers", SHAPES)
def test_gru_reset_gate_zero_makes_the_candidate_blind_to_the_past(bidirectional, layers):
    model = tiny_model("gru", bidirectional, layers, "max", seed=6)
    top = layers - 1
    result = intervene(model, IDS, [Intervention("reset", top, 0, None, None, "clamp0")])
    d = result.get(top, 0)
    w = layer_weights(model, top, 0)
    H = 8
    layer_in = torch.from_numpy(np.concatenate([result.get(top - 1, k).hidden_after for k in range(
        2 if bidirectional else 1)], axis=1)) if top else model.embedding(torch.tensor(IDS)).detach()
    expected = torch.tanh(layer_in @ w["w_ih"][2 * H:].T + w["b_ih"][2 * H:])  # r = 0: n = tanh(W_in x + b_in)
    assert torch.allclose(torch.from_numpy(d.gates_after["new"]), expected, atol=1e-6)
    assert not np.allclose(d.gates_before["new"], d.gates_after["new"])
    ones = intervene(model, IDS, [Intervention("reset", top, 0, None, None, "clamp1")]).get(top, 0)
    hp = torch.from_numpy(ones.hidden_after[:-1]) @ w["w_hh"][2 * H:].T + w["b_hh"][2 * H:]
    expected = torch.tanh(layer_in[1:] @ w["w_ih"][2 * H:].T + w["b_ih"][2 * H:] + hp)  # r = 1: the full past
    assert torch.allclose(torch.from_numpy(ones.gates_after["new"][1:]), expected, atol=1e-6)


def test_scale_and_add_change_only_later_states_and_per_token_predictions():
    model = tiny_model("lstm", False, 1, "last", seed=7)
    result = intervene(model, IDS, [Intervention("cell", 0, 0, (0, 1, 2), (3,), "scale", 3.0)])
    d = result.get(0, 0)
    np.testing.assert_allclose(d.cell_after[3, :3], 3 * d.cell_before[3, :3], rtol=1e-6)
    np.testing.assert_array_equal(d.hidden_after[:3], d.hidden_before[:3])  # the past is untouched
    assert np.abs(d.hidden_difference[4:]).max() > 0  # the future is not
    np.testing.assert_array_equal(result.per_token_after[:3], result.per_token_before[:3])
    np.testing.assert_allclose(result.per_token_after[-1], result.probabilities_after, atol=1e-6)
    added = intervene(model, IDS, [Intervention("hidden", 0, 0, (4,), (2,), "add", 0.5)]).get(0, 0)
    assert np.isclose(added.hidden_after[2, 4], added.hidden_before[2, 4] + 0.5)
    for t in (3, 5):  # the per-token prediction is the prefix's own prediction, with the change
        prefix = intervene(model, IDS[:t + 1], result.interventions)
        np.testing.assert_allclose(result.per_token_after[t], prefix.probabilities_after, atol=1e-6)


def test_bad_interventions_are_refused_with_the_valid_options():
    with pytest.raises(ValueError, match="valid: input, forget"):
        Intervention("forgett")
    with pytest.raises(ValueError, match="valid: clamp0, clamp1, scale, add"):
        Intervention("forget", op="zero")
    with pytest.raises(ValueError, match="finite"):
        Intervention("hidden", op="add", value=float("nan"))
    rnn, gru = tiny_model("rnn"), tiny_model("gru")
    with pytest.raises(ValueError, match="has no 'forget'.*valid: hidden"):
        check_interventions(rnn, [Intervention("forget")], 5)
    with pytest.raises(ValueError, match="valid: reset, update, new, hidden"):
        check_interventions(gru, [Intervention("cell")], 5)
    with pytest.raises(ValueError, match="layer 1 does not exist"):
        check_interventions(gru, [Intervention("reset", layer=1)], 5)
    with pytest.raises(ValueError, match="bidirectional"):
        check_interventions(gru, [Intervention("reset", direction=1)], 5)
    with pytest.raises(ValueError, match="units must be in 0..7"):
        check_interventions(gru, [Intervention("reset", units=(8,))], 5)
    with pytest.raises(ValueError, match="positions must be in 0..4"):
        check_interventions(gru, [Intervention("reset", positions=(5,))], 5)


def test_lessons_find_their_word_and_fit_every_layer_and_direction():
    bundle = tiny_bundle("lstm", True, num_layers=2)
    tokens = ["the", "film", "was", "good", "and", "bad"]
    forget, ignore = LESSONS
    with pytest.raises(ValueError, match="no 'but'"):
        lesson_interventions(forget, bundle.model, tokens)
    tokens[4] = "but"
    changes = lesson_interventions(forget, bundle.model, tokens)
    assert {(c.layer, c.direction, c.target, c.op, c.positions) for c in changes} == {
        (0, 0, "forget", "clamp0", (4,)), (1, 0, "forget", "clamp0", (4,))}
    gru = tiny_model("gru", True)
    changes = lesson_interventions("ignore_not", gru, ["not", "good", "not"])
    assert {(c.direction, c.target, c.op, c.positions) for c in changes} == {
        (0, "update", "clamp1", (0, 2)), (1, "update", "clamp1", (0, 2))}
    with pytest.raises(ValueError, match="plain RNN"):
        lesson_interventions(ignore, tiny_model("rnn"), ["not"])
    with pytest.raises(ValueError, match="valid: forget_before_but, ignore_not"):
        lesson_interventions("nope", gru, ["not"])
    result = intervene(bundle, "the film was good but bad", lesson_interventions(forget, bundle.model,
                                                                                 "the film was good but bad".split()))
    assert np.array_equal(result.get(0, 0).gates_after["forget"][4], np.zeros(8, np.float32))
    assert "forget gate set to 0 at 'but'" in result.interventions[0].describe(result.tokens)


def test_units_typed_by_a_person():
    from sentiment_core.explain.intervene import parse_units

    assert parse_units("all", 8) is None and parse_units(" ", 8) is None
    assert parse_units("3", 8) == (3,) and parse_units("0-2, 6", 8) == (0, 1, 2, 6)
    with pytest.raises(ValueError, match="0 to 7"):
        parse_units("7-9", 8)
    with pytest.raises(ValueError, match="not a unit number"):
        parse_units("seven", 8)
