"""Train page: live model summary, background training, results, links."""
from __future__ import annotations

from browser.app_support import SMALL_DATA, app_env, open_page, wait_for


def params(at) -> str:
    return at.metric[0].value


def test_summary_follows_the_sliders(monkeypatch, tmp_path):
    app_env(monkeypatch, tmp_path)
    at = open_page("train", run=False)
    at.session_state["gs_data"] = dict(SMALL_DATA)
    at.run()
    assert not at.exception and not at.error
    lstm = params(at)
    at.segmented_control(key="m_cell").set_value("gru").run()
    assert at.metric[0].label == "GRU parameters" and params(at) != lstm
    at.slider(key="m_hidden_dim").set_value(64).run()
    assert at.query_params["hidden_dim"] == ["64"] or at.query_params["hidden_dim"] == "64"
    at.toggle(key="m_bidirectional").set_value(True).run()
    assert at.metric[0].label == "BiGRU parameters"
    assert any("No runs yet" in i.value for i in at.info)


def test_link_reopens_the_same_setup(monkeypatch, tmp_path):
    app_env(monkeypatch, tmp_path)
    at = open_page("train", run=False)
    at.query_params["cell"] = "rnn"
    at.query_params["hidden_dim"] = "9999"  # out of range: ignored with a warning
    at.query_params["dataset"] = "synthetic_negation"
    at.query_params["n"] = "300"
    at.run()
    assert not at.exception
    assert at.metric[0].label == "RNN parameters"
    assert any("hidden_dim" in w.value for w in at.warning)


def test_short_training_run_completes(monkeypatch, tmp_path):
    runs_dir = app_env(monkeypatch, tmp_path)
    at = open_page("train", run=False)
    at.session_state["gs_data"] = dict(SMALL_DATA)
    at.run()
    at.slider(key="t_epochs").set_value(2).run()
    at.text_input(key="gs_run_label").input("../../etc/passwd").run()
    next(b for b in at.button if "Start" in b.label).click().run()
    assert not at.exception and not at.error
    wait_for(at, lambda a: any(m.label == "Test accuracy" for m in a.metric))
    labels = {m.label for m in at.metric}
    assert {"Test accuracy", "Test macro-F1", "Best epoch"} <= labels
    assert any(c.value == "✅ Finished 2 epochs." for c in at.caption)  # not "Finished: finished 2 epochs."
    assert len(at.get("plotly_chart")) >= 4  # summary, curves, batches, confusion matrix
    assert at.get("download_button")
    [run] = [p for p in runs_dir.iterdir()]
    assert run.name.startswith("etc-passwd-")  # slugged, inside the runs folder
    # a refresh (new session) finds the run again
    again = open_page("train", run=False)
    again.session_state["gs_data"] = dict(SMALL_DATA)
    again.run()
    assert any(m.label == "Test accuracy" for m in again.metric)


def test_teacher_concurrency_setting(monkeypatch, tmp_path):
    app_env(monkeypatch, tmp_path)
    at = open_page("train", run=False)
    at.session_state["gs_data"] = dict(SMALL_DATA)
    at.run()
    at.number_input(key="gs_concurrency").set_value(3).run()
    from sentiment_core import runs

    assert runs.shared_queue().snapshot()["max_concurrent"] == 3
    runs.shared_queue().set_max_concurrent(1)


def test_second_run_is_shown_and_counted_at_once(monkeypatch, tmp_path):
    app_env(monkeypatch, tmp_path)
    at = open_page("train", run=False)
    at.session_state["gs_data"] = dict(SMALL_DATA)
    at.run()
    at.slider(key="t_epochs").set_value(1).run()
    next(b for b in at.button if "Start" in b.label).click().run()
    first = at.session_state["gs_show_run"]
    wait_for(at, lambda a: any(m.label == "Test accuracy" for m in a.metric))
    next(b for b in at.button if "Start" in b.label).click().run()
    assert not at.exception
    second = at.session_state["gs_show_run"]
    assert second != first  # "Show run" follows the new run
    sidebar = " ".join(c.value for c in at.sidebar.caption)
    assert "1 training now" in sidebar or "1 waiting" in sidebar, sidebar  # counted in the same rerun
    wait_for(at, lambda a: any("completed" in m.value for m in a.markdown if m.value.startswith("### ")))
