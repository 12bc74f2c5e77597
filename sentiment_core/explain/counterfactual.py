"""Counterfactual edits: how the prediction changes when each token in turn is dropped or
replaced by a chosen word. The original text and all T edited texts go through the model in
one batched forward pass."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..vocab import UNK_IDX
from .inputs import (ModelOrBundle, TextOrIds, check_target, label_names, logits_per_row, model_device,
                     prepare_input, resolve, vocab_index)
from .spec import EXPLAIN_SPEC


@dataclass
class CounterfactualResult:
    """The effect of editing each token.

    Attributes:
        tokens: (T,) the original tokens.
        edit: ``drop`` (token removed, the text gets shorter) or ``replace``.
        replacement: the token actually fed for ``replace`` (``<unk>`` when the word is not in
            the vocabulary), None for ``drop``.
        replacement_known: the replacement word is in the vocabulary.
        target: explained class index.
        target_name: its name.
        original_probabilities: (C,) prediction for the unedited text.
        edited_probabilities: (T, C) prediction with token t edited.
        delta: (T,) change of the target probability, edited minus original (negative: the
            token supported the target class).
        edited_labels: (T,) predicted class of each edited text.
        flipped: (T,) the edit changes the predicted class.
    """

    tokens: list[str]
    edit: str
    replacement: str | None
    replacement_known: bool
    target: int
    target_name: str
    original_probabilities: np.ndarray
    edited_probabilities: np.ndarray
    delta: np.ndarray
    edited_labels: np.ndarray
    flipped: np.ndarray


def edited_batch(ids: torch.Tensor, edit: str, replacement_id: int, pad_idx: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The original text followed by its T edited versions.

    Args:
        ids: (1, T) token ids.
        edit: ``drop`` or ``replace``.
        replacement_id: id written in place of each token for ``replace``.
        pad_idx: padding id.

    Returns:
        ids (T+1, T) post-padded and lengths (T+1,). Dropping the only token of a one-token
        text leaves a single ``<unk>``, as the predictor does for empty text.
    """
    T = ids.shape[1]
    rows = ids.expand(T + 1, T).clone()  # (T+1, T)
    eye = torch.eye(T, dtype=torch.bool, device=ids.device)  # (T, T)
    if edit == "replace":
        rows[1:][eye] = replacement_id
        return rows, torch.full((T + 1,), T, dtype=torch.int64)
    keep = ~eye  # (T, T): row t keeps every position except t
    dropped = ids.expand(T, T)[keep].reshape(T, T - 1)  # (T, T-1)
    rows[1:] = pad_idx
    rows[1:, : T - 1] = dropped
    lengths = torch.full((T + 1,), T - 1, dtype=torch.int64)
    lengths[0] = T
    if T == 1:
        rows[1, 0], lengths[1] = UNK_IDX, 1
    return rows, lengths


def counterfactual_edits(model_or_bundle: ModelOrBundle, text_or_ids: TextOrIds, edit: str = "replace",
                         replacement: str | int = "<unk>", target: int | None = None) -> CounterfactualResult:
    """Edit every token in turn and measure the change of the target probability.

    Args:
        model_or_bundle: a bundle (needed for a replacement word) or a bare model.
        text_or_ids: the text, token ids or a prepared input.
        edit: ``drop`` or ``replace``.
        replacement: word (or token id) put in place of each token for ``replace``.
        target: class to follow (default: the original prediction).

    Returns:
        Per-token probabilities and changes.

    Raises:
        ExplanationInputError: the text cannot be explained.
    """
    EXPLAIN_SPEC["edit"].validate("edit", edit)
    model, bundle = resolve(model_or_bundle)
    prepared = prepare_input(model_or_bundle, text_or_ids)
    replacement_id, replacement_token = (vocab_index(bundle, replacement) if edit == "replace"
                                         else (UNK_IDX, None))
    ids = prepared.tensor(model_device(model))
    rows, lengths = edited_batch(ids, edit, replacement_id, model.config.pad_idx)
    with torch.no_grad():
        probs = torch.softmax(logits_per_row(model, model.embedding(rows), rows, lengths), dim=1).cpu().numpy()
    original, edited = probs[0], probs[1:]  # (C,), (T, C)
    target = check_target(model, target, int(original.argmax()))
    labels = edited.argmax(axis=1)
    known = edit == "replace" and replacement_id != UNK_IDX
    return CounterfactualResult(prepared.tokens, edit, replacement_token, known, target,
                                label_names(model_or_bundle)[target], original, edited,
                                edited[:, target] - original[target], labels, labels != original.argmax())
