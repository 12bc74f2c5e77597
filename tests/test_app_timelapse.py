"""The training time-lapse on Train and Explain: probe sentences go with the run, the animation
and the unit-emergence chart are drawn from the run folder, and their state is in the link."""
from __future__ import annotations

import json

from browser.app_support import SMALL_DATA, app_env, completed_run, open_page, query_of

from sentiment_core import runs
from sentiment_core.timelapse import DEFAULT_PROBES


def charts(at, title: str) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart") if title in c.proto.spec]


def animation(at) -> dict:
    (spec,) = charts(at, "Integrated gradients towards")
    return spec


def test_train_sends_the_probe_sentences_and_shows_the_time_lapse(monkeypatch, tmp_path):
    runs_dir = app_env(monkeypatch, tmp_path)
    at = open_page("train", state={"gs_data": dict(SMALL_DATA)})
    assert not at.exception
    assert at.text_area(key="tl_probes").value == DEFAULT_PROBES
    at.text_area(key="tl_probes").input("\n".join(["good"] * 9)).run()  # too many: Start is disabled, says why
    assert any("at most 8" in e.value for e in at.error)
    start = next(b for b in at.button if "Start" in b.label)
    assert start.disabled
    at.text_area(key="tl_probes").input("it was not good\nthe film was great").run()
    assert query_of(at)["probes"] == "it was not good\nthe film was great"
    at.slider(key="t_epochs").set_value(2).run()
    next(b for b in at.button if "Start" in b.label).click().run()
    assert not at.exception and not at.error
    [folder] = [p for p in runs_dir.iterdir() if not p.name.startswith(".")]  # not the server's .identity_secret
    assert runs.read_json(folder / "config.json")["timelapse"]["probes"] == "it was not good\nthe film was great"
    runs.shared_queue().wait(folder.name, 120)
    at.run()
    assert not at.exception
    spec = animation(at)
    assert spec["frames"][0]["name"] == "start" and spec["frames"][-1]["name"] == "epoch 2"
    assert [b["label"] for b in spec["layout"]["updatemenus"][0]["buttons"]] == ["▶ Play", "Pause"]
    assert len(spec["layout"]["sliders"][0]["steps"]) == len(spec["frames"])
    assert spec["layout"]["xaxis"]["ticktext"] == ["it", "was", "not", "good"]
    assert charts(at, "Best unit at reading negations and contrasts")
    at.selectbox(key="tl_probe").set_value(1).run()
    assert animation(at)["layout"]["xaxis"]["ticktext"] == ["the", "film", "was", "great"]
    assert query_of(at)["probe"] == "1"


def test_explain_animates_a_run_model_and_keeps_its_state_in_the_link(monkeypatch, tmp_path):
    runs_dir = app_env(monkeypatch, tmp_path)
    name = completed_run(runs_dir, "gru", epochs=1, bidirectional=True)
    at = open_page("explain", state={"model": f"run:{name}"})
    assert not at.exception and not at.error
    assert [f["name"] for f in animation(at)["frames"]][-1] == "epoch 1"
    at.selectbox(key="tl_dir").set_value(1).run()
    assert "layer 0 backward" in json.dumps(animation(at)["layout"]["annotations"])
    at.selectbox(key="tl_probe").set_value(2).run()
    query = query_of(at)
    assert query["probe"] == "2" and query["probe_direction"] == "1"
    again = open_page("explain", query=query)
    assert not again.exception and not again.warning
    assert again.session_state["tl_probe"] == 2 and again.session_state["tl_dir"] == 1
    # a shipped model has no time-lapse: the section says where to find one
    shipped = open_page("explain", state={"model": "lstm"})
    assert not shipped.exception and not charts(shipped, "Integrated gradients towards")
    assert any("choose a run model" in c.value for c in shipped.caption)
