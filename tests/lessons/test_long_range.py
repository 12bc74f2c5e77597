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


def test_every_cell_remembers_at_short_distance():
    """The first half of ``LONG_RANGE_CAPTION`` (d = 60 is the Compare cell lesson, same settings)."""
    assert lessons.CELLS.data == lessons.long_range_data(60) and lessons.CELLS.train["epochs"] == lessons.LONG_RANGE_EPOCHS
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the app's workers train on one thread
    try:
        accuracies = {cell: lessons.train_long_range(cell, 10, seed=0) for cell in lessons.LONG_RANGE_CELLS}
    finally:
        torch.set_num_threads(threads)
    print("long-range d = 10:", accuracies)
    assert all(acc >= 0.95 for acc in accuracies.values()), accuracies


def test_settings_line_names_the_shared_settings_only():
    assert "LSTM" not in lessons.CONNECTIVITY.settings_label()  # the cell is what the lesson varies
    assert lessons.CLIPPING.settings_label().startswith("RNN, hidden 32")
