"""Gradient connectivity (Distill, "Visualizing memorization in RNNs"): how strongly the
output depends on the word t positions before the end, measured by the norm of
d(output)/d(embedding at that word), for one text or averaged over many by distance."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from ..encoding import pad_batch
from ..models import SentimentRNN
from .inputs import (ModelOrBundle, TextOrIds, check_target, label_names,
                     logits_per_row, model_device, no_cudnn, prepare_input, resolve, sample_inputs, scores_of)
from .spec import EXPLAIN_SPEC


def gradient_norms(model: SentimentRNN, ids: torch.Tensor, lengths: torch.Tensor, targets: torch.Tensor | None,
                   output: str) -> tuple[np.ndarray, np.ndarray]:
    """Norm of the gradient of each row's target output with respect to each embedding.

    Args:
        model: the classifier.
        ids: (B, T) post-padded token ids.
        lengths: (B,) real lengths (each row is read as its own unpadded text).
        targets: (B,) classes to differentiate; None = each row's predicted class.
        output: ``probability`` or ``logit``.

    Returns:
        norms (B, T) (zero at padding) and the targets used (B,).
    """
    with no_cudnn(), torch.enable_grad():
        embedded = model.embedding(ids).detach().requires_grad_(True)  # (B, T, E)
        scores = scores_of(logits_per_row(model, embedded, ids, lengths), output)  # (B, C)
        if targets is None:
            targets = scores.detach().argmax(dim=1)
        chosen = scores.gather(1, targets.to(scores.device).unsqueeze(1)).sum()  # rows are independent
        (grad,) = torch.autograd.grad(chosen, embedded)
    valid = torch.arange(ids.shape[1], device=ids.device).unsqueeze(0) < lengths.to(ids.device).unsqueeze(1)
    norms = grad.norm(dim=-1) * valid  # (B, T)
    return norms.cpu().numpy(), targets.cpu().numpy()


def normalize_norms(norms: np.ndarray, how: str) -> np.ndarray:
    """Scale one text's (T,) norms: ``max`` divides by the largest, ``sum`` makes shares, ``none``."""
    if how == "none":
        return norms.copy()
    scale = norms.max() if how == "max" else norms.sum()
    return norms / scale if scale > 0 else np.zeros_like(norms)


@dataclass
class Connectivity:
    """Gradient connectivity of one text.

    Attributes:
        tokens: (T,) tokens read.
        distances: (T,) distance from the last token (T-1-t).
        norms: (T,) ||d output / d embedding_t||.
        normalized: (T,) the norms scaled as ``normalize`` says.
        target: differentiated class.
        target_name: its name.
        output: ``probability`` or ``logit``.
        normalize: ``none``, ``sum`` or ``max``.
    """

    tokens: list[str]
    distances: np.ndarray
    norms: np.ndarray
    normalized: np.ndarray
    target: int
    target_name: str
    output: str
    normalize: str


def gradient_connectivity(model_or_bundle: ModelOrBundle, text_or_ids: TextOrIds, target: int | None = None,
                          output: str = "probability", normalize: str = "max") -> Connectivity:
    """Gradient norm per token of one text against its distance from the end.

    Args:
        model_or_bundle: a bundle or a bare model.
        text_or_ids: the text, token ids or a prepared input.
        target: class to differentiate (default: the predicted class).
        output: ``probability`` (default) or ``logit``.
        normalize: ``max`` (default), ``sum`` or ``none``.

    Returns:
        Norms per token.

    Raises:
        ExplanationInputError: the text cannot be explained.
    """
    EXPLAIN_SPEC["output"].validate("output", output)
    EXPLAIN_SPEC["connectivity_normalize"].validate("normalize", normalize)
    model, _ = resolve(model_or_bundle)
    prepared = prepare_input(model_or_bundle, text_or_ids)
    ids = prepared.tensor(model_device(model))
    if target is not None:
        target = check_target(model, target, 0)
    norms, used = gradient_norms(model, ids, torch.tensor([prepared.length]),
                                 None if target is None else torch.tensor([target]), output)
    T = prepared.length
    return Connectivity(prepared.tokens, np.arange(T - 1, -1, -1), norms[0], normalize_norms(norms[0], normalize),
                        int(used[0]), label_names(model_or_bundle)[int(used[0])], output, normalize)


@dataclass
class ConnectivityProfile:
    """Gradient connectivity averaged over texts, bucketed by distance from the last token.

    Attributes:
        distances: (D,) 0..D-1.
        mean: (D,) mean normalised norm of the tokens at that distance (D is the longest
            sampled text, so every distance has at least one token).
        counts: (D,) tokens averaged at each distance.
        n_texts: texts used.
        skipped: texts that could not be explained (empty, only unknown words).
        output: ``probability`` or ``logit``.
        normalize: ``none``, ``sum`` or ``max``; with ``max`` or ``sum`` profiles of RNN, LSTM
            and GRU models are on the same scale.
        model_name: e.g. ``BiLSTM``.
    """

    distances: np.ndarray
    mean: np.ndarray
    counts: np.ndarray
    n_texts: int
    skipped: int
    output: str
    normalize: str
    model_name: str


def connectivity_profile(model_or_bundle: ModelOrBundle, texts: Sequence[TextOrIds], sample_size: int = 100,
                         output: str = "probability", normalize: str = "max", seed: int = 0,
                         batch_size: int = 64, max_distance: int | None = None) -> ConnectivityProfile:
    """Average gradient connectivity over a random sample of texts (each explained for its own
    predicted class; one backward pass per batch).

    Args:
        model_or_bundle: a bundle (raw texts) or a bare model (id lists).
        texts: candidate texts, e.g. the validation split.
        sample_size: texts drawn without replacement (all of them if fewer).
        output: ``probability`` (default) or ``logit``.
        normalize: ``max`` (default), ``sum`` or ``none``, applied per text before averaging.
        seed: sampling seed.
        batch_size: texts per backward pass.
        max_distance: ignore tokens farther than this from the end (default: keep all).

    Returns:
        The profile by distance.

    Raises:
        ExplanationInputError: none of the sampled texts can be explained.
    """
    EXPLAIN_SPEC["output"].validate("output", output)
    EXPLAIN_SPEC["connectivity_normalize"].validate("normalize", normalize)
    model, _ = resolve(model_or_bundle)
    prepared, skipped = sample_inputs(model_or_bundle, texts, sample_size, seed)
    longest = prepared[-1].length
    sums, counts = np.zeros(longest), np.zeros(longest, dtype=np.int64)
    device = model_device(model)
    for start in range(0, len(prepared), batch_size):
        batch = prepared[start:start + batch_size]
        ids = torch.from_numpy(pad_batch([p.ids for p in batch], pad_idx=model.config.pad_idx)).to(device)
        lengths = torch.tensor([p.length for p in batch])
        norms, _ = gradient_norms(model, ids, lengths, None, output)  # (B, T)
        for row, p in enumerate(batch):
            scaled = normalize_norms(norms[row, :p.length], normalize)[::-1]  # by distance 0..len-1
            sums[:p.length] += scaled
            counts[:p.length] += 1
    if max_distance is not None:
        sums, counts = sums[:max_distance + 1], counts[:max_distance + 1]
    return ConnectivityProfile(np.arange(len(sums)), sums / counts, counts, len(prepared), skipped,
                               output, normalize, model.config.display_name)
