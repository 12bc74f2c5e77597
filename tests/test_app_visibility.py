"""One answer to "who may see this run" on every page: a student's pickers, run lists, gallery and
links show their own runs and the others' finished, not hidden runs; the teacher sees every run."""
from __future__ import annotations

import os
import shutil
import time

import pytest

from browser.app_support import SMALL_DATA, app_env, completed_run, open_page, shown
from sentiment_core import classroom, runs
from sentiment_core.registry import RUN_PREFIX

MINE, SECRET, BUSY = "mine-run", "secret-run", "busy-run"
STUDENT = {"gs_owner": "me-1", "gs_data": dict(SMALL_DATA)}
TEACHER = {"gs_owner": "t-1", "gs_teacher": True, "gs_data": dict(SMALL_DATA)}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One tiny finished run, copied into each test's runs folder."""
    root = tmp_path_factory.mktemp("trained")
    return root / completed_run(root, "lstm", epochs=1)


@pytest.fixture
def three_runs(monkeypatch, tmp_path, trained):
    """Classroom mode with the student's own run, another student's finished but hidden run and
    another student's run that is still training (with a best checkpoint already)."""
    root = app_env(monkeypatch, tmp_path)
    monkeypatch.setenv(classroom.PASSCODE_ENV, "a-passcode")
    for name, owner in ((MINE, "me-1"), (SECRET, "zoe-1"), (BUSY, "zoe-1")):
        shutil.copytree(trained, root / name)
        config = runs.read_json(root / name / "config.json")
        runs.write_json(root / name / "config.json", {**config, "owner": owner, "nickname": owner[:3]})
    status = runs.read_json(root / BUSY / "status.json")
    now = time.time()
    runs.write_json(root / BUSY / "status.json", {**status, "state": "running", "heartbeat": now, "started": now,
                                                  "owner_token": runs.PROCESS_TOKEN, "executor": "thread",
                                                  "pid": os.getpid()})
    (root / BUSY / "result.json").unlink()
    classroom.set_hidden(classroom.Viewer("t-1", "teacher"), SECRET, True, root)
    assert {r.name: r.state for r in runs.list_runs(root)} == {MINE: "completed", SECRET: "completed",
                                                               BUSY: "running"}
    yield root
    runs.set_shared_queue(None)


def runs_named(options) -> set[str]:
    """The runs among a widget's option labels (``Run · <name> · ...`` or a run's label)."""
    text = " ".join(str(o) for o in options)
    return {name for name in (MINE, SECRET, BUSY) if name in text}


@pytest.mark.parametrize("page, key", [("explain", "model"), ("inside", "model"), ("dataset", "ds_model")])
def test_model_pickers_list_only_the_runs_the_viewer_may_see(three_runs, page, key):
    student = open_page(page, state=STUDENT)
    assert not student.exception
    assert runs_named(student.selectbox(key=key).options) == {MINE}
    teacher = open_page(page, state=TEACHER)
    assert not teacher.exception
    assert runs_named(teacher.selectbox(key=key).options) == {MINE, SECRET, BUSY}


@pytest.mark.parametrize("name", [SECRET, BUSY])
def test_a_link_to_a_run_the_student_may_not_see_is_refused(three_runs, name):
    student = open_page("explain", query={"model": RUN_PREFIX + name}, state=STUDENT)
    assert not student.exception
    assert student.session_state["model"] != RUN_PREFIX + name
    warnings = [shown(w.value) for w in student.warning]
    assert any(RUN_PREFIX + name in w and "not available here" in w for w in warnings), warnings
    teacher = open_page("explain", query={"model": RUN_PREFIX + name}, state=TEACHER)
    assert teacher.session_state["model"] == RUN_PREFIX + name


def test_train_lists_only_the_runs_the_viewer_may_see(three_runs):
    student = open_page("train", state=STUDENT)
    assert not student.exception
    assert runs_named(student.selectbox(key="gs_show_run").options) == {MINE}
    teacher = open_page("train", state=TEACHER)
    assert runs_named(teacher.selectbox(key="gs_show_run").options) == {MINE, SECRET, BUSY}


def test_compare_lists_only_the_runs_the_viewer_may_see(three_runs):
    student = open_page("compare", query={"runs": f"{MINE},{SECRET},{BUSY}"}, state=STUDENT)
    assert not student.exception
    assert runs_named(student.multiselect(key="c_selected").options) == {MINE}
    assert student.session_state["c_selected"] == [MINE]
    teacher = open_page("compare", state=TEACHER)
    assert runs_named(teacher.multiselect(key="c_selected").options) == {MINE, SECRET, BUSY}


def test_gallery_lists_only_the_runs_the_viewer_may_see(three_runs):
    student = open_page("gallery", state=STUDENT)
    assert not student.exception
    assert set(student.dataframe[0].value["run"]) == {MINE}
    assert runs_named(student.selectbox(key="gl_run").options) == {MINE}
    teacher = open_page("gallery", state=TEACHER)
    assert set(teacher.dataframe[0].value["run"]) == {MINE, SECRET}  # the gallery shows finished runs only


def test_gradient_clipping_lists_only_the_runs_the_viewer_may_see(three_runs):
    student = open_page("gradients", query={"tab": "Gradient clipping"}, state=STUDENT)
    assert not student.exception
    assert runs_named(student.selectbox(key="g_clip_run").options) == {MINE}
    teacher = open_page("gradients", query={"tab": "Gradient clipping"}, state=TEACHER)
    assert runs_named(teacher.selectbox(key="g_clip_run").options) == {MINE, SECRET, BUSY}
