"""Batched prediction with the edge cases a user will type: empty text, only unknown
words, and text longer than the model's maximum length."""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from .checkpoint import Bundle
from .encoding import text_to_indices, truncate
from .text import Tokenizer
from .trainer import EncodedExamples, predict_logits
from .vocab import UNK_IDX


@dataclass
class EncodedText:
    """One text as the model sees it."""

    tokens: list[str]          # tokens actually fed (after truncation)
    ids: list[int]
    total_tokens: int          # before truncation
    truncated: bool
    unknown: list[bool]        # per fed token: mapped to <unk>

    @property
    def unknown_share(self) -> float:
        return sum(self.unknown) / len(self.unknown) if self.unknown else 0.0


@dataclass
class Prediction:
    """The model's answer for one text.

    Attributes:
        label: the most probable class name.
        probabilities: class name -> probability (sums to 1).
        tokens: tokens fed to the model.
        truncated: the text was longer than ``max_len`` and was cut.
        unknown_share: share of fed tokens the vocabulary does not know.
        notes: plain-language warnings (empty text, all words unknown, truncation).
    """

    text: str
    label: str
    probabilities: dict[str, float]
    tokens: list[str]
    truncated: bool
    unknown_share: float
    notes: list[str] = field(default_factory=list)


class Predictor:
    """Wraps a bundle for prediction. Shared predictors are read-only: nothing here mutates
    the model.

    Args:
        bundle: a loaded bundle.
    """

    def __init__(self, bundle: Bundle):
        self.bundle = bundle
        self.tokenizer = Tokenizer(bundle.tokenizer_config)

    @property
    def device(self) -> torch.device:
        return next(self.bundle.model.parameters()).device

    def encode(self, text: str) -> EncodedText:
        """Tokenize, look up and truncate one text the way training did."""
        tokens, ids = text_to_indices(text, self.tokenizer, self.bundle.vocab)
        enc = self.bundle.encoding
        kept = truncate(list(range(len(ids))), enc.max_len, enc.truncation)
        fed_tokens = [tokens[i] for i in kept]
        fed_ids = [ids[i] for i in kept]
        return EncodedText(fed_tokens, fed_ids, len(tokens), len(tokens) > len(kept),
                           [i == UNK_IDX for i in fed_ids])

    def predict(self, texts: list[str], batch_size: int = 128) -> list[Prediction]:
        """Predict many texts at once.

        Args:
            texts: raw texts (any unicode; empty allowed).
            batch_size: examples per forward pass.

        Returns:
            One prediction per text, in order.
        """
        encoded = [self.encode(t if isinstance(t, str) else str(t)) for t in texts]
        # An empty text is fed as a single <unk> so the model still returns a distribution.
        data = EncodedExamples([e.ids or [UNK_IDX] for e in encoded], [0] * len(encoded))
        probs = torch.softmax(predict_logits(self.bundle.model, data, batch_size, self.bundle.batch_padding, self.device), dim=1)
        names = self.bundle.label_names
        results = []
        for text, enc, p in zip(texts, encoded, probs.tolist()):
            notes = []
            if not enc.tokens:
                notes.append("The text is empty: there is nothing to classify, so the probabilities are "
                             "what the model says about a single unknown word.")
            elif all(enc.unknown):
                notes.append("None of these words are in the model's vocabulary: the prediction carries "
                             "no information about the text. Try words from the training data.")
            if enc.truncated:
                notes.append(f"The text has {enc.total_tokens} tokens; the model reads at most "
                             f"{self.bundle.encoding.max_len}, so it was cut "
                             f"({'keeping the beginning' if self.bundle.encoding.truncation == 'post' else 'keeping the end'}).")
            best = max(range(len(p)), key=p.__getitem__)
            results.append(Prediction(text, names[best], dict(zip(names, p)), enc.tokens, enc.truncated,
                                      enc.unknown_share, notes))
        return results
