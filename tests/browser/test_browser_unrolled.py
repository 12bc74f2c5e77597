"""Real-browser test of Inside the cell's unrolled network: the play button animates the cells,
and clicking a cell opens it in Step through. Skipped where playwright or chromium is missing."""
from __future__ import annotations

import os
import shutil

import pytest

from app_support import CHROMIUM, shared_pretrained_dir, start_server, stop_server

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
    pytest.skip("chromium is not installed (apt-get install chromium)", allow_module_level=True)

CELL_OPACITIES = """() => {
  for (const el of document.querySelectorAll('.js-plotly-plot')) {
    const cells = (el._fullData || []).find(t => t.name === 'cells');
    if (cells) { const o = cells.marker.opacity; return Array.isArray(o) ? o : [o]; }
  }
  return null;
}"""


def test_unrolled_network_plays_and_a_click_opens_the_step(browser, tmp_path):
    proc, url = start_server({"GATESCOPE_RUNS_DIR": str(tmp_path / "runs"),
                              "GATESCOPE_PRETRAINED_DIR": str(shared_pretrained_dir()),
                              "GATESCOPE_RUN_EXECUTOR": "thread"})
    try:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{url}/inside?model=lstm&text=the+movie+was+not+good&tab=Unrolled+network",
                  wait_until="domcontentloaded")
        page.wait_for_function(f"() => ({CELL_OPACITIES})() !== null", timeout=90_000)
        page.locator(".updatemenu-button").first.click()  # ▶ Play
        page.wait_for_function(f"() => {{ const o = ({CELL_OPACITIES})(); return o.length === 5 && "
                               "o.some(v => v < 0.5); }", timeout=10_000)  # cells not read yet are faded
        page.wait_for_function(f"() => ({CELL_OPACITIES})().every(v => v === 1)", timeout=15_000)  # all read
        box = page.locator(".js-plotly-plot .scatterlayer .trace").nth(2).locator(".point").nth(2).bounding_box()
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)  # plotly hit-tests clicks
        page.get_by_text("reading 'was' (t = 2)", exact=False).first.wait_for(timeout=60_000)
        page.wait_for_function("() => location.search.includes('step=2')", timeout=30_000)
        assert page.locator("[data-testid='stException']").count() == 0
        page.close()
    finally:
        stop_server(proc)
