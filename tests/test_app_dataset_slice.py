"""Dataset page: a regular-expression slice from a link is bounded in time and size, and a bad one
leaves the page working with a message that says what to change."""
from __future__ import annotations

import time

from browser.app_support import app_env, open_page

from sentiment_core import dataset_view as dv


def test_a_link_with_a_catastrophic_regex_slice_gives_a_message_not_a_frozen_server(monkeypatch, tmp_path):
    app_env(monkeypatch, tmp_path)
    monkeypatch.delenv("GATESCOPE_DATA_MIRROR", raising=False)
    # the link: Python's re backtracks for ever on it; the regex package finds no match at once
    start = time.monotonic()
    at = open_page("dataset", query={"model": "lstm", "regex": "true", "keywords": r"^(\w+\s?)*$X", "tab": "Slices"})
    assert not at.exception and not at.error, [e.value for e in at.error]
    slices = at.dataframe[1].value
    assert slices[slices["slice"] == r"my slice: ^(\w+\s?)*$X"].empty  # it holds no sentence
    # a pattern that is slow even in the regex package stops at its budget, with a message
    at.text_input(key="ds_keywords").input(r"^(?:a|.)*?(?:.{2,}){3,}\d").run()
    assert not at.exception
    messages = [e.value for e in at.error]
    assert any("My slice is not used: this pattern took too long" in m and "simplify it" in m for m in messages), messages
    at.text_input(key="ds_keywords").input("x" * (dv.MAX_SLICE_PATTERN + 1)).run()
    assert any("the limit is 200" in e.value and "shorten it" in e.value for e in at.error)
    at.text_input(key="ds_keywords").input(r"\bnot\b").run()
    assert not at.error and time.monotonic() - start < 60
