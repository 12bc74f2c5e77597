"""The frame every page runs in: one page table, page config, house CSS, torch threads and the
session's state, set up once per run by ``app/Home.py``."""
from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import gc
import os
import sys
import time
from dataclasses import dataclass

import streamlit as st
from streamlit.logger import get_logger

APP_THREADS_ENV = "GATESCOPE_APP_THREADS"


@dataclass(frozen=True)
class PageEntry:
    """One row of the page table.

    Attributes:
        key: short name used in links between pages and as the URL path (``""`` for Home).
        script: the page file, relative to ``app/``.
        title: navigation label.
        icon: navigation icon.
        blurb: one line for Home's "Where next?" cards.
    """

    key: str
    script: str
    title: str
    icon: str
    blurb: str


PAGES = (
    PageEntry("home", "views/home.py", "Home", "🔬", "Type a review and see the verdict and the gates."),
    PageEntry("data", "views/data.py", "Data", "📚", "Pick a dataset, upload your own, or generate a synthetic "
              "teaching set. See lengths, classes, vocabulary and tokens."),
    PageEntry("train", "views/train.py", "Train", "🏋️", "Build an RNN, LSTM or GRU with sliders, train it in the "
              "background and watch the curves grow."),
    PageEntry("compare", "views/compare.py", "Compare", "⚖️", "RNN vs LSTM vs GRU, learning rates, dropout and "
              "overfitting: overlay runs and put one sentence through every model."),
    PageEntry("gallery", "views/gallery.py", "Class gallery", "🏫", "Every finished run of the room: accuracy "
              "against size by cell, who trained what, one click to Compare or Explain."),
    PageEntry("dataset", "views/dataset.py", "Dataset", "🗂️", "A whole test set through one model: confident "
              "errors, slices with intervals, two models paired, a map of the sentence vectors, units."),
    PageEntry("explain", "views/explain.py", "Explain", "🔍", "Gate heatmaps, hidden states, integrated gradients, "
              "saliency, occlusion and what-if edits for any model."),
    PageEntry("inside", "views/inside.py", "Inside the cell", "🧮", "Step through one time step with the "
              "real numbers and the equations; count the parameters by hand."),
    PageEntry("gradients", "views/gradients.py", "Gradients", "📉", "Why plain RNNs forget: vanishing gradients, "
              "the long-range experiment and gradient clipping."),
)
BY_KEY = {p.key: p for p in PAGES}

CSS = """
<style>
/* Projector-friendly: bigger widget labels and metrics, roomy token chips. */
[data-testid="stWidgetLabel"] p { font-size: 1.0rem; font-weight: 600; }
[data-testid="stMetricValue"] { font-size: 2.0rem; }
.gs-card { border: 1px solid #D9E2EC; border-radius: 14px; padding: 1rem 1.1rem; height: 100%;
           background: #F8FAFC; }
.gs-card h4 { margin: 0 0 .3rem 0; }
.gs-muted { color: #52606D; font-size: 0.95rem; }
.gs-verdict { font-size: 2.1rem; font-weight: 700; margin: .2rem 0 .4rem 0; }
/* Pills and segmented controls wrap onto more lines instead of scrolling out of sight ("The ac…"). */
[data-testid="stButtonGroup"] div:has(> button) { flex-wrap: wrap !important; overflow: visible !important; }
[data-testid="stButtonGroup"] button div { white-space: normal !important; text-overflow: clip !important; }
/* ...and a pill longer than a phone's width wraps inside itself instead of running off the screen. */
[data-testid="stButtonGroup"] button { max-width: 100% !important; height: auto !important; }
/* the cookie writer (ui/identity.py) takes no room */
.st-key-gs_cookies { display: none !important; }
</style>
"""

_PAGE_OBJECTS: dict[str, st.Page] = {}


def setup() -> None:
    """Page config, CSS and (once per process) the UI's torch threads."""
    st.set_page_config(page_title="GateScope", page_icon="🔬", layout="wide")
    st.markdown(CSS, unsafe_allow_html=True)
    _torch_threads()


def _torch_threads() -> None:
    """The UI process's torch threads, set once per process."""
    if not _PAGE_OBJECTS.get("_threads"):
        # Training runs in worker processes; the UI process keeps to few threads so the two never
        # oversubscribe the cores (OpenMP spinning makes every click slow).
        import torch

        torch.set_num_threads(max(1, int(os.environ.get(APP_THREADS_ENV, "1") or 1)))
        _PAGE_OBJECTS["_threads"] = True


WARM_LOG = "GateScope is warm"


def warm_up() -> str:
    """Do at server start what the first visitor would wait for: import torch, Plotly and Captum,
    load every shipped model into the process-wide registry the pages read (``shared_registry``),
    put a sentence through each and draw Home's charts once, then freeze the imports.

    A model that cannot be loaded is named in the line and left to the pages, which say why.

    Returns:
        One log line: ``WARM_LOG``, the seconds taken and the models loaded.
    """
    started = time.perf_counter()
    _torch_threads()
    import captum.attr  # noqa: F401 - Explain's attributions import it on first use

    from sentiment_core import plots
    from sentiment_core.errors import GateScopeError
    from sentiment_core.explain.trace import ACTIVATIONS, trace
    from sentiment_core.registry import shared_registry
    from sentiment_core.settings import EXAMPLES

    registry = shared_registry()
    loaded, failed = [], []
    for entry in registry.shipped()[:registry.cache_size]:  # no more than the cache keeps
        try:
            traced = trace(registry.load(entry.key).bundle, EXAMPLES[2])
        except (GateScopeError, ValueError) as error:  # the pages' own catch: a readable message
            failed.append(f"{entry.key} ({error})")
            continue
        if not loaded:  # Home's two charts, built and serialized as st.plotly_chart does, so Plotly is loaded too
            pred = traced.prediction
            plots.probability_bars(dict(zip(pred.label_names, map(float, pred.probabilities)))).to_json()
            plots.gate_overview(plots.gate_means(traced.get(0, 0).gates, ACTIVATIONS), list(traced.tokens),
                                gated=traced.cell != "rnn").to_json()
        loaded.append(entry.key)
    freeze_imports()
    return (f"{WARM_LOG} in {time.perf_counter() - started:.1f} s: loaded {len(loaded)} of "
            f"{len(loaded) + len(failed)} shipped models ({', '.join(loaded)})"
            + (f"; not loaded: {'; '.join(failed)}" if failed else ""))


@contextlib.asynccontextmanager
async def warm_lifespan(_app):
    """The server's start-up (``st.App`` lifespan in ``app/Home.py``): ``warm_up`` in a worker thread,
    before the server answers its first request; logged, never fatal (a cold server still serves)."""
    log = get_logger(__name__)
    try:
        log.info(await asyncio.to_thread(warm_up))
    except Exception as error:  # noqa: BLE001 - the first visitor then pays for the start-up instead
        log.warning("GateScope could not warm up (%s: %s); the first visit loads what it needs", type(error).__name__,
                    error)
    yield


def _glibc_trim():
    """glibc's ``malloc_trim``, or None off glibc (macOS, Windows, musl)."""
    try:
        trim = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


_MALLOC_TRIM = _glibc_trim()
TRIM_INTERVAL_S = 1.0
_last_trim = [0.0]


def release_memory() -> None:
    """Hand freed heap pages back to the OS after a script run, at most once a second.

    Every Streamlit rerun runs in a fresh thread, and glibc keeps what a run freed (a trace, a
    batch of gate values) in that thread's arena: without a trim the server's resident memory
    ratchets up to its worst moment and stays there (what Dask's workers do for the same reason).
    """
    now = time.monotonic()
    if _MALLOC_TRIM is not None and now - _last_trim[0] >= TRIM_INTERVAL_S:
        _last_trim[0] = now
        _MALLOC_TRIM(0)


REFREEZE_S = 120.0
_frozen_at = [0, 0.0]  # len(sys.modules) and time.monotonic() at the last freeze


def freeze_imports() -> None:
    """Keep what imports built out of every later garbage collection, after a script run.

    Streamlit runs a full collection after each script run (``runner.postScriptGC``), holding the
    GIL while it walks every tracked object: with torch, Plotly and pandas loaded that is about
    320,000 objects and 170 ms, in which the server cannot send the run's last messages, so every
    click paid for it. When new modules have arrived (a process's first run, a page's first visit),
    everything alive is collected once and moved to the permanent generation (``gc.freeze``), so
    later collections walk only what runs create since: about 2 ms. A freeze also holds what other
    sessions had in hand at that moment; reference counting still frees it, but not cycles, so
    every ``REFREEZE_S`` the frozen objects are collected once more and frozen again.
    """
    now = time.monotonic()
    if len(sys.modules) != _frozen_at[0] or now - _frozen_at[1] >= REFREEZE_S:
        gc.unfreeze()
        gc.collect()
        gc.freeze()
        _frozen_at[:] = [len(sys.modules), now]


def navigation():
    """``st.navigation`` over the page table (the page to run)."""
    pages = [st.Page(p.script, title=p.title, icon=p.icon, url_path=None if p.key == "home" else p.key,
                     default=p.key == "home") for p in PAGES]
    for entry, page in zip(PAGES, pages):
        _PAGE_OBJECTS[entry.key] = page
    return st.navigation(pages)


def link(key: str, label: str | None = None, icon: str | None = None, container=None,
         query: dict[str, str] | None = None) -> None:
    """A link to another page of the table, optionally opening it with ``query`` state."""
    entry = BY_KEY[key]
    (container or st).page_link(_PAGE_OBJECTS.get(key, entry.script), label=label or entry.title,
                                icon=icon or entry.icon, query_params=query)
