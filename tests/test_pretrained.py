"""The shipped pretrained bundles: they load, are small, get the demo sentences right and
their stored fixture metrics match a re-evaluation on the held-out slices."""
from __future__ import annotations

import json

import pytest
import torch

from sentiment_core.checkpoint import read_metadata
from sentiment_core.errors import CheckpointError
from sentiment_core.predict import Predictor
from sentiment_core.pretrained import (
    DEFAULT_DIR, DEMO_SENTENCES, FIXTURE_DIR, RECIPES, evaluate_fixture, fixture_path, list_pretrained,
    load_pretrained, pretrained_path, read_fixture,
)

SHIPPED = [name for name in RECIPES if (DEFAULT_DIR / f"{name}.safetensors").exists()]
MOVIE = [n for n in SHIPPED if RECIPES[n].task == "movie"]

pytestmark = pytest.mark.skipif(not SHIPPED, reason="no pretrained bundles in pretrained/")


@pytest.fixture(scope="module", autouse=True)
def _threads():
    previous = torch.get_num_threads()
    torch.set_num_threads(min(previous, 2))
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def bundles():
    return {name: load_pretrained(name) for name in SHIPPED}


def test_every_architecture_is_shipped():
    assert {"rnn", "lstm", "bilstm", "gru"} <= set(SHIPPED)
    assert any(RECIPES[n].task == "airline" for n in SHIPPED)


@pytest.mark.parametrize("name", SHIPPED)
def test_bundle_is_small_float16_and_has_a_card(name):
    path = pretrained_path(name)
    assert path.stat().st_size <= 10 * 2**20
    meta = read_metadata(path)
    assert meta["stored_dtype"] == "float16"
    card = json.loads((DEFAULT_DIR / f"{name}.card.json").read_text(encoding="utf-8"))
    assert (DEFAULT_DIR / f"{name}.md").is_file()
    assert meta["card"]["metrics"] == card["metrics"]
    assert set(card["metrics"]) == set(RECIPES[name].eval_sets)
    for key in ("hardware", "training_seconds", "train_config", "model_options", "weaknesses", "data"):
        assert card[key], key


@pytest.mark.parametrize("name", MOVIE)
def test_movie_models_get_the_demo_sentences_right(bundles, name):
    predictions = Predictor(bundles[name]).predict([text for text, _ in DEMO_SENTENCES])
    wrong = [(text, want, p.label) for (text, want), p in zip(DEMO_SENTENCES, predictions) if p.label != want]
    assert not wrong, wrong


@pytest.mark.parametrize("name", [n for n in SHIPPED if RECIPES[n].task == "airline"])
def test_airline_model_demo(bundles, name):
    demo = RECIPES[name].demo
    predictions = Predictor(bundles[name]).predict([t for t, _ in demo])
    assert [p.label for p in predictions] == [y for _, y in demo]


@pytest.mark.parametrize("name", SHIPPED)
def test_stored_fixture_metrics_match_reevaluation(bundles, name):
    bundle = bundles[name]
    stored = bundle.card["fixture_metrics"]
    assert set(stored) == set(RECIPES[name].eval_sets)
    for key, expected in stored.items():
        rows = read_fixture(fixture_path(key))
        assert len(rows) == expected["count"] == 200
        got = evaluate_fixture(bundle, key)
        assert abs(got["accuracy"] - expected["accuracy"]) <= 1e-6, (key, got["accuracy"], expected["accuracy"])
        assert abs(got["macro_f1"] - expected["macro_f1"]) <= 1e-6


def test_fixture_files_are_well_formed():
    for key in ("imdb_test", "sst2_dev", "rt_test", "airline_test"):
        path = fixture_path(key, FIXTURE_DIR)
        if not path.exists():
            continue
        rows = read_fixture(path)
        assert len(rows) == 200
        assert all(len(r) == 2 and r[0] and r[1] in ("negative", "neutral", "positive") for r in rows)


def test_list_and_load_helpers():
    infos = list_pretrained()
    assert [i.name for i in infos][: len(SHIPPED)] == SHIPPED
    for info in infos:
        assert info.metrics and info.size_bytes > 0 and info.headline()
    with pytest.raises(CheckpointError, match="available"):
        load_pretrained("no_such_model")
