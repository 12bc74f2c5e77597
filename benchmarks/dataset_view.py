"""Dataset-page benchmark (run by hand): cold and warm times of the whole-test-set view, and
which slices separate the shipped models; writes ``benchmarks/results/dataset_view.md``.

    python benchmarks/dataset_view.py --mirror ../shared/datasets [--model bilstm] [--set imdb_test]
        [--n 0] [--threads 2] [--units 1000] [--page-model gru] [--separation sst2_dev,rt_test] [--skip-timing]

Timing (one model on one evaluation set, or a seeded sample of ``--n``): loading the set;
predictions with slices (cold: computed once per model and set, then cached); the projector (PCA
of 2,000 and t-SNE of 1,000 sampled vectors); unit statistics over ``--units`` sentences and the
sentences of the top unit; a table/filter interaction on cached predictions (filter + sort + one
page, p50 of 50). With ``--page-model``, the page itself on the whole set (Streamlit AppTest): the
cold predictions, the first load, and the p50 of a filter change (a whole script rerun).

Separation: every shipped movie model on each set of ``--separation``, then McNemar's exact test
for every pair on every slice; the slices where a pair differs at p < 0.05 are listed.
"""
from __future__ import annotations

import argparse
import itertools
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sentiment_core import dataset_view as dv  # noqa: E402
from sentiment_core.explain import gate_statistics  # noqa: E402
from sentiment_core.pretrained import load_pretrained  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
MOVIE_MODELS = ("rnn", "lstm", "gru", "bilstm")


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    value = fn(*args, **kwargs)
    return value, time.perf_counter() - start


def page_interaction(mirror: str, model: str, eval_set: str, reps: int = 10) -> tuple[int, float, float, float]:
    """The Dataset page (Streamlit AppTest, this process) on a whole evaluation set.

    The predictions are computed first into the page's shared cache (``dv.SHARED_PREDICTIONS``),
    as a first visit does. Returns (examples, that cold computation, the first page load with cached
    predictions, the p50 of a filter change).
    """
    sys.path.insert(0, str(ROOT / "tests"))
    from browser.app_support import open_page

    from sentiment_core.registry import shared_registry

    os.environ["GATESCOPE_DATA_MIRROR"] = mirror
    loaded = shared_registry().load(model)
    labelled = dv.load_eval_set(eval_set, mirror)
    labels = labelled.for_model(loaded.bundle.label_names)
    _, cold = timed(dv.SHARED_PREDICTIONS.get, (loaded.cache_key, f"eval:{eval_set}"),
                    lambda: dv.DatasetPass(loaded.bundle, labelled.texts, labels,
                                           loaded.bundle.model_config.display_name))
    at, first = timed(open_page, "dataset", {"model": model, "examples": f"eval:{eval_set}"})
    times = []
    for i in range(reps):
        start = time.perf_counter()
        if i % 2:
            at.segmented_control(key="ds_outcome").set_value(("wrong", "correct")[i % 4 == 1]).run()
        else:
            at.text_input(key="ds_search").input(("bad", "great")[i % 4 == 0]).run()
        times.append(time.perf_counter() - start)
    assert not at.exception and not at.error and len(at.dataframe), (at.exception, at.error)
    return len(labelled.texts), cold, first, statistics.median(times)


def timing(args) -> list[str]:
    bundle = load_pretrained(args.model)
    labelled, t_load = timed(dv.load_eval_set, args.set, args.mirror)
    texts, labels = labelled.texts, labelled.for_model(bundle.label_names)
    if args.n and args.n < len(texts):  # a seeded sample
        keep = np.sort(np.random.default_rng(0).choice(len(texts), args.n, replace=False))
        texts, labels = [texts[i] for i in keep], [labels[i] for i in keep]
    preds, t_cold = timed(dv.predict_dataset, bundle, texts, labels, args.model)
    _, t_slices = timed(dv.slice_accuracy, preds)
    pca, t_pca = timed(dv.project, preds.vectors, "pca")
    tsne, t_tsne = timed(dv.project, preds.vectors, "tsne")
    stats, t_units = timed(gate_statistics, bundle, texts, n=min(args.units, len(texts)), top_k=10)
    top = stats.top_units[0]
    _, t_unit_rows = timed(dv.unit_sentences, bundle, texts, top.layer, top.direction, top.unit, 8, 500)
    rows_mask = preds.slices["negation"].to_numpy()
    interactions = []
    for i in range(50):
        start = time.perf_counter()
        rows = dv.select_rows(preds, rows_mask, ("wrong", "all")[i % 2], "movie" if i % 3 else "", "wrong_first")
        preds.table.iloc[rows[:25]]
        interactions.append(time.perf_counter() - start)
    lines = [f"## Timing: {args.model} on {labelled.title}",
             "", f"{len(texts):,} examples" + (f" (a seeded sample of {len(labelled.texts):,})"
                                                if len(texts) < len(labelled.texts) else "") + f", accuracy {preds.accuracy:.2%}; {args.threads} torch threads; "
                 f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs visible, torch {torch.__version__}; "
                 f"load average at start {args.load}.", "",
             "| step | seconds |", "|---|---:|",
             f"| load the set | {t_load:.2f} |",
             f"| predictions + slices (computed once per model and set) | {t_cold:.2f} |",
             f"| per-slice accuracy with intervals | {t_slices:.3f} |",
             f"| PCA of {len(pca.index):,} vectors | {t_pca:.2f} |",
             f"| t-SNE of {len(tsne.index):,} vectors | {t_tsne:.2f} |",
             f"| unit statistics over {stats.n_texts:,} sentences | {t_units:.2f} |",
             f"| sentences of the top unit (500 sampled) | {t_unit_rows:.2f} |",
             f"| filter + sort + one page on cached predictions (p50 of 50) | {statistics.median(interactions):.4f} |"]
    if args.page_model:
        n, cold, first, p50 = page_interaction(args.mirror, args.page_model, args.set)
        lines += ["", f"The page on all {n:,} examples with the shipped {args.page_model} (Streamlit AppTest):", "",
                  "| step | seconds |", "|---|---:|",
                  f"| predictions + slices of every example, cold (first visit) | {cold:.2f} |",
                  f"| first page load with the predictions cached | {first:.2f} |",
                  f"| a filter or search change, whole script rerun (p50 of 10) | {p50:.3f} |"]
    return lines


def separation(args) -> list[str]:
    lines = ["## Which slices separate the shipped models (McNemar's exact test, p < 0.05)", ""]
    names = [m for m in MOVIE_MODELS if (ROOT / "pretrained" / f"{m}.safetensors").is_file()]
    for eval_set in [s for s in args.separation.split(",") if s]:
        labelled = dv.load_eval_set(eval_set, args.mirror)
        preds = {}
        for name in names:
            bundle = load_pretrained(name)
            preds[name] = dv.predict_dataset(bundle, labelled.texts, labelled.for_model(bundle.label_names),
                                             bundle.model_config.display_name)
        lines += [f"### {labelled.title}", "",
                  "Accuracy: " + ", ".join(f"{p.model} {p.accuracy:.2%}" for p in preds.values()) + ".", ""]
        found = 0
        for a, b in itertools.combinations(names, 2):
            for row in dv.compare_models(preds[a], preds[b]):
                if row.p_value < 0.05:
                    lines.append(f"- {row.sentence} ({preds[a].model} {row.accuracy_a:.1%}, {preds[b].model} "
                                 f"{row.accuracy_b:.1%} of {row.count:,} examples)")
                    found += 1
        if not found:
            lines.append("- no slice separates any pair at p < 0.05")
        lines.append("")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mirror", required=True, help="dataset mirror folder (e.g. ../shared/datasets)")
    parser.add_argument("--model", default="bilstm")
    parser.add_argument("--set", default="imdb_test")
    parser.add_argument("--n", type=int, default=0, help="a seeded sample of this many examples (0: all)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--units", type=int, default=1000)
    parser.add_argument("--separation", default="", help="comma-separated evaluation sets for the separation table")
    parser.add_argument("--skip-timing", action="store_true")
    parser.add_argument("--page-model", default="", help="time the page on the whole set with this shipped model "
                        "(AppTest; e.g. gru; empty: leave the page out)")
    parser.add_argument("--out", type=Path, default=RESULTS / "dataset_view.md")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    args.load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    lines = ["# Dataset page benchmark", "", f"`python benchmarks/dataset_view.py {' '.join(sys.argv[1:])}`", ""]
    if not args.skip_timing:
        lines += timing(args) + [""]
    if args.separation:
        lines += separation(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
