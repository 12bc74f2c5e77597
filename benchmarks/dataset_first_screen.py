"""First Dataset visit (issue 23 item 5), run by hand: time to the first useful screen before and
after the page predicted in the background, side by side in one run on the same machine.

    python benchmarks/dataset_first_screen.py --mirror ../shared/datasets [--model lstm] [--set imdb_test]

Before: the page predicted the whole set in one pass under a spinner (``predict_dataset`` with
``chunk_size=None``, the old batches exactly) and drew once it was done: the first useful screen
is loading the set, that pass and one page load with the predictions cached (measured as the later
visit below). After: the page itself (Streamlit AppTest, this process, a fresh shared cache, after
one visit to another set so that imports are not timed; it loads the set itself), rerun every
``--poll`` seconds until it shows a table (the rows done so far, with the progress bar), then until
it shows the whole set. The two final results are compared (predictions, largest confidence
difference, accuracy), and so is the process's CPU time until the whole set is on screen. Prints a
Markdown table.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from browser.app_support import open_page  # noqa: E402

from sentiment_core import dataset_view as dv  # noqa: E402
from sentiment_core.registry import shared_registry  # noqa: E402


def page_until(at, shows, interval: float, limit: float = 3600.0) -> float:
    """Rerun the AppTest until ``shows(at)``; seconds from now."""
    start = time.perf_counter()
    while not shows(at):
        if time.perf_counter() - start > limit:
            raise AssertionError("the page did not get there in time")
        time.sleep(interval)
        at.run()
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mirror", required=True, help="dataset mirror folder (e.g. ../shared/datasets)")
    parser.add_argument("--model", default="lstm", help="a shipped model (the page's default is lstm)")
    parser.add_argument("--set", default="imdb_test")
    parser.add_argument("--warm-set", default="", help="another of the model's sets, opened first so that "
                        "imports are not timed (default: another of the model's sets, IMDb last)")
    parser.add_argument("--poll", type=float, default=2.0, help="seconds between reruns of the page (its live "
                        "view redraws every 2 s)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the app's default: 1)")
    args = parser.parse_args()
    os.environ["GATESCOPE_DATA_MIRROR"] = args.mirror
    torch.set_num_threads(args.threads)
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    loaded = shared_registry().load(args.model)
    bundle = loaded.bundle
    start, cpu = time.perf_counter(), time.process_time()
    labelled = dv.load_eval_set(args.set, args.mirror)
    t_load, c_load = time.perf_counter() - start, time.process_time() - cpu
    labels = labelled.for_model(bundle.label_names)
    n = len(labelled.texts)

    start, cpu = time.perf_counter(), time.process_time()  # before: one pass, then the page
    before = dv.predict_dataset(bundle, labelled.texts, labels, bundle.model_config.display_name, chunk_size=None)
    t_before_pass, c_before_pass = time.perf_counter() - start, time.process_time() - cpu
    key = (loaded.cache_key, f"eval:{args.set}")

    others = sorted((s for s in dv.eval_set_names(args.model) if s != args.set), key=lambda s: s == "imdb_test")
    warm = args.warm_set or others[0]  # IMDb last: its pass would go on in the background
    open_page("dataset", {"model": args.model, "examples": f"eval:{warm}"})  # imports and the frame, once
    old_cache, dv.SHARED_PREDICTIONS = dv.SHARED_PREDICTIONS, dv.PredictionCache()  # after: a cold cache
    start, cpu = time.perf_counter(), time.process_time()
    at = open_page("dataset", {"model": args.model, "examples": f"eval:{args.set}"})
    t_first_run = time.perf_counter() - start
    page_until(at, lambda at: len(at.dataframe) > 0, args.poll)
    t_rows = time.perf_counter() - start
    done_at_rows = next(m.value for m in at.metric if m.label.startswith("So far") or m.label == "Examples")
    page_until(at, lambda at: any(m.label == "Examples" for m in at.metric), args.poll)
    t_whole, c_whole = time.perf_counter() - start, time.process_time() - cpu
    assert key in dv.SHARED_PREDICTIONS
    after = dv.SHARED_PREDICTIONS.get(key, make_pass=None)  # stored: nothing is computed
    start, cpu = time.perf_counter(), time.process_time()  # a later visit, and the old page's draw once done
    at = open_page("dataset", {"model": args.model, "examples": f"eval:{args.set}"})
    t_cached, c_cached = time.perf_counter() - start, time.process_time() - cpu
    assert not at.exception and at.dataframe and any(m.label == "Examples" for m in at.metric)
    dv.SHARED_PREDICTIONS = old_cache

    differ = int((before.table["prediction"] != after.table["prediction"]).sum())
    gap = float(np.abs(before.table["confidence"].to_numpy() - after.table["confidence"].to_numpy()).max())
    lines = [f"`python benchmarks/dataset_first_screen.py {' '.join(sys.argv[1:])}`", "",
             f"{args.model} on {labelled.title}: {n:,} examples; {args.threads} torch thread(s); {os.cpu_count()} CPUs "
             f"visible; load average at start {load}; the page reruns every {args.poll:g} s while it fills in.", "",
             "| first visit | first useful screen | whole set on screen |", "|---|---:|---:|",
             f"| before: loading the set, one pass under a spinner, then the page | "
             f"{t_load + t_before_pass + t_cached:.1f} s (set {t_load:.1f} s + pass {t_before_pass:.1f} s + page "
             f"{t_cached:.1f} s) | same |",
             f"| after: the page, rows filling in | {t_rows:.1f} s (first run {t_first_run:.1f} s; {done_at_rows} "
             f"examples' numbers and rows shown) | {t_whole:.1f} s |",
             f"| a later visit (cached) | {t_cached:.1f} s | {t_cached:.1f} s |", "",
             f"CPU time of this process (all threads; less sensitive to other work on the machine) until the whole "
             f"set is on screen: before {c_load + c_before_pass + c_cached:.1f} s, after {c_whole:.1f} s.", "",
             f"Final results: {differ} of {n:,} predictions differ, largest confidence difference {gap:.1e}; "
             f"accuracy before {before.accuracy:.4%}, after {after.accuracy:.4%}."]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
