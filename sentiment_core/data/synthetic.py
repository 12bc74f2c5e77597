"""Synthetic teaching sets written by GateScope (not real-world data).

* ``make_long_range``: the only sentiment word comes first, followed by ``distance``
  neutral fillers. A vanilla RNN reading to the end forgets it; LSTM and GRU do not.
  (Training on a single long distance defeats all three cells: the error signal never
  reaches the cue. ``sentiment_core.lessons`` trains on distances 0..d with all fillers
  and tests at d, where the plain RNN is at chance by d = 60 and LSTM/GRU stay near 100 %.)
* ``make_negation``: templated sentences where negation flips the adjective and the
  clause after "but" (or the main clause after "although") decides the label.

Both are balanced (half negative, half positive), seeded and deterministic.
"""
from __future__ import annotations

import random

from ..errors import DataError
from .types import Examples, LabeledDataset

LABEL_NAMES = ["negative", "positive"]

POSITIVE_CUES = ("good", "great", "excellent", "wonderful", "superb", "lovely", "brilliant", "fantastic")
NEGATIVE_CUES = ("bad", "awful", "terrible", "horrible", "dreadful", "poor", "lousy", "miserable")

# Neutral filler words: no sentiment of their own, common enough to look like text.
FILLER_WORDS = (
    "the", "table", "walked", "a", "window", "of", "river", "stood", "and", "paper", "to",
    "chair", "moved", "in", "street", "was", "door", "on", "house", "it", "morning", "with",
    "road", "came", "for", "car", "turned", "at", "city", "then", "hand", "from", "train",
    "went", "by", "wall", "looked", "an", "garden", "after", "book", "opened", "into",
    "kitchen", "said", "over", "phone", "sat", "under", "box", "near", "floor", "put",
    "through", "station", "held", "across", "tree", "found", "along", "bag", "kept",
    "around", "lamp", "pencil", "carried", "beside", "bridge", "saw", "behind", "cup",
)

SUBJECTS = (
    "the movie", "the film", "the plot", "the acting", "the ending", "the music",
    "the story", "the food", "the service", "the hotel", "this book", "the show",
)
POSITIVE_ADJECTIVES = (
    "good", "great", "excellent", "wonderful", "enjoyable", "fun", "brilliant", "charming",
)
NEGATIVE_ADJECTIVES = (
    "bad", "awful", "terrible", "boring", "dull", "poor", "horrible", "disappointing",
)

# (template, how the label follows from the adjectives). "{a}" is the adjective whose
# polarity is used ("same") or flipped ("flip"); in contrast templates "{b}" wins and
# "{a}" has the opposite polarity.
NEGATION_TEMPLATES = (
    ("{s} was {a}", "same"),
    ("{s} was not {a}", "flip"),
    ("{s} was never {a}", "flip"),
    ("not {a} at all", "flip"),
    ("i did not think {s} was {a}", "flip"),
    ("{a} but {b}", "contrast"),
    ("{s} was {a} but {b}", "contrast"),
    ("although {s} was {a} , it was {b}", "contrast"),
)


def _check_common(n_examples: int, noise: float) -> None:
    if n_examples < 2:
        raise DataError(f"n_examples must be at least 2, got {n_examples}")
    if not 0 <= noise <= 0.5:
        raise DataError(f"noise must be between 0 and 0.5 (a fraction of labels), got {noise}")


def _balanced_labels(n: int, rng: random.Random) -> list[int]:
    labels = [i % 2 for i in range(n)]
    rng.shuffle(labels)
    return labels


def _flip_labels(labels: list[int], noise: float, rng: random.Random) -> int:
    """Flip exactly ``round(noise * len(labels))`` labels in place; returns that count."""
    flips = round(noise * len(labels))
    for i in rng.sample(range(len(labels)), flips):
        labels[i] = 1 - labels[i]
    return flips


def _as_range(value: int | tuple[int, int], what: str) -> tuple[int, int]:
    low, high = (value, value) if isinstance(value, int) else tuple(value)
    if not 0 <= low <= high:
        raise DataError(f"{what} must be a count >= 0 or a (min, max) range with min <= max, got {value!r}")
    return low, high


def make_long_range(
    n_examples: int = 2000,
    distance: int | tuple[int, int] = 20,
    noise: float = 0.0,
    vocab_size_filler: int = 50,
    seed: int = 0,
    leading_fillers: int | tuple[int, int] = 0,
) -> LabeledDataset:
    """Sentences whose only sentiment word is followed by ``distance`` neutral words.

    Example with ``distance=4``: ``"terrible the window walked of"`` -> negative.

    Args:
        n_examples: number of sentences (half of each class).
        distance: filler words after the cue, or a ``(min, max)`` range drawn uniformly.
        noise: fraction of labels flipped at random (label noise), 0 to 0.5.
        vocab_size_filler: how many distinct filler words are used (1 to the size of
            ``FILLER_WORDS``).
        seed: random seed.
        leading_fillers: filler words before the cue, a count or a ``(min, max)`` range.

    Returns:
        ``LabeledDataset`` named ``synthetic_long_range`` with one part ``all``.

    Raises:
        DataError: a parameter is out of range.
    """
    _check_common(n_examples, noise)
    low, high = _as_range(distance, "distance")
    lead_low, lead_high = _as_range(leading_fillers, "leading_fillers")
    if not 1 <= vocab_size_filler <= len(FILLER_WORDS):
        raise DataError(
            f"vocab_size_filler must be between 1 and {len(FILLER_WORDS)}, got {vocab_size_filler}"
        )
    fillers = FILLER_WORDS[:vocab_size_filler]
    rng = random.Random(seed)
    labels = _balanced_labels(n_examples, rng)
    texts = []
    for label in labels:
        cue = rng.choice(POSITIVE_CUES if label else NEGATIVE_CUES)
        before = rng.choices(fillers, k=rng.randint(lead_low, lead_high))
        after = rng.choices(fillers, k=rng.randint(low, high))
        texts.append(" ".join([*before, cue, *after]))
    flips = _flip_labels(labels, noise, rng)
    notes = [
        "SYNTHETIC data generated by GateScope (not real text)",
        f"cue word then {low}-{high} filler words (from {vocab_size_filler} distinct), "
        f"{lead_low}-{lead_high} fillers before the cue, seed {seed}",
    ]
    if flips:
        notes.append(f"label noise: {flips} of {n_examples} labels flipped ({noise:.0%})")
    return LabeledDataset("synthetic_long_range", list(LABEL_NAMES), {"all": Examples(texts, labels)}, notes)


def make_negation(n_examples: int = 2000, noise: float = 0.0, seed: int = 0) -> LabeledDataset:
    """Short sentences that need negation and contrast to be classified correctly.

    Templates include "the movie was good" (positive), "the movie was not good"
    (negative), "not bad at all" (positive), "good but boring" (negative) and
    "boring but good" (positive). Each template appears with both labels equally often
    in expectation, so only the words' order and negation decide the label.

    Args:
        n_examples: number of sentences (half of each class).
        noise: fraction of labels flipped at random (label noise), 0 to 0.5.
        seed: random seed.

    Returns:
        ``LabeledDataset`` named ``synthetic_negation`` with one part ``all``.

    Raises:
        DataError: a parameter is out of range.
    """
    _check_common(n_examples, noise)
    rng = random.Random(seed)
    labels = _balanced_labels(n_examples, rng)
    adjectives = {0: NEGATIVE_ADJECTIVES, 1: POSITIVE_ADJECTIVES}
    texts = []
    for label in labels:
        template, rule = rng.choice(NEGATION_TEMPLATES)
        # The adjective written as {a} has polarity `label` unless negation flips it.
        a_polarity = 1 - label if rule in ("flip", "contrast") else label
        texts.append(
            template.format(
                s=rng.choice(SUBJECTS),
                a=rng.choice(adjectives[a_polarity]),
                b=rng.choice(adjectives[label]),
            )
        )
    flips = _flip_labels(labels, noise, rng)
    notes = [
        "SYNTHETIC data generated by GateScope (not real text)",
        f"{len(NEGATION_TEMPLATES)} negation/contrast templates, seed {seed}",
    ]
    if flips:
        notes.append(f"label noise: {flips} of {n_examples} labels flipped ({noise:.0%})")
    return LabeledDataset("synthetic_negation", list(LABEL_NAMES), {"all": Examples(texts, labels)}, notes)
