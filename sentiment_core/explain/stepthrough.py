"""One step of one hidden unit, number by number: every term of the gate equations recomputed
in NumPy (float64), checked against PyTorch's own cell, and written out as LaTeX."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..models import ParamRow, model_summary
from .inputs import ModelOrBundle, TextOrIds, resolve
from .trace import ACTIVATIONS, GATE_NAMES, GATE_SYMBOLS, Trace, layer_weights, trace as run_trace

TOLERANCE = 1e-5
_CELL_MODULES = {"lstm": nn.LSTMCell, "gru": nn.GRUCell, "rnn": nn.RNNCell}
# PyTorch's documentation names the weight blocks by gate letter (W_ii, W_hf, ...).
_WEIGHT_LETTER = {"input": "i", "forget": "f", "cell_candidate": "g", "output": "o",
                  "reset": "r", "update": "z", "new": "n", "preactivation": "h"}


@dataclass
class GateStep:
    """All terms of one gate for one unit.

    Attributes:
        name: gate name (``input``, ``forget``, ``cell_candidate``, ``output``, ``reset``,
            ``update``, ``new``, ``preactivation``).
        symbol: its letter (i, f, g, o, r, z, n, a).
        activation: ``sigmoid``, ``tanh`` or ``none`` (the plain RNN's pre-activation).
        wx: input weights row times the input, W_i x_t.
        uh: recurrent weights row times the previous hidden state, W_h h_prev.
        b_ih: input bias.
        b_hh: recurrent bias.
        preactivation: the activation's argument (GRU ``new``: wx + b_ih + r * (uh + b_hh)).
        value: the gate value (NumPy, float64).
        pytorch_value: the same value from the PyTorch trace (float32).
    """

    name: str
    symbol: str
    activation: str
    wx: float
    uh: float
    b_ih: float
    b_hh: float
    preactivation: float
    value: float
    pytorch_value: float


@dataclass
class Equation:
    """One line of the cell's equations as LaTeX: with symbols and with this step's numbers."""

    name: str
    symbolic: str
    numeric: str


@dataclass
class StepThrough:
    """One time step of one unit of one layer and direction.

    Attributes:
        cell: ``lstm``, ``gru`` or ``rnn``.
        layer: layer index.
        direction: 0 forward, 1 backward.
        direction_name: e.g. ``layer 0 backward``.
        t: position in the text.
        unit: hidden unit index j.
        token: the token at position t.
        x: (I,) the layer's input at t.
        h_prev: (H,) hidden state before this step (zeros at the first step of the direction).
        c_prev: (H,) LSTM cell state before this step, else None.
        gates: the gate terms for unit j.
        hidden_prev: h_prev[j].
        hidden_new: h_t[j] (NumPy, float64).
        cell_prev: c_prev[j] (LSTM).
        cell_new: c_t[j] (LSTM).
        pytorch_hidden: h_t[j] from PyTorch's own cell (``nn.LSTMCell`` etc. with this layer's weights).
        pytorch_cell: c_t[j] from PyTorch's cell (LSTM).
        max_abs_error: largest difference between the NumPy numbers and PyTorch's (gates,
            cell, hidden; the hidden state is also compared with the trace, which equals the
            model's ``nn.LSTM``/``nn.GRU``/``nn.RNN`` outputs).
        matches_pytorch: ``max_abs_error <= 1e-5``.
        equations: the equations, symbolic and with numbers.
    """

    cell: str
    layer: int
    direction: int
    direction_name: str
    t: int
    unit: int
    token: str
    x: np.ndarray
    h_prev: np.ndarray
    c_prev: np.ndarray | None
    gates: list[GateStep]
    hidden_prev: float
    hidden_new: float
    cell_prev: float | None
    cell_new: float | None
    pytorch_hidden: float
    pytorch_cell: float | None
    max_abs_error: float
    matches_pytorch: bool
    equations: list[Equation]


def _sigmoid(v: float) -> float:
    return float(1.0 / (1.0 + np.exp(-v)))


def _n(v: float) -> str:
    """A number for LaTeX, negative ones in parentheses."""
    return f"({v:.4f})" if v < 0 else f"{v:.4f}"


def _v(v: float) -> str:
    """A number for LaTeX where no parentheses are needed (alone inside a function call)."""
    return f"{v:.4f}"


def _activate(activation: str, v: float) -> float:
    if activation == "sigmoid":
        return _sigmoid(v)
    if activation == "tanh":
        return float(np.tanh(v))
    return v


def _pytorch_cell(cell: str, nonlinearity: str, weights: dict[str, torch.Tensor], x: np.ndarray,
                  h_prev: np.ndarray, c_prev: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
    """PyTorch's own cell (``nn.LSTMCell``/``nn.GRUCell``/``nn.RNNCell``) run once in float32."""
    kwargs = {"nonlinearity": nonlinearity} if cell == "rnn" else {}
    module = _CELL_MODULES[cell](x.shape[0], h_prev.shape[0], **kwargs)
    with torch.no_grad():
        for name, key in (("weight_ih", "w_ih"), ("weight_hh", "w_hh"), ("bias_ih", "b_ih"), ("bias_hh", "b_hh")):
            getattr(module, name).copy_(weights[key].cpu())
        xt = torch.from_numpy(np.asarray(x, dtype=np.float32)).unsqueeze(0)  # (1, I)
        ht = torch.from_numpy(np.asarray(h_prev, dtype=np.float32)).unsqueeze(0)  # (1, H)
        if cell == "lstm":
            h, c = module(xt, (ht, torch.from_numpy(np.asarray(c_prev, dtype=np.float32)).unsqueeze(0)))
            return h[0].numpy(), c[0].numpy()
        return module(xt, ht)[0].numpy(), None


def step_through(model_or_bundle: ModelOrBundle, text_or_ids: TextOrIds, layer: int = 0, direction: int = 0,
                 t: int = 0, unit: int = 0, traced: Trace | None = None) -> StepThrough:
    """Every number in the gate equations for one step of one unit.

    Args:
        model_or_bundle: a bundle or a bare model.
        text_or_ids: the text, token ids or a prepared input (ignored when ``traced`` is given).
        layer: layer index.
        direction: 0 forward, 1 backward.
        t: position in the text (0-based).
        unit: hidden unit index.
        traced: an existing trace of the text (reused).

    Returns:
        The step, with NumPy float64 numbers checked against PyTorch.

    Raises:
        ExplanationInputError: the text cannot be explained.
        ValueError: layer, direction, position or unit out of range.
    """
    model, _ = resolve(model_or_bundle)
    cfg = model.config
    traced = traced if traced is not None else run_trace(model_or_bundle, text_or_ids)
    step = traced.get(layer, direction)
    T, H = step.hidden.shape
    if not 0 <= t < T:
        raise ValueError(f"position {t} is outside the text (0..{T - 1})")
    if not 0 <= unit < H:
        raise ValueError(f"unit {unit} does not exist (0..{H - 1})")
    weights = layer_weights(model, layer, direction)
    w = {k: v.cpu().double().numpy() for k, v in weights.items()}
    x = step.inputs[t].astype(np.float64)  # (I,)
    h_prev32, c_prev32 = step.previous_state(t)
    h_prev = h_prev32.astype(np.float64)  # (H,)
    c_prev = None if c_prev32 is None else c_prev32.astype(np.float64)
    nonlinearity = getattr(model.rnn, "nonlinearity", "tanh")
    prev = "t+1" if direction else "t-1"

    gates, values = [], {}
    for k, name in enumerate(GATE_NAMES[cfg.cell]):
        row = k * H + unit
        wx, uh = float(w["w_ih"][row] @ x), float(w["w_hh"][row] @ h_prev)
        b_ih, b_hh = float(w["b_ih"][row]), float(w["b_hh"][row])
        if name == "new":
            pre = wx + b_ih + values["reset"] * (uh + b_hh)
        else:
            pre = wx + b_ih + uh + b_hh
        activation = ACTIVATIONS[name]
        value = _activate(activation, pre)
        values[name] = value
        gates.append(GateStep(name, GATE_SYMBOLS[name], activation, wx, uh, b_ih, b_hh, pre, value,
                              float(step.gates[name][t, unit])))

    equations = []
    for g in gates:
        L = _WEIGHT_LETTER[g.name]
        s = g.symbol
        func = {"sigmoid": r"\sigma", "tanh": r"\tanh", "none": ""}[g.activation]
        if g.name == "new":
            symbolic = (rf"n_t = \tanh(W_{{in}} x_t + b_{{in}} + r_t \odot (W_{{hn}} h_{{{prev}}} + b_{{hn}}))")
            # two lines: on one, the result ran off a 1280 px page (the longest equation of any cell)
            numeric = (rf"\begin{{aligned}} n_t[{unit}] &= \tanh({_n(g.wx)} + {_n(g.b_ih)} + {_n(values['reset'])} "
                       rf"\cdot ({_n(g.uh)} + {_n(g.b_hh)})) \\ &= \tanh({_v(g.preactivation)}) = {_v(g.value)} "
                       r"\end{aligned}")
        else:
            inner = rf"W_{{i{L}}} x_t + b_{{i{L}}} + W_{{h{L}}} h_{{{prev}}} + b_{{h{L}}}"
            terms = f"{_n(g.wx)} + {_n(g.b_ih)} + {_n(g.uh)} + {_n(g.b_hh)}"
            if func:
                symbolic = rf"{s}_t = {func}({inner})"
                numeric = rf"{s}_t[{unit}] = {func}({terms}) = {func}({_v(g.preactivation)}) = {_v(g.value)}"
            else:
                symbolic = rf"{s}_t = {inner}"
                numeric = rf"{s}_t[{unit}] = {terms} = {_v(g.value)}"
        equations.append(Equation(g.name, symbolic, numeric))

    j, hp = unit, float(h_prev[unit])
    cell_prev = cell_new = None
    if cfg.cell == "lstm":
        i, f, g_, o = (values[n] for n in GATE_NAMES["lstm"])
        cell_prev = float(c_prev[unit])
        cell_new = f * cell_prev + i * g_
        hidden_new = o * float(np.tanh(cell_new))
        equations.append(Equation("cell", rf"c_t = f_t \odot c_{{{prev}}} + i_t \odot g_t",
                                  rf"c_t[{j}] = {_n(f)} \cdot {_n(cell_prev)} + {_n(i)} \cdot {_n(g_)} = {_v(cell_new)}"))
        equations.append(Equation("hidden", r"h_t = o_t \odot \tanh(c_t)",
                                  rf"h_t[{j}] = {_n(o)} \cdot \tanh({_v(cell_new)}) = {_v(hidden_new)}"))
    elif cfg.cell == "gru":
        z, n = values["update"], values["new"]
        hidden_new = (1 - z) * n + z * hp
        equations.append(Equation("hidden", rf"h_t = (1 - z_t) \odot n_t + z_t \odot h_{{{prev}}}",
                                  rf"h_t[{j}] = (1 - {_n(z)}) \cdot {_n(n)} + {_n(z)} \cdot {_n(hp)} = {_v(hidden_new)}"))
    else:
        a = values["preactivation"]
        hidden_new = float(np.tanh(a)) if nonlinearity == "tanh" else max(a, 0.0)
        func = r"\tanh" if nonlinearity == "tanh" else r"\mathrm{ReLU}"
        equations.append(Equation("hidden", rf"h_t = {func}(a_t)", rf"h_t[{j}] = {func}({_v(a)}) = {_v(hidden_new)}"))

    torch_h, torch_c = _pytorch_cell(cfg.cell, nonlinearity, weights, step.inputs[t], h_prev32, c_prev32)
    errors = [abs(g.value - g.pytorch_value) for g in gates]
    errors += [abs(hidden_new - float(torch_h[unit])), abs(hidden_new - float(step.hidden[t, unit]))]
    if cell_new is not None:
        errors += [abs(cell_new - float(torch_c[unit])), abs(cell_new - float(step.cell[t, unit]))]
    max_error = float(max(errors))
    return StepThrough(cfg.cell, layer, direction, step.name, t, unit, traced.tokens[t], x, h_prev, c_prev, gates,
                       hp, float(hidden_new), cell_prev, None if cell_new is None else float(cell_new),
                       float(torch_h[unit]), None if torch_c is None else float(torch_c[unit]), max_error,
                       max_error <= TOLERANCE, equations)


@dataclass
class ParameterCounts:
    """Per-layer parameter counts with formulas.

    Attributes:
        rows: embedding, each recurrent layer/direction, attention, classifier (``model_summary``).
        total: sum of the rows.
        actual: ``sum(p.numel() for p in model.parameters())``.
        matches: ``total == actual``.
    """

    rows: list[ParamRow]
    total: int
    actual: int
    matches: bool


def parameter_counts(model_or_bundle: ModelOrBundle) -> ParameterCounts:
    """Derive the parameter count layer by layer and check it against the model.

    Args:
        model_or_bundle: a bundle or a bare model.

    Returns:
        The rows, their total and the model's actual count.
    """
    model, _ = resolve(model_or_bundle)
    rows = model_summary(model.config)
    total = sum(r.count for r in rows)
    actual = sum(p.numel() for p in model.parameters())
    return ParameterCounts(rows, total, actual, total == actual)
