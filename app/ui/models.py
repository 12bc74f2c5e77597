"""The model picker: shipped models, runs with a checkpoint and uploaded bundles, all from the
one registry (``sentiment_core.registry``) and its one cache."""
from __future__ import annotations

import tempfile
from pathlib import Path

import streamlit as st

from sentiment_core import classroom
from sentiment_core.checkpoint import save_checkpoint
from sentiment_core.encoding import SIDES
from sentiment_core.errors import CheckpointError
from sentiment_core.importers import (HEAD_INPUT_HELP, HEAD_INPUTS, KERAS_SUFFIXES, TEXT_PRESETS, TORCH_SUFFIXES,
                                      ImportOptions, import_model)
from sentiment_core.registry import (RUN_PREFIX, SOURCES, LoadedModel, ModelEntry, ModelLookupError, ModelRegistry,
                                     shared_registry)
from sentiment_core.text import plain
from ui import classroom as classroom_ui

UPLOAD_CHOICE = "upload"
IMPORT_CHOICE = "import"
EXPLAIN_PREFERENCE = ("lstm", "bilstm", "gru", "rnn")
RUN_HINT = "A run opens here once it is yours, or once it has finished and the teacher has not hidden it."


def _take_upload(key: str, file_key: str) -> None:
    """File-uploader callback: load the bundle and select it (before the picker is drawn)."""
    file = st.session_state.get(file_key)
    if file is None:
        return
    try:
        st.session_state[key] = shared_registry().add_upload(file.getvalue(), file.name).key
        st.session_state.pop("gs_upload_error", None)
    except CheckpointError as error:
        st.session_state["gs_upload_error"] = f"**{plain(file.name)}** cannot be used: {plain(error)}"


def _take_import(key: str) -> None:
    """Import-button callback: turn a tutorial's weights + vocabulary into a bundle and select it."""
    weights, vocab = st.session_state.get(f"{key}_weights"), st.session_state.get(f"{key}_vocab")
    if weights is None or vocab is None:
        st.session_state["gs_import_error"] = "Choose both the weights file and the vocabulary file first."
        return
    labels = [n.strip() for n in st.session_state.get(f"{key}_labels", "").split(",") if n.strip()] or None
    options = ImportOptions(head_input=st.session_state.get(f"{key}_head_input"),
                            max_len=int(st.session_state.get(f"{key}_max_len", ImportOptions.max_len)),
                            padding=st.session_state.get(f"{key}_padding"), labels=labels,
                            packed=bool(st.session_state.get(f"{key}_packed", False)),
                            preset=st.session_state.get(f"{key}_preset"),
                            lowercase=st.session_state.get(f"{key}_lowercase"),
                            truncation=st.session_state.get(f"{key}_truncation"))
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            (folder / Path(weights.name).name).write_bytes(weights.getvalue())
            (folder / Path(vocab.name).name).write_bytes(vocab.getvalue())
            imported = import_model(folder / Path(weights.name).name, folder / Path(vocab.name).name, options)
            bundle_name = f"{Path(weights.name).stem} (imported).safetensors"
            path = save_checkpoint(folder / "imported.safetensors", imported.bundle)
            st.session_state[key] = shared_registry().add_upload(path.read_bytes(), bundle_name).key
        st.session_state.pop("gs_import_error", None)
        st.session_state.setdefault("gs_import_notes", {})[st.session_state[key]] = imported.notes
    except CheckpointError as error:
        st.session_state["gs_import_error"] = f"**{plain(weights.name)}** cannot be imported: {plain(error)}"


def import_form(key: str, container=None) -> None:
    """The form that imports a model trained with a tutorial's own code (``sentiment_core.importers``)."""
    where = container or st
    where.file_uploader("Weights", type=[s.lstrip(".") for s in (*TORCH_SUFFIXES, *KERAS_SUFFIXES)],
                        key=f"{key}_weights",
                        help="PyTorch: torch.save(model.state_dict(), 'model.pt') (read with weights_only=True; a "
                             "pickled whole model is refused). Keras: model.save('model.h5') or 'model.keras'.")
    where.file_uploader("Vocabulary", type=["json", "txt"], key=f"{key}_vocab",
                        help="The word -> index dict the tutorial saved (index 0 = padding), a list of tokens in "
                             "index order (torchtext itos), or Keras tokenizer.to_json().")
    where.selectbox("The classifier reads", HEAD_INPUTS, index=None, key=f"{key}_head_input",
                    format_func=HEAD_INPUT_HELP.get,
                    placeholder="infer (a Keras model.save file says; else mean for fc1 -> fc2, else final state)",
                    help="A PyTorch state dict cannot say how the sequence became one vector; a Keras file saved "
                         "with model.save says it in its description (a choice that disagrees is refused).")
    where.selectbox("The tutorial read text as", tuple(TEXT_PRESETS), index=None, key=f"{key}_preset",
                    format_func=lambda name: f"{name}: {TEXT_PRESETS[name].title}",
                    placeholder="infer (keras for a tokenizer.to_json() vocabulary, else whitespace)",
                    help="Its tokenizer, unknown words and padding; the bundle keeps them, and Explain, the API "
                         "and the CLI read text the same way.")
    where.number_input("Max length (tokens)", 1, 1000, 50, key=f"{key}_max_len",
                       help="The tutorial's sequence length (the UCI tutorial pads to 50).")
    as_preset = {None: "as the preset"}
    c1, c2, c3 = where.columns(3)
    c1.radio("Padding side", (None, *SIDES), horizontal=True, key=f"{key}_padding",
             format_func=lambda v: as_preset.get(v, v), help="The chapters and Keras pad before the text (pre).")
    c2.radio("Truncation", (None, *SIDES), horizontal=True, key=f"{key}_truncation",
             format_func=lambda v: as_preset.get(v, v),
             help="Which end long texts lose: post keeps the beginning (the chapters), pre the end (Keras).")
    c3.radio("Lowercase", (None, True, False), horizontal=True, key=f"{key}_lowercase",
             format_func=lambda v: as_preset.get(v, "yes" if v else "no"),
             help="Every preset lowercases, except a Keras tokenizer saved with lower=False.")
    where.text_input("Label names", "negative, positive", key=f"{key}_labels",
                     help="In output order, comma-separated; a single sigmoid output is P(second label).")
    where.checkbox("The tutorial packed its sequences", False, key=f"{key}_packed",
                   help="On for packed-sequence tutorials; off when padding was read like words.")
    weights, vocab = st.session_state.get(f"{key}_weights"), st.session_state.get(f"{key}_vocab")
    where.button("Import", key=f"{key}_import", on_click=_take_import, args=(key,), type="primary",
                 disabled=weights is None or vocab is None)
    if weights is not None and vocab is not None:
        where.caption(f"Ready to import {weights.name} with {vocab.name}.")
    if st.session_state.get("gs_import_error"):
        where.error(st.session_state["gs_import_error"])


def available(registry: ModelRegistry, sources: tuple[str, ...] = SOURCES) -> list[ModelEntry]:
    """The registry's models of ``sources`` this session may pick: runs only as ``classroom.visible_models``
    allows (a student's own runs and the others' finished, not hidden ones).

    Args:
        registry: the shared registry.
        sources: ``shipped``, ``run`` and/or ``upload``.
    """
    return classroom.visible_models(classroom_ui.viewer(), registry.entries(sources), registry.runs_root)


def run_reason(registry: ModelRegistry, key: str) -> str:
    """Why the run model ``key`` is not in the picker: the registry's reason for a run this session may see
    (it saved no model, or has not finished an epoch yet), else ``RUN_HINT``."""
    name = key[len(RUN_PREFIX):]
    if any(r.name == name for r in classroom.visible_runs(classroom_ui.viewer(), root=registry.runs_root)):
        try:
            registry.entry(key)
        except ModelLookupError as error:
            return plain(f"{str(error)[:1].upper()}{str(error)[1:]}.")
    return RUN_HINT


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
    entries = {e.key: e for e in available(registry)}
    keys = [*entries, UPLOAD_CHOICE, IMPORT_CHOICE]
    if st.session_state.get(key) not in keys:
        chosen = st.session_state.get(key)
        if chosen:
            why = (run_reason(registry, str(chosen)) if str(chosen).startswith(RUN_PREFIX)
                   else "Uploaded bundles live in the server's memory only: upload it again.")
            where.warning(f"The model {plain(repr(chosen))} is not available here (any more), so the default is "
                          f"shown. {why}", icon="🔗")
        default = registry.default_key(EXPLAIN_PREFERENCE)
        st.session_state[key] = default if default in entries else next(iter(entries), UPLOAD_CHOICE)
    labels = {k: e.label for k, e in entries.items()}
    labels[UPLOAD_CHOICE] = "Upload a model bundle (.safetensors)…"
    labels[IMPORT_CHOICE] = "Import a model trained with a tutorial (.pt / .h5 / .keras)…"
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
    if choice == IMPORT_CHOICE:
        import_form(key, where)
        return None
    notes = st.session_state.get("gs_import_notes", {}).get(choice)
    if notes:
        with where.expander("✅ Imported from a tutorial's files: how it was read"):
            for note in notes:
                st.markdown(f"- {plain(note)}")
    try:
        return registry.load(choice)
    except (CheckpointError, ModelLookupError, OSError) as error:
        where.error(f"This model cannot be loaded: {plain(error)}")
        return None
