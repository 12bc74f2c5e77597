"""Classroom load: a class of students each submitting runs to one server, on the local process
backend and on a local 3-node Ray cluster, side by side.

Run by hand (not in CI)::

    python benchmarks/classroom_load.py [--students 30] [--runs-per-student 2] [--slots 2]
                                        [--backends local,ray]

Every student submits their runs one after the other, student after student (s1 r1, s1 r2,
s2 r1, ...), exactly as the Train page does (``classroom.submit`` on a ``RunQueue`` with the
student's owner id, in a temporary runs directory). ``local`` uses spawned worker processes
with ``--slots`` runs at once; ``ray`` starts a ``ray.cluster_utils.Cluster`` (head + 2 workers,
1 CPU each) inside a loopback-only network namespace (``unshare -n``; needs root and the
``[ray]`` extra) with 3 runs at once. For each backend it prints:

- whether every run completed;
- the spread of waiting times across students (submission to the moment training began, for
  each student's first run and for their last run): min / median / max;
- whether each student's runs were given a slot in the order they were submitted (the queue's
  promise), and whether they also began training in that order (worker start-up times vary);
- peak resident memory of the app process and of the workers (for Ray: the run actors, and
  Ray's own processes separately);
- total wall time.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sentiment_core import classroom, runs  # noqa: E402
from sentiment_core.data import make_negation, make_splits  # noqa: E402


def rss_mb(pid: int) -> float:
    """Current resident memory of process ``pid`` in MB (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/status", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def descendants(pid: int) -> dict[int, str]:
    """Every process below ``pid`` with its command line."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", encoding="utf-8") as handle:
                    parents[int(entry)] = int(handle.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    found, frontier = {}, [pid]
    while frontier:
        current = frontier.pop()
        for child, parent in parents.items():
            if parent == current and child not in found:
                try:
                    with open(f"/proc/{child}/cmdline", "rb") as handle:
                        found[child] = handle.read().replace(b"\0", b" ").decode(errors="replace")
                except OSError:
                    found[child] = ""
                frontier.append(child)
    return found


class Sampler(threading.Thread):
    """Samples memory every 250 ms: this process, run workers, other helper processes."""

    def __init__(self, is_worker):
        super().__init__(daemon=True)
        self.is_worker, self.done = is_worker, threading.Event()
        self.peak_app = self.peak_worker = self.peak_workers_total = self.peak_other = 0.0

    def run(self) -> None:
        me = os.getpid()
        while not self.done.is_set():
            self.peak_app = max(self.peak_app, rss_mb(me))
            procs = descendants(me)
            workers = [rss_mb(p) for p, cmd in procs.items() if self.is_worker(cmd)]
            others = [rss_mb(p) for p, cmd in procs.items() if not self.is_worker(cmd)]
            self.peak_worker = max([self.peak_worker, *workers])
            self.peak_workers_total = max(self.peak_workers_total, sum(workers))
            self.peak_other = max(self.peak_other, sum(others))
            time.sleep(0.25)


def run_class(args, backend: str) -> dict:
    """Submit the class to one backend and measure it."""
    splits = make_splits(make_negation(n_examples=args.examples, seed=0), val_fraction=0.1, test_fraction=0.1)
    tmp = tempfile.mkdtemp(prefix="gatescope-class-")
    cluster = None
    try:
        if backend == "ray":
            import ray
            from ray.cluster_utils import Cluster

            os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
            t_cluster = time.perf_counter()
            cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
            for _ in range(2):
                cluster.add_node(num_cpus=1)
            cluster.wait_for_nodes()
            cluster_seconds = time.perf_counter() - t_cluster
            os.environ["GATESCOPE_RAY_ADDRESS"] = cluster.address
            queue = runs.RunQueue(Path(tmp) / "runs", max_concurrent=3, executor="ray",
                                  max_per_student=args.runs_per_student)
            sampler = Sampler(lambda cmd: cmd.startswith("ray::") and "RunActor" in cmd)
        else:
            os.environ[runs.WORKER_THREADS_ENV] = "1"
            cluster_seconds = 0.0
            queue = runs.RunQueue(Path(tmp) / "runs", max_concurrent=args.slots, executor="process",
                                  max_per_student=args.runs_per_student)
            sampler = Sampler(lambda cmd: "spawn_main" in cmd)
        sampler.start()
        t0 = time.perf_counter()
        submitted: dict[str, list[str]] = {}
        for s in range(args.students):
            student = classroom.Viewer(f"student-{s + 1}", "student", f"s{s + 1}")
            for r in range(args.runs_per_student):
                request = runs.RunRequest(
                    splits, {"cell": ("lstm", "gru", "rnn")[(s + r) % 3], "emb_dim": 16, "hidden_dim": args.hidden},
                    {"epochs": args.epochs, "batch_size": 64, "device": "cpu", "patience": 0},
                    data={"name": "synthetic_negation"}, label=f"s{s + 1}-r{r + 1}")
                submitted.setdefault(student.owner, []).append(classroom.submit(student, queue, request))
        try:
            records = {name: queue.wait(name, timeout=max(1.0, args.time_limit - (time.perf_counter() - t0)))
                       for names in submitted.values() for name in names}
        finally:
            wall = time.perf_counter() - t0
            sampler.done.set()
            sampler.join()
            queue.close()
        first_waits, last_waits, in_order, began_in_order = [], [], 0, 0
        for owner, names in submitted.items():
            starts = [records[n].status.get("started") or float("inf") for n in names]
            dispatched = [records[n].status.get("dispatched") or float("inf") for n in names]
            waits = [start - records[n].status["created"] for n, start in zip(names, starts)]
            first_waits.append(waits[0])
            last_waits.append(waits[-1])
            in_order += dispatched == sorted(dispatched)
            began_in_order += starts == sorted(starts)
        nodes = {records[n].status.get("node") for n in records if records[n].status.get("node")}
        return {
            "backend": backend, "runs": len(records),
            "completed": sum(r.state == "completed" for r in records.values()),
            "slots": 3 if backend == "ray" else args.slots, "nodes_used": len(nodes) or 1,
            "first_wait": [min(first_waits), statistics.median(first_waits), max(first_waits)],
            "last_wait": [min(last_waits), statistics.median(last_waits), max(last_waits)],
            "students_in_order": in_order, "students_began_in_order": began_in_order, "students": len(submitted),
            "peak_app_mb": sampler.peak_app, "peak_worker_mb": sampler.peak_worker,
            "peak_workers_total_mb": sampler.peak_workers_total, "peak_other_mb": sampler.peak_other,
            "wall_s": wall, "cluster_start_s": cluster_seconds,
        }
    finally:
        if cluster is not None:
            import ray

            ray.shutdown()
            cluster.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)


def ray_in_namespace(argv: list[str]) -> dict | str:
    """Run the ray half in a loopback-only network namespace; returns its result or why not."""
    try:
        import ray  # noqa: F401
    except ImportError:
        return "Ray is not installed (pip install '.[ray]')"
    if not shutil.which("unshare"):
        return "unshare is not available"
    done = subprocess.run(["unshare", "-n", "sh", "-c",
                           "ip link set lo up && exec \"$0\" \"$@\"", sys.executable, __file__, *argv,
                           "--backends", "ray", "--json"], capture_output=True, text=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        return f"the Ray run failed (exit {done.returncode}): {done.stderr.strip()[-800:]}"
    return json.loads(lines[-1][7:])


def print_table(results: list[dict]) -> None:
    def fmt3(values):
        return " / ".join(f"{v:.1f}" for v in values)

    rows = [
        ("runs completed", lambda r: f"{r['completed']} of {r['runs']}"),
        ("runs at once · nodes used", lambda r: f"{r['slots']} · {r['nodes_used']}"),
        ("first-run wait s (min/med/max)", lambda r: fmt3(r["first_wait"])),
        ("last-run wait s (min/med/max)", lambda r: fmt3(r["last_wait"])),
        ("students: runs given slots in order", lambda r: f"{r['students_in_order']} of {r['students']}"),
        ("students: runs began training in order", lambda r: f"{r['students_began_in_order']} of {r['students']}"),
        ("peak RSS app MB", lambda r: f"{r['peak_app_mb']:.0f}"),
        ("peak RSS one worker MB", lambda r: f"{r['peak_worker_mb']:.0f}"),
        ("peak RSS all workers MB", lambda r: f"{r['peak_workers_total_mb']:.0f}"),
        ("peak RSS other (Ray's own) MB", lambda r: f"{r['peak_other_mb']:.0f}"),
        ("cluster start s", lambda r: f"{r['cluster_start_s']:.1f}"),
        ("total wall s", lambda r: f"{r['wall_s']:.1f}"),
    ]
    print(f"{'':34}" + "".join(f"{r['backend']:>22}" for r in results))
    for label, cell in rows:
        print(f"{label:34}" + "".join(f"{cell(r):>22}" for r in results))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--students", type=int, default=30, help="students (default 30)")
    parser.add_argument("--runs-per-student", type=int, default=2, help="runs each student submits (default 2)")
    parser.add_argument("--slots", type=int, default=2, help="local backend: runs at once (default 2)")
    parser.add_argument("--backends", default="local,ray", help="comma-separated: local, ray (default both)")
    parser.add_argument("--examples", type=int, default=400, help="synthetic examples per run (default 400)")
    parser.add_argument("--epochs", type=int, default=1, help="epochs per run (default 1)")
    parser.add_argument("--hidden", type=int, default=16, help="hidden size (default 16)")
    parser.add_argument("--time-limit", type=float, default=1800, help="give up after this many seconds")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)  # the namespaced ray half
    args = parser.parse_args()
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if not 1 <= args.students <= 200 or not 1 <= args.runs_per_student <= runs.MAX_CONCURRENT_LIMIT \
            or not 1 <= args.slots <= runs.MAX_CONCURRENT_LIMIT or not set(backends) <= {"local", "ray"}:
        parser.error("--students 1..200, --runs-per-student and --slots 1..16, --backends local and/or ray")
    if args.json:
        print("RESULT " + json.dumps(run_class(args, backends[0])), flush=True)
        return 0
    print(f"{args.students} students x {args.runs_per_student} runs, {args.examples} synthetic examples, "
          f"{args.epochs} epoch(s), hidden {args.hidden}; submitted student after student")
    results = []
    for backend in backends:
        if backend == "local":
            results.append(run_class(args, "local"))
        else:
            outcome = ray_in_namespace([
                "--students", str(args.students), "--runs-per-student", str(args.runs_per_student),
                "--examples", str(args.examples), "--epochs", str(args.epochs), "--hidden", str(args.hidden),
                "--time-limit", str(args.time_limit)])
            if isinstance(outcome, str):
                print(f"ray: skipped: {outcome}")
            else:
                results.append(outcome)
    if results:
        print_table(results)
    ok = all(r["completed"] == r["runs"] and r["students_in_order"] == r["students"] for r in results)
    return 0 if ok and results else 1


if __name__ == "__main__":
    sys.exit(main())
