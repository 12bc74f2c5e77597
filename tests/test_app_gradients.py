"""Gradients page: connectivity curves, the long-range experiment, clipping."""
from __future__ import annotations

from browser.app_support import app_env, completed_run, open_page, wait_for


def test_connectivity_and_clipping(monkeypatch, tmp_path):
    runs_dir = app_env(monkeypatch, tmp_path)
    completed_run(runs_dir, "rnn", epochs=1)
    at = open_page("gradients", run=False).run()
    assert not at.exception and not at.error
    assert len(at.get("plotly_chart")) == 3  # connectivity, experiment (empty), clipping
    assert any("steps were clipped" in c.value for c in at.caption)


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
