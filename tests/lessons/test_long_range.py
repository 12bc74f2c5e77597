"""Ready-made lessons: the long-range experiment's data and the lesson it must show."""
from __future__ import annotations

import torch

from sentiment_core import lessons
from sentiment_core.data.synthetic import NEGATIVE_CUES, POSITIVE_CUES

CUES = set(POSITIVE_CUES) | set(NEGATIVE_CUES)


def _distance(text: str) -> int:
    words = text.split()
    return len(words) - 1 - next(i for i, w in enumerate(words) if w in CUES)


def test_long_range_splits_train_on_a_range_and_test_at_the_distance():
    splits = lessons.long_range_splits(12, n_examples=400, n_test=100, seed=3)
    assert len(splits.train) + len(splits.validation) == 400 and len(splits.test) == 100
    assert {_distance(t) for t in splits.test.texts} == {12}
    seen = {_distance(t) for t in splits.train.texts}
    assert min(seen) == 0 and max(seen) == 12
    again = lessons.long_range_splits(12, n_examples=400, n_test=100, seed=3)
    assert again.test == splits.test and again.train == splits.train


def test_long_range_request_and_results():
    request = lessons.long_range_request("gru", 20, epochs=3)
    assert request.model_options["cell"] == "gru" and request.model_options["pooling"] == "last"
    assert request.train_config["epochs"] == 3 and request.encoding["max_len"] >= 21
    assert request.data["distance"] == 20 and request.label == "longrange-gru-d20"

    class Record:
        def __init__(self, cell, d, acc):
            self.config = {"model": {"cell": cell}, "data": {"distance": d}}
            self.result = {"test_accuracy": acc} if acc is not None else None

    results = lessons.long_range_results([Record("rnn", 10, 0.9), Record("rnn", 60, 0.5), Record("lstm", 60, None)])
    assert results == {"RNN": {10: 0.9, 60: 0.5}}


def test_plain_rnn_forgets_at_60_while_lstm_remembers():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the app's workers train on one thread; results were measured so
    try:
        rnn = lessons.train_long_range("rnn", 60, seed=0)
        lstm = lessons.train_long_range("lstm", 60, seed=0)
    finally:
        torch.set_num_threads(threads)
    # Measured over seeds 0-2: RNN 0.47-0.51, LSTM 1.00, GRU 1.00 (and all three 1.00 at d = 10-40).
    assert rnn <= 0.7, rnn
    assert lstm >= 0.9, lstm
