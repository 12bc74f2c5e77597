"""The dataset a page or a run uses, described by a small dict of settings (``settings.DATA_SPEC``):
a readable label, a cache key, and loading and splitting catalogue, synthetic and uploaded data."""
from __future__ import annotations

from typing import Mapping

from ..settings import SYNTHETIC_OPTIONS


def data_label(data: Mapping) -> str:
    """Human-readable dataset description, e.g. 'Synthetic: long-range (distance 20, 2,000)'."""
    name = data.get("name", "")
    if name == "upload":
        return f"Upload: {data.get('filename', 'file')}"
    if name == "synthetic_long_range":
        return f"Synthetic long-range (distance {data.get('distance')}, {int(data.get('n_examples', 0)):,} sentences)"
    if name == "synthetic_negation":
        return f"Synthetic negation ({int(data.get('n_examples', 0)):,} sentences)"
    try:
        from . import get_info

        title = get_info(name).title
    except Exception:  # noqa: BLE001
        title = name
    extra = f", at most {int(data['max_examples']):,} per part" if data.get("max_examples") else ""
    if data.get("leave_out"):
        extra += f", without {data['leave_out']}"
    return f"{title}{extra}"


def dataset_key(data: Mapping) -> tuple:
    """Hashable cache key: only the options that change the loaded data."""
    name = data.get("name")
    keys = ["name", "max_examples", "split_seed", "leave_out", "test_share", "val_share"] + list(
        SYNTHETIC_OPTIONS.get(name, ()))
    if name == "uci_sentences":
        keys.append("source")
    if name == "upload":
        keys += ["sha", "text_column", "label_column", "threshold"]
    return tuple((k, data.get(k)) for k in keys)


def load_catalogue_splits(data: Mapping, progress=None):
    """Load a catalogue or synthetic dataset and split it (seeded, stratified).

    Returns:
        ``(LabeledDataset, DatasetSplits)``.

    Raises:
        DataError: unknown name, missing files, failed download, bad options.
    """
    from . import load_dataset, make_splits

    name = data["name"]
    options = {k: data[k] for k in SYNTHETIC_OPTIONS.get(name, ()) if k in data}
    if name == "uci_sentences" and data.get("source", "all") != "all":
        options["source"] = data["source"]
    seed = int(data.get("split_seed", 0))
    max_examples = int(data.get("max_examples") or 0) or None
    ds = leave_out(load_dataset(name, progress=progress, max_examples=max_examples, seed=seed, **options),
                   data.get("leave_out", ""))
    return ds, make_splits(ds, seed=seed, **split_shares(data))


def split_shares(data: Mapping) -> dict:
    """``make_splits`` fractions from the data settings (spec defaults when absent)."""
    from ..settings import DATA_SPEC

    return {"val_fraction": float(data.get("val_share", DATA_SPEC["val_share"].default)),
            "test_fraction": float(data.get("test_share", DATA_SPEC["test_share"].default))}


def leave_out(ds, classes: str):
    """``ds`` without the comma-separated ``classes`` (labels renumbered in the kept order).

    Raises:
        DataError: a class the dataset does not have, or fewer than two classes left.
    """
    from ..errors import DataError
    from .types import Examples, LabeledDataset

    names = [c.strip() for c in str(classes or "").split(",") if c.strip()]
    if not names:
        return ds
    unknown = [c for c in names if c not in ds.label_names]
    if unknown:
        raise DataError(f"{ds.name} has no class {', '.join(map(repr, unknown))} to leave out; its classes are "
                        f"{', '.join(ds.label_names)}")
    kept = [c for c in ds.label_names if c not in names]
    if len(kept) < 2:
        raise DataError(f"leaving out {', '.join(names)} leaves fewer than two classes of {ds.name}; "
                        "leave out fewer")
    index = {ds.label_names.index(c): i for i, c in enumerate(kept)}
    parts = {part: Examples([t for t, y in zip(ex.texts, ex.labels) if y in index],
                            [index[y] for y in ex.labels if y in index]) for part, ex in ds.parts.items()}
    dropped = sum(len(ex) for ex in ds.parts.values()) - sum(len(ex) for ex in parts.values())
    return LabeledDataset(ds.name, kept, parts, [*ds.notes, f"left out {', '.join(names)} ({dropped:,} examples)"])


def load_upload_splits(content: bytes, filename: str, data: Mapping):
    """Parse an uploaded file and split it.

    Returns:
        ``(LabeledDataset, UploadReport, DatasetSplits)``.

    Raises:
        DataError: with a message that says what to fix in the file.
    """
    from . import make_splits, parse_upload, subsample
    from .types import LabeledDataset

    ds, report = parse_upload(content, filename, text_column=data.get("text_column") or None,
                              label_column=data.get("label_column") or None, threshold=data.get("threshold"))
    seed = int(data.get("split_seed", 0))
    if data.get("max_examples"):
        parts = {k: subsample(v, int(data["max_examples"]), seed=seed) for k, v in ds.parts.items()}
        ds = LabeledDataset(ds.name, ds.label_names, parts, list(ds.notes))
    ds = leave_out(ds, data.get("leave_out", ""))
    return ds, report, make_splits(ds, seed=seed, **split_shares(data))


def token_counts(texts, tokenizer: Mapping | None = None):
    """Counter of training tokens (what the vocabulary is built from)."""
    from collections import Counter

    from ..text import Tokenizer, TokenizerConfig

    tok = Tokenizer(TokenizerConfig(**(tokenizer or {})))
    counts: Counter = Counter()
    for text in texts:
        counts.update(tok(text))
    return counts


def vocab_size_for(counts, min_freq: int, max_size: int) -> int:
    """Rows of the embedding table the Train page's summary should assume."""
    kept = sum(1 for c in counts.values() if c >= min_freq)
    return max(2, min(int(max_size), kept + 2))


def class_counts(labels, label_names) -> dict[str, int]:
    """Examples per class name."""
    counts = {n: 0 for n in label_names}
    for label in labels:
        counts[label_names[label]] += 1
    return counts
