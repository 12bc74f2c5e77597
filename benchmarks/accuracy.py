"""Accuracy benchmark (run by hand): every architecture on every available dataset with
one fixed training budget; writes ``benchmarks/results/accuracy.md`` and ``accuracy.csv``.

    python benchmarks/accuracy.py --mirror ../shared/datasets [--epochs 3] [--max-train 20000]

Budget (the same for every cell): GloVe 6B 50d fine-tuned, hidden 64, max pooling,
max_len 200 keeping the end, Adam 1e-3, batch 64, ``--epochs`` epochs (best validation
loss kept), at most ``--max-train`` training examples (stratified, seeded subsample).
Each model is trained on one dataset and tested on that dataset's test split (official
where there is one: IMDb test, SST-2 dev; otherwise a stratified 10% split, seed 0).
"""
from __future__ import annotations

import argparse
import csv
import platform
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sentiment_core.data.loaders import load_dataset  # noqa: E402
from sentiment_core.data.splits import make_splits, subsample  # noqa: E402
from sentiment_core.data.types import DatasetSplits  # noqa: E402
from sentiment_core.encoding import EncodingConfig  # noqa: E402
from sentiment_core.pipeline import VocabConfig, train_on_splits  # noqa: E402
from sentiment_core.text import TokenizerConfig  # noqa: E402
from sentiment_core.trainer import TrainConfig  # noqa: E402

ARCHS = {
    "rnn": {"cell": "rnn", "bidirectional": False},
    "lstm": {"cell": "lstm", "bidirectional": False},
    "bilstm": {"cell": "lstm", "bidirectional": True},
    "gru": {"cell": "gru", "bidirectional": False},
}
DATASETS = ["imdb", "sst2", "rt_polarity", "airline_tweets", "uci_sentences"]
RESULTS = Path(__file__).resolve().parent / "results"
FIELDS = ["dataset", "arch", "train", "test", "accuracy", "macro_f1", "best_epoch", "epochs_run", "seconds"]


def run(mirror: str, archs: list[str], datasets: list[str], epochs: int, max_train: int, out: Path,
        hidden: int = 64, max_len: int = 200, resume: bool = False) -> list[dict]:
    torch.set_num_threads(1)  # the results were measured with one thread on a shared 2-core machine
    rows: list[dict] = []
    if resume and (out / "accuracy.csv").exists():  # keep finished cells, run only the missing ones
        with open(out / "accuracy.csv", newline="", encoding="utf-8") as handle:
            rows = [{k: (v if k in ("dataset", "arch") else float(v) if "." in v else int(v) if v else None)
                     for k, v in r.items()} for r in csv.DictReader(handle)]
    done = {(r["dataset"], r["arch"]) for r in rows}
    for name in datasets:
        if all((name, arch) in done for arch in archs):
            continue
        try:
            ds = load_dataset(name, mirror=mirror)
        except Exception as error:  # a dataset missing from the mirror is skipped, not fatal
            print(f"skip {name}: {error}", flush=True)
            continue
        splits = make_splits(ds, val_fraction=0.1, test_fraction=0.1, seed=0)
        splits = DatasetSplits(splits.name, splits.label_names, subsample(splits.train, max_train, seed=0),
                               subsample(splits.validation, max(500, max_train // 10), seed=0), splits.test,
                               splits.fingerprint, splits.notes)
        tokenizer = TokenizerConfig(kind="tweet" if name == "airline_tweets" else "nltk")
        for arch in archs:
            if (name, arch) in done:
                continue
            model = {**ARCHS[arch], "hidden_dim": hidden, "pooling": "max", "embeddings": "glove",
                     "embedding_dropout": 0.25, "head_dropout": 0.3}
            train = TrainConfig(epochs=epochs, batch_size=64, lr=1e-3, patience=0, seed=0, device="cpu")
            encoding = EncodingConfig(max_len=max_len, truncation="pre")
            start = time.perf_counter()
            outcome = train_on_splits(splits, model, train, tokenizer, VocabConfig(min_freq=2, max_size=30000),
                                      encoding)
            row = {"dataset": name, "arch": arch, "train": len(splits.train), "test": len(splits.test),
                   "accuracy": round(outcome.test.accuracy, 4), "macro_f1": round(outcome.test.macro_f1, 4),
                   "best_epoch": outcome.fit.best_epoch, "epochs_run": len(outcome.fit.history),
                   "seconds": round(time.perf_counter() - start, 1)}
            rows.append(row)
            print(row, flush=True)
            write(rows, out, epochs, max_train, hidden, max_len)
    if rows:
        write(rows, out, epochs, max_train, hidden, max_len)
    return rows


def write(rows: list[dict], out: Path, epochs: int, max_train: int, hidden: int, max_len: int) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "accuracy.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    datasets = list(dict.fromkeys(r["dataset"] for r in rows))
    archs = list(dict.fromkeys(r["arch"] for r in rows))
    cell = {(r["dataset"], r["arch"]): r for r in rows}
    lines = ["# Accuracy benchmark", "",
             f"One fixed budget for every cell: GloVe 6B 50d fine-tuned, hidden {hidden}, max pooling, "
             f"max_len {max_len} (keep the end), Adam 1e-3, batch 64, {epochs} epochs (best validation loss kept), "
             f"at most {max_train:,} training examples. Test accuracy (macro-F1) on each dataset's test split.",
             f"Hardware: 2 CPU cores shared with other jobs, 1 torch thread, torch {torch.__version__} CPU, Python {platform.python_version()}.", "",
             "| dataset | train | test | " + " | ".join(archs) + " |", "|---|---|---|" + "---|" * len(archs)]
    for d in datasets:
        first = next(r for r in rows if r["dataset"] == d)
        cells = [f"{cell[(d, a)]['accuracy']:.2%} ({cell[(d, a)]['macro_f1']:.3f}, {cell[(d, a)]['seconds']:.0f}s)"
                 if (d, a) in cell else "–" for a in archs]
        lines.append(f"| {d} | {first['train']:,} | {first['test']:,} | " + " | ".join(cells) + " |")
    lines += ["", "Cells: accuracy (macro-F1, training + evaluation seconds). Raw numbers: `accuracy.csv`.",
              "The budget is deliberately small (it has to fit a shared 2-core CPU for 20 runs): it compares "
              "architectures under equal conditions, it is not the best each can do. The shipped models in "
              "`pretrained/` train on far more data (see `pretrained/README.md`).",
              "Reproduce: `python benchmarks/accuracy.py --mirror ../shared/datasets " +
              f"--epochs {epochs} --max-train {max_train} --hidden {hidden} --max-len {max_len}`.", ""]
    (out / "accuracy.md").write_text("\n".join(lines), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mirror", required=True)
    parser.add_argument("--archs", nargs="+", default=list(ARCHS), choices=list(ARCHS))
    parser.add_argument("--datasets", nargs="+", default=DATASETS)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--max-train", type=int, default=20000)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--max-len", type=int, default=200)
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument("--resume", action="store_true", help="keep the cells already in accuracy.csv")
    args = parser.parse_args(argv)
    run(args.mirror, args.archs, args.datasets, args.epochs, args.max_train, Path(args.out), args.hidden,
        args.max_len, args.resume)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
