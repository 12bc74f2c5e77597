"""The models GateScope ships: recipes, a one-call rebuild from a dataset mirror, and
helpers to list and load the shipped bundles.

Four movie-review models (plain RNN, LSTM, BiLSTM, GRU) share one recipe: GloVe 6B 50d
(fine-tuned), max pooling over time, trained on SST-2 training phrases (short, typed-like
sentences) plus IMDb training reviews (long texts, the last ``max_len`` tokens kept). A fifth, 3-class
model is trained on airline tweets. Every model is evaluated on every test set it applies
to, and on small held-out fixture slices (``tests/fixtures/heldout_*.tsv``) whose accuracy
is stored in the model card so a fast test can check the shipped weights. Every figure is measured
the way the app reads text (``evaluate_texts``: the Dataset page's own pipeline on the sets as its
loader reads them), so Home, the cards and the Dataset page quote one number.

``build_pretrained(mirror, out_dir)`` rebuilds everything deterministically from seeds;
``measure_pretrained(mirror, out_dir)`` measures the shipped bundles again (weights untouched).
"""
from __future__ import annotations

import csv
import hashlib
import json
import os
import platform
import re
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from .checkpoint import METADATA_KEY, Bundle, load_checkpoint, read_metadata, save_checkpoint
from .data.types import DatasetSplits, Examples
from .encoding import EncodingConfig
from .errors import CheckpointError
from .metrics import classification_metrics
from .pipeline import VocabConfig, prepare_data, train_on_splits
from .text import TokenizerConfig
from .trainer import TrainConfig

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DIR = ROOT / "pretrained"
FIXTURE_DIR = ROOT / "tests" / "fixtures"
FIXTURE_SIZE = 200
SPLIT_SEED = 0
HARDWARE = f"2 CPU cores shared with other jobs, 1 torch thread, torch {torch.__version__} CPU"

# Demo sentences every shipped movie model must classify correctly.
DEMO_SENTENCES: list[tuple[str, str]] = [
    ("The film was good", "positive"),
    ("It was not good", "negative"),
    ("This film is horrible", "negative"),
    ("Director tried too hard but this film is bad", "negative"),
    ("Decent movie, although could be shorter", "positive"),
    ("I loved the movie, every part of it", "positive"),
    ("Not bad at all, I enjoyed it", "positive"),
    ("The acting was great but the plot was a mess and I left bored", "negative"),
]
AIRLINE_DEMO: list[tuple[str, str]] = [
    ("@united thank you so much, the crew was amazing!", "positive"),
    ("@AmericanAir my flight was cancelled and nobody helps, worst service ever", "negative"),
]

# Evaluation sets: name -> (dataset, description).
EVAL_SETS = {
    "imdb_test": ("imdb", "IMDb official test set (25,000 reviews)"),
    "sst2_dev": ("sst2", "SST-2 GLUE dev set (872 sentences)"),
    "rt_test": ("rt_polarity", f"RT sentence polarity, fixed stratified 10% test split (seed {SPLIT_SEED})"),
    "airline_test": ("airline_tweets", f"Airline tweets, stratified 10% test split (seed {SPLIT_SEED})"),
}
MOVIE_SETS = ("imdb_test", "sst2_dev", "rt_test")
SHORT_NAMES = {"imdb_test": "IMDb", "sst2_dev": "SST-2", "rt_test": "RT", "airline_test": "airline"}
# How every stored figure is measured (in each card), and the command that measures them again.
MEASURED = ("the way the app reads text: each set's test split exactly as the Dataset page loads it (IMDb "
            "reviews as written, <br /> tags included; tweets as written), read by the model's own tokenizer "
            "through the Dataset page's pipeline (dataset_view.predict_dataset), on the float16 weights that ship")
MEASURE_COMMAND = "python scripts/build_pretrained.py --mirror ../shared/datasets --measure"
# Accuracy the best shipped model should reach on each set (issue #5).
# The best shipped model's targets (SST-2 87 % stays the long-term goal).
TARGETS = {"imdb_test": 0.91, "sst2_dev": 0.86, "rt_test": 0.80, "airline_test": 0.80}
# Measured candidates that were not shipped (same data and seeds; see the model cards for the shipped ones).
ALTERNATIVES = [
    "Rebuilt with cleaned, sentence-split tokens and not kept (each fell short of the shipped model on one "
    "evaluation set, IMDb read as written): LSTM 88.79%, 84.52%, 81.14% (RT below the shipped 81.99%); "
    "RNN 86.90%, 83.14%, 81.24%; airline BiLSTM 81.01% (shipped 81.63%). The shipped lstm, rnn and "
    "airline_bilstm therefore keep the tokenizer they were trained with (no cleaning, no sentence "
    "splitting)",
    "BiLSTM hidden 64, 256 tokens, 30k vocabulary, 2 epochs (shipped before): IMDb 89.24%, SST-2 84.98%, "
    "RT 83.30%",
    "BiLSTM hidden 128, 256 tokens, 30k vocabulary, 4 epochs: IMDb 89.59%, SST-2 83.72%, RT 83.68%",
    "BiLSTM hidden 256, 400 tokens, 30k vocabulary: 89.78%, 85.09%, 84.43%; with the 75k vocabulary: "
    "89.66%, 84.75%, 84.33%",
    "BiLSTM hidden 128 pretrained as a language model on 10M tokens of IMDb text (unlabelled reviews "
    "included), then fine-tuned at learning rate 1e-3: 89.06%, 85.21%, 82.83% (21 min of pretraining for "
    "+1.5 SST-2 points and "
    "-0.5 IMDb points)",
    "BiLSTM hidden 128 on SST-2 alone: SST-2 83.94% (hidden 256: 83.83%; with 50,000 extra GloVe words: 84.06%)",
    "LSTM and GRU hidden 128 with the BiLSTM's 75k vocabulary and 512 tokens: LSTM 89.24%, 83.37%, 82.65%; "
    "GRU 88.58%, 83.37%, 82.74% (better on IMDb, worse on SST-2, the set closest to typed sentences)",
    "LSTM hidden 64, 3 epochs: 87.83%, 83.14%, 82.83%; GRU hidden 64, 3 epochs: 88.27%, 83.37%, 81.61% "
    "(both missed \"Not bad at all, I enjoyed it\")",
]


@dataclass(frozen=True)
class Recipe:
    """How one shipped model is trained."""

    name: str
    title: str
    task: str  # "movie" or "airline"
    model_options: dict
    train_config: TrainConfig
    encoding: EncodingConfig
    tokenizer_config: TokenizerConfig = field(default_factory=TokenizerConfig)
    vocab_config: VocabConfig = field(default_factory=lambda: VocabConfig(min_freq=2, max_size=30000))

    @property
    def eval_sets(self) -> tuple[str, ...]:
        return MOVIE_SETS if self.task == "movie" else ("airline_test",)

    @property
    def demo(self) -> list[tuple[str, str]]:
        return DEMO_SENTENCES if self.task == "movie" else AIRLINE_DEMO


_MOVIE_MODEL = dict(hidden_dim=64, num_layers=1, embedding_dropout=0.25, head_dropout=0.3,
                    pooling="max", embeddings="glove", freeze_embeddings=False)
_MOVIE_TRAIN = dict(epochs=1, batch_size=64, lr=2e-3, optimizer="adam", clip_norm=5.0, patience=2, seed=0,
                    device="cpu")
_MOVIE_ENCODING = EncodingConfig(max_len=256, truncation="pre")

RECIPES: dict[str, Recipe] = {
    r.name: r for r in [
        # The flagship: hidden 256, whole reviews up to 512 tokens, and a 75,000-word vocabulary (50,000
        # training words + 25,000 more GloVe words that training never saw, so they are not <unk>).
        Recipe("bilstm", "BiLSTM movie-review sentiment", "movie",
               {**_MOVIE_MODEL, "cell": "lstm", "bidirectional": True, "hidden_dim": 256},
               TrainConfig(**{**_MOVIE_TRAIN, "epochs": 4, "seed": 1}), EncodingConfig(max_len=512, truncation="pre"),
               vocab_config=VocabConfig(min_freq=2, max_size=50000, glove_words=25000)),
        # Unidirectional models train fast (unpacked, masked): hidden 128, up to 4 epochs, the epoch with the
        # best validation loss is kept (early stopping, patience 2).
        Recipe("lstm", "LSTM movie-review sentiment", "movie",
               {**_MOVIE_MODEL, "cell": "lstm", "bidirectional": False, "hidden_dim": 128},
               TrainConfig(**{**_MOVIE_TRAIN, "epochs": 4}), _MOVIE_ENCODING),
        Recipe("gru", "GRU movie-review sentiment", "movie",
               {**_MOVIE_MODEL, "cell": "gru", "bidirectional": False, "hidden_dim": 128},
               TrainConfig(**{**_MOVIE_TRAIN, "epochs": 4}), _MOVIE_ENCODING),
        Recipe("rnn", "Plain RNN movie-review sentiment", "movie",
               {**_MOVIE_MODEL, "cell": "rnn", "bidirectional": False, "hidden_dim": 128},
               TrainConfig(**{**_MOVIE_TRAIN, "epochs": 4}), _MOVIE_ENCODING),
        Recipe("airline_bilstm", "BiLSTM airline-tweet sentiment (3 classes)", "airline",
               {**_MOVIE_MODEL, "cell": "lstm", "bidirectional": True},
               TrainConfig(**{**_MOVIE_TRAIN, "epochs": 5, "patience": 2}), EncodingConfig(max_len=60),
               TokenizerConfig(kind="tweet")),
    ]
}

ProgressFn = Callable[[str], None]


# ---------------------------------------------------------------------------- data

def _load_dataset(name: str, mirror):
    """``sentiment_core.data.load_dataset`` (imported lazily)."""
    from .data.loaders import load_dataset
    return load_dataset(name, mirror=mirror)


def _make_splits(ds):
    from .data.splits import make_splits
    return make_splits(ds, val_fraction=0.1, test_fraction=0.1, seed=SPLIT_SEED)


def _normalize(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", text.lower())


def _concat(*parts: Examples) -> Examples:
    return Examples([t for p in parts for t in p.texts], [y for p in parts for y in p.labels])


def _fingerprint(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


@dataclass
class BuildData:
    """Training splits for each task and the evaluation sets."""

    movie: DatasetSplits | None = None
    airline: DatasetSplits | None = None
    eval_sets: dict[str, tuple[list[str], Examples]] = field(default_factory=dict)  # name -> (labels, examples)
    notes: list[str] = field(default_factory=list)


def load_build_data(mirror, tasks: set[str], progress: ProgressFn | None = None) -> BuildData:
    """Load and split the datasets the requested tasks need.

    The movie training set is SST-2 train (minus its carved validation) plus IMDb train
    (minus its carved validation). SST-2 phrases whose normalised text equals a sentence of
    the RT test split are removed from training (RT and SST come from the same Rotten
    Tomatoes snippets).
    """
    say = progress or (lambda _m: None)
    out = BuildData()
    if "movie" in tasks:
        say("loading imdb, sst2, rt_polarity")
        imdb = _make_splits(_load_dataset("imdb", mirror))
        sst = _make_splits(_load_dataset("sst2", mirror))
        rt = _make_splits(_load_dataset("rt_polarity", mirror))
        for key, s in (("imdb_test", imdb), ("sst2_dev", sst), ("rt_test", rt)):
            out.eval_sets[key] = (list(s.label_names), s.test)
        rt_test = {_normalize(t) for t in rt.test.texts}
        keep = [i for i, t in enumerate(sst.train.texts) if _normalize(t) not in rt_test]
        dropped = len(sst.train) - len(keep)
        sst_train = Examples([sst.train.texts[i] for i in keep], [sst.train.labels[i] for i in keep])
        note = (f"{dropped} SST-2 training phrases identical (after normalisation) to RT test sentences "
                "were removed from training")
        out.notes.append(note)
        assert imdb.label_names == sst.label_names == rt.label_names
        out.movie = DatasetSplits(
            name="movies (sst2 + imdb)", label_names=list(imdb.label_names),
            train=_concat(sst_train, imdb.train), validation=_concat(sst.validation, imdb.validation),
            test=sst.test, fingerprint=_fingerprint(imdb.fingerprint, sst.fingerprint, rt.fingerprint),
            notes=[f"sst2: {n}" for n in sst.notes] + [f"imdb: {n}" for n in imdb.notes] + [note],
        )
    if "airline" in tasks:
        say("loading airline_tweets")
        air = _make_splits(_load_dataset("airline_tweets", mirror))
        out.eval_sets["airline_test"] = (list(air.label_names), air.test)
        out.airline = air
    return out


# ---------------------------------------------------------------------------- fixtures

def fixture_path(eval_set: str, fixture_dir: str | Path = FIXTURE_DIR) -> Path:
    return Path(fixture_dir) / f"heldout_{eval_set.replace('_test', '').replace('_dev', '')}.tsv"


def _clean(text: str) -> str:
    return " ".join(text.split())


def fixture_rows(label_names: list[str], examples: Examples, size: int = FIXTURE_SIZE,
                 seed: int = SPLIT_SEED) -> list[tuple[str, str]]:
    """(text, label name) rows of a seeded sample of a test set, in the set's order (whitespace
    runs become one space, so a row fits one TSV line)."""
    import random

    index = sorted(random.Random(seed).sample(range(len(examples)), min(size, len(examples))))
    return [(_clean(examples.texts[i]), label_names[examples.labels[i]]) for i in index]


def write_fixture(path: Path, label_names: list[str], examples: Examples, size: int = FIXTURE_SIZE,
                  seed: int = SPLIT_SEED) -> None:
    """Write ``fixture_rows`` of a test set as text<TAB>label-name lines."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as handle:
        for text, label in fixture_rows(label_names, examples, size, seed):
            handle.write(f"{text}\t{label}\n")


def read_fixture(path: str | Path) -> list[tuple[str, str]]:
    """(text, label name) rows of a held-out fixture file."""
    with open(path, encoding="utf-8", newline="") as handle:
        return [tuple(row) for row in csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)]


# ---------------------------------------------------------------------------- evaluation

def evaluate_texts(bundle: Bundle, texts: list[str], labels: list[str] | list[int]) -> dict:
    """Metrics of ``bundle`` on raw texts, measured by the Dataset page's own pipeline
    (``dataset_view.predict_dataset``), so a stored figure is the one that page shows.

    Args:
        bundle: the model bundle.
        texts: raw texts, as the app reads them (no cleaning here: the bundle's tokenizer does its own).
        labels: class names or indices into ``bundle.label_names``.

    Returns:
        ``accuracy``, ``macro_f1``, ``loss`` (mean -log p(gold)), ``count`` and ``confusion``
        (``[true][predicted]`` counts).
    """
    from .dataset_view import predict_dataset

    names = list(bundle.label_names)
    gold = [names.index(y) if isinstance(y, str) else int(y) for y in labels]
    table = predict_dataset(bundle, list(texts), gold).table
    predicted = table["prediction"].map(names.index).to_numpy()
    p_gold = np.maximum(table["p_gold"].to_numpy(np.float64), np.finfo(np.float32).tiny)  # (N,)
    loss = float(-np.log(p_gold).mean()) if len(p_gold) else 0.0
    metrics = classification_metrics(np.asarray(gold), predicted, len(names), loss)
    return {"accuracy": metrics.accuracy, "macro_f1": metrics.macro_f1, "loss": metrics.loss,
            "count": metrics.count, "confusion": metrics.confusion}


def evaluate_fixture(bundle: Bundle, eval_set: str, fixture_dir: str | Path = FIXTURE_DIR) -> dict:
    """Metrics of ``bundle`` on the held-out fixture slice of ``eval_set``."""
    rows = read_fixture(fixture_path(eval_set, fixture_dir))
    return evaluate_texts(bundle, [r[0] for r in rows], [r[1] for r in rows])


def _fixture_metrics(bundle: Bundle, eval_set: str, fixture: Path) -> dict:
    """A card's ``fixture_metrics`` entry: the file and the metrics on it, without the confusion matrix."""
    measured = evaluate_fixture(bundle, eval_set, fixture.parent)
    return {"file": str(fixture.relative_to(ROOT)) if fixture.is_relative_to(ROOT) else str(fixture),
            **{k: v for k, v in measured.items() if k != "confusion"}}


def check_demo(bundle: Bundle, demo: list[tuple[str, str]]) -> list[dict]:
    """Predictions on the demo sentences, each with ``ok`` when the label matches."""
    from .predict import Predictor

    preds = Predictor(bundle).predict([t for t, _ in demo])
    return [{"text": t, "expected": y, "predicted": p.label, "ok": p.label == y,
             "p": round(p.probabilities[y], 4)} for (t, y), p in zip(demo, preds)]


# ---------------------------------------------------------------------------- build

def _evaluation_lines(card: dict) -> list[str]:
    """A card's Markdown Evaluation section: how it was measured, the command, one row per set."""
    lines = ["## Evaluation", "", f"Measured {card['measured']}. Measure again: "
             f"`{MEASURE_COMMAND} --only {card['name']}`.", "",
             "| set | examples | accuracy | macro-F1 |", "|---|---|---|---|"]
    for key, v in card["metrics"].items():
        lines.append(f"| {EVAL_SETS[key][1]} | {v['count']:,} | {v['accuracy']:.2%} | {v['macro_f1']:.4f} |")
    return lines


def _remeasured_markdown(markdown: str, card: dict) -> str:
    """A card's Markdown (as an earlier build wrote it) with its Evaluation section and file size anew."""
    head, rest = markdown.split("## Evaluation", 1)
    rest = re.sub(r"stored float16 \(\d+\.\d+ MB\)", f"stored float16 ({card['file_bytes'] / 1e6:.2f} MB)",
                  rest[rest.index("\n## "):])
    return head + "\n".join(_evaluation_lines(card)) + "\n" + rest


def _markdown(card: dict) -> str:
    lines = [f"# {card['title']} (`{card['name']}`)", "", card["summary"], "", *_evaluation_lines(card)]
    lines += ["", "## Training data", ""] + [f"- {n}" for n in card["data"]["notes"]]
    lines += [f"- training examples {card['data']['train']:,}, validation {card['data']['validation']:,}", "",
              "## Model and training", "",
              f"- architecture: {card['architecture']}, {card['params']:,} parameters, "
              f"vocabulary {card['vocab_size']:,} words, stored float16 ({card['file_bytes'] / 1e6:.2f} MB)",
              f"- model options: `{json.dumps(card['model_options'])}`",
              f"- training: `{json.dumps(card['train_config'])}`",
              f"- encoding: `{json.dumps(card['encoding'])}`",
              f"- tokenizer: `{json.dumps(card['tokenizer'])}`",
              f"- best epoch {card['best_epoch']} ({card['stop_reason']}); training time "
              f"{card['training_seconds'] / 60:.1f} min on {card['hardware']}", "",
              "## Demo sentences", "", "| text | expected | predicted | p(expected) |", "|---|---|---|---|"]
    for d in card["demo"]:
        lines.append(f"| {d['text']} | {d['expected']} | {d['predicted']}{'' if d['ok'] else ' ✗'} | {d['p']:.3f} |")
    lines += ["", "## Known weaknesses", ""] + [f"- {w}" for w in card["weaknesses"]]
    lines += ["", f"Rebuild: `python scripts/build_pretrained.py --mirror ../shared/datasets --only {card['name']}`", ""]
    return "\n".join(lines)


def _movie_weaknesses(recipe: Recipe, vocab_size: int) -> list[str]:
    glove_words = recipe.vocab_config.glove_words
    vocabulary = (f"{vocab_size:,}-word vocabulary ({glove_words:,} of them GloVe words that training never saw, "
                  "which keep their pretrained vectors)" if glove_words else f"{vocab_size:,}-word vocabulary")
    return [
        "Trained on English movie reviews only: other domains (products, tweets) and other languages are "
        "out of distribution.",
        "SST-2 and RT polarity share their Rotten Tomatoes source: exact RT test sentences were removed from "
        "training, but shorter SST-2 sub-phrases of those sentences remain, so the RT test accuracy is "
        "somewhat optimistic.",
        f"Reviews longer than {recipe.encoding.max_len} tokens are cut, keeping the end; sarcasm, irony and "
        "comparisons (\"better than the first one, which was awful\") are often missed.",
        f"Words absent from the {vocabulary} become <unk>; misspellings and slang carry no information.",
    ]


_WEAKNESSES_AIRLINE = [
    "Trained on 2015 tweets to six US airlines: other topics are out of distribution.",
    "The neutral class is the hardest (lowest F1); crowd labels are themselves noisy.",
    "Sarcasm (\"great, another delay\") is frequently read as positive.",
]


def build_one(recipe: Recipe, data: BuildData, out_dir: Path, fixture_dir: Path,
              progress: ProgressFn | None = None, prepared_cache: dict | None = None) -> dict:
    """Train, save, reload (float16 round trip), evaluate and write the card of one model."""
    say = progress or (lambda _m: None)
    splits = data.movie if recipe.task == "movie" else data.airline
    torch.manual_seed(recipe.train_config.seed)

    class _Echo:
        def on_batch_end(self, info):
            if info.batch % 250 == 0:
                say(f"{recipe.name}: epoch {info.epoch} batch {info.batch}/{info.batches_per_epoch} "
                    f"loss {info.loss:.3f} ({info.seconds:.0f}s)")

        def on_epoch_end(self, info):
            say(f"{recipe.name}: epoch {info.epoch} train_loss {info.train_loss:.4f} val_loss {info.val_loss:.4f} "
                f"val_acc {info.val_accuracy:.4f} ({info.seconds:.0f}s, {info.tokens_per_second:.0f} tok/s)")

    cache_key = (recipe.task, recipe.tokenizer_config, recipe.vocab_config, recipe.encoding)
    prepared = (prepared_cache or {}).get(cache_key)
    if prepared is None:
        t0 = time.perf_counter()
        prepared = prepare_data(splits, recipe.tokenizer_config, recipe.vocab_config, recipe.encoding)
        say(f"{recipe.name}: tokenized and encoded in {time.perf_counter() - t0:.0f}s, vocabulary {len(prepared.vocab)}")
        if prepared_cache is not None:
            prepared_cache[cache_key] = prepared
    say(f"{recipe.name}: training")
    outcome = train_on_splits(splits, recipe.model_options, recipe.train_config, recipe.tokenizer_config,
                              recipe.vocab_config, recipe.encoding, callbacks=[_Echo()], prepared=prepared)
    path = out_dir / f"{recipe.name}.safetensors"
    save_checkpoint(path, outcome.bundle, half=True)
    bundle = load_checkpoint(path)  # evaluate exactly the float16-rounded weights that ship
    metrics, fixtures = {}, {}
    for key in recipe.eval_sets:
        labels, examples = data.eval_sets[key]
        assert labels == bundle.label_names
        t0 = time.perf_counter()
        metrics[key] = evaluate_texts(bundle, examples.texts, examples.labels)
        fixture = fixture_path(key, fixture_dir)
        if not fixture.exists():
            write_fixture(fixture, labels, examples)
        fixtures[key] = _fixture_metrics(bundle, key, fixture)
        say(f"{recipe.name}: {key} accuracy {metrics[key]['accuracy']:.4f} macro-F1 {metrics[key]['macro_f1']:.4f} "
            f"({time.perf_counter() - t0:.0f}s)")
    demo = check_demo(bundle, recipe.demo)
    fit = outcome.fit
    card = {
        "name": recipe.name,
        "title": recipe.title,
        "summary": ("Binary movie-review sentiment (negative/positive) trained on SST-2 training phrases "
                    "plus IMDb training reviews, so it handles both short typed sentences and long reviews."
                    if recipe.task == "movie" else
                    "Three-class (negative/neutral/positive) sentiment of tweets to US airlines."),
        "task": recipe.task,
        "labels": bundle.label_names,
        "architecture": bundle.model_config.display_name + f" ({recipe.model_options['pooling']} pooling, GloVe 6B 50d fine-tuned)",
        "model_options": recipe.model_options,
        "train_config": recipe.train_config.to_dict(),
        "encoding": recipe.encoding.to_dict(),
        "tokenizer": recipe.tokenizer_config.to_dict(),
        "vocab_config": asdict(recipe.vocab_config),
        "vocab_size": len(bundle.vocab),
        "params": sum(p.numel() for p in bundle.model.parameters()),
        "data": {"name": splits.name, "fingerprint": splits.fingerprint, "train": len(splits.train),
                 "validation": len(splits.validation), "notes": list(splits.notes)},
        "split_seed": SPLIT_SEED,
        "metrics": metrics,
        "fixture_metrics": fixtures,
        "measured": MEASURED,
        "demo": demo,
        "demo_all_correct": all(d["ok"] for d in demo),
        "best_epoch": fit.best_epoch,
        "stop_reason": fit.stop_reason,
        "epochs_run": len(fit.history),
        "training_seconds": round(fit.seconds, 1),
        "hardware": HARDWARE,
        "python": platform.python_version(),
        "weaknesses": (_movie_weaknesses(recipe, len(bundle.vocab)) if recipe.task == "movie"
                       else _WEAKNESSES_AIRLINE),
        "built": time.strftime("%Y-%m-%d"),
    }
    bundle.card = {**bundle.card, **card}
    bundle.metrics = {**bundle.metrics, "eval_sets": metrics}
    save_checkpoint(path, bundle, half=True)
    card["file_bytes"] = path.stat().st_size
    (out_dir / f"{recipe.name}.card.json").write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    (out_dir / f"{recipe.name}.md").write_text(_markdown(card), encoding="utf-8")
    return card


def build_pretrained(mirror, out_dir: str | Path = DEFAULT_DIR, only: list[str] | None = None,
                     progress: ProgressFn | None = None, fixture_dir: str | Path = FIXTURE_DIR) -> list[dict]:
    """Rebuild the shipped models from a dataset mirror.

    Args:
        mirror: folder holding ``imdb/``, ``sst2/``, ``rt_polarity/``, ``airline_tweets/``.
        out_dir: where bundles and cards are written (default: the repository's ``pretrained/``).
        only: recipe names to build (default: all of ``RECIPES``).
        progress: called with one-line progress messages.
        fixture_dir: where the held-out fixture slices live (written if missing).

    Returns:
        The model cards, in build order.
    """
    # One thread: deterministic, and far faster than spinning OpenMP threads on a shared machine.
    torch.set_num_threads(1)
    names = list(only or RECIPES)
    unknown = [n for n in names if n not in RECIPES]
    if unknown:
        raise ValueError(f"unknown pretrained model(s) {unknown}; valid: {', '.join(RECIPES)}")
    out_dir, fixture_dir = Path(out_dir), Path(fixture_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    data = load_build_data(mirror, {RECIPES[n].task for n in names}, progress)
    cache: dict = {}
    cards = [build_one(RECIPES[n], data, out_dir, fixture_dir, progress, cache) for n in names]
    write_index(out_dir)
    return cards


def _store_figures(path: Path, figures: dict) -> None:
    """Write new figures into a bundle's description (``card`` and ``metrics.eval_sets``); the
    stored tensors are written back as read, byte for byte."""
    from safetensors.torch import load_file, save_file

    meta = read_metadata(path)
    meta["card"] = {**meta.get("card", {}), **figures}
    meta["metrics"] = {**meta.get("metrics", {}), "eval_sets": figures["metrics"]}
    tmp = path.with_name(f".tmp-{path.name}")
    try:
        save_file(load_file(path), tmp, metadata={METADATA_KEY: json.dumps(meta, separators=(",", ":"))})
        shutil.copymode(path, tmp)
        os.replace(tmp, path)  # a crash mid-write never destroys the shipped file
    finally:
        tmp.unlink(missing_ok=True)


def measure_pretrained(mirror, out_dir: str | Path = DEFAULT_DIR, only: list[str] | None = None,
                       progress: ProgressFn | None = None, fixture_dir: str | Path = FIXTURE_DIR) -> list[dict]:
    """Measure the shipped bundles again, the way the app reads text, and store the figures.

    Each evaluation set is loaded as the Dataset page loads it (``dataset_view.load_eval_set``) and
    measured with ``evaluate_texts``; its held-out fixture is rewritten as that set's seeded sample.
    The card (``.card.json``, ``.md``), the bundle's description (weights untouched) and ``README.md``
    get the new figures.

    Args:
        mirror: the dataset mirror folder (default ``GATESCOPE_DATA_MIRROR``).
        out_dir: the folder of shipped bundles and cards.
        only: model names to measure (default: every shipped recipe found in ``out_dir``).
        progress: called with one-line progress messages.
        fixture_dir: where the held-out fixture slices are written.

    Returns:
        The updated model cards.

    Raises:
        ValueError: no mirror (the figures are of whole sets, never of the 200-example samples), or an
            unknown model name.
    """
    from .data.download import resolve_mirror
    from .dataset_view import load_eval_set

    mirror = resolve_mirror(mirror)
    if mirror is None:
        raise ValueError("measuring needs the dataset mirror (--mirror DIR or GATESCOPE_DATA_MIRROR): "
                         "a card's figures are of whole evaluation sets")
    torch.set_num_threads(1)  # as the build: deterministic on a shared machine
    say = progress or (lambda _m: None)
    out_dir, fixture_dir = Path(out_dir), Path(fixture_dir)
    names = list(only or [n for n in RECIPES if (out_dir / f"{n}.safetensors").is_file()])
    unknown = [n for n in names if n not in RECIPES]
    if unknown:
        raise ValueError(f"unknown pretrained model(s) {unknown}; valid: {', '.join(RECIPES)}")
    sets: dict = {}
    cards = []
    for name in names:
        path = pretrained_path(name, out_dir)
        bundle = load_checkpoint(path)
        metrics, fixtures = {}, {}
        for key in RECIPES[name].eval_sets:
            if key not in sets:
                sets[key] = load_eval_set(key, mirror)
                write_fixture(fixture_path(key, fixture_dir), sets[key].label_names,
                              Examples(sets[key].texts, sets[key].labels))
            labelled = sets[key]
            t0 = time.perf_counter()
            metrics[key] = evaluate_texts(bundle, labelled.texts, labelled.for_model(bundle.label_names))
            fixtures[key] = _fixture_metrics(bundle, key, fixture_path(key, fixture_dir))
            say(f"{name}: {key} accuracy {metrics[key]['accuracy']:.4f} macro-F1 {metrics[key]['macro_f1']:.4f} "
                f"on {metrics[key]['count']:,} ({time.perf_counter() - t0:.0f}s)")
        figures = {"metrics": metrics, "fixture_metrics": fixtures, "measured": MEASURED}
        _store_figures(path, figures)
        card_path = out_dir / f"{name}.card.json"
        card = {**json.loads(card_path.read_text(encoding="utf-8")), **figures, "file_bytes": path.stat().st_size}
        card_path.write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
        markdown = out_dir / f"{name}.md"
        markdown.write_text(_remeasured_markdown(markdown.read_text(encoding="utf-8"), card), encoding="utf-8")
        cards.append(card)
    write_index(out_dir)
    return cards


def _target_lines(cards: list[dict]) -> list[str]:
    lines = ["| set | target | best shipped model | reached |", "|---|---|---|---|"]
    for key, target in TARGETS.items():
        scored = [(c["metrics"][key]["accuracy"], c["name"]) for c in cards if key in c["metrics"]]
        if scored:
            best, name = max(scored)
            reached = "yes" if best >= target else "no"
            lines.append(f"| {EVAL_SETS[key][1]} | {target:.0%} | {best:.2%} ({name}) | {reached} |")
    return lines


def write_index(out_dir: str | Path = DEFAULT_DIR) -> Path:
    """Write ``README.md`` in ``out_dir``: a table of every shipped model's metrics."""
    out_dir = Path(out_dir)
    cards = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(out_dir.glob("*.card.json"))]
    order = {n: i for i, n in enumerate(RECIPES)}
    cards.sort(key=lambda c: order.get(c["name"], 99))
    keys = list(EVAL_SETS)
    lines = ["# Pretrained models", "",
             "Shipped bundles (float16 safetensors). Rebuild all of them, deterministically from their seeds, with",
             "`python scripts/build_pretrained.py --mirror ../shared/datasets` (training times below, measured on 2 shared CPU cores; plus ~10 min of tokenization and evaluation).",
             "Load one with `sentiment_core.pretrained.load_pretrained(name)`.", "",
             f"Every accuracy below (and on Home, from the cards) is measured {MEASURED}, so the Dataset page "
             f"shows the same figure on the same set. Measure them again, weights untouched, with `{MEASURE_COMMAND}`.",
             "",
             "| model | architecture | " + " | ".join(EVAL_SETS[k][1] for k in keys) + " | size | training |",
             "|---|---|" + "---|" * len(keys) + "---|---|"]
    for c in cards:
        cells = []
        for k in keys:
            v = c["metrics"].get(k)
            cells.append("–" if v is None else (f"{v['accuracy']:.2%}" + (f" (macro-F1 {v['macro_f1']:.3f})"
                                                                       if c["task"] == "airline" else "")))
        lines.append(f"| [{c['name']}]({c['name']}.md) | {c['architecture']} | " + " | ".join(cells)
                     + f" | {c['file_bytes'] / 1e6:.1f} MB | {c['training_seconds'] / 60:.1f} min |")
    lines += ["", f"Hardware: {cards[0]['hardware'] if cards else HARDWARE}.",
              "Each card (`<name>.card.json`, `<name>.md`) "
              "lists data, split, configuration, demo-sentence results and known weaknesses.", "",
              *_target_lines(cards), "",
              "Measured alternatives that were not shipped (every shipped movie model gets all eight demo "
              "sentences right; the BiLSTM shipped is the only candidate that reached the IMDb target). The first "
              "line is measured as the table above; the others were measured earlier, when the loader removed "
              "IMDb's <br /> tags, which flatters the models whose tokenizer does not clean text (the shipped LSTM: "
              "88.63% with the tags removed, against its figure above as written):", "",
              *[f"- {a}" for a in ALTERNATIVES], ""]
    path = out_dir / "README.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


# ---------------------------------------------------------------------------- shipped models

@dataclass
class PretrainedInfo:
    """What the app shows about a shipped model without loading its weights."""

    name: str
    title: str
    path: Path
    architecture: str
    labels: list[str]
    task: str
    metrics: dict
    size_bytes: int
    card: dict


def headline(title: str, metrics: dict) -> str:
    """A shipped model's title and its test accuracies, e.g. ``LSTM …: IMDb 87.3%, SST-2 84.3%, RT 82.0%``."""
    return f"{title}: " + ", ".join(f"{SHORT_NAMES.get(k, k)} {v['accuracy']:.1%}" for k, v in metrics.items())


def list_pretrained(dir: str | Path = DEFAULT_DIR) -> list[PretrainedInfo]:
    """The bundles shipped in ``dir`` (read from their headers, weights not loaded)."""
    dir = Path(dir)
    order = {n: i for i, n in enumerate(RECIPES)}
    out = []
    for path in sorted(dir.glob("*.safetensors"), key=lambda p: (order.get(p.stem, 99), p.stem)):
        try:
            meta = read_metadata(path)
        except CheckpointError:
            continue
        card = meta.get("card", {})
        config = meta.get("model_config", {})
        arch = card.get("architecture") or (("Bi" if config.get("bidirectional") else "") + str(config.get("cell", "?")).upper())
        out.append(PretrainedInfo(path.stem, card.get("title", path.stem), path, arch, list(meta.get("label_names", [])),
                                  card.get("task", ""), card.get("metrics", {}), path.stat().st_size, card))
    return out


def pretrained_path(name: str, dir: str | Path = DEFAULT_DIR) -> Path:
    """Path of a shipped bundle; raises ``CheckpointError`` naming the available ones."""
    path = Path(dir) / f"{name}.safetensors"
    if not path.is_file():
        available = ", ".join(p.stem for p in sorted(Path(dir).glob("*.safetensors"))) or "none"
        raise CheckpointError(f"no pretrained model {name!r} in {dir} (available: {available}); "
                              "rebuild with `python scripts/build_pretrained.py --mirror <datasets>`")
    return path


def load_pretrained(name: str, dir: str | Path = DEFAULT_DIR, device: str | torch.device = "cpu") -> Bundle:
    """Load a shipped bundle by name (``rnn``, ``lstm``, ``bilstm``, ``gru``, ``airline_bilstm``)."""
    return load_checkpoint(pretrained_path(name, dir), device)
