"""Toy mode: one sentence's whole forward pass recomputed in NumPy equals PyTorch."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from sentiment_core.explain.toy import toy_forward
from sentiment_core.models import build_model
from tests.conftest import tiny_config

CASES = [dict(cell=c, bidirectional=b, pooling=p) for c, b, p in
         itertools.product(("rnn", "lstm", "gru"), (False, True), ("last", "mean", "max", "attention"))]
CASES += [dict(cell="lstm", head="per_step", output="sigmoid", num_layers=2),
          dict(cell="gru", bidirectional=True, head="mlp", head_hidden=3, pooling="mean", output="sigmoid"),
          dict(cell="rnn", num_layers=3, num_classes=3, bidirectional=True)]


@pytest.mark.parametrize("options", CASES, ids=lambda o: "-".join(f"{v}" for v in o.values()))
def test_toy_forward_equals_pytorch(options):
    torch.manual_seed(0)
    model = build_model(tiny_config(emb_dim=3, hidden_dim=2, **options)).eval()
    with torch.no_grad():  # larger weights than the default init, so saturation and sign errors would show
        for p in model.parameters():
            p.mul_(3.0)
    toy = toy_forward(model, [5, 7, 2, 9, 11])
    assert toy.matches_pytorch, toy.max_abs_error
    assert len(toy.directions) == model.config.num_layers * model.config.num_directions
    assert all(len(d.steps) == 5 for d in toy.directions)
    np.testing.assert_allclose(toy.probabilities.sum(), 1.0)


def test_one_unit_rnn_by_hand():
    """The Keras cookbook's check: a one-unit RNN, every number by hand."""
    model = build_model(tiny_config(cell="rnn", emb_dim=2, hidden_dim=1, output="sigmoid")).eval()
    with torch.no_grad():
        model.embedding.weight.copy_(torch.arange(60, dtype=torch.float32).reshape(30, 2) / 60)
        model.rnn.weight_ih_l0.copy_(torch.tensor([[0.5, -1.0]]))
        model.rnn.weight_hh_l0.fill_(0.8)
        model.rnn.bias_ih_l0.fill_(0.1)
        model.rnn.bias_hh_l0.fill_(0.0)
        model.classifier.weight.fill_(2.0)
        model.classifier.bias.fill_(-0.5)
    toy = toy_forward(model, [3, 4])
    h1 = np.tanh(0.5 * 6 / 60 - 7 / 60 + 0.1)
    h2 = np.tanh(0.5 * 8 / 60 - 9 / 60 + 0.8 * h1 + 0.1)
    assert toy.directions[0].steps[1].hidden[0] == pytest.approx(h2)
    assert toy.probabilities[1] == pytest.approx(1 / (1 + np.exp(-(2 * h2 - 0.5))))
    assert toy.matches_pytorch


def test_a_full_size_model_is_refused():
    model = build_model(tiny_config(hidden_dim=8, emb_dim=8)).eval()
    with pytest.raises(ValueError, match="hidden size 1-4"):
        toy_forward(model, [3, 4])
