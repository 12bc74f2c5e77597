"""Start to Stop on a loaded server, in real Chromium (run by hand; issue 23 item 5).

One ``streamlit run app/Home.py`` on 127.0.0.1 with two runs training at once (each started from
the Train page, as app_latency.py starts its one). A third page then presses Start N times; each
time counts from the click to the new run's "⏹ Stop" button drawn, then presses Stop and counts
from that click to "⏳ Stopping…". Goal: both under 2 s while two runs train on the machine.

    PYTHONPATH=. python benchmarks/stop_latency.py [--repeats 5]

Needs playwright and /usr/bin/chromium.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from app_latency import ROOT, percentiles, start_training, stop_training  # noqa: E402
from app_support import CHROMIUM, CHROMIUM_ARGS, start_server, stop_server, wait_healthy  # noqa: E402

SMALL = "/train?dataset=synthetic_negation&n=6000&epochs=60&hidden_dim=32&emb_dim=16"
SHOW_RUN = "() => (document.querySelector('[aria-label=\"Show run\"]') || {}).value || ''"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    env = {"GATESCOPE_RUNS_DIR": tempfile.mkdtemp(prefix="gs-stop-"), "GATESCOPE_MAX_CONCURRENT_RUNS": "3",
           "GATESCOPE_RUN_EXECUTOR": "process"}
    proc, url = start_server(env, root=ROOT)
    to_stop, to_stopping = [], []
    try:
        wait_healthy(url)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            trainers = [start_training(browser, url) for _ in range(2)]
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(url + SMALL, wait_until="domcontentloaded")
            for _ in range(args.repeats):
                start = page.get_by_role("button", name="▶ Start training")
                start.wait_for(timeout=60_000)
                time.sleep(3.5)  # past the double-click guard
                before = page.evaluate(SHOW_RUN)
                t0 = time.perf_counter()
                start.click()
                page.wait_for_function(f"(old) => ({SHOW_RUN})() !== old", arg=before, timeout=120_000)
                stop = page.get_by_role("button", name="⏹ Stop")
                stop.wait_for(timeout=120_000)
                to_stop.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                stop.click()
                page.get_by_role("button", name="⏳ Stopping…").or_(
                    page.get_by_text("cancelled before it started")).first.wait_for(timeout=120_000)
                to_stopping.append(time.perf_counter() - t0)
            for trainer in trainers:
                stop_training(trainer)
            browser.close()
    finally:
        stop_server(proc)
    for label, times in (("Start -> Stop shown", to_stop), ("Stop -> acknowledged", to_stopping)):
        p50, p95 = percentiles(times)
        print(f"{label}: p50 {p50:.2f} s, p95 {p95:.2f} s, max {max(times):.2f} s over {len(times)} "
              f"(goal <= 2 s: {'met' if max(times) <= 2 else 'NOT met'})")


if __name__ == "__main__":
    main()
