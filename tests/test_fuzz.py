"""Fuzzing: hypothesis properties on tokenizer -> vocabulary -> encoding -> prediction (any
unicode text gives a valid probability vector), schemathesis over the API's OpenAPI schema,
and arbitrary JSON thrown at every endpoint: no 5xx, ever. Example counts are modest so the
module runs in seconds."""
from __future__ import annotations

import json
import math

import pytest
import torch
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bad_inputs.corpus import tiny_bundle, write_bundle
from sentiment_core.api import ApiLimits, create_app
from sentiment_core.checkpoint import Bundle
from sentiment_core.encoding import EncodingConfig, text_to_indices, truncate
from sentiment_core.models import ModelConfig, build_model
from sentiment_core.predict import Predictor
from sentiment_core.text import TOKENIZER_KINDS, Tokenizer, TokenizerConfig
from sentiment_core.vocab import UNK_IDX, Vocab

try:
    import schemathesis
    from schemathesis.checks import not_a_server_error
except ImportError:  # a development dependency; its test is skipped where it is missing
    schemathesis = None

FAST = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
# Any unicode: emoji, RTL, combining marks, control characters, lone surrogates, NUL.
ANY_TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=300)
TOKENIZERS = st.builds(TokenizerConfig, kind=st.sampled_from(TOKENIZER_KINDS), lowercase=st.booleans(),
                       strip_punctuation=st.booleans(), remove_stopwords=st.booleans())


@FAST
@given(texts=st.lists(ANY_TEXT, min_size=1, max_size=6), queries=st.lists(ANY_TEXT, min_size=1, max_size=6),
       tokenizer=TOKENIZERS, max_len=st.integers(5, 40), truncation=st.sampled_from(["pre", "post"]),
       cell=st.sampled_from(["rnn", "lstm", "gru"]), classes=st.integers(2, 4))
def test_any_text_gives_a_probability_vector(texts, queries, tokenizer, max_len, truncation, cell, classes):
    tok = Tokenizer(tokenizer)
    vocab = Vocab.build([tok(t) for t in texts])
    for text in queries:
        tokens, ids = text_to_indices(text, tok, vocab)
        assert len(tokens) == len(ids) and all(0 <= i < len(vocab) for i in ids)
        kept = truncate(ids, max_len, truncation)
        assert len(kept) == min(len(ids), max_len)
    torch.manual_seed(0)
    model = build_model(ModelConfig(vocab_size=len(vocab), num_classes=classes, cell=cell, emb_dim=8,
                                    hidden_dim=4)).eval()
    bundle = Bundle(model, vocab, [f"c{i}" for i in range(classes)], tok.config,
                    EncodingConfig(max_len=max_len, truncation=truncation))
    for text, p in zip(queries, Predictor(bundle).predict(queries)):
        values = list(p.probabilities.values())
        assert len(values) == classes and all(math.isfinite(v) and 0 <= v <= 1 for v in values)
        assert math.isclose(sum(values), 1.0, abs_tol=1e-5)
        assert p.label == max(p.probabilities, key=p.probabilities.get)
        assert len(p.tokens) <= max_len and 0.0 <= p.unknown_share <= 1.0
        assert p.truncated == (len(tok(text)) > max_len)


TINY = Predictor(tiny_bundle())


@FAST
@given(text=ANY_TEXT)
def test_unknown_and_empty_texts_are_explained_in_notes(text):
    prediction = TINY.predict([text])[0]
    if not prediction.tokens:
        assert "empty" in prediction.notes[0]
    elif all(i == UNK_IDX for i in TINY.encode(text).ids):
        assert any("vocabulary" in note for note in prediction.notes)


LIMITS = ApiLimits(max_text_chars=300, max_texts=5, max_ig_steps=20)


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz")
    write_bundle(root / "pretrained" / "tiny.safetensors")
    write_bundle(root / "pretrained" / "gru.safetensors", cell="gru", bidirectional=True, pooling="attention")
    return create_app(root / "pretrained", root / "runs", default_model="tiny", limits=LIMITS)


@pytest.mark.skipif(schemathesis is None, reason="schemathesis is not installed: pip install -r requirements-dev.txt")
@pytest.mark.parametrize("mode", ["positive", "negative"])
def test_openapi_operations_never_answer_5xx(app, mode):
    """Schemathesis generates requests from the served OpenAPI schema, valid (positive) and
    invalid (negative) ones, for every operation. (Its pytest plugin does not work with
    pytest 9, so its strategies are driven by hypothesis directly.)"""
    api = schemathesis.openapi.from_asgi("/openapi.json", app)

    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
    @given(case=api.as_strategy(generation_mode=schemathesis.GenerationMode(mode)))
    def check(case):
        case.call_and_validate(checks=[not_a_server_error])

    check()


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | ANY_TEXT,
                    lambda children: st.lists(children, max_size=4) | st.dictionaries(ANY_TEXT, children, max_size=4),
                    max_leaves=12)
FIELDS = st.fixed_dictionaries({}, optional={"text": JSON, "texts": JSON, "model": JSON, "target": JSON,
                                             "steps": JSON})


JSON_HEADERS = {"content-type": "application/json"}


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(path=st.sampled_from(["/predict", "/explain"]), body=JSON | FIELDS)
def test_arbitrary_json_never_answers_5xx(app, path, body):
    # json.dumps escapes lone surrogates as \udXXX (answered 422), which the server must survive too
    response = TestClient(app).post(path, content=json.dumps(body).encode(), headers=JSON_HEADERS)
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert response.json()["detail"]


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(raw=st.binary(max_size=400), content_type=st.sampled_from(["application/json", "text/plain", ""]))
def test_arbitrary_bytes_never_answer_5xx(app, raw, content_type):
    response = TestClient(app).post("/predict", content=raw, headers={"content-type": content_type})
    assert response.status_code < 500, response.text
