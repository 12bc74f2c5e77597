"""Tutorial recipes (run by hand): train the recipes whose data is offline and print the
tutorial's reported figure beside GateScope's measured one and the time it took.

    python benchmarks/tutorial_recipes.py --mirror ../shared/datasets [--only airline uci]

Airline: the tutorial's two classes (neutral tweets dropped) and a 70/30 split with seed 42
(a NumPy permutation, not scikit-learn's, so not the tutorial's exact rows); the 30 % serves as
validation and test, as the tutorial's ``validation_data`` does. UCI: GateScope's stratified
80/10/10 split (seed 0) of the 3,000 sentences. One CPU thread.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sentiment_core.data import load_dataset, make_splits  # noqa: E402
from sentiment_core.data.types import DatasetSplits, Examples  # noqa: E402
from sentiment_core.pipeline import VocabConfig, train_on_splits  # noqa: E402
from sentiment_core.recipes import RECIPES  # noqa: E402
from sentiment_core.trainer import TrainConfig  # noqa: E402


def airline_two_classes() -> DatasetSplits:
    """The tutorial's airline set: negative and positive tweets, 70/30 with seed 42."""
    ds = load_dataset("airline_tweets")
    texts, labels = [], []
    for part in ds.parts.values():
        for text, label in zip(part.texts, part.labels):
            name = ds.label_names[label]
            if name != "neutral":
                texts.append(text)
                labels.append(int(name == "positive"))
    order = np.random.default_rng(42).permutation(len(texts))
    cut = int(0.7 * len(texts))

    def pick(indices) -> Examples:
        return Examples([texts[i] for i in indices], [labels[i] for i in indices])

    held_out = pick(order[cut:])
    return DatasetSplits("airline, 2 classes", ["negative", "positive"], pick(order[:cut]), held_out, held_out,
                         "airline-2class-70-30-seed42")


def run(key: str, splits: DatasetSplits) -> None:
    recipe = RECIPES[key]
    start = time.perf_counter()
    out = train_on_splits(splits, recipe.model, TrainConfig(**{**recipe.train, "device": "cpu"}),
                          vocab_config=VocabConfig(**{"min_freq": 1, **recipe.vocab}), encoding=recipe.encoding)
    seconds = time.perf_counter() - start
    print(f"| {recipe.title} | {recipe.published} | validation {out.validation.accuracy:.1%}, test "
          f"{out.test.accuracy:.1%} (best epoch {out.fit.best_epoch} of {recipe.train['epochs']}) | {seconds:.0f} s |",
          flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mirror", default="../shared/datasets", help="dataset mirror (for uci_sentences)")
    parser.add_argument("--only", nargs="*", default=["airline", "uci"], choices=["airline", "uci"])
    args = parser.parse_args()
    torch.set_num_threads(1)
    print("| recipe | the tutorial reports | GateScope measured | time |\n|---|---|---|---|")
    if "airline" in args.only:
        airline = airline_two_classes()
        run("airline_simple_rnn", airline)
        run("airline_lstm", airline)
    if "uci" in args.only:
        run("uci_lstm", make_splits(load_dataset("uci_sentences", mirror=args.mirror), seed=0))


if __name__ == "__main__":
    main()
