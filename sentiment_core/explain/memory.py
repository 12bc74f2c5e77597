"""Memory ribbons: for each token, how much of what it wrote survives to the end of the reading.

- LSTM: what token t writes into the cell, ``i_t * g_t``, reaches the last cell state multiplied
  by every later forget gate: ``prod_{k>t} f_k`` per unit (the direct path of
  ``d c_T / d c_t`` with the gates held fixed).
- GRU (PyTorch's ``h_t = (1 - z_t) * n_t + z_t * h_{t-1}``): what token t writes,
  ``(1 - z_t) * n_t``, is kept by every later update gate: ``prod_{k>t} z_k`` per unit.
- Plain RNN: no gates, so the survival is the Jacobian ``J_t = d h_T / d h_t``; per unit the
  norm of its column, in total ``||J_t||_F / sqrt(H)`` (1 for the identity, like a survival of 1).

"Later" and "end" follow the reading direction: the backward direction ends at the first token.
The totals weight each unit by how much the token wrote into it (LSTM ``|i g|``, GRU ``|(1 - z) n|``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np

from .inputs import ModelOrBundle, TextOrIds, resolve
from .trace import Trace, layer_weights, trace as run_trace

MEASURES = {
    "lstm": "product of the later forget gates (f)",
    "gru": "product of the later update gates (z)",
    "rnn": "Jacobian norm ‖∂h_end / ∂h_t‖",
}


@dataclass
class MemoryRibbon:
    """Survival of each token's contribution in one layer and direction.

    Attributes:
        cell: ``lstm``, ``gru`` or ``rnn``.
        layer: layer index.
        direction: 0 forward, 1 backward.
        name: e.g. ``layer 0 forward``.
        tokens: (T,) the tokens read.
        per_unit: (T, H) survival to the end per unit (LSTM, GRU: in [0, 1]; RNN: Jacobian
            column norms).
        total: (T,) one number per token (see the module docstring).
        written: (T, H) how much each token wrote into each unit (LSTM ``|i g|``, GRU
            ``|(1 - z) n|``); None for the plain RNN.
        measure: what ``per_unit`` is, in words.
    """

    cell: str
    layer: int
    direction: int
    name: str
    tokens: list[str]
    per_unit: np.ndarray
    total: np.ndarray
    written: np.ndarray | None
    measure: str


def _later_product(gates: np.ndarray) -> np.ndarray:
    """(T, H) ``out[t] = prod_{k > t} gates[k]`` (1 at the last step), in float64."""
    T, H = gates.shape
    out = np.ones((T, H), dtype=np.float64)
    for t in range(T - 2, -1, -1):
        out[t] = out[t + 1] * gates[t + 1]
    return out


def _weighted_total(per_unit: np.ndarray, written: np.ndarray) -> np.ndarray:
    """(T,) mean of ``per_unit`` over units weighted by ``written`` (plain mean where nothing was written)."""
    weight = written.sum(axis=1)
    weighted = (per_unit * written).sum(axis=1) / np.where(weight > 0, weight, 1.0)
    return np.where(weight > 0, weighted, per_unit.mean(axis=1))


def rnn_jacobians(w_hh: np.ndarray, hidden: np.ndarray, nonlinearity: str = "tanh") -> np.ndarray:
    """``d h_{T-1} / d h_t`` for every t of a plain RNN read left to right.

    Args:
        w_hh: (H, H) recurrent weights.
        hidden: (T, H) hidden states in reading order.
        nonlinearity: ``tanh`` (slope ``1 - h^2``) or ``relu`` (slope 1 where ``h > 0``).

    Returns:
        (T, H, H) Jacobians, float64; the last one is the identity.
    """
    T, H = hidden.shape
    h = hidden.astype(np.float64)
    slopes = 1.0 - h ** 2 if nonlinearity == "tanh" else (h > 0).astype(np.float64)  # (T, H)
    out = np.empty((T, H, H), dtype=np.float64)
    out[T - 1] = np.eye(H)
    w = w_hh.astype(np.float64)
    for t in range(T - 2, -1, -1):
        out[t] = out[t + 1] @ (slopes[t + 1][:, None] * w)  # J_t = J_{t+1} diag(slope_{t+1}) W_hh
    return out


def memory_ribbon(model_or_bundle: ModelOrBundle, text_or_ids: TextOrIds, layer: int = 0, direction: int = 0,
                  traced: Trace | None = None) -> MemoryRibbon:
    """How much of what each token wrote survives to the end of the reading.

    Args:
        model_or_bundle: a bundle or a bare model.
        text_or_ids: the text, token ids or a prepared input (ignored when ``traced`` is given).
        layer: layer index.
        direction: 0 forward, 1 backward.
        traced: an existing trace of the text (reused).

    Returns:
        The ribbon.

    Raises:
        ExplanationInputError: the text cannot be explained.
        ValueError: no such layer or direction.
    """
    model, _ = resolve(model_or_bundle)
    cfg = model.config
    traced = traced if traced is not None else run_trace(model_or_bundle, text_or_ids)
    d = traced.get(layer, direction)
    flip = (lambda a: a[::-1]) if direction else (lambda a: a)  # work in reading order
    written = None
    if cfg.cell == "lstm":
        per_unit = _later_product(flip(d.gates["forget"]).astype(np.float64))
        written = np.abs(flip(d.gates["input"] * d.gates["cell_candidate"]).astype(np.float64))
        total = _weighted_total(per_unit, written)
    elif cfg.cell == "gru":
        z = flip(d.gates["update"]).astype(np.float64)
        per_unit = _later_product(z)
        written = np.abs((1.0 - z) * flip(d.gates["new"]).astype(np.float64))
        total = _weighted_total(per_unit, written)
    else:
        w_hh = layer_weights(model, layer, direction)["w_hh"].cpu().numpy()
        jacobians = rnn_jacobians(w_hh, flip(d.hidden), getattr(model.rnn, "nonlinearity", "tanh"))  # (T, H, H)
        per_unit = np.linalg.norm(jacobians, axis=1)  # (T, H): column j = the effect of unit j at t
        total = np.linalg.norm(jacobians, axis=(1, 2)) / np.sqrt(cfg.hidden_dim)
    per_unit, total = np.ascontiguousarray(flip(per_unit)), np.ascontiguousarray(flip(total))
    written = None if written is None else np.ascontiguousarray(flip(written))
    return MemoryRibbon(cfg.cell, layer, direction, d.name, list(traced.tokens), per_unit, total, written,
                        MEASURES[cfg.cell])


def memory_model_keys(entries: Iterable, cells: tuple[str, ...] = ("rnn", "lstm", "gru")) -> dict[str, str]:
    """For each cell, the model to show: the shipped model named after it, else the newest
    unidirectional run of that cell.

    Args:
        entries: registry entries (``ModelEntry``: shipped first, runs newest first).
        cells: the cells wanted.

    Returns:
        cell -> registry key, for the cells that have a model.
    """
    chosen: dict[str, str] = {}
    for entry in entries:
        options = (entry.card or {}).get("model_options") or ((entry.card or {}).get("config") or {}).get("model") or {}
        cell = options.get("cell")
        if entry.source == "shipped" and entry.key in cells:
            chosen[entry.key] = entry.key  # a shipped model named after its cell wins
        elif entry.source == "run" and cell in cells and cell not in chosen and not options.get("bidirectional"):
            chosen[cell] = entry.key
    return {cell: chosen[cell] for cell in cells if cell in chosen}
