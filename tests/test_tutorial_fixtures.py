"""Tutorial models imported through GateScope predict what the tutorial's own code predicted, on raw
text, alone and in batches (issue 24), and every bundle's predictions are batch-independent.

The fixtures (tests/fixtures/tutorials/torch/<family>/) are built by scripts/make_tutorial_fixtures.py,
which mirrors each tutorial's own pipeline in plain PyTorch."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sentiment_core.checkpoint import load_checkpoint, save_checkpoint
from sentiment_core.cli import main
from sentiment_core.importers import ImportOptions, import_model
from sentiment_core.models import ModelConfig, build_model
from sentiment_core.predict import Predictor, describe_reading

ROOT = Path(__file__).resolve().parents[1]
TORCH_FIXTURES = ROOT / "tests" / "fixtures" / "tutorials" / "torch"
FAMILIES = sorted(p.name for p in TORCH_FIXTURES.iterdir() if (p / "expected.json").is_file())
TOLERANCE = 1e-5


def _fixture(family: str) -> tuple[Path, dict]:
    folder = TORCH_FIXTURES / family
    return folder, json.loads((folder / "expected.json").read_text())


def _imported(family: str):
    folder, expected = _fixture(family)
    return import_model(folder / expected["weights"], folder / expected["vocabulary"],
                        ImportOptions(**expected["import_options"])).bundle


def _probabilities(bundle, texts: list[str], batch_size: int = 128) -> np.ndarray:
    """(N, C) probabilities in the bundle's class order."""
    return np.array([[p.probabilities[n] for n in bundle.label_names]
                     for p in Predictor(bundle).predict(texts, batch_size)])


def test_every_torch_family_has_a_fixture():
    assert FAMILIES == ["imdb_rnn", "sarcasm_bilstm", "torchtext_packed", "torchtext_rnn", "uci_lstm"]


@pytest.mark.parametrize("family", FAMILIES)
def test_imported_tutorial_model_matches_the_tutorial_on_raw_text(family):
    _, expected = _fixture(family)
    bundle = _imported(family)
    texts = expected["texts"]
    alone = np.array([_probabilities(bundle, [text])[0] for text in texts])
    batch = _probabilities(bundle, texts)
    assert np.abs(alone - np.array(expected["alone"])).max() < TOLERANCE
    assert np.abs(batch - np.array(expected["batch"])).max() < TOLERANCE
    assert np.abs(_probabilities(bundle, texts[::-1], batch_size=3)[::-1] - np.array(expected["batch"])).max() < TOLERANCE


@pytest.mark.parametrize("family", FAMILIES)
def test_the_text_pipeline_survives_saving_and_explain_reads_it(family, tmp_path):
    _, expected = _fixture(family)
    bundle = load_checkpoint(save_checkpoint(tmp_path / "m.safetensors", _imported(family)))
    assert np.abs(_probabilities(bundle, expected["texts"]) - np.array(expected["alone"])).max() < TOLERANCE
    from sentiment_core.explain.trace import trace

    text = expected["texts"][0]
    traced = trace(bundle, text).prediction.probabilities
    assert np.abs(np.asarray(traced) - np.array(expected["alone"][0])).max() < TOLERANCE
    assert bundle.card["text_preset"] == expected["import_options"]["preset"]


def test_the_uci_chapter_reads_punctuation_unknown_words_and_padding_its_way():
    bundle = _imported("uci_lstm")
    encoded = Predictor(bundle).encode("Great! zebra")
    assert encoded.tokens == ["great", "zebra"] and encoded.ids[1] == 0 and encoded.unknown == [False, True]
    assert encoded.pad_before == 10 and encoded.fed_ids[:10] == [0] * 10
    reading = describe_reading(bundle)
    assert "index 0" in reading and "padded to 12 tokens before" in reading and "deleted" in reading


def test_sarcasm_preset_removes_nltk_stopwords_and_pads_after():
    encoded = Predictor(_imported("sarcasm_bilstm")).encode("This movie was not good")
    assert encoded.tokens == ["movie", "good"] and encoded.pad_after == 8
    assert encoded.unknown == [False, False]


def test_cli_import_with_a_preset_reproduces_the_tutorial(tmp_path, capsys):
    folder, expected = _fixture("uci_lstm")
    out = tmp_path / "uci.safetensors"
    assert main(["import", str(folder / "model.pt"), "--vocab", str(folder / "vocab_to_int.json"), "--out", str(out),
                 "--preset", "chapters", "--max-len", "12", "--head-input", "last_step"]) == 0
    assert "index 0, the padding vector" in capsys.readouterr().out
    got = _probabilities(load_checkpoint(out), expected["texts"])
    assert np.abs(got - np.array(expected["alone"])).max() < TOLERANCE


def test_keras_tokenizer_json_gives_filters_case_oov_and_num_words(tmp_path):
    from sentiment_core.importers import keras_tokenizer_settings

    word_index = {"<OOV>": 1, "good": 2, "bad": 3, "film": 4}
    config = {"num_words": 4, "filters": "!", "lower": False, "split": " ", "char_level": False,
              "oov_token": "<OOV>", "word_index": json.dumps(word_index)}
    (tmp_path / "tokenizer.json").write_text(json.dumps({"class_name": "Tokenizer", "config": config}))
    assert keras_tokenizer_settings(tmp_path / "tokenizer.json")["filters"] == "!"
    torch.manual_seed(0)
    net = torch.nn.Sequential()
    net.add_module("embedding", torch.nn.Embedding(5, 4))
    net.add_module("rnn", torch.nn.GRU(4, 3, batch_first=True))
    net.add_module("fc", torch.nn.Linear(3, 1))
    torch.save(net.state_dict(), tmp_path / "m.pt")
    bundle = import_model(tmp_path / "m.pt", tmp_path / "tokenizer.json", ImportOptions(max_len=5)).bundle
    assert bundle.card["text_preset"] == "keras"
    encoded = Predictor(bundle).encode("good! Good film, bad")
    # lower=False keeps "Good" unknown; "film" (index 4 >= num_words) is the oov token; "," is not a filter
    assert encoded.tokens == ["good", "Good", "film,", "bad"]
    assert encoded.unknown == [False, True, True, False] and encoded.pad_before == 1
    assert "Keras Tokenizer" in describe_reading(bundle)


# ------------------------------------------------------------------ batch independence, every bundle

PROPERTY = settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
WORDS = ["good", "bad", "not", "great", "film", "movie", "boring", "loved", "it", "the", "!", ",", "zebra",
         "acting", "plot", "was", "Great!", "terrible", "<pad>", "don't"]
TEXTS = st.lists(st.lists(st.sampled_from(WORDS), max_size=30).map(" ".join), min_size=1, max_size=8)


def _shipped():
    return sorted((ROOT / "pretrained").glob("*.safetensors"))


@pytest.fixture(scope="module")
def bundles():
    """Every shipped model, every imported fixture and an unpacked GateScope model."""
    found = {path.stem: load_checkpoint(path) for path in _shipped()}
    found.update({family: _imported(family) for family in FAMILIES})
    torch.manual_seed(0)
    shipped = found["lstm"]
    model = build_model(ModelConfig(vocab_size=len(shipped.vocab), num_classes=2, cell="gru", emb_dim=8,
                                    hidden_dim=4, packed=False, pooling="mean")).eval()
    found["unpacked_gru"] = type(shipped)(model, shipped.vocab, ["negative", "positive"], shipped.tokenizer_config,
                                          shipped.encoding)
    return found


@PROPERTY
@given(texts=TEXTS, batch_size=st.integers(1, 8), data=st.data())
def test_a_texts_probabilities_do_not_depend_on_its_batch(bundles, texts, batch_size, data):
    name = data.draw(st.sampled_from(sorted(bundles)))
    bundle = bundles[name]
    batch = _probabilities(bundle, texts, batch_size)
    alone = np.array([_probabilities(bundle, [text])[0] for text in texts])
    assert np.abs(batch - alone).max() < TOLERANCE, name


@PROPERTY
@given(text=st.text(st.characters(codec=None, exclude_categories=()), max_size=200), data=st.data())
def test_any_text_through_a_tutorial_pipeline_gives_a_probability_vector(bundles, text, data):
    bundle = bundles[data.draw(st.sampled_from(FAMILIES))]
    values = list(Predictor(bundle).predict([text])[0].probabilities.values())
    assert all(0 <= v <= 1 for v in values) and abs(sum(values) - 1) < 1e-5


def test_shipped_models_predict_exactly_as_before_and_record_nothing_new(bundles):
    """Shipped bundles are packed: batching them is unchanged (the trainer's padded batches, bit for
    bit), and bundles of GateScope's own tokenizers write no text-pipeline fields."""
    from sentiment_core.checkpoint import read_metadata
    from sentiment_core.trainer import EncodedExamples, predict_logits

    texts = ["It was not good.", "", "Great film, but the ending was a letdown", "zebra " * 300]
    for path in _shipped():
        bundle = bundles[path.stem]
        encoded = [Predictor(bundle).encode(t) for t in texts]
        before = torch.softmax(predict_logits(bundle.model, EncodedExamples([e.ids or [1] for e in encoded], [0] * 4),
                                              padding=bundle.batch_padding), dim=1)
        assert torch.equal(Predictor(bundle).probabilities(encoded), before), path.stem
        meta = read_metadata(path)
        assert not {"strip_chars", "filters", "split", "stopwords"} & {*meta["tokenizer"], *bundle.tokenizer_config.to_dict()}
        assert set(meta["encoding"]) == {"max_len", "padding", "truncation"} == set(bundle.encoding.to_dict())
        assert (bundle.encoding.fixed_length, bundle.encoding.unknown) == (False, "unk")
