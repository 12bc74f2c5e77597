"""The recomputed gates and states equal what nn.LSTM / nn.GRU / nn.RNN compute."""
import itertools

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from sentiment_core.explain import trace
from sentiment_core.explain.trace import layer_weights, run_layers
from tests.explain_fixtures import single_thread, tiny_bundle, tiny_model  # noqa: F401 (fixture)

ATOL = 1e-5
CASES = list(itertools.product(["lstm", "gru", "rnn"], [False, True], [1, 2], ["last", "mean", "max", "attention"],
                               [True, False]))


def _one_layer(model, layer: int) -> nn.Module:
    """A one-layer nn module holding ``layer``'s weights (both directions)."""
    cfg = model.config
    in_dim = cfg.emb_dim if layer == 0 else cfg.output_dim
    module = type(model.rnn)(in_dim, cfg.hidden_dim, batch_first=True, bidirectional=cfg.bidirectional)
    with torch.no_grad():
        for direction in range(cfg.num_directions):
            suffix = "_l0" + ("_reverse" if direction else "")
            for name, tensor in layer_weights(model, layer, direction).items():
                kind = {"w_ih": "weight_ih", "w_hh": "weight_hh", "b_ih": "bias_ih", "b_hh": "bias_hh"}[name]
                getattr(module, kind + suffix).copy_(tensor)
    return module


@pytest.mark.parametrize("cell,bidirectional,layers,pooling,packed", CASES)
def test_trace_equals_pytorch(cell, bidirectional, layers, pooling, packed):
    model = tiny_model(cell, bidirectional, layers, pooling, packed, seed=len(cell) + layers)
    ids = torch.randint(2, 30, (1, 9), generator=torch.Generator().manual_seed(layers))
    traced = trace(model, ids)
    with torch.no_grad():
        outputs, state = model.rnn(model.embedding(ids))
        probs = torch.softmax(model(ids), dim=1)[0]
    h_n, c_n = state if cell == "lstm" else (state, None)
    assert torch.allclose(torch.from_numpy(traced.outputs), outputs[0], atol=ATOL)
    assert torch.allclose(torch.from_numpy(traced.prediction.probabilities), probs, atol=ATOL)
    assert traced.prediction.label == int(probs.argmax())
    D = 2 if bidirectional else 1
    for k, d in enumerate(traced.directions):
        assert (d.layer, d.direction) == divmod(k, D)
        final = 0 if d.direction else -1  # the backward direction ends at the first token
        assert torch.allclose(torch.from_numpy(d.hidden[final]), h_n[k, 0], atol=ATOL)
        if cell == "lstm":
            assert torch.allclose(torch.from_numpy(d.cell[final]), c_n[k, 0], atol=ATOL)
        else:
            assert d.cell is None
    if pooling == "attention":
        assert traced.attention.shape == (9,) and np.isclose(traced.attention.sum(), 1.0, atol=1e-5)
    else:
        assert traced.attention is None


@pytest.mark.parametrize("cell,bidirectional", list(itertools.product(["lstm", "gru", "rnn"], [False, True])))
def test_every_layer_and_cell_state_equals_pytorch(cell, bidirectional):
    """Each layer's hidden sequence equals a one-layer nn module with its weights, and the cell
    state at every position equals that module's final state on the prefix (forward) or suffix
    (backward) ending there."""
    model = tiny_model(cell, bidirectional, num_layers=2, seed=3)
    ids = torch.randint(2, 30, (1, 7), generator=torch.Generator().manual_seed(5))
    traced = trace(model, ids)
    T = ids.shape[1]
    for layer in range(2):
        module = _one_layer(model, layer)
        x = torch.from_numpy(traced.get(layer, 0).inputs).unsqueeze(0)  # (1, T, I)
        with torch.no_grad():
            out, _ = module(x)  # (1, T, D*H)
            starts = x.expand(T, -1, -1)
            prefixes = pack_padded_sequence(starts, torch.arange(1, T + 1), batch_first=True, enforce_sorted=False)
            _, prefix_state = module(prefixes)
            suffix_state = [module(x[:, t:])[1] for t in range(T)]
        hidden = np.concatenate([traced.get(layer, d).hidden for d in range(model.config.num_directions)], axis=1)
        assert torch.allclose(torch.from_numpy(hidden), out[0], atol=ATOL)
        if cell == "lstm":
            forward_cells = prefix_state[1][0]  # (T, H): c after reading tokens 0..t
            assert torch.allclose(torch.from_numpy(traced.get(layer, 0).cell), forward_cells, atol=ATOL)
            if bidirectional:
                backward_cells = torch.stack([s[1][1, 0] for s in suffix_state])  # (T, H)
                assert torch.allclose(torch.from_numpy(traced.get(layer, 1).cell), backward_cells, atol=ATOL)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_gates_reproduce_the_state_update(cell):
    model = tiny_model(cell, seed=1)
    traced = trace(model, [4, 5, 6, 7])
    d = traced.directions[0]
    for t in range(4):
        h_prev, c_prev = d.previous_state(t)
        g = d.gates
        if cell == "lstm":
            c = g["forget"][t] * c_prev + g["input"][t] * g["cell_candidate"][t]
            np.testing.assert_allclose(c, d.cell[t], atol=ATOL)
            np.testing.assert_allclose(g["output"][t] * np.tanh(c), d.hidden[t], atol=ATOL)
        elif cell == "gru":
            z = g["update"][t]
            np.testing.assert_allclose((1 - z) * g["new"][t] + z * h_prev, d.hidden[t], atol=ATOL)
        else:
            np.testing.assert_allclose(np.tanh(g["preactivation"][t]), d.hidden[t], atol=ATOL)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_unpacked_model_is_traced_over_the_pads_it_reads(cell):
    model = tiny_model(cell, bidirectional=True, packed=False, seed=2)
    ids = torch.tensor([[0, 0, 0, 5, 6, 7]])  # pre-padded, as in the tutorials
    traced = trace(model, ids)
    assert traced.tokens[:3] == ["0", "0", "0"] and traced.input.length == 6
    assert any("<pad>" in note for note in traced.input.notes)
    with torch.no_grad():
        outputs, _ = model.rnn(model.embedding(ids))
        probs = torch.softmax(model(ids), dim=1)[0]
    assert torch.allclose(torch.from_numpy(traced.outputs), outputs[0], atol=ATOL)
    assert torch.allclose(torch.from_numpy(traced.prediction.probabilities), probs, atol=ATOL)


def test_packed_model_reads_only_real_tokens():
    model = tiny_model("gru", packed=True)
    traced = trace(model, [5, 6, 7, 0, 0])
    assert traced.input.ids == [5, 6, 7]
    with torch.no_grad():
        probs = torch.softmax(model(torch.tensor([[5, 6, 7, 0, 0]])), dim=1)[0]
    assert torch.allclose(torch.from_numpy(traced.prediction.probabilities), probs, atol=ATOL)


@pytest.mark.parametrize("cell,bidirectional", list(itertools.product(["lstm", "gru", "rnn"], [False, True])))
def test_batched_recurrence_with_lengths_equals_packed_pytorch(cell, bidirectional):
    model = tiny_model(cell, bidirectional, num_layers=2, seed=4)
    lengths = torch.tensor([5, 2, 7, 1])
    ids = torch.randint(2, 30, (4, 7), generator=torch.Generator().manual_seed(0))
    ids[torch.arange(7).unsqueeze(0) >= lengths.unsqueeze(1)] = 0
    with torch.no_grad():
        _, outputs, h_n = run_layers(model, model.embedding(ids), lengths)
        packed = pack_padded_sequence(model.embedding(ids), lengths, batch_first=True, enforce_sorted=False)
        packed_out, state = model.rnn(packed)
        expected_outputs, _ = pad_packed_sequence(packed_out, batch_first=True, total_length=7)
        expected_h_n = state[0] if isinstance(state, tuple) else state
        model_outputs, model_final = model.encode(model.embedding(ids), lengths)
    assert torch.allclose(outputs, expected_outputs, atol=ATOL)
    assert torch.allclose(h_n, expected_h_n, atol=ATOL)
    assert torch.allclose(model_outputs, expected_outputs, atol=ATOL)  # the model's own (fast) path agrees
    assert torch.allclose(model_final, expected_h_n[-model.config.num_directions:], atol=ATOL)


def test_trace_accepts_a_bundle_and_text():
    traced = trace(tiny_bundle("lstm", bidirectional=True), "The movie was GOOD, wonderful")
    assert traced.tokens == ["the", "movie", "was", "good", ",", "wonderful"]
    assert traced.input.unknown == [False, False, False, False, True, True]
    assert traced.prediction.label_names == ["negative", "positive"]
    assert [d.name for d in traced.directions] == ["layer 0 forward", "layer 0 backward"]
    assert traced.get(0, 1).gates["forget"].shape == (6, 8)
    with pytest.raises(ValueError):
        traced.get(1, 0)
