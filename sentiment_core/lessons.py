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

import math

from dataclasses import dataclass, field, replace
from typing import Callable, Iterable, Mapping

from .data.splits import make_splits
from .data.synthetic import FILLER_WORDS, make_long_range
from .data.types import DatasetSplits
from .settings import EMBEDDING_CHOICES, apply_embedding_choice

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
LONG_RANGE_CAPTION = ("Expected: every cell is near 100% at short distances (d = 10); by d = 60 the plain RNN is back "
                      "at a coin flip while LSTM and GRU hold on (with 10 epochs). Open the runs on Compare to see "
                      "their curves.")


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


# ======================================================================= lesson registry
# Every claim a page makes about what a student will see is a ``Lesson``: the data and
# settings the page uses, the caption it shows and a check of the outcome that
# ``tests/lessons`` runs. Pages read the caption from here, so text and check cannot drift.

NEGATION_DATA = {"name": "synthetic_negation", "n_examples": 2000, "noise": 0.0}


@dataclass(frozen=True)
class RunOutcome:
    """One trained configuration of a lesson.

    Attributes:
        value: the varied setting's value.
        history: one dict per epoch (``trainer.EpochInfo.to_dict``).
        test_accuracy: accuracy of the best-validation weights on the test split.
        max_grad_norm: largest gradient norm of any step (before clipping).
        params: trainable and frozen parameters.
        bundle: the trained model (best validation weights).
    """

    value: object
    history: list
    test_accuracy: float
    max_grad_norm: float
    params: int
    bundle: object = field(repr=False, compare=False, default=None)

    def curve(self, key: str) -> list[float]:
        """One metric per epoch, e.g. ``val_loss``."""
        return [float(h[key]) for h in self.history]


@dataclass(frozen=True)
class Lesson:
    """A claim the app makes, the seeded experiment behind it and its check.

    Attributes:
        key: short identifier (also the test's name).
        title: the name of the Compare grid ("Vary").
        caption: the expected result, shown on the page.
        data: the data description (``data.selection`` style, with a ``label``).
        model, train, encoding, vocab: the settings every run shares.
        vary: the varied setting (see ``configure``).
        values: its values, in display order.
        check: ``outcomes -> list of failed expectations`` (empty: the lesson holds).
    """

    key: str
    title: str
    caption: str
    data: Mapping
    model: Mapping
    train: Mapping
    encoding: Mapping
    vocab: Mapping
    vary: str
    values: tuple
    check: Callable[[dict], list[str]] = field(repr=False, compare=False)

    def value_label(self, value) -> str:
        """How a value reads on the page, e.g. ``LSTM``, ``0.003``, ``pre · packed``."""
        if self.vary == "cell":
            return str(value).upper()
        if self.vary == "padding_packing":
            side, packed = value
            return f"{side}-padding · {'packed' if packed else 'not packed'}"
        if self.vary == "embedding":
            return EMBEDDING_CHOICES[value]
        return f"{value:g}" if isinstance(value, float) else str(value)

    def settings_label(self) -> str:
        """One line naming the shared settings, for the page."""
        m, t = self.model, self.train
        parts = [*([] if self.vary == "cell" else [str(m.get("cell", "lstm")).upper()]), f"hidden {m.get('hidden_dim')}",
                 f"{m.get('pooling', 'last')} pooling", f"lr {t.get('lr'):g}", f"{t.get('epochs')} epochs"]
        if m.get("num_layers", 1) > 1:
            parts.insert(1, f"{m['num_layers']} layers")
        if not m.get("packed", True):
            parts.append("not packed")
        if t.get("patience", 3) == 0:
            parts.append("no early stopping")
        return ", ".join(parts)


def configure(lesson: Lesson, value, model: Mapping | None = None, train: Mapping | None = None,
              encoding: Mapping | None = None) -> tuple[dict, dict, dict]:
    """The model, training and encoding options of one run of a lesson's grid.

    Args:
        lesson: the lesson.
        value: one of ``lesson.values``.
        model, train, encoding: base settings (default: the lesson's own).

    Returns:
        ``(model options, train options, encoding options)``.
    """
    model = dict(lesson.model if model is None else model)
    train = dict(lesson.train if train is None else train)
    encoding = dict(lesson.encoding if encoding is None else encoding)
    if lesson.vary in ("lr", "clip_norm", "epochs"):
        train[lesson.vary] = value
    elif lesson.vary == "dropout":
        model["head_dropout"] = model["embedding_dropout"] = value
    elif lesson.vary == "layer_dropout":
        model["layer_dropout"] = value
        model["num_layers"] = max(2, int(model.get("num_layers", 1)))
    elif lesson.vary == "embedding":
        model.update(apply_embedding_choice(model, value))
        if model["embeddings"] == "glove":
            model["emb_dim"] = 50
    elif lesson.vary == "padding_packing":
        encoding["padding"], model["packed"] = value
    elif lesson.vary == "max_len":
        encoding["max_len"] = value
    else:
        model[lesson.vary] = value
    return model, train, encoding


def lesson_splits(lesson: Lesson, seed: int = 0) -> DatasetSplits:
    """The lesson's data, split (seeded; the long-range set tests at its distance)."""
    from .data.splits import subsample

    data = lesson.data
    if data["name"] == "synthetic_long_range" and "train_distance" in data:
        splits = long_range_splits(int(data["distance"]), int(data["n_examples"]), seed=seed)
    elif data["name"] == "synthetic_cue_at_end":
        dataset = make_long_range(int(data["n_examples"]), distance=(0, int(data["after"])),
                                  leading_fillers=(0, int(data["before"])), vocab_size_filler=LONG_RANGE_FILLERS,
                                  seed=seed)
        splits = make_splits(dataset, seed=seed)
    else:
        from .data.selection import load_catalogue_splits

        splits = load_catalogue_splits({**data, "split_seed": seed})[1]
    if data.get("train_examples"):
        kept = int(data["train_examples"])
        splits = replace(splits, train=subsample(splits.train, kept, seed=seed),
                         fingerprint=f"{splits.fingerprint}-train{kept}",
                         notes=[*splits.notes, f"training set cut to {kept} sentences"])
    return splits


def run_request(lesson: Lesson, value, splits: DatasetSplits, model: Mapping | None = None,
                train: Mapping | None = None, encoding: Mapping | None = None, tokenizer: Mapping | None = None,
                vocab: Mapping | None = None, data: Mapping | None = None):
    """A ``runs.RunRequest`` for one value of a lesson's grid (base settings default to the lesson's)."""
    from .runs import RunRequest, slugify

    model, train, encoding = configure(lesson, value, model, train, encoding)
    label = f"{lesson.key}-{lesson.value_label(value)}"
    return RunRequest(splits, model, train, dict(data or lesson.data), dict(tokenizer or {}),
                      dict(vocab or lesson.vocab), slugify(label), encoding=encoding)


def run_lesson(lesson: Lesson, values: Iterable | None = None, seed: int = 0) -> dict:
    """Train every configuration of a lesson in this process (one thread, as the app's workers).

    Returns:
        ``{value: RunOutcome}``.
    """
    import torch

    from .pipeline import VocabConfig, train_on_splits
    from .trainer import TrainConfig

    class _GradNorms:
        def __init__(self):
            self.largest = 0.0

        def on_batch_end(self, info) -> None:
            self.largest = max(self.largest, float(info.grad_norm))

    splits = lesson_splits(lesson, seed)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    outcomes = {}
    try:
        for value in (lesson.values if values is None else values):
            model, train, encoding = configure(lesson, value)
            norms = _GradNorms()
            outcome = train_on_splits(splits, model, TrainConfig(**{**train, "seed": seed}),
                                      vocab_config=VocabConfig(**lesson.vocab), encoding=encoding,
                                      callbacks=[norms])
            outcomes[value] = RunOutcome(value, [h.to_dict() for h in outcome.fit.history], outcome.test.accuracy,
                                         norms.largest, int(outcome.bundle.metrics["params"]), outcome.bundle)
    finally:
        torch.set_num_threads(threads)
    return outcomes


# ---------------------------------------------------------------- the lessons
# Numbers in the comments were measured with ``python -m pytest tests/lessons -s`` (seed 0).

COIN_FLIP_LOSS = math.log(2)  # cross-entropy of a 50/50 guess on two classes
LESSON_MODEL = {"cell": "lstm", "emb_dim": 32, "hidden_dim": 32, "pooling": "last"}
LESSON_TRAIN = {"epochs": 5, "batch_size": 32, "lr": 3e-3, "clip_norm": 5.0, "patience": 0}
LESSON_VOCAB = {"min_freq": 1, "max_size": 5000}
OVERFIT_DATA = {"name": "synthetic_negation", "n_examples": 2000, "noise": 0.2, "train_examples": 400,
                "label": "Synthetic negation, 20 % of labels flipped, training set cut to 400 sentences"}
SMALL_DATA = {"name": "synthetic_cue_at_end", "n_examples": 2000, "before": 4, "after": 4, "train_examples": 40,
              "label": "Synthetic: one sentiment word among 0-8 neutral ones, training set cut to 40 sentences"}
NEGATION_LESSON_DATA = {**NEGATION_DATA, "label": "Synthetic negation (2,000 sentences)"}
CELL_DISTANCE, CELL_EXAMPLES = 60, LONG_RANGE_EXAMPLES


def _best(outcome: RunOutcome, key: str = "val_accuracy") -> float:
    values = outcome.curve(key)
    return max(values) if key.endswith("accuracy") else min(values)


def _fails(*checks: tuple[bool, str]) -> list[str]:
    return [message for ok, message in checks if not ok]


def _check_cells(o: dict) -> list[str]:
    return _fails((o["rnn"].test_accuracy <= 0.65, f"RNN should stay near chance, got {o['rnn'].test_accuracy:.3f}"),
                  (o["lstm"].test_accuracy >= 0.9, f"LSTM should reach 90 %, got {o['lstm'].test_accuracy:.3f}"),
                  (o["gru"].test_accuracy >= 0.9, f"GRU should reach 90 %, got {o['gru'].test_accuracy:.3f}"))


def _check_lr(o: dict) -> list[str]:
    low, good, high = (o[v] for v in (1e-4, 3e-3, 1.0))
    drop = low.curve("train_loss")[0] - low.curve("train_loss")[-1]
    return _fails((drop < 0.05, f"lr 1e-4 should barely move the training loss, it fell by {drop:.3f}"),
                  (_best(low) <= 0.6, f"lr 1e-4 should stay near chance, best val acc {_best(low):.3f}"),
                  (good.test_accuracy >= 0.9, f"lr 0.003 should learn the set, test acc {good.test_accuracy:.3f}"),
                  (not min(high.curve("train_loss")) < COIN_FLIP_LOSS,
                   f"lr 1 should never beat a coin's loss, min train loss {min(high.curve('train_loss')):.3f}"),
                  (_best(high) <= 0.75, f"lr 1 should not learn, best val acc {_best(high):.3f}"))


def _overfits(run: RunOutcome) -> list[str]:
    val, train = run.curve("val_loss"), run.curve("train_loss")
    turn = val.index(min(val))
    return _fails((val[-1] >= min(val) + 0.2, f"dropout {run.value}: validation loss should turn up "
                                              f"(min {min(val):.3f} at epoch {turn + 1}, last {val[-1]:.3f})"),
                  (train[-1] <= train[turn] - 0.2, f"dropout {run.value}: training loss should keep falling "
                                                   f"({train[turn]:.3f} at the turn, last {train[-1]:.3f})"))


def _check_dropout(o: dict) -> list[str]:
    none, half = o[0.0], o[0.5]
    return [*_overfits(none), *_fails(
        (half.curve("val_loss")[-1] <= none.curve("val_loss")[-1] - 0.3,
         f"dropout 0.5 should end with a clearly lower validation loss: {half.curve('val_loss')[-1]:.3f} vs "
         f"{none.curve('val_loss')[-1]:.3f}"))]


def _check_layer_dropout(o: dict) -> list[str]:
    return [*_overfits(o[0.0]), *_overfits(o[0.5])]


def _check_layers(o: dict) -> list[str]:
    one = o[1].test_accuracy
    return _fails(*((o[n].test_accuracy >= 0.9, f"{n} layers should reach 90 %, got {o[n].test_accuracy:.3f}")
                    for n in (1, 2, 3)),
                  *((o[n].test_accuracy <= one + 0.02, f"{n} layers should not beat 1 layer: "
                                                       f"{o[n].test_accuracy:.3f} vs {one:.3f}") for n in (2, 3)),
                  (o[1].params < o[2].params < o[3].params, "each layer should add parameters"))


def _check_embeddings(o: dict) -> list[str]:
    scratch = o["random"].test_accuracy
    return _fails(*((o[c].test_accuracy >= scratch + 0.1, f"{c} should beat random by 10 points of test accuracy: "
                                                          f"{o[c].test_accuracy:.3f} vs {scratch:.3f}")
                    for c in ("glove_frozen", "glove_finetuned")))


def _check_padding(o: dict) -> list[str]:
    hurt = o[("post", False)].test_accuracy
    others = {v: r.test_accuracy for v, r in o.items() if v != ("post", False)}
    return _fails(*((acc >= 0.9, f"{v} should reach 90 %, got {acc:.3f}") for v, acc in others.items()),
                  (hurt <= min(others.values()) - 0.05,
                   f"post-padding without packing should trail by 5 points: {hurt:.3f} vs {min(others.values()):.3f}"))


def _check_max_len(o: dict) -> list[str]:
    kept = [o[n].test_accuracy for n in (20, 50, 70)]
    return _fails((o[5].test_accuracy <= min(kept) - 0.04,
                   f"max_len 5 should lose words and accuracy: {o[5].test_accuracy:.3f} vs {min(kept):.3f}"),
                  (max(kept) - min(kept) <= 0.02, f"max_len 20/50/70 should score the same, got {kept}"))


def _check_clipping(o: dict) -> list[str]:
    off, on = o[0.0], o[1.0]
    return _fails((off.max_grad_norm >= 10, f"without clipping the gradient should explode, max {off.max_grad_norm:.1f}"),
                  (min(off.curve("train_loss")) > COIN_FLIP_LOSS,
                   f"without clipping the loss should stay above a coin's, min {min(off.curve('train_loss')):.3f}"),
                  (on.test_accuracy >= off.test_accuracy + 0.15,
                   f"clipping should rescue training: {on.test_accuracy:.3f} vs {off.test_accuracy:.3f}"))


CELLS = Lesson(
    "cells", "Cell: RNN vs LSTM vs GRU",
    f"Expected: the plain RNN stays at a coin flip (about 50 % test accuracy) while LSTM and GRU pass 90 %. "
    f"The only sentiment word comes up to {CELL_DISTANCE} words before the end and the test sentences put it "
    f"exactly {CELL_DISTANCE} back: the gated cells carry it through, the RNN's signal fades on the way.",
    long_range_data(CELL_DISTANCE, CELL_EXAMPLES), LONG_RANGE_MODEL, {**LONG_RANGE_TRAIN, "epochs": LONG_RANGE_EPOCHS},
    {"max_len": CELL_DISTANCE + 5}, LONG_RANGE_VOCAB, "cell", LONG_RANGE_CELLS, _check_cells)
LEARNING_RATE = Lesson(
    "learning_rate", "Learning rate",
    "Expected: lr 0.0001 barely moves (the training loss stays near 0.69, a coin flip's); lr 0.003 learns the set "
    "(≥ 90 %); lr 1 overshoots: the loss jumps around above 0.69 and the accuracy never leaves chance.",
    NEGATION_LESSON_DATA, LESSON_MODEL, LESSON_TRAIN, {"max_len": 60}, LESSON_VOCAB, "lr", (1e-4, 3e-3, 1.0),
    _check_lr)
DROPOUT = Lesson(
    "dropout", "Dropout (head + embedding)",
    "Expected (pick the 'Train vs validation loss' curve): without dropout the dotted training loss keeps falling "
    "while the solid validation loss turns up after a few epochs: the model memorises the flipped labels. With "
    "dropout 0.5 the validation loss ends far lower.",
    OVERFIT_DATA, {**LESSON_MODEL, "emb_dim": 64, "hidden_dim": 128}, {**LESSON_TRAIN, "epochs": 20},
    {"max_len": 60}, LESSON_VOCAB, "dropout", (0.0, 0.5), _check_dropout)
LAYERS = Lesson(
    "layers", "Number of layers",
    "Expected: on these short sentences 1, 2 and 3 stacked layers all pass 90 % and the deeper ones are no better; "
    "each layer only adds parameters (see the table) and time. Depth pays on larger, harder data.",
    NEGATION_LESSON_DATA, LESSON_MODEL, LESSON_TRAIN, {"max_len": 60}, LESSON_VOCAB, "num_layers", (1, 2, 3),
    _check_layers)
EMBEDDINGS = Lesson(
    "embeddings", "Embeddings: random vs GloVe",
    "Expected: with only 40 training sentences, both GloVe starts (frozen and fine-tuned) score at least 10 points "
    "more test accuracy than random vectors. GloVe already puts words of like meaning near each other, so what "
    "the model learns about 'great' carries over to 'superb'; random vectors must learn every word from a handful "
    "of examples.",
    SMALL_DATA, {**LESSON_MODEL, "emb_dim": 50}, {**LESSON_TRAIN, "epochs": 10}, {"max_len": 60}, LESSON_VOCAB,
    "embedding", ("random", "glove_frozen", "glove_finetuned"), _check_embeddings)
PADDING = Lesson(
    "padding", "Padding side × packing",
    "Expected (plain RNN, last-state pooling, 2 epochs): post-padding without packing ends far below the other "
    "three. Its last state comes after up to 40 <pad> tokens, so the sentiment word near the end of each sentence "
    "must be carried through them; pre-padding puts the pads first, and packing skips them.",
    {"name": "synthetic_cue_at_end", "n_examples": 2000, "before": 40, "after": 1,
     "label": "Synthetic: 0-40 neutral words, then the sentiment word, then at most 1 more word"},
    {**LESSON_MODEL, "cell": "rnn"}, {**LESSON_TRAIN, "epochs": 2, "bucketing": False}, {"max_len": 50},
    LESSON_VOCAB, "padding_packing", (("post", False), ("pre", False), ("post", True), ("pre", True)),
    _check_padding)
MAX_LEN = Lesson(
    "max_len", "Max length",
    "Expected: max_len 5 cuts sentences such as 'i did not think the movie was good' before their verdict and "
    "loses accuracy; 20, 50 and 70 keep every word of these short sentences and score the same: a longer max_len "
    "only allows more padding.",
    NEGATION_LESSON_DATA, LESSON_MODEL, LESSON_TRAIN, {"max_len": 60}, LESSON_VOCAB, "max_len", (5, 20, 50, 70),
    _check_max_len)
LAYER_DROPOUT = Lesson(
    "layer_dropout", "Dropout between layers",
    "Expected (2 layers, 'Train vs validation loss' curve): dropout between the layers alone does not stop this "
    "model memorising the flipped labels: with 0 and with 0.5 the validation loss turns up while the training loss "
    "keeps falling. The Dropout grid (embedding + head) on the same data does keep it down.",
    OVERFIT_DATA, {**LESSON_MODEL, "emb_dim": 64, "hidden_dim": 128, "num_layers": 2}, {**LESSON_TRAIN, "epochs": 20},
    {"max_len": 60}, LESSON_VOCAB, "layer_dropout", (0.0, 0.5), _check_layer_dropout)
CLIPPING = Lesson(
    "clipping", "Gradient clipping (plain RNN)",
    "Expected (plain RNN, SGD, lr 0.5): without clipping the gradient norm explodes past 10 and the loss never gets "
    "below a coin flip's; with clip norm 1 the same run learns (at least 15 points more test accuracy). Open "
    "Gradients → Gradient clipping to see each step's norm.",
    NEGATION_LESSON_DATA, {**LESSON_MODEL, "cell": "rnn"}, {**LESSON_TRAIN, "optimizer": "sgd", "lr": 0.5},
    {"max_len": 60}, LESSON_VOCAB, "clip_norm", (0.0, 1.0), _check_clipping)

COMPARE_LESSONS = {lesson.title: lesson for lesson in (CELLS, LEARNING_RATE, DROPOUT, LAYERS, EMBEDDINGS, PADDING,
                                                      MAX_LEN, LAYER_DROPOUT, CLIPPING)}

# ---------------------------------------------------------------- gradient connectivity (Gradients page)
CONNECTIVITY_FAR = (10, 20)  # distances (words before the end) whose mean connectivity is compared
CONNECTIVITY_TEXTS = 40


def connectivity_profiles(bundles: Mapping, texts: int = CONNECTIVITY_TEXTS) -> dict:
    """``{"RNN": ConnectivityProfile}`` of the connectivity lesson's models on long-range texts
    with the cue ``CELL_DISTANCE`` words from the end.

    Args:
        bundles: ``{cell: Bundle}``, e.g. from ``run_lesson(CONNECTIVITY)``.
        texts: texts averaged.
    """
    from .explain import connectivity_profile

    sample = make_long_range(texts, distance=CELL_DISTANCE, vocab_size_filler=LONG_RANGE_FILLERS,
                             seed=20_000).parts["all"].texts
    return {str(cell).upper(): connectivity_profile(bundle, sample, sample_size=texts, max_distance=CELL_DISTANCE)
            for cell, bundle in bundles.items()}


def far_connectivity(profiles: Mapping) -> dict[str, float]:
    """Mean connectivity of each profile over the distances in ``CONNECTIVITY_FAR``."""
    low, high = CONNECTIVITY_FAR
    return {name: float(p.mean[low:high + 1].mean()) for name, p in profiles.items()}


def _check_connectivity(o: dict) -> list[str]:
    far = far_connectivity(connectivity_profiles({cell: run.bundle for cell, run in o.items()}))
    return _fails(*((far["RNN"] <= 0.5 * far[c], f"the RNN's gradient {CONNECTIVITY_FAR[0]}-{CONNECTIVITY_FAR[1]} "
                                                 f"words back should be under half the {c}'s: {far}")
                    for c in ("LSTM", "GRU")))


CONNECTIVITY = replace(
    CELLS, key="connectivity", title="Gradient connectivity", check=_check_connectivity,
    caption=f"Expected: every line starts at 1 at the last word and falls; the plain RNN's falls fastest. "
            f"{CONNECTIVITY_FAR[0]}-{CONNECTIVITY_FAR[1]} words back its gradient is less than half the LSTM's and "
            f"the GRU's, so words far from the end barely reach its verdict. (The three models are the Compare "
            f"'{CELLS.title}' lesson: last-state pooling, trained on the long-range set.)")


def connectivity_runs(records: Iterable) -> dict[str, str]:
    """``{cell: run name}``: the newest completed run of each cell trained with the connectivity
    lesson's data and model settings (from Gradients or the Compare cell lesson)."""
    found: dict[str, str] = {}
    wanted_model = dict(CONNECTIVITY.model)
    for record in sorted(records, key=lambda r: getattr(r, "created", 0) or 0):
        config = getattr(record, "config", None) or {}
        data, model = config.get("data", {}), config.get("model", {})
        if (getattr(record, "state", "") != "completed" or data.get("name") != CONNECTIVITY.data["name"]
                or data.get("distance") != CONNECTIVITY.data["distance"]
                or data.get("n_examples") != CONNECTIVITY.data["n_examples"]
                or any(model.get(k) != v for k, v in wanted_model.items())
                or model.get("cell") not in CONNECTIVITY.values):
            continue
        found[model["cell"]] = record.name
    return found
