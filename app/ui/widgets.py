"""Widgets built from a ``ParamSpec``: the range, default and help come from the spec."""
from __future__ import annotations

from typing import Any

import streamlit as st

from sentiment_core.settings import log_choices
from sentiment_core.spec import ParamSpec


def _clamp(spec: ParamSpec, value: Any) -> Any:
    """``value`` made valid for the widget ``spec`` builds (the default when it cannot be)."""
    if isinstance(spec.default, bool):
        return bool(value)
    if spec.choices is not None:
        return value if value in spec.choices else spec.default
    if spec.log:
        return float(value)
    if isinstance(spec.default, int) and float(spec.step or 1).is_integer():
        return int(min(int(spec.max), max(int(spec.min), int(value))))
    return float(min(float(spec.max), max(float(spec.min), float(value))))


def widget(spec: ParamSpec, key: str, container=None, label: str | None = None, disabled: bool = False,
           help: str | None = None, value: Any = None) -> Any:
    """One widget for ``spec``; its value lives in ``st.session_state[key]``.

    Booleans become toggles, choices select boxes, log-scale numbers a select slider, other
    numbers sliders (number inputs for very wide ranges such as seeds).

    Args:
        spec: the setting's spec.
        key: session-state key.
        container: where to draw it (default: the page).
        label: overrides ``spec.label``.
        disabled: greyed out.
        help: overrides ``spec.help``.
        value: the starting value when the session has none for ``key`` (default: the spec's).
            Code that changes a drawn widget's value writes ``st.session_state[key]`` (in a
            callback, or before this call) and never deletes the key: Streamlit sends a written
            value to the browser, while after a delete the browser keeps showing its old value
            and sends it back with the next click.

    Returns:
        The widget's value.
    """
    where = container or st
    label = label or spec.label
    help = help or spec.help
    common = {"key": key, "help": help, "disabled": disabled}
    if key in st.session_state:
        current = _clamp(spec, st.session_state[key])
        if current != st.session_state[key]:
            st.session_state[key] = current  # out of range: shown (and used) as the clamped value
    else:
        current = _clamp(spec, spec.default if value is None else value)
    # Always drawn from the current value too: a widget drawn again after the page stopped above it
    # (its session value kept, the browser's copy gone) would otherwise show its own default while
    # training used the value.
    start = {"index": list(spec.choices).index(current)} if spec.choices is not None else {"value": current}
    if isinstance(spec.default, bool):
        return where.toggle(label, **start, **common)
    if spec.choices is not None:
        return where.selectbox(label, list(spec.choices), **start, **common)
    if spec.log:
        return where.select_slider(label, options=log_choices(spec, current), format_func=lambda v: f"{v:g}",
                                   **start, **common)
    if isinstance(spec.default, int) and float(spec.step or 1).is_integer():
        lo, hi, step = int(spec.min), int(spec.max), int(spec.step or 1)
        if hi - lo > 5000:
            return where.number_input(label, min_value=lo, max_value=hi, step=step, **start, **common)
        return where.slider(label, min_value=lo, max_value=hi, step=step, **start, **common)
    return where.slider(label, min_value=float(spec.min), max_value=float(spec.max), step=float(spec.step or 0.01),
                        **start, **common)
