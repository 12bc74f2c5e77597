"""Gradients page: connectivity of the lesson's models, the long-range experiment, clipping."""
from __future__ import annotations

import dataclasses

from sentiment_core import lessons

from browser.app_support import app_env, completed_run, open_page, wait_for


def test_clipping_and_connectivity_asks_for_the_lesson_models(monkeypatch, tmp_path):
    runs_dir = app_env(monkeypatch, tmp_path)
    completed_run(runs_dir, "rnn", epochs=1)
    at = open_page("gradients", run=False).run()
    assert not at.exception and not at.error
    # A tiny negation run is not a lesson model: the tab offers to train the three, it does not plot others.
    assert any("Train the lesson's RNN, LSTM, GRU model(s)" in i.value for i in at.info)
    assert len(at.get("plotly_chart")) == 2  # experiment (empty), clipping
    assert any("steps were clipped" in c.value for c in at.caption)


def test_connectivity_trains_and_plots_the_lesson_models(monkeypatch, tmp_path):
    app_env(monkeypatch, tmp_path)
    monkeypatch.setattr(lessons, "CONNECTIVITY", dataclasses.replace(
        lessons.CONNECTIVITY, train={**lessons.CONNECTIVITY.train, "epochs": 1},
        data=lessons.long_range_data(lessons.CELL_DISTANCE, 200)))  # the same runs, only shorter
    at = open_page("gradients", run=False).run()
    at.button(key="g_conn_train").click().run()
    assert not at.exception and len(at.session_state["g_conn_runs"]) == 3
    wait_for(at, lambda a: any(lessons.CONNECTIVITY.caption in c.value for c in a.caption), timeout=180)
    assert at.get("plotly_chart")[0].proto.spec  # the connectivity chart is drawn


def test_long_range_experiment_runs(monkeypatch, tmp_path):
    app_env(monkeypatch, tmp_path)
    at = open_page("gradients", run=False).run()
    at.multiselect(key="g_distances").set_value([5]).run()
    at.multiselect(key="g_cells").set_value(["rnn", "lstm"]).run()
    at.slider(key="g_epochs").set_value(1).run()
    next(b for b in at.button if "experiment" in b.label).click().run()
    assert not at.exception and not at.error
    assert len(at.session_state["g_runs"]) == 2
    wait_for(at, lambda a: not a.get("progress") and any("Expected" in c.value for c in a.caption))
    assert set(at.session_state["g_runs"]) and any(c.value.startswith("Expected") for c in at.caption)
