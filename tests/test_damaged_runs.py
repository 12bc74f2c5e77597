"""Damaged runs folders (issue 22, item 8): every page and GET /models survive a runs folder with
one sound run and a damaged copy of it for each kind of damage (tests/damaged_runs.py); each
damaged run is listed with what is wrong, and what still reads stays usable."""
from __future__ import annotations

import html
import shutil

import pytest
from browser.app_support import app_env, open_page
from damaged_runs import DAMAGE, NOT_RUNS, write_damaged_runs
from fastapi.testclient import TestClient

from sentiment_core import runs
from sentiment_core.api import create_app
from sentiment_core.checkpoint import load_checkpoint
from sentiment_core.registry import RUN_PREFIX


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    root = tmp_path_factory.mktemp("damaged") / "runs"
    good, expected = write_damaged_runs(root)
    return root, good, expected


@pytest.fixture
def damaged(template, monkeypatch, tmp_path):
    """A fresh copy of the damaged runs folder that the app and the API read."""
    source, good, expected = template
    runs_dir = app_env(monkeypatch, tmp_path)
    shutil.copytree(source, runs_dir)
    return runs_dir, good, expected


def page_text(at) -> str:
    """Every message, caption and markdown the page shows, as one text (escapes and word joiners removed)."""
    parts = [e.value for kind in ("markdown", "caption", "warning", "error", "info") for e in getattr(at, kind)]
    return html.unescape("\n".join(str(p) for p in parts)).replace("\u2060", "")


def test_every_damaged_run_is_listed_with_what_is_wrong(damaged):
    runs_dir, good, expected = damaged
    records = {r.name: r for r in runs.list_runs(runs_dir, queue=None)}
    assert set(records) == {good, *expected}  # the two things that are not runs are ignored
    assert not set(NOT_RUNS) & set(records)
    assert not records[good].problems and records[good].state == "completed"
    for name, words in expected.items():
        assert records[name].damaged and any(words in p for p in records[name].problems), (name, records[name].problems)
        assert records[name].label.endswith("⚠ damaged")
    # what is not damaged stays usable
    assert [e["epoch"] for e in records["epochs-bad-byte"].epochs()] == [1, 3]
    assert [e["epoch"] for e in records["epochs-cut-short"].epochs()] == [1, 2]
    assert load_checkpoint(records["config-deep"].best_path).model_config.cell == "lstm"
    assert records["result-bad-json"].result is None and len(records["result-bad-json"].epochs()) == 3
    assert records["config-wrong-type"].config.get("model") is None and records["config-wrong-type"].result
    assert records["checkpoint-missing"].best_path is None
    # a run whose state cannot be read is "damaged" (finished: it can be deleted), and says why
    for name in ("status-bad-json", "status-unknown-state"):
        assert records[name].state == "damaged" and records[name].message.startswith("this run's files are damaged")
    assert "problems" in records["epochs-bad-line"].summary()
    runs.delete_run("status-bad-json", runs_dir)
    assert not (runs_dir / "status-bad-json").exists()


def test_train_page_shows_each_damaged_run_and_its_problem(damaged):
    runs_dir, good, expected = damaged
    at = open_page("train", query={"run": good})
    assert not at.exception, at.exception
    picker = at.selectbox(key="gs_show_run")
    assert "⚠ damaged" in picker.format_func("config-deep")
    for name, words in expected.items():
        at.session_state["gs_show_run"] = name
        at.run()
        assert not at.exception, (name, at.exception)
        assert words in page_text(at), name


def test_compare_gallery_home_survive_and_name_the_damage(damaged):
    runs_dir, good, expected = damaged
    at = open_page("compare", query={"runs": ",".join([good, *expected])})
    assert not at.exception, at.exception
    table = at.dataframe[0].value
    assert set(table["run"]) == {good, *expected}
    problems = dict(zip(table["run"], table["problems"]))
    assert problems[good] == "" and "epochs.jsonl line 2 is not valid UTF-8" in problems["epochs-bad-byte"]
    at = open_page("gallery")
    assert not at.exception, at.exception
    assert "config-deep" in page_text(at) and "nested too deeply" in page_text(at)
    at = open_page("home", query={"model": RUN_PREFIX + "epochs-bad-byte"})
    assert not at.exception, at.exception


@pytest.mark.parametrize("name", ["config-wrong-type", "config-deep", "epochs-bad-byte", "result-not-object"])
def test_dataset_and_explain_survive_a_damaged_run(damaged, name):
    at = open_page("dataset", query={"model": RUN_PREFIX + name})
    assert not at.exception, at.exception
    at = open_page("explain", query={"model": RUN_PREFIX + name})
    assert not at.exception, at.exception


def test_models_endpoint_lists_usable_runs_with_their_problems(damaged, tmp_path):
    runs_dir, good, expected = damaged
    client = TestClient(create_app(tmp_path / "no-shipped-models", runs_dir))
    response = client.get("/models")
    assert response.status_code == 200
    listed = {m["name"][len(RUN_PREFIX):]: m for m in response.json()["models"]}
    assert listed[good]["problems"] == []
    # runs with a checkpoint are listed with their problems; one without a checkpoint is left out
    assert "checkpoint-missing" not in listed
    assert any("nested too deeply" in p for p in listed["config-deep"]["problems"])
    assert listed["status-bad-json"]["state"] == "damaged"
    assert client.post("/predict", json={"text": "not good", "model": RUN_PREFIX + "config-deep"}).status_code == 200
    assert listed["checkpoint-empty"]["problems"] == ["best.safetensors is empty (0 bytes): the model cannot be loaded"]
    refused = client.post("/predict", json={"text": "not good", "model": RUN_PREFIX + "checkpoint-empty"})
    assert refused.status_code == 422 and "empty" in refused.json()["detail"]


def test_a_listing_scans_a_line_file_again_only_when_it_changed(damaged, monkeypatch):
    """Every page lists every run on every rerun: a finished run's epochs.jsonl is read once, and a
    damage that appears later is still reported."""
    root, good, _ = damaged
    calls = []
    scan = runs.scan_jsonl
    monkeypatch.setattr(runs, "scan_jsonl", lambda path, start=0: calls.append(path) or scan(path, start))
    runs.list_runs(root)
    first = len(calls)
    runs.list_runs(root)
    assert first and all(not p.exists() for p in calls[first:])  # only files that are missing are asked again
    epochs = root / good / "epochs.jsonl"
    epochs.write_bytes(epochs.read_bytes() + b"{not json}\n")
    assert any("is not valid JSON" in p for p in runs.load_run(good, root).problems)
