"""Toy mode: the whole forward pass of one sentence through a tiny model (hidden 1-4, embedding
2-4), every number recomputed in NumPy from the weights alone and checked against PyTorch, like
the Keras cookbook's by-hand check of a one-unit SimpleRNN.

NumPy follows PyTorch's equations (``nn.RNN``/``nn.LSTM``/``nn.GRU`` docs):
RNN ``h = tanh(W_ih x + b_ih + W_hh h + b_hh)``; LSTM gates ``i, f, g, o`` with
``c = f*c + i*g`` and ``h = o*tanh(c)``; GRU ``r, z, n`` with
``n = tanh(W_in x + b_in + r*(W_hn h + b_hn))`` and ``h = (1 - z)*n + z*h``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .inputs import ModelOrBundle, TextOrIds, label_names, model_device, prepare_input, resolve

TOY_MAX_HIDDEN = 4
TOY_EMB_RANGE = (2, 4)
TOLERANCE = 1e-5


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


@dataclass
class ToyStep:
    """One time step of one layer and direction, computed in NumPy.

    Attributes:
        t: position in the sentence (reading order).
        token: the word read.
        x: (in,) the input vector.
        gates: gate name -> (H,) activations (``i, f, g, o`` / ``r, z, n`` / none for an RNN).
        cell: (H,) LSTM memory after the step, else None.
        hidden: (H,) hidden state after the step.
    """

    t: int
    token: str
    x: np.ndarray
    gates: dict[str, np.ndarray]
    cell: np.ndarray | None
    hidden: np.ndarray


@dataclass
class ToyDirection:
    """Every step of one layer and direction."""

    layer: int
    direction: int
    name: str
    steps: list[ToyStep]


@dataclass
class ToyForward:
    """The whole forward pass of one sentence.

    Attributes:
        tokens: the words read.
        embeddings: (T, E) the embedding rows looked up.
        directions: each layer and direction, layer-major, forward first.
        outputs: (T, D*H) the top layer's outputs.
        pooling: how ``pooled`` was made (``last``, ``mean``, ``max``, ``attention``, ``per_step``).
        pooled: (D*H,) the vector the head reads.
        fc1: (F,) fc1 -> ReLU of an ``mlp`` head, else None.
        logits: (C,) the head's scores as the model returns them.
        output: ``softmax`` or ``sigmoid``.
        probabilities: (C,) NumPy's probabilities.
        pytorch_probabilities: (C,) ``softmax(model(ids))``.
        label_names: class names.
    """

    tokens: list[str]
    embeddings: np.ndarray
    directions: list[ToyDirection]
    outputs: np.ndarray
    pooling: str
    pooled: np.ndarray
    fc1: np.ndarray | None
    logits: np.ndarray
    output: str
    probabilities: np.ndarray
    pytorch_probabilities: np.ndarray
    label_names: list[str]

    @property
    def max_abs_error(self) -> float:
        return float(np.abs(self.probabilities - self.pytorch_probabilities).max())

    @property
    def matches_pytorch(self) -> bool:
        return self.max_abs_error < TOLERANCE


def check_toy_size(hidden_dim: int, emb_dim: int) -> None:
    """Raise ValueError unless the sizes are toy-sized (hidden 1-4, embedding 2-4)."""
    if not 1 <= hidden_dim <= TOY_MAX_HIDDEN or not TOY_EMB_RANGE[0] <= emb_dim <= TOY_EMB_RANGE[1]:
        raise ValueError(f"toy mode shows every number, so it needs hidden size 1-{TOY_MAX_HIDDEN} and embedding "
                         f"size {TOY_EMB_RANGE[0]}-{TOY_EMB_RANGE[1]} (this model: hidden {hidden_dim}, "
                         f"embedding {emb_dim})")


def _step(cell: str, x: np.ndarray, h: np.ndarray, c: np.ndarray, w: dict[str, np.ndarray]):
    """One NumPy step; returns gates, new h, new c."""
    H = h.shape[0]
    wx = w["weight_ih"] @ x + w["bias_ih"]  # (g*H,)
    uh = w["weight_hh"] @ h + w["bias_hh"]  # (g*H,)
    if cell == "rnn":
        h = np.tanh(wx + uh)
        return {}, h, c
    if cell == "lstm":
        z = wx + uh
        i, f, g, o = _sigmoid(z[:H]), _sigmoid(z[H:2 * H]), np.tanh(z[2 * H:3 * H]), _sigmoid(z[3 * H:])
        c = f * c + i * g
        return {"i": i, "f": f, "g": g, "o": o}, o * np.tanh(c), c
    r = _sigmoid(wx[:H] + uh[:H])
    z = _sigmoid(wx[H:2 * H] + uh[H:2 * H])
    n = np.tanh(wx[2 * H:] + r * uh[2 * H:])
    return {"r": r, "z": z, "n": n}, (1 - z) * n + z * h, c


def toy_forward(model_or_bundle: ModelOrBundle, text_or_ids: TextOrIds) -> ToyForward:
    """Recompute one sentence's whole forward pass in NumPy and compare it with PyTorch.

    Args:
        model_or_bundle: a toy-sized bundle or model (``check_toy_size``).
        text_or_ids: the sentence.

    Returns:
        Every step, the pooling, the head and both sets of probabilities.

    Raises:
        ValueError: the model is not toy-sized.
        ExplanationInputError: the text cannot be explained.
    """
    model, _ = resolve(model_or_bundle)
    cfg = model.config
    check_toy_size(cfg.hidden_dim, cfg.emb_dim)
    prepared = prepare_input(model_or_bundle, text_or_ids)
    tokens = list(prepared.tokens)
    params = {k: v.detach().cpu().double().numpy() for k, v in model.state_dict().items()}
    ids = np.asarray(prepared.ids)
    embedded = params["embedding.weight"][ids]  # (T, E)
    T, H = len(ids), cfg.hidden_dim
    layer_input = embedded
    directions: list[ToyDirection] = []
    for layer in range(cfg.num_layers):
        outputs = []
        for direction in range(cfg.num_directions):
            suffix = f"_l{layer}" + ("_reverse" if direction else "")
            w = {name: params[f"rnn.{name}{suffix}"] for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
            h, c = np.zeros(H), np.zeros(H)
            steps = []
            order = range(T - 1, -1, -1) if direction else range(T)
            for t in order:
                gates, h, c = _step(cfg.cell, layer_input[t], h, c, w)
                steps.append(ToyStep(t, tokens[t], layer_input[t], gates, c.copy() if cfg.cell == "lstm" else None,
                                     h.copy()))
            name = (f"layer {layer + 1} " if cfg.num_layers > 1 else "") + ("backward" if direction else "forward")
            directions.append(ToyDirection(layer, direction, name, steps))
            by_time = {s.t: s.hidden for s in steps}
            outputs.append(np.stack([by_time[t] for t in range(T)]))  # (T, H) in reading order
        layer_input = np.concatenate(outputs, axis=1)  # (T, D*H)
    top = layer_input
    pooling = "per_step" if cfg.head == "per_step" else cfg.pooling
    if pooling in ("per_step",):
        pooled = top[-1]
    elif pooling == "last":
        finals = [d.steps[-1].hidden for d in directions[-cfg.num_directions:]]
        pooled = np.concatenate(finals)
    elif pooling == "mean":
        pooled = top.mean(axis=0)
    elif pooling == "max":
        pooled = top.max(axis=0)
    else:
        scores = np.tanh(top @ params["attention.0.weight"].T + params["attention.0.bias"]) @ params["attention.2.weight"][0]
        weights = np.exp(scores - scores.max())
        pooled = (weights / weights.sum()) @ top
    hidden = pooled
    fc1 = None
    if cfg.head == "mlp":
        fc1 = np.maximum(params["fc1.weight"] @ pooled + params["fc1.bias"], 0.0)
        hidden = fc1
    scores = params["classifier.weight"] @ hidden + params["classifier.bias"]  # (C,) or (1,)
    if cfg.output == "sigmoid":
        p = _sigmoid(scores[0])
        probabilities, logits = np.array([1 - p, p]), np.array([0.0, scores[0]])
    else:
        logits = scores
        e = np.exp(scores - scores.max())
        probabilities = e / e.sum()
    with torch.no_grad():
        torch_probs = torch.softmax(model(prepared.tensor(model_device(model))), dim=1)[0].cpu().double().numpy()
    return ToyForward(tokens, embedded, directions, top, pooling, pooled, fc1, logits, cfg.output,
                      probabilities, torch_probs, label_names(model_or_bundle))
