"""Memory ribbons: the LSTM and GRU products equal autograd's derivative along the memory path
(gates held fixed), and the plain RNN's Jacobian equals finite differences."""
import numpy as np
import pytest
import torch

from sentiment_core.explain import trace
from sentiment_core.explain.memory import memory_model_keys, memory_ribbon, rnn_jacobians
from sentiment_core.explain.trace import layer_weights
from sentiment_core.registry import ModelEntry
from tests.explain_fixtures import single_thread, tiny_model  # noqa: F401 (fixture)

IDS = [3, 14, 15, 9, 26, 5, 8]


def _memory_path(model, traced, layer, direction, t):
    """d state_end / d state_t by autograd: the real recurrence from step t on, with the gates
    computed from the running hidden state but detached (held fixed)."""
    cfg, d = model.config, traced.get(layer, direction)
    w = {k: v.double() for k, v in layer_weights(model, layer, direction).items()}
    x = torch.from_numpy(d.inputs).double()  # (T, I)
    order = list(range(t - 1, -1, -1)) if direction else list(range(t + 1, len(IDS)))
    H = cfg.hidden_dim

    def run(state: torch.Tensor) -> torch.Tensor:
        if cfg.cell == "lstm":
            c, h = state, torch.from_numpy(d.hidden[t]).double()
            for k in order:
                i, f, g, o = (x[k] @ w["w_ih"].T + w["b_ih"] + h @ w["w_hh"].T + w["b_hh"]).split(H)
                i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
                c = f.detach() * c + (i * g).detach()
                h = o * torch.tanh(c)
            return c
        h = state
        for k in order:
            xp, hp = x[k] @ w["w_ih"].T + w["b_ih"], h @ w["w_hh"].T + w["b_hh"]
            r, z = torch.sigmoid(xp[:H] + hp[:H]), torch.sigmoid(xp[H:2 * H] + hp[H:2 * H])
            n = torch.tanh(xp[2 * H:] + r * hp[2 * H:])
            h = (1 - z.detach()) * n.detach() + z.detach() * h
        return h

    start = torch.from_numpy((d.cell if cfg.cell == "lstm" else d.hidden)[t]).double()
    end = d.cell if cfg.cell == "lstm" else d.hidden
    np.testing.assert_allclose(run(start).numpy(), end[0 if direction else -1], atol=1e-5)  # the real values
    return torch.autograd.functional.jacobian(run, start).numpy()  # (H, H)


@pytest.mark.parametrize("cell,bidirectional,layers", [("lstm", False, 1), ("lstm", True, 2), ("gru", False, 1),
                                                       ("gru", True, 2)])
def test_gated_survival_is_the_derivative_along_the_memory_path(cell, bidirectional, layers):
    model = tiny_model(cell, bidirectional, layers, "max", seed=2)
    traced = trace(model, IDS)
    for layer in range(layers):
        for direction in range(2 if bidirectional else 1):
            ribbon = memory_ribbon(model, IDS, layer, direction, traced=traced)
            assert ribbon.per_unit.shape == (7, 8) and ribbon.total.shape == (7,)
            assert np.all((ribbon.per_unit >= 0) & (ribbon.per_unit <= 1))
            end = 0 if direction else 6
            np.testing.assert_array_equal(ribbon.per_unit[end], np.ones(8))  # the last word read keeps everything
            for t in range(7):
                jacobian = _memory_path(model, traced, layer, direction, t)
                np.testing.assert_allclose(np.diag(jacobian), ribbon.per_unit[t], rtol=1e-5, atol=1e-7)
                np.testing.assert_allclose(jacobian - np.diag(np.diag(jacobian)), 0, atol=1e-12)
            w = ribbon.written
            np.testing.assert_allclose(ribbon.total, (ribbon.per_unit * w).sum(1) / w.sum(1), rtol=1e-9)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_rnn_jacobian_equals_finite_differences(bidirectional):
    model = tiny_model("rnn", bidirectional, 1, "last", seed=3)
    traced = trace(model, IDS)
    for direction in range(2 if bidirectional else 1):
        d = traced.get(0, direction)
        w = {k: v.double().numpy() for k, v in layer_weights(model, 0, direction).items()}
        x = d.inputs.astype(np.float64)
        ribbon = memory_ribbon(model, IDS, 0, direction, traced=traced)
        for t in (0, 3, 5):
            order = list(range(t - 1, -1, -1)) if direction else list(range(t + 1, 7))

            def end(h):
                for k in order:
                    h = np.tanh(x[k] @ w["w_ih"].T + w["b_ih"] + h @ w["w_hh"].T + w["b_hh"])
                return h

            h_t, eps = d.hidden[t].astype(np.float64), 1e-6
            np.testing.assert_allclose(end(h_t), d.hidden[0 if direction else -1], atol=1e-5)
            jac = np.stack([(end(h_t + eps * e) - end(h_t - eps * e)) / (2 * eps) for e in np.eye(8)], axis=1)
            np.testing.assert_allclose(ribbon.per_unit[t], np.linalg.norm(jac, axis=0), rtol=1e-6, atol=1e-9)
            np.testing.assert_allclose(ribbon.total[t], np.linalg.norm(jac) / np.sqrt(8), rtol=1e-6)
    assert ribbon.written is None and "Jacobian" in ribbon.measure


def test_rnn_jacobians_relu_and_identity_at_the_end():
    rng = np.random.default_rng(0)
    w, h = rng.normal(size=(4, 4)), rng.normal(size=(5, 4))
    jac = rnn_jacobians(w, h, "relu")
    np.testing.assert_array_equal(jac[-1], np.eye(4))
    np.testing.assert_allclose(jac[-2], (h[-1] > 0)[:, None] * w)


def test_memory_models_prefer_shipped_then_the_newest_unidirectional_run(tmp_path):
    def entry(key, source, cell, bidirectional=False):
        card = ({"model_options": {"cell": cell, "bidirectional": bidirectional}} if source == "shipped"
                else {"config": {"model": {"cell": cell, "bidirectional": bidirectional}}})
        return ModelEntry(key, source, key, cell, ["negative", "positive"], tmp_path, card=card)

    entries = [entry("bilstm", "shipped", "lstm", True), entry("lstm", "shipped", "lstm"),
               entry("run:b", "run", "rnn", True), entry("run:new", "run", "rnn"), entry("run:old", "run", "rnn"),
               entry("run:g", "run", "lstm")]
    assert memory_model_keys(entries) == {"rnn": "run:new", "lstm": "lstm"}
