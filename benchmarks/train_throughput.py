"""Training throughput: the seed tutorial's loop vs a padded batched loop vs GateScope's trainer.

Run by hand (not in CI):
    python benchmarks/train_throughput.py [--epochs 2] [--threads 2]
    python benchmarks/train_throughput.py --dataset imdb --mirror ../shared/datasets [--max-examples 3000]

On the same data (airline tweets offline, or IMDb reviews at max_len 512) and in one process it times
  (a) the seed-tutorial loop: batch size 1, every text pre-padded to 50 tokens, unpacked LSTM;
  (b) a batched loop that pre-pads every text to the longest example (unpacked);
  (c) GateScope's Trainer: length buckets; pads masked (unidirectional) or packed (bidirectional).
It prints real (non-pad) tokens per second, validation accuracy after each epoch, the ratios c/a and
c/b in throughput and in time to the best validation accuracy all three loops reach, and
(c)'s useful FLOP/s as a fraction of a 1024x1024 float32 matmul measured in the same run, the
share of pad-to-longest's padding saving the length buckets keep, and a table of targets met.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sentiment_core.data import load_dataset, make_splits  # noqa: E402
from sentiment_core.encoding import EncodingConfig, pad_batch  # noqa: E402
from sentiment_core.models import ModelConfig, build_model  # noqa: E402
from sentiment_core.pipeline import VocabConfig, prepare_data  # noqa: E402
from sentiment_core.text import TokenizerConfig  # noqa: E402
from sentiment_core.trainer import EncodedExamples, TrainConfig, Trainer, make_batches  # noqa: E402


def matmul_flops(n: int = 1024, repeats: int = 20) -> float:
    """FLOP/s of an n x n float32 matmul on this machine (best of ``repeats``)."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(3):
        a @ b
    best = min(_timed(lambda: a @ b) for _ in range(repeats))
    return 2 * n ** 3 / best


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def lstm_flops_per_token(config: ModelConfig) -> float:
    """Forward + backward FLOPs of the recurrent layers per real token (backward ~ 2x forward)."""
    total = 0
    for layer in range(config.num_layers):
        in_dim = config.emb_dim if layer == 0 else config.output_dim
        total += config.num_directions * 2 * 4 * config.hidden_dim * (in_dim + config.hidden_dim)
    return 3.0 * total


def fixed_padding_loop(config: ModelConfig, train: EncodedExamples, val: EncodedExamples, epochs: int,
                       batch_size: int, length: int | None, side: str, seed: int,
                       lr: float) -> tuple[list[float], list[float], int]:
    """Tutorial-style loop: pad every example to ``length`` (None: the longest), no packing.

    Returns:
        cumulative training seconds after each epoch, validation accuracy after each epoch,
        real tokens processed per epoch.
    """
    torch.manual_seed(seed)
    model = build_model(config)
    length = length or max(len(s) for s in train.ids)
    x = torch.from_numpy(pad_batch([s[-length:] for s in train.ids], length, side))
    y = torch.tensor(train.labels)
    val_x = torch.from_numpy(pad_batch([s[-length:] for s in val.ids], length, side))
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    rng = np.random.default_rng(seed)
    seconds, accuracies, elapsed = [], [], 0.0
    for _ in range(epochs):
        model.train()
        start = time.perf_counter()
        order = torch.from_numpy(rng.permutation(len(y)))
        for i in range(0, len(order), batch_size):
            idx = order[i:i + batch_size]
            optimizer.zero_grad()
            loss = loss_fn(model(x[idx]), y[idx])
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            optimizer.step()
        elapsed += time.perf_counter() - start
        seconds.append(elapsed)
        model.eval()
        with torch.no_grad():
            accuracies.append(float((model(val_x).argmax(1) == torch.tensor(val.labels)).float().mean()))
    return seconds, accuracies, int((x != 0).sum())


def time_to_accuracy(seconds: list[float], accuracies: list[float], target: float) -> float | None:
    """Training seconds until validation accuracy first reached ``target`` (None: never)."""
    return next((s for s, a in zip(seconds, accuracies) if a >= target), None)


DATASETS = {  # name: (catalogue name, tokenizer, classes, default max_len, default training texts)
    "airline": ("airline_tweets", "tweet", 3, 200, None),
    "imdb": ("imdb", "nltk", 2, 512, 3000),
}
TARGET_RATIO = {"airline": 1.9, "imdb": 1.8}  # c/b, issue "Fast in class"
TARGET_FLOPS_SHARE, TARGET_PADDING_KEPT = 0.5, 0.9


def padded_tokens(lengths: np.ndarray, batches: list[np.ndarray]) -> int:
    """Tokens the network reads when each batch is padded to its own longest text."""
    return int(sum(lengths[b].max() * len(b) for b in batches))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", choices=sorted(DATASETS), default="airline",
                        help="airline tweets (bundled) or IMDb reviews (through --mirror or a download)")
    parser.add_argument("--mirror", default=None, help="dataset mirror folder, e.g. ../shared/datasets")
    parser.add_argument("--max-len", type=int, default=None, help="default 200 (airline), 512 (imdb)")
    parser.add_argument("--max-examples", type=int, default=None,
                        help="texts kept per official part before the split (default all for airline, 3,000 for imdb)")
    parser.add_argument("--loops", default=None, help="which loops to run, e.g. abc or bc "
                        "(default abc for airline; bc for imdb, where batch size 1 would take hours)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=3e-3, help="Adam learning rate of the batched loops "
                        "(b, c); the batch-size-1 tutorial loop keeps its 1e-3")
    parser.add_argument("--hidden-dim", type=int, default=128)
    parser.add_argument("--emb-dim", type=int, default=100)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    name, tokenizer, classes, max_len, examples = DATASETS[args.dataset]
    max_len = args.max_len or max_len
    examples = args.max_examples or examples
    loops = args.loops or ("abc" if args.dataset == "airline" else "bc")

    # max_examples subsamples each part (stratified, seeded) before tokenizing, so IMDb loads quickly
    splits = make_splits(load_dataset(name, mirror=args.mirror, max_examples=examples), seed=0)
    encoding = EncodingConfig(max_len=max_len)
    prepared = prepare_data(splits, TokenizerConfig(kind=tokenizer), VocabConfig(min_freq=2), encoding)
    train, val = prepared.train, prepared.validation
    options = dict(vocab_size=len(prepared.vocab), num_classes=classes, cell="lstm",
                   emb_dim=args.emb_dim, hidden_dim=args.hidden_dim)
    unpacked = ModelConfig(**options, packed=False)
    packed = ModelConfig(**options, packed=True)
    lengths = train.lengths()
    print(f"data: {name}, {len(train):,} train texts, {int(lengths.sum()):,} tokens/epoch, mean {lengths.mean():.1f}, "
          f"max {lengths.max()} (max_len {max_len}), vocabulary {len(prepared.vocab):,}; LSTM emb {args.emb_dim} "
          f"hidden {args.hidden_dim}; {args.epochs} epochs; torch threads {torch.get_num_threads()}")

    peak = matmul_flops()
    results = {}
    if "a" in loops:
        results["a"] = fixed_padding_loop(unpacked, train, val, args.epochs, 1, 50, "pre", 0, 1e-3)
    results["b"] = fixed_padding_loop(unpacked, train, val, args.epochs, args.batch_size, None, "pre", 0, args.lr)
    torch.manual_seed(0)
    model = build_model(packed)
    train_config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, patience=0, device="cpu", lr=args.lr)
    trainer = Trainer(model, train_config, encoding=encoding)
    fit = trainer.fit(train, val)
    results["c"] = (list(np.cumsum([h.train_seconds for h in fit.history])), [h.val_accuracy for h in fit.history],
                    int(lengths.sum()))
    peak = max(peak, matmul_flops())  # the ceiling before and after, so load changes do not flatter (c)

    labels = {"a": "seed tutorial (batch 1, pre-pad to 50)", "b": f"batched, pre-pad to longest ({lengths.max()})",
              "c": "GateScope trainer (length buckets)"}
    # The common accuracy: the best level every loop reached.
    target = min(max(accs) for _, accs, _ in results.values())
    print(f"\n{'loop':<42} {'train s':>8} {'tokens/s':>10} {'val acc per epoch':>24} {'s to ' + format(target, '.3f'):>9}")
    speed, to_target = {}, {}
    for key, (seconds, accuracies, tokens) in results.items():
        speed[key] = tokens * args.epochs / seconds[-1]
        to_target[key] = time_to_accuracy(seconds, accuracies, target)
        accs = " ".join(f"{a:.3f}" for a in accuracies)
        print(f"{labels[key]:<42} {seconds[-1]:>8.1f} {speed[key]:>10,.0f} {accs:>24} {to_target[key]:>9.1f}")

    real = int(lengths.sum())
    longest = int(lengths.max()) * len(lengths)
    batches = make_batches(lengths, args.batch_size, shuffle=True, bucketing=True, rng=np.random.default_rng(1))
    bucketed = padded_tokens(lengths, batches)
    kept = (longest - bucketed) / max(longest - real, 1)
    useful = lstm_flops_per_token(packed) * speed["c"]
    ratio = speed["c"] / speed["b"]
    print(f"\ntokens read per epoch: real {real:,}; padded to the longest {longest:,} ({longest / real:.2f}x); "
          f"length buckets {bucketed:,} ({bucketed / real:.2f}x)")
    if "a" in results:
        print(f"throughput ratio c/a: {speed['c'] / speed['a']:.1f}x; time to {target:.3f}: "
              f"c/a {to_target['a'] / to_target['c']:.1f}x faster")
    print(f"time to the common validation accuracy {target:.3f}: c/b {to_target['b'] / to_target['c']:.2f}x faster")
    print(f"matmul ceiling (1024x1024 float32, best of before/after): {peak / 1e9:.1f} GFLOP/s")
    rows = [("trainer vs pad-to-longest (c/b)", f"{ratio:.2f}x", f">= {TARGET_RATIO[args.dataset]}x",
             ratio >= TARGET_RATIO[args.dataset]),
            ("padding saving kept by the buckets", f"{kept:.1%}", f">= {TARGET_PADDING_KEPT:.0%}",
             kept >= TARGET_PADDING_KEPT),
            ("trainer's useful FLOP/s vs the ceiling", f"{useful / 1e9:.1f} GFLOP/s = {useful / peak:.1%}",
             f">= {TARGET_FLOPS_SHARE:.0%}", useful / peak >= TARGET_FLOPS_SHARE)]
    print(f"\n{'figure':<40} {'measured':>26} {'target':>8}  verdict")
    for figure, value, goal, met in rows:
        print(f"{figure:<40} {value:>26} {goal:>8}  {'met' if met else 'NOT met'}")


if __name__ == "__main__":
    main()
