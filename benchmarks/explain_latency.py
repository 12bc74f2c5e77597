"""Latency of the full explanation (prediction + trace + trajectory + integrated gradients with
50 steps) for a 40-token sentence, against a Captum-tutorial-style baseline, on CPU.

The model has the shipped BiLSTM's size (embeddings 50, hidden 256, 1 layer, vocabulary
75,000, 2 classes) with random weights: latency does not depend on the weight values.
The baseline computes the same things the way the Captum tutorials do: a separate forward
pass for the prediction, a fresh trace for the trajectory, integrated gradients one path step
at a time (``internal_batch_size=1``) with Captum's own convergence delta (two more forward
passes) and one more pass for the baseline's probabilities.

Run by hand (prints, asserts nothing)::

    PYTHONPATH=. python benchmarks/explain_latency.py [--threads 2] [--runs 30]
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch
from captum.attr import LayerIntegratedGradients

from sentiment_core.checkpoint import Bundle
from sentiment_core.explain import explain, integrated_gradients, prepare_input, trace, trajectory
from sentiment_core.models import ModelConfig, build_model
from sentiment_core.vocab import Vocab

TOKENS, STEPS = 40, 50


def make_bundle(seed: int = 0) -> Bundle:
    """The shipped BiLSTM size with random weights and a 75,000-word vocabulary."""
    torch.manual_seed(seed)
    vocab = Vocab(["<pad>", "<unk>", *(f"w{i}" for i in range(2, 75000))])
    config = ModelConfig(vocab_size=len(vocab), num_classes=2, cell="lstm", bidirectional=True, num_layers=1,
                         emb_dim=50, hidden_dim=256)
    return Bundle(model=build_model(config).eval(), vocab=vocab, label_names=["negative", "positive"])


def tutorial_style(bundle: Bundle, text: str) -> None:
    """The baseline: no reuse, integrated gradients one step per forward/backward pass."""
    model = bundle.model
    prepared = prepare_input(bundle, text)
    ids, lengths = prepared.tensor(), torch.tensor([prepared.length])
    with torch.no_grad():
        label = int(torch.softmax(model(ids, lengths), dim=1).argmax())
    trace(bundle, text)
    trajectory(bundle, text)
    lig = LayerIntegratedGradients(lambda i, n: torch.softmax(model(i, n), dim=1), model.embedding)
    baseline = torch.zeros_like(ids)
    lig.attribute(ids, baselines=baseline, target=label, additional_forward_args=(lengths,), n_steps=STEPS,
                  internal_batch_size=1, return_convergence_delta=True)
    with torch.no_grad():
        torch.softmax(model(baseline, lengths), dim=1)


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def summary(times: list[float]) -> str:
    p50, p95 = np.percentile(times, [50, 95])
    return f"p50 {p50:7.1f} ms   p95 {p95:7.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    bundle = make_bundle()
    rng = np.random.default_rng(0)
    text = " ".join(f"w{i}" for i in rng.integers(2, 20000, TOKENS))
    prepared = prepare_input(bundle, text)
    assert prepared.length == TOKENS

    def ours() -> None:
        explain(bundle, text, n_steps=STEPS)

    def baseline() -> None:
        tutorial_style(bundle, text)

    parts = {
        "trace": lambda: trace(bundle, prepared),
        "trajectory (bidirectional: from trace)": lambda: trajectory(bundle, prepared),
        "integrated gradients (50 steps, 1 pass)": lambda: integrated_gradients(bundle, prepared, n_steps=STEPS),
    }
    for fn in (ours, baseline, *parts.values()):
        for _ in range(3):
            fn()
    results: dict[str, list[float]] = {"explain()": [], "tutorial-style baseline": []}
    for _ in range(args.runs):  # interleaved, so both see the same machine load
        results["explain()"].append(timed(ours))
        results["tutorial-style baseline"].append(timed(baseline))
    breakdown = {name: [timed(fn) for _ in range(args.runs)] for name, fn in parts.items()}

    load = os.getloadavg()[0]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), CPU, load average {load:.1f} (1 min)")
    if load > os.cpu_count() and torch.get_num_threads() > 1:
        print("  note: the machine is busier than its cores; multi-threaded timings are then dominated by "
              "threads waiting for each other (compare with --threads 1)")
    print(f"BiLSTM emb 50, hidden 256, 1 layer, vocab 75,000, 2 classes, random weights; "
          f"{TOKENS}-token sentence; {STEPS} IG steps; {args.runs} runs")
    for name, times in results.items():
        print(f"  {name:42s} {summary(times)}")
    ratio = np.median(results["tutorial-style baseline"]) / np.median(results["explain()"])
    print(f"  speed-up (baseline p50 / explain() p50)     {ratio:.1f}x")
    print("  explain() parts, measured separately:")
    for name, times in breakdown.items():
        print(f"    {name:40s} {summary(times)}")


if __name__ == "__main__":
    main()
