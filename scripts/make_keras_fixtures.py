"""Build the Keras tutorial fixtures: tests/fixtures/tutorials/keras/<family>/.

The airline-tweets tutorials' models (SimpleRNN, LSTM, GRU, BiLSTM) built with Keras 3 on the
torch backend, with small seeded random weights, saved the way the tutorials save them
(``model.save("model.h5")`` and ``model.save("model.keras")``), with the tokenizer's
``tokenizer.to_json()`` and the Keras model's own predictions for raw texts processed the
tutorial's way (Tokenizer -> ``texts_to_sequences`` -> ``pad_sequences(maxlen=...)``).

Keras 3 dropped ``keras.preprocessing.text.Tokenizer``; ``Tokenizer`` below does what its
documentation and source (keras-preprocessing 1.1.2) say and writes the same JSON.

Run (Keras is a dev-only dependency, requirements-dev.txt):
    KERAS_BACKEND=torch python scripts/make_keras_fixtures.py
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from collections import OrderedDict, defaultdict
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "tutorials" / "keras"
FILTERS = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n'  # Keras' Tokenizer default
TRAIN_TEXTS = [
    "@united thanks for the great flight, crew was amazing!",
    "@AmericanAir worst customer service ever. Lost my bag again",
    "@SouthwestAir love the free snacks and friendly staff :)",
    "@united my flight is delayed 3 hours, no updates, terrible",
    "@JetBlue great seats, great wifi, on time. thank you",
    "@USAirways cancelled flightled again?! rebook me please",
    "@VirginAmerica the crew was lovely and the plane was clean",
    "@united rude agent at the gate and a dirty plane",
    "@AmericanAir thank you for the quick rebooking, very helpful",
    "@SouthwestAir bag lost, hold time 2 hours. not happy",
    "@JetBlue on time and friendly, best airline",
    "@united why is the wifi never working? awful",
    "@USAirways delayed delayed delayed. never again",
    "@VirginAmerica amazing service, thank you so much!",
    "@united the agent was helpful and kind",
    "@AmericanAir terrible seats and no legroom",
]
PROBE_TEXTS = [
    "@united thanks, great crew!",
    "terrible terrible terrible",
    "The flight was delayed but the crew was great",
    "not happy: lost bag, rude agent, dirty plane",
    "@JetBlue Best airline EVER!!! on time",
    "zebra quantum flight",  # words the tokenizer never saw
    "thank you for the lovely flight, the wifi was working and the seats were clean and the staff kind",
    "worst",
]


class Tokenizer:
    """Keras' ``Tokenizer`` (keras-preprocessing 1.1.2), the parts the tutorials call.

    Args:
        num_words: keep words with index below this in ``texts_to_sequences`` (None: all).
        filters: characters replaced by ``split`` before splitting.
        lower: lowercase first.
        split: the separator.
        oov_token: the token words outside the vocabulary become (index 1), or None to drop them.
    """

    def __init__(self, num_words=None, filters=FILTERS, lower=True, split=" ", oov_token=None):
        self.num_words, self.filters, self.lower, self.split, self.oov_token = num_words, filters, lower, split, oov_token
        self.word_counts: OrderedDict = OrderedDict()
        self.word_docs: defaultdict = defaultdict(int)
        self.index_docs: defaultdict = defaultdict(int)
        self.document_count = 0
        self.word_index: dict = {}
        self.index_word: dict = {}

    def words(self, text: str) -> list[str]:
        """``text_to_word_sequence``: lowercase, filters -> split, split, drop empty pieces."""
        text = text.lower() if self.lower else text
        text = text.translate(str.maketrans({c: self.split for c in self.filters}))
        return [w for w in text.split(self.split) if w]

    def fit_on_texts(self, texts: list[str]) -> None:
        for text in texts:
            self.document_count += 1
            seq = self.words(text)
            for w in seq:
                self.word_counts[w] = self.word_counts.get(w, 0) + 1
            for w in dict.fromkeys(seq):  # Keras: set(seq), in no fixed order; counts are the same
                self.word_docs[w] += 1
        wcounts = list(self.word_counts.items())
        wcounts.sort(key=lambda x: x[1], reverse=True)  # stable: ties keep first-seen order
        sorted_voc = ([] if self.oov_token is None else [self.oov_token]) + [wc[0] for wc in wcounts]
        self.word_index = dict(zip(sorted_voc, range(1, len(sorted_voc) + 1)))
        self.index_word = {c: w for w, c in self.word_index.items()}
        for w, c in list(self.word_docs.items()):
            self.index_docs[self.word_index[w]] = c

    def texts_to_sequences(self, texts: list[str]) -> list[list[int]]:
        oov = self.word_index.get(self.oov_token)
        out = []
        for text in texts:
            seq = []
            for w in self.words(text):
                i = self.word_index.get(w)
                if i is not None and not (self.num_words and i >= self.num_words):
                    seq.append(i)
                elif oov is not None:
                    seq.append(oov)
            out.append(seq)
        return out

    def to_json(self) -> str:
        config = {
            "num_words": self.num_words, "filters": self.filters, "lower": self.lower, "split": self.split,
            "char_level": False, "oov_token": self.oov_token, "document_count": self.document_count,
            "word_counts": json.dumps(self.word_counts), "word_docs": json.dumps(self.word_docs),
            "index_docs": json.dumps(self.index_docs), "index_word": json.dumps(self.index_word),
            "word_index": json.dumps(self.word_index),
        }
        return json.dumps({"class_name": "Tokenizer", "config": config})


def families():
    """(name, tokenizer, pad_sequences settings, labels, layers) of each tutorial family."""
    from keras import layers

    return [
        ("simple_rnn", Tokenizer(), dict(maxlen=12, padding="post", truncating="post"), ["negative", "positive"],
         lambda v: [layers.Embedding(v, 8), layers.SimpleRNN(6), layers.Dense(1, activation="sigmoid")]),
        ("lstm", Tokenizer(num_words=40, oov_token="<OOV>"), dict(maxlen=12), ["negative", "neutral", "positive"],
         lambda v: [layers.Embedding(v, 8), layers.LSTM(6, dropout=0.2), layers.Dropout(0.3),
                    layers.Dense(3, activation="softmax")]),
        ("gru", Tokenizer(oov_token="<OOV>"), dict(maxlen=12, padding="post"), ["negative", "positive"],
         lambda v: [layers.Embedding(v, 8, mask_zero=True), layers.GRU(6, return_sequences=True),
                    layers.GlobalAveragePooling1D(), layers.Dense(5, activation="relu"),
                    layers.Dense(1, activation="sigmoid")]),
        ("bilstm", Tokenizer(num_words=50), dict(maxlen=12), ["negative", "positive"],
         lambda v: [layers.Embedding(v, 8, mask_zero=True), layers.Bidirectional(layers.LSTM(5, return_sequences=True)),
                    layers.Bidirectional(layers.LSTM(5)), layers.Dense(1, activation="sigmoid")]),
    ]


def build(name, tokenizer, pad, labels, make_layers, seed: int, out: Path) -> dict:
    """Fit the tokenizer, build and save the model in ``out / name``, and return the expected outputs."""
    import keras
    from keras.utils import pad_sequences

    keras.utils.set_random_seed(seed)
    tokenizer.fit_on_texts(TRAIN_TEXTS)
    rows = tokenizer.num_words or len(tokenizer.word_index) + 1  # the tutorials' Embedding(vocab_size, ...)
    model = keras.Sequential([keras.Input((pad["maxlen"],)), *make_layers(rows)])
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(0.0, 0.6, w.shape).astype(np.float32) for w in model.get_weights()])
    model.compile(optimizer="adam", loss="binary_crossentropy" if len(labels) == 2 else "categorical_crossentropy")
    folder = out / name
    folder.mkdir(parents=True, exist_ok=True)
    model.save(folder / "model.h5")
    model.save(folder / "model.keras")
    (folder / "tokenizer.json").write_text(tokenizer.to_json())
    ids = pad_sequences(tokenizer.texts_to_sequences(PROBE_TEXTS), **pad)
    probabilities = model.predict(ids, verbose=0).astype(float)
    if probabilities.shape[1] == 1:  # Dense(1, sigmoid): P(positive)
        probabilities = np.concatenate([1 - probabilities, probabilities], axis=1)
    expected = {"texts": PROBE_TEXTS, "pad_sequences": pad, "labels": labels, "ids": ids.tolist(),
                "probabilities": probabilities.tolist(), "keras_parameters": int(model.count_params()),
                "keras": keras.__version__,
                "backend": keras.backend.backend()}
    (folder / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")
    return expected


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT, help="folder for the fixtures (default: %(default)s)")
    parser.add_argument("--only", nargs="*", help="build only these families")
    args = parser.parse_args(argv)
    for seed, family in enumerate(families()):
        if args.only and family[0] not in args.only:
            continue
        expected = build(*family, seed=seed, out=args.out)
        print(f"{family[0]}: {len(expected['texts'])} texts, P range "
              f"{np.min(expected['probabilities']):.3f}-{np.max(expected['probabilities']):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
