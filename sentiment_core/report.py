"""Exports of a run: a standalone HTML report (curves, metrics, confusion matrix, slices, model
card) that opens offline, and a self-contained PyTorch script that retrains the configuration
without GateScope. A model bundle (``train --out``) gets the same report, less what only a run
folder holds."""
from __future__ import annotations

import html
import re
import time
from pathlib import Path

from . import plots

_CSS = """
body { font-family: Inter, 'Helvetica Neue', Arial, sans-serif; margin: 2rem auto; max-width: 1100px; color: #1F2933; }
h1 { margin-bottom: .2rem; } h2 { margin-top: 2rem; border-bottom: 1px solid #D9E2EC; padding-bottom: .3rem; }
h3 { margin: 1.2rem 0 .2rem; font-size: 1.05rem; }
table { border-collapse: collapse; margin: .5rem 0; } td, th { border: 1px solid #D9E2EC; padding: 4px 10px; text-align: left; }
th { background: #F8FAFC; } .muted { color: #52606D; } pre { background: #F8FAFC; padding: 1rem; overflow-x: auto; }
"""

# table columns and card keys ending so hold an accuracy or a share of 0..1: shown as percentages
PERCENT_ENDINGS = ("acc", "accuracy", "share")
# the card's groups in order, with their titles (the run's config.json keys)
CARD_GROUPS = {"data": "Data", "model": "Model", "train": "Training", "encoding": "Encoding",
               "vocab": "Vocabulary", "tokenizer": "Tokenizer"}
# names for data fields that have no spec (an upload's, the fingerprint)
DATA_FIELD_NAMES = {"sha": "File hash", "text_column": "Text column", "label_column": "Label column",
                    "threshold": "Score threshold", "fingerprint": "Data fingerprint"}
MAX_CARD_DEPTH = 4  # a bundle's free-form card is drawn this many lists deep, then as text


def percent(value) -> str:
    """An accuracy or share of 0..1 as a percentage with one decimal (``0.917`` -> ``91.7%``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return _fmt(value)
    return f"{value:.1%}"


def _fmt(value) -> str:
    """A table cell or card value as text: numbers short, lists joined, yes/no for flags."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(_fmt(v) for v in value)
    return "" if value is None else str(value)


def _cell(key, value) -> str:
    """``value`` as text, a percentage when ``key`` names an accuracy or a share."""
    return percent(value) if str(key).lower().replace("_", " ").endswith(PERCENT_ENDINGS) else _fmt(value)


def _table(rows: list[dict]) -> str:
    """Rows of one kind as an HTML table (every key and value escaped)."""
    if not rows:
        return "<p class='muted'>Nothing to show.</p>"
    head = "".join(f"<th>{html.escape(str(k))}</th>" for k in rows[0])
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_cell(k, v))}</td>" for k, v in row.items()) + "</tr>"
                   for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _data_fields(data: dict) -> list[str]:
    """The data settings that apply to this dataset (a synthetic set's size and noise, an upload's
    columns), in order: those that change what is loaded (``selection.dataset_key``)."""
    from .data.selection import dataset_key

    return [key for key, _ in dataset_key(data) if key != "name"] + ["fingerprint"]


def _settings_rows(group: str, values: dict) -> dict[str, str]:
    """One settings group as ``{readable name: value}``; empty values and, for data, the fields
    that do not apply to this dataset are left out."""
    from .data.selection import data_label
    from .settings import specs

    spec = specs().get(group, {})
    keys = list(values)
    rows = {}
    if group == "data":
        keys = [k for k in _data_fields(values) if k in values]
        rows["Dataset"] = str(values.get("label") or data_label(values))
    for key in keys:
        value = values[key]
        if value is None or value == "" or isinstance(value, dict):
            continue
        name = spec[key].label if key in spec and spec[key].label else DATA_FIELD_NAMES.get(key, key.replace("_", " "))
        rows[name] = _fmt(value)
    return rows


def _readable(value, depth: int = 0) -> str:
    """Free-form card data (a bundle's own card) as nested lists, escaped; accuracies as percentages.
    Lists of short words are joined on one line; lists of sentences or objects get one item each."""
    if not (isinstance(value, dict) or isinstance(value, list) and any(
            isinstance(v, (dict, list)) or isinstance(v, str) and (", " in v or len(v) > 40) for v in value)):
        return html.escape(_fmt(value))
    if depth >= MAX_CARD_DEPTH:
        return "… (nested deeper; left out)"
    if isinstance(value, list):
        return "<ul>" + "".join(f"<li>{_readable(v, depth + 1)}</li>" for v in value) + "</ul>"
    items = "".join(f"<li><b>{html.escape(str(k).replace('_', ' '))}</b>: "
                    + (_readable(v, depth + 1) if isinstance(v, (dict, list)) else html.escape(_cell(k, v)))
                    + "</li>" for k, v in value.items())
    return f"<ul>{items}</ul>" if items else ""


def _card(config: dict, extra: dict | None = None) -> str:
    """The model card: classes and split sizes, then one table per settings group (and a bundle's own card)."""
    head = {"Model": _fmt(config.get("display_name")), "Classes": _fmt(config.get("label_names") or [])}
    sizes = config.get("sizes") or {}
    if isinstance(sizes, dict) and sizes:
        head["Examples"] = ", ".join(f"{k} {_fmt(v)}" for k, v in sizes.items())
    parts = ["<h2>Model card</h2>", _pairs(head)]
    for group, title in CARD_GROUPS.items():
        values = config.get(group)
        if isinstance(values, dict) and values:
            parts += [f"<h3>{title}</h3>", _pairs(_settings_rows(group, values))]
    if extra:
        parts += ["<h3>More from the bundle's card</h3>", _readable(extra)]
    return "\n".join(parts)


def _pairs(rows: dict[str, str]) -> str:
    """``{name: value}`` as a two-column table (names as row headers), escaped."""
    body = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows.items())
    return f"<table><tbody>{body}</tbody></table>"


def _document(title: str, byline: str, notes: list[str], metrics: dict, figures: list, after: str, card: str) -> str:
    """The report's HTML: title, notes, metrics, figures (Plotly inlined once), ``after`` them, the card."""
    parts = [f"<h1>{html.escape(title)}</h1>",
             f"<p class='muted'>{html.escape(byline)} · report written {time.strftime('%Y-%m-%d %H:%M')}</p>",
             *(f"<p class='muted'>{html.escape(note)}</p>" for note in notes if note),
             "<h2>Metrics</h2>", _table([metrics])]
    for i, (heading, fig) in enumerate(figures):
        parts.append(f"<h2>{html.escape(heading)}</h2>")
        parts.append(fig.to_html(full_html=False, include_plotlyjs="inline" if i == 0 else False,
                                 config=plots.CHART_CONFIG))
    parts += [after, card]
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>"
            + "\n".join(parts) + "</body></html>")


def run_report_html(record, slices: list | None = None, note: str = "") -> str:
    """The standalone HTML report of a run (Plotly's JavaScript inlined: it opens without a network).

    Args:
        record: a ``runs.RunRecord``.
        slices: ``dataset_view.SliceAccuracy`` rows on the run's test split (None: left out).
        note: a remark shown under the title (e.g. why the slices are missing).

    Returns:
        The whole HTML document.
    """
    result = record.result or {}
    config = record.config
    figures = [("Training curves", plots.training_curves(record.epochs()))]
    confusion = (result.get("test") or {}).get("confusion")
    if confusion:
        figures.append(("Confusion matrix (test split)", plots.confusion_matrix(confusion, config.get("label_names", []))))
    after = ""
    if slices:
        figures.append(("Accuracy per slice (test split, 95 % Wilson intervals)",
                        plots.slice_accuracy_bars(slices, names=[record.display_name])))
        after = _table([{"slice": s.slice, "examples": s.count, "accuracy": s.accuracy,
                         "95 % interval": f"{percent(s.low)} – {percent(s.high)}"} for s in slices])
    data = config.get("data", {})
    byline = " · ".join([record.display_name, record.state, str(data.get("label") or data.get("name", ""))]
                        + ([f"trained on {record.device}"] if record.device else []))
    return _document(f"GateScope run {record.name}", byline, [note], record.summary(), figures, after, _card(config))


def bundle_config(bundle) -> dict:
    """A bundle's settings in the shape of a run's ``config.json`` (what the card and the script read).

    Args:
        bundle: a ``checkpoint.Bundle``.

    Returns:
        ``display_name``, ``label_names``, ``sizes``, ``data``, ``model``, ``train``, ``encoding``,
        ``vocab`` and ``tokenizer``.
    """
    train = dict(bundle.train_config)
    vocab = train.pop("vocab", None)
    dataset = bundle.dataset if isinstance(bundle.dataset, dict) else {}
    model = {k: v for k, v in bundle.model_config.to_dict().items()
             if k not in ("vocab_size", "num_classes", "pad_idx")}  # as in a run's config.json
    return {"display_name": bundle.model_config.display_name, "label_names": list(bundle.label_names),
            "sizes": {k: dataset[k] for k in ("train", "validation", "test") if k in dataset},
            "data": {**{k: dataset[k] for k in ("name", "fingerprint") if k in dataset},
                     "label": str(dataset.get("name") or "")},
            "model": model, "train": train, "encoding": bundle.encoding.to_dict(),
            "vocab": vocab if isinstance(vocab, dict) else {}, "tokenizer": bundle.tokenizer_config.to_dict()}


def bundle_report_html(bundle, name: str) -> str:
    """The standalone HTML report of a model bundle: what it carries (metrics, its training history's
    curves, the test confusion matrix, settings, its own card), and in words what it cannot show.

    Args:
        bundle: a loaded ``checkpoint.Bundle`` (its description may come from any file: it is checked
            here before it is drawn).
        name: the bundle's file name, for the title.

    Returns:
        The whole HTML document.
    """
    from .runs import _result_problem, _row_problem

    config = bundle_config(bundle)
    metrics = bundle.metrics if isinstance(bundle.metrics, dict) else {}
    notes = [f"Read from the model bundle {name}, not from a run folder. A bundle does not keep its test split, "
             "so this report has no accuracy per slice: open the bundle on the Dataset page with a labelled file "
             "for those, or score it with `gatescope evaluate --model FILE`."]
    problem = _result_problem(metrics)
    if problem:
        notes.append(f"The bundle's metrics are damaged ({problem.replace('result.json', 'metrics')}); "
                     "they are left out.")
        metrics = {}
    history = bundle.history if isinstance(bundle.history, list) else []
    epochs = [row for row in history if _row_problem(row) is None and isinstance(row.get("epoch"), int)]
    if len(epochs) < len(history):
        notes.append(f"{len(history) - len(epochs)} of the {len(history)} epochs in the bundle's history are "
                     "damaged and left out of the curves.")
    figures = []
    if epochs:
        figures.append(("Training curves", plots.training_curves(epochs)))
    else:
        notes.append("The bundle carries no training history (e.g. an imported model), so there are no curves.")
    confusion = (metrics.get("test") or {}).get("confusion")
    if confusion and len(confusion) == len(bundle.label_names):
        figures.append(("Confusion matrix (test split)", plots.confusion_matrix(confusion, bundle.label_names)))
    else:
        notes.append("The bundle carries no test confusion matrix.")
    row = {"model": config["display_name"], "dataset": config["data"].get("name", ""), "epochs": len(epochs),
           "best epoch": metrics.get("best_epoch"), "val acc": metrics.get("val_accuracy"),
           "test acc": metrics.get("test_accuracy"), "test macro-F1": metrics.get("test_macro_f1"),
           "params": metrics.get("params") or sum(p.numel() for p in bundle.model.parameters()),
           "vocabulary": len(bundle.vocab),
           "seconds": metrics.get("seconds"), "device": metrics.get("device"),
           "stopped": metrics.get("stop_message")}
    byline = " · ".join(str(x) for x in (config["display_name"], config["data"].get("name"), metrics.get("device"))
                        if x)
    card = bundle.card if isinstance(bundle.card, dict) else {}
    return _document(f"GateScope model {name}", byline, notes, row, figures, "", _card(config, card))


def run_slices(record, root=None) -> list:
    """Per-slice accuracy of a run's best checkpoint on its own test split.

    Raises:
        DataError: the test split cannot be rebuilt (an uploaded file).
        CheckpointError: the run has no usable checkpoint.
    """
    from . import dataset_view as dv
    from .registry import RUN_PREFIX, ModelRegistry

    labelled = dv.run_test_set(record.config, record.name)
    bundle = ModelRegistry(runs_root=root or record.path.parent).load(RUN_PREFIX + record.name).bundle
    return dv.slice_accuracy(dv.predict_dataset(bundle, labelled.texts, labelled.for_model(bundle.label_names)))


def write_report(record, out: str | Path, with_slices: bool = True) -> Path:
    """Write ``run_report_html`` to ``out``; slices that cannot be computed are left out with a note."""
    from .errors import GateScopeError

    slices, note = None, ""
    if with_slices and record.best_path is not None:
        try:
            slices = run_slices(record)
        except GateScopeError as error:
            note = f"No slices: {error}."
    out = Path(out)
    out.write_text(run_report_html(record, slices, note), encoding="utf-8")
    return out


_SCRIPT = r'''#!/usr/bin/env python3
"""Retrain a GateScope run's configuration with PyTorch alone (no GateScope).

    python this_script.py data.tsv --predict "not bad at all" --out model.pt

data.tsv: one example per line, ``text<TAB>label`` (or a CSV with ``text`` and ``label`` columns);
labels are class names (``LABELS`` below) or their indices. ``RUN`` names the run it was exported from.

What differs from GateScope: tokens come from a regular expression close to GateScope's NLTK
tokenizer; pretrained word vectors (GloVe, files) are not bundled, so embeddings start random;
the split is a seeded shuffle, not GateScope's stratified, duplicate-aware one.
"""
import argparse
import collections
import csv
import random
import re

import torch
from torch import nn

# Every value below is a Python literal written by GateScope (repr), never code.
RUN = __RUN__
TITLE = __TITLE__
MODEL = __MODEL__
TRAIN = __TRAIN__
ENCODING = __ENCODING__
VOCAB = __VOCAB__
LOWERCASE = __LOWERCASE__
LABELS = __LABELS__
SHARES = __SHARES__
PAD, UNK = 0, 1
TOKEN = re.compile(r"[A-Za-z0-9]+(?:'[A-Za-z]+)?|n't|[^\sA-Za-z0-9]")


def tokenize(text):
    return TOKEN.findall(text.lower() if LOWERCASE else text)


def read_examples(path):
    with open(path, encoding="utf-8", newline="") as handle:
        sample = handle.read(4096)
        handle.seek(0)
        first = sample.splitlines()[0] if sample else ""
        if path.endswith(".csv") or ("," in first and "\t" not in sample):
            rows = [(r["text"], r["label"]) for r in csv.DictReader(handle)]
        else:
            rows = [tuple(line.rstrip("\n").split("\t", 1)) for line in handle if "\t" in line]
    texts, labels = [], []
    for text, label in rows:
        label = label.strip()
        texts.append(text)
        labels.append(LABELS.index(label) if label in LABELS else int(label))
    return texts, labels


def build_vocab(texts):
    counts = collections.Counter(t for text in texts for t in tokenize(text))
    kept = [w for w, c in sorted(counts.items(), key=lambda x: (-x[1], x[0])) if c >= VOCAB["min_freq"]]
    itos = ["<pad>", "<unk>"] + kept[:max(0, VOCAB["max_size"] - 2)]
    return {w: i for i, w in enumerate(itos)}


def encode(text, stoi):
    ids = [stoi.get(t, UNK) for t in tokenize(text)] or [UNK]
    if len(ids) > ENCODING["max_len"]:  # 'post' keeps the beginning, 'pre' the end
        ids = ids[:ENCODING["max_len"]] if ENCODING["truncation"] == "post" else ids[-ENCODING["max_len"]:]
    return ids


class Classifier(nn.Module):
    """Embedding -> recurrent layers -> pooling -> dropout -> classifier."""

    def __init__(self, vocab_size):
        super().__init__()
        m = MODEL
        self.embedding = nn.Embedding(vocab_size, m["emb_dim"], padding_idx=PAD)
        self.embedding.weight.requires_grad_(not m["freeze_embeddings"])
        self.embedding_dropout = nn.Dropout(m["embedding_dropout"])
        rnn = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[m["cell"]]
        self.rnn = rnn(m["emb_dim"], m["hidden_dim"], m["num_layers"], batch_first=True,
                       bidirectional=m["bidirectional"], dropout=m["layer_dropout"] if m["num_layers"] > 1 else 0.0)
        width = m["hidden_dim"] * (2 if m["bidirectional"] else 1)
        if m["pooling"] == "attention":
            self.attention = nn.Sequential(nn.Linear(width, width), nn.Tanh(), nn.Linear(width, 1, bias=False))
        self.head_dropout = nn.Dropout(m["head_dropout"])
        if m["head"] == "mlp":
            self.fc1 = nn.Linear(width, m["head_hidden"])
        outputs = 1 if m["output"] == "sigmoid" else len(LABELS)
        self.classifier = nn.Linear(m["head_hidden"] if m["head"] == "mlp" else width, outputs)

    def forward(self, ids, lengths):
        m = MODEL
        embedded = self.embedding_dropout(self.embedding(ids))  # (B, T, E)
        if m["packed"]:
            packed = nn.utils.rnn.pack_padded_sequence(embedded, lengths, batch_first=True, enforce_sorted=False)
            out, state = self.rnn(packed)
            out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=ids.shape[1])
            mask = torch.arange(ids.shape[1]).unsqueeze(0) < lengths.unsqueeze(1)  # (B, T)
        else:
            out, state = self.rnn(embedded)
            mask = torch.ones_like(ids, dtype=torch.bool)
        h_n = state[0] if isinstance(state, tuple) else state  # (L*D, B, H)
        if m["head"] == "per_step":
            last = (mask.sum(1) - 1).clamp(min=0)
            pooled = out[torch.arange(out.shape[0]), last]
        elif m["pooling"] == "last":
            pooled = torch.cat([h_n[-2], h_n[-1]], 1) if m["bidirectional"] else h_n[-1]
        elif m["pooling"] == "mean":
            maskf = mask.unsqueeze(-1).float()
            pooled = (out * maskf).sum(1) / maskf.sum(1).clamp(min=1.0)
        elif m["pooling"] == "max":
            pooled = out.masked_fill(~mask.unsqueeze(-1), float("-inf")).max(1).values
        else:
            weights = torch.softmax(self.attention(out).squeeze(-1).masked_fill(~mask, float("-inf")), 1)  # (B, T)
            pooled = torch.bmm(weights.unsqueeze(1), out).squeeze(1)
        hidden = self.head_dropout(pooled)
        if m["head"] == "mlp":
            hidden = torch.relu(self.fc1(hidden))
        logits = self.classifier(hidden)
        return torch.cat([torch.zeros_like(logits), logits], 1) if m["output"] == "sigmoid" else logits


def batches(data, size, shuffle, rng):
    order = list(range(len(data)))
    if shuffle:
        rng.shuffle(order)
    for start in range(0, len(order), size):
        chunk = [data[i] for i in order[start:start + size]]
        lengths = torch.tensor([len(ids) for ids, _ in chunk])
        ids = torch.zeros(len(chunk), int(lengths.max()), dtype=torch.long)
        for row, (seq, _) in enumerate(chunk):
            ids[row, :len(seq)] = torch.tensor(seq)
        yield ids, lengths, torch.tensor([y for _, y in chunk])


def evaluate(model, data):
    model.eval()
    correct, loss, n = 0, 0.0, 0
    with torch.no_grad():
        for ids, lengths, labels in batches(data, 256, False, None):
            logits = model(ids, lengths)
            loss += nn.functional.cross_entropy(logits, labels, reduction="sum").item()
            correct += (logits.argmax(1) == labels).sum().item()
            n += len(labels)
    return loss / max(1, n), correct / max(1, n)


def main():
    # argparse %-formats a text that names %(prog): name it, and double every % of the names
    parser = argparse.ArgumentParser(description="%(prog)s: " + TITLE.replace("%", "%%"),
                                     epilog="%(prog)s was exported from GateScope run " + RUN.replace("%", "%%"))
    parser.add_argument("data", help="text<TAB>label file, or a CSV with text and label columns")
    parser.add_argument("--predict", nargs="*", default=[], help="texts to classify after training")
    parser.add_argument("--out", help="save the trained weights and vocabulary here (torch.save)")
    parser.add_argument("--epochs", type=int, default=TRAIN["epochs"])
    args = parser.parse_args()
    random.seed(TRAIN["seed"])
    torch.manual_seed(TRAIN["seed"])
    texts, labels = read_examples(args.data)
    order = list(range(len(texts)))
    random.Random(TRAIN["seed"]).shuffle(order)
    n_val = max(1, int(len(order) * SHARES["val_share"]))
    n_test = int(len(order) * SHARES["test_share"])
    parts = {"validation": order[:n_val], "test": order[n_val:n_val + n_test], "train": order[n_val + n_test:]}
    stoi = build_vocab([texts[i] for i in parts["train"]])
    data = {k: [(encode(texts[i], stoi), labels[i]) for i in v] for k, v in parts.items()}
    model = Classifier(len(stoi))
    params = [p for p in model.parameters() if p.requires_grad]
    if TRAIN["optimizer"] == "sgd":
        optimizer = torch.optim.SGD(params, lr=TRAIN["lr"], momentum=0.9, weight_decay=TRAIN["weight_decay"])
    else:
        kind = torch.optim.AdamW if TRAIN["optimizer"] == "adamw" else torch.optim.Adam
        optimizer = kind(params, lr=TRAIN["lr"], weight_decay=TRAIN["weight_decay"])
    rng = random.Random(TRAIN["seed"])
    best, best_loss, waited = None, float("inf"), 0
    for epoch in range(1, args.epochs + 1):
        model.train()
        for ids, lengths, y in batches(data["train"], TRAIN["batch_size"], True, rng):
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(ids, lengths), y)
            loss.backward()
            if TRAIN["clip_norm"]:
                nn.utils.clip_grad_norm_(params, TRAIN["clip_norm"])
            optimizer.step()
        val_loss, val_acc = evaluate(model, data["validation"])
        print(f"epoch {epoch}: train loss {loss.item():.4f}, validation loss {val_loss:.4f}, accuracy {val_acc:.4f}")
        if val_loss < best_loss:
            best, best_loss, waited = {k: v.clone() for k, v in model.state_dict().items()}, val_loss, 0
        else:
            waited += 1
            if TRAIN["patience"] and waited >= TRAIN["patience"]:
                print("early stopping")
                break
    model.load_state_dict(best)
    if data["test"]:
        print(f"test accuracy {evaluate(model, data['test'])[1]:.4f}")
    if args.out:
        torch.save({"state_dict": model.state_dict(), "vocab": stoi, "labels": LABELS}, args.out)
    model.eval()
    with torch.no_grad():
        for text in args.predict:
            ids = torch.tensor([encode(text, stoi)])
            probs = torch.softmax(model(ids, torch.tensor([ids.shape[1]])), 1)[0]
            best_class = int(probs.argmax())
            print(f"predict\t{LABELS[best_class]}\t{probs[best_class].item():.4f}\t{text}")


if __name__ == "__main__":
    main()
'''


def pytorch_script(config: dict, run_name: str = "run") -> str:
    """A self-contained Python file that rebuilds and retrains a run's configuration with PyTorch alone.

    Args:
        config: the run's ``config.json`` (model, train, encoding, vocab, tokenizer, label names).
        run_name: named in the script's docstring.

    Returns:
        The script's source.
    """
    from .models import ModelConfig

    labels = [str(x) for x in config.get("label_names") or ["negative", "positive"]]
    model = ModelConfig(vocab_size=2, num_classes=len(labels), **dict(config.get("model") or {})).to_dict()
    model = {k: v for k, v in model.items() if k not in ("vocab_size", "num_classes", "pad_idx", "vectors")}
    train = {k: config.get("train", {}).get(k, v) for k, v in
             {"epochs": 5, "batch_size": 64, "lr": 1e-3, "optimizer": "adam", "weight_decay": 0.0, "clip_norm": 5.0,
              "patience": 3, "seed": 0}.items()}
    encoding = {k: config.get("encoding", {}).get(k, v) for k, v in {"max_len": 200, "truncation": "post"}.items()}
    vocab = {k: config.get("vocab", {}).get(k, v) for k, v in {"min_freq": 2, "max_size": 20000}.items()}
    data = config.get("data") or {}
    shares = {"val_share": float(data.get("val_share", 0.1)), "test_share": float(data.get("test_share", 0.1))}
    title = f"Retrain {config.get('display_name') or model['cell'].upper()} ({', '.join(labels)}) with PyTorch."
    # user text (labels, names) enters only as repr() literals, in one pass: it never becomes code
    values = {"RUN": run_name, "TITLE": title, "MODEL": model, "TRAIN": train, "ENCODING": encoding,
              "VOCAB": vocab, "LOWERCASE": bool(config.get("tokenizer", {}).get("lowercase", True)),
              "LABELS": labels, "SHARES": shares}
    return re.sub(r"\b__([A-Z]+)__\b", lambda match: repr(values[match.group(1)]), _SCRIPT)
