"""Declarative ranges and defaults for every user-facing setting (LIT's ``config_spec``).

Modules declare a ``*_SPEC`` dict next to the code the settings control; pages and the CLI
read it to build sliders, select boxes and flags, and the config dataclasses read their field
defaults from it (``field: int = SPEC["field"].default``), so ranges and defaults live in
exactly one place.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any


@dataclass(frozen=True)
class ParamSpec:
    """Range, default and help text for one setting.

    Attributes:
        default: default value; the config dataclass field reads its default from here.
        help: one sentence a student can read.
        min, max, step: numeric range for sliders; ``None`` for choices/flags.
        choices: allowed values for a select box.
        log: the value is best chosen on a log scale (learning rates).
        label: short widget label.
    """

    default: Any
    help: str
    label: str = ""
    min: float | None = None
    max: float | None = None
    step: float | None = None
    choices: tuple | None = None
    log: bool = False

    def validate(self, name: str, value: Any) -> None:
        """Raise ValueError naming the valid range or choices when ``value`` is outside them."""
        if self.choices is not None and value not in self.choices:
            raise ValueError(f"unknown {name} {value!r}; valid: {', '.join(map(str, self.choices))}")
        if self.min is not None and value is not None and value < self.min:
            raise ValueError(f"{name}={value} is below the minimum {self.min}")
        if self.max is not None and value is not None and value > self.max:
            raise ValueError(f"{name}={value} is above the maximum {self.max}")


def dataclass_from_dict(cls, data: dict, what: str):
    """Build dataclass ``cls`` from ``data``; unknown keys raise ValueError listing valid ones.

    Args:
        cls: the config dataclass.
        data: field values (e.g. from JSON).
        what: words for the message, e.g. ``"model option"``.

    Returns:
        The instance (its own validation runs too).
    """
    valid = {f.name for f in fields(cls)}
    unknown = set(data) - valid
    if unknown:
        raise ValueError(f"unknown {what}(s) {sorted(unknown)}; valid: {', '.join(sorted(valid))}")
    return cls(**data)
