"""Dataset page: the error table of a shipped model on its held-out sample, filters, slices with a
second model, the projector and the units, all in the link."""
from __future__ import annotations

from browser.app_support import app_env, completed_run, open_page, query_of, shown


def test_the_table_lists_confident_errors_first_and_links_to_explain(monkeypatch, tmp_path):
    app_env(monkeypatch, tmp_path)
    monkeypatch.delenv("GATESCOPE_DATA_MIRROR", raising=False)
    at = open_page("dataset", query={"model": "lstm"})
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.selectbox(key="ds_source").value == "eval:imdb_test"
    assert any("held-out sample" in shown(c.value) for c in at.caption)
    table = at.dataframe[0].value
    assert len(table) == 25 and list(table.columns[:4]) == ["explain", "text", "gold", "prediction"]
    wrong = table["gold"] != table["prediction"]
    if wrong.any():  # the errors come first, the most confident first
        first = table[wrong]
        assert wrong.iloc[:len(first)].all()
        assert list(first["confidence"]) == sorted(first["confidence"], reverse=True)
    assert table["explain"].iloc[0].startswith("explain?model=lstm&text=")
    at.segmented_control(key="ds_outcome").set_value("correct").run()
    table = at.dataframe[0].value
    assert (table["gold"] == table["prediction"]).all()
    at.text_input(key="ds_search").input("movie").run()
    assert at.dataframe[0].value["text"].str.lower().str.contains("movie").all()
    at.text_input(key="ds_keywords").input("(bad").run()
    at.toggle(key="ds_regex").set_value(True).run()
    assert any("not a valid regular expression" in e.value for e in at.error)
    assert query_of(at) == {"outcome": "correct", "search": "movie", "keywords": "(bad", "regex": "true"}


def test_slices_with_a_second_model_and_the_paired_test(monkeypatch, tmp_path):
    app_env(monkeypatch, tmp_path)
    monkeypatch.delenv("GATESCOPE_DATA_MIRROR", raising=False)
    at = open_page("dataset", query={"model": "lstm", "examples": "eval:sst2_dev", "tab": "Slices", "vs": "gru"})
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert "paired test" in " ".join(s.value for s in at.subheader).lower()
    sentences = " ".join(shown(m.value) for m in at.markdown)
    assert "discordant sentences, p" in sentences
    slices = at.dataframe[1].value  # [0] is the Examples tab's table
    assert slices["slice"].iloc[0] == "all" and slices["examples"].iloc[0] == 200
    assert {"negation", "gold: negative", "gold: positive"} <= set(slices["slice"])


def test_the_map_and_the_units_of_a_run_on_its_own_test_split(monkeypatch, tmp_path):
    runs_dir = app_env(monkeypatch, tmp_path)
    name = completed_run(runs_dir, "gru", epochs=1)
    at = open_page("dataset", query={"model": f"run:{name}", "tab": "Map", "color": "gold"})
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.selectbox(key="ds_source").value == f"run:{name}"
    chart = at.get("plotly_chart")[0].proto.spec
    assert "negative" in chart and "positive" in chart and "PC1" in chart
    at.session_state["ds_tab"] = "Units"
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.selectbox(key="ds_unit").value == 0
    assert any("open on Explain" in link.label for link in at.get("page_link"))


def test_explain_shows_attention_weights_and_gradient_connectivity(monkeypatch, tmp_path):
    runs_dir = app_env(monkeypatch, tmp_path)
    name = completed_run(runs_dir, "lstm", epochs=1, pooling="attention")
    at = open_page("explain", query={"model": f"run:{name}", "text": "the film was not good"})
    assert not at.exception and not at.error, [e.value for e in at.error]
    labels = [e.label for e in at.expander]
    assert any(label.startswith("🎯 Attention pooling") for label in labels)
    assert any(label.startswith("📉 Gradient connectivity") for label in labels)
    assert any("The weights add up to 1" in c.value for c in at.caption)
    at = open_page("explain", query={"model": "gru", "text": "the film was not good"})  # max pooling: no attention
    assert not any(e.label.startswith("🎯") for e in at.expander)
    assert any(e.label.startswith("📉") for e in at.expander)


def test_a_bad_link_is_ignored_with_a_warning(monkeypatch, tmp_path):
    app_env(monkeypatch, tmp_path)
    monkeypatch.delenv("GATESCOPE_DATA_MIRROR", raising=False)
    at = open_page("dataset", query={"model": "lstm", "sort": "sideways", "examples": "eval:nowhere"})
    assert not at.exception and not at.error
    warnings = " ".join(shown(w.value) for w in at.warning)
    assert "sort='sideways' was ignored" in warnings and "examples='eval:nowhere' was ignored" in warnings
    assert at.selectbox(key="ds_sort").value == "wrong_first"
    at.segmented_control(key="ds_outcome").set_value("wrong").run()
    assert not at.warning  # said once, on arrival


def test_a_run_trained_on_an_upload_opens_on_its_own_test_split(monkeypatch, tmp_path):
    from upload_runs import train_upload_run

    from sentiment_core import runs

    runs_dir = app_env(monkeypatch, tmp_path)
    name, = train_upload_run(runs_dir)
    at = open_page("dataset", query={"model": f"run:{name}"})
    assert not at.exception and not at.error, [shown(e.value) for e in at.error]
    assert at.selectbox(key="ds_source").value == f"run:{name}"
    test_size = runs.load_run(name, runs_dir).config["sizes"]["test"]
    assert next(m.value for m in at.metric if m.label == "Examples") == f"{test_size:,}"
    assert set(at.dataframe[0].value["gold"]) == {"negative", "positive"}


def test_the_upload_route_has_the_data_pages_column_mapping(monkeypatch, tmp_path):
    from upload_runs import CONTENT, FILENAME, train_upload_run

    from sentiment_core.data.upload import upload_sha

    runs_dir = app_env(monkeypatch, tmp_path)
    name, = train_upload_run(runs_dir)
    at = open_page("dataset", query={"model": f"run:{name}", "examples": "upload"})
    at.file_uploader(key="ds_file").set_value((FILENAME, CONTENT, "text/csv")).run()
    assert not at.exception and not at.error, [shown(e.value) for e in at.error]
    sha = upload_sha(CONTENT)
    assert at.selectbox(key=f"ds_text_{sha}").value == "Review"
    assert at.selectbox(key=f"ds_label_{sha}").value == "Sentiment Label"  # the run's own columns
    assert next(m.value for m in at.metric if m.label == "Examples") == "60"
    at.selectbox(key=f"ds_label_{sha}").set_value("stars").run()  # the mapping is what is read
    assert "do not include '1', '2'" in " ".join(shown(e.value) for e in at.error)


def test_a_large_set_fills_in_with_progress_and_a_second_visit_computes_nothing(monkeypatch, tmp_path):
    """Issue 23 item 5: 25,000 reviews took about 90 s under one spinner. A set over the page's wait
    shows its progress with the time left, and the rows done so far with numbers that say so; the
    finished pass is kept, so another session opens it without predicting again."""
    import threading

    from browser.app_support import wait_for

    from sentiment_core import dataset_view as dv

    app_env(monkeypatch, tmp_path)
    release, first_batch, calls = threading.Event(), threading.Event(), []
    forward = dv._pooled_and_logits

    def held(model, ids, lengths):  # the pass stops before its second batch until released
        calls.append(len(ids))
        if len(calls) > 1:
            first_batch.set()
            release.wait(60)
        return forward(model, ids, lengths)

    monkeypatch.setattr(dv, "_pooled_and_logits", held)
    cues = [("good", "positive"), ("awful", "negative"), ("great", "positive"), ("boring", "negative")]
    content = "\n".join(["text,label"] + [f"review {i}: the film was {cues[i % 4][0]},{cues[i % 4][1]}"
                                          for i in range(1500)]).encode()

    def visit():
        at = open_page("dataset", query={"model": "lstm", "examples": "upload"})
        return at.file_uploader(key="ds_file").set_value(("big.csv", content, "text/csv")).run()

    def metrics(at):
        return {m.label: m.value for m in at.metric}

    try:
        at = visit()
        assert first_batch.wait(60)
        at.run()
        assert not at.exception and not at.error, [shown(e.value) for e in at.error]
        bar = at.get("progress")[0].proto
        assert "128 of 1,500 examples done" in bar.text and "s left at the speed so far" in bar.text
        assert bar.value == 100 * 128 // 1500
        shown_now = metrics(at)
        assert shown_now["So far (of 1,500)"] == "128" and "Accuracy so far" in shown_now
        assert not {"Examples", "Accuracy", "Wrong"} & set(shown_now)  # no partial number poses as the set's
        assert any("a random sample of the 1,500" in shown(c.value) for c in at.caption)
        assert 0 < len(at.dataframe[0].value) <= 25
        assert not at.tabs  # slices, map and units wait for the whole set
    finally:
        release.set()
    wait_for(at, lambda at: "Examples" in metrics(at))
    assert metrics(at)["Examples"] == "1,500" and "Accuracy" in metrics(at) and not at.get("progress")
    batches = len(calls)
    again = visit()  # another session: the finished pass is shared
    assert metrics(again)["Examples"] == "1,500" and not again.get("progress") and len(calls) == batches
