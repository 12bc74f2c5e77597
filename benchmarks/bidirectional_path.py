"""Training-step time of bidirectional models: packed sequences (what PyTorch tutorials do)
against GateScope's post-padded path (each direction read unpacked, the backward one reversed
within each text's length), measured side by side in one run on the same batches.

Both paths compute the same outputs and gradients (``tests/test_models.py``). Batches look like
the trainer's length buckets: 64 texts whose lengths vary by up to 25 %.

Run by hand (prints, asserts nothing)::

    PYTHONPATH=. python benchmarks/bidirectional_path.py [--threads 2] [--steps 5]
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from sentiment_core.models import CELLS, ModelConfig, build_model


def packed_step(model, ids: torch.Tensor, lengths: torch.Tensor) -> None:
    """Forward + backward with pack_padded_sequence and max pooling over real tokens."""
    packed = pack_padded_sequence(model.embedding(ids), lengths, batch_first=True, enforce_sorted=False)
    outputs, _ = pad_packed_sequence(model.rnn(packed)[0], batch_first=True, total_length=ids.shape[1],
                                     padding_value=float("-inf"))
    model.classifier(outputs.max(dim=1).values).sum().backward()


def post_padded_step(model, ids: torch.Tensor, lengths: torch.Tensor) -> None:
    """Forward + backward through the model's own (post-padded) path, max pooling."""
    model(ids, lengths).sum().backward()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--length", type=int, default=200, help="longest text in a batch")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    generator = torch.Generator().manual_seed(0)
    print(f"batch 64, lengths {int(args.length * 0.75)}-{args.length}, embeddings 50, hidden 128, "
          f"{args.threads} threads, median of {args.steps} steps")
    print(f"{'model':<18}{'packed ms':>11}{'post-padded ms':>16}{'ratio':>8}")
    for cell in CELLS:
        for layers in (1, 2):
            torch.manual_seed(0)
            model = build_model(ModelConfig(cell=cell, bidirectional=True, num_layers=layers, vocab_size=30000,
                                            emb_dim=50, hidden_dim=128, pooling="max", num_classes=2)).train()
            lengths = torch.randint(int(args.length * 0.75), args.length + 1, (64,), generator=generator)
            ids = torch.randint(2, 30000, (64, args.length), generator=generator)
            ids[torch.arange(args.length).unsqueeze(0) >= lengths.unsqueeze(1)] = 0
            times: dict[str, list[float]] = {"packed": [], "post": []}
            for _ in range(args.steps + 1):  # alternate so both see the same machine load; first is warm-up
                for name, step in (("packed", packed_step), ("post", post_padded_step)):
                    model.zero_grad()
                    start = time.perf_counter()
                    step(model, ids, lengths)
                    times[name].append(time.perf_counter() - start)
            packed_ms = statistics.median(times["packed"][1:]) * 1000
            post_ms = statistics.median(times["post"][1:]) * 1000
            print(f"{'bi' + cell + f' x{layers}':<18}{packed_ms:>11.0f}{post_ms:>16.0f}{packed_ms / post_ms:>7.1f}x")


if __name__ == "__main__":
    main()
