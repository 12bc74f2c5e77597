"""Classroom load: N students start training at once on one server.

Run by hand (not in CI)::

    python benchmarks/classroom_load.py [--students 8] [--slots 2] [--executor process]

Submits ``--students`` runs through the shared queue exactly as the Train page does
(``runs.shared_queue().submit(RunRequest(...))``) with ``GATESCOPE_MAX_CONCURRENT_RUNS`` set
to ``--slots``, in a temporary runs directory. While they train it samples the queue and
the memory of this process and of every worker process, then prints per-run times, the most
runs seen training at once (must not exceed ``--slots``), and peak RSS: this process, the
largest worker, and everything together.
"""
from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sentiment_core import runs  # noqa: E402
from sentiment_core.data import make_negation, make_splits  # noqa: E402


def rss_mb(pid: int) -> float:
    """Current resident memory of process ``pid`` in MB (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/status", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def children(pid: int) -> list[int]:
    """Direct child processes of ``pid``."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8") as handle:
                if int(handle.read().rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(entry))
        except (OSError, IndexError, ValueError):
            continue
    return out


class Sampler(threading.Thread):
    """Samples running-run counts and memory every 50 ms."""

    def __init__(self, queue: runs.RunQueue):
        super().__init__(daemon=True)
        self.queue, self.done = queue, threading.Event()
        self.max_running = 0
        self.peak_main = self.peak_worker = self.peak_total = 0.0

    def run(self) -> None:
        me = os.getpid()
        while not self.done.is_set():
            self.max_running = max(self.max_running, len(self.queue.snapshot()["running"]))
            main = rss_mb(me)
            workers = [rss_mb(pid) for pid in children(me)]
            self.peak_main = max(self.peak_main, main)
            self.peak_worker = max([self.peak_worker, *workers])
            self.peak_total = max(self.peak_total, main + sum(workers))
            time.sleep(0.05)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--students", type=int, default=8, help="runs started at once (default 8)")
    parser.add_argument("--slots", type=int, default=2, help="GATESCOPE_MAX_CONCURRENT_RUNS (default 2)")
    parser.add_argument("--executor", choices=runs.EXECUTORS, default="process",
                        help="worker processes (the app's default) or threads")
    parser.add_argument("--examples", type=int, default=2000, help="synthetic examples per run (default 2000)")
    parser.add_argument("--epochs", type=int, default=2, help="epochs per run (default 2)")
    parser.add_argument("--hidden", type=int, default=64, help="hidden size (default 64)")
    parser.add_argument("--time-limit", type=float, default=600, help="give up after this many seconds")
    args = parser.parse_args()
    if not 1 <= args.students <= 64 or not 1 <= args.slots <= runs.MAX_CONCURRENT_LIMIT:
        parser.error(f"--students must be 1..64 and --slots 1..{runs.MAX_CONCURRENT_LIMIT}")

    splits = make_splits(make_negation(n_examples=args.examples, seed=0), val_fraction=0.1, test_fraction=0.1)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.update({runs.RUNS_DIR_ENV: tmp, runs.MAX_CONCURRENT_ENV: str(args.slots),
                           runs.EXECUTOR_ENV: args.executor, runs.WORKER_THREADS_ENV: "1"})
        queue = runs.shared_queue()
        sampler = Sampler(queue)
        sampler.start()
        t0 = time.perf_counter()
        names = [queue.submit(runs.RunRequest(
            splits, {"cell": ("lstm", "gru", "rnn")[i % 3], "emb_dim": 32, "hidden_dim": args.hidden},
            {"epochs": args.epochs, "batch_size": 64, "device": "cpu", "patience": 0},
            data={"name": "synthetic_negation"}, label=f"student-{i + 1}"), owner=f"student-{i + 1}")
            for i in range(args.students)]
        try:
            records = [queue.wait(name, timeout=max(1.0, args.time_limit - (time.perf_counter() - t0)))
                       for name in names]
        finally:
            wall = time.perf_counter() - t0
            sampler.done.set()
            sampler.join()
            queue.close()
        print(f"{args.students} runs, {args.slots} at a time, {args.executor} workers, "
              f"{len(splits.train)} training examples, {args.epochs} epochs, hidden {args.hidden}")
        print(f"{'run':<36} {'state':<10} {'start s':>8} {'trained s':>9} {'test acc':>8}")
        for record in records:
            status = record.status
            start_delay = status["started"] - status["created"]
            trained = status["ended"] - status["started"]
            accuracy = (record.result or {}).get("test_accuracy")
            print(f"{record.name:<36} {record.state:<10} {start_delay:>8.1f} {trained:>9.1f} "
                  f"{accuracy if accuracy is None else f'{accuracy:.3f}':>8}")
    children_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"wall {wall:.1f}s; most runs training at once: {sampler.max_running} (limit {args.slots})")
    print(f"peak RSS: this process {sampler.peak_main:.0f} MB, largest worker {sampler.peak_worker:.0f} MB "
          f"(getrusage: {children_peak:.0f} MB), all together {sampler.peak_total:.0f} MB")
    ok = all(r.state == "completed" for r in records) and sampler.max_running <= args.slots
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
