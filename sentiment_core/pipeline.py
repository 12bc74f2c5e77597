"""From dataset splits to a trained bundle: tokenize, build the vocabulary from the
training split, encode, build the model (optionally with GloVe), train, evaluate on test."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Mapping, Sequence

import torch

from .checkpoint import Bundle, library_versions, save_checkpoint
from .data.types import DatasetSplits, Examples
from .embeddings import EmbeddingCoverage, embedding_matrix, load_glove_6b_50d, load_vectors
from .encoding import EncodingConfig, LengthStats, length_stats, text_to_indices, truncate
from .metrics import Metrics
from .models import ModelConfig, build_model
from .spec import ParamSpec
from .text import Tokenizer, TokenizerConfig
from .trainer import EncodedExamples, FitResult, StopEvent, TrainConfig, Trainer, evaluate
from .vocab import Coverage, Vocab

VOCAB_SPEC = {
    "min_freq": ParamSpec(2, "Words seen fewer times in training become <unk>.", "Min word count",
                          min=1, max=50, step=1),
    "max_size": ParamSpec(20000, "Largest vocabulary (most frequent words first).", "Max vocabulary size",
                          min=100, max=200000, step=100),
    "glove_words": ParamSpec(0, "Also add this many of GloVe's most frequent words that training never saw, so "
                                "they keep a pretrained meaning instead of becoming <unk>.", "Extra GloVe words",
                             min=0, max=400000, step=1000),
}


@dataclass(frozen=True)
class VocabConfig:
    """How the vocabulary is built from the training split."""

    min_freq: int = VOCAB_SPEC["min_freq"].default
    max_size: int = VOCAB_SPEC["max_size"].default
    glove_words: int = VOCAB_SPEC["glove_words"].default

    def __post_init__(self) -> None:
        for name, spec in VOCAB_SPEC.items():
            spec.validate(name, getattr(self, name))


@dataclass
class PreparedData:
    """Everything the trainer consumes, plus the statistics the Data page shows."""

    vocab: Vocab
    tokenizer: Tokenizer
    train: EncodedExamples
    validation: EncodedExamples
    test: EncodedExamples
    train_lengths: list[int]
    length_stats: LengthStats
    validation_coverage: Coverage
    truncated_share: float


def encode_examples(examples: Examples, tokenizer: Tokenizer, vocab: Vocab, encoding: EncodingConfig) -> EncodedExamples:
    """Tokenize, look up and truncate every text."""
    ids = [truncate(text_to_indices(t, tokenizer, vocab)[1], encoding.max_len, encoding.truncation)
           for t in examples.texts]
    return EncodedExamples(ids, list(examples.labels))


def prepare_data(splits: DatasetSplits, tokenizer_config: TokenizerConfig, vocab_config: VocabConfig,
                 encoding: EncodingConfig) -> PreparedData:
    """Build the vocabulary from the training split only and encode all three splits.

    Args:
        splits: train / validation / test examples.
        tokenizer_config: tokenizer options.
        vocab_config: vocabulary options.
        encoding: max length and truncation side.

    Returns:
        Encoded splits, vocabulary and statistics.
    """
    tokenizer = Tokenizer(tokenizer_config)
    train_tokens = tokenizer.tokenize_many(splits.train.texts)
    vocab = Vocab.build(train_tokens, vocab_config.min_freq, vocab_config.max_size)
    if vocab_config.glove_words:
        vocab = vocab.extend(load_glove_6b_50d().words, vocab_config.glove_words)
    lengths = [len(t) for t in train_tokens]
    train_ids = [truncate(vocab.lookup_indices(t), encoding.max_len, encoding.truncation) for t in train_tokens]
    val_tokens = tokenizer.tokenize_many(splits.validation.texts)
    val_ids = [truncate(vocab.lookup_indices(t), encoding.max_len, encoding.truncation) for t in val_tokens]
    return PreparedData(
        vocab=vocab,
        tokenizer=tokenizer,
        train=EncodedExamples(train_ids, list(splits.train.labels)),
        validation=EncodedExamples(val_ids, list(splits.validation.labels)),
        test=encode_examples(splits.test, tokenizer, vocab, encoding),
        train_lengths=lengths,
        length_stats=length_stats(lengths),
        validation_coverage=vocab.coverage(val_tokens),
        truncated_share=sum(1 for n in lengths if n > encoding.max_len) / max(1, len(lengths)),
    )


def make_model_config(options: dict, vocab: Vocab, num_classes: int) -> ModelConfig:
    """Complete user-chosen model options with the data-dependent fields (a vector file fixes ``emb_dim``)."""
    options = dict(options)
    if options.get("embeddings") == "file" and options.get("vectors"):
        options["emb_dim"] = load_vectors(options["vectors"]).dim
    return ModelConfig(vocab_size=len(vocab), num_classes=num_classes, **options)


@dataclass
class TrainingOutcome:
    """The result of ``train_on_splits``."""

    bundle: Bundle
    fit: FitResult
    test: Metrics
    validation: Metrics
    prepared: PreparedData
    embedding_coverage: EmbeddingCoverage | None = None


class _SaveBest:
    """Writes the bundle whenever the validation loss improves, so a crash keeps the best model."""

    def __init__(self, path: Path, bundle: Bundle):
        self.path, self.bundle = path, bundle
        self.history: list[dict] = []

    def on_epoch_end(self, info) -> None:
        self.history.append(info.to_dict())
        if info.is_best:
            self.bundle.metrics = {"best_epoch": info.epoch, "val_loss": info.val_loss,
                                   "val_accuracy": info.val_accuracy, "val_macro_f1": info.val_macro_f1}
        self.bundle.history = list(self.history)
        if info.is_best:
            save_checkpoint(self.path, self.bundle)


def train_on_splits(
    splits: DatasetSplits,
    model_options: dict | None = None,
    train_config: TrainConfig | None = None,
    tokenizer_config: TokenizerConfig | None = None,
    vocab_config: VocabConfig | None = None,
    encoding: EncodingConfig | Mapping | None = None,
    callbacks: Sequence[object] = (),
    stop_event: StopEvent | None = None,
    checkpoint_path: str | Path | None = None,
    prepared: PreparedData | None = None,
) -> TrainingOutcome:
    """Train one model end to end.

    Args:
        splits: the data.
        model_options: ``ModelConfig`` fields except ``vocab_size``/``num_classes``/``pad_idx``.
        train_config: hyperparameters.
        tokenizer_config: tokenizer options.
        vocab_config: vocabulary options.
        encoding: max length, padding and truncation sides (an ``EncodingConfig`` or its fields).
        callbacks: trainer callbacks (progress, live charts). Those with an
            ``on_train_start(bundle, prepared)`` method get the bundle (whose model is the one
            being trained) and the encoded data before the first step.
        stop_event: set it to stop training cleanly.
        checkpoint_path: when given, the best bundle is written there after every improving epoch.
        prepared: reuse already-encoded data (must match the tokenizer/vocab/encoding options).

    Returns:
        The bundle (best weights), fit history and validation/test metrics.
    """
    train_config = train_config or TrainConfig()
    tokenizer_config = tokenizer_config or TokenizerConfig()
    vocab_config = vocab_config or VocabConfig()
    if not isinstance(encoding, EncodingConfig):
        encoding = EncodingConfig.from_dict(encoding or {})
    prepared = prepared or prepare_data(splits, tokenizer_config, vocab_config, encoding)
    config = make_model_config(model_options or {}, prepared.vocab, splits.num_classes)
    torch.manual_seed(train_config.seed)
    matrix, coverage = None, None
    if config.embeddings == "glove":
        matrix, coverage = embedding_matrix(prepared.vocab, load_glove_6b_50d(), seed=train_config.seed)
    elif config.embeddings == "file":
        matrix, coverage = embedding_matrix(prepared.vocab, load_vectors(config.vectors), seed=train_config.seed)
    model = build_model(config, matrix)
    bundle = Bundle(
        model=model, vocab=prepared.vocab, label_names=list(splits.label_names),
        tokenizer_config=tokenizer_config, encoding=encoding,
        train_config={**train_config.to_dict(), "vocab": asdict(vocab_config)},
        dataset={"name": splits.name, "fingerprint": splits.fingerprint, "train": len(splits.train),
                 "validation": len(splits.validation), "test": len(splits.test), "notes": list(splits.notes)},
        versions=library_versions(),
    )
    saver = _SaveBest(Path(checkpoint_path), bundle) if checkpoint_path else None
    trainer = Trainer(model, train_config, [*([saver] if saver else []), *callbacks], stop_event, encoding)
    for callback in callbacks:  # e.g. the time-lapse recorder, which reads the probes with this bundle
        if hasattr(callback, "on_train_start"):
            callback.on_train_start(bundle, prepared)
    fit = trainer.fit(prepared.train, prepared.validation)
    padding = bundle.batch_padding
    val_metrics = evaluate(model, prepared.validation, 256, padding, trainer.device)
    test_metrics = evaluate(model, prepared.test, 256, padding, trainer.device) if len(prepared.test) else val_metrics
    bundle.history = [h.to_dict() for h in fit.history]
    bundle.metrics = {
        "best_epoch": fit.best_epoch, "stop_reason": fit.stop_reason, "stop_message": fit.message,
        "seconds": fit.seconds, "device": fit.device,
        "validation": val_metrics.to_dict(), "test": test_metrics.to_dict(),
        "val_accuracy": val_metrics.accuracy, "test_accuracy": test_metrics.accuracy,
        "test_macro_f1": test_metrics.macro_f1,
        "params": sum(p.numel() for p in model.parameters()),
    }
    if coverage is not None:
        bundle.card = {**bundle.card, "glove_coverage": asdict(coverage)}
    if checkpoint_path and fit.best_epoch is not None:
        save_checkpoint(checkpoint_path, bundle)
    model.cpu()
    return TrainingOutcome(bundle, fit, test_metrics, val_metrics, prepared, coverage)
