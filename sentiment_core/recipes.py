""""Start from a tutorial": the classic RNN sentiment tutorials' setups as GateScope settings,
each with the result and parameter count the tutorial reports, to set beside your own run.

A recipe's ``published`` numbers are the tutorial's, never GateScope's; ``param_checks`` name
the counts a tutorial prints (``model.summary()`` in Keras, a ``count_parameters`` helper in
PyTorch) and how to reproduce them with ``models.model_summary``.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping

from . import settings
from .models import ModelConfig, model_summary


@dataclass(frozen=True)
class ParamCheck:
    """A parameter count a tutorial reports.

    Attributes:
        what: what the number counts, in the tutorial's words.
        expected: the tutorial's number.
        model: ``ModelConfig`` overrides of the recipe's model for this variant (e.g. stacked).
        vocab_size: embedding rows the tutorial had.
        keras: counted as Keras does (one bias per gate for SimpleRNN/LSTM).
        rows: which summary rows it sums: ``all``, ``trainable``, or a row-name prefix
            (e.g. ``lstm layer 0`` for one Keras layer).
    """

    what: str
    expected: int
    vocab_size: int
    model: dict = field(default_factory=dict)
    keras: bool = False
    rows: str = "all"


@dataclass(frozen=True)
class Recipe:
    """One tutorial's setup.

    Attributes:
        key: short name (URL-safe).
        title: what a student recognises.
        tutorial: where the setup comes from.
        dataset: catalogue dataset name.
        model, train, encoding, vocab: settings groups (only what differs from GateScope's defaults).
        published: the tutorial's reported result, in its words.
        notes: where GateScope differs, or how to get the data.
        param_checks: parameter counts the tutorial prints.
        data: data settings beside the dataset name (classes left out, split shares and seed).
    """

    key: str
    title: str
    tutorial: str
    dataset: str
    model: dict
    train: dict
    encoding: dict
    vocab: dict
    published: str
    notes: str = ""
    param_checks: tuple[ParamCheck, ...] = ()
    data: dict = field(default_factory=dict)


SARCASM_MODEL = dict(cell="lstm", bidirectional=True, emb_dim=7, hidden_dim=24, pooling="mean", head="mlp",
                     head_hidden=24, output="sigmoid", packed=False)
AIRLINE_DATA = dict(leave_out="neutral", test_share=0.3, val_share=0.1, split_seed=42)
AIRLINE_MODEL = dict(emb_dim=32, hidden_dim=40, output="sigmoid", packed=False)

RECIPES: dict[str, Recipe] = {r.key: r for r in (
    Recipe(
        "uci_lstm", "UCI sentences, LSTM", "the classic PyTorch 'Sentiment analysis with an LSTM' tutorial "
        "(UCI sentiment labelled sentences)", "uci_sentences",
        model=dict(cell="lstm", num_layers=2, emb_dim=50, hidden_dim=100, layer_dropout=0.8, head="per_step",
                   output="sigmoid", packed=False),
        train=dict(epochs=3, batch_size=1, lr=1e-3, clip_norm=5.0, patience=0),
        encoding=dict(max_len=50, padding="pre", truncation="post"), vocab=dict(min_freq=1),
        published="76 % test accuracy",
        notes="The tutorial splits 80/10/10; GateScope's catalogue split of the same 3,000 sentences is used.",
    ),
    Recipe(
        "imdb_rnn", "IMDb, plain RNN", "the Keras SimpleRNN IMDb tutorial", "imdb",
        model=dict(cell="rnn", emb_dim=100, hidden_dim=32, output="sigmoid", packed=False),
        train=dict(epochs=10, batch_size=32, patience=0), encoding=dict(max_len=512, padding="pre"), vocab={},
        published="it overfits, and its validation accuracy fluctuates from epoch to epoch",
    ),
    Recipe(
        "imdb_packed_bilstm", "IMDb, packed BiLSTM", "the packed-sequence PyTorch IMDb tutorial (torchtext)", "imdb",
        model=dict(cell="lstm", bidirectional=True, num_layers=2, emb_dim=100, hidden_dim=256, layer_dropout=0.5,
                   head_dropout=0.5, output="sigmoid", packed=True),
        train=dict(epochs=5, batch_size=64, patience=0), encoding=dict(max_len=500), vocab=dict(max_size=25002),
        published="a 25,000-word vocabulary, dropout, 2 layers; its GRU variant is a 2-layer BiGRU with dropout 0.8",
    ),
    Recipe(
        "imdb_packed_bigru", "IMDb, packed BiGRU (dropout 0.8)", "the same tutorial's GRU variant", "imdb",
        model=dict(cell="gru", bidirectional=True, num_layers=2, emb_dim=100, hidden_dim=256, layer_dropout=0.8,
                   head_dropout=0.8, output="sigmoid", packed=True),
        train=dict(epochs=5, batch_size=64, patience=0), encoding=dict(max_len=500), vocab=dict(max_size=25002),
        published="a 2-layer BiGRU with dropout 0.8",
    ),
    Recipe(
        "sarcasm_bilstm", "Sarcasm headlines, BiLSTM", "the O'Reilly sarcasm-headlines model", "sarcasm",
        model=SARCASM_MODEL, train=dict(epochs=300, lr=1e-3, patience=0),
        encoding=dict(max_len=85, padding="post", truncation="post"), vocab=dict(max_size=2000, min_freq=1),
        published="85 % train / 75 % validation accuracy after 300 epochs; validation loss rises after about "
                  "15 epochs. Learning-rate sweep: 1e-4, 5e-5, 5e-4, 3e-4, 1e-5",
        notes="The sarcasm headlines are downloaded (gatescope datasets fetch sarcasm, or put "
              "Sarcasm_Headlines_Dataset.json in a mirror folder 'sarcasm/'); with no network the configuration "
              "and parameter count are still shown. The tutorial's 21,537 and 35,745 are PyTorch counts (two "
              "biases per gate); counted as Keras does they are 21,345 and 35,361. With frozen GloVe 50d the tutorial reports 406,817 parameters, 6,817 trainable: the frozen 400,000 are 8,000 words x 50, but 6,817 trainable does not follow from the BiLSTM(24) -> fc1(24) -> fc2 described (GateScope counts 15,793 for it).",
        param_checks=(
            ParamCheck("total parameters", 21_537, 2000),
            ParamCheck("total parameters, stacked (2 BiLSTM layers)", 35_745, 2000, model=dict(num_layers=2)),
            ParamCheck("frozen GloVe 50d embedding (406,817 total - 6,817 trainable)", 400_000, 8000,
                       model=dict(embeddings="glove", freeze_embeddings=True), rows="embedding"),
        ),
    ),
    Recipe(
        "airline_simple_rnn", "Airline tweets, 2 classes, SimpleRNN(40)", "the Keras airline-tweets tutorial",
        "airline_tweets", model=dict(cell="rnn", **AIRLINE_MODEL), train=dict(epochs=10, batch_size=32, patience=0),
        encoding=dict(max_len=26, padding="post", truncation="post"), vocab={},
        published="about 89 % accuracy after 10 epochs",
        notes="As the tutorial: the neutral tweets are left out and 30 % of each class is the test set (seed 42); "
              "GateScope also holds out 10 % for validation (best epoch), so training has 60 % instead of 70 %.",
        param_checks=(ParamCheck("SimpleRNN(40) layer, Keras model.summary()", 2_920, 10_000, keras=True,
                                 rows="rnn layer 0"),),
        data=AIRLINE_DATA,
    ),
    Recipe(
        "airline_lstm", "Airline tweets, 2 classes, LSTM(40)", "the Keras airline-tweets tutorial",
        "airline_tweets", model=dict(cell="lstm", **AIRLINE_MODEL), train=dict(epochs=50, batch_size=32, patience=0),
        encoding=dict(max_len=26, padding="post", truncation="post"), vocab={},
        published="about 91 % after 50 epochs; about 91 % for a stacked LSTM",
        notes="As the tutorial: the neutral tweets are left out and 30 % of each class is the test set (seed 42); "
              "GateScope also holds out 10 % for validation (best epoch), so training has 60 % instead of 70 %.",
        param_checks=(ParamCheck("LSTM(40) layer, Keras model.summary()", 11_680, 10_000, keras=True,
                                 rows="lstm layer 0"),),
        data=AIRLINE_DATA,
    ),
    Recipe(
        "imdb_bilstm_glove", "IMDb, BiLSTM + GloVe", "the BiLSTM + GloVe IMDb tutorial", "imdb",
        model=dict(cell="lstm", bidirectional=True, num_layers=2, hidden_dim=256, layer_dropout=0.5,
                   head_dropout=0.5, embeddings="glove", output="sigmoid"),
        train=dict(epochs=10, batch_size=30, lr=1e-3, seed=123, patience=0), encoding={},
        vocab=dict(max_size=10000),
        published="(the tutorial's setup: 2 layers, hidden 256, dropout 0.5, vocabulary 10,000, batch 30, "
                  "lr 1e-3, 10 epochs, seed 123)",
        notes="The tutorial used GloVe 100d; GateScope uses the vectors it has offline, GloVe 6B 50d "
              "(or a 100d file of your own with embeddings 'file').",
    ),
)}


def recipe_config(recipe: Recipe, vocab_size: int, num_classes: int = 2, **overrides) -> ModelConfig:
    """The recipe's model for a vocabulary size."""
    return ModelConfig(vocab_size=vocab_size, num_classes=num_classes, **{**recipe.model, **overrides})


def checked_count(recipe: Recipe, check: ParamCheck) -> int:
    """GateScope's count of what ``check`` counts (compare with ``check.expected``)."""
    rows = model_summary(recipe_config(recipe, check.vocab_size, **check.model), keras_biases=check.keras)
    if check.rows == "all":
        return sum(r.count for r in rows)
    if check.rows == "trainable":
        return sum(r.count for r in rows if r.trainable)
    return sum(r.count for r in rows if r.layer.startswith(check.rows))


# The data settings that make a dataset's split (the synthetic sets' options do not apply to a recipe).
SPLIT_FIELDS = ("name", "max_examples", "source", "split_seed", "leave_out", "test_share", "val_share")


def recipe_settings(recipe: Recipe) -> dict[str, dict]:
    """The settings groups a recipe trains with: GateScope's defaults, then the recipe's own."""
    base = settings.defaults()
    groups = {group: {**base[group], **getattr(recipe, group)} for group in ("model", "train", "encoding", "vocab")}
    groups["data"] = {**base["data"], "name": recipe.dataset, **recipe.data}
    groups["tokenizer"] = dict(base["tokenizer"])
    return groups


def _as_recorded(groups: Mapping[str, Mapping]) -> dict[str, dict]:
    """Settings groups as a run's config.json records them (through the classes that check them)."""
    from .encoding import EncodingConfig
    from .pipeline import VocabConfig
    from .text import TokenizerConfig
    from .trainer import TrainConfig

    model = ModelConfig(vocab_size=2, num_classes=2, **groups["model"]).to_dict()
    return {"data": {k: groups["data"][k] for k in SPLIT_FIELDS},
            "model": {k: v for k, v in model.items() if k not in ("vocab_size", "num_classes", "pad_idx")},
            "train": {k: v for k, v in TrainConfig.from_dict(dict(groups["train"])).to_dict().items() if k != "device"},
            "encoding": EncodingConfig.from_dict(dict(groups["encoding"])).to_dict(),
            "vocab": asdict(VocabConfig(**groups["vocab"])),
            "tokenizer": TokenizerConfig(**groups["tokenizer"]).to_dict()}


def _said(value: Any) -> str:
    """A setting's value as a sentence says it: on/off, none, 0.001."""
    if isinstance(value, bool):
        return "on" if value else "off"
    return "none" if value in ("", None) else f"{value:g}" if isinstance(value, float) else str(value)


def _same(got: Any, want: Any) -> bool:
    if isinstance(want, float) and isinstance(got, (int, float)) and not isinstance(got, bool):
        return math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-12)
    return got == want


def differences(recipe: Recipe, config: Mapping) -> list[str]:
    """How a run differs from ``recipe``: empty when the run is the recipe.

    Every setting the run records is compared (model, training, text, vocabulary, tokenizer and
    the dataset's split), the defaults a recipe leaves alone included.

    Args:
        recipe: the tutorial the run started from.
        config: the run's config.json content.

    Returns:
        One line per setting, e.g. ``"Hidden size: 32 (the tutorial: 40)"``, in the spec's words.
    """
    specs = settings.specs()
    lines = []
    for group, wanted in _as_recorded(recipe_settings(recipe)).items():
        recorded = config.get(group) or {}
        for name, want in wanted.items():
            got = recorded.get(name)
            if not _same(got, want):
                spec = specs.get(group, {}).get(name)
                lines.append(f"{spec.label if spec else name.replace('_', ' ')}: {_said(got)} (the tutorial: {_said(want)})")
    return lines
