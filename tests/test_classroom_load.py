"""Classroom load: eight students press Start at once. Through the Train page's code path
(``runs.shared_queue().submit(RunRequest(...))``) the shared queue runs at most N of them at
a time, queues the rest in order, finishes all of them, and memory stays bounded. Tiny data
and models keep it to seconds (``benchmarks/classroom_load.py`` is the full-size version
with worker processes and peak RSS)."""
from __future__ import annotations

import threading
import time

import pytest

from conftest import rule_splits
from sentiment_core import runs

STUDENTS = 8
SLOTS = 3


def rss_mb() -> float:
    """Resident memory of this process, in MB."""
    with open("/proc/self/status", encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


class Watcher(threading.Thread):
    """Samples the queue, the run folders and memory until stopped."""

    def __init__(self, queue: runs.RunQueue):
        super().__init__(daemon=True)
        self.queue, self.done = queue, threading.Event()
        self.max_running = self.max_running_on_disk = 0
        self.peak_rss = rss_mb()

    def run(self) -> None:
        while not self.done.is_set():
            self.max_running = max(self.max_running, len(self.queue.snapshot()["running"]))
            on_disk = sum(r.state == "running" for r in runs.list_runs(queue=self.queue))
            self.max_running_on_disk = max(self.max_running_on_disk, on_disk)
            self.peak_rss = max(self.peak_rss, rss_mb())
            time.sleep(0.01)


@pytest.fixture
def queue(tmp_path, monkeypatch):
    monkeypatch.setenv(runs.RUNS_DIR_ENV, str(tmp_path / "runs"))
    monkeypatch.setenv(runs.MAX_CONCURRENT_ENV, str(SLOTS))
    monkeypatch.setenv(runs.EXECUTOR_ENV, "thread")  # worker processes: see the benchmark
    runs.set_shared_queue(None)
    queue = runs.shared_queue()
    yield queue
    queue.close()
    runs.set_shared_queue(None)


def test_eight_students_share_the_queue(queue):
    splits = rule_splits(300)
    baseline = rss_mb()
    watcher = Watcher(queue)
    watcher.start()
    names = [queue.submit(runs.RunRequest(splits, {"emb_dim": 8, "hidden_dim": 8, "cell": cell},
                                          {"epochs": 2, "batch_size": 32, "device": "cpu"},
                                          data={"name": "rule"}, label=f"student-{i}"), owner=f"student-{i}")
             for i, cell in zip(range(STUDENTS), ["lstm", "gru", "rnn", "lstm"] * 2)]
    snapshot = queue.snapshot()
    assert snapshot["max_concurrent"] == SLOTS
    assert len(snapshot["running"]) <= SLOTS and len(snapshot["running"]) + len(snapshot["queued"]) <= STUDENTS
    waiting = [r for r in runs.list_runs(queue=queue) if r.state == "queued"]
    assert sorted(r.queue_position for r in waiting) == list(range(1, len(waiting) + 1))

    records = [queue.wait(name, timeout=120) for name in names]
    watcher.done.set()
    watcher.join()

    assert [r.state for r in records] == ["completed"] * STUDENTS
    assert all(r.best_path is not None and len(r.epochs()) == 2 for r in records)
    assert 1 <= watcher.max_running <= SLOTS and watcher.max_running_on_disk <= SLOTS
    spans = sorted((r.status["started"], r.status["ended"]) for r in records)
    overlap = max(sum(start <= s < end for start, end in spans) for s, _ in spans)
    assert overlap <= SLOTS  # from the runs' own start and end times
    by_start = [r.name for r in sorted(records, key=lambda r: r.status["started"])]
    assert set(by_start[:SLOTS]) == set(names[:SLOTS])  # first come, first served
    assert watcher.peak_rss - baseline < 300, f"memory grew by {watcher.peak_rss - baseline:.0f} MB"
