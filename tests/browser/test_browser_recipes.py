"""What the widgets show is what trains: every tutorial recipe, applied in turn in one browser
session, then GloVe; each time Start is pressed and every on-screen setting is compared with the
run's config.json (and config.json with the recipe).

Real Chromium against `streamlit run`: AppTest has no browser, and the bug this guards against
(the browser kept showing, and sent back, a widget's old value after code changed it) lives in
the browser. The datasets come from ``../shared/datasets`` through the mirror option (the first
IMDb recipe waits for the page to count the words of 22,500 reviews). Skipped where playwright,
chromium or the shared datasets are missing.
"""
from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from app_support import CHROMIUM, ROOT, start_server, stop_server

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
    pytest.skip("chromium is not installed (apt-get install chromium)", allow_module_level=True)

from sentiment_core import recipes, settings  # noqa: E402
from sentiment_core.recipes import RECIPES  # noqa: E402

SHARED_DATASETS = ROOT.parent / "shared" / "datasets"

# Every settings widget's label and value as the browser shows it, the hidden tabs' included.
SCREEN = """() => {
  const out = {};
  const root = document.querySelector('[data-testid="stMain"]') || document;
  for (const w of root.querySelectorAll('[data-testid="stSlider"], [data-testid="stSelectbox"], '
      + '[data-testid="stCheckbox"], [data-testid="stNumberInput"], [data-testid="stButtonGroup"]')) {
    const label = (w.querySelector('[data-testid="stWidgetLabel"]') || {}).textContent;
    const kind = w.dataset.testid;
    let value = null;
    if (kind === 'stSlider') value = [...w.querySelectorAll('[data-testid="stSliderThumbValue"]')]
        .map(e => e.textContent.trim()).join(',');
    else if (kind === 'stSelectbox') value = w.querySelector('input[role="combobox"]').value;
    else if (kind === 'stCheckbox') value = w.querySelector('input').checked;
    else if (kind === 'stNumberInput') value = w.querySelector('input').value;
    else value = [...w.querySelectorAll('button[aria-checked="true"]')].map(b => b.textContent.trim()).join(',');
    if (label) out[label.trim()] = value;
  }
  return out;
}"""
RUNNING = "() => document.querySelector('[data-testid=\"stApp\"]').dataset.testScriptState !== 'notRunning'"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    if not (SHARED_DATASETS / "imdb" / "aclImdb.tar.gz").is_file():
        pytest.skip(f"the shared datasets are not at {SHARED_DATASETS}")
    runs_dir = tmp_path_factory.mktemp("recipe-runs")
    proc, url = start_server({"GATESCOPE_RUNS_DIR": str(runs_dir), "GATESCOPE_DATA_MIRROR": str(SHARED_DATASETS),
                              "GATESCOPE_CACHE_DIR": str(tmp_path_factory.mktemp("cache")),
                              "GATESCOPE_RUN_EXECUTOR": "process"})
    yield url, runs_dir
    stop_server(proc)


def settle(page, quiet_s: float = 0.6, timeout_s: float = 120) -> None:
    """Wait until the page has stopped rerunning for ``quiet_s``."""
    deadline = time.time() + timeout_s
    quiet_since = None
    while time.time() < deadline:
        if page.evaluate(RUNNING):
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.time()
        elif time.time() - quiet_since >= quiet_s:
            return
        time.sleep(0.1)
    raise AssertionError("the page kept running")


def expected_screen(config: dict) -> dict[str, object]:
    """What each Train widget must show for a run's config.json: label -> value."""
    specs = settings.specs()
    shown = {}
    for group in ("model", "train", "encoding", "vocab"):
        for name, spec in specs[group].items():
            if name in config[group] and name not in ("embeddings", "freeze_embeddings", "vectors", "cell"):
                shown[spec.label] = config[group][name]
    shown["Cell"] = config["model"]["cell"].upper()
    shown["Embeddings"] = settings.EMBEDDING_CHOICES[settings.embedding_choice(config["model"])]
    return shown


def differences(screen: dict, wanted: dict) -> list[str]:
    """The widgets whose on-screen value is not ``wanted``'s."""
    wrong = []
    for label, want in wanted.items():
        got = screen.get(label)
        if isinstance(want, bool):
            same = got is want
        elif isinstance(want, (int, float)):
            same = got not in (None, "") and abs(float(got) - want) <= 1e-9 + 0.006 * (want != int(want))
        else:
            same = got == want
        if not same:
            wrong.append(f"{label}: the screen shows {got!r}, the run has {want!r}")
    return wrong


def wait_for_screen(page, wanted: dict, timeout_s: float = 90) -> dict:
    """The on-screen settings once they equal ``wanted``, or as they stand after ``timeout_s``."""
    deadline = time.time() + timeout_s
    while True:
        screen = page.evaluate(SCREEN)
        if not differences(screen, wanted) or time.time() > deadline:
            return screen
        time.sleep(0.5)


def start_and_read_config(page, runs_dir: Path) -> dict:
    """Press Start (once the page has its data), wait for the new run's config.json, stop the run
    with its Stop button, and return the config."""
    before = {p.name for p in runs_dir.iterdir()}
    start = page.get_by_role("button", name="▶ Start training")
    settle(page, timeout_s=300)  # the first IMDb recipe counts the words of 22,500 reviews
    start.click(timeout=30_000)
    deadline = time.time() + 60
    while time.time() < deadline:
        new = [p for p in runs_dir.iterdir() if p.name not in before and (p / "config.json").is_file()]
        if new:
            page.get_by_role("button", name="⏹ Stop").click(timeout=30_000)  # the new run is the one shown
            return json.loads((new[0] / "config.json").read_text())
        time.sleep(0.2)
    alerts = page.locator("[data-testid='stAlert']").all_inner_texts()
    raise AssertionError(f"Start made no run; the page says: {alerts}")


def choose(page, box: str, option: str) -> None:
    """Pick ``option`` in select box ``box`` (again if a rerun, e.g. a run ending, closed the list)."""
    combo = page.get_by_role("combobox", name=box)
    for _ in range(5):
        combo.click()
        try:
            page.get_by_role("option", name=option, exact=True).click(timeout=5_000)
        except sync_api.TimeoutError:
            continue
        settle(page)
        if combo.input_value() == option:
            return
    raise AssertionError(f"{box!r} did not take {option!r}")


def apply(page, title: str) -> None:
    choose(page, "Tutorial", title)
    page.get_by_role("button", name="Use these settings").click()


def test_every_recipe_then_glove_shows_what_trains(server, page):
    url, runs_dir = server
    page.goto(f"{url}/train", wait_until="domcontentloaded")
    page.get_by_role("button", name="▶ Start training").wait_for(timeout=90_000)
    page.get_by_text("Start from a tutorial").click()
    settle(page)
    problems = []
    # each recipe after another one: its widgets must change from the previous recipe's values
    for key, recipe in [*list(RECIPES.items())[1:], *list(RECIPES.items())[:1]]:
        apply(page, recipe.title)
        wanted = expected_screen(recipes._as_recorded(recipes.recipe_settings(recipe)))
        screen = wait_for_screen(page, wanted)
        problems += [f"{key}: {line}" for line in differences(screen, wanted)]
        if recipe.dataset == "sarcasm":  # downloaded only: no data here, so Start stays disabled
            settle(page)
            assert page.get_by_role("button", name="▶ Start training").is_disabled()
            continue
        config = start_and_read_config(page, runs_dir)
        problems += [f"{key}: {line}" for line in differences(screen, expected_screen(config))]
        problems += [f"{key}: config.json is not the recipe: {line}" for line in recipes.differences(recipe, config)]
    assert not problems, "\n".join(problems)

    # GloVe fixes the embedding size at 50, on screen too
    choose(page, "Embeddings", settings.EMBEDDING_CHOICES["glove_frozen"])
    screen = wait_for_screen(page, {"Embedding size": 50, "Embeddings": settings.EMBEDDING_CHOICES["glove_frozen"]})
    assert screen["Embedding size"] == "50"
    config = start_and_read_config(page, runs_dir)
    assert config["model"]["embeddings"] == "glove" and config["model"]["freeze_embeddings"] is True
    assert differences(screen, expected_screen(config)) == []
    assert page.locator("[data-testid='stException']").count() == 0
