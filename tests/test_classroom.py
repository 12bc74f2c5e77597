"""Classroom mode: roles, passcode, quotas, the fair queue, restarts with queued runs, gallery rows."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from conftest import ROOT
from sentiment_core import classroom, runs
from sentiment_core.classroom import PermissionDenied, Viewer
from sentiment_core.data import make_negation, make_splits

MODEL = {"cell": "gru", "emb_dim": 8, "hidden_dim": 8}
TRAIN = {"epochs": 1, "batch_size": 32, "lr": 1e-2, "device": "cpu"}
TEACHER = Viewer("t-1", "teacher", "Ms T")
ALICE = Viewer("alice-1", "student", "alice")
BOB = Viewer("bob-1", "student", "bob")


@pytest.fixture(scope="module")
def splits():
    return make_splits(make_negation(120), seed=0)


def request(splits, **train) -> runs.RunRequest:
    return runs.RunRequest(splits, dict(MODEL), {**TRAIN, **train}, {"name": "synthetic_negation"},
                           vocab={"min_freq": 1, "max_size": 200}, label="t")


@pytest.fixture
def queue(tmp_path):
    q = runs.RunQueue(tmp_path, max_concurrent=1, executor="thread")
    yield q
    q.close()


# ---------------------------------------------------------------- roles


def test_student_cannot_stop_anothers_run_or_change_settings_and_the_teacher_can(queue, splits):
    long = dict(epochs=100, patience=0)
    alice_run = classroom.submit(ALICE, queue, request(splits, **long))
    bob_run = classroom.submit(BOB, queue, request(splits, **long))  # waits behind alice's
    with pytest.raises(PermissionDenied, match="your own runs"):
        classroom.stop_run(BOB, queue, alice_run)
    with pytest.raises(PermissionDenied, match="teacher"):
        classroom.set_concurrency(BOB, queue, 4)
    with pytest.raises(PermissionDenied, match="teacher"):
        classroom.set_quota(BOB, queue, 5)
    with pytest.raises(PermissionDenied):
        classroom.broadcast(BOB, "hello class")
    assert queue.snapshot()["max_concurrent"] == 1 and queue.snapshot()["max_per_student"] == 2
    deadline = time.monotonic() + 30  # the worker starts alice's run a moment after the submit
    while runs.load_run(alice_run, queue.root, queue).state == "queued" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert runs.load_run(alice_run, queue.root, queue).state == "running"
    assert classroom.stop_run(BOB, queue, bob_run)  # a student stops their own
    assert runs.load_run(bob_run, queue.root, queue).state == "stopped"
    classroom.set_concurrency(TEACHER, queue, 3)
    classroom.set_quota(TEACHER, queue, 4)
    assert queue.snapshot()["max_concurrent"] == 3 and queue.snapshot()["max_per_student"] == 4
    assert classroom.stop_run(TEACHER, queue, alice_run)
    assert queue.wait(alice_run, 60).state == "stopped"
    with pytest.raises(PermissionDenied, match="delete"):
        classroom.delete_run(BOB, queue, alice_run)
    classroom.delete_run(TEACHER, queue, alice_run)
    assert not (queue.root / alice_run).exists()
    classroom.delete_run(BOB, queue, bob_run)
    assert not (queue.root / bob_run).exists()


def test_solo_machine_allows_everything(queue, splits):
    solo = Viewer("s-1")  # no passcode configured
    other = classroom.submit(ALICE, queue, request(splits, epochs=100, patience=0))
    classroom.set_concurrency(solo, queue, 2)
    assert classroom.stop_run(solo, queue, other)
    assert classroom.broadcast(solo, "the plot was not bad").sentence == "the plot was not bad"


def test_students_see_others_finished_runs_only(queue, splits):
    done = classroom.submit(ALICE, queue, request(splits))
    queue.wait(done, 60)
    waiting = classroom.submit(ALICE, queue, request(splits, epochs=100, patience=0))
    records = {r.name: r for r in runs.list_runs(queue.root, queue)}
    assert BOB.can_see(records[done]) and not BOB.can_see(records[waiting])
    assert ALICE.can_see(records[waiting]) and TEACHER.can_see(records[waiting])
    assert not BOB.can_see(records[done], hidden={done})
    assert not BOB.can_manage(records[done]) and ALICE.can_manage(records[done])


def test_wrong_passcode_is_refused_and_slowed_down():
    now = [100.0]
    gate = classroom.PasscodeGate("open sesame", clock=lambda: now[0])
    first = gate.attempt("c1", "guess")
    assert not first.ok and first.retry_after == 1
    early = gate.attempt("c1", "open sesame")  # even the right one waits out the lockout
    assert not early.ok and "wait" in early.message
    now[0] += 1.1
    second = gate.attempt("c1", "guess2")
    assert not second.ok and second.retry_after == 2
    assert gate.attempt("c2", "open sesame").ok  # other sessions are not locked out
    now[0] += 2.1
    assert gate.attempt("c1", "open sesame").ok
    assert "open sesame" not in first.message + early.message + second.message
    for _ in range(12):
        now[0] += 61
        last = gate.attempt("c3", "x")
    assert last.retry_after == classroom.MAX_LOCKOUT_SECONDS


def test_passcode_comes_from_secrets_then_the_environment(monkeypatch):
    monkeypatch.delenv(classroom.PASSCODE_ENV, raising=False)
    assert classroom.configured_passcode(None) == ""
    assert not classroom.PasscodeGate("").enabled
    monkeypatch.setenv(classroom.PASSCODE_ENV, "from-env")
    assert classroom.configured_passcode({}) == "from-env"
    assert classroom.configured_passcode({"teacher_passcode": "from-secrets"}) == "from-secrets"

    class NoSecretsFile:
        def get(self, key):
            raise FileNotFoundError("no secrets.toml")

    assert classroom.configured_passcode(NoSecretsFile()) == "from-env"


def test_board_broadcast_hide_and_bad_link(tmp_path):
    board = classroom.broadcast(TEACHER, "  not bad at all  ", "/explain?text=not+bad", root=tmp_path)
    assert (board.sentence, board.link) == ("not bad at all", "/explain?text=not+bad")
    assert classroom.read_board(tmp_path).sentence == "not bad at all"  # every session reads the file
    with pytest.raises(runs.RunError, match="address"):
        classroom.broadcast(TEACHER, "x", "javascript:alert(1)", root=tmp_path)
    classroom.set_hidden(TEACHER, "some-run", True, root=tmp_path)
    assert classroom.read_board(tmp_path).hidden == ["some-run"]
    with pytest.raises(PermissionDenied):
        classroom.set_hidden(ALICE, "some-run", False, root=tmp_path)
    classroom.set_hidden(TEACHER, "some-run", False, root=tmp_path)
    assert classroom.broadcast(TEACHER, "", "/x", root=tmp_path) == classroom.Board("", "", [])


# ---------------------------------------------------------------- quotas and the fair queue


def test_per_student_quota_with_a_clear_message(queue, splits):
    long = dict(epochs=100, patience=0)
    first = classroom.submit(ALICE, queue, request(splits, **long))
    classroom.submit(ALICE, queue, request(splits, **long))
    with pytest.raises(runs.QuotaError, match="class limit is 2; wait for one to finish or stop one"):
        classroom.submit(ALICE, queue, request(splits, **long))
    assert len([p for p in queue.root.iterdir() if p.is_dir()]) == 2  # nothing half-created
    classroom.submit(BOB, queue, request(splits, **long))  # others are not affected
    classroom.submit(TEACHER, queue, request(splits, **long))  # the teacher is not capped
    classroom.submit(TEACHER, queue, request(splits, **long))
    classroom.submit(TEACHER, queue, request(splits, **long))
    classroom.stop_run(ALICE, queue, first)
    queue.wait(first, 60)
    classroom.submit(ALICE, queue, request(splits, **long))  # a free place again


def test_fair_order_is_round_robin_and_keeps_each_students_order():
    jobs = [runs._Job(f"{owner}{i}", None, None, owner, seq) for seq, (owner, i) in
            enumerate([("a", 1), ("a", 2), ("a", 3), ("b", 1), ("c", 1), ("b", 2)], start=1)]
    order = [j.name for j in runs.fair_order(jobs, {})]
    assert order == ["a1", "b1", "c1", "a2", "b2", "a3"]
    # "a" was served a moment ago: everyone else goes first
    assert [j.name for j in runs.fair_order(jobs, {"a": 5.0}, 5.0)][:3] == ["b1", "c1", "a1"]


def test_queue_starts_runs_round_robin_and_shows_positions(queue, splits):
    blocker = queue.submit(request(splits, epochs=100, patience=0), owner="zed")
    deadline = time.monotonic() + 30
    while runs.load_run(blocker, queue.root, queue).state != "running":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    names = {}
    for owner, i in (("a", 1), ("a", 2), ("b", 1), ("b", 2), ("c", 1)):
        names[f"{owner}{i}"] = queue.submit(request(splits), owner=owner)
    expected = ["a1", "b1", "c1", "a2", "b2"]
    assert queue.snapshot()["queued"] == [names[k] for k in expected]
    assert [runs.load_run(names[k], queue.root, queue).queue_position for k in expected] == [1, 2, 3, 4, 5]
    queue.stop(blocker)
    records = [queue.wait(names[k], 120) for k in expected]
    assert all(r.state == "completed" for r in records)
    starts = [r.status["started"] for r in records]
    assert starts == sorted(starts)


RESTART_APP = textwrap.dedent("""
    import sys, time
    sys.path[:0] = [{root!r}, {tests!r}]
    from conftest import rule_splits
    from sentiment_core import runs

    queue = runs.RunQueue({runs_dir!r}, max_concurrent=1, executor="thread")
    splits = rule_splits(200)
    def req(epochs):
        return runs.RunRequest(splits, {{"emb_dim": 8, "hidden_dim": 8}},
                               {{"epochs": epochs, "patience": 0, "batch_size": 32, "device": "cpu"}}, label="r")
    queue.submit(req(100), name="long", owner="a")
    while queue.position("long") != 0:  # training before the others are queued
        time.sleep(0.02)
    for name, owner in (("a-2", "a"), ("b-1", "b"), ("b-2", "b")):
        queue.submit(req(1), name=name, owner=owner)
    print("ready", flush=True)
    time.sleep(120)
""")


def test_queued_runs_survive_a_server_restart(tmp_path):
    runs_dir = tmp_path / "runs"
    app = subprocess.Popen([sys.executable, "-c", RESTART_APP.format(root=str(ROOT), tests=str(ROOT / "tests"),
                                                                      runs_dir=str(runs_dir))],
                           cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        assert app.stdout.readline().strip() == b"ready", app.stderr.read().decode()
    finally:
        os.killpg(app.pid, signal.SIGKILL)  # the server dies with one run training and three waiting
        app.wait(timeout=10)
        app.stdout.close()
        app.stderr.close()
    # between servers: still queued (not interrupted), the training one is interrupted
    states = {r.name: r.state for r in runs.list_runs(runs_dir, queue=None)}
    assert states == {"long": "interrupted", "a-2": "queued", "b-1": "queued", "b-2": "queued"}
    again = runs.RunQueue(runs_dir, max_concurrent=1, executor="thread")
    try:
        assert again.resumed == ["a-2", "b-1", "b-2"]
        done = [again.wait(name, 120) for name in ("a-2", "b-1", "b-2")]
    finally:
        again.close()
    assert [r.state for r in done] == ["completed"] * 3
    assert not any((r.path / runs.SPLITS_FILE).exists() for r in done)  # the saved data is dropped once used
    starts = [r.status["started"] for r in done]
    assert starts == sorted(starts)


def test_visible_runs_is_the_one_rule_for_lists_pickers_and_links(queue, splits):
    from sentiment_core.registry import RUN_PREFIX, ModelEntry

    mine = classroom.submit(ALICE, queue, request(splits))
    queue.wait(mine, 60)
    secret = classroom.submit(BOB, queue, request(splits))
    queue.wait(secret, 60)
    classroom.set_hidden(TEACHER, secret, True, root=queue.root)
    busy = classroom.submit(BOB, queue, request(splits, epochs=100, patience=0))  # training or waiting
    try:
        assert [r.name for r in classroom.visible_runs(ALICE, queue=queue)] == [mine]
        everyone = {mine, secret, busy}
        assert {r.name for r in classroom.visible_runs(TEACHER, queue=queue)} == everyone
        assert {r.name for r in classroom.visible_runs(BOB, queue=queue)} == everyone  # his own, and Alice's finished
        records = runs.list_runs(queue.root, queue)
        assert classroom.visible_runs(ALICE, records, queue.root) == [r for r in records if r.name == mine]
        entries = [ModelEntry("lstm", "shipped", "LSTM", "LSTM", ["neg", "pos"]),
                   *(ModelEntry(RUN_PREFIX + n, "run", n, "GRU", ["neg", "pos"]) for n in (mine, secret, busy)),
                   ModelEntry("upload:abc", "upload", "mine.safetensors", "GRU", ["neg", "pos"])]
        keys = [e.key for e in classroom.visible_models(ALICE, entries, queue=queue)]
        assert keys == ["lstm", RUN_PREFIX + mine, "upload:abc"]
        assert len(classroom.visible_models(TEACHER, entries, queue=queue)) == len(entries)
    finally:
        queue.stop(busy)


# ---------------------------------------------------------------- the gallery


def test_gallery_rows_show_finished_runs_with_nickname_settings_and_scores(queue, splits):
    done = classroom.submit(ALICE, queue, request(splits))
    queue.wait(done, 60)
    hidden_run = classroom.submit(BOB, queue, request(splits))
    queue.wait(hidden_run, 60)
    classroom.submit(BOB, queue, request(splits, epochs=100, patience=0))  # still training: not shown
    classroom.set_hidden(TEACHER, hidden_run, True, root=queue.root)
    records = runs.list_runs(queue.root, queue)
    rows = classroom.gallery_rows(records, ALICE, queue.root)
    assert [r["run"] for r in rows] == [done]
    row = rows[0]
    assert row["nickname"] == "alice" and row["cell"] == "gru" and row["hidden"] == 8 and row["lr"] == 1e-2
    assert row["params"] > 0 and 0 <= row["val acc"] <= 1 and 0 <= row["test acc"] <= 1 and row["s / epoch"] > 0
    assert set(classroom.GALLERY_COLUMNS) <= set(row)
    teacher_rows = classroom.gallery_rows(records, TEACHER, queue.root)
    assert {r["run"]: r["hidden_from_class"] for r in teacher_rows} == {done: False, hidden_run: True}
