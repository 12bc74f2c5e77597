"""Widgets built from a ``ParamSpec``: the range, default and help come from the spec."""
from __future__ import annotations

from typing import Any

import streamlit as st

from sentiment_core.settings import log_choices
from sentiment_core.spec import ParamSpec


def widget(spec: ParamSpec, key: str, container=None, label: str | None = None, disabled: bool = False,
           help: str | None = None) -> Any:
    """One widget for ``spec``; its value lives in ``st.session_state[key]``.

    Booleans become toggles, choices select boxes, log-scale numbers a select slider, other
    numbers sliders (number inputs for very wide ranges such as seeds). The caller seeds
    ``st.session_state[key]`` first (``state.use_page`` does for page fields).

    Args:
        spec: the setting's spec.
        key: session-state key.
        container: where to draw it (default: the page).
        label: overrides ``spec.label``.
        disabled: greyed out.
        help: overrides ``spec.help``.

    Returns:
        The widget's value.
    """
    where = container or st
    label = label or spec.label
    help = help or spec.help
    value = st.session_state.get(key, spec.default)
    if isinstance(spec.default, bool):
        return where.toggle(label, key=key, help=help, disabled=disabled)
    if spec.choices is not None:
        if value not in spec.choices:
            st.session_state[key] = spec.default
        return where.selectbox(label, list(spec.choices), key=key, help=help, disabled=disabled)
    if spec.log:
        return where.select_slider(label, options=log_choices(spec, float(value)), key=key, help=help,
                                   disabled=disabled, format_func=lambda v: f"{v:g}")
    if isinstance(spec.default, int) and float(spec.step or 1).is_integer():
        lo, hi, step = int(spec.min), int(spec.max), int(spec.step or 1)
        st.session_state[key] = int(min(hi, max(lo, int(value))))
        if hi - lo > 5000:
            return where.number_input(label, min_value=lo, max_value=hi, step=step, key=key, help=help,
                                      disabled=disabled)
        return where.slider(label, min_value=lo, max_value=hi, step=step, key=key, help=help, disabled=disabled)
    lo, hi, step = float(spec.min), float(spec.max), float(spec.step or 0.01)
    st.session_state[key] = float(min(hi, max(lo, float(value))))
    return where.slider(label, min_value=lo, max_value=hi, step=step, key=key, help=help, disabled=disabled)
