"""App latency, measured in a real browser (run by hand):

1. seconds from `streamlit run app/Home.py` process start to the Home prediction visible;
2. click-to-update latency on Explain (typing a new sentence) while a training run is going
   in another tab, once per training-worker niceness (``--niceness 0,10``: workers at the app's
   priority, then GateScope's default of 10 below it), printed side by side.

Targets: startup <= 5 s, Explain update <= 300 ms (median).

    PYTHONPATH=. python benchmarks/app_startup.py [--repeats 5]

Needs playwright (pip) and Debian's chromium (/usr/bin/chromium). Uses the repository's
pretrained/ models when present, else tiny ones trained first (not counted).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "browser"))

from app_support import CHROMIUM, CHROMIUM_ARGS, cold_start, shared_pretrained_dir, stop_server  # noqa: E402


def measure(niceness: int, repeats: int) -> dict[str, float]:
    """One server start with training workers at ``niceness``: startup and Explain latencies (ms)."""
    from playwright.sync_api import sync_playwright

    pretrained = shared_pretrained_dir()
    runs_dir = Path(tempfile.mkdtemp(prefix="gatescope-bench-runs-"))
    env = {"GATESCOPE_RUNS_DIR": str(runs_dir), "GATESCOPE_PRETRAINED_DIR": str(pretrained),
           "GATESCOPE_WORKER_NICENESS": str(niceness)}
    print(f"-- training workers at niceness {niceness}")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        proc, url, verdict_s = cold_start(page, env, timeout_s=60)
        start = time.perf_counter() - verdict_s
        try:
            page.locator(".heatmaplayer").first.wait_for(timeout=60_000)
            startup = time.perf_counter() - start
            print(f"startup: {startup:.2f} s from process start to the Home prediction and heatmap (target <= 5 s)")

            trainer = browser.new_page(viewport={"width": 1400, "height": 1000})
            trainer.goto(f"{url}/Train?dataset=synthetic_long_range&n=20000&epochs=50&hidden_dim=128",
                         wait_until="domcontentloaded")
            trainer.get_by_role("button", name="▶ Start training").click(timeout=60_000)
            trainer.get_by_text("running").first.wait_for(timeout=60_000)
            time.sleep(3)  # let the worker get going

            explain = browser.new_page(viewport={"width": 1400, "height": 1000})
            explain.goto(f"{url}/Explain", wait_until="domcontentloaded")
            explain.locator(".gs-tokens").first.wait_for(timeout=60_000)
            box = explain.get_by_role("textbox", name="Sentence")
            timings = []
            for i in range(repeats):
                sentence = f"the film was not good but the music number {i} was great"
                old = explain.locator(".gs-verdict").inner_text() + explain.locator(".gs-tokens").first.inner_html()
                t0 = time.perf_counter()
                box.fill(sentence)
                box.press("Enter")
                explain.wait_for_function(
                    "(w) => { const e = document.querySelector('.gs-tokens'); return e && e.innerText.includes(w); }",
                    arg="number", timeout=30_000)
                explain.wait_for_function(
                    "(w) => { const e = document.querySelector('.gs-tokens'); return e && e.innerText.includes(w); }",
                    arg=f"{i}", timeout=30_000)
                timings.append((time.perf_counter() - t0) * 1000)
                del old
            # clicks inside a tab (a fragment): pick a word to drop on "What if?"
            box.fill("the film was not good but the music was great")
            box.press("Enter")
            explain.wait_for_function("() => document.querySelector('.gs-tokens')?.innerText.includes('music')",
                                      timeout=30_000)
            explain.get_by_role("tab", name="✏️ What if?").click()
            clicks = []
            for word in ["film", "not", "good", "music", "great"][: max(1, repeats)]:
                t0 = time.perf_counter()
                explain.locator("[data-testid='stButtonGroup']").get_by_text(word, exact=True).first.click()
                explain.wait_for_function(
                    "(w) => [...document.querySelectorAll('p')].some(p => p.innerText.startsWith('Edited:') && "
                    "!p.innerText.split(' ').includes(w))", arg=word, timeout=30_000)
                clicks.append((time.perf_counter() - t0) * 1000)
            print(f"Explain click (drop a word, What-if tab) while training: median {statistics.median(clicks):.0f} ms, "
                  f"max {max(clicks):.0f} ms over {len(clicks)} clicks (target <= 300 ms)")
            running = trainer.get_by_text("running").count() > 0
            print(f"Explain new sentence (full page recompute) while training ({'run still training' if running else 'run ended early'}): "
                  f"median {statistics.median(timings):.0f} ms, max {max(timings):.0f} ms over {len(timings)} "
                  f"updates")
            try:
                trainer.get_by_role("button", name="⏹ Stop").click(timeout=10_000)
            except Exception:  # noqa: BLE001 - the run may have finished
                pass
            return {"startup": startup, "click": statistics.median(clicks), "sentence": statistics.median(timings)}
        finally:
            stop_server(proc)
            browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="Explain updates to time")
    parser.add_argument("--niceness", default="0,10",
                        help="training-worker niceness values to compare, one server start each (default 0,10)")
    args = parser.parse_args()
    results = {n: measure(n, args.repeats) for n in (int(v) for v in args.niceness.split(","))}
    if len(results) > 1:
        base = results[min(results)]
        print("side by side (median ms; ratio = niceness-0 time / this time):")
        for niceness, r in results.items():
            print(f"  niceness {niceness:2d}: click {r['click']:.0f} ({base['click'] / r['click']:.2f}x), "
                  f"new sentence {r['sentence']:.0f} ({base['sentence'] / r['sentence']:.2f}x)")


if __name__ == "__main__":
    main()
