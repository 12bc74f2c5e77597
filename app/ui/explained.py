"""One cached trace per (model version, text), shared by every page and tab that reads one.

``st.cache_resource`` hands back the same object on every rerun (``st.cache_data`` would unpickle
a fresh copy each time, and each page kept its own cache), and keeps at most ``MAX_TRACES``:
a 512-token BiLSTM trace holds about 6 MB of gates and states, so this bound is what keeps the
server's memory flat however many sentences a class types. Callers only read the trace.
"""
import streamlit as st

from sentiment_core.explain import Trace, trace
from sentiment_core.registry import shared_registry

MAX_TRACES = 24


@st.cache_resource(show_spinner=False, max_entries=MAX_TRACES)
def shared_trace(cache_key: str, model: str, text: str) -> Trace:
    """The trace of ``text`` through registry model ``model`` (``cache_key`` names its version)."""
    return trace(shared_registry().load(model).bundle, text)
