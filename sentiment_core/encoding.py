"""Turning token lists into fixed-size index arrays: padding, truncation, length statistics."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Mapping

import numpy as np

from .spec import ParamSpec, dataclass_from_dict
from .text import Tokenizer
from .vocab import PAD_IDX, PAD_TOKEN, UNK_IDX, Vocab

SIDES = ("pre", "post")

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
    """

    max_len: int = ENCODING_SPEC["max_len"].default
    padding: str = ENCODING_SPEC["padding"].default
    truncation: str = ENCODING_SPEC["truncation"].default

    def __post_init__(self) -> None:
        for name, spec in ENCODING_SPEC.items():
            spec.validate(name, getattr(self, name))

    def to_dict(self) -> dict:
        return asdict(self)

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


def text_to_indices(text: str, tokenizer: Tokenizer, vocab: Vocab) -> tuple[list[str], list[int]]:
    """Tokenize ``text`` and look tokens up. A literal ``<pad>`` typed by a user maps to
    ``<unk>`` so it can never be mistaken for padding.

    Returns:
        The tokens and their indices.
    """
    tokens = tokenizer(text)
    ids = [UNK_IDX if t == PAD_TOKEN else i for t, i in zip(tokens, vocab.lookup_indices(tokens))]
    return tokens, ids


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
