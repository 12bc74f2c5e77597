"""Train page: live model summary, background training, results, links."""
from __future__ import annotations

import html

from browser.app_support import SMALL_DATA, app_env, open_page, shown, wait_for
from sentiment_core.settings import defaults as settings_defaults


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
    # it names what Start would train, not "a small LSTM on the synthetic set" whatever the data
    assert any("No runs yet. Press **Start training** to train this BiGRU on Synthetic negation (300 sentences), "
               "239 training examples." in shown(i.value) for i in at.info), [i.value for i in at.info]


def test_no_runs_yet_names_an_uploaded_file_not_the_synthetic_set(monkeypatch, tmp_path):
    app_env(monkeypatch, tmp_path)
    content = "text,label\n" + "".join(f"{w} film {i},{l}\n" for i in range(40) for w, l in
                                         (("good", "positive"), ("bad", "negative")))
    from sentiment_core.data.upload import upload_sha

    data = {**settings_defaults()["data"], "name": "upload", "filename": "<b>reviews</b>.csv",
            "sha": upload_sha(content.encode()), "text_column": "text", "label_column": "label"}
    at = open_page("train", run=False, state={"gs_data": data, "gs_upload": {
        "bytes": content.encode(), "filename": "<b>reviews</b>.csv", "sha": data["sha"]}})
    at.run()
    assert not at.exception
    told = [i.value for i in at.info if "No runs yet" in i.value]
    assert told and "synthetic" not in told[0].lower(), told
    assert "<b>" not in told[0] and "reviews" in shown(told[0])  # the file name, escaped


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
    assert any("hidden_dim" in shown(w.value) for w in at.warning)


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
    [run] = [p for p in runs_dir.iterdir() if not p.name.startswith(".")]  # not the server's .identity_secret
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


def test_a_tutorial_recipe_sets_the_page_and_shows_its_parameter_count(monkeypatch, tmp_path):
    app_env(monkeypatch, tmp_path)
    at = open_page("train", run=False)
    at.session_state["gs_data"] = dict(SMALL_DATA)
    at.run()
    at.selectbox(key="gs_recipe").set_value("sarcasm_bilstm").run()
    at.button(key="gs_apply_recipe").click().run()
    assert not at.exception
    state = at.session_state
    assert (state["m_emb_dim"], state["m_hidden_dim"], state["m_head"], state["m_output"]) == (7, 24, "mlp", "sigmoid")
    assert state["t_epochs"] == 300 and state["d_max_len"] == 85 and state["v_max_size"] == 2000
    assert at.metric[0].label == "BiLSTM parameters" and params(at) == "21,537"  # the tutorial's number
    at.toggle(key="gs_keras_count").set_value(True).run()
    assert params(at) == "21,345"
    query = {k: (v[-1] if isinstance(v, list) else v) for k, v in at.query_params.items()}
    assert query["dataset"] == "sarcasm" and query["head"] == "mlp" and query["head_output"] == "sigmoid"


def test_a_word_vector_file_fixes_the_embedding_size(monkeypatch, tmp_path):
    app_env(monkeypatch, tmp_path)
    monkeypatch.setenv("GATESCOPE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("GATESCOPE_VECTORS_DIR", str(tmp_path / "teacher"))
    (tmp_path / "teacher").mkdir()
    (tmp_path / "teacher" / "vectors.txt").write_text("good 0.1 0.2 0.3 0.4\nbad -0.1 -0.2 -0.3 -0.4\n")
    (tmp_path / "teacher" / "broken.vec").write_text("good 0.1 0.2\nbad 0.1\n")
    at = open_page("train", run=False)
    at.session_state["gs_data"] = dict(SMALL_DATA)
    at.run()
    at.selectbox(key="m_embedding_choice").set_value("file_frozen").run()
    assert at.selectbox(key="m_vectors").options[1:] == ["broken.vec", "vectors.txt"]  # by name, no path box
    at.selectbox(key="m_vectors").set_value("vectors.txt").run()
    assert not at.exception and at.session_state["m_emb_dim"] == 4
    assert any("2 words x 4 dimensions" in c.value for c in at.caption)
    at.selectbox(key="m_vectors").set_value("broken.vec").run()
    shown = [html.unescape(e.value).replace("\u2060", "") for e in at.error]  # as the browser shows it
    assert any("broken.vec: line 2 has 1 numbers" in e for e in shown)
    assert not any(str(tmp_path) in e.value for e in at.error)  # the server's folders stay private


def test_second_run_is_shown_and_counted_at_once(monkeypatch, tmp_path):
    app_env(monkeypatch, tmp_path)
    at = open_page("train", run=False)
    at.session_state["gs_data"] = dict(SMALL_DATA)
    at.run()
    at.slider(key="t_epochs").set_value(1).run()
    next(b for b in at.button if "Start" in b.label).click().run()
    first = at.session_state["gs_show_run"]
    wait_for(at, lambda a: any(m.label == "Test accuracy" for m in a.metric))
    # the first run has finished: a Start now is a new run even within 3 s (CI's quiet machine
    # finished the first run that fast, and the double-click guard swallowed the second Start)
    next(b for b in at.button if "Start" in b.label).click().run()
    assert not at.exception
    second = at.session_state["gs_show_run"]
    assert second != first  # "Show run" follows the new run
    sidebar = " ".join(c.value for c in at.sidebar.caption)
    assert "1 training now" in sidebar or "1 waiting" in sidebar, sidebar  # counted in the same rerun
    wait_for(at, lambda a: any("completed" in m.value for m in a.markdown if m.value.startswith("### ")))


def test_a_double_click_on_start_queues_one_run(monkeypatch, tmp_path):
    """A click that reaches the server twice (it met the live curves' refresh) queued two runs."""
    from sentiment_core import runs

    runs_dir = app_env(monkeypatch, tmp_path)
    at = open_page("train", run=False)
    at.session_state["gs_data"] = dict(SMALL_DATA)
    at.run()
    at.slider(key="t_epochs").set_value(3).run()
    start = lambda: next(b for b in at.button if "Start" in b.label).click().run()  # noqa: E731
    start()
    start()  # the same click again while the first run is still queued or running
    assert not at.exception
    assert len(runs.list_runs(runs_dir)) == 1


def _recipe_run(root, recipe_key: str, **changes) -> str:
    """A finished run started from a tutorial recipe (its settings, on the small synthetic set, so
    that it trains in seconds), with ``changes`` to its settings groups."""
    from browser.app_support import small_splits
    from sentiment_core import runs
    from sentiment_core.recipes import RECIPES, recipe_settings

    groups = recipe_settings(RECIPES[recipe_key])
    for group, values in changes.items():
        groups[group] = {**groups[group], **values}
    queue = runs.RunQueue(root, max_concurrent=1, executor="thread")
    try:
        name = queue.submit(runs.RunRequest(small_splits(), groups["model"], groups["train"],
                                            {**groups["data"], "recipe": recipe_key, "label": "recipe"},
                                            encoding=groups["encoding"], tokenizer=groups["tokenizer"],
                                            vocab=groups["vocab"], label=recipe_key.replace("_", "-")))
        queue.wait(name, 120)
    finally:
        queue.close()
    return name


def test_the_tutorials_result_is_set_beside_a_run_only_when_it_is_the_recipe(monkeypatch, tmp_path):
    runs_dir = app_env(monkeypatch, tmp_path)
    same = _recipe_run(runs_dir, "airline_simple_rnn")
    changed = _recipe_run(runs_dir, "airline_simple_rnn", model={"cell": "lstm", "hidden_dim": 32})
    for name, is_recipe in ((same, True), (changed, False)):
        at = open_page("train", query={"run": name})
        assert not at.exception
        told = " ".join(shown(i.value) for i in at.info)
        assert ("the tutorial reports: about 89 % accuracy" in told) is is_recipe, told
        if not is_recipe:  # it says why, instead of comparing an LSTM with the tutorial's RNN
            assert "is not the tutorial's setup" in told
            assert "Cell: lstm (the tutorial: rnn); Hidden size: 32 (the tutorial: 40)" in told
