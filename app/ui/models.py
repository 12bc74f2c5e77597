"""The model picker: shipped models, runs with a checkpoint and uploaded bundles, all from the
one registry (``sentiment_core.registry``) and its one cache."""
from __future__ import annotations

import streamlit as st

from sentiment_core.errors import CheckpointError
from sentiment_core.registry import LoadedModel, ModelLookupError, shared_registry

UPLOAD_CHOICE = "upload"
EXPLAIN_PREFERENCE = ("lstm", "bilstm", "gru", "rnn")


def _take_upload(key: str, file_key: str) -> None:
    """File-uploader callback: load the bundle and select it (before the picker is drawn)."""
    file = st.session_state.get(file_key)
    if file is None:
        return
    try:
        st.session_state[key] = shared_registry().add_upload(file.getvalue(), file.name).key
        st.session_state.pop("gs_upload_error", None)
    except CheckpointError as error:
        st.session_state["gs_upload_error"] = f"**{file.name}** cannot be used: {error}"


def picker(key: str = "model", container=None, help: str | None = None) -> LoadedModel | None:
    """A select box of every model, with an upload option; errors are shown, never raised.

    Args:
        key: session-state key of the choice (shared by the pages that use the same key).
        container: where to draw it.
        help: tooltip.

    Returns:
        The loaded model, or None (after saying why) when none can be used.
    """
    where = container or st
    registry = shared_registry()
    entries = {e.key: e for e in registry.entries()}
    keys = [*entries, UPLOAD_CHOICE]
    if st.session_state.get(key) not in keys:
        if st.session_state.get(key):
            where.warning(f"The model {st.session_state[key]!r} is not available here (any more), so the default "
                          "is shown. Uploaded bundles live in the server's memory only: upload it again.")
        default = registry.default_key(EXPLAIN_PREFERENCE)
        st.session_state[key] = default if default is not None else UPLOAD_CHOICE
    labels = {k: e.label for k, e in entries.items()}
    labels[UPLOAD_CHOICE] = "Upload a model bundle (.safetensors)…"
    choice = where.selectbox("Model", keys, key=key, format_func=labels.get,
                             help=help or "Shipped models, your runs' best checkpoints, or a bundle file.")
    if choice == UPLOAD_CHOICE:
        where.file_uploader("Model bundle", type=["safetensors"], key=f"{key}_file", on_change=_take_upload,
                            args=(key, f"{key}_file"),
                            help="A .safetensors bundle downloaded from the Train page (or saved with GateScope's "
                                 "save_checkpoint). Pickled .pt/.pth files are refused because loading them can "
                                 "run code.")
        if st.session_state.get("gs_upload_error"):
            where.error(st.session_state["gs_upload_error"])
        else:
            where.info("Upload a bundle to explain it.")
        return None
    try:
        return registry.load(choice)
    except (CheckpointError, ModelLookupError, OSError) as error:
        where.error(f"This model cannot be loaded: {error}")
        return None
