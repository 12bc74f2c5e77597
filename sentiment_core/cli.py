"""Command line: ``gatescope`` / ``python -m sentiment_core``.

Subcommands: ``datasets list|fetch|show``, ``train``, ``evaluate``, ``predict``, ``explain``,
``import``, ``pretrain``, ``report``, ``serve``. Every model, training, encoding and vocabulary option is a flag
generated from the same ``*_SPEC`` dicts the app's sliders use.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
from dataclasses import fields
from pathlib import Path

from tqdm import tqdm

from .encoding import ENCODING_SPEC, SIDES, UNKNOWN_POLICIES, EncodingConfig
from .data.upload import MAX_UPLOAD_BYTES
from .errors import GateScopeError
from .files import read_named_file
from .explain.spec import BASELINES, EXPLAIN_SPEC
from .importers import HEAD_INPUT_HELP, HEAD_INPUTS, STOPWORD_CHOICES, TEXT_PRESETS, ImportOptions
from .models import MODEL_SPEC, ModelConfig
from .pipeline import VOCAB_SPEC, VocabConfig
from .spec import ParamSpec
from .text import TOKENIZER_SPEC, Tokenizer, TokenizerConfig
from .trainer import TRAIN_SPEC, TrainConfig

MODEL_HELP = "a shipped model (e.g. bilstm, lstm), run:<run name> for a saved run, or a .safetensors file"
MODEL_OPTION_FIELDS = [f.name for f in fields(ModelConfig) if f.name not in ("vocab_size", "num_classes", "pad_idx")]


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _add_spec_flags(parser: argparse.ArgumentParser, spec: dict[str, ParamSpec], names: list[str], title: str) -> None:
    group = parser.add_argument_group(title)
    for name in names:
        p = spec[name]
        default_text = f" (default: {p.default})"
        if isinstance(p.default, bool):
            group.add_argument(_flag(name), dest=name, action=argparse.BooleanOptionalAction, default=p.default,
                               help=p.help + default_text)
            continue
        kind = type(p.default) if p.default is not None else str
        extra = {"choices": p.choices} if p.choices else {}
        rng = f" [{p.min:g}..{p.max:g}]" if p.min is not None and p.max is not None else ""
        group.add_argument(_flag(name), dest=name, type=kind, default=p.default, help=p.help + rng + default_text,
                           **extra)


def _add_data_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("data")
    source = group.add_mutually_exclusive_group(required=True)
    source.add_argument("--dataset", help="catalogue dataset name (see `gatescope datasets list`)")
    source.add_argument("--file", type=Path, help="your own CSV/TSV/TXT/JSONL/Parquet file")
    group.add_argument("--text-column", help="column holding the text (uploads; detected by default)")
    group.add_argument("--label-column", help="column holding the label (uploads; detected by default)")
    group.add_argument("--threshold", type=float, help="threshold for continuous score labels")
    group.add_argument("--mirror", type=Path, help="local mirror folder with one folder per dataset "
                       "(default: $GATESCOPE_DATA_MIRROR)")
    group.add_argument("--cache-dir", type=Path, help="download cache (default: $GATESCOPE_CACHE_DIR or platform cache)")
    group.add_argument("--max-examples", type=int, help="keep at most this many examples per part (quick runs)")
    group.add_argument("--val-fraction", type=float, default=0.1, help="validation share (default: 0.1)")
    group.add_argument("--test-fraction", type=float, default=0.1,
                       help="test share when the dataset has no official test split (default: 0.1)")
    group.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                       help="dataset option, e.g. distance=30 for synthetic_long_range or source=yelp for uci_sentences")


def _parse_options(items: list[str]) -> dict:
    options = {}
    for item in items:
        if "=" not in item:
            raise GateScopeError(f"--option {item!r} must look like KEY=VALUE")
        key, value = item.split("=", 1)
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    return options


def _megabytes(n: int) -> str:
    return f"{n / 2**20:.1f} MB"


class _Progress:
    """Download and reading progress on stderr: a tqdm bar on a terminal, plain lines in a log.

    Each new message starts a new bar (bytes while downloading, items otherwise). When stderr
    is not a terminal, tqdm disables itself and each step gets one line when it starts and
    one when it ends, so log files get no carriage returns.
    """

    def __init__(self):
        self.bar: tqdm | None = None
        self.message = ""
        self.done = 0

    def __call__(self, done: int, total: int | None, message: str = "") -> None:
        if self.bar is None or message != self.message:
            self.close()
            in_bytes = message.startswith("downloading")
            self.bar = tqdm(total=total, desc=message, file=sys.stderr, disable=None, dynamic_ncols=True,
                            unit="B" if in_bytes else "it", unit_scale=in_bytes, unit_divisor=1024)
            self.message, self.done = message, 0
            if self.bar.disable:
                size = f" ({_megabytes(total) if in_bytes else f'{total:,}'})" if total else ""
                print(f"{message}{size} ...", file=sys.stderr, flush=True)
        if total and self.bar.total != total:
            self.bar.total = total
        self.bar.update(done - self.done)
        self.done = done

    def close(self) -> None:
        """End the current bar (in a log: the line saying how much was done)."""
        if self.bar is None:
            return
        if self.bar.disable:
            amount = _megabytes(self.done) if self.message.startswith("downloading") else f"{self.done:,}"
            print(f"{self.message}: {amount} done", file=sys.stderr, flush=True)
        self.bar.close()
        self.bar = None


def _load_splits(args: argparse.Namespace):
    from .data import load_dataset, make_splits, parse_upload

    if args.file is not None:
        raw = read_named_file(args.file, MAX_UPLOAD_BYTES, "--file")
        dataset, report = parse_upload(raw, args.file.name, text_column=args.text_column,
                                       label_column=args.label_column, threshold=args.threshold)
        print(f"read {args.file.name}: {report.rows_kept} rows kept of {report.rows_read} "
              f"(text column {report.text_column!r}, label column {report.label_column!r})")
    else:
        progress = _Progress()
        try:
            dataset = load_dataset(args.dataset, mirror=args.mirror, cache_dir=args.cache_dir, progress=progress,
                                   max_examples=args.max_examples, seed=getattr(args, "seed", 0),
                                   **_parse_options(args.option))
        finally:
            progress.close()
    return make_splits(dataset, val_fraction=args.val_fraction, test_fraction=args.test_fraction,
                       seed=getattr(args, "seed", 0))


class _ConsoleReporter:
    """A tqdm progress bar on stderr (silent when stderr is not a terminal) and an epoch table on stdout."""

    def __init__(self, epochs: int):
        self.epochs = epochs
        self.bar: tqdm | None = None
        print(f"{'epoch':>5} {'train loss':>10} {'train acc':>9} {'val loss':>9} {'val acc':>8} {'val F1':>7} "
              f"{'sec':>6} {'tok/s':>8}")

    def on_batch_end(self, info) -> None:
        if self.bar is None:
            self.bar = tqdm(total=self.epochs * info.batches_per_epoch, file=sys.stderr, disable=None,
                            dynamic_ncols=True, unit="batch", leave=False)
        self.bar.update((info.epoch - 1) * info.batches_per_epoch + info.batch - self.bar.n)
        self.bar.set_postfix(epoch=info.epoch, loss=f"{info.loss:.4f}", refresh=False)

    def on_epoch_end(self, info) -> None:
        star = " *" if info.is_best else ""
        tqdm.write(f"{info.epoch:>5} {info.train_loss:>10.4f} {info.train_accuracy:>9.3f} {info.val_loss:>9.4f} "
                   f"{info.val_accuracy:>8.3f} {info.val_macro_f1:>7.3f} {info.seconds:>6.1f} "
                   f"{info.tokens_per_second:>8.0f}{star}", file=sys.stdout)
        sys.stdout.flush()

    def on_fit_end(self, result) -> None:
        if self.bar is not None:
            self.bar.close()


def _set_threads(threads: int | None) -> None:
    import torch

    if threads:
        torch.set_num_threads(threads)


def cmd_datasets(args: argparse.Namespace) -> int:
    from .data import get_info, list_datasets, load_dataset

    if args.action == "list":
        for info in list_datasets():
            print(f"{info.name:<22} {info.kind:<9} {len(info.classes)} classes  {info.size:<22} {info.title}")
        return 0
    if not args.name:
        raise GateScopeError(f"`gatescope datasets {args.action}` needs a dataset name")
    info = get_info(args.name)
    if args.action == "show":
        print(f"{info.title} ({info.name})\n\n{info.description}\n")
        print(f"classes:  {', '.join(info.classes)}\nsize:     {info.size}\nkind:     {info.kind}")
        print(f"license:  {info.license}\ncitation: {info.citation}")
        if info.urls:
            print("urls:     " + "\n          ".join(info.urls))
        return 0
    progress = _Progress()
    try:
        dataset = load_dataset(args.name, mirror=args.mirror, cache_dir=args.cache_dir, progress=progress)
    finally:
        progress.close()
    parts = ", ".join(f"{k}: {len(v):,}" for k, v in dataset.parts.items())
    print(f"{args.name}: {len(dataset):,} examples ({parts}); fingerprint {dataset.fingerprint()}")
    for note in dataset.notes:
        print(f"  note: {note}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from .checkpoint import save_checkpoint
    from .pipeline import train_on_splits

    _set_threads(args.threads)
    train_cfg = TrainConfig(**{name: getattr(args, name) for name in TRAIN_SPEC})
    encoding = EncodingConfig(**{name: getattr(args, name) for name in ENCODING_SPEC})
    model_options = {name: getattr(args, name) for name in MODEL_OPTION_FIELDS}
    if model_options["vectors"] and model_options["embeddings"] == "random":
        model_options["embeddings"] = "file"  # --vectors FILE alone means: start from that file
    if model_options["embeddings"] == "file" and model_options["vectors"]:
        from .embeddings import load_vectors

        vectors = load_vectors(model_options["vectors"])
        model_options["emb_dim"] = vectors.dim
        print(f"word vectors: {len(vectors.words):,} words x {vectors.dim} from {model_options['vectors']}")
    tokenizer_cfg = TokenizerConfig(kind=args.tokenizer, lowercase=args.lowercase,
                                    strip_punctuation=args.strip_punctuation,
                                    remove_stopwords=args.remove_stopwords, keep_negations=args.keep_negations)
    vocab_cfg = VocabConfig(**{name: getattr(args, name) for name in VOCAB_SPEC})
    model_config = ModelConfig(vocab_size=2, **model_options)  # validate options before loading data
    splits = _load_splits(args)
    bundle_path = _bundle_path(args.out, f"{model_config.display_name} {splits.name}") if args.out else None
    print(f"{splits.name}: train {len(splits.train):,}, validation {len(splits.validation):,}, "
          f"test {len(splits.test):,}; classes {', '.join(splits.label_names)}")
    out = train_on_splits(splits, model_options, train_cfg, tokenizer_cfg, vocab_cfg, encoding,
                          callbacks=[_ConsoleReporter(train_cfg.epochs)], checkpoint_path=bundle_path)
    fit, test = out.fit, out.test
    print(f"{fit.message} ({fit.seconds:.1f}s on {fit.device}); best epoch {fit.best_epoch}")
    print(f"vocabulary {len(out.bundle.vocab):,} words, OOV rate on validation "
          f"{out.prepared.validation_coverage.oov_rate:.1%}; parameters {out.bundle.metrics['params']:,}")
    if out.embedding_coverage is not None:
        source = "the word-vector file" if model_options["embeddings"] == "file" else "GloVe"
        print(f"{source} knows {out.embedding_coverage.found:,} of {out.embedding_coverage.vocab_words:,} "
              f"vocabulary words ({out.embedding_coverage.share:.1%})")
    print(f"validation accuracy {out.validation.accuracy:.4f}; test accuracy {test.accuracy:.4f}, "
          f"macro-F1 {test.macro_f1:.4f}")
    _print_confusion(test.confusion, splits.label_names)
    if bundle_path and fit.best_epoch is None:
        save_checkpoint(bundle_path, out.bundle)
    if bundle_path:
        print(f"model bundle written to {bundle_path}")
    return 0 if fit.stop_reason in ("completed", "early_stopping", "stopped") else 1


def _bundle_path(out: Path, label: str) -> Path:
    """Where ``train --out`` writes: ``out`` itself, or ``out/<run name>.safetensors`` when ``out`` is
    a folder (or ends with a slash); checked for writing before training starts.

    Args:
        out: the ``--out`` argument.
        label: words for the run name, e.g. ``"GRU synthetic_negation"``.

    Returns:
        The bundle file to write.

    Raises:
        GateScopeError: the folder cannot be created or written to.
    """
    from .runs import new_run_name

    path = Path(out).expanduser()
    if path.is_dir() or str(out).endswith(("/", os.sep)):
        path = path / f"{new_run_name(label, root=path)}.safetensors"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path.parent):
            pass
    except OSError as error:
        reason = error.strerror or type(error).__name__
        where = error.filename or path.parent
        raise GateScopeError(f"cannot write the model bundle to {path} ({reason.lower()} at {where}); give --out "
                             "a writable file or folder") from None
    return path


def _print_confusion(confusion: list[list[int]], names: list[str]) -> None:
    width = max(8, *(len(n) for n in names))
    print("confusion (rows: true, columns: predicted)")
    print(" " * width + "".join(f"{n:>{width + 1}}" for n in names))
    for name, row in zip(names, confusion):
        print(f"{name:<{width}}" + "".join(f"{v:>{width + 1}}" for v in row))


def _load_model(name_or_path: str):
    """The bundle ``--model`` names: a shipped model (``bilstm``), ``run:<name>`` or a ``.safetensors`` file.

    Raises:
        ModelLookupError: no such file or model (the message lists the available names).
        CheckpointError: the bundle cannot be loaded.
    """
    from .registry import load_bundle_file, shared_registry

    return load_bundle_file(shared_registry().resolve_path(name_or_path))


def cmd_evaluate(args: argparse.Namespace) -> int:
    from .pipeline import encode_examples
    from .trainer import evaluate

    _set_threads(args.threads)
    bundle = _load_model(args.model)
    splits = _load_splits(args)
    if splits.label_names != bundle.label_names:
        raise GateScopeError(f"the model predicts {bundle.label_names} but the data has classes "
                             f"{splits.label_names}: evaluate on data with the same classes")
    examples = {"train": splits.train, "validation": splits.validation, "test": splits.test}[args.split]
    data = encode_examples(examples, Tokenizer(bundle.tokenizer_config), bundle.vocab, bundle.encoding)
    metrics = evaluate(bundle.model, data, padding=bundle.batch_padding)
    if args.json:
        print(json.dumps(metrics.to_dict(), indent=2))
        return 0
    print(f"{splits.name} {args.split} ({metrics.count:,} examples): accuracy {metrics.accuracy:.4f}, "
          f"macro-F1 {metrics.macro_f1:.4f}, loss {metrics.loss:.4f}")
    _print_confusion(metrics.confusion, bundle.label_names)
    return 0


def _read_texts(args: argparse.Namespace, verb: str) -> list[str]:
    """Texts from the arguments, then ``--input FILE`` (one per line), else standard input."""
    texts = list(args.texts)
    if args.input:
        raw = read_named_file(args.input, MAX_UPLOAD_BYTES, "--input").decode("utf-8", "replace")
        texts += [line.rstrip("\n") for line in raw.split("\n") if line.strip()]
    if not texts and not sys.stdin.isatty():
        texts = [line.rstrip("\n") for line in sys.stdin if line.strip()]
    if not texts:
        raise GateScopeError(f"nothing to {verb}: give texts as arguments, --input FILE or on standard input")
    return texts


NON_FINITE_WARNING = ("the model gave probabilities that are not numbers (NaN or infinity): its weights are "
                      "broken, e.g. by a diverged training run; retrain it with a lower learning rate")


def _flag_non_finite(rows: list[dict], warn_on_stderr: bool) -> list[dict]:
    """``rows`` with a ``warning`` on each whose probabilities are not finite numbers; with
    ``warn_on_stderr`` the warning is also printed once to standard error."""
    broken = [not all(math.isfinite(v) for v in row["probabilities"].values()) for row in rows]
    if any(broken) and warn_on_stderr:
        print(f"gatescope: warning: {NON_FINITE_WARNING} ({sum(broken)} of {len(rows)} texts)", file=sys.stderr)
    return [{**row, "warning": NON_FINITE_WARNING} if bad else row for row, bad in zip(rows, broken)]


def _print_json(rows: list[dict]) -> None:
    """Valid JSON on standard output: numbers that are not finite (NaN, infinity) become null."""
    from .runs import finite_json

    print(json.dumps(finite_json(rows), indent=2, allow_nan=False))


def cmd_predict(args: argparse.Namespace) -> int:
    from .predict import Predictor

    _set_threads(args.threads)
    texts = _read_texts(args, "predict")
    predictions = Predictor(_load_model(args.model)).predict(texts)
    rows = _flag_non_finite([{"text": p.text, "label": p.label, "probabilities": p.probabilities,
                              "truncated": p.truncated, "notes": p.notes} for p in predictions], not args.json)
    if args.json:
        _print_json(rows)
        return 0
    for p in predictions:
        probs = "  ".join(f"{k} {v:.3f}" for k, v in p.probabilities.items())
        print(f"{p.label:<10} {probs}  | {p.text[:80]}")
        for note in p.notes:
            print(f"           note: {note}")
    return 0


def explain_text(bundle, text: str, target: str | None = None, steps: int = 50, baseline: str = "pad") -> dict:
    """Prediction, integrated gradients and a per-gate summary of one text, as plain data.

    Uses ``explain.explain`` for the prediction and attributions and ``explain.gate_statistics``
    (over this one text) for the gates.

    Args:
        bundle: the model bundle.
        text: the text to explain.
        target: class name to attribute (default: the predicted class).
        steps: integration steps.
        baseline: ``pad``, ``unk`` or ``zero``.

    Returns:
        ``text``, ``label``, ``probabilities`` (class name to probability), ``tokens``, ``unknown``,
        ``truncated``, ``integrated_gradients`` (``target``, ``baseline``, ``output``, ``steps``,
        ``scores``, ``input_score``, ``baseline_score``, ``delta``), ``gates`` (``cell``,
        ``saturation_margin`` and per layer and direction, per gate or state: ``activation``,
        ``mean`` and ``saturated_share``) and ``notes``.

    Raises:
        GateScopeError: an unknown target class, or a text that cannot be explained (empty,
            only padding); ValueError: ``steps`` or ``baseline`` out of range.
    """
    from .explain import EXPLAIN_SPEC, check_explainable, explain, gate_statistics

    EXPLAIN_SPEC["n_steps"].validate("steps", steps)
    EXPLAIN_SPEC["baseline"].validate("baseline", baseline)
    names = list(bundle.label_names)
    if target is not None and target not in names:
        raise GateScopeError(f"unknown target class {target!r}; the model's classes are {', '.join(names)}")
    check = check_explainable(bundle, text)
    if not check.ok:
        raise GateScopeError(f"cannot explain {text!r}: {check.message}")
    result = explain(bundle, check.input, target=None if target is None else names.index(target),
                     baseline=baseline, n_steps=steps)
    ig, prediction = result.integrated_gradients, result.prediction
    stats = gate_statistics(bundle, [check.input])
    layers: dict[tuple[int, int], dict] = {}
    for h in stats.histograms:
        layer = layers.setdefault((h.layer, h.direction), {
            "name": h.name, "layer": h.layer, "direction": "backward" if h.direction else "forward", "gates": {}})
        layer["gates"][h.gate] = {"activation": h.activation, "mean": h.mean, "saturated_share": h.saturated_share}
    return {
        "text": text, "label": prediction.label_name,
        "probabilities": {name: float(p) for name, p in zip(names, prediction.probabilities)},
        "tokens": list(result.input.tokens), "unknown": [bool(u) for u in result.input.unknown],
        "truncated": result.input.truncated,
        "integrated_gradients": {"target": ig.target_name, "baseline": ig.baseline, "output": ig.output,
                                 "steps": ig.n_steps, "scores": [float(v) for v in ig.scores],
                                 "input_score": float(ig.input_score), "baseline_score": float(ig.baseline_score),
                                 "delta": float(ig.delta)},
        "gates": {"cell": bundle.model.config.cell, "saturation_margin": stats.saturation_margin,
                  "layers": [layers[key] for key in sorted(layers)]},
        "notes": list(result.notes),
    }


def _print_explanation(row: dict) -> None:
    ig, gates = row["integrated_gradients"], row["gates"]
    probs = ", ".join(f"{name} {p:.3f}" for name, p in row["probabilities"].items())
    print(f"text: {row['text']}")
    print(f"prediction: {row['label']} ({probs})")
    print(f"integrated gradients of P({ig['target']}), baseline {ig['baseline']}, {ig['steps']} steps:")
    width = max(5, *(len(t) for t in row["tokens"]))
    for token, unknown, score in zip(row["tokens"], row["unknown"], ig["scores"]):
        print(f"  {token:<{width}} {score:+.4f}{'  (unknown word)' if unknown else ''}")
    print(f"  sum {sum(ig['scores']):+.4f} = F(x) {ig['input_score']:.4f} - F(baseline) {ig['baseline_score']:.4f}"
          f" + convergence delta {ig['delta']:+.2e}")
    margin = gates["saturation_margin"]
    print(f"gates ({gates['cell'].upper()}; saturated: sigmoid < {margin:g} or > {1 - margin:g}, "
          f"|tanh| > {1 - margin:g}):")
    for layer in gates["layers"]:
        for gate, summary in layer["gates"].items():
            share = summary["saturated_share"]
            saturated = "-" if share is None else f"{share:.1%}"
            print(f"  {layer['name']:<17} {gate:<15} mean {summary['mean']:+.3f}  saturated {saturated:>6}")
    for note in row["notes"]:
        print(f"note: {note}")


def cmd_explain(args: argparse.Namespace) -> int:
    _set_threads(args.threads)
    texts = _read_texts(args, "explain")
    bundle = _load_model(args.model)
    rows = _flag_non_finite([explain_text(bundle, text, args.target, args.steps, args.baseline) for text in texts],
                            not args.json)
    if args.json:
        _print_json(rows)
        return 0
    for i, row in enumerate(rows):
        if i:
            print()
        _print_explanation(row)
    return 0


def cmd_pretrain(args: argparse.Namespace) -> int:
    from .pretrained import build_pretrained

    _set_threads(args.threads)
    results = build_pretrained(args.mirror, args.out_dir, only=args.only or None,
                               progress=lambda message: print(message, flush=True))
    for row in results:
        print(json.dumps(row))
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from .checkpoint import save_checkpoint
    from .importers import ImportOptions, import_model

    labels = [name.strip() for name in args.labels.split(",")] if args.labels else None
    options = ImportOptions(head_input=args.head_input, max_len=args.max_len, padding=args.padding,
                            truncation=args.truncation, labels=labels, packed=args.packed,
                            lowercase=args.lowercase, preset=args.preset, fixed_length=args.fixed_length,
                            unknown=args.unknown, stopwords=args.stopwords)
    imported = import_model(args.model_file, args.vocab, options)
    path = save_checkpoint(args.out, imported.bundle)
    for note in imported.notes:
        print(f"  {note}")
    print(f"model bundle written to {path}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from . import report, runs
    from .registry import load_bundle_file

    path = Path(args.source).expanduser()
    has_folder = "/" in args.source or os.sep in args.source
    if has_folder and path.is_dir():  # a run's folder, named by its path
        record = runs.load_run(path.name, path.parent)
    elif has_folder or path.suffix == ".safetensors" or path.is_file():
        record = None  # a bundle file
    else:
        record = runs.load_run(args.source)
    if record is None:
        bundle = load_bundle_file(path)  # a missing, foreign or damaged file: CheckpointError saying which
        name, config = path.stem, report.bundle_config(bundle)
        out = args.out or Path(f"{name}-report.html")
        out.write_text(report.bundle_report_html(bundle, path.name), encoding="utf-8")
    else:
        name, config = record.name, record.config
        out = report.write_report(record, args.out or Path(f"{name}-report.html"), with_slices=not args.no_slices)
    print(f"report written to {out}")
    if args.script:
        args.script.write_text(report.pytorch_script(config, name), encoding="utf-8")
        print(f"PyTorch script written to {args.script}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from .api import serve

    return serve(args.host, args.port, args.model, args.threads)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gatescope", description="GateScope: train, evaluate and explain "
                                     "RNN / LSTM / BiLSTM / GRU sentiment classifiers.")
    sub = parser.add_subparsers(dest="command", required=True)

    ds = sub.add_parser("datasets", help="list, show or fetch catalogue datasets",
                        description="List, describe or fetch the catalogue datasets.")
    ds.add_argument("action", choices=("list", "show", "fetch"))
    ds.add_argument("name", nargs="?", help="dataset name (for show and fetch)")
    ds.add_argument("--mirror", type=Path, help="local mirror folder (default: $GATESCOPE_DATA_MIRROR)")
    ds.add_argument("--cache-dir", type=Path, help="download cache folder")
    ds.set_defaults(func=cmd_datasets)

    tr = sub.add_parser("train", help="train a model", description="Train a model and optionally save its bundle.")
    _add_data_flags(tr)
    _add_spec_flags(tr, MODEL_SPEC, [n for n in MODEL_OPTION_FIELDS if n in MODEL_SPEC], "model")
    _add_spec_flags(tr, TRAIN_SPEC, list(TRAIN_SPEC), "training")
    _add_spec_flags(tr, ENCODING_SPEC, list(ENCODING_SPEC), "encoding")
    _add_spec_flags(tr, VOCAB_SPEC, list(VOCAB_SPEC), "vocabulary")
    tok = tr.add_argument_group("tokenizer")
    kind = TOKENIZER_SPEC["kind"]
    tok.add_argument("--tokenizer", choices=kind.choices, default=kind.default,
                     help=f"{kind.help} (default: {kind.default})")
    for name in ("lowercase", "strip_punctuation", "remove_stopwords"):
        spec = TOKENIZER_SPEC[name]
        tok.add_argument(_flag(name), dest=name, action=argparse.BooleanOptionalAction, default=spec.default,
                         help=f"{spec.help} (default: {spec.default})")
    tok.add_argument("--keep-negations", action=argparse.BooleanOptionalAction,
                     default=TokenizerConfig.keep_negations,
                     help="with --remove-stopwords, keep not/no/never/but ...")
    tr.add_argument("--out", type=Path, help="write the best model bundle here (.safetensors)")
    tr.add_argument("--threads", type=int, help="CPU threads for torch")
    tr.set_defaults(func=cmd_train)

    ev = sub.add_parser("evaluate", help="evaluate a saved model on a dataset",
                        description="Accuracy, macro-F1 and confusion matrix of a bundle on a dataset split.")
    ev.add_argument("--model", required=True, help=MODEL_HELP)
    _add_data_flags(ev)
    ev.add_argument("--split", choices=("train", "validation", "test"), default="test")
    ev.add_argument("--seed", type=int, default=0, help="split seed (use the training seed)")
    ev.add_argument("--json", action="store_true", help="print metrics as JSON")
    ev.add_argument("--threads", type=int, help="CPU threads for torch")
    ev.set_defaults(func=cmd_evaluate)

    pr = sub.add_parser("predict", help="predict the sentiment of texts",
                        description="Predict texts given as arguments, from --input FILE (one per line) or stdin.")
    pr.add_argument("--model", required=True, help=MODEL_HELP)
    pr.add_argument("texts", nargs="*", help="texts to classify")
    pr.add_argument("--input", type=Path, help="file with one text per line")
    pr.add_argument("--json", action="store_true", help="print JSON")
    pr.add_argument("--threads", type=int, help="CPU threads for torch")
    pr.set_defaults(func=cmd_predict)

    ex = sub.add_parser("explain", help="explain predictions: integrated gradients and gate activity",
                        description="For each text: the prediction, integrated-gradients attribution per token "
                        "(with its convergence delta) and, per layer and direction, each gate's mean activation "
                        "and share of saturated values.")
    ex.add_argument("--model", required=True, help=MODEL_HELP)
    ex.add_argument("texts", nargs="*", help="texts to explain")
    ex.add_argument("--input", type=Path, help="file with one text per line")
    ex.add_argument("--target", help="class to attribute (default: the predicted class)")
    steps = EXPLAIN_SPEC["n_steps"]
    ex.add_argument("--steps", type=int, default=steps.default,
                    help=f"integration steps [{steps.min}..{steps.max}] (default: {steps.default})")
    ex.add_argument("--baseline", choices=BASELINES, default="pad",
                    help="what each token is compared with: <pad>, <unk> or a zero embedding (default: pad)")
    ex.add_argument("--json", action="store_true", help="print JSON")
    ex.add_argument("--threads", type=int, help="CPU threads for torch")
    ex.set_defaults(func=cmd_explain)

    pt = sub.add_parser("pretrain", help="rebuild the shipped pretrained models from a dataset mirror",
                        description="Rebuild pretrained/ (RNN, LSTM, BiLSTM, GRU movie models and the airline "
                        "model) from a local dataset mirror. Deterministic; takes a while on CPU.")
    pt.add_argument("--mirror", type=Path, default=os.environ.get("GATESCOPE_DATA_MIRROR"),
                    help="dataset mirror folder (e.g. ../shared/datasets)")
    pt.add_argument("--out-dir", type=Path, default=Path(__file__).resolve().parents[1] / "pretrained",
                    help="where to write bundles and model cards")
    pt.add_argument("--only", nargs="*", help="build only these bundles")
    pt.add_argument("--threads", type=int, help="CPU threads for torch")
    pt.set_defaults(func=cmd_pretrain)

    im = sub.add_parser("import", help="import a model trained with a tutorial's own code",
                        description="Turn a PyTorch state_dict (.pt/.pth/.pkl, read with weights_only=True) or "
                        "Keras weights (.h5/.keras, read with h5py) plus the tutorial's vocabulary into a GateScope "
                        "bundle. Cell, layers, directions and sizes are read from the weights.")
    im.add_argument("model_file", type=Path, help="the weights file")
    im.add_argument("--vocab", type=Path, required=True,
                    help="word -> index JSON (index 0 = padding), a JSON list / text file of tokens in index "
                    "order (torchtext itos), or Keras tokenizer.to_json()")
    im.add_argument("--out", type=Path, required=True, help="the bundle to write (.safetensors)")
    im.add_argument("--head-input", choices=HEAD_INPUTS, default=None,
                    help="what the classifier reads: " + "; ".join(f"{k}: {v}" for k, v in HEAD_INPUT_HELP.items())
                    + " (default: what a Keras model.save file's description says; else mean with two linear "
                    "layers, else final)")
    im.add_argument("--max-len", type=int, default=ImportOptions.max_len, help="the tutorial's sequence length")
    im.add_argument("--preset", choices=tuple(TEXT_PRESETS), default=None,
                    help="how the tutorial read text: " + "; ".join(f"{k}: {v.title}" for k, v in TEXT_PRESETS.items())
                    + " (default: keras for a tokenizer.to_json() vocabulary, else whitespace)")
    im.add_argument("--padding", choices=SIDES, default=None,
                    help="where the tutorial put padding (default: the preset's; pre for most)")
    im.add_argument("--truncation", choices=SIDES, default=None,
                    help="which end long texts lose (default: the preset's, else post for PyTorch, pre for Keras)")
    im.add_argument("--fixed-length", action=argparse.BooleanOptionalAction, default=None,
                    help="the tutorial padded every text to --max-len (default: the preset's)")
    im.add_argument("--unknown", choices=UNKNOWN_POLICIES, default=None,
                    help="what a word the vocabulary lacks becomes: unk (its <unk>/<OOV> vector, or zeros), pad "
                    "(index 0, the padding vector), skip (left out); default: the preset's")
    im.add_argument("--stopwords", choices=STOPWORD_CHOICES, default=None,
                    help="the stopword list the tutorial removed (none: every word kept; default: the preset's)")
    im.add_argument("--labels", help="class names in output order, comma-separated (default: negative,positive)")
    im.add_argument("--packed", action=argparse.BooleanOptionalAction, default=False,
                    help="the tutorial packed its sequences (skipped padding); default: pads are read")
    im.add_argument("--lowercase", action=argparse.BooleanOptionalAction, default=None,
                    help="the tutorial lowercased its text (default: the preset's, yes but for a Keras lower=False)")
    im.set_defaults(func=cmd_import)

    rp = sub.add_parser("report", help="write a run's or a bundle's standalone HTML report (and its PyTorch script)",
                        description="Curves, metrics, confusion matrix, accuracy per slice of the test split and "
                        "the model card in one HTML file that opens offline. A .safetensors bundle (train --out) "
                        "gets what it carries: no slices, since a bundle does not keep its test split.")
    rp.add_argument("source", metavar="RUN_OR_BUNDLE",
                    help="a run's name (a folder of $GATESCOPE_RUNS_DIR), a run's folder, or a .safetensors bundle")
    rp.add_argument("--out", type=Path, help="the HTML file (default: <run or bundle name>-report.html)")
    rp.add_argument("--no-slices", action="store_true", help="skip the slices (no prediction over the test split)")
    rp.add_argument("--script", type=Path, help="also write a self-contained PyTorch script that retrains it")
    rp.set_defaults(func=cmd_report)

    sv = sub.add_parser("serve", help="run the REST API", description="Serve POST /predict, POST /explain, "
                        "GET /models and GET /health (OpenAPI docs at /docs) with uvicorn.")
    sv.add_argument("--host", default="127.0.0.1", help="interface (default: 127.0.0.1; 0.0.0.0 for all)")
    sv.add_argument("--port", type=int, default=8000, help="TCP port (default: 8000)")
    sv.add_argument("--model", help="default model: a shipped name or run:<run name> (see GET /models)")
    sv.add_argument("--threads", type=int, help="requests evaluated at once, one CPU thread each (default: 2)")
    sv.set_defaults(func=cmd_serve)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code. Errors a user can fix print one line, no traceback."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (GateScopeError, ValueError) as error:
        print(f"gatescope: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # a file that cannot be read or written: its name and the system's reason
        from .runs import fault_message

        print(f"gatescope: error: {fault_message(error, 'use')}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("gatescope: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
