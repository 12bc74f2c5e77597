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
