"""What the explainers are given: a bundle (or bare model) and a text (or token ids), checked
and encoded exactly as the model will read it, plus small helpers shared by the explainers."""
from __future__ import annotations

import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator, Sequence, Union

import numpy as np
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from ..checkpoint import Bundle
from ..errors import GateScopeError
from ..encoding import truncate
from ..models import SentimentRNN
from ..predict import Predictor
from ..vocab import PAD_TOKEN, UNK_IDX

ModelOrBundle = Union[SentimentRNN, Bundle]


class ExplanationInputError(GateScopeError, ValueError):
    """The input cannot be explained; the message is written for the person who typed it."""


@dataclass
class ExplainInput:
    """One text as the model reads it.

    Attributes:
        tokens: (T,) the positions the model reads, after truncation. A packed model reads the
            real tokens only; an unpacked model given padded ids also reads its ``<pad>`` tokens.
        ids: (T,) their indices.
        unknown: (T,) token mapped to ``<unk>``.
        truncated: the text was longer than the bundle's ``max_len`` and was cut.
        total_tokens: tokens before truncation.
        notes: plain-language remarks (truncation, pads read, training mode).
    """

    tokens: list[str]
    ids: list[int]
    unknown: list[bool]
    truncated: bool = False
    total_tokens: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def length(self) -> int:
        return len(self.ids)

    def tensor(self, device: torch.device | str = "cpu") -> torch.Tensor:
        """(1, T) int64 ids on ``device``."""
        return torch.tensor([self.ids], dtype=torch.int64, device=device)


@dataclass
class InputCheck:
    """Whether a text can be explained, and what to tell the user.

    Attributes:
        ok: the explainers will accept the text.
        message: why not (empty when ``ok``).
        notes: remarks to show even when ``ok`` (e.g. truncation).
        input: the encoded text when ``ok``.
    """

    ok: bool
    message: str = ""
    notes: list[str] = field(default_factory=list)
    input: ExplainInput | None = None


TextOrIds = Union[str, Sequence[int], np.ndarray, torch.Tensor, ExplainInput]


def resolve(model_or_bundle: ModelOrBundle) -> tuple[SentimentRNN, Bundle | None]:
    """Split a bundle into (model, bundle); a bare model gives (model, None)."""
    if isinstance(model_or_bundle, Bundle):
        return model_or_bundle.model, model_or_bundle
    if isinstance(model_or_bundle, SentimentRNN):
        return model_or_bundle, None
    raise TypeError(f"expected a Bundle or SentimentRNN, got {type(model_or_bundle).__name__}")


def label_names(model_or_bundle: ModelOrBundle) -> list[str]:
    """Class names of a bundle, or ``class 0``, ``class 1``, ... for a bare model."""
    model, bundle = resolve(model_or_bundle)
    return list(bundle.label_names) if bundle is not None else [f"class {i}" for i in range(model.config.num_classes)]


def model_device(model: SentimentRNN) -> torch.device:
    """The device holding the model's weights."""
    return next(model.parameters()).device


def check_target(model: SentimentRNN, target: int | None, default: int) -> int:
    """The class to explain: ``target`` when given (validated), else ``default``."""
    if target is None:
        return int(default)
    if not 0 <= int(target) < model.config.num_classes:
        raise ValueError(f"target class {target} does not exist; valid: 0..{model.config.num_classes - 1}")
    return int(target)


def _empty_message() -> str:
    return "The text is empty: type a sentence to see how the model reads it."


def _from_text(bundle: Bundle, text: str) -> ExplainInput:
    encoded = Predictor(bundle).encode(text)
    if not encoded.tokens:
        raise ExplanationInputError(_empty_message())
    notes = []
    if encoded.truncated:
        enc = bundle.encoding
        kept = "beginning" if enc.truncation == "post" else "end"
        notes.append(f"The text has {encoded.total_tokens} tokens; the model reads at most {enc.max_len}, "
                     f"so only the {kept} ({enc.max_len} tokens) is explained.")
    pads = encoded.pad_before + encoded.pad_after
    if pads:
        notes.append(f"This model reads every text padded to {bundle.encoding.max_len} tokens, as its tutorial fed "
                     f"it, so its {pads} <pad> tokens are explained as ordinary steps.")
    unknown = [False] * encoded.pad_before + encoded.unknown + [False] * encoded.pad_after
    return ExplainInput(encoded.fed_tokens, encoded.fed_ids, unknown, encoded.truncated, encoded.total_tokens, notes)


def _from_ids(model: SentimentRNN, bundle: Bundle | None, ids) -> ExplainInput:
    ids = [int(i) for i in torch.as_tensor(ids).reshape(-1).tolist()]
    vocab_size, pad = model.config.vocab_size, model.config.pad_idx
    bad = [i for i in ids if not 0 <= i < vocab_size]
    if bad:
        raise ExplanationInputError(f"token id {bad[0]} is outside the vocabulary (0..{vocab_size - 1}).")
    notes = []
    if model.config.packed:
        # Packing reads the first (number of non-pad ids) positions, as SentimentRNN.lengths_of does.
        ids = ids[: sum(1 for i in ids if i != pad)]
    elif pad in ids:
        notes.append(f"This model does not pack sequences, so it also reads the {ids.count(pad)} <pad> "
                     "tokens; they are explained as ordinary steps.")
    if not ids or all(i == pad for i in ids):
        raise ExplanationInputError(_empty_message())
    total, truncated = len(ids), False
    if bundle is not None and len(ids) > bundle.encoding.max_len:
        ids = truncate(ids, bundle.encoding.max_len, bundle.encoding.truncation)
        truncated = True
        notes.append(f"{total} tokens were given; the model reads at most {bundle.encoding.max_len}, "
                     "so the input was cut.")
    tokens = bundle.vocab.lookup_tokens(ids) if bundle is not None else [str(i) for i in ids]
    return ExplainInput(tokens, ids, [i == UNK_IDX for i in ids], truncated, total, notes)


def prepare_input(model_or_bundle: ModelOrBundle, text_or_ids: TextOrIds) -> ExplainInput:
    """Encode a text (or check given ids) the way the model reads it.

    Args:
        model_or_bundle: a bundle (needed for raw text) or a bare model.
        text_or_ids: raw text, token ids (list, array or tensor of shape (T,) or (1, T)), or an
            already prepared ``ExplainInput`` (returned unchanged).

    Returns:
        The encoded input; texts longer than the bundle's ``max_len`` are truncated with a note.

    Raises:
        ExplanationInputError: empty text, only unknown words, ids outside the vocabulary, or
            raw text without a bundle to tokenize it.
    """
    if isinstance(text_or_ids, ExplainInput):
        return text_or_ids
    model, bundle = resolve(model_or_bundle)
    if isinstance(text_or_ids, str):
        if bundle is None:
            raise ExplanationInputError("Raw text needs a model bundle (tokenizer and vocabulary); "
                                        "pass the bundle or token ids.")
        prepared = _from_text(bundle, text_or_ids)
    else:
        prepared = _from_ids(model, bundle, text_or_ids)
    pad = model.config.pad_idx
    if all(unknown for unknown, i in zip(prepared.unknown, prepared.ids) if i != pad):
        raise ExplanationInputError("None of these words are in the model's vocabulary, so every token is "
                                    "<unk> and there is nothing to explain. Try words from the training data.")
    if model.training:
        prepared.notes.append("The model is in training mode, so dropout makes every number random; "
                              "call model.eval() first.")
    return prepared


def sample_inputs(model_or_bundle: ModelOrBundle, texts: Sequence[TextOrIds], size: int,
                  seed: int = 0) -> tuple[list[ExplainInput], int]:
    """Prepare a seeded random sample of ``texts``, skipping the ones that cannot be
    explained, shortest first.

    Args:
        model_or_bundle: the model.
        texts: candidate texts (or id sequences).
        size: how many to draw.
        seed: sampling seed.

    Returns:
        The prepared inputs, sorted by length, and how many sampled texts were skipped.

    Raises:
        ExplanationInputError: none of the sampled texts can be explained.
    """
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(texts), size=min(size, len(texts)), replace=False) if len(texts) else []
    prepared: list[ExplainInput] = []
    for index in chosen:
        try:
            prepared.append(prepare_input(model_or_bundle, texts[int(index)]))
        except ExplanationInputError:
            continue
    if not prepared:
        raise ExplanationInputError("None of the sampled texts can be explained (empty or only unknown words).")
    prepared.sort(key=lambda p: p.length)
    return prepared, len(chosen) - len(prepared)


def check_explainable(bundle: ModelOrBundle, text: TextOrIds) -> InputCheck:
    """Check a text before explaining it; never raises for bad input.

    Args:
        bundle: the model bundle (a bare model works for token ids).
        text: the user's text (or token ids).

    Returns:
        ``ok`` with the encoded input and notes, or a user-facing ``message`` saying what is wrong.
    """
    try:
        prepared = prepare_input(bundle, text)
    except ExplanationInputError as error:
        return InputCheck(False, str(error))
    return InputCheck(True, "", list(prepared.notes), prepared)


def vocab_index(bundle: Bundle | None, word: str | int) -> tuple[int, str]:
    """Index and displayed token of a replacement word; out-of-vocabulary words give ``<unk>``."""
    if isinstance(word, (int, np.integer)):
        tokens = bundle.vocab.lookup_tokens([int(word)]) if bundle is not None else [str(int(word))]
        return int(word), tokens[0]
    if bundle is None:
        raise ExplanationInputError("A replacement word needs a model bundle (vocabulary); pass the bundle "
                                    "or a token id.")
    word = word.strip()
    if bundle.tokenizer_config.lowercase:
        word = word.lower()
    index = UNK_IDX if word == PAD_TOKEN else bundle.vocab[word]
    return index, bundle.vocab.lookup_tokens([index])[0]


_CUDNN_LOCK = threading.Lock()
_cudnn_users = 0          # threads inside ``no_cudnn`` now
_cudnn_was_enabled = True  # the setting the first of them found


@contextmanager
def no_cudnn() -> Iterator[None]:
    """Disable cuDNN while gradients flow through an RNN in eval mode: cuDNN's RNN backward only
    works in train mode, and switching to train mode would turn dropout on.

    The switch is process-wide and Streamlit serves sessions (and a thread-executor run its
    time-lapse) from several threads, so the first thread in turns cuDNN off and the last one out
    restores it; nested ``torch.backends.cudnn.flags`` blocks could otherwise leave it off for good.
    """
    global _cudnn_users, _cudnn_was_enabled
    with _CUDNN_LOCK:
        if _cudnn_users == 0:
            _cudnn_was_enabled = torch.backends.cudnn.enabled
            torch.backends.cudnn.enabled = False
        _cudnn_users += 1
    try:
        yield
    finally:
        with _CUDNN_LOCK:
            _cudnn_users -= 1
            if _cudnn_users == 0:
                torch.backends.cudnn.enabled = _cudnn_was_enabled


def logits_per_row(model: SentimentRNN, embedded: torch.Tensor, ids: torch.Tensor,
                   lengths: torch.Tensor) -> torch.Tensor:
    """Logits when each row is read as its own unpadded text of ``lengths[b]`` tokens.

    For packed models this is ``model.forward_from_embeddings``. An unpacked model would read
    the padding of a mixed-length batch, which it does not see when the text is fed alone, so
    the rows are packed here through the model's own modules to reproduce that.

    Args:
        model: the classifier.
        embedded: (B, T, E) embeddings, real tokens first.
        ids: (B, T) token ids.
        lengths: (B,) real lengths.

    Returns:
        (B, C) logits.
    """
    if model.config.packed:
        return model.forward_from_embeddings(embedded, ids, lengths)
    lengths = lengths.cpu()
    packed = pack_padded_sequence(model.embedding_dropout(embedded), lengths, batch_first=True,
                                  enforce_sorted=False)
    packed_out, state = model.rnn(packed)
    outputs, _ = pad_packed_sequence(packed_out, batch_first=True, total_length=ids.shape[1])  # (B, T, D*H)
    h_n = state[0] if isinstance(state, tuple) else state  # (L*D, B, H)
    mask = torch.arange(ids.shape[1], device=ids.device).unsqueeze(0) < lengths.to(ids.device).unsqueeze(1)
    pooled, _ = model.pool(outputs, h_n, mask)
    return model.head_logits(pooled)


def scores_of(logits: torch.Tensor, output: str) -> torch.Tensor:
    """(B, C) probabilities (``output='probability'``) or the logits themselves."""
    return torch.softmax(logits, dim=-1) if output == "probability" else logits
