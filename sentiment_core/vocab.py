"""Vocabulary with a torchtext-style API, built from the training split only."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Iterable

PAD_TOKEN = "<pad>"
UNK_TOKEN = "<unk>"
PAD_IDX = 0
UNK_IDX = 1


class Vocab:
    """Token <-> index mapping. ``<pad>`` is 0 and ``<unk>`` is 1; the rest are ordered
    by descending frequency, ties broken alphabetically, so the order is deterministic."""

    def __init__(self, itos: list[str], freqs: dict[str, int] | None = None):
        if itos[:2] != [PAD_TOKEN, UNK_TOKEN]:
            raise ValueError(f"a vocabulary must start with {PAD_TOKEN!r}, {UNK_TOKEN!r}")
        if len(set(itos)) != len(itos):
            raise ValueError("vocabulary tokens must be unique")
        self._itos = list(itos)
        self._stoi = {tok: i for i, tok in enumerate(self._itos)}
        self.freqs = dict(freqs or {})

    @classmethod
    def build(cls, tokenized: Iterable[list[str]], min_freq: int = 1, max_size: int | None = None) -> "Vocab":
        """Count tokens and keep those seen at least ``min_freq`` times.

        Args:
            tokenized: token lists of the training split.
            min_freq: minimum count for a token to get its own index.
            max_size: cap on the number of entries including the two specials.

        Returns:
            The vocabulary.
        """
        if min_freq < 1:
            raise ValueError("min_freq must be at least 1")
        if max_size is not None and max_size < 2:
            raise ValueError("max_size must leave room for <pad> and <unk> (>= 2)")
        counts: Counter[str] = Counter()
        for tokens in tokenized:
            counts.update(tokens)
        for special in (PAD_TOKEN, UNK_TOKEN):
            counts.pop(special, None)
        kept = sorted((t for t, c in counts.items() if c >= min_freq), key=lambda t: (-counts[t], t))
        if max_size is not None:
            kept = kept[: max_size - 2]
        return cls([PAD_TOKEN, UNK_TOKEN, *kept], {t: counts[t] for t in kept})

    def extend(self, tokens: Iterable[str], limit: int) -> "Vocab":
        """A copy with up to ``limit`` of ``tokens`` that it lacks appended, in the given order.

        Used to add a pretrained embedding's most frequent words that training never saw:
        they keep a pretrained vector instead of becoming ``<unk>``. They come after every
        training word, with frequency 0.

        Args:
            tokens: candidate tokens, most useful first (e.g. GloVe's frequency order).
            limit: how many new tokens to add at most.

        Returns:
            The extended vocabulary (``self`` is unchanged).
        """
        added: list[str] = []
        seen = set(self._stoi)
        for token in tokens:
            if len(added) >= limit:
                break
            if token not in seen:
                added.append(token)
                seen.add(token)
        return Vocab([*self._itos, *added], {**self.freqs, **{t: 0 for t in added}})

    def __len__(self) -> int:
        return len(self._itos)

    def __contains__(self, token: str) -> bool:
        return token in self._stoi

    def __getitem__(self, token: str) -> int:
        return self._stoi.get(token, UNK_IDX)

    def lookup_indices(self, tokens: list[str]) -> list[int]:
        """Indices of ``tokens``; unknown tokens map to ``<unk>`` (1)."""
        stoi = self._stoi
        return [stoi.get(t, UNK_IDX) for t in tokens]

    def lookup_tokens(self, indices: list[int]) -> list[str]:
        """Tokens of ``indices``."""
        return [self._itos[i] for i in indices]

    def get_itos(self) -> list[str]:
        """Index-to-string list (a copy)."""
        return list(self._itos)

    def get_stoi(self) -> dict[str, int]:
        """String-to-index mapping (a copy)."""
        return dict(self._stoi)

    def coverage(self, tokenized: Iterable[list[str]]) -> "Coverage":
        """How much of a corpus this vocabulary covers.

        Args:
            tokenized: token lists, e.g. the validation split.

        Returns:
            Token-level and type-level coverage.
        """
        total = known = 0
        types: set[str] = set()
        for tokens in tokenized:
            total += len(tokens)
            known += sum(1 for t in tokens if t in self._stoi)
            types.update(tokens)
        known_types = sum(1 for t in types if t in self._stoi)
        return Coverage(
            tokens=total,
            known_tokens=known,
            types=len(types),
            known_types=known_types,
        )


@dataclass(frozen=True)
class Coverage:
    """Token and type coverage of a corpus by a vocabulary."""

    tokens: int
    known_tokens: int
    types: int
    known_types: int

    @property
    def token_coverage(self) -> float:
        return self.known_tokens / self.tokens if self.tokens else 0.0

    @property
    def oov_rate(self) -> float:
        return 1.0 - self.token_coverage if self.tokens else 0.0

    @property
    def type_coverage(self) -> float:
        return self.known_types / self.types if self.types else 0.0
