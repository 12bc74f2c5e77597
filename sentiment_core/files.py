"""Reading what a person or a file hands in: a file they named (a command-line flag, an import path),
checked before it is read, and JSON whose every failure is a message."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .errors import GateScopeError


def read_named_file(path: str | os.PathLike, limit: int, what: str,
                    error: type[Exception] = GateScopeError) -> bytes:
    """The bytes of the file at ``path``, refused before reading when it is a folder, missing or too big.

    Args:
        path: the file a person named.
        limit: the most bytes read.
        what: how the message names it (``"--input"``, ``"the vocabulary"``).
        error: the exception type raised.

    Raises:
        error: with what to give instead.
    """
    path = Path(path)
    if path.is_dir():
        raise error(f"{what} {path} is a folder, not a file; give the file itself")
    if not path.is_file():
        raise error(f"{what} {path}: no such file")
    size = path.stat().st_size
    if size > limit:
        raise error(f"{what} {path.name} is {size / 2**20:,.1f} MiB; at most {limit / 2**20:,.0f} MiB are read: "
                    "give a smaller file (split it, or keep the part you need)")
    try:
        return path.read_bytes()
    except OSError as failure:
        raise error(f"{what} {path} could not be read ({failure.strerror or failure})") from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def parse_json(raw: str | bytes, what: str, error: type[Exception] = GateScopeError, advice: str = "",
               finite: bool = False) -> Any:
    """``json.loads`` whose every failure (bad UTF-8, bad syntax, nesting deeper than the parser can
    recurse) is ``error`` naming ``what``.

    Args:
        raw: the JSON, as text or as UTF-8 bytes.
        what: words naming it, e.g. ``"config.json"``.
        error: the exception type raised.
        advice: what to do, ending the message ("" for none).
        finite: refuse NaN and Infinity (Python writes them; JSON has no such numbers).

    Returns:
        The parsed value.
    """
    tail = f"; {advice}" if advice else ""
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as failure:
            raise error(f"{what} is not valid UTF-8 text (bad byte at position {failure.start}){tail}") from None
    try:
        return json.loads(raw, **({"parse_constant": _no_constant} if finite else {}))
    except RecursionError:  # the parser recurses once per nested [ or {
        raise error(f"{what} is nested too deeply to be read (lists or objects inside each other hundreds "
                    f"of times){tail}") from None
    except json.JSONDecodeError as failure:
        at = (f"line {failure.lineno}, column {failure.colno}" if "\n" in raw.rstrip("\n")
              else f"column {failure.colno}")
        raise error(f"{what} is not valid JSON ({failure.msg} at {at}){tail}") from None
    except ValueError as failure:
        raise error(f"{what} is not valid JSON ({failure}){tail}") from None
