"""The ``ray`` run backend on a local multi-node cluster: runs spread over the nodes, progress,
results and the best checkpoint come back without a shared folder, Stop works, and a lost
worker node leaves its run interrupted with the checkpoint kept.

The cluster runs in a network namespace with only loopback (``unshare -n`` + ``ip link set lo
up``) so Ray cannot bind the machine's own address; the tests are skipped where that is not
possible (no unshare, not root) or Ray is not installed (``pip install .[ray]``)."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT

ray = pytest.importorskip("ray", reason="Ray is not installed: pip install '.[ray]' (or -r requirements-ray.txt)")

SCENARIOS = ROOT / "tests" / "ray_cluster_scenarios.py"


def _namespace_problem() -> str | None:
    if not shutil.which("unshare") or not shutil.which("ip"):
        return "unshare or ip is not available, so the Ray cluster cannot be kept on loopback"
    probe = subprocess.run(["unshare", "-n", "sh", "-c", "ip link set lo up"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"cannot create a loopback-only network namespace ({probe.stderr.strip() or 'unshare -n failed'}; " \
               "it needs root)"
    return None


@pytest.fixture(scope="module")
def cluster_result() -> dict:
    problem = _namespace_problem()
    if problem:
        pytest.skip(problem)
    done = subprocess.run(["unshare", "-n", "sh", "-c", f"ip link set lo up && exec {sys.executable} {SCENARIOS}"],
                          capture_output=True, text=True, timeout=240, cwd=ROOT)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert done.returncode == 0 and lines, (done.stdout[-3000:] + done.stderr[-3000:])
    return json.loads(lines[-1][len("RESULT "):])


def test_ray_backend_is_chosen_by_the_address_and_says_so(cluster_result):
    assert cluster_result["executor"] == "ray"
    assert cluster_result["backend"].startswith("Ray cluster at 127.0.0.1:") and "3 nodes" in cluster_result["backend"]


def test_a_run_completes_and_its_records_come_back(cluster_result):
    short = cluster_result["short"]
    assert short["state"] == "completed" and short["epochs"] == 2 and short["batches"] > 0
    assert short["test_accuracy"] is not None and short["checkpoint_cell"] == "lstm"
    assert short["timelapse"] == "epoch 2"  # the time-lapse came back too


def test_runs_spread_over_the_nodes(cluster_result):
    assert len(set(cluster_result["nodes"].values())) == 3


def test_a_lost_worker_node_leaves_the_run_interrupted_with_its_checkpoint(cluster_result):
    lost = cluster_result["lost"]
    assert lost["state"] == "interrupted" and "Ray worker" in lost["message"]
    assert lost["epochs"] >= lost["epochs_before"] >= 1 and lost["checkpoint_loads"]


def test_stop_reaches_a_run_on_another_node(cluster_result):
    stop = cluster_result["stop"]
    assert stop["state"] == "stopped" and stop["has_checkpoint"] and stop["seconds"] < 30


def test_an_unreachable_address_is_named_in_the_message(monkeypatch, tmp_path):
    from sentiment_core import runs

    monkeypatch.setenv("GATESCOPE_RAY_ADDRESS", "ray://127.0.0.1:1")
    monkeypatch.delenv(runs.EXECUTOR_ENV, raising=False)
    with pytest.raises(runs.RunError, match=r"cannot reach the Ray cluster at 'ray://127.0.0.1:1'.*GATESCOPE_RAY_ADDRESS"):
        runs.RunQueue(tmp_path)
    monkeypatch.setenv("GATESCOPE_RAY_ADDRESS", "ray://host:port")
    with pytest.raises(runs.RunError, match="is not an address"):
        runs.RunQueue(tmp_path)
