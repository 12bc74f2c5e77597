"""Real-browser check that hostile class names, a nickname, a sentence and link values show as text
(issue 22, items 1 and 7a): no script runs, no element is injected, on every page that shows them.

Skipped (not failed) where playwright or chromium is missing. Never runs `playwright install`.
"""
from __future__ import annotations

import json
import os
import shutil
from urllib.parse import quote

import pytest

from app_support import CHROMIUM, completed_run, start_server, stop_server

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
    pytest.skip("chromium is not installed (apt-get install chromium)", allow_module_level=True)

IFRAME = "<iframe srcdoc=\"<script>parent.document.title='pwned'</script>\">"
IMG = "<img src=x onerror=document.title='pwned'>"
LINK = "[x](http://evil.invalid/)"
LABELS = [IFRAME, f"{LINK} ![i](http://evil.invalid/i.png)"]
NICKNAME = "<img src=x onerror=alert(1)>"

# What was injected into the page: iframes or images carrying a payload, any element with an
# event handler attribute, links or images pointing at the payloads' host; and the text shown
# (text boxes and select boxes included).
INJECTED = """() => ({
  title: document.title,
  iframes: [...document.querySelectorAll('iframe')].filter(f => (f.getAttribute('srcdoc') || '').includes('pwned')).length,
  handlers: [...document.querySelectorAll('*')].filter(e => [...e.attributes].some(a => a.name.startsWith('on'))).length,
  evil: [...document.querySelectorAll('a[href*="evil"], img[src*="evil"], img[src="x"]')].map(
    e => e.outerHTML.slice(0, 200) + ' in ' + (e.closest('[data-testid]') || e.parentElement).outerHTML.slice(0, 300)),
  text: document.body.innerText + [...document.querySelectorAll('input')].map(i => i.value).join(' '),
})"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A server whose shipped model and one run have hostile class names; the run has a hostile nickname."""
    from sentiment_core import runs
    from sentiment_core.checkpoint import save_checkpoint
    from test_app_injection import hostile_bundle

    root = tmp_path_factory.mktemp("browser-injection")
    save_checkpoint(root / "pretrained" / "lstm.safetensors", hostile_bundle(LABELS))
    name = completed_run(root / "runs", epochs=1)
    save_checkpoint(runs.load_run(name, root / "runs").best_path, hostile_bundle(LABELS))  # past the upload checks
    config = runs.load_run(name, root / "runs").path / "config.json"
    config.write_text(json.dumps({**json.loads(config.read_text()), "nickname": NICKNAME}))
    proc, url = start_server({"GATESCOPE_RUNS_DIR": str(root / "runs"), "GATESCOPE_PRETRAINED_DIR": str(root / "pretrained"),
                              "GATESCOPE_RUN_EXECUTOR": "thread"})
    yield url, name
    stop_server(proc)


def visit(page, url: str, ready: str, shows: tuple[str, ...]) -> dict:
    """Open ``url``, wait for ``ready`` (a CSS selector) and the texts ``shows``, and return what was injected."""
    page.goto(url, wait_until="domcontentloaded")
    page.locator(ready).first.wait_for(timeout=90_000)
    for text in shows:
        page.wait_for_function(f"(t) => ({INJECTED})().text.includes(t)", arg=text, timeout=60_000)
    page.wait_for_timeout(1500)  # an injected srcdoc script or onerror handler has run by now
    return page.evaluate(INJECTED)


def assert_clean(found: dict, where: str) -> None:
    assert found["title"] != "pwned", where
    assert found["iframes"] == 0 and found["handlers"] == 0 and not found["evil"], (where, found["evil"])


def test_hostile_class_names_sentence_and_links_show_as_text(server, page):
    url, name = server
    sentence = quote(f"the film was good {LINK} :red[x]")
    found = visit(page, f"{url}/explain?model=lstm&text={sentence}&target={quote(IMG)}", ".gs-verdict",
                  ("parent.document.title='pwned'", "no class"))
    assert_clean(found, "explain")
    assert LINK in found["text"] or "evil.invalid" in found["text"]
    found = visit(page, f"{url}/explain?model=run:{name}&text=good", ".gs-verdict", ("parent.document.title",))
    assert_clean(found, "explain, run")
    found = visit(page, f"{url}/?model=lstm&text=good&dataset={quote(LINK)}", ".gs-verdict",
                  ("parent.document.title", LINK))
    assert_clean(found, "home")


def test_hostile_nickname_and_run_show_as_text(server, page):
    url, name = server
    found = visit(page, f"{url}/gallery", ".js-plotly-plot", (NICKNAME,))
    assert_clean(found, "gallery")
    found = visit(page, f"{url}/train?run={name}&dataset={quote(IMG)}", "[data-testid='stHeading']", (IMG,))
    assert_clean(found, "train")
    found = visit(page, f"{url}/compare?runs={name}&text=good", ".js-plotly-plot", ())
    assert_clean(found, "compare")
