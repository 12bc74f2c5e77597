"""Ready-made experiments the app runs live: their settings and the small helpers around them.

Long-range memory (Gradients page). Every sentence is one sentiment cue followed by
neutral filler words. For each distance ``d`` one small model per cell is trained on
sentences whose cue is 0 to ``d`` words from the end (the short ones give the error
signal a way in) and tested on sentences whose cue is exactly ``d`` words from the end.

Measured with these settings (10 epochs, seeds 0-2, one CPU thread): every cell scores
99.5-100 % at d = 10, 40; d = 50 is the edge (the RNN failed for 1 seed of 3); at d = 60 the
plain RNN is at chance (47-51 %) while LSTM (99.8-100 %) and GRU (100 %) hold. A run takes
5-12 s on one thread (d = 60 LSTM/GRU the slowest).

Why these settings: with a *fixed* distance every cell fails at d = 60 (no short
sentences, so no gradient reaches the cue at first); with distances drawn from 0..d the
short sentences teach the cue and the gated cells then carry it, while the plain RNN has
to build a latch out of tanh units that every one of the 71 distinct fillers nudges.
Beyond about d = 80 all three cells fail within 10 epochs, hence the choices below.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Iterable, Mapping

from .data.splits import make_splits
from .data.synthetic import FILLER_WORDS, make_long_range
from .data.types import DatasetSplits

LONG_RANGE_CELLS = ("rnn", "lstm", "gru")
LONG_RANGE_DISTANCES = (5, 10, 20, 30, 40, 50, 60)
LONG_RANGE_DEFAULT_DISTANCES = (10, 30, 60)
LONG_RANGE_EXAMPLES = 2000
LONG_RANGE_TEST_EXAMPLES = 400
LONG_RANGE_FILLERS = len(FILLER_WORDS)
LONG_RANGE_EPOCHS = 10
LONG_RANGE_MODEL = {"emb_dim": 16, "hidden_dim": 32, "pooling": "last"}
LONG_RANGE_TRAIN = {"batch_size": 32, "lr": 3e-3, "clip_norm": 1.0, "patience": 0}
LONG_RANGE_VOCAB = {"min_freq": 1, "max_size": 500}


def long_range_splits(distance: int, n_examples: int = LONG_RANGE_EXAMPLES, seed: int = 0,
                      n_test: int = LONG_RANGE_TEST_EXAMPLES) -> DatasetSplits:
    """Train/validation sentences with the cue 0..``distance`` words from the end; test
    sentences with the cue exactly ``distance`` words from the end.

    Raises:
        DataError: ``distance`` or a count out of range.
    """
    train_set = make_long_range(n_examples, distance=(0, distance), vocab_size_filler=LONG_RANGE_FILLERS, seed=seed)
    test_set = make_long_range(n_test, distance=distance, vocab_size_filler=LONG_RANGE_FILLERS, seed=seed + 10_000)
    splits = make_splits(train_set, val_fraction=0.1, test_fraction=0.0, seed=seed)
    return replace(splits, test=test_set.parts["all"],
                   notes=[*splits.notes, f"test: {n_test} sentences with the cue exactly {distance} words from the end"])


def long_range_options(cell: str, distance: int, epochs: int = LONG_RANGE_EPOCHS, seed: int = 0) -> dict:
    """Model, training, encoding and vocabulary options of one cell of the experiment."""
    return {
        "model": {"cell": cell, **LONG_RANGE_MODEL},
        "train": {**LONG_RANGE_TRAIN, "epochs": epochs, "seed": seed},
        "encoding": {"max_len": distance + 5},
        "vocab": dict(LONG_RANGE_VOCAB),
    }


def long_range_data(distance: int, n_examples: int = LONG_RANGE_EXAMPLES) -> dict:
    """The JSON data description stored with a run (``distance`` is the tested distance)."""
    return {"name": "synthetic_long_range", "n_examples": n_examples, "distance": int(distance),
            "train_distance": [0, int(distance)], "vocab_size_filler": LONG_RANGE_FILLERS,
            "label": f"Synthetic long-range (cue 0-{distance} words from the end, tested at {distance}, "
                     f"{n_examples:,} sentences)"}


def long_range_request(cell: str, distance: int, epochs: int = LONG_RANGE_EPOCHS, seed: int = 0):
    """A ``runs.RunRequest`` for one (cell, distance) of the experiment."""
    from .runs import RunRequest

    options = long_range_options(cell, distance, epochs, seed)
    return RunRequest(long_range_splits(distance, seed=seed), options["model"], options["train"],
                      long_range_data(distance), vocab=options["vocab"], label=f"longrange-{cell}-d{distance}",
                      encoding=options["encoding"])


def train_long_range(cell: str, distance: int, epochs: int = LONG_RANGE_EPOCHS, seed: int = 0,
                     n_examples: int = LONG_RANGE_EXAMPLES) -> float:
    """Train one cell in this process (no queue) and return its test accuracy at ``distance``."""
    from .pipeline import VocabConfig, train_on_splits
    from .trainer import TrainConfig

    options = long_range_options(cell, distance, epochs, seed)
    outcome = train_on_splits(long_range_splits(distance, n_examples, seed), options["model"],
                              TrainConfig(**options["train"]), vocab_config=VocabConfig(**options["vocab"]),
                              encoding=options["encoding"])
    return outcome.test.accuracy


def long_range_results(records: Iterable) -> dict[str, dict[int, float]]:
    """``{"RNN": {distance: test accuracy}}`` from finished run records (others are skipped)."""
    results: dict[str, dict[int, float]] = {}
    for record in records:
        result = getattr(record, "result", None)
        if not result or result.get("test_accuracy") is None:
            continue
        config: Mapping = record.config
        cell = str(config["model"]["cell"]).upper()
        results.setdefault(cell, {})[int(config["data"]["distance"])] = float(result["test_accuracy"])
    return results
