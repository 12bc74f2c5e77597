"""Plain containers for labelled text shared by loaders, splitters and the trainer."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field


@dataclass
class Examples:
    """Parallel lists of texts and integer labels (indices into ``label_names``)."""

    texts: list[str]
    labels: list[int]

    def __post_init__(self) -> None:
        if len(self.texts) != len(self.labels):
            raise ValueError(f"{len(self.texts)} texts but {len(self.labels)} labels")

    def __len__(self) -> int:
        return len(self.texts)


@dataclass
class LabeledDataset:
    """A dataset as loaded: named parts (``train``/``validation``/``test`` where the
    source defines an official split, otherwise a single ``all`` part).

    Attributes:
        name: catalogue name or a user-given name for uploads.
        label_names: class names; label ``i`` means ``label_names[i]``.
        parts: mapping from part name to examples.
        notes: human-readable remarks from loading (rows dropped, repairs made).
    """

    name: str
    label_names: list[str]
    parts: dict[str, Examples]
    notes: list[str] = field(default_factory=list)

    def fingerprint(self) -> str:
        """Short sha256 over every part's texts and labels (stable across runs)."""
        digest = hashlib.sha256()
        digest.update("\x1f".join(self.label_names).encode())
        for part in sorted(self.parts):
            digest.update(part.encode())
            for text, label in zip(self.parts[part].texts, self.parts[part].labels):
                digest.update(text.encode("utf-8", "surrogatepass"))
                digest.update(b"\x1e%d\x1d" % label)
        return digest.hexdigest()[:16]

    def __len__(self) -> int:
        return sum(len(p) for p in self.parts.values())


@dataclass
class DatasetSplits:
    """Train / validation / test examples ready for training."""

    name: str
    label_names: list[str]
    train: Examples
    validation: Examples
    test: Examples
    fingerprint: str
    notes: list[str] = field(default_factory=list)

    @property
    def num_classes(self) -> int:
        return len(self.label_names)


MAX_LABEL_NAME_CHARS = 40  # a class name is a word or two; longer ones cannot be drawn as a verdict


def label_name_problem(name: object) -> str | None:
    """Why ``name`` cannot be a class name, or None when it is plain text GateScope can show.

    Class names come from uploads (a CSV's label column, a bundle, the import form) and are shown to
    every session, so they must be short, printable, single-line text. HTML-like text such as
    ``<b>`` is allowed here: every page escapes it where it is drawn.
    """
    text = str(name)
    if not text.strip():
        return "an empty class name"
    if len(text) > MAX_LABEL_NAME_CHARS:
        return f"the class name {text[:20]!r}... has {len(text)} characters (at most {MAX_LABEL_NAME_CHARS})"
    if any(not ch.isprintable() for ch in text):
        return f"the class name {text!r} has control or invisible characters (tabs, line breaks, ...)"
    return None


def check_label_names(names: list, error: type[Exception] = ValueError) -> list[str]:
    """``names`` as strings, or ``error`` naming every class name that is not plain short text.

    Args:
        names: class names, one per class.
        error: the exception type to raise (``DataError`` for uploads, ``CheckpointError`` for imports).

    Returns:
        The names as a list of str.
    """
    problems = [p for p in map(label_name_problem, names) if p]
    if problems:
        raise error("Class names must be plain text: " + "; ".join(problems[:3])
                    + (f" (and {len(problems) - 3} more)" if len(problems) > 3 else "")
                    + ". Rename the classes in your file and try again.")
    return [str(n) for n in names]
