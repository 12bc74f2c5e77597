"""Stratified, seeded train/validation/test splits and subsampling.

Identical texts are kept together, so a duplicated sentence never ends up both in
training and in evaluation. Official splits are kept where a dataset has them:

* ``train`` + ``test`` (IMDb): validation is carved from ``train``; ``test`` is kept.
* ``train`` + ``validation`` (SST-2): GLUE's test set has no labels, so the official dev
  set becomes the TEST set and a fresh validation set is carved from ``train``.
* ``train`` + ``validation`` + ``test``: used as they are.
* anything else (a single ``all`` part): split three ways by the given fractions.
"""
from __future__ import annotations

import random
from collections import defaultdict

from ..errors import DataError
from .types import DatasetSplits, Examples, LabeledDataset


def _class_counts(examples: Examples, label_names: list[str]) -> str:
    counts = [0] * len(label_names)
    for label in examples.labels:
        counts[label] += 1
    return ", ".join(f"{name} {n:,}" for name, n in zip(label_names, counts))


def _take(examples: Examples, indices: list[int]) -> Examples:
    return Examples([examples.texts[i] for i in indices], [examples.labels[i] for i in indices])


def subsample(examples: Examples, max_examples: int, *, seed: int = 0) -> Examples:
    """Keep at most ``max_examples`` rows, preserving class proportions.

    Args:
        examples: rows to sample from.
        max_examples: upper bound on the rows kept (at least 1).
        seed: random seed; the same seed always keeps the same rows.

    Returns:
        The sampled rows in their original order (``examples`` itself if already small).

    Raises:
        DataError: ``max_examples`` is below 1.
    """
    if max_examples < 1:
        raise DataError(f"max_examples must be at least 1, got {max_examples}")
    if len(examples) <= max_examples:
        return examples
    by_class: dict[int, list[int]] = defaultdict(list)
    for i, label in enumerate(examples.labels):
        by_class[label].append(i)
    n = len(examples)
    quotas = {c: len(idx) * max_examples // n for c, idx in by_class.items()}
    # Hand out the remaining slots to the classes with the largest remainders.
    order = sorted(by_class, key=lambda c: (-(len(by_class[c]) * max_examples % n), c))
    for c in order[: max_examples - sum(quotas.values())]:
        quotas[c] += 1
    rng = random.Random(seed)
    keep: list[int] = []
    for c in sorted(by_class):
        keep.extend(rng.sample(by_class[c], quotas[c]))
    return _take(examples, sorted(keep))


def _group_by_text(examples: Examples, indices: list[int]) -> dict[int, list[list[int]]]:
    """Groups of indices with identical text, keyed by the label of the first one."""
    groups: dict[str, list[int]] = {}
    for i in indices:
        groups.setdefault(examples.texts[i], []).append(i)
    by_class: dict[int, list[list[int]]] = defaultdict(list)
    for members in groups.values():
        by_class[examples.labels[members[0]]].append(members)
    return by_class


def _carve(
    examples: Examples,
    label_names: list[str],
    fractions: list[float],
    split_names: list[str],
    seed: int,
) -> list[list[int]]:
    """Stratified split of ``examples`` into ``1 + len(fractions)`` index lists.

    The first list takes what the fractions leave; every later list gets its fraction of
    each class (at least one row per class when the fraction is positive).
    """
    rng = random.Random(seed)
    outputs: list[list[int]] = [[] for _ in range(len(fractions) + 1)]
    for label, groups in sorted(_group_by_text(examples, list(range(len(examples)))).items()):
        rng.shuffle(groups)
        size = sum(len(g) for g in groups)
        wanted = [max(1, round(f * size)) if f > 0 else 0 for f in fractions]
        if size - sum(wanted) < 1 or len(groups) < 1 + sum(1 for w in wanted if w):
            need = ", ".join(f"{name} {f:.0%}" for name, f in zip(split_names[1:], fractions))
            raise DataError(
                f"class {label_names[label]!r} has only {size} example(s) "
                f"({len(groups)} distinct text(s)); that is too few to split into "
                f"{split_names[0]} and {need}. Add more examples of this class, lower the "
                "fractions, or remove the class"
            )
        position = 0
        for k, target in enumerate(wanted, start=1):
            taken = 0
            # Leave at least one group for every later split and for the first one.
            reserve = 1 + sum(1 for w in wanted[k:] if w)
            while taken < target and len(groups) - position > reserve:
                outputs[k].extend(groups[position])
                taken += len(groups[position])
                position += 1
        for group in groups[position:]:
            outputs[0].extend(group)
    for out in outputs:
        out.sort()
        rng.shuffle(out)
    return outputs


def _check_fractions(val_fraction: float, test_fraction: float) -> None:
    if not (0 <= val_fraction < 1 and 0 <= test_fraction < 1):
        raise DataError(
            f"val_fraction and test_fraction must be between 0 and 1, got {val_fraction} "
            f"and {test_fraction}"
        )
    if val_fraction + test_fraction >= 1:
        raise DataError(
            f"val_fraction + test_fraction is {val_fraction + test_fraction:.2f}; it must be "
            "below 1 so that training data is left"
        )


def make_splits(
    ds: LabeledDataset, *, val_fraction: float = 0.1, test_fraction: float = 0.1, seed: int = 0
) -> DatasetSplits:
    """Split a loaded dataset into train, validation and test, stratified by class.

    Args:
        ds: dataset as returned by a loader or the upload parser.
        val_fraction: share of each class for validation (carved from ``train`` when the
            dataset has official parts).
        test_fraction: share of each class for the test set; ignored when the dataset
            has an official test set.
        seed: random seed; the same seed gives the same split.

    Returns:
        ``DatasetSplits`` with ``fingerprint = ds.fingerprint()`` and notes on what was
        kept or carved.

    Raises:
        DataError: bad fractions, empty dataset, or a class too small for the split.
    """
    _check_fractions(val_fraction, test_fraction)
    if len(ds) == 0:
        raise DataError(f"dataset {ds.name!r} is empty; nothing to split")
    parts = ds.parts
    notes = list(ds.notes)
    names = ds.label_names
    if {"train", "validation", "test"} <= parts.keys():
        train, validation, test = parts["train"], parts["validation"], parts["test"]
        notes.append("official train/validation/test splits kept as they are")
    elif "train" in parts and ("test" in parts or "validation" in parts):
        official = "test" if "test" in parts else "validation"
        train_idx, val_idx = _carve(
            parts["train"], names, [val_fraction], ["train", "validation"], seed
        )
        train, validation = _take(parts["train"], train_idx), _take(parts["train"], val_idx)
        test = parts[official]
        if official == "test":
            notes.append(
                f"official test set kept ({len(test):,} rows); validation carved from the "
                f"official train set ({val_fraction:.0%} of each class)"
            )
        else:
            notes.append(
                f"the official dev/validation set ({len(test):,} rows) is used as the TEST set "
                "because the official test labels are not public; validation carved from the "
                f"official train set ({val_fraction:.0%} of each class)"
            )
    else:
        if len(parts) != 1:
            raise DataError(
                f"dataset {ds.name!r} has parts {sorted(parts)}; expected 'all', or 'train' "
                "with 'test' and/or 'validation'"
            )
        (examples,) = parts.values()
        train_idx, val_idx, test_idx = _carve(
            examples, names, [val_fraction, test_fraction], ["train", "validation", "test"], seed
        )
        train = _take(examples, train_idx)
        validation = _take(examples, val_idx)
        test = _take(examples, test_idx)
        notes.append(
            f"stratified split, seed {seed}: {len(train):,} train / {len(validation):,} "
            f"validation / {len(test):,} test; identical texts kept in the same split"
        )
    notes.append(f"train classes: {_class_counts(train, names)}")
    return DatasetSplits(
        name=ds.name,
        label_names=list(names),
        train=train,
        validation=validation,
        test=test,
        fingerprint=ds.fingerprint(),
        notes=notes,
    )
