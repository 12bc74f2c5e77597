"""Classroom mode in the app: the teacher's sign-in and settings on Train, read-only runs for
students, the class sentence on Home and Explain, and the class gallery."""
from __future__ import annotations

import time

import pytest

from browser.app_support import SMALL_DATA, app_env, completed_run, open_page, shown
from sentiment_core import classroom, runs

PASSCODE = "gates-and-cells-42"


@pytest.fixture
def classroom_env(monkeypatch, tmp_path):
    runs_dir = app_env(monkeypatch, tmp_path)
    monkeypatch.setenv(classroom.PASSCODE_ENV, PASSCODE)
    yield runs_dir
    runs.set_shared_queue(None)


def train_page(owner: str = "me-1"):
    at = open_page("train", run=False, state={"gs_data": dict(SMALL_DATA), "gs_owner": owner})
    return at.run()


def sign_in(at, passcode: str):
    at.text_input(key="gs_passcode").input(passcode)
    return at.button[[b.label for b in at.button].index("Sign in")].click().run()


def class_settings(at) -> set[str]:
    return {n.key for n in at.number_input} & {"gs_concurrency", "gs_quota"}


def everything_shown(at) -> str:
    parts = [shown(e.value) for kind in ("markdown", "caption", "error", "success", "info", "warning")
             for e in at.get(kind) if isinstance(getattr(e, "value", None), str)]
    return "\n".join(parts)


def test_student_has_no_class_settings_until_the_right_passcode(classroom_env):
    at = train_page()
    assert not at.exception
    assert not class_settings(at)  # no concurrency or quota for students
    assert "stop and delete your own runs" in everything_shown(at)
    sign_in(at, "wrong")
    assert any("not right" in e.value for e in at.error)
    assert not class_settings(at)
    assert at.session_state["gs_passcode"] == ""  # not kept in the session
    assert PASSCODE not in everything_shown(at)
    # the right passcode while locked out is refused too (the slow-down)
    sign_in(at, PASSCODE)
    assert any("wait" in e.value for e in at.error) and not class_settings(at)


def test_teacher_signs_in_and_changes_concurrency_quota_and_class_sentence(classroom_env):
    at = train_page("teacher-1")
    sign_in(at, PASSCODE)
    assert any("Signed in as the teacher" in s.value for s in at.success), [e.value for e in at.error]
    at.number_input(key="gs_concurrency").set_value(3).run()
    at.number_input(key="gs_quota").set_value(4).run()
    snap = runs.shared_queue().snapshot()
    assert (snap["max_concurrent"], snap["max_per_student"]) == (3, 4)
    class_box = next(t for t in at.text_area if t.label.startswith("Class sentence"))
    class_box.input("The acting was not bad at all")  # a form: sent with its button
    at.text_input[[t.label for t in at.text_input].index("Settings link (optional)")].input("/train?cell=gru")
    at.button[[b.label for b in at.button].index("📣 Show to the class")].click().run()
    assert classroom.read_board().sentence == "The acting was not bad at all"
    # every student's Home and Explain show it, with a button that uses it
    home = open_page("home", state={"gs_owner": "student-9"})
    assert "Class sentence:** The acting was not bad at all" in everything_shown(home)
    home.button[[b.label for b in home.button].index("Use it here")].click().run()
    assert home.session_state["home_text"] == "The acting was not bad at all"
    explain = open_page("explain", state={"gs_owner": "student-9"})
    assert "The acting was not bad at all" in everything_shown(explain)
    at.button[[b.label for b in at.button].index("Clear")].click().run()
    assert "Class sentence" not in everything_shown(open_page("home"))


def test_student_sees_anothers_finished_run_read_only_and_can_delete_their_own(classroom_env):
    other = completed_run(classroom_env, "gru", epochs=1)
    config = runs.read_json(classroom_env / other / "config.json")
    runs.write_json(classroom_env / other / "config.json", {**config, "owner": "someone-else", "nickname": "zoe"})
    at = train_page("me-1")
    assert at.session_state["gs_show_run"] == other
    labels = [b.label for b in at.button]
    assert "🗑 Delete" not in labels and "⏹ Stop" not in labels
    assert "Read-only: zoe's run." in everything_shown(at)
    mine = completed_run(classroom_env, "lstm", epochs=1)
    config = runs.read_json(classroom_env / mine / "config.json")
    runs.write_json(classroom_env / mine / "config.json", {**config, "owner": "me-1"})
    at = train_page("me-1")
    at.selectbox(key="gs_show_run").set_value(mine).run()
    at.button[[b.label for b in at.button].index("🗑 Delete")].click().run()
    assert (classroom_env / mine).exists()  # asks first
    at.button[[b.label for b in at.button].index("Confirm delete")].click().run()
    assert not at.exception and not (classroom_env / mine).exists() and (classroom_env / other).exists()


def test_no_passcode_means_one_user_with_every_setting(monkeypatch, tmp_path):
    app_env(monkeypatch, tmp_path)
    monkeypatch.delenv(classroom.PASSCODE_ENV, raising=False)
    at = train_page()
    assert not at.exception
    assert class_settings(at) == {"gs_concurrency", "gs_quota"}
    assert "gs_passcode" not in [t.key for t in at.text_input]
    runs.set_shared_queue(None)


def test_gallery_table_chart_and_links(classroom_env):
    from sentiment_core.plots import CELL_COLORS

    gru = completed_run(classroom_env, "gru", epochs=1)
    lstm = completed_run(classroom_env, "lstm", epochs=1)
    for name, nick in ((gru, "zoe"), (lstm, "max")):
        config = runs.read_json(classroom_env / name / "config.json")
        runs.write_json(classroom_env / name / "config.json", {**config, "owner": f"o-{nick}", "nickname": nick})
    at = open_page("gallery", state={"gs_owner": "student-1"})
    assert not at.exception and not at.error
    table = at.dataframe[0].value
    assert set(table["run"]) == {gru, lstm}
    row = table.set_index("run").loc[gru]
    assert row["nickname"] == "zoe" and row["model"] == "GRU" and row["params"] > 0
    assert 0 <= row["test acc"] <= 1 and 0 <= row["val acc"] <= 1 and row["s / epoch"] > 0
    assert row["compare"] == f"compare?runs={gru}" and row["explain"] == f"explain?model=run:{gru}"
    assert "hidden from class" not in table.columns  # students do not manage hiding
    import json

    figure = json.loads(at.get("plotly_chart")[0].proto.spec)
    colours = {t["name"]: t["marker"]["color"] for t in figure["data"]}
    assert colours == {"GRU": CELL_COLORS["gru"], "LSTM": CELL_COLORS["lstm"]}
    assert figure["layout"]["xaxis"]["type"] == "log"
    links = {p.label: p for p in at.get("page_link")}
    assert {"Compare it", "Explain it"} <= set(links)
    # the links open the run on Compare and Explain
    compare = open_page("compare", query={"runs": gru})
    assert not compare.exception and compare.session_state["c_selected"] == [gru]
    explain = open_page("explain", query={"model": f"run:{gru}"})
    assert not explain.exception and explain.session_state["model"] == f"run:{gru}"
    # the teacher hides a run: students no longer see it, the teacher still does
    classroom.set_hidden(classroom.Viewer("t", "teacher"), gru, True, classroom_env)
    student = open_page("gallery", state={"gs_owner": "student-1"})
    assert set(student.dataframe[0].value["run"]) == {lstm}
    teacher = open_page("gallery", state={"gs_owner": "t", "gs_teacher": True})
    assert set(teacher.dataframe[0].value["run"]) == {gru, lstm}
    assert teacher.dataframe[0].value.set_index("run").loc[gru, "hidden from class"]


def test_unreachable_ray_address_is_named_on_the_train_page(monkeypatch, tmp_path):
    pytest.importorskip("ray", reason="Ray is not installed: pip install '.[ray]'")
    app_env(monkeypatch, tmp_path)
    monkeypatch.setenv("GATESCOPE_RUN_EXECUTOR", "ray")
    monkeypatch.setenv("GATESCOPE_RAY_ADDRESS", "ray://127.0.0.1:1")
    runs.set_shared_queue(None)
    at = train_page()
    assert not at.exception
    assert any("cannot reach the Ray cluster at 'ray://127.0.0.1:1'" in e.value for e in at.error)


def test_a_student_sees_the_place_of_their_waiting_runs(classroom_env):
    from browser.app_support import small_splits

    queue = runs.shared_queue()
    queue.set_max_concurrent(1)
    long = {"epochs": 100, "patience": 0, "batch_size": 32, "device": "cpu"}
    model = {"cell": "gru", "emb_dim": 8, "hidden_dim": 8}
    blocker = queue.submit(runs.RunRequest(small_splits(), model, long), owner="other")
    deadline = time.monotonic() + 30
    while queue.position(blocker) != 0:  # training: the next run waits first in line
        assert time.monotonic() < deadline
        time.sleep(0.05)
    mine = queue.submit(runs.RunRequest(small_splits(), model, long), owner="me-1")
    try:
        at = train_page("me-1")
        assert f"Your runs: {mine} waiting, number 1 in line" in everything_shown(at)
    finally:
        queue.stop(mine)
        queue.stop(blocker)
