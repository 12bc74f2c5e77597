"""Real browser: the training time-lapse on Explain plays (Chromium via Playwright against
`streamlit run`). Skipped (not failed) where playwright or chromium is missing."""
from __future__ import annotations

import os
import shutil

import pytest

from app_support import CHROMIUM, completed_run, shared_pretrained_dir, start_server, stop_server

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
    pytest.skip("chromium is not installed (apt-get install chromium)", allow_module_level=True)

# The time-lapse figure (the one with a snapshot slider): its slider position and title.
STATE = """() => {
  for (const el of document.querySelectorAll('.js-plotly-plot')) {
    const sliders = el._fullLayout && el._fullLayout.sliders;
    if (sliders && sliders.length) {
      return {active: sliders[0].active, steps: sliders[0].steps.length, title: el._fullLayout.title.text.replace(/<[^>]+>/g, '')};
    }
  }
  return null;
}"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    runs_dir = tmp_path_factory.mktemp("timelapse-runs")
    name = completed_run(runs_dir, "lstm", epochs=3)
    proc, url = start_server({"GATESCOPE_RUNS_DIR": str(runs_dir), "GATESCOPE_PRETRAINED_DIR": str(shared_pretrained_dir()),
                              "GATESCOPE_RUN_EXECUTOR": "thread"})
    yield url, name
    stop_server(proc)


def test_play_advances_the_time_lapse(server, page):
    url, name = server
    page.goto(f"{url}/explain?model=run:{name}&probe=1", wait_until="domcontentloaded")
    page.wait_for_function(f"() => ({STATE})() !== null", timeout=90_000)
    before = page.evaluate(STATE)
    assert before["active"] == 0 and before["steps"] >= 6  # start, early batches, 3 epochs
    assert before["title"].startswith("start")
    page.locator(".js-plotly-plot .updatemenu-button").filter(has_text="Play").first.click(timeout=30_000)
    page.wait_for_function(f"() => ({STATE})().active >= 2", timeout=30_000)
    page.wait_for_function(f"(n) => ({STATE})().active === n - 1", arg=before["steps"], timeout=30_000)
    after = page.evaluate(STATE)
    assert after["title"].startswith("epoch 3")  # each frame retitles the chart with its snapshot
    assert page.get_by_text("Snapshot: epoch 3").count() >= 1
    assert page.locator("[data-testid='stException']").count() == 0
