"""Data page: catalogue, synthetic sliders, uploads with friendly errors."""
from __future__ import annotations

from browser.app_support import app_env, open_page, shown


def data_page(monkeypatch, tmp_path):
    app_env(monkeypatch, tmp_path)
    return open_page("data", run=False)


def test_synthetic_sliders_change_the_data(monkeypatch, tmp_path):
    at = data_page(monkeypatch, tmp_path).run()
    assert not at.exception and not at.error
    assert "Synthetic negation" in at.success[0].value
    assert {m.label for m in at.metric} >= {"Vocabulary size", "Validation tokens known"}
    at.radio(key="d_synth").set_value("synthetic_long_range").run()
    at.slider(key="d_distance").set_value(50).run()
    assert "distance 50" in at.success[0].value
    assert at.session_state["gs_data"]["distance"] == 50
    assert at.query_params["distance"] in (["50"], "50")
    at.slider(key="d_max_len").set_value(20).run()  # max_len line moves; coverage annotation is in the figure
    assert at.session_state["gs_encoding"]["max_len"] == 20
    assert len(at.get("plotly_chart")) == 2


def test_offline_catalogue_dataset(monkeypatch, tmp_path):
    at = data_page(monkeypatch, tmp_path)
    at.session_state["d_source"] = "Catalogue"
    at.session_state["d_max_examples"] = 1000
    at.run()
    assert not at.exception and not at.error
    assert "Airline" in at.success[0].value
    assert at.session_state["gs_data"]["name"] == "airline_tweets"


def test_bad_uploads_show_errors_not_exceptions(monkeypatch, tmp_path):
    at = data_page(monkeypatch, tmp_path)
    at.session_state["d_source"] = "Upload a file"
    cases = {
        "cat.csv": b"\x89PNG\r\n\x1a\n\x00\x00binary",
        "one_class.csv": b"text,label\nhello there,pos\nbye now,pos\nagain,pos\n",
        "empty.csv": b"",
        "no_label.csv": b"text\nhello\nworld\n",
    }
    for name, content in cases.items():
        at.session_state["gs_upload"] = {"bytes": content, "filename": name, "sha": name}
        at.run()
        assert not at.exception, name
        assert at.error and name in shown(at.error[0].value), name


def test_good_upload_is_used(monkeypatch, tmp_path):
    at = data_page(monkeypatch, tmp_path)
    at.session_state["d_source"] = "Upload a file"
    rows = "\n".join(f"{'great fun film' if i % 2 else 'dull boring mess'} {i},{'pos' if i % 2 else 'neg'}"
                     for i in range(60))
    at.session_state["gs_upload"] = {"bytes": f"review,sentiment\n{rows}\n".encode(), "filename": "mine.csv",
                                     "sha": "good"}
    at.run()
    assert not at.exception and not at.error
    assert "Upload: mine.csv" in shown(at.success[-1].value)
    assert at.session_state["gs_data"]["text_column"] == "review"


def test_tokenizer_choices_travel_in_the_link(monkeypatch, tmp_path):
    at = data_page(monkeypatch, tmp_path)
    at.query_params["tokenizer"] = "tweet"
    at.query_params["stopwords"] = "true"
    at.run()
    assert not at.exception and not at.error
    tokenizer_box = next(box for box in at.selectbox if box.label == "Tokenizer")
    assert tokenizer_box.value == "tweet"
    assert next(t for t in at.toggle if t.label.startswith("Drop stopwords")).value is True
    assert at.session_state["gs_tokenizer"]["kind"] == "tweet"
    tokenizer_box.set_value("whitespace").run()
    assert at.query_params["tokenizer"] in (["whitespace"], "whitespace")
    assert at.query_params["stopwords"] in (["true"], "true")


def test_unknown_tokenizer_in_the_link_is_ignored_with_a_warning(monkeypatch, tmp_path):
    at = data_page(monkeypatch, tmp_path)
    at.query_params["tokenizer"] = "bert"
    at.run()
    assert not at.exception
    assert at.session_state["gs_tokenizer"]["kind"] == "nltk"
    assert any("tokenizer='bert'" in shown(w.value) for w in at.warning)


def test_tokenizer_preview_cleans_and_marks_unknown_words(monkeypatch, tmp_path):
    at = data_page(monkeypatch, tmp_path).run()
    preview = next(t for t in at.text_input if t.label == "Tokenization preview")
    preview.input("the service was <i>wonderful</i>.Zzqqx &amp; more").run()
    chips = next(m.value for m in at.markdown if "gs-tokens" in m.value)
    assert ">wonderful<" in chips and "<i>" not in shown(chips) and ">&#38;<" in chips
    assert "zzqqx (unknown word" in shown(chips) and "wonderful (unknown" not in shown(chips)


def test_a_word_vector_file_on_data_reports_coverage_and_goes_to_train(monkeypatch, tmp_path):
    monkeypatch.setenv("GATESCOPE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("GATESCOPE_VECTORS_DIR", str(tmp_path))  # the server's folder: files are picked by name
    vectors = tmp_path / "vec.txt"
    vectors.write_text("2 3\ngood 0.1 0.2 0.3\nnot 0.3 0.2 0.1\n", encoding="utf-8")  # word2vec text
    at = data_page(monkeypatch, tmp_path).run()
    at.selectbox(key="d_vectors").set_value("vec.txt").run()
    assert not at.exception and not at.error
    assert any(m.label == "Vocabulary words with a vector in the file" for m in at.metric)
    model = at.session_state["gs_model"]
    assert model["embeddings"] == "file" and model["vectors"] == "vec.txt"
    train = open_page("train", state={"gs_model": model, "gs_data": at.session_state["gs_data"]})  # same session
    assert train.session_state["m_embedding_choice"] == "file_finetuned" and train.session_state["m_emb_dim"] == 3


def test_offline_download_says_what_a_web_user_can_do_and_clears_the_progress(monkeypatch, tmp_path):
    import dataclasses

    from sentiment_core.data import download as download_module
    from sentiment_core.data.catalogue import CATALOGUE

    name = next(n for n, info in CATALOGUE.items() if info.kind == "download")
    monkeypatch.setitem(CATALOGUE, name, dataclasses.replace(CATALOGUE[name], urls=("http://127.0.0.1:9/data.zip",)))
    monkeypatch.setattr(download_module, "DOWNLOAD_RETRIES", 0)
    monkeypatch.delenv("GATESCOPE_DATA_MIRROR", raising=False)
    monkeypatch.setenv("GATESCOPE_CACHE_DIR", str(tmp_path / "cache"))
    at = data_page(monkeypatch, tmp_path)
    at.session_state["d_source"] = "Catalogue"
    at.session_state["d_name"] = name
    at.run()
    next(b for b in at.button if b.label.startswith("⬇️ Download")).click().run()
    assert not at.exception
    message = at.error[0].value
    assert "could not be downloaded" in message and "refused the connection" in message
    for leak in ("Errno", "--mirror", "gatescope train", "ConnectionError"):
        assert leak not in message
    assert any("Upload the data yourself" in m.value for m in at.markdown)
    assert not at.get("progress")  # no "Starting…" bar left behind
