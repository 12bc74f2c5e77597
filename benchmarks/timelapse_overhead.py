"""Training time with and without the time-lapse recorder, side by side in one process.

Run by hand (not in CI):  python benchmarks/timelapse_overhead.py [--repeats 3] [--epochs 3] [--threads 1]

On the airline tweets (offline copy, all three classes) with the app's default model and training
settings (``settings.defaults()``: LSTM, embeddings 32, hidden 32, batch 32, lr 3e-3, max length 60,
vocabulary 5,000) it trains the same model ``--repeats`` times without and ``--repeats`` times with
a ``TimelapseRecorder`` (default probes, 16 integration steps, 512 validation texts for unit
emergence), interleaved and alternating which goes first (off-on, on-off, ...), so load from other
processes on a shared machine falls on both alike, after one untimed warm-up run (with the
recorder, so its first-use costs are not counted either way). The data is encoded once; each run times
``train_on_splits`` from building the model to the last epoch, the recorder's file writes included.
It prints every pair and the overhead of the medians and of the summed times (target: at most 5 %),
and whether recording imported Captum (it should not: a spawned worker would pay that import on
every run).
One thread by default, as the app's training workers use (``GATESCOPE_WORKER_THREADS``).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sentiment_core import settings  # noqa: E402
from sentiment_core.data import load_dataset, make_splits  # noqa: E402
from sentiment_core.encoding import EncodingConfig  # noqa: E402
from sentiment_core.pipeline import VocabConfig, prepare_data, train_on_splits  # noqa: E402
from sentiment_core.text import TokenizerConfig  # noqa: E402
from sentiment_core.timelapse import TIMELAPSE_FILE, TimelapseRecorder  # noqa: E402
from sentiment_core.trainer import TrainConfig  # noqa: E402


def timed_run(splits, prepared, model, train, encoding, folder: Path | None) -> tuple[float, int]:
    """Seconds of one training (with a recorder writing into ``folder`` when given) and its snapshot count."""
    recorder = TimelapseRecorder(folder / TIMELAPSE_FILE) if folder is not None else None
    start = time.perf_counter()
    train_on_splits(splits, model, train, encoding=encoding, callbacks=[recorder] if recorder else [],
                    prepared=prepared)
    return time.perf_counter() - start, len(recorder.labels) if recorder else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="runs with and runs without the recorder")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    base = settings.defaults()
    splits = make_splits(load_dataset("airline_tweets"), seed=0)
    encoding = EncodingConfig.from_dict(base["encoding"])
    vocab = VocabConfig(**{k: base["vocab"][k] for k in ("min_freq", "max_size")})
    tokenizer = TokenizerConfig(**base["tokenizer"])
    prepared = prepare_data(splits, tokenizer, vocab, encoding)
    model = {k: v for k, v in base["model"].items() if k != "vectors"}
    train = TrainConfig(**{**base["train"], "epochs": args.epochs, "patience": 0, "device": "cpu"})
    print(f"data: airline_tweets, {len(prepared.train):,} train / {len(prepared.validation):,} validation texts, "
          f"classes {', '.join(splits.label_names)}; {model['cell'].upper()} emb {model['emb_dim']} hidden "
          f"{model['hidden_dim']}, batch {train.batch_size}, {args.epochs} epochs, torch threads {torch.get_num_threads()}")

    off, on, snapshots = [], [], 0
    with tempfile.TemporaryDirectory() as tmp:
        timed_run(splits, prepared, model, train, encoding, Path(tmp) / "warm-up")  # first-use costs, untimed
        for i in range(args.repeats):
            order = (False, True) if i % 2 == 0 else (True, False)
            pair = {}
            for recording in order:
                seconds, count = timed_run(splits, prepared, model, train, encoding,
                                           Path(tmp) / f"run{i}" if recording else None)
                pair[recording] = seconds
                snapshots = count or snapshots
            off.append(pair[False])
            on.append(pair[True])
            print(f"pair {i + 1} ({'off, on' if order[0] is False else 'on, off'}): without {pair[False]:.2f} s, "
                  f"with {pair[True]:.2f} s ({pair[True] / pair[False] - 1:+.1%})", flush=True)
        size = sum(f.stat().st_size for f in Path(tmp).glob(f"run*/{TIMELAPSE_FILE}")) / args.repeats
    median = statistics.median(on) / statistics.median(off) - 1
    total = sum(on) / sum(off) - 1
    print(f"{snapshots} snapshots per run, file {size / 1024:.0f} KiB")
    print(f"median without {statistics.median(off):.2f} s, with {statistics.median(on):.2f} s: overhead "
          f"{median:+.1%} (summed: {total:+.1%}); target <= 5 %")
    print(f"Captum imported by the recorder: {'yes' if 'captum' in sys.modules else 'no'}")


if __name__ == "__main__":
    main()
