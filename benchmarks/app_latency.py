"""App latency and memory as a new user meets them, in real Chromium (run by hand).

1. Cold start: seconds to the Home verdict from ``streamlit run`` and from the first connection (the
   browser opens Home once ``/_stcore/health`` answers), and to Home's charts drawn.
2. Interactions, p50/p95 per type, first on a quiet server, then while a run trains in another
   tab: a new sentence on Explain with each tab open, widget changes on Explain (integration
   steps, explained class), Inside the cell (time step, hidden unit) and Compare (curve).
   An interaction's time runs from the input to the last change of the page once it has
   settled (no DOM change for 0.4 s and Streamlit no longer running).
3. ``--soak MINUTES --sessions N``: N browser sessions open every page and every tab in turn, with
   fresh sentences, for MINUTES; the server's resident memory is printed every 30 s.

Targets (issue "Fast in class"): cold start <= 3 s to the verdict and <= 4 s to the charts (issue 22:
<= 2 s to the verdict from the first connection, the server warming itself at start); any
widget change <= 300 ms p50 while training; a new sentence on Explain <= 600 ms p50 while
training; soak memory <= 500 MB with no growth trend.

    PYTHONPATH=. python benchmarks/app_latency.py [--repeats 7] [--no-training] [--runs-dir runs]
    PYTHONPATH=. python benchmarks/app_latency.py --soak 60 --sessions 10
    PYTHONPATH=. python benchmarks/app_latency.py --cold-starts 5   # only the cold start, median of 5
    PYTHONPATH=. python benchmarks/app_latency.py --cold-starts 3 --baseline /tmp/old  # in turn with another checkout

Needs playwright and /usr/bin/chromium. The server reads every shipped model in pretrained/ (so Home
and Explain open on the BiLSTM, as a class sees them); ``--pretrained DIR`` points it elsewhere.
"""
from __future__ import annotations

import argparse
import itertools
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import quote

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "browser"))

from app_support import CHROMIUM, CHROMIUM_ARGS, cold_start, start_server, stop_server  # noqa: E402

EXPLAIN_TABS = ("Gates", "Hidden & cell states", "Word by word", "Saliency & occlusion", "What if?", "Intervene",
                "Memory ribbons")
# Every tab of the other tabbed pages, for the soak (the pages' TABS tuples; views cannot be imported here).
PAGE_TABS = {"inside": ("Step through", "Counting parameters", "RNN types & cells",
                        "Toy model: the whole forward pass", "Unrolled network"),
             "gradients": ("Gradient connectivity", "Long-range experiment", "Gradient clipping"),
             "dataset": ("Examples", "Slices", "Map", "Units")}
WORDS = "good bad great awful boring fun slow lovely dull brilliant".split()
VIEWPORT = {"width": 1400, "height": 1000}
# Records the page time of the last DOM change inside the app's main area, and of the last time
# Streamlit's "running" status showed (so a rerun that starts late is not mistaken for none).
OBSERVER = """() => { window.__gsLast = performance.now(); window.__gsRan = 0;
  const root = document.querySelector('[data-testid="stMain"]') || document.body;
  new MutationObserver(() => { window.__gsLast = performance.now(); })
    .observe(root, {subtree: true, childList: true, attributes: true, characterData: true});
  new MutationObserver(() => { if (document.querySelector('[data-testid="stStatusWidget"]'))
      window.__gsRan = performance.now(); })
    .observe(document.body, {subtree: true, childList: true}); }"""
# Settled: not running, no change for `quiet` ms, a rerun seen (or 3 s passed), and the needle (a
# word of the new sentence) shown among the tokens when one is given.
SETTLED = """([t0, quiet, needle]) => { const now = performance.now();
  const idle = !document.querySelector('[data-testid="stStatusWidget"]');
  const ran = window.__gsRan > t0 || now - t0 > 3000;
  const tokens = document.querySelector('.gs-tokens');
  const shown = needle === null || (tokens && [...tokens.querySelectorAll('span')].some(t => t.textContent === needle));
  return idle && ran && shown && window.__gsLast > t0 && now - window.__gsLast > quiet ? window.__gsLast - t0 : null; }"""


def sentence(i: int) -> str:
    """A new sentence each time, so no cache answers for it."""
    a, b = WORDS[i % len(WORDS)], WORDS[(i * 7 + 3) % len(WORDS)]
    return f"the film was {a} but the ending number {i} was {b}"


def settle(page, act, needle: str | None = None, timeout: float = 60.0) -> float:
    """Milliseconds from ``act()`` to the page's last change once settled (and showing ``needle``)."""
    t0 = page.evaluate("() => performance.now()")
    act()
    handle = page.wait_for_function(SETTLED, arg=[t0, 400, needle], timeout=timeout * 1000, polling=50)
    return float(handle.json_value())


def open_app(browser, url: str, listen=None):
    """A new page on ``url`` (``listen(page)`` first, e.g. to catch its console), watched for changes."""
    page = browser.new_page(viewport=VIEWPORT)
    if listen is not None:
        listen(page)
    page.goto(url, wait_until="domcontentloaded")
    page.wait_for_selector('[data-testid="stMain"]', timeout=60_000)
    page.evaluate(OBSERVER)
    return page


def wait_ready(page, selector: str) -> None:
    page.locator(selector).first.wait_for(timeout=90_000)
    page.wait_for_function(SETTLED, arg=[0, 400, None], timeout=90_000, polling=100)


class Progress(dict):
    """Interaction timings by type, printed as each type finishes."""

    def __setitem__(self, kind: str, times: list[float]) -> None:
        super().__setitem__(kind, times)
        print(f"  {kind}: " + ", ".join(f"{t:.0f}" for t in times) + " ms", flush=True)


def interactions(browser, url: str, repeats: int, counter) -> dict[str, list[float]]:
    """One round of every interaction type; milliseconds per type."""
    out: dict[str, list[float]] = Progress()
    for tab in EXPLAIN_TABS:
        page = open_app(browser, f"{url}/explain?tab={quote(tab)}")
        wait_ready(page, ".gs-tokens")
        box = page.get_by_role("textbox", name="Sentence")
        times = []
        for _ in range(repeats):
            i = next(counter)
            times.append(settle(page, lambda: (box.fill(sentence(i)), box.press("Enter")), needle=str(i)))
        out[f"Explain: new sentence, tab {tab}"] = times
        page.close()
    page = open_app(browser, f"{url}/explain")
    wait_ready(page, ".gs-tokens")
    steps = page.get_by_test_id("stSlider").filter(has_text="Integration steps").get_by_role("slider")
    out["Explain: integration steps"] = [settle(page, lambda: steps.press("ArrowRight" if i % 2 else "ArrowLeft"))
                                         for i in range(repeats)]
    classes = page.get_by_test_id("stButtonGroup").filter(has_text="negative").first
    names = itertools.cycle(["negative", "positive"])
    out["Explain: explained class"] = [settle(page, lambda: classes.get_by_text(next(names), exact=True).click())
                                       for _ in range(repeats)]
    page.close()
    page = open_app(browser, f"{url}/inside")
    wait_ready(page, ".katex")
    step = page.get_by_test_id("stSlider").filter(has_text="Time step").get_by_role("slider")
    out["Inside the cell: time step"] = [settle(page, lambda: step.press("ArrowRight" if i % 2 else "ArrowLeft"))
                                         for i in range(repeats)]
    up = page.get_by_test_id("stNumberInputStepUp").first
    out["Inside the cell: hidden unit"] = [settle(page, up.click) for _ in range(repeats)]
    page.close()
    page = open_app(browser, f"{url}/compare")
    wait_ready(page, "h1")
    curve = page.get_by_test_id("stButtonGroup").filter(has_text="accuracy").first.get_by_role("button")
    if curve.count() > 1:
        out["Compare: curve"] = [settle(page, lambda: curve.nth(i % curve.count()).click())
                                 for i in range(1, repeats + 1)]
    else:
        print("  Compare: skipped, no runs to compare (pass --runs-dir with finished runs)", flush=True)
    page.close()
    return out


def start_training(browser, url: str):
    page = browser.new_page(viewport=VIEWPORT)
    page.goto(f"{url}/train?dataset=synthetic_long_range&n=20000&epochs=50&hidden_dim=128",
              wait_until="domcontentloaded")
    page.get_by_role("button", name="▶ Start training").click(timeout=60_000)
    page.get_by_text("running").first.wait_for(timeout=60_000)
    time.sleep(3)  # let the worker get going
    return page


def stop_training(trainer) -> None:
    """Stop the run started in ``trainer``, so no training worker outlives the benchmark."""
    try:
        trainer.get_by_role("button", name="⏹ Stop").click(timeout=10_000)
        trainer.get_by_text("running").first.wait_for(state="detached", timeout=30_000)
    except Exception:  # noqa: BLE001 - the run may have finished already
        pass


def percentiles(times: list[float]) -> tuple[float, float]:
    p50, p95 = np.percentile(times, [50, 95])
    return float(p50), float(p95)


def verdict(value: float, target: float) -> str:
    return f"<= {target:g}: {'met' if value <= target else 'NOT met'}"


def measured_cold_start(page, env: dict, root: Path = ROOT):
    """Start the server of checkout ``root`` and open Home once it answers: the process, its URL, and
    the seconds to the verdict from process start and from the first connection, and from process
    start to the last change of Home's charts."""
    proc, url, verdict_s, connected_s = cold_start(page, env, root=root)
    start = time.perf_counter() - verdict_s
    try:
        page.locator(".js-plotly-plot .main-svg").first.wait_for(timeout=90_000)
        page.evaluate(OBSERVER)
        page.wait_for_function(SETTLED, arg=[0, 400, None], timeout=90_000, polling=50)
    except Exception:
        stop_server(proc)
        raise
    since_last = page.evaluate("() => performance.now() - window.__gsLast") / 1000
    # when the last chart change landed
    return proc, url, verdict_s, connected_s, time.perf_counter() - start - since_last


def cold_starts(args) -> None:
    """Only the cold start, ``args.cold_starts`` times (a fresh server and browser page each time),
    in turn with each checkout of ``args.baseline``, so all meet the same load."""
    from playwright.sync_api import sync_playwright

    roots = {"this checkout": ROOT, **{f"baseline {path}": Path(path) for path in args.baseline}}
    times: dict[str, list[tuple[float, float, float]]] = {name: [] for name in roots}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        for i in range(args.cold_starts):
            for name, root in roots.items():
                env = {"GATESCOPE_RUNS_DIR": tempfile.mkdtemp(prefix="gatescope-bench-runs-"),
                       "GATESCOPE_PRETRAINED_DIR": args.pretrained}
                page = browser.new_page(viewport=VIEWPORT)
                proc, _, verdict_s, connected_s, charts_s = measured_cold_start(page, env, root)
                stop_server(proc)
                page.close()
                times[name].append((verdict_s, connected_s, charts_s))
                print(f"  {name}, cold start {i + 1}: verdict {verdict_s:.2f} s from process start, "
                      f"{connected_s:.2f} s from the first connection; charts {charts_s:.2f} s", flush=True)
        browser.close()
    for name, rows in times.items():
        v, c, ch = np.median(rows, axis=0)
        print(f"{name}: cold start, median of {len(rows)}: Home verdict {v:.2f} s from process start, "
              f"{c:.2f} s from the first connection (target {verdict(c, 2)}); charts drawn {ch:.2f} s from "
              f"process start")


def latency(args) -> None:
    from playwright.sync_api import sync_playwright

    env = {"GATESCOPE_RUNS_DIR": args.runs_dir or tempfile.mkdtemp(prefix="gatescope-bench-runs-"),
           "GATESCOPE_PRETRAINED_DIR": args.pretrained}
    counter = itertools.count()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport=VIEWPORT)
        proc, url, verdict_s, connected_s, charts_s = measured_cold_start(page, env)
        try:
            page.close()
            print(f"cold start: verdict {verdict_s:.2f} s ({connected_s:.2f} s from the first connection), "
                  f"charts {charts_s:.2f} s\nquiet server:", flush=True)
            phases = {"quiet": interactions(browser, url, args.repeats, counter)}
            if not args.no_training:
                trainer = start_training(browser, url)
                print("while a run trains:", flush=True)
                phases["training"] = interactions(browser, url, args.repeats, counter)
                if trainer.get_by_text("running").count() == 0:
                    print("note: the background run ended before the last interaction")
                stop_training(trainer)
        finally:
            stop_server(proc)
            browser.close()
    print(f"\ncold start: Home verdict {verdict_s:.2f} s from process start (target {verdict(verdict_s, 3)}), "
          f"{connected_s:.2f} s from the first connection (target {verdict(connected_s, 2)}), "
          f"charts drawn {charts_s:.2f} s (target {verdict(charts_s, 4)})")
    print(f"\n{'interaction (ms)':<44}" + "".join(f"{name + ' p50/p95':>22}" for name in phases) + "   target (training p50)")
    for kind in [k for k in phases["quiet"] if all(k in phase for phase in phases.values())]:
        cells = "".join("{:>22}".format("%.0f / %.0f" % percentiles(phase[kind])) for phase in phases.values())
        target = 600 if kind.startswith("Explain: new sentence") else 300
        last = percentiles(phases.get("training", phases["quiet"])[kind])[0]
        print(f"{kind:<44}{cells}   {verdict(last, target)}")


def rss_mb(pid: int) -> float:
    """Resident memory of a process, MB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_ticks(pid: int) -> tuple[int, int]:
    """CPU clock ticks used so far by process ``pid`` (user + system) and by the whole machine
    (every core's busy ticks), from Linux /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    machine = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return int(fields[11]) + int(fields[12]), sum(machine) - machine[3] - machine[4]  # less idle and iowait


def watch_server(pid: int, threads: list[threading.Thread], every_s: float) -> list[tuple[float, float, float, float]]:
    """Sample the server while any of ``threads`` runs, printing each sample.

    Returns:
        (minutes, server RSS MB, server CPU %, machine CPU %) per sample; CPU % of one core over
        the interval before the sample (200 % is both cores of a 2-core machine).
    """
    tick = os.sysconf("SC_CLK_TCK")
    samples, start = [], time.time()
    last = (start, *cpu_ticks(pid))
    while any(t.is_alive() for t in threads):
        time.sleep(every_s)
        now, server, machine = time.time(), *cpu_ticks(pid)
        span = (now - last[0]) * tick / 100
        samples.append(((now - start) / 60, rss_mb(pid), (server - last[1]) / span, (machine - last[2]) / span))
        last = (now, server, machine)
        print("  {:5.1f} min  {:7.0f} MB  server CPU {:4.0f} %  machine CPU {:4.0f} %".format(*samples[-1]), flush=True)
    return samples


def soak(args) -> None:
    from playwright.sync_api import sync_playwright

    env = {"GATESCOPE_RUNS_DIR": args.runs_dir or tempfile.mkdtemp(prefix="gatescope-soak-runs-"),
           "GATESCOPE_PRETRAINED_DIR": args.pretrained}
    proc, url = start_server(env)
    threading.Thread(target=lambda: proc.stdout.read(), daemon=True).start()  # keep the log pipe drained
    counter = itertools.count()
    stop = time.time() + args.soak * 60
    routes = [lambda i: f"/?text={quote(sentence(i))}",
              *[(lambda tab: lambda i: f"/explain?tab={quote(tab)}&text={quote(sentence(i))}")(tab)
                for tab in EXPLAIN_TABS],
              *[(lambda page, tab: lambda i: f"/{page}?tab={quote(tab)}"
                 + (f"&text={quote(sentence(i))}" if page == "inside" else ""))(page, tab)
                for page, tabs in PAGE_TABS.items() for tab in tabs],
              lambda i: f"/compare?text={quote(sentence(i))}", lambda i: "/gallery", lambda i: "/data",
              lambda i: "/train"]
    errors, visits = [], []

    def session(n: int) -> None:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport=VIEWPORT)
            for k in itertools.count(n):
                if time.time() > stop:
                    break
                try:
                    page.goto(url + routes[k % len(routes)](next(counter)), wait_until="domcontentloaded")
                    page.wait_for_selector('[data-testid="stMain"]', timeout=60_000)
                    page.evaluate(OBSERVER)
                    page.wait_for_function(SETTLED, arg=[0, 400, None], timeout=120_000, polling=200)
                    visits.append(k)
                except Exception as error:  # noqa: BLE001 - counted and reported, the soak goes on
                    errors.append(f"session {n}: {str(error).splitlines()[0]}")
            browser.close()

    threads = [threading.Thread(target=session, args=(n,), daemon=True) for n in range(args.sessions)]
    try:
        for thread in threads:
            thread.start()
        print(f"soak: {args.sessions} sessions for {args.soak} min against {url}; server RSS:")
        samples = watch_server(proc.pid, threads, 30)
    finally:
        stop_server(proc)
    minutes, mb = np.array(samples)[:, :2].T
    half = len(mb) // 2
    slope = np.polyfit(minutes[half:], mb[half:], 1)[0] if len(mb) - half >= 2 else float("nan")
    warm = min(10, int(minutes[-1] // 2))  # minutes of warm-up left out of the range
    settled = mb[minutes >= warm]
    print(f"\npeak {mb.max():.0f} MB (target {verdict(mb.max(), 500)}); from minute {warm} on "
          f"{settled.min():.0f}-{settled.max():.0f} MB; trend over the second half {slope:+.1f} MB/min; "
          f"{len(visits)} pages settled, {len(errors)} page errors" + (f", first: {errors[0]}" if errors else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="interactions of each type per phase")
    parser.add_argument("--no-training", action="store_true", help="skip the phase with a run training")
    parser.add_argument("--runs-dir", default=None, help="runs folder the server uses (finished runs make "
                        "Compare measurable); default: a fresh empty one")
    parser.add_argument("--pretrained", default=str(ROOT / "pretrained"), help="shipped-model folder the server "
                        "reads (default: the repository's pretrained/, every shipped model)")
    parser.add_argument("--soak", type=float, default=0, help="soak for this many minutes instead")
    parser.add_argument("--sessions", type=int, default=10, help="browser sessions during the soak")
    parser.add_argument("--cold-starts", type=int, default=0, help="measure only the cold start, this many times")
    parser.add_argument("--baseline", action="append", default=[], help="with --cold-starts: another checkout (e.g. "
                        "a `git worktree` of an older commit) whose server starts in turn with this one's; repeatable")
    args = parser.parse_args()
    if args.cold_starts:
        cold_starts(args)
    else:
        soak(args) if args.soak else latency(args)


if __name__ == "__main__":
    main()
