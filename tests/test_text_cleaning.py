"""Text as a reader sees it: cleaning, sentence-aware word tokens, and one path for training,
prediction, explanation and the API; bundles saved before cleaning keep their numbers."""
from __future__ import annotations

import json

import pytest
import torch
from fastapi.testclient import TestClient
from safetensors.torch import load_file, save_file

from sentiment_core.api import create_app
from sentiment_core.checkpoint import METADATA_KEY, load_checkpoint, save_checkpoint
from sentiment_core.data.types import DatasetSplits, Examples
from sentiment_core.explain import explain
from sentiment_core.pipeline import VocabConfig, train_on_splits
from sentiment_core.predict import Predictor
from sentiment_core.text import Tokenizer, TokenizerConfig, clean_text
from sentiment_core.trainer import TrainConfig

words = Tokenizer()  # the defaults: clean, then sentences, then words


@pytest.mark.parametrize("raw, cleaned", [
    ("Great film.<br /><br />I loved it", "Great film. I loved it"),
    ("<i>Really</i> <a href='x.html'>good</a>", "Really good"),
    ("Tom &amp; Jerry &lt;3 &quot;fun&quot; caf&eacute;", 'Tom & Jerry <3 "fun" café'),
    ("\u201cGreat\u201d film\u2019s end \u2026", "\"Great\" film's end ..."),
    ("\uff47\uff4f\uff4f\uff44 \ufb01ne", "good fine"),  # full-width letters and the fi ligature (NFKC)
    ("<3 and a < b, <pad> <unk>", "<3 and a < b, <pad> <unk>"),
    ("  spread \n\t out  ", "spread out"),
])
def test_cleaning_reads_text_as_a_reader_does(raw, cleaned):
    assert clean_text(raw) == cleaned


@pytest.mark.parametrize("text, expected", [
    ("Great film.<br /><br />I loved it", ["great", "film", ".", "i", "loved", "it"]),
    ("It was good. Then it was not good.", ["it", "was", "good", ".", "then", "it", "was", "not", "good", "."]),
    ("Mr. Smith was great. Dr. Jones, e.g. the doctor, was not.",
     ["mr.", "smith", "was", "great", ".", "dr.", "jones", ",", "e.g.", "the", "doctor", ",", "was", "not", "."]),
    ("I give it 3.5 stars.", ["i", "give", "it", "3.5", "stars", "."]),
    ("Wait... what? Boring!!! Never again.", ["wait", "...", "what", "?", "boring", "!", "!", "!", "never", "again",
                                             "."]),
    ("Great film.I loved it.It was fun", ["great", "film", ".", "i", "loved", "it", ".", "it", "was", "fun"]),
    ("Loved it :) See it. Hated it :( Skip it.",
     ["loved", "it", ":", ")", "see", "it", ".", "hated", "it", ":", "(", "skip", "it", "."]),
])
def test_periods_never_stick_to_words(text, expected):
    tokens = words(text)
    assert tokens == expected
    glued = [t for t in tokens if len(t) > 1 and t.endswith(".") and t[:-1].isalpha() and t not in ("mr.", "dr.")]
    assert not glued


def test_the_old_way_glued_periods_and_read_tags():
    legacy = Tokenizer(TokenizerConfig(clean=False, split_sentences=False))
    assert legacy("Great film.<br /><br />I loved it")[:4] == ["great", "film.", "<", "br"]


def test_tweet_and_whitespace_tokenizers_do_not_split_sentences():
    for kind in ("tweet", "whitespace"):
        on = Tokenizer(TokenizerConfig(kind=kind))
        off = Tokenizer(TokenizerConfig(kind=kind, split_sentences=False))
        text = "@united lost my bag.Again!! :( #fail &amp; no reply"
        assert on(text) == off(text)
        assert "&" in on(text) or "&amp;" not in " ".join(on(text))
    assert "#fail" in Tokenizer(TokenizerConfig(kind="tweet"))("lost my bag :( #fail")


def cue_splits() -> DatasetSplits:
    """Reviews whose label follows one cue word, written with the HTML a scraped review has."""
    def make(n: int, offset: int) -> Examples:
        texts, labels = [], []
        for i in range(n):
            label = (i + offset) % 2
            cue = ("great", "wonderful")[i % 2] if label else ("awful", "boring")[i % 2]
            texts.append(f"The film was {cue}.<br /><br />I saw it on day {i % 7}. &quot;Really&quot; {cue}!")
            labels.append(label)
        return Examples(texts, labels)

    return DatasetSplits("cue", ["negative", "positive"], make(160, 0), make(40, 1), make(40, 0), "cue")


@pytest.fixture(scope="module")
def clean_bundle():
    torch.manual_seed(0)
    outcome = train_on_splits(cue_splits(), {"cell": "lstm", "emb_dim": 8, "hidden_dim": 8},
                              TrainConfig(epochs=2, batch_size=16, lr=1e-2, device="cpu", patience=0),
                              vocab_config=VocabConfig(min_freq=1, max_size=200))
    assert outcome.bundle.tokenizer_config.clean and outcome.bundle.tokenizer_config.split_sentences
    return outcome.bundle


RAW = "I hated it.<br /><br />&quot;Boring&quot;, truly \u201cawful\u201d.It was a mess"
CLEANED = clean_text(RAW)


def test_raw_and_cleaned_text_read_the_same_everywhere(clean_bundle, tmp_path):
    assert "<br" in RAW and "<br" not in CLEANED and "&quot;" not in CLEANED
    raw, cleaned = Predictor(clean_bundle).predict([RAW, CLEANED])
    assert raw.tokens == cleaned.tokens and "film." not in raw.tokens and "<" not in raw.tokens
    assert raw.probabilities == pytest.approx(cleaned.probabilities, abs=1e-6)
    a, b = explain(clean_bundle, RAW), explain(clean_bundle, CLEANED)
    assert list(a.trace.tokens) == list(b.trace.tokens) == raw.tokens
    assert torch.allclose(torch.as_tensor(a.integrated_gradients.scores), torch.as_tensor(b.integrated_gradients.scores), atol=1e-5)
    folder = tmp_path / "pretrained"
    folder.mkdir()
    save_checkpoint(folder / "cue.safetensors", clean_bundle)
    client = TestClient(create_app(folder, tmp_path / "runs", default_model="cue"))
    answers = client.post("/predict", json={"texts": [RAW, CLEANED]}).json()["predictions"]
    assert answers[0]["tokens"] == answers[1]["tokens"] == raw.tokens
    assert answers[0]["probabilities"] == pytest.approx(answers[1]["probabilities"], abs=1e-6)
    explained = [client.post("/explain", json={"text": t}).json() for t in (RAW, CLEANED)]
    assert explained[0]["tokens"] == explained[1]["tokens"] == raw.tokens
    assert explained[0]["integrated_gradients"]["scores"] == pytest.approx(
        explained[1]["integrated_gradients"]["scores"], abs=1e-5)


def test_bundles_saved_before_cleaning_keep_reading_text_as_then(clean_bundle, tmp_path):
    """A bundle whose stored tokenizer settings predate cleaning loads with cleaning off."""
    path = save_checkpoint(tmp_path / "new.safetensors", clean_bundle)
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        meta = json.loads(handle.metadata()[METADATA_KEY])
    for key in ("clean", "split_sentences"):
        del meta["tokenizer"][key]
    old = tmp_path / "old.safetensors"
    save_file(load_file(str(path)), str(old), metadata={METADATA_KEY: json.dumps(meta)})
    legacy = load_checkpoint(old)
    assert not legacy.tokenizer_config.clean and not legacy.tokenizer_config.split_sentences
    tokens = Predictor(legacy).predict([RAW])[0].tokens
    assert tokens == Tokenizer(TokenizerConfig(clean=False, split_sentences=False))(RAW)[:len(tokens)]
    assert "<" in tokens and "mess" in tokens
    assert load_checkpoint(path).tokenizer_config.clean


def test_the_tokenizer_loads_without_scipy_and_sklearn_which_still_import_afterwards():
    """nltk's package imports SciPy and scikit-learn, which the first prediction never needs; they
    stay out of the tokenizer's import (start-up) and load normally when the Dataset page asks."""
    import subprocess
    import sys

    code = ("import sys; import sentiment_core.text as t; "
            "print(sorted(m for m in ('scipy', 'sklearn') if m in sys.modules)); "
            "print(t.Tokenizer(t.TokenizerConfig())('Great film.I loved it :)')); "
            "from scipy.stats import binomtest; from sklearn.decomposition import PCA; print('later', PCA.__name__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.splitlines()
    assert out[0] == "[]"
    assert out[1] == str(['great', 'film', '.', 'i', 'loved', 'it', ':', ')'])
    assert out[2] == "later PCA"
