"""A person is a person: identity survives a refresh, a new tab and a server restart; a forged token
is refused with a message; two tabs share one run quota; the teacher stays signed in across tabs.

Real Chromium against `streamlit run` with a teacher passcode (classroom mode). Skipped where
playwright or chromium is missing.
"""
from __future__ import annotations

import os
import shutil

import pytest

from app_support import CHROMIUM, shared_pretrained_dir, start_server, stop_server

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
    pytest.skip("chromium is not installed (apt-get install chromium)", allow_module_level=True)

PASSCODE = "correct-horse-battery"
# a run that trains long enough to still be waiting or training while the second tab tries
LONG_RUN = "/train?dataset=synthetic_negation&n=6000&epochs=60&hidden_dim=32&emb_dim=16"


def _env(runs_dir) -> dict:
    return {"GATESCOPE_RUNS_DIR": str(runs_dir), "GATESCOPE_PRETRAINED_DIR": str(shared_pretrained_dir()),
            "GATESCOPE_RUN_EXECUTOR": "process", "GATESCOPE_TEACHER_PASSCODE": PASSCODE,
            "GATESCOPE_MAX_RUNS_PER_STUDENT": "1", "GATESCOPE_MAX_CONCURRENT_RUNS": "1"}


@pytest.fixture
def server(tmp_path):
    runs_dir = tmp_path / "runs"
    proc, url = start_server(_env(runs_dir))
    holder = {"proc": proc, "url": url, "runs": runs_dir}
    yield holder
    stop_server(holder["proc"])


def _nickname_box(page):
    return page.get_by_role("textbox", name="Your nickname (shown in the class gallery)")


def _open_train(page, url: str, path: str = "/train"):
    page.goto(url + path, wait_until="domcontentloaded")
    _nickname_box(page).wait_for(timeout=90_000)


def _settle(page, ms: int = 600):
    """Wait until Streamlit has finished the current run (its status widget gone) and a moment more."""
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=60_000)
    page.wait_for_timeout(ms)


def _set_nickname(page, name: str):
    box = _nickname_box(page)
    box.fill(name)
    box.press("Enter")
    _settle(page)


def _cookie(context, name: str):
    return next((c for c in context.cookies() if c["name"] == name), None)


def test_refresh_new_tab_and_restart_keep_the_person(server, browser, tmp_path):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    _open_train(page, server["url"])
    page.wait_for_function("() => document.cookie.includes('gatescope_person=')", timeout=30_000)
    person = _cookie(context, "gatescope_person")["value"]
    _set_nickname(page, "ada")

    page.reload(wait_until="domcontentloaded")
    _nickname_box(page).wait_for(timeout=60_000)
    assert _nickname_box(page).input_value() == "ada", "a refresh forgot the nickname"

    tab = context.new_page()  # a new tab, as the app's own links open one
    _open_train(tab, server["url"])
    assert _nickname_box(tab).input_value() == "ada", "a new tab is a new person"
    assert _cookie(context, "gatescope_person")["value"].split(".")[1] == person.split(".")[1]

    stop_server(server["proc"])  # a restart on the same runs folder: same secret, same people
    server["proc"], server["url"] = start_server(_env(server["runs"]), port=int(server["url"].rsplit(":", 1)[1]))
    page.reload(wait_until="domcontentloaded")
    _nickname_box(page).wait_for(timeout=90_000)
    assert _nickname_box(page).input_value() == "ada", "a server restart forgot the person"
    assert page.locator("[data-testid='stException']").count() == 0
    context.close()


def test_edited_token_is_refused_with_a_message(server, browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    _open_train(page, server["url"])
    page.wait_for_function("() => document.cookie.includes('gatescope_person=')", timeout=30_000)
    _set_nickname(page, "ada")
    real = _cookie(context, "gatescope_person")
    kind, person, expires, signature = real["value"].split(".")
    forged_person = ("0" if person[0] != "0" else "1") + person[1:]  # pretend to be another student
    context.add_cookies([{**real, "value": f"{kind}.{forged_person}.{expires}.{signature}"}])

    page.reload(wait_until="domcontentloaded")
    _nickname_box(page).wait_for(timeout=60_000)
    page.get_by_text("identity was not accepted").wait_for(timeout=30_000)
    assert _nickname_box(page).input_value() == "", "an edited token kept the old person's nickname"
    page.wait_for_function("(old) => !document.cookie.includes(old)", arg=forged_person, timeout=30_000)
    fresh = _cookie(context, "gatescope_person")["value"].split(".")[1]
    assert fresh not in (person, forged_person), "the forged identity was accepted or the old one kept"
    context.close()


def test_two_tabs_share_one_quota_and_the_teacher_sign_in(server, browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    first = context.new_page()
    _open_train(first, server["url"], LONG_RUN)
    first.get_by_role("button", name="▶ Start training").click(timeout=60_000)
    first.get_by_role("button", name="⏹ Stop").wait_for(timeout=60_000)

    second = context.new_page()
    _open_train(second, server["url"], LONG_RUN)
    second.get_by_text("Your runs:").wait_for(timeout=60_000)  # the other tab's run is this person's too
    _settle(second)
    second.get_by_role("button", name="▶ Start training").click(timeout=60_000)
    second.get_by_text("Training could not start").wait_for(timeout=60_000)
    assert "class limit is 1" in second.locator("[data-testid='stAlert']").all_inner_texts()[-1].replace("\n", " ")

    # the teacher signs in in one tab: a refresh and the other tab know it too
    second.get_by_text("Teacher sign-in").click()
    second.get_by_label("Teacher passcode").fill(PASSCODE)
    second.get_by_role("button", name="Sign in").click()
    second.get_by_text("Signed in as the teacher.").wait_for(timeout=30_000)
    second.wait_for_function("() => document.cookie.includes('gatescope_teacher=teacher.')", timeout=30_000)
    first.reload(wait_until="domcontentloaded")
    first.get_by_role("button", name="Sign out").wait_for(timeout=90_000)
    first.get_by_role("button", name="⏹ Stop").first.click(timeout=30_000)
    context.close()
