"""Explain's Intervene and Memory ribbons tabs, and Inside the cell's unrolled network."""
from __future__ import annotations

import json

from browser.app_support import app_env, completed_run, open_page, query_of, shown

from sentiment_core.settings import EXAMPLES


def _chart(at, text: str) -> dict:
    return json.loads(next(c for c in at.get("plotly_chart") if text in c.proto.spec).proto.spec)


def test_intervene_lessons_and_own_changes(monkeypatch, tmp_path):
    app_env(monkeypatch, tmp_path)
    at = open_page("explain", query={"model": "lstm", "tab": "Intervene", "lesson": "forget_before_but",
                                     "text": EXAMPLES[3]})
    assert not at.exception and not at.error
    assert any("forget gate set to 0 at 'but'" in shown(c.value) for c in at.caption)
    diff = _chart(at, "Change in the cell state c")
    assert diff["data"][0]["colorscale"][0][1] != diff["data"][0]["colorscale"][-1][1]  # a diverging scale
    traj = _chart(at, "before (dotted) and after the change")
    assert {t["name"] for t in traj["data"]} >= {"negative · before", "negative · after"}
    # the lesson needs its word: a sentence without 'not' offers the example
    at.segmented_control(key="e_iv_lesson").set_value("ignore_not").run()
    assert any("no 'not'" in i.value for i in at.info)
    at.button(key="e_iv_example").click().run()
    assert not at.exception and at.session_state["e_text"] == "It was not good"
    assert any("input gate set to 0 at 'not'" in shown(c.value) for c in at.caption)
    # my own change: zero units 0-3 of the hidden state at the first two words
    at.segmented_control(key="e_iv_lesson").set_value("").run()
    at.selectbox(key="e_iv_target").set_value("hidden").run()
    at.text_input(key="e_iv_units").input("0-3").run()
    at.pills(key="e_iv_tokens").set_value([0, 1]).run()
    assert not at.exception and not at.error
    assert any("hidden set to 0 at 'it', 'was' (layer 0, forward, units 0, 1, 2, 3)" in shown(c.value) for c in at.caption)
    assert query_of(at)["iv_target"] == "hidden" and query_of(at)["iv_units"] == "0-3"
    at.text_input(key="e_iv_units").input("500").run()
    assert not at.exception and "units go from 0 to 127" in at.error[0].value


def test_intervene_on_a_bidirectional_run_and_a_plain_rnn(monkeypatch, tmp_path):
    runs_dir = app_env(monkeypatch, tmp_path)
    name = completed_run(runs_dir, "gru", epochs=1, bidirectional=True, num_layers=2)
    at = open_page("explain", query={"model": f"run:{name}", "tab": "Intervene", "lesson": "ignore_not",
                                     "text": "it was not good"})
    assert not at.exception and not at.error
    assert sum("update gate set to 1 at 'not'" in shown(c.value) for c in at.caption) == 4  # 2 layers x 2 directions
    assert any("backward" in i.value for i in at.info) and _chart(at, "Forward reading only")
    rnn = completed_run(runs_dir, "rnn", epochs=1)
    at = open_page("explain", query={"model": f"run:{rnn}", "tab": "Intervene", "lesson": "ignore_not",
                                     "text": "it was not good"})
    assert not at.exception and any("plain RNN" in i.value for i in at.info)


def test_memory_ribbons_show_rnn_lstm_and_gru_on_one_sentence(monkeypatch, tmp_path):
    runs_dir = app_env(monkeypatch, tmp_path)
    at = open_page("explain", query={"model": "gru", "tab": "Memory ribbons", "text": "it was not good"})
    assert not at.exception and not at.error
    ribbons = _chart(at, "What survives to the end")
    titles = [a["text"] for a in ribbons["layout"]["annotations"]]
    assert any(t.startswith("LSTM (lstm)") for t in titles) and any(t.startswith("GRU (gru)") for t in titles)
    assert any("No RNN model" in shown(c.value) for c in at.caption)  # the test folder ships no RNN
    completed_run(runs_dir, "rnn", epochs=1)
    at = open_page("explain", query={"model": "gru", "tab": "Memory ribbons", "text": "it was not good"})
    titles = [a["text"] for a in _chart(at, "What survives to the end")["layout"]["annotations"]]
    assert [t.split()[0] for t in titles] == ["RNN", "LSTM", "GRU"] and "Jacobian" in titles[0]
    assert _chart(at, "Survival to the end")["data"][0]["zmax"] == 1.0


def test_unrolled_network_shows_real_shapes_and_opens_a_step(monkeypatch, tmp_path):
    app_env(monkeypatch, tmp_path)
    at = open_page("inside", query={"model": "lstm", "text": "the movie was not good", "tab": "Unrolled network"})
    assert not at.exception and not at.error
    fig = _chart(at, "reading step")
    texts = {a["text"].replace("<br>", " ") for a in fig["layout"]["annotations"]}  # long shapes wrap
    assert {"(B, T, E) = (1, 5, 50)", "h, c: (B, H) = (1, 128)", "(B, H) = (1, 128)", "(B, C) = (1, 2)"} <= texts
    assert len(fig["frames"]) == 5 and fig["layout"]["updatemenus"][0]["buttons"][0]["label"] == "▶ Play"
    at.pills(key="i_unroll_word").set_value(1).run()
    assert not at.exception
    assert at.session_state["i_tab"] == "Step through" and at.session_state["i_t"] == 1
    assert query_of(at)["step"] == "1" and "tab" not in query_of(at)
    assert any("reading **'movie'** (t = 1)" in m.value for m in at.markdown)


def test_unrolled_network_draws_stacked_bidirectional_rows(monkeypatch, tmp_path):
    runs_dir = app_env(monkeypatch, tmp_path)
    name = completed_run(runs_dir, "gru", epochs=1, bidirectional=True, num_layers=2)
    at = open_page("inside", query={"model": f"run:{name}", "text": "it was not good", "tab": "Unrolled network"})
    assert not at.exception and not at.error
    fig = _chart(at, "reading step")
    assert fig["layout"]["yaxis"]["ticktext"] == ["embedding", "layer 0 forward", "layer 0 backward",
                                                  "layer 1 forward", "layer 1 backward"]
    texts = {a["text"].replace("<br>", " ") for a in fig["layout"]["annotations"]}  # long shapes wrap
    assert {"(B, T, D·H) = (1, 4, 32)", "(B, D·H) = (1, 32)", "h: (B, H) = (1, 16)"} <= texts
    at.selectbox(key="i_unroll_row").set_value(3).run()
    at.pills(key="i_unroll_word").set_value(0).run()
    assert at.session_state["i_dir"] == 3 and at.session_state["i_t"] == 0
    assert any("layer 1 backward, reading **'it'**" in m.value for m in at.markdown)
