"""The unrolled network: one text as a chain of cells, with the real tensor shapes of every arrow
(B = 1 text, T tokens, E embedding size, H hidden units, D directions, C classifier outputs)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .inputs import ModelOrBundle, TextOrIds, resolve
from .trace import Trace, trace as run_trace


@dataclass
class UnrolledNetwork:
    """What the unrolled picture shows.

    Attributes:
        tokens: (T,) the tokens read.
        cell: ``lstm``, ``gru`` or ``rnn``.
        num_layers: stacked layers.
        num_directions: 1, or 2 for a bidirectional model.
        rows: one (layer, direction, name) per row of cells, layer-major, forward first (the
            order of Inside the cell's layer / direction box).
        states: (L*D, T) each cell's hidden state, summarised as its RMS ``||h_t|| / sqrt(H)`` (0..1).
        shapes: arrow name -> label with symbols and sizes, e.g. ``(B, T, E) = (1, 7, 50)``:
            ``ids``, ``embedded``, ``step`` (one hidden state, plus the cell state for LSTMs),
            ``layer`` (a layer's outputs, the next layer's input), ``pooled``, ``fc1`` (mlp head only)
            and ``logits``.
        pooling: the model's pooling (``last``, ``mean``, ``max``, ``attention``; ``last step``
            for the per-step head).
        head: ``linear``, ``per_step`` or ``mlp``.
        output: ``softmax`` or ``sigmoid``.
        probabilities: (C,) the prediction.
        label_names: class names.
    """

    tokens: list[str]
    cell: str
    num_layers: int
    num_directions: int
    rows: list[tuple[int, int, str]]
    states: np.ndarray
    shapes: dict[str, str]
    pooling: str
    head: str
    output: str
    probabilities: np.ndarray
    label_names: list[str]

    def reading_step(self, row: int, t: int) -> int:
        """When cell (row, t) is computed in its direction's reading: 0 for the first word read."""
        return len(self.tokens) - 1 - t if self.rows[row][1] else t


def _shape(symbols: str, sizes: tuple[int, ...]) -> str:
    return f"({symbols}) = ({', '.join(map(str, sizes))})"


def unrolled_network(model_or_bundle: ModelOrBundle, text_or_ids: TextOrIds,
                     traced: Trace | None = None) -> UnrolledNetwork:
    """The chain of cells for one text with the model's real sizes.

    Args:
        model_or_bundle: a bundle or a bare model.
        text_or_ids: the text, token ids or a prepared input (ignored when ``traced`` is given).
        traced: an existing trace of the text (reused).

    Returns:
        The picture's data.

    Raises:
        ExplanationInputError: the text cannot be explained.
    """
    model, _ = resolve(model_or_bundle)
    cfg = model.config
    traced = traced if traced is not None else run_trace(model_or_bundle, text_or_ids)
    T, E, H, D = len(traced.tokens), cfg.emb_dim, cfg.hidden_dim, cfg.num_directions
    dh = "D·H" if D > 1 else "H"
    shapes = {
        "ids": _shape("B, T", (1, T)),
        "embedded": _shape("B, T, E", (1, T, E)),
        "step": ("h, c: " if cfg.cell == "lstm" else "h: ") + _shape("B, H", (1, H)),
        "layer": _shape(f"B, T, {dh}", (1, T, D * H)),
        "pooled": _shape(f"B, {dh}", (1, D * H)),
        "logits": _shape("B, C", (1, cfg.classifier_outputs)),
    }
    if cfg.head == "mlp":
        shapes["fc1"] = _shape("B, F", (1, cfg.head_hidden))
    rows = [(d.layer, d.direction, d.name) for d in traced.directions]
    states = np.stack([np.linalg.norm(d.hidden, axis=1) / np.sqrt(H) for d in traced.directions])  # (L*D, T)
    pooling = "last step" if cfg.head == "per_step" else cfg.pooling
    return UnrolledNetwork(list(traced.tokens), cfg.cell, cfg.num_layers, D, rows, states, shapes, pooling, cfg.head,
                           cfg.output, np.asarray(traced.prediction.probabilities), list(traced.prediction.label_names))
