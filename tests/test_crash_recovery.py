"""Nothing lost: a process that trains through the run registry (as the app does: the shared
queue, a spawned worker process) is killed with SIGKILL after its first epoch finished. When
GateScope starts again the run is listed as interrupted, with the metrics of every finished
epoch, and its best checkpoint loads and serves predictions."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

from fastapi.testclient import TestClient

from conftest import ROOT
from sentiment_core.api import create_app
from sentiment_core.checkpoint import load_checkpoint
from sentiment_core.predict import Predictor
from sentiment_core.runs import list_runs, pid_alive, read_json, read_jsonl
from sentiment_core.timelapse import load_timelapse


def timelapse_labels(run_dir) -> list[str]:
    """The snapshots written so far (none before the file exists; it is replaced atomically)."""
    timelapse = load_timelapse(run_dir)
    return timelapse.labels if timelapse else []

RUN = "crash-run"
APP = textwrap.dedent(f"""
    import sys, time
    sys.path[:0] = [{str(ROOT)!r}, {str(ROOT / "tests")!r}]
    from conftest import rule_splits
    from sentiment_core import runs

    queue = runs.shared_queue()  # GATESCOPE_RUNS_DIR, process executor: the app's defaults
    queue.submit(runs.RunRequest(rule_splits(600), {{"emb_dim": 8, "hidden_dim": 8}},
                                 {{"epochs": 100, "patience": 0, "batch_size": 16, "device": "cpu"}},
                                 label="crash"), name={RUN!r})
    time.sleep(120)  # the test kills this process long before
""")


def test_sigkill_mid_run_keeps_finished_epochs_and_the_best_checkpoint(tmp_path):
    runs_dir = tmp_path / "runs"
    env = {**os.environ, "GATESCOPE_RUNS_DIR": str(runs_dir), "GATESCOPE_RUN_EXECUTOR": "process",
           "GATESCOPE_MAX_CONCURRENT_RUNS": "1", "GATESCOPE_WORKER_THREADS": "1"}
    app = subprocess.Popen([sys.executable, "-c", APP], cwd=tmp_path, env=env, start_new_session=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    epochs_file = runs_dir / RUN / "epochs.jsonl"
    try:
        deadline = time.monotonic() + 90
        # the first epoch is in epochs.jsonl and its time-lapse snapshot (taken just after) is on disk
        while not read_jsonl(epochs_file) or "epoch 1" not in timelapse_labels(runs_dir / RUN):
            assert app.poll() is None, app.stderr.read().decode()
            assert time.monotonic() < deadline, "the first epoch did not finish in time"
            time.sleep(0.05)
        worker = read_json(runs_dir / RUN / "status.json")["pid"]
        # the worker trains at a lower priority than the app (GATESCOPE_WORKER_NICENESS, default 10)
        assert os.getpriority(os.PRIO_PROCESS, worker) == min(19, os.getpriority(os.PRIO_PROCESS, 0) + 10)
    finally:
        os.killpg(app.pid, signal.SIGKILL)  # the app process and its worker, mid-run
        app.wait(timeout=10)
        app.stderr.close()
    deadline = time.monotonic() + 10
    while pid_alive(worker):  # SIGKILL is delivered asynchronously: let the worker die too
        assert time.monotonic() < deadline
        time.sleep(0.05)

    (record,) = list_runs(runs_dir)  # "starting again": a new process reads the registry
    assert record.name == RUN and record.state == "interrupted"
    assert "stopped unexpectedly" in record.message and "best checkpoint are kept" in record.message
    epochs = record.epochs()
    finished = [e["epoch"] for e in epochs]
    assert finished == list(range(1, len(finished) + 1)) and len(finished) < 100
    assert all(e["val_loss"] is not None for e in epochs)
    assert record.status["state"] == "interrupted"  # written back, so every page sees the same

    bundle = load_checkpoint(record.best_path)
    assert bundle.metrics["best_epoch"] in finished
    timelapse = load_timelapse(record.path)  # written atomically after every snapshot: readable after the kill
    assert timelapse.labels[0] == "start" and "epoch 1" in timelapse.labels
    assert len(bundle.history) <= len(finished)
    assert Predictor(bundle).predict(["good film"])[0].label in ("negative", "positive")

    client = TestClient(create_app(tmp_path / "no-shipped-models", runs_dir))
    (listed,) = client.get("/models").json()["models"]
    assert listed["name"] == f"run:{RUN}" and listed["state"] == "interrupted"
    assert client.post("/predict", json={"text": "good film", "model": f"run:{RUN}"}).status_code == 200


ORPHAN = textwrap.dedent(f"""
    import sys
    sys.path[:0] = [{str(ROOT)!r}, {str(ROOT / "tests")!r}]
    from conftest import rule_splits
    from sentiment_core import runs

    runs.execute_run(sys.argv[1], rule_splits(600), executor="process")
""")


def test_a_worker_that_outlived_its_server_counts_against_the_limit(tmp_path):
    """A SIGKILLed server's worker trains on; the next server (limit 1) starts nothing beside it."""
    from conftest import rule_splits
    from test_runs import _dead_pid

    from sentiment_core import runs

    root = tmp_path / "runs"
    orphan = root / "orphan"
    request = runs.RunRequest(rule_splits(600), {"emb_dim": 8, "hidden_dim": 8},
                              {"epochs": 200, "patience": 0, "batch_size": 16, "device": "cpu"})
    runs.write_json(orphan / "config.json", {**runs.validate_request(request), "created": time.time()})
    runs.write_json(orphan / "status.json", {  # as the killed server left it
        "state": "running", "executor": "process", "owner_pid": _dead_pid(), "owner_token": "killed-server",
        "created": time.time(), "heartbeat": time.time()})
    worker = subprocess.Popen([sys.executable, "-c", ORPHAN, str(orphan)], stderr=subprocess.PIPE)
    queue = None
    try:
        deadline = time.monotonic() + 60
        while read_json(orphan / "status.json").get("pid") != worker.pid or not read_jsonl(orphan / "batches.jsonl"):
            assert worker.poll() is None, worker.stderr.read().decode()
            assert time.monotonic() < deadline, "the orphan worker did not start training"
            time.sleep(0.05)
        queue = runs.RunQueue(root, max_concurrent=1, executor="thread")  # the restarted server
        assert queue.adopted == ["orphan"] and queue.snapshot()["running"] == ["orphan"]
        waiting = queue.submit(runs.RunRequest(rule_splits(100), {"emb_dim": 4, "hidden_dim": 4},
                                               {"epochs": 1, "batch_size": 16, "device": "cpu"}), name="waiting")
        time.sleep(1.0)  # several scheduling rounds
        record = runs.load_run(waiting, root, queue)
        assert record.state == "queued" and record.queue_position == 1
        assert queue.stop("orphan")  # its stop file reaches the other process
        assert worker.wait(timeout=60) == 0
        assert runs.load_run("orphan", root, queue).state == "stopped"
        assert queue.wait(waiting, 60).state == "completed"  # the slot is free once the orphan ends
    finally:
        if queue is not None:
            queue.close()
        if worker.poll() is None:
            worker.kill()
        worker.wait()
        worker.stderr.close()
