"""Reading a file a person named (a command-line flag, an import path): checked before it is read."""
from __future__ import annotations

import os
from pathlib import Path

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
