"""Run registry, background worker and shared queue."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sentiment_core import runs
from sentiment_core.checkpoint import load_checkpoint
from sentiment_core.data import make_negation, make_splits

MODEL = {"cell": "gru", "emb_dim": 8, "hidden_dim": 8}
TRAIN = {"epochs": 2, "batch_size": 32, "lr": 1e-2, "device": "cpu"}
ENCODING = {"max_len": 20, "truncation": "pre"}


@pytest.fixture(scope="module")
def splits():
    return make_splits(make_negation(200), seed=0)


def request(splits, **train) -> runs.RunRequest:
    return runs.RunRequest(splits, dict(MODEL), {**TRAIN, **train}, {"name": "synthetic_negation", "label": "neg"},
                           vocab={"min_freq": 1, "max_size": 200}, label="test", encoding=dict(ENCODING))


@pytest.mark.parametrize("name", ["../evil", "..", "a/b", "/etc", "", ".hidden", "x" * 81, "a..b", "sp ace", "é"])
def test_unsafe_names_rejected(name, tmp_path):
    with pytest.raises(runs.RunError):
        runs.validate_run_name(name)
    with pytest.raises(runs.RunError):
        runs.load_run(name, tmp_path)


def test_safe_names_and_slugs():
    assert runs.validate_run_name("lstm-0622_a.1") == "lstm-0622_a.1"
    assert runs.slugify("My LSTM #2 / ../x") == "my-lstm-2-x"
    assert runs.validate_run_name(runs.new_run_name("../../etc")).startswith("etc-")


def test_submit_rejects_unsafe_name_and_bad_settings(tmp_path, splits):
    queue = runs.RunQueue(tmp_path, executor="thread")
    try:
        with pytest.raises(runs.RunError):
            queue.submit(request(splits), name="../escape")
        with pytest.raises(runs.RunError, match="hidden_dim"):
            queue.submit(runs.RunRequest(splits, {"cell": "lstm", "hidden_dim": 100000}, TRAIN))
        with pytest.raises(runs.RunError, match="lr"):
            queue.submit(request(splits, lr=100.0))
        assert not any(tmp_path.iterdir())
        assert not (tmp_path.parent / "escape").exists()
    finally:
        queue.close()


def test_run_persists_and_reloads(tmp_path, splits):
    queue = runs.RunQueue(tmp_path, executor="thread")
    try:
        name = queue.submit(request(splits), name="persist-1")
        record = queue.wait(name, 60)
    finally:
        queue.close()
    assert record.state == "completed"
    for file in ("config.json", "status.json", "epochs.jsonl", "batches.jsonl", "result.json", runs.BEST_FILE):
        assert (tmp_path / name / file).is_file(), file
    # a "restarted server": no queue, read from disk only
    runs.set_shared_queue(None)
    again = runs.load_run(name, tmp_path, queue=None)
    assert again.state == "completed"
    assert len(again.epochs()) == 2 and again.batches()
    assert again.result["test_accuracy"] is not None
    assert again.summary()["params"] > 0
    assert [r.name for r in runs.list_runs(tmp_path)] == [name]
    bundle = load_checkpoint(again.best_path)
    assert bundle.model_config.cell == "gru"
    assert again.config["encoding"] == {"max_len": 20, "padding": "post", "truncation": "pre"}
    assert "max_len" not in again.config["train"] and "max_len" not in bundle.train_config
    assert (bundle.encoding.max_len, bundle.encoding.truncation) == (20, "pre")
    (tmp_path / "not-a-run").mkdir()
    (tmp_path / "stray.txt").write_text("x")
    assert [r.name for r in runs.list_runs(tmp_path)] == [name]
    runs.delete_run(name, tmp_path)
    assert runs.list_runs(tmp_path) == []


def test_request_encoding_group_and_older_callers(splits):
    config = runs.validate_request(request(splits))
    assert config["encoding"] == {"max_len": 20, "padding": "post", "truncation": "pre"}
    assert "max_len" not in config["train"]
    legacy = runs.RunRequest(splits, dict(MODEL), {**TRAIN, "max_len": 30, "padding": "pre"},
                             encoding={"padding": "post"})
    config = runs.validate_request(legacy)
    assert config["encoding"] == {"max_len": 30, "padding": "post", "truncation": "post"}
    assert set(config["train"]) == set(runs.validate_request(request(splits))["train"])
    with pytest.raises(runs.RunError, match="max_len"):
        runs.validate_request(runs.RunRequest(splits, dict(MODEL), TRAIN, encoding={"max_len": 1}))
    with pytest.raises(runs.RunError, match="encoding option"):
        runs.validate_request(runs.RunRequest(splits, dict(MODEL), TRAIN, encoding={"max_length": 20}))


def test_run_folder_from_before_the_encoding_group_loads_and_trains(tmp_path, splits):
    """Old config.json files kept max_len/padding/truncation under "train"."""
    config = runs.validate_request(request(splits))
    old = {k: v for k, v in config.items() if k != "encoding"}
    old["train"] = {**config["train"], **config["encoding"]}
    path = tmp_path / "old-run"
    runs.write_json(path / "config.json", {**old, "name": "old-run", "created": time.time()})
    runs.write_json(path / "status.json", {"state": "queued", "created": time.time()})
    record = runs.load_run("old-run", tmp_path, queue=None)
    assert record.config["encoding"] == config["encoding"] and record.config["train"] == config["train"]
    status = runs.execute_run(path, splits)
    assert status["state"] == "completed", status.get("message")
    bundle = load_checkpoint(path / runs.BEST_FILE)
    assert (bundle.encoding.max_len, bundle.encoding.truncation) == (20, "pre")


def test_queue_respects_concurrency(tmp_path, splits):
    queue = runs.RunQueue(tmp_path, max_concurrent=1, executor="thread")
    try:
        names = [queue.submit(request(splits, epochs=3)) for _ in range(3)]
        seen_running = 0
        positions = set()
        deadline = time.time() + 120
        while time.time() < deadline:
            snap = queue.snapshot()
            seen_running = max(seen_running, len(snap["running"]))
            for n in names:
                pos = queue.position(n)
                if pos:
                    positions.add(pos)
            if all(runs.load_run(n, tmp_path, queue).state == "completed" for n in names):
                break
            time.sleep(0.02)
        assert seen_running == 1
        assert {1, 2} <= positions  # runs waited with visible positions
        queue.set_max_concurrent(2)
        assert queue.snapshot()["max_concurrent"] == 2
        with pytest.raises(runs.RunError):
            queue.set_max_concurrent(0)
    finally:
        queue.close()


def test_stop_queued_and_running(tmp_path, splits):
    queue = runs.RunQueue(tmp_path, max_concurrent=1, executor="thread")
    try:
        first = queue.submit(request(splits, epochs=50))
        second = queue.submit(request(splits))
        assert queue.stop(second)
        assert runs.load_run(second, tmp_path, queue).state == "stopped"
        deadline = time.time() + 30
        while runs.load_run(first, tmp_path, queue).state != "running" and time.time() < deadline:
            time.sleep(0.02)
        assert queue.stop(first)
        record = queue.wait(first, 60)
        assert record.state == "stopped"
    finally:
        queue.close()


def test_default_concurrency_from_env(monkeypatch):
    monkeypatch.setenv(runs.MAX_CONCURRENT_ENV, "3")
    assert runs.default_max_concurrent() == 3
    monkeypatch.setenv(runs.MAX_CONCURRENT_ENV, "nonsense")
    assert runs.default_max_concurrent() == 1
    monkeypatch.setenv(runs.RUNS_DIR_ENV, "/tmp/some-runs")
    assert runs.runs_dir() == Path("/tmp/some-runs")


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_interrupted_run_keeps_metrics_and_checkpoint(tmp_path, splits):
    """A run whose worker died mid-training shows as interrupted with what it had."""
    queue = runs.RunQueue(tmp_path, executor="thread")
    try:
        name = queue.submit(request(splits))
        queue.wait(name, 60)
    finally:
        queue.close()
    status_path = tmp_path / name / "status.json"
    status = json.loads(status_path.read_text())
    # rewrite it as a run still "running" in a worker process that no longer exists
    status.update(state="running", pid=_dead_pid(), executor="process", owner_token="another-server",
                  heartbeat=time.time(), last_finished_epoch=2)
    status_path.write_text(json.dumps(status))
    (tmp_path / name / "result.json").unlink()
    record = runs.load_run(name, tmp_path, queue=None)
    assert record.state == "interrupted"
    assert "epoch 2" in record.message
    assert len(record.epochs()) == 2
    assert load_checkpoint(record.best_path).model_config.cell == "gru"
    assert json.loads(status_path.read_text())["state"] == "interrupted"  # persisted
    # a stale heartbeat also means interrupted, even if the pid exists
    status.update(state="running", pid=os.getpid(), heartbeat=time.time() - 3600)
    status_path.write_text(json.dumps(status))
    assert runs.load_run(name, tmp_path, queue=None).state == "interrupted"
    # queued by a server that is gone
    status.update(state="queued", owner_pid=_dead_pid())
    status_path.write_text(json.dumps(status))
    assert runs.load_run(name, tmp_path, queue=None).state == "interrupted"


def test_process_worker_killed_is_interrupted(tmp_path, splits):
    """The real thing: a spawned worker killed with SIGKILL after an epoch."""
    queue = runs.RunQueue(tmp_path, executor="process")
    try:
        name = queue.submit(request(splits, epochs=100, patience=0))
        deadline = time.time() + 90
        while time.time() < deadline:
            record = runs.load_run(name, tmp_path, queue)
            if record.state == "running" and len(record.epochs()) >= 1 and record.best_path:
                break
            time.sleep(0.1)
        error_log = record.path / "error.log"
        assert record.state == "running", (record.status, error_log.read_text() if error_log.exists() else "")
        pid = record.status["pid"]
        assert pid != os.getpid()
        os.kill(pid, signal.SIGKILL)
        deadline = time.time() + 30
        while runs.load_run(name, tmp_path, queue).state != "interrupted" and time.time() < deadline:
            time.sleep(0.1)
    finally:
        queue.close()
    record = runs.load_run(name, tmp_path, queue=None)
    assert record.state == "interrupted"
    assert record.epochs()
    assert load_checkpoint(record.best_path).model_config.cell == "gru"


def test_failed_run_has_friendly_message(tmp_path, splits):
    path = tmp_path / "broken"
    path.mkdir()
    runs.write_json(path / "config.json", {"train": {"epochs": 1, "nonsense": 1}, "model": {}})
    runs.write_json(path / "status.json", {"state": "queued"})
    status = runs.execute_run(path, splits)
    assert status["state"] == "failed"
    assert "Traceback" not in status["message"]
    assert (path / "error.log").read_text().startswith("Traceback")


def test_worker_niceness_setting_is_read_and_clamped(monkeypatch):
    from sentiment_core.runs import WORKER_NICENESS_ENV, worker_niceness

    monkeypatch.delenv(WORKER_NICENESS_ENV, raising=False)
    assert worker_niceness() == 10
    for raw, expected in (("0", 0), ("5", 5), ("99", 19), ("-3", 0), ("high", 10)):
        monkeypatch.setenv(WORKER_NICENESS_ENV, raw)
        assert worker_niceness() == expected, raw


def test_a_run_records_the_device_it_trained_on_in_words(tmp_path):
    import torch
    from conftest import rule_splits

    from sentiment_core.device import device_label

    threads = torch.get_num_threads()
    assert device_label("cpu") == f"cpu, {threads} thread{'s' if threads != 1 else ''}"
    queue = runs.RunQueue(tmp_path, max_concurrent=1, executor="thread")
    try:
        name = queue.submit(runs.RunRequest(rule_splits(60), {"cell": "rnn", "emb_dim": 4, "hidden_dim": 4},
                                            {"epochs": 1, "batch_size": 16, "device": "cpu"}, {"name": "rule"}))
        record = queue.wait(name, 60)
    finally:
        queue.close()
    assert record.device.startswith("cpu, ") and record.device.endswith(("thread", "threads"))
    assert record.result["device_label"] == record.device and record.summary()["device"] == record.device


def _refuse_writes(monkeypatch, victim: str, code: int, when=lambda data: True) -> None:
    """Make every ``write_json`` into run ``victim``'s folder fail with OSError ``code`` (a
    read-only folder, a full disk) while ``when(data)`` holds."""
    write = runs.write_json

    def refusing(path, data):
        if path.parent.name == victim and when(data):
            raise OSError(code, os.strerror(code), str(path))
        write(path, data)

    monkeypatch.setattr(runs, "write_json", refusing)


def test_a_run_whose_folder_turns_read_only_mid_run_fails_and_the_next_run_still_trains(tmp_path, splits,
                                                                                      monkeypatch):
    import errno

    queue = runs.RunQueue(tmp_path, max_concurrent=1, executor="thread")
    try:
        victim = queue.submit(request(splits, epochs=50, patience=0), name="victim")
        following = queue.submit(request(splits, epochs=1), name="following")
        deadline = time.time() + 60
        while not runs.load_run(victim, tmp_path, queue).batches():
            assert time.time() < deadline, "the first run did not start"
            time.sleep(0.02)
        _refuse_writes(monkeypatch, victim, errno.EACCES)  # mid-run: the folder is read-only from now on
        assert queue.wait(following, 60).state == "completed"  # the queue lived on
        record = runs.load_run(victim, tmp_path, queue)
        assert record.state == "failed"
        assert f"could not write {tmp_path / victim / 'status.json'}: permission denied" in record.message
        assert runs.read_json(tmp_path / victim / "status.json")["state"] == "running"  # only in memory so far
        monkeypatch.undo()  # writable again: the queue saves the failure it kept
        deadline = time.time() + 10
        while runs.read_json(tmp_path / victim / "status.json")["state"] != "failed":
            assert time.time() < deadline, "the kept failure was not written"
            time.sleep(0.05)
        assert queue.unsaved(victim) is None
    finally:
        queue.close()


def test_a_full_disk_when_a_run_starts_fails_that_run_only(tmp_path, splits, monkeypatch):
    import errno

    queue = runs.RunQueue(tmp_path, max_concurrent=1, executor="thread")
    try:
        _refuse_writes(monkeypatch, "full", errno.ENOSPC, lambda data: data.get("state") == "running")
        full = queue.submit(request(splits, epochs=1), name="full")
        after = queue.submit(request(splits, epochs=1), name="after")
        assert queue.wait(after, 60).state == "completed"
        record = queue.wait(full, 5)
        assert record.state == "failed"
        assert record.message == (f"could not start the run: could not write {tmp_path / 'full' / 'status.json'}: "
                                  "no space left on device")
        _refuse_writes(monkeypatch, "nospace", errno.ENOSPC)
        with pytest.raises(runs.RunError, match="the run could not be saved: could not write .*no space left"):
            queue.submit(request(splits, epochs=1), name="nospace")
    finally:
        queue.close()


def test_the_queue_outlives_an_unexpected_error_in_its_loop(tmp_path, splits, caplog):
    queue = runs.RunQueue(tmp_path, max_concurrent=1, executor="thread")
    reap, calls = queue._reap, []

    def broken_once():
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("a bug in one round")
        reap()

    queue._reap = broken_once
    try:
        name = queue.submit(request(splits, epochs=1))
        assert queue.wait(name, 60).state == "completed"
    finally:
        queue.close()
    assert len(calls) > 1 and "the run queue hit an unexpected error" in caplog.text
