"""The server warms itself at start (``app/Home.py``'s ``st.App`` lifespan, ``frame.warm_up``): the
shipped models are loaded before any browser connects, and a model that cannot be loaded is named
without stopping the start."""
from __future__ import annotations

import json
import struct
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "browser"))

from app_support import start_server, stop_server, tiny_pretrained_dir, wait_healthy  # noqa: E402
from ui.frame import WARM_LOG  # noqa: E402


def wider_header_copy(src: Path, dst: Path) -> None:
    """A copy of bundle ``src`` whose header describes a model twice as wide as its weights."""
    raw = src.read_bytes()
    size = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + size])
    meta = json.loads(header["__metadata__"]["gatescope"])
    meta["model_config"]["hidden_dim"] *= 2
    header["__metadata__"]["gatescope"] = json.dumps(meta)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    dst.write_bytes(struct.pack("<Q", len(text)) + text + raw[8 + size:])


def test_models_are_loaded_before_any_browser_connects(tmp_path):
    pretrained = tiny_pretrained_dir(tmp_path / "pretrained", cells=("lstm",))
    wider_header_copy(pretrained / "lstm.safetensors", pretrained / "gru.safetensors")
    proc, url = start_server({"GATESCOPE_RUNS_DIR": str(tmp_path / "runs"),
                              "GATESCOPE_PRETRAINED_DIR": str(pretrained)})
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(raw.decode(errors="replace") for raw in proc.stdout),
                     daemon=True).start()
    try:
        deadline = time.time() + 90
        while not any(WARM_LOG in line for line in lines):  # no request is sent until the line shows
            assert proc.poll() is None and time.time() < deadline, f"no {WARM_LOG!r} line:\n{''.join(lines)}"
            time.sleep(0.1)
        warm = next(line for line in lines if WARM_LOG in line)
        assert "loaded 1 of 2 shipped models (lstm); not loaded: gru (" in warm, warm
        wait_healthy(url, 30)  # and the server answers
    finally:
        stop_server(proc)
