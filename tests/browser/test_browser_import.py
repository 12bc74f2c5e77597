"""Real browser: the Explain page's import form, with the tutorial's preset, reproduces a tutorial
fixture's own probability on raw text (issue 24). Skipped where playwright or chromium is missing."""
from __future__ import annotations

import json
import os
import re
import shutil

import pytest

from app_support import CHROMIUM, ROOT, shared_pretrained_dir, start_server, stop_server

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
    pytest.skip("chromium is not installed (apt-get install chromium)", allow_module_level=True)

FIXTURE = ROOT / "tests" / "fixtures" / "tutorials" / "torch" / "uci_lstm"
# The probability bars' values, as Plotly holds them (full precision, not the rounded labels).
BARS = """() => {
  for (const el of document.querySelectorAll('.js-plotly-plot')) {
    for (const t of (el.data || [])) { if (t.type === 'bar' && t.orientation === 'h') return t.x; }
  }
  return null;
}"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    proc, url = start_server({"GATESCOPE_RUNS_DIR": str(tmp_path_factory.mktemp("browser-runs")),
                              "GATESCOPE_PRETRAINED_DIR": str(shared_pretrained_dir())})
    yield url
    stop_server(proc)


def test_the_import_form_with_the_chapters_preset_reproduces_the_uci_tutorial(server, page):
    expected = json.loads((FIXTURE / "expected.json").read_text())
    text = expected["texts"][2]  # "The acting was GREAT, but the plot... boring."
    page.goto(f"{server}/explain", wait_until="domcontentloaded")
    page.get_by_role("combobox", name="Model").first.click(timeout=60_000)
    page.get_by_role("option", name=re.compile("Import a model trained with a tutorial")).click()
    page.locator("input[type='file']").nth(1).wait_for(state="attached", timeout=30_000)
    page.locator("input[type='file']").nth(0).set_input_files(str(FIXTURE / "model.pt"))
    page.get_by_text("model.pt").first.wait_for(timeout=30_000)  # the upload's rerun redraws the inputs
    page.locator("input[type='file']").nth(1).set_input_files(str(FIXTURE / "vocab_to_int.json"))
    page.get_by_text("Ready to import model.pt with vocab_to_int.json.").wait_for(timeout=30_000)
    page.get_by_role("combobox", name="The tutorial read text as").click()
    page.get_by_role("option", name=re.compile("^chapters:")).click()
    page.get_by_role("combobox", name="The classifier reads").click()
    page.get_by_role("option", name=re.compile("^a linear layer at every time step")).click()
    length = page.get_by_role("spinbutton", name="Max length (tokens)")
    length.fill("12")
    length.press("Enter")
    page.get_by_role("button", name="Import", exact=True).click()
    page.get_by_text("model (imported)").first.wait_for(timeout=60_000)
    page.get_by_text(re.compile("Reads text as the UCI LSTM and IMDb RNN chapters")).first.wait_for(timeout=30_000)
    box = page.get_by_role("textbox", name="Sentence")
    box.fill(text)
    box.press("Enter")
    want = expected["alone"][2]
    page.wait_for_function(f"""() => {{ const x = ({BARS})(); return x && Math.abs(x[1] - {want[1]!r}) < 1e-5; }}""",
                           timeout=60_000)
    got = page.evaluate(BARS)
    assert max(abs(g - w) for g, w in zip(got, want)) < 1e-5
    assert page.locator("[data-testid='stException']").count() == 0
