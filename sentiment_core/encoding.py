"""Turning token lists into fixed-size index arrays: padding, truncation, length statistics."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Mapping

import numpy as np

from .spec import ParamSpec, dataclass_from_dict
from .text import Tokenizer
from .vocab import PAD_IDX, PAD_TOKEN, UNK_IDX, Vocab

SIDES = ("pre", "post")
# What a word the vocabulary lacks becomes: ``unk`` the <unk> row (an imported tutorial's own <unk> or
# <OOV> vector, or a zero vector when its vocabulary had none), ``pad`` index 0, the padding row (the UCI
# and IMDb-RNN chapters' vocab_to_int.get(word, 0)), ``skip`` left out (Keras' Tokenizer without oov_token).
UNKNOWN_POLICIES = ("unk", "pad", "skip")

ENCODING_SPEC = {
    "max_len": ParamSpec(200, "Longest sequence fed to the network; longer texts are cut.",
                         "Max length (tokens)", min=5, max=1000, step=5),
    "padding": ParamSpec("post", "Where <pad> tokens go when a batch is filled to equal length.",
                         "Padding side", choices=SIDES),
    "truncation": ParamSpec("post", "Which end is cut from long texts: 'post' keeps the beginning, "
                            "'pre' keeps the end (often the verdict of a review).",
                            "Truncation side", choices=SIDES),
}


@dataclass(frozen=True)
class EncodingConfig:
    """How token indices are cut and padded; ranges and help live in ``ENCODING_SPEC``.

    Attributes:
        max_len: longest sequence fed to the network.
        padding: ``post`` or ``pre``; only unpacked models see the difference
            (``trainer.effective_padding``).
        truncation: ``post`` keeps the first ``max_len`` tokens, ``pre`` the last.
        fixed_length: an unpacked model reads every text padded to exactly ``max_len`` on the
            ``padding`` side, as the tutorials' ``pad_features`` / ``pad_sequences`` feed it; off,
            it reads each text at its own length (no padding). A packed model never reads pads.
        unknown: what a word the vocabulary lacks becomes (``UNKNOWN_POLICIES``).
    """

    max_len: int = ENCODING_SPEC["max_len"].default
    padding: str = ENCODING_SPEC["padding"].default
    truncation: str = ENCODING_SPEC["truncation"].default
    fixed_length: bool = False
    unknown: str = "unk"

    def __post_init__(self) -> None:
        for name, spec in ENCODING_SPEC.items():
            spec.validate(name, getattr(self, name))
        if not isinstance(self.fixed_length, bool):
            raise ValueError("fixed_length must be true or false")
        if self.unknown not in UNKNOWN_POLICIES:
            raise ValueError(f"unknown-word policy {self.unknown!r}; valid: {', '.join(UNKNOWN_POLICIES)}")

    def describe(self, packed: bool) -> str:
        """How indices are cut and padded, in one plain sentence (shown on Explain)."""
        unknown = {"unk": "Unknown words read as <unk>", "pad": "Unknown words read as index 0 (the padding vector)",
                   "skip": "Unknown words are left out"}[self.unknown]
        cut = "keeping the beginning" if self.truncation == "post" else "keeping the end"
        if packed:
            pads = "padding is never read (packed)"
        elif self.fixed_length:
            pads = f"every text is padded to {self.max_len} tokens {'before' if self.padding == 'pre' else 'after'} it"
        else:
            pads = "each text is read at its own length, without padding"
        return f"{unknown}; texts longer than {self.max_len} tokens are cut, {cut}; {pads}."

    def to_dict(self) -> dict:
        """The fields, without ``fixed_length`` and ``unknown`` at their defaults (records written
        before they existed read the same)."""
        return {k: v for k, v in asdict(self).items()
                if not (k == "fixed_length" and not v) and not (k == "unknown" and v == "unk")}

    @classmethod
    def from_dict(cls, data: Mapping) -> "EncodingConfig":
        """Rebuild from ``to_dict`` output; unknown keys raise ValueError listing valid ones."""
        return dataclass_from_dict(cls, dict(data), "encoding option")


def split_encoding_options(options: Mapping) -> tuple[dict, dict]:
    """Separate encoding options from a dict of other options.

    Run configs and bundles written before encoding became its own group kept
    ``max_len``/``padding``/``truncation`` among the training options; readers use this
    to move them into the encoding group.

    Args:
        options: e.g. training options, possibly holding ``ENCODING_SPEC`` keys.

    Returns:
        The options without the encoding keys, and the encoding keys found.
    """
    rest = {k: v for k, v in options.items() if k not in ENCODING_SPEC}
    return rest, {k: v for k, v in options.items() if k in ENCODING_SPEC}


def text_to_indices(text: str, tokenizer: Tokenizer, vocab: Vocab, unknown: str = "unk") -> tuple[list[str], list[int]]:
    """Tokenize ``text`` and look tokens up (``lookup``).

    Returns:
        The tokens and their indices (without the tokens ``unknown="skip"`` leaves out).
    """
    tokens, ids, _ = lookup(tokenizer(text), vocab, unknown)
    return tokens, ids


def lookup(tokens: list[str], vocab: Vocab, unknown: str = "unk") -> tuple[list[str], list[int], list[bool]]:
    """Indices of ``tokens`` under an unknown-word policy (``UNKNOWN_POLICIES``). A literal ``<pad>``
    typed by a user is an unknown word, so it can never be mistaken for padding.

    Returns:
        The tokens kept, their indices, and whether each is unknown to the vocabulary.
    """
    ids = vocab.lookup_indices(tokens)
    flags = [t == PAD_TOKEN or i == UNK_IDX for t, i in zip(tokens, ids)]
    if unknown == "skip":
        kept = [k for k, flag in enumerate(flags) if not flag]
        return [tokens[k] for k in kept], [ids[k] for k in kept], [False] * len(kept)
    fill = PAD_IDX if unknown == "pad" else UNK_IDX
    return list(tokens), [fill if flag else i for i, flag in zip(ids, flags)], flags


def truncate(ids: list[int], max_len: int, side: str = "post") -> list[int]:
    """Cut ``ids`` to ``max_len``: ``post`` keeps the first tokens, ``pre`` the last."""
    if len(ids) <= max_len:
        return ids
    return ids[:max_len] if side == "post" else ids[len(ids) - max_len:]


def pad_batch(sequences: list[list[int]], length: int | None = None, side: str = "post",
              pad_idx: int = PAD_IDX) -> np.ndarray:
    """Stack sequences into a (N, L) int64 array, padding on ``side``.

    Args:
        sequences: index lists, already truncated.
        length: target length L (default: the longest sequence).
        side: ``post`` (pads after the text) or ``pre`` (pads before it).
        pad_idx: padding index.

    Returns:
        Array of shape (N, L).
    """
    if side not in SIDES:
        raise ValueError(f"unknown padding side {side!r}; valid: {', '.join(SIDES)}")
    length = max((len(s) for s in sequences), default=1) if length is None else length
    out = np.full((len(sequences), max(length, 1)), pad_idx, dtype=np.int64)
    for row, seq in enumerate(sequences):
        seq = seq[:length]
        if not seq:
            continue
        if side == "post":
            out[row, : len(seq)] = seq
        else:
            out[row, length - len(seq):] = seq
    return out


@dataclass(frozen=True)
class LengthStats:
    """Summary of token counts per example."""

    count: int
    max: int
    mean: float
    median: float
    p90: float
    p95: float
    p99: float

    def covered_by(self, lengths: list[int] | np.ndarray, max_len: int) -> float:
        """Share of examples with at most ``max_len`` tokens."""
        arr = np.asarray(lengths)
        return float((arr <= max_len).mean()) if arr.size else 1.0


def length_stats(lengths: list[int] | np.ndarray) -> LengthStats:
    """Max, mean and percentiles of example lengths (zeros for an empty list)."""
    arr = np.asarray(lengths, dtype=np.float64)
    if arr.size == 0:
        return LengthStats(0, 0, 0.0, 0.0, 0.0, 0.0, 0.0)
    p50, p90, p95, p99 = np.percentile(arr, [50, 90, 95, 99])
    return LengthStats(int(arr.size), int(arr.max()), float(arr.mean()), float(p50), float(p90),
                       float(p95), float(p99))


def recommend_max_len(lengths: list[int] | np.ndarray, coverage: float = 0.95, round_to: int = 10) -> int:
    """Smallest round ``max_len`` that keeps ``coverage`` of examples uncut.

    The tutorials' reasoning ("max 70, mean 11.8 -> choose 50") made mechanical: take the
    ``coverage`` quantile of lengths and round it up to a multiple of ``round_to``.

    Args:
        lengths: tokens per example.
        coverage: share of examples that must fit, in (0, 1].
        round_to: rounding step.

    Returns:
        The recommended maximum length (at least ``round_to``).
    """
    if not 0 < coverage <= 1:
        raise ValueError("coverage must be in (0, 1]")
    arr = np.asarray(lengths)
    if arr.size == 0:
        return round_to
    q = float(np.quantile(arr, coverage, method="inverted_cdf"))  # smallest v with share(<= v) >= coverage
    return int(max(round_to, int(np.ceil(q / round_to)) * round_to))
