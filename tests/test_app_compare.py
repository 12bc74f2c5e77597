"""Compare page: overlaid runs, table, one sentence through every model, grid training."""
from __future__ import annotations

from sentiment_core import lessons, runs

from browser.app_support import SMALL_DATA, app_env, completed_run, open_page, wait_for


def test_compare_existing_runs_and_sentence(monkeypatch, tmp_path):
    runs_dir = app_env(monkeypatch, tmp_path)
    completed_run(runs_dir, "rnn", epochs=1)
    completed_run(runs_dir, "lstm", epochs=1)
    at = open_page("compare", run=False).run()
    assert not at.exception and not at.error
    table = at.dataframe[0].value
    assert set(table["model"]) == {"RNN", "LSTM"}
    assert table["params"].notna().all()
    assert len(at.get("plotly_chart")) == 2  # curves + sentence through both models
    at.text_input(key="c_text").input("awful").run()
    assert not at.exception
    at.segmented_control(key="c_metric").set_value("both_loss").run()
    assert not at.exception


def test_grid_trains_on_the_same_data(monkeypatch, tmp_path):
    app_env(monkeypatch, tmp_path)
    at = open_page("compare", run=False)
    at.session_state["gs_data"] = dict(SMALL_DATA)
    at.run()
    assert any("No runs yet" in i.value for i in at.info)
    at.radio(key="c_base").set_value("train").run()
    at.multiselect(key="c_values_cell").set_value(["rnn", "gru"]).run()
    at.slider(key="c_epochs_train_cell").set_value(1).run()
    next(b for b in at.button if b.label.startswith("▶ Train")).click().run()
    assert not at.exception and "Queued 2 runs" in at.success[0].value
    wait_for(at, lambda a: a.dataframe and set(a.dataframe[0].value["state"]) == {"completed"})
    assert set(at.dataframe[0].value["model"]) == {"RNN", "GRU"}


def test_an_imported_tutorial_model_joins_the_sentence_comparison(monkeypatch, tmp_path):
    import json

    import torch

    from sentiment_core.checkpoint import save_checkpoint
    from sentiment_core.importers import ImportOptions, import_model
    from sentiment_core.registry import shared_registry
    from tests.tutorial_models import SentimentLSTM

    runs_dir = app_env(monkeypatch, tmp_path)
    completed_run(runs_dir, "lstm", epochs=1)
    words = "the movie was good bad awful".split()
    (tmp_path / "vocab.json").write_text(json.dumps({w: i for i, w in enumerate(words, 1)}))
    torch.manual_seed(0)
    torch.save(SentimentLSTM(len(words) + 1, 1, 4, 3, 2).state_dict(), tmp_path / "uci.pt")
    bundle = import_model(tmp_path / "uci.pt", tmp_path / "vocab.json", ImportOptions(head_input="last_step")).bundle
    path = save_checkpoint(tmp_path / "uci.safetensors", bundle)
    key = shared_registry().add_upload(path.read_bytes(), "uci (imported).safetensors").key
    at = open_page("compare", query={"models": key})
    assert not at.exception and not at.error
    assert at.session_state["c_models"] == [key]
    sentence_chart = at.get("plotly_chart")[-1].proto.spec
    assert "uci (imported)" in sentence_chart


def test_lesson_grid_shows_its_expected_result_and_trains_on_the_lesson_data(monkeypatch, tmp_path):
    runs_dir = app_env(monkeypatch, tmp_path)
    at = open_page("compare", query={"grid": lessons.PADDING.title}).run()
    assert any(lessons.PADDING.caption in i.value for i in at.info)  # the caption the lesson check backs
    assert at.slider(key="c_epochs_lesson_padding_packing").value == lessons.PADDING.train["epochs"]
    at.multiselect(key="c_values_padding_packing").set_value([("post", False)]).run()
    at.slider(key="c_epochs_lesson_padding_packing").set_value(1).run()
    next(b for b in at.button if b.label.startswith("▶ Train")).click().run()
    assert not at.exception and "Queued 1 runs" in at.success[0].value
    config = runs.load_run(at.session_state["c_selected"][0], root=runs_dir).config
    assert config["data"]["name"] == "synthetic_cue_at_end"
    assert config["model"]["packed"] is False and config["encoding"]["padding"] == "post"
    assert config["train"]["bucketing"] is False and config["train"]["epochs"] == 1


def test_compare_and_train_say_what_each_run_trained_on(monkeypatch, tmp_path):
    from browser.app_support import app_env, completed_run, open_page

    runs_dir = app_env(monkeypatch, tmp_path)
    name = completed_run(runs_dir, "rnn", epochs=1)
    at = open_page("compare", query={"runs": name})
    table = next(d.value for d in at.dataframe if "device" in d.value.columns)
    assert table["device"].iloc[0].startswith("cpu, ")
    at = open_page("train")
    assert not at.exception
    assert any("trained on cpu, " in c.value for c in at.caption)
    labels = [b.proto.label for b in at.get("download_button")]
    assert "⬇ HTML report (opens offline)" in labels and "⬇ Export as a PyTorch script" in labels
