"""Tiny models and a tiny trained bundle shared by the explainer tests (imported by
``tests/test_explain_*.py``; kept out of conftest.py so other suites are unaffected)."""
from __future__ import annotations

import functools
import random

import pytest
import torch

from sentiment_core.checkpoint import Bundle
from sentiment_core.data.types import DatasetSplits, Examples
from sentiment_core.models import ModelConfig, SentimentRNN, build_model
from sentiment_core.pipeline import VocabConfig, train_on_splits
from sentiment_core.encoding import EncodingConfig
from sentiment_core.trainer import TrainConfig
from sentiment_core.vocab import Vocab

FILLERS = ["the", "movie", "was", "film", "plot", "really", "quite", "acting", "it", "very", "story", "and",
           "a", "this", "is", "so", "ending", "cast", "music", "scenes", "overall", "i", "found"]
WORDS = ["<pad>", "<unk>", "good", "bad", *FILLERS[:26]]  # 27 entries


@pytest.fixture(autouse=True, scope="module")
def single_thread():
    """Tiny matrices run fastest on one thread (and a busy machine makes thread pools crawl);
    the previous setting is restored after each module."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def tiny_model(cell: str = "lstm", bidirectional: bool = False, num_layers: int = 1, pooling: str = "last",
               packed: bool = True, seed: int = 0, vocab_size: int = 30) -> SentimentRNN:
    """A random model with dims 8 in eval mode."""
    torch.manual_seed(seed)
    config = ModelConfig(vocab_size=vocab_size, cell=cell, bidirectional=bidirectional, num_layers=num_layers,
                         emb_dim=8, hidden_dim=8, pooling=pooling, packed=packed)
    return build_model(config).eval()


def tiny_bundle(cell: str = "lstm", bidirectional: bool = False, seed: int = 0, **options) -> Bundle:
    """A random model with a real vocabulary (good, bad and filler words)."""
    vocab = Vocab(WORDS)
    model = tiny_model(cell, bidirectional, seed=seed, vocab_size=len(vocab), **options)
    return Bundle(model=model, vocab=vocab, label_names=["negative", "positive"])


def synthetic_splits(n_train: int = 600, seed: int = 0) -> DatasetSplits:
    """Texts of filler words with one 'good' (positive) or 'bad' (negative) at a random place."""
    rng = random.Random(seed)

    def make(n: int) -> Examples:
        texts, labels = [], []
        for _ in range(n):
            label = rng.randrange(2)
            words = rng.choices(FILLERS, k=rng.randint(3, 9))
            words.insert(rng.randrange(len(words) + 1), "good" if label else "bad")
            texts.append(" ".join(words))
            labels.append(label)
        return Examples(texts, labels)

    return DatasetSplits("synthetic", ["negative", "positive"], make(n_train), make(120), make(120), "synthetic")


@pytest.fixture(scope="session")
def trained_bundle() -> Bundle:
    """A unidirectional LSTM trained for a few seconds on the good/bad rule (accuracy ~1).
    Shared by every module that imports it; tests must not modify it."""
    return _train_once()


@functools.lru_cache(maxsize=1)
def _train_once() -> Bundle:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        outcome = train_on_splits(
            synthetic_splits(400),
            model_options={"cell": "lstm", "emb_dim": 8, "hidden_dim": 8},
            train_config=TrainConfig(epochs=3, batch_size=32, lr=0.02, device="cpu", patience=0),
            encoding=EncodingConfig(max_len=30),
            vocab_config=VocabConfig(min_freq=1),
        )
    finally:
        torch.set_num_threads(threads)
    assert outcome.validation.accuracy > 0.95, "the synthetic rule should be learned"
    return outcome.bundle
