"""The ``ray`` run backend: each run trains in a Ray actor somewhere on a cluster.

The actor trains with the same recorder as the local backends, into a scratch folder on its
own node, and the app's queue polls it: new epochs and batches, the status, the best
checkpoint each time it improves and the time-lapse each time it grows come back over Ray and are written into the app's run folder,
so no shared filesystem is needed. Stop reaches the actor as a method call. When the actor's
node dies, the run is marked ``interrupted`` and keeps the last best checkpoint that came back.

Ray is an optional extra (``pip install .[ray]``); it is imported only when this backend is
used.

Environment:
    ``GATESCOPE_RAY_ADDRESS``  ``auto`` (a cluster started on this machine with ``ray start``)
        or ``ray://host:10001``; setting it makes ``ray`` the default backend.
    ``GATESCOPE_RAY_NUM_CPUS`` CPUs each run asks for (default 1). Each run also asks for one GPU
        when the cluster has any.
"""
from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

from .runs import (ACTIVE_STATES, BEST_FILE, RunError, _interrupted_message, _json_default, execute_run,
                   read_json, read_jsonl, write_json)
from .timelapse import TIMELAPSE_FILE

RAY_ADDRESS_ENV = "GATESCOPE_RAY_ADDRESS"
RAY_NUM_CPUS_ENV = "GATESCOPE_RAY_NUM_CPUS"
POLL_SECONDS = 0.5
_LOCAL_FIELDS = ("owner", "owner_pid", "owner_token", "created", "seq", "pid", "executor")
_CONNECT_LOCK = threading.Lock()


def ray_address() -> str:
    """``$GATESCOPE_RAY_ADDRESS`` ("" when unset)."""
    return os.environ.get(RAY_ADDRESS_ENV, "").strip()


def _check_reachable(address: str, timeout: float = 5.0) -> None:
    """Fail fast (instead of Ray's 30 s client timeout) when ``host:port`` accepts no connection."""
    import socket

    target = address.split("://", 1)[-1]
    if address == "auto" or ":" not in target:
        return
    host, _, port = target.rpartition(":")
    if not port.isdigit():
        raise RunError(f"{RAY_ADDRESS_ENV}={address!r} is not an address: use 'auto' or ray://host:10001")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            pass
    except OSError as error:
        raise RunError(f"cannot reach the Ray cluster at {address!r}: nothing answers on {host}:{port} "
                       f"({error.strerror or error}); check {RAY_ADDRESS_ENV} and that the cluster is running") from None


def connect(address: str | None = None) -> dict:
    """Join the Ray cluster at ``address`` once per process (later calls reuse the connection).

    Returns:
        ``{"address", "nodes", "cpus", "gpus"}`` of the cluster.

    Raises:
        RunError: Ray is not installed, or the cluster cannot be reached (the message names the address).
    """
    address = address if address is not None else ray_address()
    try:
        import ray
    except ImportError:
        raise RunError("the ray backend needs Ray: pip install 'gatescope[ray]' "
                       "(or pip install -r requirements-ray.txt)") from None
    with _CONNECT_LOCK:
        if not ray.is_initialized():
            if not address:
                raise RunError(f"the ray backend needs {RAY_ADDRESS_ENV}: 'auto' or ray://host:10001")
            _check_reachable(address)
            try:
                ray.init(address=address, logging_level="ERROR", log_to_driver=False)
            except Exception as error:  # noqa: BLE001 - Ray raises ConnectionError, RuntimeError, ...
                raise RunError(f"cannot reach the Ray cluster at {address!r} ({type(error).__name__}: "
                               f"{str(error).strip().splitlines()[0] if str(error).strip() else 'no answer'}); "
                               f"check {RAY_ADDRESS_ENV} and that the cluster is running") from None
    resources = ray.cluster_resources()
    return {"address": address, "nodes": len([n for n in ray.nodes() if n.get("Alive")]),
            "cpus": resources.get("CPU", 0.0), "gpus": resources.get("GPU", 0.0)}


class _RunActor:
    """Trains one run on a worker node and hands back what it recorded (a Ray actor, see ``RayRun``)."""

    def __init__(self):
        import tempfile

        self.folder = Path(tempfile.mkdtemp(prefix="gatescope-run-"))
        self.stop_event = threading.Event()
        self.thread: threading.Thread | None = None
        self.mtimes: dict[str, int] = {}  # file name -> mtime (ns) last sent back

    def start(self, config: dict, status: dict, splits: Any, threads: int) -> str:
        """Begin training in a thread; returns this node's Ray id."""
        import ray
        import torch

        torch.set_num_threads(max(1, threads))
        write_json(self.folder / "config.json", config)
        write_json(self.folder / "status.json", status)
        self.thread = threading.Thread(target=execute_run, args=(self.folder, splits, self.stop_event, "ray"),
                                       daemon=True)
        self.thread.start()
        return ray.get_runtime_context().get_node_id()

    def stop(self) -> None:
        self.stop_event.set()

    def _changed(self, name: str) -> bytes | None:
        """The bytes of file ``name`` when it changed since the last poll, else None."""
        try:
            mtime = (self.folder / name).stat().st_mtime_ns
            if mtime != self.mtimes.get(name):
                payload, self.mtimes[name] = (self.folder / name).read_bytes(), mtime
                return payload
        except OSError:
            pass
        return None

    def poll(self, epoch_rows: int, batch_rows: int) -> dict:
        """Status, the epochs and batches after the given row counts, the best checkpoint's and the
        time-lapse's bytes when they changed since the last poll, and the result and error files."""
        payload = self._changed(BEST_FILE)
        timelapse = self._changed(TIMELAPSE_FILE)
        files = {name: (self.folder / name).read_text(encoding="utf-8")
                 for name in ("result.json", "error.log") if (self.folder / name).is_file()}
        return {"status": read_json(self.folder / "status.json", {}) or {},
                "epochs": read_jsonl(self.folder / "epochs.jsonl", epoch_rows),
                "batches": read_jsonl(self.folder / "batches.jsonl", batch_rows),
                "best": payload, "timelapse": timelapse, "files": files, "alive": self.thread is not None and self.thread.is_alive()}


class RayRun:
    """The queue's handle on one run in a Ray actor (``is_alive``/``join``/``exitcode`` like a process).

    A thread polls the actor and mirrors its records into the local run folder ``path``.
    """

    exitcode = None

    def __init__(self, path: Path, splits: Any, stop_event: threading.Event):
        self.path, self.splits, self.stop_event = Path(path), splits, stop_event
        self.node_id = ""
        self._thread = threading.Thread(target=self._follow, name=f"ray-{self.path.name}", daemon=True)

    def start(self) -> None:
        import ray

        info = connect()
        options: dict[str, Any] = {"num_cpus": float(os.environ.get(RAY_NUM_CPUS_ENV, "1") or 1),
                                   "scheduling_strategy": "SPREAD"}
        if info["gpus"] > 0:
            options["num_gpus"] = 1
        self.actor = ray.remote(max_restarts=0, max_concurrency=4)(_RunActor).options(**options).remote()
        config = read_json(self.path / "config.json", {}) or {}
        status = read_json(self.path / "status.json", {}) or {}
        threads = int(options["num_cpus"])
        self._started = self.actor.start.remote(config, status, self.splits, threads)
        self.splits = None
        self._ray = ray
        self._thread.start()

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    # -- the follower thread
    def _follow(self) -> None:
        ray = self._ray
        epochs = batches = 0
        stop_sent = False
        local = read_json(self.path / "status.json", {}) or {}
        try:
            while not ray.wait([self._started], timeout=1.0)[0]:  # the cluster may have no free CPU yet
                if self.stop_event.is_set() or (self.path / "stop").exists():
                    write_json(self.path / "status.json", {**local, "state": "stopped", "ended": time.time(),
                                                           "message": "stopped before a Ray worker picked it up"})
                    return
                local.update(heartbeat=time.time(), message="waiting for a free Ray worker")
                write_json(self.path / "status.json", local)
            self.node_id = ray.get(self._started)
            while True:
                if not stop_sent and (self.stop_event.is_set() or (self.path / "stop").exists()):
                    self.actor.stop.remote()
                    stop_sent = True
                answer = ray.get(self.actor.poll.remote(epochs, batches))
                epochs += self._append("epochs.jsonl", answer["epochs"])
                batches += self._append("batches.jsonl", answer["batches"])
                for name, key in ((BEST_FILE, "best"), (TIMELAPSE_FILE, "timelapse")):
                    if answer.get(key) is not None:
                        tmp = self.path / f".{name}.tmp"
                        tmp.write_bytes(answer[key])
                        os.replace(tmp, self.path / name)
                for name, text in answer["files"].items():
                    (self.path / name).write_text(text, encoding="utf-8")
                remote = answer["status"]
                merged = {**remote, **{k: local[k] for k in _LOCAL_FIELDS if k in local},
                          "executor": "ray", "node": self.node_id, "heartbeat": time.time()}
                write_json(self.path / "status.json", merged)
                if not answer["alive"] and remote.get("state") not in ACTIVE_STATES:
                    break
                time.sleep(POLL_SECONDS)
        except Exception as error:  # noqa: BLE001 - the actor (or its node) is gone
            status = read_json(self.path / "status.json", {}) or {}
            if status.get("state") in ACTIVE_STATES:
                status.update(state="interrupted", ended=time.time(),
                              message=_interrupted_message(status).replace(
                                  "(server restart or crash)", "(the Ray worker running it was lost)")
                              + f" [{type(error).__name__}]")
                write_json(self.path / "status.json", status)
        finally:
            try:
                ray.kill(self.actor)
            except Exception:  # noqa: BLE001 - already dead
                pass

    def _append(self, name: str, rows: list[dict]) -> int:
        if rows:
            import json

            with open(self.path / name, "a", encoding="utf-8") as handle:
                for row in rows:
                    handle.write(json.dumps(row, default=_json_default) + "\n")
        return len(rows)
