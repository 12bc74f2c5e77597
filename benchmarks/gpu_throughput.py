"""Training throughput of the shipped BiLSTM's size (embeddings 50, hidden 256, 1 layer,
bidirectional, packed) on CUDA and on the CPU, same data, same trainer.

Airline tweets (bundled, offline), the first ``--examples`` training texts, ``--epochs``
epochs per device; the figure is the last epoch's real (non-pad) tokens per training second,
so CUDA's one-off start-up (context, cuDNN plans) is left out. Prints a table; asserts nothing.
Without a CUDA GPU it says so and times the CPU only.

    PYTHONPATH=. python benchmarks/gpu_throughput.py [--examples 4000] [--epochs 2] [--threads 16]
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sentiment_core.data import load_dataset, make_splits  # noqa: E402
from sentiment_core.encoding import EncodingConfig  # noqa: E402
from sentiment_core.models import ModelConfig, build_model  # noqa: E402
from sentiment_core.pipeline import VocabConfig, prepare_data  # noqa: E402
from sentiment_core.text import TokenizerConfig  # noqa: E402
from sentiment_core.trainer import EncodedExamples, TrainConfig, Trainer  # noqa: E402


def tokens_per_second(device: str, config: ModelConfig, train: EncodedExamples, val: EncodedExamples,
                      epochs: int, batch_size: int) -> float:
    """Real tokens per training second in the last epoch on ``device``."""
    torch.manual_seed(0)
    trainer = Trainer(build_model(config), TrainConfig(epochs=epochs, batch_size=batch_size, patience=0,
                                                       device=device, lr=3e-3), encoding=EncodingConfig(max_len=200))
    fit = trainer.fit(train, val)
    if fit.stop_reason != "completed":
        raise SystemExit(f"training on {device} ended early: {fit.message}")
    return fit.history[-1].tokens_per_second


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=4000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="CPU threads for the CPU run")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    splits = make_splits(load_dataset("airline_tweets"), seed=0)
    prepared = prepare_data(splits, TokenizerConfig(kind="tweet"), VocabConfig(min_freq=2), EncodingConfig(max_len=200))
    train = EncodedExamples(prepared.train.ids[:args.examples], prepared.train.labels[:args.examples])
    val = prepared.validation
    config = ModelConfig(vocab_size=len(prepared.vocab), num_classes=3, cell="lstm", bidirectional=True,
                         emb_dim=50, hidden_dim=256, packed=True)
    tokens = int(train.lengths().sum())
    print(f"BiLSTM emb 50, hidden 256, packed; airline tweets, {len(train):,} texts ({tokens:,} tokens) x "
          f"{args.epochs} epochs, batch {args.batch_size}; torch {torch.__version__}")
    rows = []
    if torch.cuda.is_available():
        rows.append((f"cuda ({torch.cuda.get_device_name(0)})",
                     tokens_per_second("cuda", config, train, val, args.epochs, args.batch_size)))
    else:
        print("no CUDA GPU here (torch.cuda.is_available() is False): timing the CPU only")
    rows.append((f"cpu ({torch.get_num_threads()} threads)",
                 tokens_per_second("cpu", config, train, val, args.epochs, args.batch_size)))
    print(f"\n{'device':<40} {'real tokens/s':>14}")
    for name, speed in rows:
        print(f"{name:<40} {speed:>14,.0f}")
    if len(rows) == 2:
        print(f"CUDA / CPU: {rows[0][1] / rows[1][1]:.1f}x")


if __name__ == "__main__":
    main()
