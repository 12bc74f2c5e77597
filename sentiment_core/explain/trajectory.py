"""How the prediction evolves while the model reads: class probabilities after each token.

For a left-to-right model the prediction after token t is a real model output: the text cut
after token t, run through the model. The cut text's states are the full text's first t + 1
states, so all prefixes come from one trace, pooled over each prefix (in eval mode; in train
mode, where dropout differs per pass, every prefix is run through the model in batched passes). A bidirectional
model has no such output: its backward direction starts at the last token, so nothing it
computes exists before the whole sentence has been read, and feeding a prefix would be a
different input (the backward direction would then start at the cut). For those models
``available`` is False and the forward direction's running summary is given instead, as a
projection through the classifier's forward half.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .inputs import ModelOrBundle, TextOrIds, label_names, logits_per_row, model_device, prepare_input, resolve
from .trace import Trace, trace as run_trace

BIDIRECTIONAL_REASON = (
    "This model reads the sentence in both directions, so there is no prediction 'after word t': the "
    "backward reading starts at the last word and only ends once the whole sentence is read. Shown instead: "
    "what the forward reading alone says after each word, as a score per class (higher leans towards that "
    "class; not a probability)."
)

PREFIX_CHUNK = 256  # prefixes per forward pass; texts up to this length use a single pass


@dataclass
class Trajectory:
    """The prediction word by word.

    Attributes:
        available: prefix predictions exist (unidirectional models).
        tokens: (T,) the tokens read.
        label_names: class names.
        probabilities: (T, C) class probabilities of the text cut after token t; None when not
            available. The last row equals the full prediction.
        reason: why the trajectory is not available (empty when it is).
        forward_scores: (T, C) bidirectional models only: the top layer's forward hidden state
            after token t times the classifier's forward-half weights (logit scale, no bias).
    """

    available: bool
    tokens: list[str]
    label_names: list[str]
    probabilities: np.ndarray | None = None
    reason: str = ""
    forward_scores: np.ndarray | None = None


def prefix_probabilities(model, ids: torch.Tensor) -> np.ndarray:
    """Class probabilities of every prefix of one text.

    Args:
        model: the classifier.
        ids: (1, T) token ids.

    Returns:
        (T, C) probabilities; row t is the prediction for ``ids[0, :t + 1]``.
    """
    T = ids.shape[1]
    lengths = torch.arange(1, T + 1)  # (T,)
    positions = torch.arange(T, device=ids.device)
    beyond = positions.unsqueeze(0) > positions.unsqueeze(1)  # (T, T): row t keeps tokens 0..t
    prefixes = ids.expand(T, T).masked_fill(beyond, model.config.pad_idx)  # (T, T)
    out = []
    with torch.no_grad():
        for start in range(0, T, PREFIX_CHUNK):
            rows, row_lengths = prefixes[start:start + PREFIX_CHUNK], lengths[start:start + PREFIX_CHUNK]
            logits = logits_per_row(model, model.embedding(rows), rows, row_lengths)  # (b, C)
            out.append(torch.softmax(logits, dim=1).cpu())
    return torch.cat(out).numpy()


def prefix_probabilities_from_trace(model, traced: Trace) -> np.ndarray:
    """Class probabilities of every prefix of a left-to-right model's text, from its trace.

    Args:
        model: the classifier (unidirectional, eval mode).
        traced: the trace of the whole text.

    Returns:
        (T, C) probabilities; row t is the prediction for the text cut after token t.
    """
    device = model_device(model)
    outputs = torch.from_numpy(traced.outputs).to(device)  # (T, H) top layer, h_0..h_{T-1}
    T = outputs.shape[0]
    steps = torch.arange(1, T + 1, device=device, dtype=outputs.dtype).unsqueeze(1)  # (T, 1)
    pooling = model.config.pooling
    with torch.no_grad():
        if model.config.head == "per_step" or pooling == "last":
            pooled = outputs  # the prefix's last state
        elif pooling == "mean":
            pooled = outputs.cumsum(0) / steps
        elif pooling == "max":
            pooled = outputs.cummax(0).values
        else:  # attention over positions 0..t of each prefix
            scores = model.attention(outputs).squeeze(-1)  # (T,)
            positions = torch.arange(T, device=device)
            beyond = positions.unsqueeze(0) > positions.unsqueeze(1)  # (T, T): row t keeps 0..t
            weights = torch.softmax(scores.expand(T, T).masked_fill(beyond, float("-inf")), dim=1)  # (T, T)
            pooled = weights @ outputs  # (T, H)
        return torch.softmax(model.head_logits(pooled), dim=1).cpu().numpy()


def trajectory(model_or_bundle: ModelOrBundle, text_or_ids: TextOrIds, traced: Trace | None = None) -> Trajectory:
    """Class probabilities after each token (see the module docstring for bidirectional models).

    Args:
        model_or_bundle: a bundle or a bare model.
        text_or_ids: the text, token ids or a prepared input.
        traced: an existing trace of the same text (reused instead of tracing again).

    Returns:
        The trajectory.

    Raises:
        ExplanationInputError: the text cannot be explained.
    """
    model, _ = resolve(model_or_bundle)
    prepared = traced.input if traced is not None else prepare_input(model_or_bundle, text_or_ids)
    names = label_names(model_or_bundle)
    if not model.config.bidirectional:
        if model.training:
            probs = prefix_probabilities(model, prepared.tensor(model_device(model)))
        else:
            traced = traced if traced is not None else run_trace(model_or_bundle, prepared)
            probs = prefix_probabilities_from_trace(model, traced)
        return Trajectory(True, prepared.tokens, names, probs)
    traced = traced if traced is not None else run_trace(model_or_bundle, prepared)
    if model.config.head == "mlp":  # fc1 -> ReLU -> fc2 has no forward half to project through
        return Trajectory(False, prepared.tokens, names, None, BIDIRECTIONAL_REASON.split(" Instead,")[0])
    forward_top = traced.get(model.config.num_layers - 1, 0).hidden  # (T, H)
    H = model.config.hidden_dim
    w_forward = model.classifier.weight.detach()[:, :H].cpu().numpy()  # (C, H), or (1, H) for a sigmoid output
    scores = forward_top @ w_forward.T  # (T, C) or (T, 1)
    if model.config.output == "sigmoid":  # the logits are [0, z]
        scores = np.concatenate([np.zeros_like(scores), scores], axis=1)  # (T, 2)
    return Trajectory(False, prepared.tokens, names, None, BIDIRECTIONAL_REASON, scores)
