"""Every gate of every layer and direction, per token, recomputed step by step with the
model's own weights (PyTorch gate order: LSTM i, f, g, o; GRU r, z, n).

Input projections ``x_t W_ih^T + b_ih`` are computed for all time steps at once; only the
recurrence ``h_{t-1} W_hh^T`` runs in a Python loop.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

from ..models import SentimentRNN
from .inputs import ExplainInput, ModelOrBundle, TextOrIds, label_names, model_device, prepare_input, resolve

GATE_NAMES = {
    "lstm": ("input", "forget", "cell_candidate", "output"),
    "gru": ("reset", "update", "new"),
    "rnn": ("preactivation",),
}
GATE_SYMBOLS = {"input": "i", "forget": "f", "cell_candidate": "g", "output": "o",
                "reset": "r", "update": "z", "new": "n", "preactivation": "a"}
# Activation applied to each recorded value: bounded values can saturate.
ACTIVATIONS = {"input": "sigmoid", "forget": "sigmoid", "cell_candidate": "tanh", "output": "sigmoid",
               "reset": "sigmoid", "update": "sigmoid", "new": "tanh", "preactivation": "none",
               "hidden": "tanh", "cell": "none"}


def direction_name(layer: int, direction: int, bidirectional: bool) -> str:
    """E.g. ``layer 0 backward``."""
    return f"layer {layer}" + ((" backward" if direction else " forward") if bidirectional else "")


def layer_weights(model: SentimentRNN, layer: int, direction: int) -> dict[str, torch.Tensor]:
    """``w_ih`` (G*H, I), ``w_hh`` (G*H, H), ``b_ih`` and ``b_hh`` (G*H,) of one layer and direction."""
    suffix = f"_l{layer}" + ("_reverse" if direction else "")
    rnn = model.rnn
    return {name: getattr(rnn, f"{kind}{suffix}").detach() for name, kind in
            (("w_ih", "weight_ih"), ("w_hh", "weight_hh"), ("b_ih", "bias_ih"), ("b_hh", "bias_hh"))}


def _tanh(x: torch.Tensor) -> torch.Tensor:
    """tanh(x) = 2 sigmoid(2x) - 1 (equal to float32 rounding). On CPU ``torch.tanh`` goes through
    MKL's vector math, which wakes its thread pool even for 128 values: on a busy machine each
    call can cost milliseconds, and the recurrence makes 2 calls per step."""
    return torch.sigmoid(2 * x).mul_(2).sub_(1)


def _recur(cell: str, nonlinearity: str, x: torch.Tensor, weights: dict[str, torch.Tensor],
           valid: torch.Tensor | None, reverse: bool) -> dict[str, torch.Tensor]:
    """Run one layer and direction over a batch.

    Args:
        cell: ``lstm``, ``gru`` or ``rnn``.
        nonlinearity: plain RNN activation (``tanh`` or ``relu``).
        x: (B, T, I) layer inputs.
        weights: from ``layer_weights``.
        valid: (B, T) real positions (real tokens first), or None when every position is read.
        reverse: read right to left (the backward direction starts at each row's last real token).

    Returns:
        Gate values (B, T, H) by name, ``hidden`` (B, T, H) and, for LSTMs, ``cell`` (B, T, H);
        zeros at invalid positions.
    """
    B, T, _ = x.shape
    H = weights["w_hh"].shape[1]
    w_hh_t = weights["w_hh"].t().contiguous()  # (H, G*H)
    if cell == "gru":  # b_hn stays inside r * (W_hn h + b_hn), so only b_ih is folded in
        xp = F.linear(x, weights["w_ih"], weights["b_ih"])  # (B, T, 3H)
    else:
        xp = F.linear(x, weights["w_ih"], weights["b_ih"] + weights["b_hh"])  # (B, T, G*H)
    xp = xp.transpose(0, 1).contiguous()  # (T, B, G*H)
    G = xp.shape[2] // H
    steps_valid = None if valid is None else valid.t().unsqueeze(-1)  # (T, B, 1)
    gates = torch.empty(T, B, G * H, dtype=x.dtype, device=x.device)
    hidden = torch.empty(T, B, H, dtype=x.dtype, device=x.device)
    cells = torch.empty(T, B, H, dtype=x.dtype, device=x.device) if cell == "lstm" else None
    h = x.new_zeros(B, H)
    c = x.new_zeros(B, H) if cell == "lstm" else None
    for t in (range(T - 1, -1, -1) if reverse else range(T)):
        act, h_new = gates[t], hidden[t]  # (B, G*H), (B, H): results are written in place
        if cell == "lstm":
            pre = torch.addmm(xp[t], h, w_hh_t)  # (B, 4H)
            torch.sigmoid(pre, out=act)  # i, f, o (the g block is overwritten next)
            act[:, 2 * H:3 * H] = _tanh(pre[:, 2 * H:3 * H])
            i, f, g, o = act.split(H, dim=1)
            c_new = torch.addcmul(f * c, i, g, out=cells[t])
            torch.mul(o, _tanh(c_new), out=h_new)
        elif cell == "gru":
            hp = torch.addmm(weights["b_hh"], h, w_hh_t)  # (B, 3H)
            act[:, :2 * H] = torch.sigmoid(xp[t, :, :2 * H] + hp[:, :2 * H])
            r, z = act[:, :H], act[:, H:2 * H]
            act[:, 2 * H:] = _tanh(torch.addcmul(xp[t, :, 2 * H:], r, hp[:, 2 * H:]))
            n = act[:, 2 * H:]
            torch.addcmul(n, z, h - n, out=h_new)  # (1 - z) * n + z * h
        else:
            torch.addmm(xp[t], h, w_hh_t, out=act)  # (B, H) pre-activation
            h_new.copy_(_tanh(act) if nonlinearity == "tanh" else torch.relu(act))
        if steps_valid is None:
            h, c = h_new, (c_new if cells is not None else None)
        else:
            h = torch.where(steps_valid[t], h_new, h)
            if cells is not None:
                c = torch.where(steps_valid[t], c_new, c)
    out = {name: gates[:, :, k * H:(k + 1) * H].transpose(0, 1)
           for k, name in enumerate(GATE_NAMES[cell])}  # each (B, T, H)
    out["hidden"] = hidden.transpose(0, 1)
    if cells is not None:
        out["cell"] = cells.transpose(0, 1)
    if valid is not None:
        keep = valid.unsqueeze(-1).to(x.dtype)  # (B, T, 1)
        out = {name: value * keep for name, value in out.items()}
    return out


@dataclass
class LayerStates:
    """Batched states of one layer and direction (torch tensors, internal to the explainers)."""

    layer: int
    direction: int
    inputs: torch.Tensor  # (B, T, I)
    values: dict[str, torch.Tensor]  # gate names, "hidden", "cell": (B, T, H)


def run_layers(model: SentimentRNN, embedded: torch.Tensor,
               lengths: torch.Tensor | None = None) -> tuple[list[LayerStates], torch.Tensor, torch.Tensor]:
    """Recompute all layers and directions for a batch.

    Args:
        model: the classifier.
        embedded: (B, T, E) embeddings, real tokens first.
        lengths: (B,) real lengths; None when the model reads every position (one unpadded
            text, or an unpacked model).

    Returns:
        The per-layer/direction states (layer-major, forward before backward), the top layer's
        outputs (B, T, D*H) and the final hidden states h_n (L*D, B, H) in ``nn.RNN`` layout.
    """
    cfg = model.config
    B, T, _ = embedded.shape
    valid = None
    if lengths is not None:
        lengths = lengths.to(embedded.device)
        valid = torch.arange(T, device=embedded.device).unsqueeze(0) < lengths.unsqueeze(1)  # (B, T)
    last = (lengths - 1) if lengths is not None else torch.full((B,), T - 1, device=embedded.device)
    rows = torch.arange(B, device=embedded.device)
    nonlinearity = getattr(model.rnn, "nonlinearity", "tanh")
    states, finals = [], []
    x = embedded
    for layer in range(cfg.num_layers):
        outs = []
        for direction in range(cfg.num_directions):
            values = _recur(cfg.cell, nonlinearity, x, layer_weights(model, layer, direction), valid,
                            reverse=bool(direction))
            states.append(LayerStates(layer, direction, x, values))
            outs.append(values["hidden"])
            finals.append(values["hidden"][rows, 0] if direction else values["hidden"][rows, last])  # (B, H)
        x = torch.cat(outs, dim=2)  # (B, T, D*H) input of the next layer
    return states, x, torch.stack(finals)


@dataclass
class DirectionTrace:
    """Per-token values of one layer and direction.

    Attributes:
        layer: 0 is the layer reading the embeddings.
        direction: 0 forward (left to right), 1 backward.
        name: e.g. ``layer 0 backward``.
        inputs: (T, I) what this layer read at each position (embeddings, or both directions
            of the layer below).
        gates: gate name -> (T, H). LSTM ``input``, ``forget``, ``cell_candidate``, ``output``;
            GRU ``reset``, ``update``, ``new``; plain RNN ``preactivation``.
        hidden: (T, H) hidden state after reading position t (for the backward direction,
            after reading positions t..T-1).
        cell: (T, H) LSTM cell state, None otherwise.
    """

    layer: int
    direction: int
    name: str
    inputs: np.ndarray
    gates: dict[str, np.ndarray]
    hidden: np.ndarray
    cell: np.ndarray | None = None

    def previous_state(self, t: int) -> tuple[np.ndarray, np.ndarray | None]:
        """Hidden (H,) and cell (H,) (or None) before position ``t`` was read (zeros at the start)."""
        T, H = self.hidden.shape
        prev = t + 1 if self.direction else t - 1
        if 0 <= prev < T:
            return self.hidden[prev], None if self.cell is None else self.cell[prev]
        zeros = np.zeros(H, dtype=self.hidden.dtype)
        return zeros, None if self.cell is None else zeros.copy()


@dataclass
class ModelPrediction:
    """The model's output for one text.

    Attributes:
        label: index of the most probable class.
        label_name: its name.
        probabilities: (C,) softmax of the logits.
        logits: (C,).
        label_names: all class names.
    """

    label: int
    label_name: str
    probabilities: np.ndarray
    logits: np.ndarray
    label_names: list[str]


def make_prediction(logits: torch.Tensor, names: list[str]) -> ModelPrediction:
    """Prediction from (C,) logits."""
    logits = logits.detach().float().cpu()
    probs = torch.softmax(logits, dim=-1).numpy()
    label = int(np.argmax(probs))
    return ModelPrediction(label, names[label], probs, logits.numpy(), list(names))


@dataclass
class Trace:
    """Everything the recurrent layers computed for one text.

    Attributes:
        input: the encoded text (tokens, unknown flags, truncation, notes).
        cell: ``lstm``, ``gru`` or ``rnn``.
        directions: one entry per layer and direction, layer-major, forward first.
        outputs: (T, D*H) top layer's outputs (both directions side by side).
        pooled: (D*H,) the vector the classifier reads.
        attention: (T,) attention weights for attention pooling, else None.
        prediction: class probabilities computed from the traced states.
    """

    input: ExplainInput
    cell: str
    directions: list[DirectionTrace]
    outputs: np.ndarray
    pooled: np.ndarray
    attention: np.ndarray | None
    prediction: ModelPrediction

    @property
    def tokens(self) -> list[str]:
        return self.input.tokens

    def get(self, layer: int, direction: int = 0) -> DirectionTrace:
        """The trace of one layer and direction."""
        for item in self.directions:
            if item.layer == layer and item.direction == direction:
                return item
        raise ValueError(f"no layer {layer} direction {direction}; the model has "
                         f"{len({d.layer for d in self.directions})} layer(s) and "
                         f"{len({d.direction for d in self.directions})} direction(s)")


def trace(model_or_bundle: ModelOrBundle, text_or_ids: TextOrIds) -> Trace:
    """Trace every gate, cell and hidden state of every layer and direction for one text.

    Args:
        model_or_bundle: a bundle (raw text allowed) or a bare model (token ids only).
        text_or_ids: the text, token ids, or a prepared ``ExplainInput``. An unpacked model
            given padded ids reads (and is traced over) the pads, as it does in training.

    Returns:
        The trace, with the prediction recomputed from the traced states (equal to
        ``model(ids)`` up to float rounding).

    Raises:
        ExplanationInputError: the text cannot be explained (see ``check_explainable``).
    """
    model, _ = resolve(model_or_bundle)
    prepared = prepare_input(model_or_bundle, text_or_ids)
    cfg = model.config
    ids = prepared.tensor(model_device(model))  # (1, T)
    with torch.no_grad():
        embedded = model.embedding_dropout(model.embedding(ids))  # (1, T, E)
        states, outputs, h_n = run_layers(model, embedded)
        mask = torch.ones_like(ids, dtype=torch.bool)
        pooled, attention = model.pool(outputs, h_n, mask)
        logits = model.head_logits(pooled)[0]  # (C,)
    directions = []
    for s in states:
        values = {k: v[0].cpu().numpy() for k, v in s.values.items()}  # each (T, H)
        directions.append(DirectionTrace(
            s.layer, s.direction, direction_name(s.layer, s.direction, cfg.bidirectional),
            s.inputs[0].cpu().numpy(), {g: values[g] for g in GATE_NAMES[cfg.cell]},
            values["hidden"], values.get("cell")))
    return Trace(prepared, cfg.cell, directions, outputs[0].cpu().numpy(), pooled[0].cpu().numpy(),
                 None if attention is None else attention[0].cpu().numpy(),
                 make_prediction(logits, label_names(model_or_bundle)))
