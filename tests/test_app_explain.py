"""Explain page: prediction, gates, states, IG colouring, saliency/occlusion, what-if edits."""
from __future__ import annotations

import base64
import html
import json

import numpy as np

import pytest
from browser.app_support import app_env, completed_run, open_page

from sentiment_core import plots
from sentiment_core.errors import CheckpointError
from sentiment_core.registry import load_bundle_bytes


def plotly_values(values):
    """A trace's numbers as the browser gets them (Plotly sends NumPy arrays as base64 'bdata')."""
    if isinstance(values, dict) and "bdata" in values:
        return np.frombuffer(base64.b64decode(values["bdata"]), dtype=values["dtype"]).tolist()
    return values


def ig_html(at) -> str:
    return next(m.value for m in at.markdown if "gs-tokens" in m.value)


def test_explain_shows_everything_and_reacts(monkeypatch, tmp_path):
    app_env(monkeypatch, tmp_path)
    at = open_page("explain", run=False).run()
    assert not at.exception and not at.error
    keys = {c.key for c in at.get("plotly_chart")}
    assert {"e_probs", "e_gate_map"} <= keys and "e_hidden" not in keys  # only the open tab is computed
    for tab, key in (("Hidden & cell states", "e_hidden"), ("Word by word", "e_traj"),
                     ("Saliency & occlusion", "e_ig_bars"), ("Gates", "e_gate_map")):
        at.session_state["e_tab"] = tab
        at.run()
        assert key in {c.key for c in at.get("plotly_chart")}, tab
    assert any("Convergence delta" in c.value for c in at.caption)
    before = ig_html(at)
    at.text_input(key="e_text").input("the film was not good").run()
    after = ig_html(at)
    assert after != before and ">good<" in after and "rgba(" in after
    at.selectbox(key="e_gate").set_value("forget").run()
    at.selectbox(key="e_sort").set_value("variance").run()
    at.slider(key="e_steps").set_value(20).run()
    at.selectbox(key="e_baseline").set_value("unk").run()
    assert not at.exception
    at.session_state["e_tab"] = "What if?"
    at.run()
    at.pills(key="e_click").set_value(3).run()  # click "not"... a token: drop it
    assert {m.label for m in at.metric} >= {"Prediction"}
    at.radio(key="e_action").set_value("replace").run()
    assert not at.exception


def test_real_shipped_bilstm_is_explained(monkeypatch, tmp_path):
    """The real 75k-word, hidden-256 BiLSTM (the other app tests use tiny stand-ins)."""
    from sentiment_core.pretrained import DEFAULT_DIR

    app_env(monkeypatch, tmp_path)
    monkeypatch.setenv("GATESCOPE_PRETRAINED_DIR", str(DEFAULT_DIR))
    at = open_page("explain", run=False)
    at.session_state["model"] = "bilstm"
    at.session_state["e_text"] = "The acting was great but the plot was a mess and I left bored"
    at.run()
    assert not at.exception and not at.error
    assert any("gs-verdict" in m.value and ">Negative<" in m.value for m in at.markdown)
    directions = next(box for box in at.selectbox if box.label == "Layer / direction")
    assert list(directions.options) == ["layer 0 forward", "layer 0 backward"]
    at.session_state["e_tab"] = "Word by word"
    at.run()
    # Word by word: plain words, no internal field names; the words on the x axis; class colours
    assert not any("forward_scores" in i.value for i in at.info)
    scores = json.loads(next(c for c in at.get("plotly_chart") if "Forward reading only" in c.proto.spec).proto.spec)
    assert scores["layout"]["xaxis"]["ticktext"][:3] == ["the", "acting", "was"]
    assert {t["name"]: t["line"]["color"] for t in scores["data"]} == {
        n: plots.class_color(n) for n in ("negative", "positive")}


def test_unexplainable_text_and_run_models(monkeypatch, tmp_path):
    runs_dir = app_env(monkeypatch, tmp_path)
    name = completed_run(runs_dir, "gru", epochs=1, bidirectional=True)
    at = open_page("explain", run=False).run()
    at.text_input(key="e_text").input("qqqq zzzz").run()
    assert not at.exception and "vocabulary" in at.error[0].value
    at.selectbox(key="model").set_value(f"run:{name}").run()
    at.text_input(key="e_text").input("good but bad").run()
    assert not at.exception and not at.error
    assert any("layer 0 backward" in str(o) for o in at.selectbox(key="e_dir").options)
    at.session_state["e_tab"] = "Word by word"
    at.run()
    assert at.info  # bidirectional: no word-by-word trajectory, explained


def test_bad_bundle_uploads_raise_checkpoint_errors():
    with pytest.raises(CheckpointError):
        load_bundle_bytes(b"", "empty.safetensors")
    with pytest.raises(CheckpointError, match="pickle"):
        load_bundle_bytes(b"\x80\x04\x95" + b"\x00" * 64, "model.safetensors")
    with pytest.raises(CheckpointError):
        load_bundle_bytes(b"garbage" * 10, "x.safetensors")


def test_chips_show_the_tokens_the_model_read_with_unknown_words_marked(monkeypatch, tmp_path):
    import re

    from sentiment_core.predict import Predictor
    from sentiment_core.registry import shared_registry

    app_env(monkeypatch, tmp_path)
    text = "The film was <b>good</b>.It was zzqqx"
    at = open_page("explain", query={"model": "lstm", "text": text})
    assert not at.exception and not at.error
    bundle = shared_registry().load("lstm").bundle
    read = Predictor(bundle).predict([text])[0].tokens
    chips = re.findall(r"<span title='([^']*)'[^>]*>([^<]*)</span>", ig_html(at))
    assert [html.unescape(token) for _, token in chips] == read
    assert [("unknown word" in title) for title, _ in chips] == [t not in bundle.vocab for t in read]
    assert "zzqqx" in read and "zzqqx" not in bundle.vocab


def _row_labels(chart) -> list[str]:
    return json.loads(chart.proto.spec)["layout"]["yaxis"]["ticktext"]


def test_states_show_the_gates_tabs_units_in_its_order(monkeypatch, tmp_path):
    app_env(monkeypatch, tmp_path)
    at = open_page("explain", query={"model": "lstm", "gate": "forget", "sort": "variance", "units": "3"}).run()
    assert not at.exception
    gates = next(c for c in at.get("plotly_chart") if "forget gate" in c.proto.spec)
    at.session_state["e_tab"] = "Hidden & cell states"  # the Gates tab's widgets are not drawn now
    at.run()
    hidden = next(c for c in at.get("plotly_chart") if "hidden state h" in c.proto.spec)
    cell = next(c for c in at.get("plotly_chart") if "cell state c" in c.proto.spec)
    assert len(_row_labels(gates)) == 3
    assert _row_labels(hidden) == _row_labels(gates) == _row_labels(cell)


def test_pad_and_zero_baselines_are_offered_once_when_they_are_the_same(monkeypatch, tmp_path):
    """<pad>'s vector is all zeros in trained models, so 'pad' and 'zero' gave identical attributions
    and switching between them changed nothing on screen."""
    import numpy as np

    from sentiment_core.explain import integrated_gradients
    from sentiment_core.registry import shared_registry

    app_env(monkeypatch, tmp_path)
    at = open_page("explain", query={"model": "lstm", "baseline": "zero"}).run()
    assert not at.exception
    box = at.selectbox(key="e_baseline")
    assert box.options == ["pad = zero", "unk"] and box.value == "pad"
    bundle = shared_registry().load("lstm").bundle
    same = [integrated_gradients(bundle, "not good at all", baseline=b, n_steps=16).scores for b in ("pad", "zero")]
    np.testing.assert_allclose(*same, atol=1e-6)


def test_what_if_bars_read_like_the_attributions(monkeypatch, tmp_path):
    """What-if bars used to show 'edited minus original', so a word supporting the class was a red bar
    next to a green chip. Now every bar is the word's own effect: purple when dropping it lowers
    P(class) (it was pushing towards the class), orange when dropping it raises P(class)."""
    from sentiment_core.predict import Predictor
    from sentiment_core.registry import shared_registry

    app_env(monkeypatch, tmp_path)
    text = "the acting was great but the plot was a mess"
    at = open_page("explain", query={"model": "lstm", "text": text, "tab": "What if?"}).run()
    assert not at.exception
    spec = json.loads(next(c for c in at.get("plotly_chart") if "fall of P" in c.proto.spec).proto.spec)
    bars = spec["data"][0]
    axis = spec["layout"]["xaxis"]["title"]["text"]  # "← away · towards →" over the class
    target = axis.rsplit("<br>", 1)[1]
    assert axis == plots.attribution_axis_title(target)
    predictor = Predictor(shared_registry().load("lstm").bundle)
    words = text.split()
    original = predictor.predict([text])[0].probabilities[target]
    for i, (effect, colour) in enumerate(zip(plotly_values(bars["x"]), bars["marker"]["color"])):
        dropped = predictor.predict([" ".join(words[:i] + words[i + 1:])])[0].probabilities[target]
        assert effect == pytest.approx(original - dropped, abs=1e-4)
        if abs(effect) > 1e-6:
            assert colour == (plots.TOWARDS_COLOR if original > dropped else plots.AWAY_COLOR), words[i]
