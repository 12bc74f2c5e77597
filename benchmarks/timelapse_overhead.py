"""Training time with and without the time-lapse recorder, side by side in one process.

Run by hand (not in CI):  python benchmarks/timelapse_overhead.py [--repeats 3] [--epochs 5] [--threads 1]

On the airline tweets (offline copy, all three classes) with the app's default model and training
settings (``settings.defaults()``: LSTM, embeddings 32, hidden 32, batch 32, lr 3e-3, 5 epochs, max
length 60, vocabulary 5,000) it trains the same model ``--repeats`` times without and ``--repeats`` times with
a ``TimelapseRecorder`` (default probes, 16 integration steps, 512 validation texts for unit
emergence), interleaved and alternating which goes first (off-on, on-off, ...), so load from other
processes on a shared machine falls on both alike, after one untimed warm-up run (with the
recorder, so its first-use costs are not counted either way). The data is encoded once; each run times
``train_on_splits`` from building the model to the last epoch, the recorder's file writes included.
It prints every pair's wall and CPU (process) seconds, the overhead of the medians, the median time
of the optimisation steps of epochs 2.. (whether recording slows the training between snapshots),
and the time spent inside the recorder's own hooks as a share of the training around it (the
steadiest figure on a busy machine; target: at most 5 %),
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


class TimedRecorder(TimelapseRecorder):
    """The recorder, adding up the wall and CPU seconds spent inside its own hooks."""

    def __init__(self, path: Path):
        super().__init__(path)
        self.wall = self.cpu = 0.0

    def _timed(self, hook, *args) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        hook(*args)
        self.wall += time.perf_counter() - wall
        self.cpu += time.process_time() - cpu

    def on_train_start(self, bundle, prepared) -> None:
        self._timed(super().on_train_start, bundle, prepared)

    def on_batch_end(self, info) -> None:
        self._timed(super().on_batch_end, info)

    def on_epoch_end(self, info) -> None:
        self._timed(super().on_epoch_end, info)


def timed_run(splits, prepared, model, train, encoding, folder: Path | None) -> dict:
    """Wall and CPU seconds of one training (with a recorder writing into ``folder`` when given),
    and the seconds and snapshots of the recorder."""
    recorder = TimedRecorder(folder / TIMELAPSE_FILE) if folder is not None else None
    wall, cpu = time.perf_counter(), time.process_time()
    outcome = train_on_splits(splits, model, train, encoding=encoding, callbacks=[recorder] if recorder else [],
                              prepared=prepared)
    return {"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu,
            "steps": [h.train_seconds for h in outcome.fit.history[1:]],  # epochs 2.. (no recorder inside)
            "hook_wall": recorder.wall if recorder else 0.0, "hook_cpu": recorder.cpu if recorder else 0.0,
            "snapshots": len(recorder.labels) if recorder else 0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="runs with and runs without the recorder")
    parser.add_argument("--epochs", type=int, default=settings.defaults()["train"]["epochs"],
                        help="default: the app's (5)")
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

    rows: dict[bool, list[dict]] = {False: [], True: []}
    with tempfile.TemporaryDirectory() as tmp:
        timed_run(splits, prepared, model, train, encoding, Path(tmp) / "warm-up")  # first-use costs, untimed
        for i in range(args.repeats):
            order = (False, True) if i % 2 == 0 else (True, False)
            for recording in order:
                rows[recording].append(timed_run(splits, prepared, model, train, encoding,
                                                 Path(tmp) / f"run{i}" if recording else None))
            off, on = rows[False][-1], rows[True][-1]
            print(f"pair {i + 1} ({'off, on' if order[0] is False else 'on, off'}): wall {off['wall']:.2f} -> "
                  f"{on['wall']:.2f} s ({on['wall'] / off['wall'] - 1:+.1%}), CPU {off['cpu']:.2f} -> {on['cpu']:.2f} s "
                  f"({on['cpu'] / off['cpu'] - 1:+.1%}); inside the recorder {on['hook_wall']:.2f} s wall, "
                  f"{on['hook_cpu']:.2f} s CPU", flush=True)
        size = sum(f.stat().st_size for f in Path(tmp).glob(f"run*/{TIMELAPSE_FILE}")) / args.repeats

    def median(recording: bool, key: str) -> float:
        return statistics.median(r[key] for r in rows[recording])

    print(f"{rows[True][0]['snapshots']} snapshots per run, file {size / 1024:.0f} KiB")
    for key, what in (("wall", "wall"), ("cpu", "CPU")):
        print(f"median {what} time without {median(False, key):.2f} s, with {median(True, key):.2f} s: overhead "
              f"{median(True, key) / median(False, key) - 1:+.1%}")
    steps = {recording: statistics.median(s for r in rows[recording] for s in r["steps"]) for recording in rows}
    if steps[False]:
        print(f"optimisation steps of epochs 2.. (the recorder works between them): median {steps[False]:.2f} s per "
              f"epoch without, {steps[True]:.2f} s with ({steps[True] / steps[False] - 1:+.1%})")
    cpu_share = statistics.median(r["hook_cpu"] / (r["cpu"] - r["hook_cpu"]) for r in rows[True])
    wall_share = statistics.median(r["hook_wall"] / (r["wall"] - r["hook_wall"]) for r in rows[True])
    print(f"time inside the recorder's hooks, median over the runs with it: {cpu_share:+.1%} of the CPU time and "
          f"{wall_share:+.1%} of the wall time of the training around it (target <= 5 %)")
    print(f"Captum imported by the recorder: {'yes' if 'captum' in sys.modules else 'no'}")


if __name__ == "__main__":
    main()
