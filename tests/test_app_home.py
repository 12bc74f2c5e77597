"""Home page: instant prediction and gate heatmap from a shipped model."""
from __future__ import annotations

import json

import pytest
from browser.app_support import app_env, open_page, tiny_pretrained_dir

from sentiment_core.settings import EXAMPLES


def verdict(at) -> str:
    return next(m.value for m in at.markdown if "<div class='gs-verdict'" in m.value)


def test_typing_changes_the_prediction(monkeypatch, tmp_path):
    app_env(monkeypatch, tmp_path)
    at = open_page("home", run=False).run()
    assert not at.exception and not at.error
    before = verdict(at)
    charts = at.get("plotly_chart")
    assert len(charts) == 2  # probability bars + gate heatmap
    at.text_input(key="home_text").input("bad awful terrible boring dull").run()
    assert not at.exception
    assert verdict(at) != before
    at.pills(key="home_example").set_value(EXAMPLES[0]).run()
    assert at.text_input(key="home_text").value == EXAMPLES[0]
    at.selectbox(key="home_model").set_value("gru").run()
    assert not at.exception and len(at.get("plotly_chart")) == 2


def test_odd_input_is_explained_not_raised(monkeypatch, tmp_path):
    app_env(monkeypatch, tmp_path)
    at = open_page("home", run=False).run()
    at.text_input(key="home_text").input("   ").run()
    assert not at.exception and at.info
    at.text_input(key="home_text").input("qqqq zzzz xxxx").run()
    assert not at.exception
    assert at.error or any("vocabulary" in c.value for c in at.caption)


def test_home_without_shipped_models(monkeypatch, tmp_path):
    app_env(monkeypatch, tmp_path)
    monkeypatch.setenv("GATESCOPE_PRETRAINED_DIR", str(tmp_path / "empty"))
    at = open_page("home", run=False).run()
    assert not at.exception
    assert "No shipped models" in at.warning[0].value


def page_text(at) -> str:
    return " ".join(m.value for m in at.markdown) + " ".join(c.value for c in at.caption)


def test_plain_rnn_chart_is_not_called_gates_and_gru_caption_explains_new(monkeypatch, tmp_path):
    app_env(monkeypatch, tmp_path)
    monkeypatch.setenv("GATESCOPE_PRETRAINED_DIR", str(tiny_pretrained_dir(tmp_path / "models", ("rnn", "gru"))))
    at = open_page("home", run=False).run()
    at.selectbox(key="home_model").set_value("rnn").run()
    assert "How open each gate" not in page_text(at) and "The state's value at each word" in page_text(at)
    colorbar = json.loads(at.get("plotly_chart")[1].proto.spec)["data"][0]["colorbar"]
    assert colorbar["ticktext"] == ["−1", "0", "+1"]  # its own ticks, not the gates' 0 / 0.5 / 1 over them
    at.selectbox(key="home_model").set_value("gru").run()
    assert "How open each gate" in page_text(at)
    assert any("**new** row" in c.value for c in at.caption)


def test_home_gate_chart_fits_a_phone_and_names_the_direction_of_a_bidirectional_model(monkeypatch, tmp_path):
    """The chart's title is page text (it wraps at 390 px instead of being cut off), its colour bar
    sits above the tokens, and a BiLSTM's chart says it shows the forward direction."""
    app_env(monkeypatch, tmp_path)
    monkeypatch.setenv("GATESCOPE_PRETRAINED_DIR", str(tiny_pretrained_dir(tmp_path / "models", ("bilstm",))))
    at = open_page("home", run=False, query={"model": "bilstm"}).run()
    spec = json.loads(at.get("plotly_chart")[1].proto.spec)
    assert "title" not in spec["layout"] or not spec["layout"]["title"].get("text")
    assert spec["data"][0]["colorbar"]["orientation"] == "h"
    assert any("**forward** direction" in c.value for c in at.caption)


def test_home_quotes_the_figures_the_dataset_page_measures(monkeypatch, tmp_path):
    """Issue 23 item 5: Home said IMDb 88.6 % for the LSTM, measured on reviews with their <br /> tags
    removed, while the Dataset page measured 87.3 % on the reviews as written. Home now quotes the card's
    figures, and the card says they are measured as the Dataset page reads the sets."""
    from browser.app_support import shared_pretrained_dir

    from sentiment_core.checkpoint import read_metadata
    from sentiment_core.pretrained import MEASURED, headline

    app_env(monkeypatch, tmp_path)
    card = read_metadata(shared_pretrained_dir() / "lstm.safetensors")["card"]
    if not card["metrics"]:
        pytest.skip("no shipped models here: the stand-ins have no measured figures")
    at = open_page("home", run=False, query={"model": "lstm"}).run()
    caption = next(c.value for c in at.caption if "IMDb" in c.value)
    assert headline(card["title"], card["metrics"]) in caption and "as the **Dataset** page measures it" in caption
    assert card["measured"] == MEASURED
