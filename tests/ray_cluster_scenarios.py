"""Ray backend scenarios on a local 3-node ``ray.cluster_utils.Cluster`` (head + 2 workers, 1 CPU
each). Run by ``tests/test_ray_backend.py`` inside a loopback-only network namespace; prints one
JSON object with what it saw."""
from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])  # for the workers

import ray  # noqa: E402
from ray.cluster_utils import Cluster  # noqa: E402

from conftest import rule_splits  # noqa: E402
from sentiment_core import runs  # noqa: E402
from sentiment_core.checkpoint import load_checkpoint  # noqa: E402
from sentiment_core.timelapse import load_timelapse  # noqa: E402


def until(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.1)


def request(epochs: int, n: int = 400) -> runs.RunRequest:
    return runs.RunRequest(rule_splits(n), {"emb_dim": 8, "hidden_dim": 8},
                           {"epochs": epochs, "patience": 0, "batch_size": 16, "device": "cpu"}, label="ray")


def main() -> None:
    out: dict = {}
    t0 = time.monotonic()
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    workers = [cluster.add_node(num_cpus=1) for _ in range(2)]
    cluster.wait_for_nodes()
    os.environ["GATESCOPE_RAY_ADDRESS"] = cluster.address
    os.environ.pop(runs.EXECUTOR_ENV, None)
    root = Path(tempfile.mkdtemp()) / "runs"
    queue = runs.RunQueue(root, max_concurrent=3)  # GATESCOPE_RAY_ADDRESS set: the ray backend
    out["executor"], out["backend"] = queue.executor, queue.backend
    out["cluster_seconds"] = time.monotonic() - t0
    try:
        # a short run completes: result, epochs and the checkpoint come back into the runs folder
        short = queue.submit(request(2), name="short")
        record = queue.wait(short, 120)
        out["short"] = {"state": record.state, "epochs": len(record.epochs()), "batches": len(record.batches()),
                        "test_accuracy": (record.result or {}).get("test_accuracy"),
                        "checkpoint_cell": load_checkpoint(record.best_path).model_config.cell
                        if record.best_path else None,
                        "timelapse": load_timelapse(record.path).labels[-1] if load_timelapse(record.path) else None}
        # three long runs at once: one per node
        names = [queue.submit(request(100, 800), name=f"long-{i}") for i in range(3)]
        until(lambda: all((root / n / runs.BEST_FILE).is_file() for n in names), 120, "first epochs")
        nodes = {n: runs.read_json(root / n / "status.json")["node"] for n in names}
        out["nodes"] = nodes
        # kill a worker node that holds one of them
        by_id = {w.node_id: w for w in workers}
        victim = next(n for n in names if nodes[n] in by_id)
        epochs_before = len(runs.load_run(victim, root, queue).epochs())
        cluster.remove_node(by_id[nodes[victim]], allow_graceful=False)
        until(lambda: runs.load_run(victim, root, queue).state not in runs.ACTIVE_STATES, 90, "node loss seen")
        lost = runs.load_run(victim, root, queue)
        out["lost"] = {"state": lost.state, "message": lost.message, "epochs_before": epochs_before,
                       "epochs": len(lost.epochs()),
                       "checkpoint_loads": load_checkpoint(lost.best_path).model_config.cell == "lstm"}
        # Stop reaches a run on another node
        target = next(n for n in names if n != victim)
        t_stop = time.monotonic()
        queue.stop(target)
        stopped = queue.wait(target, 60)
        out["stop"] = {"state": stopped.state, "seconds": time.monotonic() - t_stop,
                       "has_checkpoint": stopped.best_path is not None}
        for n in names:
            queue.stop(n)
    finally:
        queue.close()
        ray.shutdown()
        cluster.shutdown()
    out["total_seconds"] = time.monotonic() - t0
    print("RESULT " + json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
