"""Training throughput: the seed tutorial's loop vs a padded batched loop vs GateScope's trainer.

Run by hand (not in CI):  python benchmarks/train_throughput.py [--epochs 2] [--threads 2]

On the same data (airline tweets, offline) and in one process it times
  (a) the seed-tutorial loop: batch size 1, every text pre-padded to 50 tokens, unpacked LSTM;
  (b) a batched loop that pads every text to the longest example (unpacked);
  (c) GateScope's Trainer: length bucketing + packed sequences.
It prints real (non-pad) tokens per second, validation accuracy, the ratios c/a and c/b, and
(c)'s useful FLOP/s as a fraction of a 1024x1024 float32 matmul measured in the same run.
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
from sentiment_core.trainer import EncodedExamples, TrainConfig, Trainer, evaluate  # noqa: E402


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
                       batch_size: int, length: int | None, side: str, seed: int) -> tuple[float, float, int]:
    """Tutorial-style loop: pad every example to ``length`` (None: the longest), no packing.

    Returns:
        seconds, validation accuracy, real tokens processed.
    """
    torch.manual_seed(seed)
    model = build_model(config)
    length = length or max(len(s) for s in train.ids)
    x = torch.from_numpy(pad_batch([s[-length:] for s in train.ids], length, side))
    y = torch.tensor(train.labels)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    rng = np.random.default_rng(seed)
    tokens = 0
    start = time.perf_counter()
    model.train()
    for _ in range(epochs):
        order = torch.from_numpy(rng.permutation(len(y)))
        for i in range(0, len(order), batch_size):
            idx = order[i:i + batch_size]
            optimizer.zero_grad()
            loss = loss_fn(model(x[idx]), y[idx])
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            optimizer.step()
            tokens += int((x[idx] != 0).sum())
    seconds = time.perf_counter() - start
    val_x = torch.from_numpy(pad_batch([s[-length:] for s in val.ids], length, side))
    model.eval()
    with torch.no_grad():
        accuracy = float((model(val_x).argmax(1) == torch.tensor(val.labels)).float().mean())
    return seconds, accuracy, tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--hidden-dim", type=int, default=128)
    parser.add_argument("--emb-dim", type=int, default=100)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    splits = make_splits(load_dataset("airline_tweets"), seed=0)
    prepared = prepare_data(splits, TokenizerConfig(kind="tweet"), VocabConfig(min_freq=2),
                            EncodingConfig(max_len=200))
    train, val = prepared.train, prepared.validation
    options = dict(vocab_size=len(prepared.vocab), num_classes=3, cell="lstm",
                   emb_dim=args.emb_dim, hidden_dim=args.hidden_dim)
    unpacked = ModelConfig(**options, packed=False)
    packed = ModelConfig(**options, packed=True)
    lengths = train.lengths()
    print(f"data: airline_tweets, {len(train):,} train texts, {int(lengths.sum()):,} tokens/epoch, "
          f"mean {lengths.mean():.1f}, max {lengths.max()}; LSTM emb {args.emb_dim} hidden {args.hidden_dim}; "
          f"{args.epochs} epochs; torch threads {torch.get_num_threads()}")

    peak = matmul_flops()
    results = {}
    results["a"] = fixed_padding_loop(unpacked, train, val, args.epochs, 1, 50, "pre", 0)
    results["b"] = fixed_padding_loop(unpacked, train, val, args.epochs, args.batch_size, None, "post", 0)
    torch.manual_seed(0)
    model = build_model(packed)
    trainer = Trainer(model, TrainConfig(epochs=args.epochs, batch_size=args.batch_size, patience=0, device="cpu",
                                         lr=1e-3))
    fit = trainer.fit(train, val)
    train_seconds = sum(h.train_seconds for h in fit.history)
    results["c"] = (train_seconds, evaluate(model, val).accuracy, int(lengths.sum()) * args.epochs)

    labels = {"a": "seed tutorial (batch 1, pre-pad to 50)", "b": f"batched, pad to longest ({lengths.max()})",
              "c": "GateScope trainer (bucketing + packing)"}
    print(f"\n{'loop':<42} {'seconds':>8} {'tokens/s':>10} {'val acc':>8}")
    speed = {}
    for key, (seconds, accuracy, tokens) in results.items():
        speed[key] = tokens / seconds
        print(f"{labels[key]:<42} {seconds:>8.1f} {speed[key]:>10,.0f} {accuracy:>8.3f}")
    useful = lstm_flops_per_token(packed) * speed["c"]
    print(f"\nratio c/a: {speed['c'] / speed['a']:.1f}x   ratio c/b: {speed['c'] / speed['b']:.2f}x")
    print(f"useful FLOP/s of (c): {useful / 1e9:.2f} GFLOP/s = {useful / peak:.1%} of the 1024x1024 float32 "
          f"matmul ({peak / 1e9:.1f} GFLOP/s)")


if __name__ == "__main__":
    main()
