"""Batched prediction with the edge cases a user will type: empty text, only unknown
words, and text longer than the model's maximum length.

``Predictor.encode`` is the one place a bundle's text becomes the ids its model reads (the
bundle's tokenizer, unknown-word policy, truncation and fixed-length padding), and
``Predictor.batches`` the one place those ids become batches: every text's probabilities are the
same alone and in any batch (a packed model never reads pads; an unpacked one reads its text at a
fixed length or at its own length, never padded to a longer neighbour)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

import numpy as np
import torch

from .checkpoint import Bundle
from .encoding import lookup, truncate
from .text import Tokenizer
from .trainer import EncodedExamples, collate, make_batches
from .vocab import PAD_IDX, PAD_TOKEN, UNK_IDX


@dataclass
class EncodedText:
    """One text as the model sees it."""

    tokens: list[str]          # the text's tokens fed (after truncation), without padding
    ids: list[int]
    total_tokens: int          # before truncation
    truncated: bool
    unknown: list[bool]        # per fed token: not in the vocabulary
    pad_before: int = 0        # <pad> positions the model reads before the text (fixed-length, pre)
    pad_after: int = 0         # ... and after it (fixed-length, post)
    skipped: int = 0           # unknown words left out (unknown-word policy ``skip``)

    @property
    def unknown_share(self) -> float:
        return sum(self.unknown) / len(self.unknown) if self.unknown else 0.0

    @property
    def fed_ids(self) -> list[int]:
        """(T,) the ids the model reads, fixed-length padding included."""
        return [PAD_IDX] * self.pad_before + self.ids + [PAD_IDX] * self.pad_after

    @property
    def fed_tokens(self) -> list[str]:
        """(T,) the tokens of ``fed_ids``."""
        return [PAD_TOKEN] * self.pad_before + self.tokens + [PAD_TOKEN] * self.pad_after


def describe_reading(bundle: Bundle) -> str:
    """How a bundle reads text, in plain sentences (tokenizer, unknown words, cutting, padding)."""
    return f"{bundle.tokenizer_config.describe()} {bundle.encoding.describe(bundle.model.config.packed)}"


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
        """Tokenize, look up, truncate and pad one text the way the bundle records
        (``TokenizerConfig``, ``EncodingConfig``)."""
        enc = self.bundle.encoding
        all_tokens = self.tokenizer(text)
        tokens, ids, unknown = lookup(all_tokens, self.bundle.vocab, enc.unknown)
        kept = truncate(list(range(len(ids))), enc.max_len, enc.truncation)
        pads = enc.max_len - len(kept) if enc.fixed_length and not self.bundle.model.config.packed else 0
        return EncodedText([tokens[i] for i in kept], [ids[i] for i in kept], len(tokens), len(tokens) > len(kept),
                           [unknown[i] for i in kept], pads if enc.padding == "pre" else 0,
                           pads if enc.padding == "post" else 0, len(all_tokens) - len(tokens))

    def batches(self, encoded: list[EncodedText], batch_size: int = 128
                ) -> Iterator[tuple[np.ndarray, torch.Tensor, torch.Tensor]]:
        """Batches whose answers do not depend on their neighbours.

        Texts of similar length go together; an unpacked model's batches hold texts of one length
        only, so no text is padded beyond what ``encode`` fed (a packed model never reads pads).
        An empty text is fed as a single ``<unk>`` so the model still returns a distribution.

        Args:
            encoded: texts from ``encode``.
            batch_size: texts per forward pass at most.

        Yields:
            (B,) positions in ``encoded``, (B, T) ids on the model's device, (B,) lengths.
        """
        data = EncodedExamples([e.fed_ids or [UNK_IDX] for e in encoded], [0] * len(encoded))
        lengths = data.lengths()
        for index in make_batches(lengths, batch_size, shuffle=False, bucketing=True):
            groups = [index]
            if not self.bundle.model.config.packed:
                index = index[np.argsort(lengths[index], kind="stable")]
                groups = np.split(index, np.flatnonzero(np.diff(lengths[index])) + 1)
            for group in groups:
                ids, batch_lengths, _ = collate(data, group, self.bundle.batch_padding)
                yield group, ids.to(self.device), batch_lengths

    def probabilities(self, encoded: list[EncodedText], batch_size: int = 128) -> torch.Tensor:
        """(N, C) float32 class probabilities of encoded texts, in order, on the CPU."""
        model = self.bundle.model
        out = torch.empty((len(encoded), model.config.num_classes), dtype=torch.float32)
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                for index, ids, lengths in self.batches(encoded, batch_size):
                    out[torch.from_numpy(index)] = torch.softmax(model(ids, lengths).float(), dim=1).cpu()
        finally:
            model.train(was_training)
        return out

    def predict(self, texts: list[str], batch_size: int = 128) -> list[Prediction]:
        """Predict many texts at once.

        Args:
            texts: raw texts (any unicode; empty allowed).
            batch_size: examples per forward pass.

        Returns:
            One prediction per text, in order; each the same as the text alone would get.
        """
        encoded = [self.encode(t if isinstance(t, str) else str(t)) for t in texts]
        probs = self.probabilities(encoded, batch_size)
        names = self.bundle.label_names
        results = []
        for text, enc, p in zip(texts, encoded, probs.tolist()):
            notes = []
            if not enc.tokens and not enc.skipped:
                notes.append("The text is empty: there is nothing to classify, so the probabilities are "
                             "what the model says about " + ("padding alone." if enc.fed_ids else "a single unknown word."))
            elif all(enc.unknown):  # also when every word was left out
                notes.append("None of these words are in the model's vocabulary: the prediction carries "
                             "no information about the text. Try words from the training data.")
            if enc.skipped:
                notes.append(f"{enc.skipped} word(s) not in the model's vocabulary were left out, as the "
                             "tutorial's own tokenizer leaves them out.")
            if enc.truncated:
                notes.append(f"The text has {enc.total_tokens} tokens; the model reads at most "
                             f"{self.bundle.encoding.max_len}, so it was cut "
                             f"({'keeping the beginning' if self.bundle.encoding.truncation == 'post' else 'keeping the end'}).")
            best = max(range(len(p)), key=p.__getitem__)
            results.append(Prediction(text, names[best], dict(zip(names, p)), enc.tokens, enc.truncated,
                                      enc.unknown_share, notes))
        return results
