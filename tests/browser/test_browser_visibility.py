"""One answer to "who may see this run", in the browser: a student's model pickers on Explain, Inside
the cell and Dataset list another student's finished run, but neither the run the teacher hid nor
the run another student is still training; the signed-in teacher's pickers list all three.

Real Chromium against `streamlit run` in classroom mode (a teacher passcode), each person in their
own browser context (their own identity cookie). Skipped where playwright or chromium is missing.
"""
from __future__ import annotations

import os
import shutil
import time

import pytest

from app_support import CHROMIUM, completed_run, shared_pretrained_dir, start_server, stop_server

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
    pytest.skip("chromium is not installed (apt-get install chromium)", allow_module_level=True)

from sentiment_core import classroom, runs  # noqa: E402

PASSCODE = "hide-and-seek-42"
OPEN, SECRET = "open-run", "secret-run"
LONG_RUN = "/train?dataset=synthetic_negation&n=6000&epochs=60&hidden_dim=32&emb_dim=16"
PICKERS = [("explain", "Model"), ("inside", "Model"), ("dataset", "Model")]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("visibility-runs")
    trained = root / completed_run(root, "lstm", epochs=1)
    for name in (OPEN, SECRET):  # another student's two finished runs
        shutil.copytree(trained, root / name)
        config = runs.read_json(root / name / "config.json")
        runs.write_json(root / name / "config.json", {**config, "owner": "zoe-1", "nickname": "zoe"})
    shutil.rmtree(trained)
    classroom.set_hidden(classroom.Viewer("t-1", "teacher"), SECRET, True, root)
    proc, url = start_server({"GATESCOPE_RUNS_DIR": str(root), "GATESCOPE_PRETRAINED_DIR": str(shared_pretrained_dir()),
                              "GATESCOPE_RUN_EXECUTOR": "process", "GATESCOPE_TEACHER_PASSCODE": PASSCODE})
    yield url, root
    stop_server(proc)


def picker_options(page, url: str, path: str, label: str) -> str:
    """Every option of the page's model picker, as one text."""
    page.goto(f"{url}/{path}", wait_until="domcontentloaded")
    box = page.get_by_role("combobox", name=label).first
    box.wait_for(timeout=90_000)
    for _ in range(5):  # a rerun (the page still drawing) can close the list: open it again
        box.click()
        try:
            page.get_by_role("option").first.wait_for(timeout=5_000)
            break
        except sync_api.TimeoutError:
            continue
    text = " | ".join(page.get_by_role("option").all_inner_texts())
    page.keyboard.press("Escape")
    return text


def test_pickers_hide_hidden_and_training_runs_from_students_not_the_teacher(server, browser):
    url, root = server
    trainer = browser.new_context(viewport={"width": 1400, "height": 1000})  # student zed trains
    page = trainer.new_page()
    page.goto(url + LONG_RUN, wait_until="domcontentloaded")
    page.get_by_role("button", name="▶ Start training").click(timeout=90_000)
    page.get_by_role("button", name="⏹ Stop").wait_for(timeout=60_000)
    busy = next(r.name for r in runs.list_runs(root) if r.name not in (OPEN, SECRET))
    deadline = time.time() + 120
    while runs.load_run(busy, root).best_path is None:  # a model to pick: its first epoch is saved
        assert time.time() < deadline, "the training run saved no epoch"
        time.sleep(0.5)

    student = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    for path, label in PICKERS:
        options = picker_options(student, url, path, label)
        assert OPEN in options, f"{path}: a finished run of another student is missing: {options}"
        assert SECRET not in options, f"{path}: the run the teacher hid is listed: {options}"
        assert busy not in options, f"{path}: another student's run still training is listed: {options}"

    teacher = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    teacher.goto(f"{url}/train", wait_until="domcontentloaded")
    teacher.get_by_text("Teacher sign-in").click(timeout=90_000)
    teacher.get_by_label("Teacher passcode").fill(PASSCODE)
    teacher.get_by_role("button", name="Sign in").click()
    teacher.get_by_text("Signed in as the teacher.").wait_for(timeout=30_000)
    for path, label in PICKERS:
        options = picker_options(teacher, url, path, label)
        assert OPEN in options and SECRET in options and busy in options, f"{path}: {options}"
    page.get_by_role("button", name="⏹ Stop").click(timeout=30_000)
    assert student.locator("[data-testid='stException']").count() == 0
