"""Synthetic teaching sets: determinism, balance, noise, distance, and correct labels."""
from __future__ import annotations

from collections import Counter

import pytest

from sentiment_core.data import make_long_range, make_negation
from sentiment_core.data.synthetic import (
    FILLER_WORDS,
    NEGATIVE_ADJECTIVES,
    NEGATIVE_CUES,
    POSITIVE_ADJECTIVES,
    POSITIVE_CUES,
)
from sentiment_core.errors import DataError

CUES = {**{w: 1 for w in POSITIVE_CUES}, **{w: 0 for w in NEGATIVE_CUES}}


def test_long_range_is_deterministic_and_balanced():
    a, b = make_long_range(seed=5), make_long_range(seed=5)
    assert a.parts["all"] == b.parts["all"]
    assert make_long_range(seed=6).parts["all"].texts != a.parts["all"].texts
    assert a.name == "synthetic_long_range" and a.label_names == ["negative", "positive"]
    assert set(a.parts) == {"all"} and len(a) == 2000
    assert Counter(a.parts["all"].labels) == {0: 1000, 1: 1000}


def test_long_range_cue_first_then_exact_distance():
    ds = make_long_range(n_examples=300, distance=7, vocab_size_filler=10)
    allowed = set(FILLER_WORDS[:10])
    for text, label in zip(ds.parts["all"].texts, ds.parts["all"].labels):
        words = text.split()
        assert len(words) == 8
        assert CUES[words[0]] == label  # no noise: the cue decides
        assert set(words[1:]) <= allowed


def test_long_range_distance_range_and_leading_fillers():
    ds = make_long_range(n_examples=400, distance=(3, 9), leading_fillers=(1, 2))
    seen = set()
    for text in ds.parts["all"].texts:
        words = text.split()
        cue_at = next(i for i, w in enumerate(words) if w in CUES)
        assert 1 <= cue_at <= 2
        after = len(words) - cue_at - 1
        assert 3 <= after <= 9
        seen.add(after)
        assert sum(w in CUES for w in words) == 1
    assert seen == set(range(3, 10))


def test_noise_flips_exactly_that_fraction():
    clean = make_long_range(n_examples=1000, seed=1)
    noisy = make_long_range(n_examples=1000, seed=1, noise=0.1)
    assert noisy.parts["all"].texts == clean.parts["all"].texts
    flipped = sum(a != b for a, b in zip(clean.parts["all"].labels, noisy.parts["all"].labels))
    assert flipped == 100
    assert any("100 of 1000 labels flipped" in n for n in noisy.notes)
    neg = make_negation(n_examples=500, noise=0.2, seed=2)
    neg_clean = make_negation(n_examples=500, seed=2)
    assert sum(a != b for a, b in zip(neg.parts["all"].labels, neg_clean.parts["all"].labels)) == 100


def expected_negation_label(text: str) -> int:
    """Independent reading of the templates: contrast clause wins, negation flips."""
    polarity = {**{w: 1 for w in POSITIVE_ADJECTIVES}, **{w: 0 for w in NEGATIVE_ADJECTIVES}}
    words = text.split()
    adjectives = [w for w in words if w in polarity]
    if "but" in words or "although" in words:
        return polarity[adjectives[-1]]
    value = polarity[adjectives[0]]
    return 1 - value if ("not" in words or "never" in words) else value


def test_negation_labels_follow_negation_and_contrast():
    ds = make_negation(n_examples=2000, seed=0)
    texts, labels = ds.parts["all"].texts, ds.parts["all"].labels
    assert Counter(labels) == {0: 1000, 1: 1000}
    for text, label in zip(texts, labels):
        assert expected_negation_label(text) == label, text
    # the key teaching patterns all occur, with both labels
    assert any(" not " in f" {t} " for t, y in zip(texts, labels) if y == 0)
    assert any(" not " in f" {t} " for t, y in zip(texts, labels) if y == 1)
    assert any(t.startswith("not ") and t.endswith(" at all") for t in texts)
    assert any(" but " in t for t, y in zip(texts, labels) if y == 0)
    assert any(" but " in t for t, y in zip(texts, labels) if y == 1)
    assert make_negation(seed=0).parts["all"] == ds.parts["all"]


@pytest.mark.parametrize(
    "call",
    [
        lambda: make_long_range(noise=0.7),
        lambda: make_long_range(distance=(5, 2)),
        lambda: make_long_range(distance=-1),
        lambda: make_long_range(vocab_size_filler=0),
        lambda: make_long_range(vocab_size_filler=len(FILLER_WORDS) + 1),
        lambda: make_negation(n_examples=1),
    ],
)
def test_bad_parameters_raise_data_error(call):
    with pytest.raises(DataError):
        call()
