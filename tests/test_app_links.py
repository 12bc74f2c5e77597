"""Every page's state is in its link: set widgets, read the query string, open it in a fresh
session and get the same widgets back; bad links open with warnings that say what was ignored."""
from __future__ import annotations

import pytest
from browser.app_support import SMALL_DATA, app_env, completed_run, open_page, query_of, shown

from sentiment_core.settings import EXAMPLES


def widget_values(at, keys) -> dict:
    return {key: at.session_state[key] for key in keys}


def reopen(page: str, at, keys: list[str]) -> tuple:
    """The query string of ``at``, opened in a fresh session of ``page``, and both widget sets."""
    query = query_of(at)
    fresh = open_page(page, query=query)
    assert not fresh.exception and not fresh.warning, [w.value for w in fresh.warning]
    return query, widget_values(at, keys), widget_values(fresh, keys)


def test_home_link(monkeypatch, tmp_path):
    app_env(monkeypatch, tmp_path)
    at = open_page("home")
    at.text_input(key="home_text").input("a dull film").run()
    at.selectbox(key="home_model").set_value("gru").run()
    query, before, after = reopen("home", at, ["home_text", "home_model"])
    assert query == {"text": "a dull film", "model": "gru"}
    assert before == after


def test_data_link(monkeypatch, tmp_path):
    app_env(monkeypatch, tmp_path)
    at = open_page("data")
    at.radio(key="d_synth").set_value("synthetic_long_range").run()
    at.slider(key="d_distance").set_value(50).run()
    at.slider(key="d_max_len").set_value(55).run()
    at.radio(key="d_padding").set_value("pre").run()
    at.slider(key="d_min_freq").set_value(3).run()
    query, before, after = reopen("data", at, ["d_synth", "d_distance", "d_max_len", "d_padding", "d_min_freq"])
    assert query["dataset"] == "synthetic_long_range" and query["max_len"] == "55" and query["min_freq"] == "3"
    assert query["padding"] == "pre"
    assert before == after


def test_train_link(monkeypatch, tmp_path):
    app_env(monkeypatch, tmp_path)
    at = open_page("train", state={"gs_data": dict(SMALL_DATA)})
    at.segmented_control(key="m_cell").set_value("gru").run()
    at.slider(key="m_hidden_dim").set_value(64).run()
    at.slider(key="t_epochs").set_value(3).run()
    at.slider(key="d_max_len").set_value(40).run()
    at.selectbox(key="m_embedding_choice").set_value("glove_frozen").run()
    keys = ["m_cell", "m_hidden_dim", "t_epochs", "d_max_len", "m_embedding_choice", "m_emb_dim"]
    query, before, after = reopen("train", at, keys)
    assert query["cell"] == "gru" and query["hidden_dim"] == "64" and query["embeddings"] == "glove"
    assert before == after and after["m_emb_dim"] == 50


def test_compare_link(monkeypatch, tmp_path):
    runs_dir = app_env(monkeypatch, tmp_path)
    rnn = completed_run(runs_dir, "rnn", epochs=1)
    completed_run(runs_dir, "lstm", epochs=1)
    at = open_page("compare")
    at.multiselect(key="c_selected").set_value([rnn]).run()
    at.segmented_control(key="c_metric").set_value("both_loss").run()
    at.text_input(key="c_text").input("awful").run()
    query, before, after = reopen("compare", at, ["c_selected", "c_metric", "c_text"])
    assert query["runs"] == rnn and query["curve"] == "both_loss"
    assert before == after


def test_explain_link(monkeypatch, tmp_path):
    app_env(monkeypatch, tmp_path)
    at = open_page("explain")
    at.selectbox(key="model").set_value("gru").run()
    at.text_input(key="e_text").input("the film was not good").run()
    at.segmented_control(key="e_target").set_value("positive").run()
    at.selectbox(key="e_baseline").set_value("unk").run()
    at.slider(key="e_steps").set_value(20).run()
    at.selectbox(key="e_output").set_value("logit").run()
    at.selectbox(key="e_gate").set_value("update").run()
    at.selectbox(key="e_sort").set_value("variance").run()
    at.session_state["e_tab"] = "Word by word"
    at.run()
    # only the open tab is drawn, so the Gates tab's widgets are checked once that tab is open again
    keys = ["model", "e_text", "e_target", "e_baseline", "e_steps", "e_output", "e_tab"]
    query, before, after = reopen("explain", at, keys)
    assert query == {"model": "gru", "text": "the film was not good", "target": "positive", "baseline": "unk",
                     "steps": "20", "output": "logit", "tab": "Word by word", "gate": "update", "sort": "variance"}
    assert before == after
    gates = open_page("explain", query={**query, "tab": "Gates"})
    assert (gates.selectbox(key="e_gate").value, gates.selectbox(key="e_sort").value) == ("update", "variance")


def test_dataset_link(monkeypatch, tmp_path):
    app_env(monkeypatch, tmp_path)
    monkeypatch.delenv("GATESCOPE_DATA_MIRROR", raising=False)
    at = open_page("dataset")
    at.selectbox(key="ds_model").set_value("gru").run()
    at.selectbox(key="ds_source").set_value("eval:rt_test").run()
    at.selectbox(key="ds_sort").set_value("longest").run()
    at.segmented_control(key="ds_outcome").set_value("wrong").run()
    at.text_input(key="ds_keywords").input("dull, boring").run()
    at.selectbox(key="ds_slice").set_value("contrast").run()
    at.session_state["ds_tab"] = "Map"
    at.run()
    at.segmented_control(key="ds_color").set_value("prediction").run()
    keys = ["ds_model", "ds_source", "ds_sort", "ds_outcome", "ds_keywords", "ds_slice", "ds_tab", "ds_color"]
    query, before, after = reopen("dataset", at, keys)
    assert query == {"model": "gru", "examples": "eval:rt_test", "sort": "longest", "outcome": "wrong",
                     "keywords": "dull, boring", "slice": "contrast", "tab": "Map", "color": "prediction"}
    assert before == after


def test_inside_link(monkeypatch, tmp_path):
    app_env(monkeypatch, tmp_path)
    at = open_page("inside")
    at.text_input(key="i_text").input("not good at all").run()
    at.select_slider(key="i_t").set_value(1).run()
    at.number_input(key="i_unit").set_value(5).run()
    at.session_state["i_tab"] = "Counting parameters"
    at.run()
    query, before, after = reopen("inside", at, ["model", "i_text", "i_tab"])
    assert query == {"text": "not good at all", "step": "1", "unit": "5", "tab": "Counting parameters"}
    assert before == after
    # the closed step-through tab's settings come back with it, in this session and in the link's
    fresh = open_page("inside", query=query)
    for session in (at, fresh):
        session.session_state["i_tab"] = "Step through"
        session.run()
        assert widget_values(session, ["i_t", "i_unit"]) == {"i_t": 1, "i_unit": 5}
        assert session.select_slider(key="i_t").value == 1 and session.number_input(key="i_unit").value == 5


def test_gradients_link(monkeypatch, tmp_path):
    app_env(monkeypatch, tmp_path)
    at = open_page("gradients")
    at.multiselect(key="g_distances").set_value([10, 60]).run()
    at.multiselect(key="g_cells").set_value(["rnn", "gru"]).run()
    at.slider(key="g_epochs").set_value(4).run()
    query, before, after = reopen("gradients", at, ["g_distances", "g_cells", "g_epochs", "g_sample"])
    assert query["distances"] == "10,60" and query["cells"] == "rnn,gru"
    assert before == after


@pytest.mark.parametrize("page, query, words", [
    ("explain", {"steps": "abc"}, "steps='abc' was ignored: expected a number"),
    ("explain", {"baseline": "mean"}, "unknown baseline 'mean'; valid: pad, unk, zero"),
    ("train", {"lr": "fast"}, "lr='fast' was ignored: expected a number, got 'fast'"),
    ("data", {"max_len": "2.5"}, "expected a whole number"),
    ("data", {"dataset": "netflix"}, "unknown dataset ('netflix')"),
])
def test_bad_links_warn_in_words(monkeypatch, tmp_path, page, query, words):
    app_env(monkeypatch, tmp_path)
    at = open_page(page, query=query)
    assert not at.exception
    warnings = " ".join(shown(w.value) for w in at.warning)
    assert words in warnings
    assert "could not convert" not in warnings


def test_a_link_from_home_opens_explain_on_that_sentence(monkeypatch, tmp_path):
    app_env(monkeypatch, tmp_path)
    at = open_page("explain", query={"model": "gru", "text": EXAMPLES[1]})
    assert at.text_input(key="e_text").value == EXAMPLES[1] and at.selectbox(key="model").value == "gru"


def test_a_tutorial_recipe_sets_the_data_it_needs(monkeypatch, tmp_path):
    app_env(monkeypatch, tmp_path)
    at = open_page("train")
    at.selectbox(key="gs_recipe").set_value("airline_lstm").run()
    next(b for b in at.button if b.key == "gs_apply_recipe").click().run()
    assert not at.exception and not at.error
    data = at.session_state["gs_data"]
    assert (data["name"], data["leave_out"], data["test_share"], data["split_seed"]) == ("airline_tweets", "neutral",
                                                                                           0.3, 42)
    assert "negative, positive" in " ".join(shown(m.value) for m in at.markdown)
    assert query_of(at)["leave_out"] == "neutral"
