"""Splits: stratified, deterministic, disjoint; official parts preserved; clear errors."""
from __future__ import annotations

from collections import Counter

import pytest

from sentiment_core.data import make_negation, make_splits, subsample
from sentiment_core.data.types import Examples, LabeledDataset
from sentiment_core.errors import DataError


def unbalanced(n_pos: int = 300, n_neg: int = 700, n_neu: int = 100) -> LabeledDataset:
    texts, labels = [], []
    for label, n in ((0, n_neg), (1, n_neu), (2, n_pos)):
        texts += [f"text {label} {i}" for i in range(n)]
        labels += [label] * n
    return LabeledDataset("toy", ["negative", "neutral", "positive"], {"all": Examples(texts, labels)})


def test_single_part_is_split_stratified():
    ds = unbalanced()
    splits = make_splits(ds, val_fraction=0.1, test_fraction=0.2, seed=0)
    assert Counter(splits.validation.labels) == {0: 70, 1: 10, 2: 30}
    assert Counter(splits.test.labels) == {0: 140, 1: 20, 2: 60}
    assert Counter(splits.train.labels) == {0: 490, 1: 70, 2: 210}
    assert splits.fingerprint == ds.fingerprint()
    assert splits.label_names == ds.label_names and splits.num_classes == 3


def test_splits_are_disjoint_and_cover_everything():
    ds = unbalanced()
    s = make_splits(ds, seed=4)
    train, val, test = set(s.train.texts), set(s.validation.texts), set(s.test.texts)
    assert not (train & val) and not (train & test) and not (val & test)
    assert train | val | test == set(ds.parts["all"].texts)
    # labels travel with their texts
    truth = dict(zip(ds.parts["all"].texts, ds.parts["all"].labels))
    for part in (s.train, s.validation, s.test):
        assert all(truth[t] == y for t, y in zip(part.texts, part.labels))


def test_deterministic_by_seed():
    ds = make_negation(n_examples=400)
    a, b = make_splits(ds, seed=1), make_splits(ds, seed=1)
    assert (a.train, a.validation, a.test) == (b.train, b.validation, b.test)
    c = make_splits(ds, seed=2)
    assert c.test.texts != a.test.texts


def test_duplicate_texts_stay_in_one_split():
    texts = [f"sentence {i % 50}" for i in range(400)]  # every text 8 times
    labels = [(i % 50) % 2 for i in range(400)]
    ds = LabeledDataset("dups", ["negative", "positive"], {"all": Examples(texts, labels)})
    s = make_splits(ds, seed=0)
    assert not set(s.train.texts) & (set(s.validation.texts) | set(s.test.texts))
    assert not set(s.validation.texts) & set(s.test.texts)
    assert len(s.train) + len(s.validation) + len(s.test) == 400
    assert len(s.validation) > 0 and len(s.test) > 0


def test_official_test_set_is_kept_and_validation_carved_from_train():
    train = Examples([f"tr {i}" for i in range(200)], [i % 2 for i in range(200)])
    test = Examples([f"te {i}" for i in range(50)], [i % 2 for i in range(50)])
    ds = LabeledDataset("imdb", ["negative", "positive"], {"train": train, "test": test})
    s = make_splits(ds, val_fraction=0.1, test_fraction=0.3)
    assert s.test == test
    assert Counter(s.validation.labels) == {0: 10, 1: 10}
    assert set(s.validation.texts) <= set(train.texts)
    assert not set(s.validation.texts) & set(s.train.texts)
    assert len(s.train) == 180
    assert any("official test set kept" in n for n in s.notes)


def test_official_dev_set_becomes_test_for_sst2_style_parts():
    train = Examples([f"tr {i}" for i in range(100)], [i % 2 for i in range(100)])
    dev = Examples([f"dev {i}" for i in range(20)], [i % 2 for i in range(20)])
    ds = LabeledDataset("sst2", ["negative", "positive"], {"train": train, "validation": dev})
    s = make_splits(ds)
    assert s.test == dev
    assert set(s.validation.texts) <= set(train.texts) and len(s.validation) == 10
    assert any("used as the TEST set" in n for n in s.notes)


def test_three_official_parts_are_used_as_they_are():
    parts = {p: Examples([f"{p} {i}" for i in range(6)], [i % 2 for i in range(6)]) for p in ("train", "validation", "test")}
    s = make_splits(LabeledDataset("x", ["a", "b"], parts))
    assert (s.train, s.validation, s.test) == (parts["train"], parts["validation"], parts["test"])


def test_too_small_class_is_reported():
    ds = unbalanced(n_pos=300, n_neg=300, n_neu=2)
    with pytest.raises(DataError) as err:
        make_splits(ds)
    assert "'neutral' has only 2 example(s)" in str(err.value)


@pytest.mark.parametrize("val, test", [(0.6, 0.5), (-0.1, 0.1), (0.1, 1.0)])
def test_bad_fractions(val, test):
    with pytest.raises(DataError):
        make_splits(unbalanced(), val_fraction=val, test_fraction=test)


def test_subsample_keeps_proportions_and_order():
    ex = unbalanced().parts["all"]
    small = subsample(ex, 110, seed=0)
    assert Counter(small.labels) == {0: 70, 1: 10, 2: 30}
    positions = [ex.texts.index(t) for t in small.texts]
    assert positions == sorted(positions)
    assert subsample(ex, 110, seed=0) == small
    assert subsample(ex, 5000) is ex
    with pytest.raises(DataError):
        subsample(ex, 0)


def test_leaving_out_a_class_and_choosing_the_split_shares():
    """The Keras airline tutorial: neutral tweets left out, 70/30 with seed 42 (plus GateScope's validation)."""
    import pytest as _pytest

    from sentiment_core.data.selection import load_catalogue_splits
    from sentiment_core.errors import DataError

    data = {"name": "airline_tweets", "leave_out": "neutral", "test_share": 0.3, "val_share": 0.1, "split_seed": 42}
    ds, splits = load_catalogue_splits(data)
    assert ds.label_names == splits.label_names == ["negative", "positive"]
    total = len(splits.train) + len(splits.validation) + len(splits.test)
    assert total == 9176 + 2363
    assert abs(len(splits.test) / total - 0.3) < 0.01 and abs(len(splits.validation) / total - 0.1) < 0.01
    assert set(splits.train.labels) == {0, 1}
    assert any("left out neutral" in note for note in ds.notes)
    with _pytest.raises(DataError, match="no class 'mixed' to leave out; its classes are negative, neutral, positive"):
        load_catalogue_splits({**data, "leave_out": "mixed"})
    with _pytest.raises(DataError, match="fewer than two classes"):
        load_catalogue_splits({**data, "leave_out": "neutral, positive"})
