"""API load: a bounded burst of requests against ``gatescope serve`` on 127.0.0.1.

Run by hand (not in CI)::

    python benchmarks/api_load.py [--requests 2000] [--concurrency 32] [--threads 2] [--model NAME]

It starts the API in a child process on a free port of 127.0.0.1 (only there), sends
``--requests`` ``POST /predict`` requests with at most ``--concurrency`` in flight, stops the
server, and prints p50/p90/p99/max latency, throughput, the error count (target 0) and the
server's peak memory. Without ``--model`` it serves the default shipped model; when none is
shipped it writes an untrained BiLSTM bundle of the shipped size (30,000 words, GloVe-sized
embeddings, 128 hidden units) as a run in a temporary folder and serves that.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SENTENCES = [
    "The film was good",
    "It was not good",
    "Director tried too hard but this film is bad",
    "Decent movie, although could be shorter",
    "The acting was great but the plot was a mess and I left bored",
    "I loved the movie, every part of it, from the first scene to the credits, and I would watch it again "
    "tomorrow with friends who have not seen it yet",
    "",
    "😀 great 👍 فيلم رائع",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def synthetic_run(runs_dir: Path) -> str:
    """Write an untrained shipped-size BiLSTM bundle as a finished run; returns its model name."""
    from sentiment_core.checkpoint import Bundle, save_checkpoint
    from sentiment_core.models import ModelConfig, build_model
    from sentiment_core.runs import write_json
    from sentiment_core.vocab import Vocab

    vocab = Vocab(["<pad>", "<unk>"] + [f"w{i}" for i in range(29998)])
    model = build_model(ModelConfig(vocab_size=len(vocab), emb_dim=50, hidden_dim=128, bidirectional=True,
                                    pooling="max"))
    folder = runs_dir / "load-test"
    save_checkpoint(folder / "best.safetensors", Bundle(model.eval(), vocab, ["negative", "positive"]))
    write_json(folder / "status.json", {"state": "completed", "message": "synthetic", "created": time.time()})
    write_json(folder / "config.json", {"display_name": "BiLSTM", "label_names": ["negative", "positive"]})
    return "run:load-test"


def peak_rss_mb(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


async def burst(url: str, model: str | None, total: int, concurrency: int, per_request: int,
                deadline: float) -> tuple[list[float], dict[str, int]]:
    """Send ``total`` requests, ``concurrency`` at a time; latencies (s) of successes and error counts."""
    latencies: list[float] = []
    errors: dict[str, int] = {}
    counter = iter(range(total))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:
        async def worker() -> None:
            for i in counter:
                if time.monotonic() > deadline:
                    errors["not sent (time limit)"] = errors.get("not sent (time limit)", 0) + 1
                    continue
                texts = [SENTENCES[(i + k) % len(SENTENCES)] for k in range(per_request)]
                body = {"texts": texts, **({"model": model} if model else {})}
                start = time.perf_counter()
                try:
                    response = await client.post("/predict", json=body)
                except httpx.HTTPError as error:
                    key = type(error).__name__
                    errors[key] = errors.get(key, 0) + 1
                    continue
                if response.status_code == 200 and len(response.json()["predictions"]) == per_request:
                    latencies.append(time.perf_counter() - start)
                else:
                    key = f"HTTP {response.status_code}"
                    errors[key] = errors.get(key, 0) + 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, errors


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests to send (default 2000)")
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight (default 32)")
    parser.add_argument("--texts-per-request", type=int, default=1, help="texts in each request (default 1)")
    parser.add_argument("--threads", type=int, default=2, help="gatescope serve --threads (default 2)")
    parser.add_argument("--model", help="model to serve (default: the server's default)")
    parser.add_argument("--time-limit", type=float, default=300, help="stop sending after this many seconds")
    args = parser.parse_args()
    if not 1 <= args.requests <= 100_000 or not 1 <= args.concurrency <= 256:
        parser.error("--requests must be 1..100000 and --concurrency 1..256")

    from sentiment_core.pretrained import list_pretrained

    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "GATESCOPE_RUNS_DIR": str(Path(tmp) / "runs"), "PYTHONPATH": str(ROOT)}
        model = args.model
        if model is None and not list_pretrained():
            model = synthetic_run(Path(tmp) / "runs")
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        command = [sys.executable, "-m", "sentiment_core", "serve", "--host", "127.0.0.1", "--port", str(port),
                   "--threads", str(args.threads), *(["--model", model] if model else [])]
        server = subprocess.Popen(command, cwd=tmp, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            started = time.monotonic()
            while True:
                try:
                    health = httpx.get(url + "/health", timeout=2).json()
                    break
                except httpx.TransportError:
                    if server.poll() is not None or time.monotonic() - started > 120:
                        sys.stderr.write(server.stderr.read().decode())
                        return 1
                    time.sleep(0.2)
            print(f"serving {health['default_model'] if model is None else model} on {url} "
                  f"(started in {time.monotonic() - started:.1f}s, --threads {args.threads})")
            t0 = time.perf_counter()
            latencies, errors = asyncio.run(burst(url, model, args.requests, args.concurrency,
                                                  args.texts_per_request, time.monotonic() + args.time_limit))
            wall = time.perf_counter() - t0
            peak = peak_rss_mb(server.pid)
        finally:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
            server.stderr.close()
    ms = [1000 * x for x in latencies]
    print(f"{args.requests} requests ({args.texts_per_request} text each), {args.concurrency} in flight: "
          f"{wall:.1f}s, {len(latencies) / wall:.0f} req/s")
    if ms:
        print(f"latency ms: p50 {percentile(ms, 0.5):.1f}  p90 {percentile(ms, 0.9):.1f}  "
              f"p99 {percentile(ms, 0.99):.1f}  max {max(ms):.1f}  mean {statistics.fmean(ms):.1f}")
    print(f"errors: {sum(errors.values())}" + (f" {errors}" if errors else ""))
    if peak is not None:
        print(f"server peak RSS: {peak:.0f} MB")
    return 0 if not errors else 1


if __name__ == "__main__":
    sys.exit(main())
