"""A runs folder with one sound run and a copy of it for each kind of damage a disk, an editor
or a killed process can leave (issue 22, item 8).

``write_damaged_runs(root)`` trains one tiny run into ``root`` and returns ``{run name: words
its problem must contain}`` for every damaged copy; two more entries that are not runs at all
(a file where a run folder would be, a folder whose name is not UTF-8) must simply be ignored.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Callable

from browser.app_support import completed_run


def _line_start(raw: bytes, line: int) -> int:
    """Byte offset where 1-based ``line`` starts."""
    offset = 0
    for _ in range(line - 1):
        offset = raw.index(b"\n", offset) + 1
    return offset


def _bad_byte(run: Path) -> None:
    raw = bytearray((run / "epochs.jsonl").read_bytes())
    raw[_line_start(raw, 2)] = 0xFF  # the '{' of line 2 becomes a byte that is not UTF-8
    (run / "epochs.jsonl").write_bytes(bytes(raw))


def _bad_json_line(run: Path) -> None:
    lines = (run / "epochs.jsonl").read_text().splitlines(keepends=True)
    lines[1] = lines[1].replace(",", ",,", 1)
    (run / "epochs.jsonl").write_text("".join(lines))


def _cut_short(run: Path) -> None:
    raw = (run / "epochs.jsonl").read_bytes()
    (run / "epochs.jsonl").write_bytes(raw[:-15])


def _edit(file: str, change) -> Callable[[Path], None]:
    def damage(run: Path) -> None:
        data = json.loads((run / file).read_text())
        change(data)
        (run / file).write_text(json.dumps(data))
    return damage


def _replace(file: str, content: bytes | str) -> Callable[[Path], None]:
    def damage(run: Path) -> None:
        (run / file).write_bytes(content if isinstance(content, bytes) else content.encode())
    return damage


def _truncate(file: str) -> Callable[[Path], None]:
    def damage(run: Path) -> None:
        raw = (run / file).read_bytes()
        (run / file).write_bytes(raw[: len(raw) // 2])
    return damage


# run name -> (what is done to a copy of the sound run, words its listed problem contains)
DAMAGE = {
    "epochs-bad-byte": (_bad_byte, "epochs.jsonl line 2 is not valid UTF-8"),
    "epochs-bad-line": (_bad_json_line, "epochs.jsonl line 2 is not valid JSON"),
    "epochs-cut-short": (_cut_short, "epochs.jsonl line 3 is cut short"),
    "result-not-object": (_replace("result.json", "[0.5, 0.7]"), "result.json holds a JSON list instead of an object"),
    "result-bad-json": (_truncate("result.json"), "result.json is not valid JSON"),
    "result-wrong-type": (_edit("result.json", lambda d: d.update(test_accuracy="high")),
                          "result.json: test_accuracy is 'high', not a number"),
    "config-bad-json": (_truncate("config.json"), "config.json is not valid JSON"),
    "config-wrong-type": (_edit("config.json", lambda d: d["model"].update(hidden_dim="abc")),
                          "config.json: model.hidden_dim is 'abc', not a whole number"),
    "config-deep": (_replace("config.json", "[" * 100_000 + "]" * 100_000), "config.json is nested too deeply"),
    "status-bad-json": (_replace("status.json", b'{"state": "compl\xff'), "status.json is not valid UTF-8"),
    "status-unknown-state": (_edit("status.json", lambda d: d.update(state="exploded")),
                             "status.json has an unknown state 'exploded'"),
    "checkpoint-missing": (lambda run: (run / "best.safetensors").unlink(), "best.safetensors is missing"),
    "checkpoint-empty": (_replace("best.safetensors", b""), "best.safetensors is empty (0 bytes)"),
}
NOT_RUNS = ("a-file-not-a-folder", os.fsdecode(b"bad-\xff-name"))


def write_damaged_runs(root: Path) -> tuple[str, dict[str, str]]:
    """Train one sound run into ``root`` and add a damaged copy of it per ``DAMAGE`` entry.

    Returns:
        The sound run's name, and ``{damaged run name: words its problem contains}``.
    """
    good = completed_run(root, "lstm", epochs=3)
    for name, (damage, _) in DAMAGE.items():
        shutil.copytree(root / good, root / name)
        damage(root / name)
    (root / NOT_RUNS[0]).write_text("not a run")
    shutil.copytree(root / good, root / NOT_RUNS[1])
    return good, {name: words for name, (_, words) in DAMAGE.items()}
