"""Home page: instant prediction and gate heatmap from a shipped model."""
from __future__ import annotations

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


def test_plain_rnn_chart_is_not_called_gates_and_gru_caption_explains_new(monkeypatch, tmp_path):
    app_env(monkeypatch, tmp_path)
    monkeypatch.setenv("GATESCOPE_PRETRAINED_DIR", str(tiny_pretrained_dir(tmp_path / "models", ("rnn", "gru"))))
    at = open_page("home", run=False).run()
    at.selectbox(key="home_model").set_value("rnn").run()
    gates = at.get("plotly_chart")[1].proto.spec
    assert "How open each gate" not in gates and "How hard each word pushes the state" in gates
    at.selectbox(key="home_model").set_value("gru").run()
    assert "How open each gate" in at.get("plotly_chart")[1].proto.spec
    assert any("**new** row" in c.value for c in at.caption)
