"""Shared helpers for the AppTest and browser tests: tiny models, runs and a live server."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "app"
for _path in (ROOT, APP):  # the package, and app/ui as `streamlit run app/Home.py` sees it
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

SMALL_DATA = {"name": "synthetic_negation", "n_examples": 300, "distance": 20, "noise": 0.0, "max_examples": 0,
              "source": "all", "split_seed": 0}
TIMEOUT = 90  # AppTest default_timeout: generous for 2 shared cores


def page_path(name: str) -> str:
    """Absolute path of a script under ``app/`` (``Home.py`` or ``views/train.py``)."""
    return str(APP / name)


def open_page(key: str, query: dict | None = None, state: dict | None = None, run: bool = True):
    """An AppTest of the whole app (the frame in ``app/Home.py``) showing page ``key`` of the page
    table, opened with the link's ``query`` and the given session ``state``."""
    from streamlit.testing.v1 import AppTest
    from ui.frame import BY_KEY

    at = AppTest.from_file(page_path("Home.py"), default_timeout=TIMEOUT)
    for name, value in (query or {}).items():
        at.query_params[name] = value
    for name, value in (state or {}).items():
        at.session_state[name] = value
    if key != "home":
        at.switch_page(BY_KEY[key].script)
    return at.run() if run else at


def shown(markdown: str) -> str:
    """What a reader sees of a Markdown element's text: the character references ``text.plain``
    writes decoded, its invisible word joiners dropped."""
    import html

    from sentiment_core.text import WORD_JOINER

    return html.unescape(markdown).replace(WORD_JOINER, "")


def query_of(at) -> dict[str, str]:
    """The AppTest's query string as plain strings."""
    return {k: (v[-1] if isinstance(v, list) else v) for k, v in at.query_params.items()}


def small_splits(n: int = 300, seed: int = 0):
    from sentiment_core.data import make_negation, make_splits

    return make_splits(make_negation(n, seed=seed), seed=seed)


def train_bundle(cell: str = "lstm", epochs: int = 3, n: int = 400, **model):
    """A small trained bundle on the synthetic negation set (a few seconds on CPU)."""
    import torch

    from sentiment_core.pipeline import VocabConfig, train_on_splits
    from sentiment_core.trainer import TrainConfig

    torch.set_num_threads(2)
    options = {"cell": cell, "emb_dim": 16, "hidden_dim": 16, **model}
    outcome = train_on_splits(small_splits(n), options, TrainConfig(epochs=epochs, batch_size=32, lr=1e-2,
                                                                       device="cpu", patience=0),
                              vocab_config=VocabConfig(min_freq=1, max_size=500), encoding={"max_len": 30})
    return outcome.bundle


def tiny_pretrained_dir(target: Path, cells=("lstm", "gru")) -> Path:
    """A folder laid out like ``pretrained/``: the real shipped models when present
    (fast, realistic), else tiny ones trained here."""
    from sentiment_core.checkpoint import save_checkpoint

    real = ROOT / "pretrained"
    target.mkdir(parents=True, exist_ok=True)
    if (real / "lstm.safetensors").is_file():
        for cell in cells:
            src = real / f"{cell}.safetensors"
            if src.is_file():
                shutil.copy(src, target / src.name)
        return target
    for cell in cells:
        bundle = train_bundle(cell)
        bundle.card = {"title": f"Tiny {cell.upper()} (test)", "architecture": cell.upper(), "task": "movie",
                       "metrics": {}}
        save_checkpoint(target / f"{cell}.safetensors", bundle)
    return target


def completed_run(root: Path, cell: str = "lstm", epochs: int = 2, **model) -> str:
    """Train a real (tiny) run into ``root`` with the thread executor and return its name."""
    from sentiment_core import runs

    queue = runs.RunQueue(root, max_concurrent=1, executor="thread")
    try:
        name = queue.submit(runs.RunRequest(small_splits(), {"cell": cell, "emb_dim": 16, "hidden_dim": 16, **model},
                                            {"epochs": epochs, "batch_size": 32, "lr": 1e-2, "device": "cpu"},
                                            {**SMALL_DATA, "label": "Synthetic negation (300)"},
                                            vocab={"min_freq": 1, "max_size": 500}, label=cell,
                                            encoding={"max_len": 30}))
        queue.wait(name, 120)
    finally:
        queue.close()
    return name


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic",
                 "--disable-dev-shm-usage"]


def start_server(env: dict, port: int | None = None, script: str = "Home.py",
                 root: Path = ROOT) -> tuple[subprocess.Popen, str]:
    """``streamlit run app/Home.py`` on a free loopback port; returns the process and URL once the
    port accepts connections (the server may still be warming up: see ``wait_healthy``).

    Args:
        env: environment variables added to this process's.
        port: the port, or None for a free one.
        script: the script under ``app/``.
        root: the checkout whose app and package run (a benchmark's baseline may be another).
    """
    port = port or free_port()
    cmd = [sys.executable, "-m", "streamlit", "run", str(root / "app" / script), "--server.headless", "true",
           "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
           "--server.fileWatcherType", "none"]
    proc = subprocess.Popen(cmd, cwd=root, env={**os.environ, "PYTHONPATH": str(root), **env},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited: {proc.stdout.read().decode(errors='replace')[-2000:]}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return proc, url
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("streamlit did not start within 60 s")


def wait_healthy(url: str, timeout_s: float = 90.0) -> None:
    """Wait until the server answers ``/_stcore/health`` (a warming server answers only once warm)."""
    deadline = time.time() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:  # refused, reset or timed out: not up yet
            pass
        if time.time() > deadline:
            raise RuntimeError(f"{url} did not answer /_stcore/health within {timeout_s:.0f} s")
        time.sleep(0.05)


def cold_start(page, env: dict, timeout_s: float = 90.0,
               root: Path = ROOT) -> tuple[subprocess.Popen, str, float, float]:
    """Start the app and open Home in ``page`` as soon as the server answers (a benchmark's cold start).

    Returns:
        The server process, its URL, and the seconds to the Home verdict from process start and
        from the first connection (the page's request, sent once ``/_stcore/health`` answers).
    """
    page.goto("about:blank")
    start = time.perf_counter()
    proc, url = start_server(env, root=root)
    try:
        wait_healthy(url, timeout_s)
        connected = time.perf_counter()
        page.goto(url, wait_until="domcontentloaded", timeout=timeout_s * 1000)
        page.locator(".gs-verdict").wait_for(timeout=timeout_s * 1000)
    except Exception:
        stop_server(proc)
        raise
    end = time.perf_counter()
    return proc, url, end - start, end - connected


def stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


_SHARED: dict = {}


def shared_pretrained_dir() -> Path:
    """One pretrained folder for the whole test session (built once per process)."""
    import tempfile

    if "pretrained" not in _SHARED:
        _SHARED["pretrained"] = tiny_pretrained_dir(Path(tempfile.mkdtemp(prefix="gatescope-pretrained-")))
    return _SHARED["pretrained"]


def app_env(monkeypatch, tmp_path: Path) -> Path:
    """Point the app at a fresh runs folder, the thread executor and the shared models."""
    runs_dir = tmp_path / "runs"
    monkeypatch.setenv("GATESCOPE_RUNS_DIR", str(runs_dir))
    monkeypatch.setenv("GATESCOPE_RUN_EXECUTOR", "thread")
    monkeypatch.setenv("GATESCOPE_PRETRAINED_DIR", str(shared_pretrained_dir()))
    return runs_dir


def wait_for(at, predicate, timeout: float = 90.0, interval: float = 0.5):
    """Rerun an AppTest until ``predicate(at)`` holds (background training)."""
    deadline = time.time() + timeout
    while True:
        at.run()
        if predicate(at):
            return at
        if time.time() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(interval)
