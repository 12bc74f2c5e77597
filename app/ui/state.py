"""Session state that lives in the URL.

Two kinds of state travel in a page's link:
- the settings groups (data, model, train, encoding, vocab, tokenizer) shared by Data, Train and
  Compare, kept in ``st.session_state["gs_<group>"]``;
- each page's own fields (``settings.PageField``: the sentence, the model, the tab, ...), kept
  under their widget keys.

A page calls ``use_page(name, fields, groups)`` first. When a page is entered (a new session, a
link from another page) the link's values are read, and bad ones become warnings that say what
was ignored; widget values are remembered across page switches; and ``write_url()`` runs after
the page, after each fragment and before ``stop()``, so the address bar always shows the state
after the latest interaction.
"""
from __future__ import annotations

import functools
from typing import Any, Callable

import streamlit as st

from sentiment_core import settings
from sentiment_core.settings import PageField
from sentiment_core.text import plain
from ui import identity

_KEEP = "gs_keep_"  # prefix of remembered widget values (widget keys vanish when not rendered)


def _query() -> dict[str, list[str]]:
    return {k: st.query_params.get_all(k) for k in st.query_params.keys()}


def init_session() -> None:
    """Seed the settings groups from the link once per session, and find the person (``identity``)."""
    if st.session_state.get("gs_ready"):
        return
    state, warnings = settings.settings_from_query(_query())
    for group, values in state.items():
        st.session_state.setdefault(f"gs_{group}", values)
    st.session_state["gs_ready"] = True
    st.session_state["gs_link_warnings"] = warnings
    identity.init_person()


def group(name: str) -> dict:
    """The current values of settings group ``name``."""
    init_session()
    return dict(st.session_state.get(f"gs_{name}") or settings.defaults()[name])


def set_group(name: str, values: dict) -> None:
    """Replace settings group ``name`` (the URL follows at the end of the run)."""
    st.session_state[f"gs_{name}"] = dict(values)


def use_page(name: str, fields: tuple[PageField, ...] = (), groups: tuple[str, ...] = ()) -> None:
    """Declare what page ``name`` keeps in its link, and seed its widgets.

    Args:
        name: the page's key in the page table.
        fields: the page's own fields.
        groups: the settings groups the page shows or uses.
    """
    init_session()
    st.session_state["gs_defaults"] = {}
    entering = st.session_state.get("gs_page") != name
    st.session_state["gs_page"] = name
    st.session_state["gs_url"] = (fields, groups)
    if entering:  # a fresh session, a link from another page, or a pasted address
        values, warnings = settings.page_from_query(fields, _query())
        for key, value in values.items():
            st.session_state[key] = value
            st.session_state[_KEEP + key] = value
        for warning in [*st.session_state.pop("gs_link_warnings", []), *warnings]:
            st.warning(plain(warning), icon="🔗")  # the warnings echo the link's values
        if st.session_state.get("gs_identity_warning"):
            st.warning(st.session_state.pop("gs_identity_warning"), icon="🪪")
    for f in fields:
        if f.key not in st.session_state:
            st.session_state[f.key] = st.session_state.get(_KEEP + f.key, f.default)


def default(key: str, value: Any) -> None:
    """Name a page field's default known only now (e.g. the chosen model's first gate): the link
    leaves the field out while it has this value."""
    st.session_state["gs_defaults"][key] = value


def remember(key: str, value: Any) -> None:
    """Set a page field's value from code (e.g. an example pill filling the text box)."""
    st.session_state[key] = value
    st.session_state[_KEEP + key] = value


def wanted_query() -> dict[str, str]:
    """The query string the current state calls for."""
    fields, groups = st.session_state.get("gs_url", ((), ()))
    values = {}
    for f in fields:
        value = st.session_state.get(f.key, st.session_state.get(_KEEP + f.key, f.default))
        st.session_state[_KEEP + f.key] = value
        values[f.key] = value
    query = settings.settings_to_query({g: group(g) for g in groups}, groups)
    query.update(settings.page_to_query(fields, values, st.session_state.get("gs_defaults")))
    return query


def write_url() -> None:
    """Mirror the state into the address bar (only when it changed)."""
    wanted = wanted_query()
    current = {k: st.query_params.get(k) for k in st.query_params.keys()}
    if current != wanted:
        st.query_params.from_dict(wanted)


def stop() -> None:
    """``st.stop()`` that first puts the state in the URL (nothing is sent after ``st.stop()``)."""
    write_url()
    st.stop()


def open_tab(tab, key: str, name: str, view: Callable[[], None]) -> None:
    """Draw a tab's content only while it is the open tab of ``st.tabs(..., key=key, on_change="rerun")``
    (switching tabs reruns the page), so a new sentence or model recomputes one tab, not all of them."""
    with tab:
        if st.session_state[key] == name:
            view()


def fragment(func: Callable | None = None, *, run_every: float | None = None):
    """``st.fragment`` whose reruns also update the URL (a fragment rerun skips the frame)."""
    def wrap(inner: Callable) -> Callable:
        @functools.wraps(inner)
        def body(*args, **kwargs):
            try:
                return inner(*args, **kwargs)
            finally:
                write_url()
        return st.fragment(body, run_every=run_every)
    return wrap(func) if func is not None else wrap
