"""Real-browser tests: Debian's Chromium driven by Playwright against `streamlit run`.

Skipped (not failed) where playwright or chromium is missing. Never runs `playwright install`.
"""
from __future__ import annotations

import os
import shutil
import time
from urllib.parse import quote

import pytest

from app_support import CHROMIUM, shared_pretrained_dir, start_server, stop_server

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
    pytest.skip("chromium is not installed (apt-get install chromium)", allow_module_level=True)

PLOT_POINTS = """(name) => {
  for (const el of document.querySelectorAll('.js-plotly-plot')) {
    for (const t of (el.data || [])) { if (t.name === name) return (t.x || []).length; }
  }
  return -1;
}"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    runs_dir = tmp_path_factory.mktemp("browser-runs")
    proc, url = start_server({"GATESCOPE_RUNS_DIR": str(runs_dir), "GATESCOPE_PRETRAINED_DIR": str(shared_pretrained_dir()),
                              "GATESCOPE_RUN_EXECUTOR": "process"})
    yield url
    stop_server(proc)


def test_home_prediction_and_heatmap(server, page):
    page.goto(server, wait_until="domcontentloaded")
    verdict = page.locator(".gs-verdict")
    verdict.wait_for(timeout=60_000)
    first = verdict.inner_text()
    page.locator(".heatmaplayer image, .heatmaplayer").first.wait_for(timeout=30_000)
    box = page.get_by_role("textbox", name="Type a review")
    box.fill("bad awful terrible boring dull")
    box.press("Enter")
    page.wait_for_function("(old) => { const v = document.querySelector('.gs-verdict'); return v && v.innerText !== old; }",
                           arg=first, timeout=30_000)
    # the verdict is drawn before the charts below it: wait for both charts of the new sentence
    page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot').length >= 2", timeout=30_000)
    assert page.locator("[data-testid='stException']").count() == 0


def test_training_curve_grows(server, page):
    page.goto(f"{server}/train?dataset=synthetic_negation&n=6000&epochs=40&hidden_dim=32&emb_dim=16",
              wait_until="domcontentloaded")
    page.get_by_role("button", name="▶ Start training").click(timeout=60_000)
    seen = set()
    deadline = time.time() + 120
    while time.time() < deadline:
        n = page.evaluate(PLOT_POINTS, "batch loss")
        if n > 0:
            seen.add(n)
        if len(seen) >= 3 and page.evaluate(PLOT_POINTS, "validation") >= 1:
            break
        time.sleep(0.3)
    assert len(seen) >= 3, f"the batch-loss curve did not grow live: {sorted(seen)}"
    assert page.evaluate(PLOT_POINTS, "validation") >= 1
    page.get_by_role("button", name="⏹ Stop").click(timeout=10_000)


def test_explain_integrated_gradients_colouring(server, page):
    page.goto(f"{server}/explain", wait_until="domcontentloaded")
    chips = page.locator(".gs-tokens span")
    chips.first.wait_for(timeout=60_000)
    styles = [chips.nth(i).get_attribute("style") for i in range(chips.count())]
    assert any("rgba(" in s and "0.00)" not in s for s in styles)
    assert page.get_by_text("Convergence delta").count() >= 1


def wait_for_url(page, needle: str, timeout: float = 20.0) -> str:
    """The page's address once it contains ``needle`` (the URL is written after each run)."""
    try:
        page.wait_for_function("(needle) => window.location.href.includes(needle)", arg=needle,
                               timeout=timeout * 1000)
    except sync_api.TimeoutError:
        raise AssertionError(f"the address never showed {needle!r}; it is {page.evaluate('location.href')}") from None
    return page.evaluate("location.href")


def slider(page, label: str):
    """A slider's range input (Streamlit labels it with the widget's label)."""
    return page.locator(f"input[type='range'][aria-label='{label}']")


def test_the_address_follows_every_change_at_once(server, page):
    page.goto(f"{server}/data", wait_until="domcontentloaded")
    max_len = slider(page, "Max length (tokens)")
    max_len.wait_for(timeout=60_000)
    assert max_len.input_value() == "60"
    max_len.focus()
    max_len.press("ArrowLeft")  # 60 -> 55
    wait_for_url(page, "max_len=55")
    max_len.press("ArrowLeft")  # 55 -> 50
    wait_for_url(page, "max_len=50")
    min_freq = slider(page, "Min word count")
    min_freq.focus()
    min_freq.press("ArrowRight")  # 2 -> 3
    url = wait_for_url(page, "min_freq=3")
    assert "max_len=50" in url
    # the copied link opens the same setup in a new session
    other = page.context.new_page()
    other.goto(url, wait_until="domcontentloaded")
    slider(other, "Max length (tokens)").wait_for(timeout=60_000)
    assert slider(other, "Max length (tokens)").input_value() == "50"
    assert slider(other, "Min word count").input_value() == "3"
    other.close()


def test_uploading_a_file_keeps_the_padding_side(server, page, tmp_path):
    rows = "\n".join(f"{'great fun film' if i % 2 else 'dull boring mess'} {i},{'pos' if i % 2 else 'neg'}"
                     for i in range(80))
    csv = tmp_path / "reviews.csv"
    csv.write_text(f"review,sentiment\n{rows}\n", encoding="utf-8")
    page.goto(f"{server}/data", wait_until="domcontentloaded")
    page.get_by_role("radio", name="post", exact=True).wait_for(timeout=60_000)
    assert page.get_by_role("radio", name="post", exact=True).is_checked()
    page.get_by_role("radio", name="Upload a file").click()
    page.locator("input[type='file']").set_input_files(str(csv))
    page.get_by_text("Upload: reviews.csv").first.wait_for(timeout=60_000)
    page.get_by_text("A padded batch (post-padding)").wait_for(timeout=30_000)
    assert page.get_by_role("radio", name="post", exact=True).is_checked()
    assert not page.get_by_role("radio", name="pre", exact=True).is_checked()
    # the next change trains with what is shown: post
    slider(page, "Min word count").focus()
    slider(page, "Min word count").press("ArrowRight")
    wait_for_url(page, "min_freq=3")
    assert "padding=pre" not in page.url
    assert page.get_by_role("radio", name="post", exact=True).is_checked()


def test_importing_a_tutorial_model_on_explain(server, page, tmp_path):
    import json
    import re

    import torch

    from tests.tutorial_models import SentimentLSTM

    words = "the movie was good bad great awful plot".split()
    (tmp_path / "vocab_to_int.json").write_text(json.dumps({w: i for i, w in enumerate(words, 1)}))
    torch.manual_seed(0)
    torch.save(SentimentLSTM(len(words) + 1, 1, 6, 5, 2).state_dict(), tmp_path / "sentiment_lstm.pt")
    page.goto(f"{server}/explain", wait_until="domcontentloaded")
    page.get_by_role("combobox", name="Model").first.click(timeout=60_000)
    page.get_by_role("option", name=re.compile("Import a model trained with a tutorial")).click()
    inputs = page.locator("input[type='file']")
    inputs.nth(1).wait_for(state="attached", timeout=30_000)
    inputs.nth(0).set_input_files(str(tmp_path / "sentiment_lstm.pt"))
    page.get_by_text("sentiment_lstm.pt").first.wait_for(timeout=30_000)  # the upload's rerun redraws the inputs
    page.locator("input[type='file']").nth(1).set_input_files(str(tmp_path / "vocab_to_int.json"))
    page.get_by_text("vocab_to_int.json").first.wait_for(timeout=30_000)
    # the server has both files (the browser shows a file's name before the app has it)
    page.get_by_text("Ready to import sentiment_lstm.pt with vocab_to_int.json.").wait_for(timeout=30_000)
    page.get_by_role("button", name="Import", exact=True).click()
    page.get_by_text("sentiment_lstm (imported)").first.wait_for(timeout=60_000)
    page.get_by_text("Imported from a tutorial's files").first.wait_for(timeout=30_000)
    page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot').length >= 1", timeout=60_000)


SHOW_RUN = """() => { const input = document.querySelector('input[aria-label="Show run"]');
  return input ? input.value : ''; }"""
HEADING = """() => [...document.querySelectorAll('h3')].map(h => h.innerText).join(' | ')"""
# Page time of the last change in the main area; settled = no "running" status and no change for
# `quiet` ms.
WATCH_CHANGES = """() => { window.__gsLast = performance.now();
  new MutationObserver(() => { window.__gsLast = performance.now(); })
    .observe(document.querySelector('[data-testid="stMain"]'),
             {subtree: true, childList: true, attributes: true, characterData: true}); }"""
SETTLED = """(quiet) => !document.querySelector('[data-testid="stStatusWidget"]')
  && performance.now() - window.__gsLast > quiet"""
SEEN = """() => [...document.querySelectorAll('h3, [data-testid="stSidebar"], [data-testid="stToast"],
  [data-testid="stAlert"]')].map(e => e.innerText.replace(/\\s+/g, ' ')).join(' | ')"""


def test_second_run_is_selected_and_live_at_once(server, page):
    page.goto(f"{server}/train?dataset=synthetic_negation&n=400&epochs=1&hidden_dim=8&emb_dim=8",
              wait_until="domcontentloaded")
    page.get_by_role("button", name="▶ Start training").click(timeout=60_000)
    page.wait_for_function(f"() => ({HEADING})().includes('completed')", timeout=150_000)
    first = page.evaluate(SHOW_RUN)
    assert "running" not in first and "queued" not in first  # no state in the label to go stale
    # The run's end redraws the whole page (download buttons, confusion matrix): click once it is
    # drawn, as a person would, so that the click cannot land while the button moves.
    page.evaluate(WATCH_CHANGES)
    page.wait_for_function(SETTLED, arg=800, timeout=30_000)
    page.get_by_role("button", name="▶ Start training").click(timeout=10_000)
    # the new run is shown at once (queued or running), not the finished one ...
    try:
        page.wait_for_function(f"(old) => {{ const t = ({SHOW_RUN})(); return t && t !== old; }}", arg=first,
                               timeout=20_000)
    except sync_api.TimeoutError:
        pytest.fail(f"the new run was not shown: 'Show run' still says {page.evaluate(SHOW_RUN)!r}; "
                    f"the page says {page.evaluate(SEEN)!r}")
    second = page.evaluate(SHOW_RUN)
    page.wait_for_function(f"() => /queued|running/.test(({HEADING})())", timeout=20_000)
    # ... and live: the heading and the sidebar count follow it to the end without a click
    page.wait_for_function(f"() => ({HEADING})().includes('completed')", timeout=150_000)
    assert page.evaluate(SHOW_RUN) == second
    page.wait_for_function("() => document.querySelector('[data-testid=\"stSidebar\"]').innerText"
                           ".includes('0 training now · 0 waiting')", timeout=20_000)
    assert page.locator("[data-testid='stException']").count() == 0


DIAGRAM_GEOMETRY = """() => {
  const svg = document.querySelector('svg');
  const view = svg.viewBox.baseVal;
  const texts = [...svg.querySelectorAll('text')].map(t => ({text: t.textContent, box: t.getBBox()}));
  const outside = texts.filter(({box}) => box.x < view.x - 0.5 || box.y < view.y - 0.5
      || box.x + box.width > view.x + view.width + 0.5 || box.y + box.height > view.y + view.height + 0.5)
    .map(t => t.text);
  // every straight piece of every arrow, sampled: none may run through a word
  const crossed = new Set();
  for (const el of svg.querySelectorAll('line, polyline')) {
    const pts = el.tagName === 'line'
      ? [[el.x1.baseVal.value, el.y1.baseVal.value], [el.x2.baseVal.value, el.y2.baseVal.value]]
      : [...el.points].map(p => [p.x, p.y]);
    for (let i = 0; i + 1 < pts.length; i++) {
      for (let s = 0; s <= 40; s++) {
        const x = pts[i][0] + (pts[i + 1][0] - pts[i][0]) * s / 40, y = pts[i][1] + (pts[i + 1][1] - pts[i][1]) * s / 40;
        for (const {text, box} of texts) {
          if (x > box.x + 1 && x < box.x + box.width - 1 && y > box.y + 1 && y < box.y + box.height - 1) crossed.add(text);
        }
      }
    }
  }
  return {outside, crossed: [...crossed]};
}"""


@pytest.mark.parametrize("name", ["lstm_cell", "gru_cell", "rnn_one_to_one", "rnn_one_to_many", "rnn_many_to_one",
                                  "rnn_many_to_many"])
def test_diagrams_keep_every_label_inside_and_clear_of_the_arrows(browser, name):
    """Inside the cell's drawings: no caption runs past the picture's edge and no arrow runs
    through a gate's label (both happened on a projector)."""
    from app_support import ROOT

    page = browser.new_page()
    try:
        page.goto((ROOT / "assets" / f"{name}.svg").as_uri())
        geometry = page.evaluate(DIAGRAM_GEOMETRY)
    finally:
        page.close()
    assert geometry == {"outside": [], "crossed": []}


def test_example_pills_wrap_instead_of_hiding_behind_the_edge(server, browser):
    """At 1280x720 the examples beside Explain's sentence box were cut off ("Not bad at all, I enjoyed i…")."""
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    page = context.new_page()
    try:
        page.goto(f"{server}/explain", wait_until="domcontentloaded")
        page.locator("[data-testid='stButtonGroup'] button").first.wait_for(timeout=60_000)
        hidden_pills = """() => [...document.querySelectorAll('[data-testid="stButtonGroup"] button')]
          .filter(b => { const row = b.parentElement.getBoundingClientRect(), r = b.getBoundingClientRect();
                         const label = b.querySelector('div, p');
                         return r.right > row.right + 1 || (label && label.scrollWidth > label.clientWidth + 1); })
          .map(b => b.innerText)"""
        try:  # the page may still be laying out; give it a while to settle before judging
            page.wait_for_function(f"() => ({hidden_pills})().length === 0", timeout=20_000)
        except sync_api.TimeoutError:
            pass
        hidden = page.evaluate(hidden_pills)
    finally:
        context.close()
    assert hidden == []


IG_BARS = """() => { for (const el of document.querySelectorAll('.js-plotly-plot'))
    if (JSON.stringify(el.layout.title || '').includes('Integrated gradients')) return Array.from(el._fullData[0].x); return null; }"""


def test_integration_steps_redraw_the_chips_and_the_open_saliency_tab(server, page):
    """The integrated-gradient settings rerun only their own fragment (fast clicks); with Saliency &
    occlusion open, its IG bars, drawn outside that fragment, follow the new setting too."""
    page.goto(f"{server}/explain?tab={quote('Saliency & occlusion')}&steps=5&text={quote('not bad at all , i enjoyed it')}",
              wait_until="domcontentloaded")
    steps = slider(page, "Integration steps")
    steps.wait_for(timeout=60_000)
    page.wait_for_function(IG_BARS, timeout=60_000)

    def chips() -> list[float]:
        return sorted(round(float(t.rsplit(": ", 1)[1].split()[0]), 3)
                      for t in page.locator(".gs-tokens span").evaluate_all("els => els.map(e => e.title)"))

    def bars() -> list[float]:
        return sorted(round(v, 3) for v in page.evaluate(IG_BARS))

    before = chips()
    assert bars() == before
    steps.focus()
    steps.press("ArrowRight")  # 5 -> 10 steps: different attributions
    wait_for_url(page, "steps=10")
    deadline = time.time() + 30
    while time.time() < deadline and (chips() == before or bars() != chips()):
        time.sleep(0.2)
    assert chips() != before, "the chips kept the 5-step attributions"
    assert bars() == chips(), "the Saliency tab's IG bars kept the old setting"
