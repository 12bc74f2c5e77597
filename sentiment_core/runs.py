"""Training runs that survive refreshes and restarts: a directory registry, a background
worker (a spawned process by default, a thread for tests) and one shared queue that caps
how many runs train at once.

Every run lives in ``<runs dir>/<name>/``::

    config.json      what was asked for: data description, model/training/encoding options, sizes
    status.json      state, progress, pid and heartbeat (rewritten atomically)
    epochs.jsonl     one line per finished epoch (EpochInfo)
    batches.jsonl    one line per optimisation step (BatchInfo)
    best.safetensors the best bundle so far (written after every improving epoch)
    timelapse.safetensors probe-sentence snapshots and unit emergence (``sentiment_core.timelapse``)
    result.json      validation/test metrics once training ends
    stop             present when someone asked the run to stop
    error.log        the traceback when the worker failed (never shown to students)
    splits.json      the data of a run still waiting in the queue (removed when it starts)

A run trained on an uploaded file keeps that file once per content, shared by every run trained
on it, in ``<runs dir>/.uploads/<sha>`` (``<sha>``: ``data.upload.upload_sha`` of its bytes, also
in the run's ``config.json`` ``data`` group), so its test split can be rebuilt; it is removed with
the last run that uses it.

A run whose worker died (server restart, crash, kill) is reported as ``interrupted``: its
epochs up to the last finished one and its best checkpoint stay usable. A run that was still
waiting when its server stopped stays ``queued``: the next server's queue takes it over from
its ``splits.json``, in the same order. A worker process an earlier server left training is
adopted: it keeps its slot, so it counts against the concurrency limit until it ends.

A damaged run folder (a file that is not valid JSON, a cut-short line, a value of the wrong
type, an empty checkpoint) is still listed: ``RunRecord.problems`` says what is wrong, in words,
and the parts that can be read stay usable. A run whose ``status.json`` cannot be read is in
state ``damaged``. The queue survives any fault of one run (a read-only folder, a full disk):
that run fails with a message naming the cause, and the next one starts.

The queue is fair across students: the next free slot goes to the owner (student) who was
served least recently, and each owner may have at most ``max_per_student`` runs waiting or
training at once (runs without an owner, from scripts and the CLI, are not capped).

Environment:
    ``GATESCOPE_RUNS_DIR``            the runs directory (default ``./runs``).
    ``GATESCOPE_MAX_CONCURRENT_RUNS`` how many runs train at once (default 1).
    ``GATESCOPE_RUN_EXECUTOR``        ``process`` (default), ``thread`` or ``ray`` (the default when
                                      ``GATESCOPE_RAY_ADDRESS`` is set; see ``ray_backend``).
    ``GATESCOPE_WORKER_THREADS``      torch threads per worker process (default 1).
    ``GATESCOPE_MAX_RUNS_PER_STUDENT`` runs one student may have waiting or training (default 2).
"""
from __future__ import annotations

import contextlib
import errno
import json
import logging
import math
import os
import re
import secrets
import sys
import threading
import time
import traceback
import types
from collections import deque
from dataclasses import asdict, dataclass, field, is_dataclass
from pathlib import Path
from typing import Any

from .errors import GateScopeError
from .files import parse_json

RUNS_DIR_ENV = "GATESCOPE_RUNS_DIR"
MAX_CONCURRENT_ENV = "GATESCOPE_MAX_CONCURRENT_RUNS"
EXECUTOR_ENV = "GATESCOPE_RUN_EXECUTOR"
WORKER_NICENESS_ENV = "GATESCOPE_WORKER_NICENESS"
DEFAULT_WORKER_NICENESS = 10  # training workers yield the CPU to the app's pages
WORKER_THREADS_ENV = "GATESCOPE_WORKER_THREADS"
MAX_PER_STUDENT_ENV = "GATESCOPE_MAX_RUNS_PER_STUDENT"
DEFAULT_MAX_PER_STUDENT = 2
SPLITS_FILE = "splits.json"

STATES = ("queued", "running", "completed", "stopped", "failed", "interrupted", "damaged")
ACTIVE_STATES = ("queued", "running")
FINAL_STATES = ("completed", "stopped", "failed", "interrupted", "damaged")
EXECUTORS = ("process", "thread", "ray")
MAX_CONCURRENT_LIMIT = 16
HEARTBEAT_SECONDS = 2.0
HEARTBEAT_TIMEOUT = 60.0
BEST_FILE = "best.safetensors"
MAX_RUN_JSON_BYTES = 16 * 2**20  # config.json, status.json and result.json are a few KB when sound
MAX_LISTED_LINES = 3  # damaged lines of one file named in a run's problems; the rest are counted
UPLOADS_DIR = ".uploads"  # <runs dir>/.uploads/<sha>: the uploaded training files runs were trained on
MAX_KEPT_UPLOADS_BYTES = 1024 * 2**20  # all kept uploaded files together (each at most MAX_UPLOAD_BYTES)

log = logging.getLogger(__name__)

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")
_SHA = re.compile(r"^[0-9a-f]{16}$")
# Keeping an uploaded file (with the config.json that names it) and releasing one never interleave.
_UPLOADS_LOCK = threading.RLock()
# Identifies this Python process, so a run started by an earlier server (whose pid may
# have been reused) is never mistaken for one of ours.
PROCESS_TOKEN = secrets.token_hex(8)


class RunError(GateScopeError, ValueError):
    """A run name, request or directory cannot be used."""


# ---------------------------------------------------------------- names and files


def runs_dir(root: str | os.PathLike | None = None) -> Path:
    """The runs directory: ``root``, else ``$GATESCOPE_RUNS_DIR``, else ``./runs``."""
    return Path(root if root is not None else os.environ.get(RUNS_DIR_ENV) or "runs").expanduser()


def validate_run_name(name: str) -> str:
    """Return ``name`` when it is a safe folder name, else raise RunError saying why.

    Safe names are 1-80 characters of letters, digits, ``.``, ``_`` and ``-``, start with a
    letter or digit, and contain no ``..`` (so ``../x``, ``/etc`` or ``a/b`` are refused).
    """
    if not isinstance(name, str) or not _NAME.match(name) or ".." in name:
        raise RunError(
            f"run name {name!r} is not allowed: use 1-80 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit, without '..' or slashes"
        )
    return name


def slugify(text: str, limit: int = 40) -> str:
    """Turn free text into a safe name fragment ("My LSTM #2" -> "my-lstm-2")."""
    slug = re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-")[:limit].strip("-")
    return slug or "run"


def new_run_name(label: str = "run", root: str | os.PathLike | None = None) -> str:
    """A fresh, unique, safe name such as ``lstm-0622-101502-a3f1``."""
    base = slugify(label)
    stamp = time.strftime("%m%d-%H%M%S")
    for _ in range(100):
        name = f"{base}-{stamp}-{secrets.token_hex(2)}"
        if not (runs_dir(root) / name).exists():
            return name
    raise RunError("could not find a free run name")  # pragma: no cover


def run_path(name: str, root: str | os.PathLike | None = None) -> Path:
    """The folder of run ``name`` (the name is validated first)."""
    return runs_dir(root) / validate_run_name(name)


def _json_default(value: Any) -> Any:
    if is_dataclass(value):
        return asdict(value)
    if isinstance(value, (set, tuple)):
        return list(value)
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def finite_json(value: Any) -> Any:
    """NaN/inf are not JSON: store them as None."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [finite_json(v) for v in value]
    return value


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (readers never see half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(json.dumps(finite_json(data), default=_json_default, indent=1), encoding="utf-8")
    os.replace(tmp, path)


def _reason(error: OSError) -> str:
    """The operating system's words for ``error`` (``permission denied``, ``no space left on device``)."""
    return os.strerror(error.errno).lower() if error.errno else str(error)


def fault_message(error: OSError, action: str = "write") -> str:
    """Words for a failed file operation: ``could not write /runs/x/status.json: permission denied``."""
    target = f" {error.filename}" if error.filename else ""
    return f"could not {action}{target}: {_reason(error)}"


def read_json_file(path: Path, limit: int = MAX_RUN_JSON_BYTES) -> Any:
    """The JSON in ``path``, read only when it declares at most ``limit`` bytes.

    Raises:
        FileNotFoundError: there is no such file.
        RunError: it cannot be read, is too large, or is not valid JSON (the message names the file).
    """
    try:
        size = path.stat().st_size
        if size > limit:
            raise RunError(f"{path.name} is {size / 2**20:.1f} MB; a run file this large is damaged "
                           f"(the limit is {limit / 2**20:.0f} MB)")
        raw = path.read_bytes()
    except FileNotFoundError:
        raise
    except OSError as error:
        raise RunError(f"{path.name} cannot be read: {_reason(error)}") from None
    return parse_json(raw, path.name, RunError, finite=True)


def read_json(path: Path, default: Any = None) -> Any:
    """The JSON in ``path``, or ``default`` when it is missing or cannot be read."""
    try:
        return read_json_file(path)
    except (OSError, RunError):
        return default


def read_json_object(path: Path) -> dict | None:
    """A run file that must hold a JSON object; None when the file does not exist.

    Raises:
        RunError: the file is damaged; the message names it and says how.
    """
    try:
        value = read_json_file(path)
    except FileNotFoundError:
        return None
    if not isinstance(value, dict):
        raise RunError(f"{path.name} holds a JSON {type(value).__name__} instead of an object")
    return value


def _row_problem(row: Any) -> str | None:
    """Why a JSON-lines row is unusable (rows are objects of numbers), else None."""
    if not isinstance(row, dict):
        return "is not a JSON object"
    for key, value in row.items():
        if value is not None and not isinstance(value, (int, float)):
            return f"has {key} = {str(value)[:20]!r}, not a number"
    return None


def scan_jsonl(path: Path, start: int = 0) -> tuple[list[dict], list[str]]:
    """Rows of a JSON-lines file from row ``start``, and what is wrong with the others.

    A last line without its newline is being written: it is skipped without a word here (a
    finished run's reader reports it, see ``load_run``).

    Returns:
        The usable rows, and one problem per damaged line (``epochs.jsonl line 3 is not valid
        JSON (...)``), at most ``MAX_LISTED_LINES`` of them plus a count of the rest.
    """
    rows: list[dict] = []
    problems: list[str] = []
    damaged = 0
    try:
        with open(path, "rb") as handle:
            for i, line in enumerate(handle):
                if i < start or not line.endswith(b"\n"):
                    continue
                where = f"{path.name} line {i + 1}"
                try:
                    row = parse_json(line, where, RunError, finite=True)
                    problem = _row_problem(row)
                    if problem:
                        raise RunError(f"{where} {problem}")
                except RunError as error:
                    damaged += 1
                    if damaged <= MAX_LISTED_LINES:
                        problems.append(str(error))
                    continue
                rows.append(row)
    except OSError:
        pass
    if damaged > MAX_LISTED_LINES:
        problems.append(f"{path.name}: {damaged - MAX_LISTED_LINES} more damaged line(s)")
    return rows, problems


def read_jsonl(path: Path, start: int = 0) -> list[dict]:
    """Rows of a JSON-lines file from row ``start``; damaged and half-written lines are skipped."""
    return scan_jsonl(path, start)[0]


def _cut_short_line(path: Path) -> int | None:
    """The number of a last line that lacks its newline (a file cut short), else None."""
    try:
        with open(path, "rb") as handle:
            count = sum(1 for _ in handle)
            if not count:
                return None
            handle.seek(-1, os.SEEK_END)
            return None if handle.read(1) == b"\n" else count
    except OSError:
        return None


# ---------------------------------------------------------------- process liveness


def pid_alive(pid: int | None) -> bool:
    """True when a (non-zombie) process with this id exists."""
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    try:  # a finished child that nobody reaped yet is a zombie: dead for our purpose
        with open(f"/proc/{int(pid)}/stat", encoding="utf-8") as handle:
            return handle.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return True


# ---------------------------------------------------------------- the registry


@dataclass
class RunRecord:
    """What the pages show about one run.

    Attributes:
        name: folder name.
        path: the run folder.
        state: one of ``STATES`` (``interrupted`` when its worker died).
        config: config.json (data, model, train, ...).
        status: status.json (progress, times, message).
        result: result.json once training ended, else None (also when it is damaged).
        queue_position: 1-based place in this server's queue, 0 when running, None otherwise.
        problems: what is damaged in the folder, in words (empty for a sound run).
    """

    name: str
    path: Path
    state: str
    config: dict
    status: dict
    result: dict | None = None
    queue_position: int | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def damaged(self) -> bool:
        return bool(self.problems)

    @property
    def message(self) -> str:
        return self.status.get("message", "")

    @property
    def owner(self) -> str:
        """The session id of whoever started it ("" for scripts and the CLI)."""
        return str(self.config.get("owner") or "")

    @property
    def nickname(self) -> str:
        """The name its student chose (shown in the class gallery), else ""."""
        return str(self.config.get("nickname") or "")

    @property
    def display_name(self) -> str:
        return self.config.get("display_name") or self.name

    @property
    def label(self) -> str:
        """Short text for pickers: ``name · BiLSTM x2 · completed`` (``· ⚠ damaged`` when it is)."""
        return f"{self.name} · {self.display_name} · {self.state}" + (" · ⚠ damaged" if self.damaged else "")

    @property
    def best_path(self) -> Path | None:
        """The best checkpoint, None when there is none (a damaged one is refused when it is loaded)."""
        path = self.path / BEST_FILE
        return path if path.is_file() else None

    @property
    def created(self) -> float:
        return float(self.status.get("created") or self.config.get("created") or 0.0)

    def epochs(self) -> list[dict]:
        return read_jsonl(self.path / "epochs.jsonl")

    def batches(self, start: int = 0) -> list[dict]:
        return read_jsonl(self.path / "batches.jsonl", start)

    def progress(self) -> dict:
        """Fraction done, elapsed and estimated remaining seconds (None when unknown)."""
        s = self.status
        epochs = int(s.get("total_epochs") or self.config.get("train", {}).get("epochs") or 1)
        per_epoch = int(s.get("batches_per_epoch") or 0)
        done_epochs = max(0, int(s.get("epoch") or 1) - 1)
        fraction = 0.0
        if per_epoch:
            fraction = (done_epochs + int(s.get("batch") or 0) / per_epoch) / epochs
        if self.state == "completed":
            fraction = 1.0
        elapsed = float(s.get("elapsed") or 0.0)
        if self.state == "running" and s.get("started"):
            elapsed = max(elapsed, time.time() - float(s["started"]))
        eta = elapsed * (1 - fraction) / fraction if 0 < fraction < 1 else None
        return {"fraction": min(1.0, max(0.0, fraction)), "elapsed": elapsed, "eta": eta,
                "epoch": s.get("epoch"), "epochs": epochs}

    @property
    def device(self) -> str:
        """What the run trained on, in words (``cpu, 2 threads``); "" for runs recorded before it was kept."""
        return str((self.result or {}).get("device_label") or self.status.get("device_label") or "")

    def summary(self) -> dict:
        """One row for the Compare table."""
        epochs = self.epochs()
        result = self.result or {}
        best_val = max((e.get("val_accuracy") or 0.0 for e in epochs), default=None)
        seconds = [e["seconds"] for e in epochs if e.get("seconds")]
        return {
            "run": self.name,
            "model": self.display_name,
            "state": self.state,
            "dataset": self.config.get("data", {}).get("label") or self.config.get("data", {}).get("name", ""),
            "epochs": len(epochs),
            "best val acc": best_val,
            "test acc": result.get("test_accuracy"),
            "test macro-F1": result.get("test_macro_f1"),
            "params": self.config.get("params") or result.get("params"),
            "s / epoch": sum(seconds) / len(seconds) if seconds else None,
            "device": self.device,
            "problems": "; ".join(self.problems),
        }


def _effective_state(status: dict, tracked: bool, resumable: bool = False) -> str:
    """The state to show: a ``running``/``queued`` run whose worker is gone is ``interrupted``,
    except a queued run whose data was saved (``resumable``): the next queue takes it over."""
    state = status.get("state", "failed")
    if state not in ACTIVE_STATES:
        return state if state in STATES else "damaged"
    if tracked:
        return state
    ours = status.get("owner_token") == PROCESS_TOKEN
    if state == "running":
        beat = float(status.get("heartbeat") or status.get("started") or 0.0)
        if time.time() - beat > HEARTBEAT_TIMEOUT:
            return "interrupted"
        if (not ours or status.get("executor") == "process") and not pid_alive(status.get("pid")):
            return "interrupted"
        return "running"
    if ours or pid_alive(status.get("owner_pid")):
        return "queued"
    return "queued" if resumable else "interrupted"


def _cancel(path: Path, message: str) -> None:
    """Mark a waiting run stopped (it never started) and drop its saved data."""
    status = read_json(path / "status.json", {}) or {}
    status.update(state="stopped", message=message, ended=time.time())
    write_json(path / "status.json", status)
    (path / SPLITS_FILE).unlink(missing_ok=True)


def _interrupted_message(status: dict) -> str:
    epoch = status.get("last_finished_epoch") or 0
    what = (f"its metrics up to epoch {epoch} and its best checkpoint are kept" if epoch
            else "no epoch had finished, so there is no checkpoint")
    return f"the training process stopped unexpectedly (server restart or crash); {what}"


def _typed(doc: dict, file: str, group: str, expected: dict) -> str | None:
    """Why one settings group of ``doc`` cannot be used (a value of the wrong type), else None.

    Args:
        doc: the file's content.
        file: its name, for the message.
        group: the group's key (``model``, ``train``, ...).
        expected: the group's default values; each value present must have the same kind.
    """
    values = doc.get(group)
    if values is None:
        return None
    if not isinstance(values, dict):
        return f"{file}: {group} is not an object"
    for key, value in values.items():
        default = expected.get(key)
        if value is None or default is None:
            continue
        if isinstance(default, bool):
            ok, kind = isinstance(value, bool), "true or false"
        elif isinstance(default, int):
            ok, kind = isinstance(value, int) and not isinstance(value, bool), "a whole number"
        elif isinstance(default, float):
            ok, kind = isinstance(value, (int, float)) and not isinstance(value, bool), "a number"
        elif isinstance(default, str):
            ok, kind = isinstance(value, str), "text"
        else:
            continue
        if not ok:
            return f"{file}: {group}.{key} is {str(value)[:20]!r}, not {kind}"
    return None


def _config_problem(config: dict) -> str | None:
    """Why a run's config.json cannot be used (the pages would stumble on it), else None."""
    from .settings import defaults

    for group, expected in {**defaults(), "data": {}, "timelapse": {}}.items():
        problem = _typed(config, "config.json", group, expected)
        if problem:
            return problem
    names = config.get("label_names", [])
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        return "config.json: label_names is not a list of class names"
    for key in ("display_name", "label", "owner", "nickname"):
        if not isinstance(config.get(key) or "", str):
            return f"config.json: {key} is not text"
    return _numbers_problem(config, "config.json", ("created", "params", "params_estimate"))


STATUS_NUMBERS = ("created", "started", "dispatched", "ended", "heartbeat", "elapsed", "epoch", "batch",
                  "batches_per_epoch", "total_epochs", "last_finished_epoch", "step", "last_loss", "pid",
                  "owner_pid", "seq")
RESULT_NUMBERS = ("best_epoch", "seconds", "seconds_per_epoch", "params", "val_accuracy", "val_macro_f1",
                  "test_accuracy", "test_macro_f1", "vocab_size")


def _numbers_problem(doc: dict, file: str, keys: tuple[str, ...]) -> str | None:
    """The first of ``keys`` whose value is neither a number nor null, in words, else None."""
    for key in keys:
        value = doc.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            return f"{file}: {key} is {str(value)[:20]!r}, not a number"
    return None


def _result_problem(result: dict) -> str | None:
    """Why a result.json cannot be shown (a score that is not a number, a broken confusion
    matrix), else None. Keys it lacks are not damage: pages show what there is."""
    problem = _numbers_problem(result, "result.json", RESULT_NUMBERS)
    if problem:
        return problem
    for part in ("validation", "test"):
        if part not in result:
            continue
        matrix = result[part].get("confusion") if isinstance(result[part], dict) else None
        if not (isinstance(matrix, list) and all(isinstance(row, list) and len(row) == len(matrix)
                                                  and all(isinstance(x, int) for x in row) for row in matrix)):
            return f"result.json: the {part} confusion matrix is not a square table of counts"
    return None


def load_run(name: str, root: str | os.PathLike | None = None, queue: "RunQueue | None" = None) -> RunRecord:
    """Read one run's folder, damaged or not (``RunRecord.problems`` says what is wrong).

    Raises:
        RunError: unsafe name or no such run.
    """
    path = run_path(name, root)
    queue = queue if queue is not None else _QUEUE
    ours = queue is not None and queue.root == runs_dir(root)
    tracked = ours and queue.tracks(name)
    problems: list[str] = []

    def part(file: str) -> dict | None:
        try:
            return read_json_object(path / file)
        except RunError as error:
            problems.append(str(error))
            return None

    status = queue.unsaved(name) if ours else None
    if status is None:
        status = part("status.json")
        if status is None and not problems:
            raise RunError(f"there is no run called {name!r} in {runs_dir(root)}")
    status = dict(status or {})
    problem = _numbers_problem(status, "status.json", STATUS_NUMBERS)
    if problem or not isinstance(status.get("message") or "", str):
        problems.append(problem or "status.json: message is not text")
        status = {"state": status.get("state")}
    if problems:
        status["state"] = "damaged"
    elif status.get("state") not in STATES:
        problems.append(f"status.json has an unknown state {str(status.get('state'))[:20]!r}")
    config = part("config.json") or {}
    problem = _config_problem(config)
    if problem:
        problems.append(problem)
        config = {k: v for k, v in config.items() if k in ("owner", "nickname") and isinstance(v, str)}
    config = upgrade_config(config)
    state = _effective_state(status, tracked, (path / SPLITS_FILE).is_file())
    if state == "interrupted" and status.get("state") != "interrupted":
        status = {**status, "state": "interrupted", "message": _interrupted_message(status),
                  "ended": status.get("heartbeat") or time.time()}
        try:
            write_json(path / "status.json", status)
        except OSError:
            pass
    result = part("result.json")
    problem = _result_problem(result) if result is not None else None
    if problem:
        problems.append(problem)
        result = None
    problems += _file_problems(path, state, result)
    if state == "damaged":
        status["message"] = "this run's files are damaged, so its state is unknown: " + "; ".join(problems)
    position = queue.position(name) if tracked and state in ACTIVE_STATES else None
    if state == "queued" and not tracked:
        status = {**status, "message": "waiting for the server's queue to start again (it keeps its place)"}
    return RunRecord(name, path, state, config, status, result, position, problems)


_LINE_PROBLEMS: dict[tuple, list[str]] = {}  # (epochs.jsonl, size, mtime, finished) -> its problems
MAX_REMEMBERED_SCANS = 4096


def _line_problems(path: Path, finished: bool) -> list[str]:
    """What is wrong with a run's ``epochs.jsonl`` (a finished run's cut-short last line too).

    Every listing of the runs asks this of every run, so a file is scanned again only when its
    size or time stamp changed (a finished run's never does).
    """
    try:
        stat = path.stat()
        key = (str(path), stat.st_size, stat.st_mtime_ns, finished)
    except OSError:
        key = None  # missing or unreadable: scan_jsonl says which, every time
    if key in _LINE_PROBLEMS:
        return list(_LINE_PROBLEMS[key])
    problems = scan_jsonl(path)[1]
    cut = _cut_short_line(path) if finished else None
    if cut:
        problems.append(f"epochs.jsonl line {cut} is cut short (the file ends in the middle of it)")
    if key is not None:
        if len(_LINE_PROBLEMS) >= MAX_REMEMBERED_SCANS:
            _LINE_PROBLEMS.clear()
        _LINE_PROBLEMS[key] = list(problems)
    return problems


def _file_problems(path: Path, state: str, result: dict | None) -> list[str]:
    """What is wrong with a run's line files and checkpoint, given its state and result."""
    problems = _line_problems(path / "epochs.jsonl", finished=state not in ACTIVE_STATES)
    if state in ACTIVE_STATES:
        return problems
    best = path / BEST_FILE
    try:
        size = best.stat().st_size if best.exists() else None
    except OSError as error:
        return [*problems, f"{BEST_FILE} cannot be read: {_reason(error)}"]
    if size == 0:
        problems.append(f"{BEST_FILE} is empty (0 bytes): the model cannot be loaded")
    elif size is None and (result or {}).get("has_checkpoint"):
        problems.append(f"{BEST_FILE} is missing although the run saved one: the model cannot be loaded")
    return problems


def list_runs(root: str | os.PathLike | None = None, queue: "RunQueue | None" = None) -> list[RunRecord]:
    """Every run, damaged ones included (``RunRecord.problems``), newest first. Folders and
    files that are not runs (no status.json, an unsafe name) are ignored."""
    base = runs_dir(root)
    try:
        children = list(base.iterdir()) if base.is_dir() else []
    except OSError as error:
        log.warning("the runs folder cannot be listed: %s", fault_message(error, "list"))
        return []
    records = []
    for child in children:
        if not child.is_dir() or not _NAME.match(child.name) or ".." in child.name:
            continue
        if not (child / "status.json").exists():
            continue
        try:
            records.append(load_run(child.name, root, queue))
        except RunError:
            continue
    records.sort(key=lambda r: r.created, reverse=True)
    return records


def delete_run(name: str, root: str | os.PathLike | None = None) -> None:
    """Remove a finished run's folder.

    Raises:
        RunError: the run is still queued or running (stop it first), or does not exist.
    """
    import shutil

    record = load_run(name, root)
    if record.state in ACTIVE_STATES:
        raise RunError(f"run {name!r} is {record.state}; stop it before deleting it")
    shutil.rmtree(record.path)
    release_upload(record.config.get("data") or {}, root)


# ---------------------------------------------------------------- uploaded training files


def kept_upload_path(sha: str, root: str | os.PathLike | None = None) -> Path:
    """Where the uploaded file whose content is named ``sha`` is kept.

    Raises:
        RunError: ``sha`` is not 16 lowercase hex digits (a hand-edited config.json).
    """
    if not isinstance(sha, str) or not _SHA.match(sha):
        raise RunError(f"{str(sha)[:40]!r} does not name an uploaded file (16 hex digits of its SHA-256)")
    return runs_dir(root) / UPLOADS_DIR / sha


def _mb(n: int) -> str:
    return f"{n / 2**20:.1f} MB"


def check_upload(content: bytes, data: dict) -> str:
    """Check a run's uploaded training file against the limit and its data settings; returns its sha.

    Raises:
        RunError: the data settings do not name an upload, the file is over ``MAX_UPLOAD_BYTES``,
            or it is not the file they name (another sha).
    """
    from .data.upload import MAX_UPLOAD_BYTES, upload_sha

    if data.get("name") != "upload":
        raise RunError("an uploaded file was given but the data settings do not name an upload")
    if len(content) > MAX_UPLOAD_BYTES:
        raise RunError(f"the uploaded file is {_mb(len(content))}; the server keeps training files of at most "
                       f"{MAX_UPLOAD_BYTES / 2**20:.0f} MB: upload a sample of its rows")
    sha = upload_sha(content)
    if data.get("sha") not in (None, "", sha):
        raise RunError(f"the uploaded file is not the one the data settings name ({str(data['sha'])[:20]}); "
                       "choose it again on the Data page")
    return sha


def _kept_total(folder: Path) -> int:
    """Bytes of every kept uploaded file in ``folder`` (unfinished writes not counted)."""
    try:
        return sum(p.stat().st_size for p in folder.iterdir() if _SHA.match(p.name))
    except FileNotFoundError:
        return 0


def keep_upload(content: bytes, data: dict, root: str | os.PathLike | None = None) -> bool:
    """Keep a run's uploaded training file in ``<runs>/.uploads/<sha>``, once per content.

    Args:
        content: the file's bytes.
        data: the run's data settings (``name`` "upload", ``sha``, ``filename``, columns).
        root: the runs directory.

    Returns:
        True when the file was written now, False when an intact copy was already kept.

    Raises:
        RunError: ``check_upload``'s refusals, kept files that would exceed
            ``MAX_KEPT_UPLOADS_BYTES`` together, or a failed write (the cause named).
    """
    from .data.upload import upload_sha

    sha = check_upload(content, data)
    path = kept_upload_path(sha, root)
    with _UPLOADS_LOCK:
        try:
            if path.is_file() and upload_sha(path.read_bytes()) == sha:
                return False
            kept = _kept_total(path.parent) - (path.stat().st_size if path.is_file() else 0)
            if kept + len(content) > MAX_KEPT_UPLOADS_BYTES:
                raise RunError(f"the server already keeps {_mb(kept)} of uploaded training files and keeps at "
                               f"most {MAX_KEPT_UPLOADS_BYTES / 2**20:,.0f} MB; delete runs trained on uploads "
                               "that are no longer needed, or train on a catalogue set")
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{sha}.{os.getpid()}.{threading.get_ident()}.tmp")
            try:
                tmp.write_bytes(content)
                os.replace(tmp, path)
            finally:
                tmp.unlink(missing_ok=True)  # a write cut short (full disk) leaves nothing behind
        except OSError as error:
            raise RunError(f"the uploaded file could not be kept: {fault_message(error)}") from None
    return True


def read_kept_upload(data: dict, run_name: str, root: str | os.PathLike | None = None) -> bytes:
    """The uploaded file a run trained on, checked against its sha.

    Args:
        data: the run's data settings (``sha`` and ``filename``).
        run_name: the run, for messages.
        root: the runs directory.

    Raises:
        DataError: the file was not kept (runs from before files were kept), is unreadable, or
            its content no longer matches its sha (damaged or edited); the message says what to do.
    """
    from .data.upload import MAX_UPLOAD_BYTES, upload_sha
    from .errors import DataError

    filename = str(data.get("filename") or "file")[:80]
    again = "choose 'An uploaded labelled file…' and upload it again with the same columns"
    try:
        path = kept_upload_path(data.get("sha"), root)
    except RunError as error:
        raise DataError(f"run {run_name!r}'s config.json does not name its uploaded file {filename}: {error}; "
                        f"{again}") from None
    try:
        with path.open("rb") as file:
            content = file.read(MAX_UPLOAD_BYTES + 1)
    except FileNotFoundError:
        raise DataError(f"run {run_name!r} was trained on the uploaded file {filename}, which the server did not "
                        f"keep (runs started before it kept uploads, or its copy was removed); {again}") from None
    except OSError as error:
        raise DataError(f"the kept copy of {filename} cannot be read: {fault_message(error, 'read')}") from None
    if len(content) > MAX_UPLOAD_BYTES or upload_sha(content) != path.name:
        raise DataError(f"the kept copy of {filename} ({UPLOADS_DIR}/{path.name} in the runs folder) is damaged or "
                        f"was edited: its content no longer matches its SHA-256; {again}")
    return content


def release_upload(data: dict, root: str | os.PathLike | None = None) -> bool:
    """Remove the kept uploaded file ``data`` names when no run uses it any more.

    A run whose config.json cannot be read might use it, so the file is then kept.

    Returns:
        True when the file was removed.
    """
    if not isinstance(data, dict) or data.get("name") != "upload" or not _SHA.match(str(data.get("sha") or "")):
        return False
    base = runs_dir(root)
    with _UPLOADS_LOCK:
        try:
            for child in (c for c in base.iterdir() if _NAME.match(c.name) and c.is_dir()):
                used = (read_json_object(child / "config.json") or {}).get("data")
                if isinstance(used, dict) and used.get("name") == "upload" and used.get("sha") == data["sha"]:
                    return False
            kept_upload_path(data["sha"], root).unlink()
        except RunError:  # a run whose config.json is damaged
            return False
        except FileNotFoundError:
            return False
        except OSError as error:
            log.warning("a kept upload could not be removed: %s", fault_message(error, "remove"))
            return False
    return True


# ---------------------------------------------------------------- the worker


@dataclass
class RunRequest:
    """Everything one training run needs.

    Attributes:
        splits: a ``DatasetSplits`` (passed to the worker as is).
        model_options: ``ModelConfig`` fields except vocab_size/num_classes/pad_idx.
        train_config: ``TrainConfig`` fields. ``max_len``/``padding``/``truncation`` found here
            (older callers) are moved into ``encoding``, whose own values win.
        data: JSON description of where the data came from (shown and shared in links).
        tokenizer: ``TokenizerConfig`` fields.
        vocab: ``VocabConfig`` fields.
        label: free text used in the run name and tables (e.g. "grid lr=0.01").
        encoding: ``EncodingConfig`` fields (max length, padding and truncation sides).
        timelapse: ``TimelapseConfig`` fields (the probe sentences the run snapshots).
        upload: the uploaded file's bytes when ``data`` names an upload: kept once per content
            in ``<runs>/.uploads/`` (``keep_upload``) so the run's test split can be rebuilt,
            never written to config.json. None: nothing is kept.
    """

    splits: Any
    model_options: dict = field(default_factory=dict)
    train_config: dict = field(default_factory=dict)
    data: dict = field(default_factory=dict)
    tokenizer: dict = field(default_factory=dict)
    vocab: dict = field(default_factory=dict)
    label: str = ""
    encoding: dict = field(default_factory=dict)
    timelapse: dict = field(default_factory=dict)
    upload: bytes | None = field(default=None, repr=False)


def upgrade_config(config: dict) -> dict:
    """A run's config.json content with the encoding options in their own ``encoding`` group.

    Runs written before encoding became its own group kept ``max_len``/``padding``/
    ``truncation`` under ``train``; they are moved (values already under ``encoding`` win).

    Args:
        config: config.json content.

    Returns:
        A new dict; ``config`` is left as it is.
    """
    from .encoding import split_encoding_options

    if not isinstance(config.get("train"), dict):
        return dict(config)
    train, legacy = split_encoding_options(config["train"])
    return {**config, "train": train, "encoding": {**legacy, **(config.get("encoding") or {})}}


def validate_request(request: RunRequest) -> dict:
    """Check options before anything is queued; returns the config.json content.

    Raises:
        RunError: with the engine's message (what is out of range and what is allowed).
    """
    from .embeddings import load_vectors
    from .encoding import EncodingConfig, split_encoding_options
    from .errors import DataError
    from .models import ModelConfig, model_summary
    from .pipeline import VocabConfig
    from .text import TokenizerConfig
    from .timelapse import TimelapseConfig
    from .trainer import TrainConfig

    splits = request.splits
    try:
        timelapse = TimelapseConfig.from_dict(dict(request.timelapse))
        train_options, legacy_encoding = split_encoding_options(dict(request.train_config))
        train = TrainConfig.from_dict(train_options)
        encoding = EncodingConfig.from_dict({**legacy_encoding, **request.encoding})
        tokenizer = TokenizerConfig(**request.tokenizer)
        vocab = VocabConfig(**request.vocab)
        model_options = dict(request.model_options)
        if model_options.get("embeddings") == "file" and model_options.get("vectors"):
            # parsed here once (and cached for the worker); the embedding size follows the file
            model_options["emb_dim"] = load_vectors(model_options["vectors"]).dim
        model = ModelConfig(vocab_size=max(2, vocab.max_size), num_classes=splits.num_classes, **model_options)
    except DataError as error:
        raise RunError(f"the word-vector file cannot be used: {error}") from None
    except (TypeError, ValueError) as error:
        raise RunError(f"these settings cannot be trained: {error}") from None
    if len(splits.train) == 0 or len(splits.validation) == 0:
        raise RunError("the dataset needs at least one training and one validation example")
    data = dict(request.data)
    if request.upload is not None:
        data["sha"] = check_upload(request.upload, data)
    return {
        "data": {**data, "fingerprint": splits.fingerprint},
        "label_names": list(splits.label_names),
        "sizes": {"train": len(splits.train), "validation": len(splits.validation), "test": len(splits.test)},
        "model": {k: v for k, v in model.to_dict().items() if k not in ("vocab_size", "num_classes", "pad_idx")},
        "train": train.to_dict(),
        "encoding": encoding.to_dict(),
        "tokenizer": tokenizer.to_dict(),
        "vocab": asdict(vocab),
        "display_name": model.display_name,
        "label": request.label,
        "params_estimate": sum(r.count for r in model_summary(model)),
        "timelapse": timelapse.to_dict(),
    }


class _FileStop:
    """Stop event backed by a ``stop`` file (works across processes and restarts)."""

    def __init__(self, path: Path, event: threading.Event | None = None):
        self.path, self.event = path, event
        self._checked, self._value = 0.0, False

    def is_set(self) -> bool:
        if self._value or (self.event is not None and self.event.is_set()):
            return True
        now = time.monotonic()
        if now - self._checked > 0.2:
            self._checked = now
            self._value = self.path.exists()
        return self._value


class _Recorder:
    """Trainer callback that writes epochs, batches and progress to the run folder."""

    def __init__(self, path: Path, status: dict):
        self.path, self.status = path, status
        self.lock = threading.Lock()
        self._batches = open(path / "batches.jsonl", "a", encoding="utf-8")
        self._last_flush = 0.0

    def update_status(self, **changes) -> None:
        with self.lock:
            self.status.update(changes)
            self.status["heartbeat"] = time.time()
            write_json(self.path / "status.json", self.status)

    def on_batch_end(self, info) -> None:
        self._batches.write(json.dumps(finite_json(asdict(info))) + "\n")
        now = time.monotonic()
        if now - self._last_flush >= 0.25 or info.batch == info.batches_per_epoch:
            self._batches.flush()
            self._last_flush = now
            self.update_status(epoch=info.epoch, batch=info.batch, batches_per_epoch=info.batches_per_epoch,
                               step=info.step, elapsed=info.seconds, last_loss=info.loss)

    def on_epoch_end(self, info) -> None:
        with open(self.path / "epochs.jsonl", "a", encoding="utf-8") as handle:
            handle.write(json.dumps(finite_json(info.to_dict())) + "\n")
        self.update_status(last_finished_epoch=info.epoch, epoch=info.epoch + 1, batch=0)

    def close(self) -> None:
        try:
            self._batches.close()
        except OSError:
            pass


def _friendly_error(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    if isinstance(error, MemoryError):
        return "ran out of memory: choose a smaller batch size, max length, vocabulary or hidden size"
    if isinstance(error, GateScopeError):
        return text
    if isinstance(error, OSError) and error.errno in (errno.EACCES, errno.EPERM, errno.ENOSPC, errno.EROFS,
                                                      errno.EDQUOT):
        return fault_message(error)
    return f"training failed ({type(error).__name__}: {text}); check the settings and try again"


def execute_run(path: str | os.PathLike, splits: Any, stop_event: threading.Event | None = None,
                executor: str = "thread") -> dict:
    """Train the run described by ``path/config.json`` on ``splits``, recording as it goes.

    Never raises for training problems: failures end in state ``failed`` with a message.

    Returns:
        The final status dict.
    """
    from .device import device_label
    from .encoding import EncodingConfig
    from .pipeline import VocabConfig, train_on_splits
    from .text import TokenizerConfig
    from .timelapse import TIMELAPSE_FILE, TimelapseConfig, TimelapseRecorder
    from .trainer import TrainConfig

    path = Path(path)
    config = upgrade_config(read_json(path / "config.json", {}))
    status = read_json(path / "status.json", {}) or {}
    status.update(state="running", pid=os.getpid(), executor=executor, started=time.time(),
                  message="training", epoch=1, batch=0, total_epochs=config["train"]["epochs"])
    try:
        status["device_label"] = device_label(config["train"].get("device", "auto"))
    except ValueError:  # a device this machine lacks: training fails below and says why
        pass
    if status.get("owner_token") is None:
        status["owner_token"] = PROCESS_TOKEN
    recorder = _Recorder(path, status)
    recorder.update_status()
    alive = threading.Event()

    def beat() -> None:
        while not alive.wait(HEARTBEAT_SECONDS):
            try:
                recorder.update_status()
            except OSError:
                pass

    heart = threading.Thread(target=beat, name=f"heartbeat-{path.name}", daemon=True)
    heart.start()
    stop = _FileStop(path / "stop", stop_event)
    try:
        outcome = train_on_splits(
            splits,
            model_options=config["model"],
            train_config=TrainConfig.from_dict(config["train"]),
            tokenizer_config=TokenizerConfig(**config.get("tokenizer", {})),
            vocab_config=VocabConfig(**config.get("vocab", {})),
            encoding=EncodingConfig.from_dict(config.get("encoding", {})),
            callbacks=[recorder, TimelapseRecorder(path / TIMELAPSE_FILE,
                                                   TimelapseConfig.from_dict(config.get("timelapse", {})))],
            stop_event=stop,
            checkpoint_path=path / BEST_FILE,
        )
        fit = outcome.fit
        metrics = outcome.bundle.metrics
        seconds = [h.seconds for h in fit.history]
        result = {
            "stop_reason": fit.stop_reason, "message": fit.message, "best_epoch": fit.best_epoch,
            "seconds": fit.seconds, "seconds_per_epoch": sum(seconds) / len(seconds) if seconds else None,
            "device": fit.device, "device_label": status.get("device_label"), "params": metrics.get("params"),
            "val_accuracy": outcome.validation.accuracy, "val_macro_f1": outcome.validation.macro_f1,
            "test_accuracy": outcome.test.accuracy, "test_macro_f1": outcome.test.macro_f1,
            "validation": outcome.validation.to_dict(), "test": outcome.test.to_dict(),
            "vocab_size": len(outcome.prepared.vocab), "has_checkpoint": fit.best_epoch is not None,
        }
        write_json(path / "result.json", result)
        state = {"completed": "completed", "early_stopping": "completed", "stopped": "stopped"}.get(
            fit.stop_reason, "failed")
        message = fit.message
        if fit.best_epoch is None:
            message += "; no epoch finished, so there is no model to download"
        recorder.update_status(state=state, message=message, ended=time.time(), elapsed=fit.seconds)
    except BaseException as error:  # noqa: BLE001 - a worker must always leave a final state
        with contextlib.suppress(OSError):  # a read-only folder or a full disk: the status says why
            (path / "error.log").write_text(traceback.format_exc(), encoding="utf-8")
        try:
            recorder.update_status(state="failed", message=_friendly_error(error), ended=time.time())
        except OSError as fault:  # the queue's reaper finds the run still "running" and reports it
            log.error("run %s failed (%s) and %s", path.name, _friendly_error(error), fault_message(fault))
        if isinstance(error, (KeyboardInterrupt, SystemExit)):
            raise
    finally:
        alive.set()
        recorder.close()
    return dict(status)


@contextlib.contextmanager
def _plain_main_module():
    """Hide the ``__main__`` module while a worker is spawned.

    ``spawn`` re-runs the parent's ``__main__`` in the child. Under ``streamlit run`` (and
    AppTest) ``__main__`` is the last page script executed, so the worker would run a whole
    page, queue included, before training. A bare stand-in makes the child import nothing.
    """
    original = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        if original is not None:
            sys.modules["__main__"] = original


def worker_niceness() -> int:
    """``$GATESCOPE_WORKER_NICENESS`` or 10, clamped to 0..19: how far below the app workers run."""
    try:
        value = int(os.environ.get(WORKER_NICENESS_ENV, DEFAULT_WORKER_NICENESS))
    except ValueError:
        value = DEFAULT_WORKER_NICENESS
    return min(19, max(0, value))


def lower_priority(niceness: int) -> int:
    """Raise this process's niceness by ``niceness`` so interactive pages get the CPU first.

    Returns:
        The niceness now in effect (0 where the platform has no ``os.nice``).
    """
    if not hasattr(os, "nice"):
        return 0
    try:
        return os.nice(niceness)
    except OSError:  # not permitted: keep running at the current priority
        return os.nice(0)


def _process_entry(path: str, splits: Any, threads: int, niceness: int) -> None:
    """Entry point of a spawned worker process."""
    import torch

    lower_priority(niceness)
    torch.set_num_threads(max(1, threads))
    execute_run(path, splits, executor="process")


# ---------------------------------------------------------------- the queue


def default_max_concurrent() -> int:
    """``$GATESCOPE_MAX_CONCURRENT_RUNS`` or 1, clamped to 1..16."""
    try:
        value = int(os.environ.get(MAX_CONCURRENT_ENV, "1"))
    except ValueError:
        value = 1
    return min(MAX_CONCURRENT_LIMIT, max(1, value))


def default_max_per_student() -> int:
    """``$GATESCOPE_MAX_RUNS_PER_STUDENT`` or 2, clamped to 1..16."""
    try:
        value = int(os.environ.get(MAX_PER_STUDENT_ENV, str(DEFAULT_MAX_PER_STUDENT)))
    except ValueError:
        value = DEFAULT_MAX_PER_STUDENT
    return min(MAX_CONCURRENT_LIMIT, max(1, value))


def save_splits(path: Path, splits: Any) -> None:
    """Write a queued run's data to ``path/splits.json`` so a restarted server can train it."""
    write_json(path / SPLITS_FILE, {
        "name": splits.name, "label_names": list(splits.label_names), "fingerprint": splits.fingerprint,
        "notes": list(getattr(splits, "notes", []) or []),
        **{part: {"texts": list(getattr(splits, part).texts), "labels": [int(x) for x in getattr(splits, part).labels]}
           for part in ("train", "validation", "test")}})


def load_splits(path: Path) -> Any:
    """The ``DatasetSplits`` saved by ``save_splits``.

    Raises:
        RunError: the file is missing or damaged.
    """
    from .data.types import DatasetSplits, Examples

    raw = read_json(path / SPLITS_FILE)
    try:
        parts = {part: Examples(list(raw[part]["texts"]), [int(x) for x in raw[part]["labels"]])
                 for part in ("train", "validation", "test")}
        return DatasetSplits(str(raw["name"]), [str(n) for n in raw["label_names"]], parts["train"],
                             parts["validation"], parts["test"], str(raw["fingerprint"]), list(raw.get("notes", [])))
    except (TypeError, KeyError, ValueError) as error:
        raise RunError(f"the saved data of queued run {path.name!r} cannot be read ({error})") from None


@contextlib.contextmanager
def _saving_run():
    """Turn a failed write while a run is being created into a RunError that names the cause."""
    try:
        yield
    except OSError as error:
        raise RunError(f"the run could not be saved: {fault_message(error)}; the server's runs folder "
                       "must be writable and have free space") from None


class _AdoptedWorker:
    """The handle of a worker process that an earlier server started: alive while its process
    lives and keeps its heartbeat, as the run's status file says."""

    exitcode = None

    def __init__(self, path: Path):
        self.path = path

    def is_alive(self) -> bool:
        status = read_json(self.path / "status.json", {}) or {}
        return status.get("state") in ACTIVE_STATES and _effective_state(status, tracked=False) == "running"

    def join(self, timeout: float | None = None) -> None:
        """Nothing to wait for: the process is not this server's child."""


class QuotaError(RunError):
    """A student already has as many runs waiting or training as the class allows."""


@dataclass
class _Job:
    name: str
    path: Path
    splits: Any
    owner: str = ""
    seq: int = 0
    handle: Any = None
    stop_event: threading.Event | None = None


def fair_order(pending: list[_Job], last_served: dict[str, float], clock: float = 0.0) -> list[_Job]:
    """The order in which ``pending`` jobs will start under round-robin scheduling.

    The next job always belongs to the owner served least recently (never served first; ties
    go to the owner whose oldest waiting job came first); each owner's own jobs keep their
    submission order.

    Args:
        pending: waiting jobs in submission order.
        last_served: when each owner last had a job started (any increasing clock).
        clock: a value larger than every ``last_served`` value.

    Returns:
        The jobs in start order.
    """
    queues: dict[str, deque[_Job]] = {}
    for job in sorted(pending, key=lambda j: j.seq):
        queues.setdefault(job.owner, deque()).append(job)
    served = dict(last_served)
    order = []
    while queues:
        owner = min(queues, key=lambda o: (served.get(o, float("-inf")), queues[o][0].seq))
        order.append(queues[owner].popleft())
        if not queues[owner]:
            del queues[owner]
        clock += 1.0
        served[owner] = clock
    return order


class RunQueue:
    """A fair queue shared by every session of one server process.

    At most ``max_concurrent`` runs train at once; the others wait with a visible position. The
    next free slot goes to the student served least recently (round-robin), and a student may
    have at most ``max_per_student`` runs waiting or training. A scheduler thread starts queued
    runs and notices finished (or crashed) workers. Runs left queued by an earlier server in
    the same runs directory are taken over, in their original order.

    Args:
        root: runs directory (default ``runs_dir()``).
        max_concurrent: concurrent runs (default ``$GATESCOPE_MAX_CONCURRENT_RUNS`` or 1).
        executor: ``process`` (spawned worker, keeps the page responsive), ``thread``, or ``ray``
            (a Ray actor on a cluster; the default when ``$GATESCOPE_RAY_ADDRESS`` is set).
        max_per_student: runs one owner may have waiting or training (default
            ``$GATESCOPE_MAX_RUNS_PER_STUDENT`` or 2).
    """

    def __init__(self, root: str | os.PathLike | None = None, max_concurrent: int | None = None,
                 executor: str | None = None, max_per_student: int | None = None):
        self.root = runs_dir(root)
        self.max_concurrent = max_concurrent or default_max_concurrent()
        self.max_per_student = max_per_student or default_max_per_student()
        self.executor = executor or os.environ.get(EXECUTOR_ENV) or (
            "ray" if os.environ.get("GATESCOPE_RAY_ADDRESS", "").strip() else "process")
        if self.executor not in EXECUTORS:
            raise RunError(f"unknown run executor {self.executor!r}; valid: {', '.join(EXECUTORS)}")
        self.backend = {"process": "local worker processes", "thread": "threads in the app process"}.get(
            self.executor, "")
        if self.executor == "ray":
            from .ray_backend import connect

            info = connect()  # RunError naming the address when it cannot be reached
            self.backend = (f"Ray cluster at {info['address']} ({info['nodes']} nodes, {info['cpus']:g} CPUs"
                            + (f", {info['gpus']:g} GPUs)" if info["gpus"] else ")"))
        self._cond = threading.Condition()
        self._pending: list[_Job] = []
        self._active: dict[str, _Job] = {}
        self._last_served: dict[str, float] = {}
        self._seq = 0
        self._closed = False
        self._unsaved: dict[str, dict] = {}  # final statuses that could not be written (yet)
        self.resumed = self._adopt_orphans()
        self.adopted = self._adopt_workers()
        self._thread = threading.Thread(target=self._loop, name="gatescope-run-queue", daemon=True)
        self._thread.start()

    # -- public API
    def submit(self, request: RunRequest, name: str | None = None, owner: str = "", nickname: str = "",
               capped: bool = True) -> str:
        """Validate, create the run folder and queue the run.

        Args:
            request: what to train; its ``upload`` is kept in the runs folder (``keep_upload``).
            name: the run's folder name (default: made from the label).
            owner: who submitted it (a session id); empty for scripts.
            nickname: the name the student chose, shown in the class gallery.
            capped: apply ``max_per_student`` to this owner (False for the teacher).

        Returns:
            The run name.

        Raises:
            QuotaError: the owner already has ``max_per_student`` runs waiting or training.
            RunError: unsafe or taken name, settings the engine refuses, or an uploaded file
                that cannot be kept (``keep_upload``).
        """
        config = validate_request(request)
        if owner and capped:
            mine = self.owner_runs(owner)
            if len(mine) >= self.max_per_student:
                raise QuotaError(
                    f"you already have {len(mine)} run(s) waiting or training and the class limit is "
                    f"{self.max_per_student}; wait for one to finish or stop one, then start again")
        name = validate_run_name(name) if name else new_run_name(
            request.label or config["display_name"], self.root)
        path = self.root / name
        # the kept upload and the config.json naming it are written together (see release_upload)
        with _saving_run(), _UPLOADS_LOCK:
            kept = request.upload is not None and keep_upload(request.upload, config["data"], self.root)
            written = False
            try:
                path.mkdir(parents=True, exist_ok=False)
                now = time.time()
                config.update(name=name, created=now, owner=owner, nickname=str(nickname or "")[:40])
                write_json(path / "config.json", config)
                written = True
            except FileExistsError:
                raise RunError(f"a run called {name!r} already exists; choose another name") from None
            finally:
                if kept and not written:
                    release_upload(config["data"], self.root)  # no run names the file it kept just now
            save_splits(path, request.splits)
            with self._cond:
                if self._closed:
                    raise RunError("the training queue is shut down; restart the app")
                write_json(path / "status.json", {
                    "state": "queued", "message": "waiting for a free training slot", "created": now,
                    "owner_pid": os.getpid(), "owner_token": PROCESS_TOKEN, "owner": owner, "seq": self._seq + 1,
                    "total_epochs": config["train"]["epochs"],
                })
                self._seq += 1
                self._pending.append(_Job(name, path, request.splits, owner, self._seq))
                self._cond.notify_all()
        return name

    def owner_runs(self, owner: str) -> list[str]:
        """Names of ``owner``'s runs waiting or training in this queue."""
        with self._cond:
            pending = [j.name for j in self._pending if j.owner == owner]
            active = [j for j in self._active.values() if j.owner == owner]
        # a worker that just wrote its final state is reaped a moment later: it no longer counts
        return pending + [j.name for j in active
                          if (read_json(j.path / "status.json", {}) or {}).get("state") in ACTIVE_STATES]

    def stop(self, name: str) -> bool:
        """Ask a run to stop (a queued run is cancelled). True when something was stopped."""
        path = self.root / validate_run_name(name)
        with self._cond:
            for job in list(self._pending):
                if job.name == name:
                    self._pending.remove(job)
                    _cancel(job.path, "cancelled before it started")
                    return True
            job = self._active.get(name)
            if job is not None and job.stop_event is not None:
                job.stop_event.set()
        if path.is_dir():
            record = load_run(name, self.root, self)
            if record.state == "running":
                (path / "stop").touch()
                return True
            if record.state == "queued":  # left by an earlier server, not taken over yet
                _cancel(path, "cancelled before it started")
                return True
        return False

    def tracks(self, name: str) -> bool:
        with self._cond:
            return name in self._active or any(j.name == name for j in self._pending)

    def unsaved(self, name: str) -> dict | None:
        """The final status of run ``name`` that this queue could not write to its folder, else None."""
        with self._cond:
            status = self._unsaved.get(name)
            return dict(status) if status is not None else None

    def position(self, name: str) -> int | None:
        """0 when running, 1.. when waiting (its place in the fair order), None when this queue
        does not hold it."""
        with self._cond:
            if name in self._active:
                return 0
            for i, job in enumerate(self._ordered(), start=1):
                if job.name == name:
                    return i
        return None

    def snapshot(self) -> dict:
        """Running and waiting run names (in start order) plus the queue's settings."""
        with self._cond:
            return {"running": list(self._active), "queued": [j.name for j in self._ordered()],
                    "max_concurrent": self.max_concurrent, "max_per_student": self.max_per_student,
                    "executor": self.executor, "backend": self.backend}

    def set_max_concurrent(self, value: int) -> None:
        """Change how many runs train at once (1..16); applies to the next scheduling round."""
        value = int(value)
        if not 1 <= value <= MAX_CONCURRENT_LIMIT:
            raise RunError(f"concurrent runs must be between 1 and {MAX_CONCURRENT_LIMIT}, got {value}")
        with self._cond:
            self.max_concurrent = value
            self._cond.notify_all()

    def set_max_per_student(self, value: int) -> None:
        """Change how many runs one student may have waiting or training (1..16)."""
        value = int(value)
        if not 1 <= value <= MAX_CONCURRENT_LIMIT:
            raise RunError(f"runs per student must be between 1 and {MAX_CONCURRENT_LIMIT}, got {value}")
        with self._cond:
            self.max_per_student = value

    def wait(self, name: str, timeout: float = 60.0) -> RunRecord:
        """Block until run ``name`` reaches a final state (tests, scripts, benchmarks)."""
        deadline = time.monotonic() + timeout
        while True:
            record = load_run(name, self.root, self)
            if record.state in FINAL_STATES:
                return record
            if time.monotonic() > deadline:
                raise TimeoutError(f"run {name} is still {record.state} after {timeout:.0f} s")
            time.sleep(0.05)

    def close(self, stop_running: bool = True, keep_queued: bool = False) -> None:
        """Stop the scheduler (and, by default, ask running runs to stop).

        Args:
            stop_running: ask running runs to stop.
            keep_queued: leave waiting runs queued for the next server (as a restart does)
                instead of cancelling them.
        """
        with self._cond:
            self._closed = True
            pending = list(self._pending)
            self._pending.clear()
            active = list(self._active.values())
            self._cond.notify_all()
        for job in pending:
            if keep_queued:
                status = read_json(job.path / "status.json", {}) or {}
                status.update(owner_pid=0, owner_token=None)
                write_json(job.path / "status.json", status)
            else:
                _cancel(job.path, "cancelled: the server shut down")
        if stop_running:
            for job in active:
                with contextlib.suppress(OSError):  # its folder may be deleted already
                    (job.path / "stop").touch()
                if job.stop_event is not None:
                    job.stop_event.set()
        self._thread.join(timeout=5)

    # -- scheduler
    def _ordered(self) -> list[_Job]:
        return fair_order(self._pending, self._last_served, self._seq_clock())

    def _seq_clock(self) -> float:
        return max([0.0, *self._last_served.values()])

    def _adopt_orphans(self) -> list[str]:
        """Queue the runs an earlier (now gone) server left waiting in this runs directory."""
        if not self.root.is_dir():
            return []
        found = []
        for child in self.root.iterdir():
            status = read_json(child / "status.json") if child.is_dir() else None
            if not isinstance(status, dict) or status.get("state") != "queued":
                continue
            if not (child / SPLITS_FILE).is_file() or not _NAME.match(child.name):
                continue
            if status.get("owner_token") == PROCESS_TOKEN or pid_alive(status.get("owner_pid")):
                continue  # another live server (or this one) holds it
            found.append((int(status.get("seq") or 0), float(status.get("created") or 0.0), child, status))
        adopted = []
        for _, _, child, status in sorted(found, key=lambda item: item[:2]):
            try:
                splits = load_splits(child)
            except RunError as error:
                self._settle(_Job(child.name, child, None), {"state": "failed", "message": str(error)})
                continue
            status.update(owner_pid=os.getpid(), owner_token=PROCESS_TOKEN, seq=self._seq + 1,
                          message="waiting for a free training slot (kept through a server restart)")
            try:
                write_json(child / "status.json", status)
            except OSError as error:  # left for a server that can write there
                log.error("run %s stays waiting: %s", child.name, fault_message(error))
                continue
            self._seq += 1
            owner = (read_json(child / "config.json", {}) or {}).get("owner") or ""
            self._pending.append(_Job(child.name, child, splits, owner, self._seq))
            adopted.append(child.name)
        return adopted

    def _adopt_workers(self) -> list[str]:
        """Hold a slot for each worker process an earlier (now gone) server left training here."""
        if not self.root.is_dir():
            return []
        adopted = []
        for child in sorted(self.root.iterdir()):
            status = read_json(child / "status.json") if child.is_dir() and _NAME.match(child.name) else None
            if not isinstance(status, dict) or status.get("state") != "running" or status.get("executor") != "process":
                continue
            if status.get("owner_token") == PROCESS_TOKEN or pid_alive(status.get("owner_pid")):
                continue  # this server's, or a live server's
            if _effective_state(status, tracked=False) != "running":
                continue
            owner = (read_json(child / "config.json", {}) or {}).get("owner") or ""
            self._active[child.name] = _Job(child.name, child, None, str(owner), handle=_AdoptedWorker(child))
            adopted.append(child.name)
            log.info("run %s: its worker (pid %s) outlived its server; it keeps a training slot",
                     child.name, status.get("pid"))
        return adopted

    def _loop(self) -> None:
        while True:
            with self._cond:
                if self._closed and not self._active:
                    return
                try:
                    self._schedule()
                except Exception:  # noqa: BLE001 - the queue must outlive any one fault
                    log.exception("the run queue hit an unexpected error; it goes on with the next round")
                self._cond.wait(0.2)

    def _schedule(self) -> None:
        """One round: save what could not be saved, notice ended workers, start waiting runs."""
        for name, status in list(self._unsaved.items()):
            with contextlib.suppress(OSError):
                write_json(self.root / name / "status.json", status)
                del self._unsaved[name]
        self._reap()
        while not self._closed and self._pending and len(self._active) < self.max_concurrent:
            job = self._ordered()[0]
            self._pending.remove(job)
            self._last_served[job.owner] = self._seq_clock() + 1.0
            try:
                self._start(job)
            except Exception as error:  # noqa: BLE001 - this run fails; the queue goes on
                reason = fault_message(error) if isinstance(error, OSError) else f"{type(error).__name__}: {error}"
                self._settle(job, {"state": "failed", "message": f"could not start the run: {reason}"})

    def _settle(self, job: _Job, changes: dict) -> None:
        """Write a final state into ``job``'s status; when that fails, keep it in memory (listings
        still show it) with the cause in its message, and try again every round."""
        status = read_json(job.path / "status.json", {}) or {}
        status.update(changes, ended=time.time())
        log.warning("run %s: %s", job.name, status.get("message"))
        try:
            write_json(job.path / "status.json", status)
        except OSError as error:
            reason = fault_message(error)
            log.error("run %s: %s; its state is kept in memory", job.name, reason)
            message = str(status.get("message") or "")
            status.update(state="failed", message=message if reason in message else f"{reason}; {message}")
            self._unsaved[job.name] = status

    def _start(self, job: _Job) -> None:
        status = read_json(job.path / "status.json", {}) or {}
        now = time.time()  # "dispatched": when the queue gave it a slot; the worker sets "started" when it trains
        status.update(state="running", message="starting", started=now, dispatched=now, heartbeat=now,
                      executor=self.executor, pid=os.getpid())
        write_json(job.path / "status.json", status)
        if self.executor == "ray":
            from .ray_backend import RayRun

            job.stop_event = threading.Event()
            job.handle = RayRun(job.path, job.splits, job.stop_event)
        elif self.executor == "thread":
            job.stop_event = threading.Event()
            job.handle = threading.Thread(target=execute_run, args=(job.path, job.splits, job.stop_event, "thread"),
                                          name=f"run-{job.name}", daemon=True)
        else:
            import multiprocessing

            threads = int(os.environ.get(WORKER_THREADS_ENV, "1") or 1)
            job.handle = multiprocessing.get_context("spawn").Process(
                target=_process_entry, args=(str(job.path), job.splits, threads, worker_niceness()),
                name=f"run-{job.name}", daemon=True)
        with _plain_main_module():
            job.handle.start()
        self._active[job.name] = job  # from here on the worker holds its slot, whatever else fails
        job.splits = None  # the worker has its own copy; free ours
        try:
            if self.executor == "process":
                status["pid"] = job.handle.pid
                write_json(job.path / "status.json", status)
            (job.path / SPLITS_FILE).unlink(missing_ok=True)
        except OSError as error:  # the worker records its own pid as it starts
            log.warning("run %s: %s", job.name, fault_message(error))

    def _reap(self) -> None:
        for name, job in list(self._active.items()):
            if job.handle.is_alive():
                continue
            job.handle.join(timeout=0)
            del self._active[name]
            status = read_json(job.path / "status.json", {}) or {}
            if status.get("state") in ACTIVE_STATES:
                code = getattr(job.handle, "exitcode", None)
                self._settle(job, {"state": "interrupted", "message": _interrupted_message(status) + (
                    f" (worker exit code {code}; a negative code means it was killed, e.g. out of memory)"
                    if code is not None else "")})


_QUEUE: RunQueue | None = None
_QUEUE_LOCK = threading.Lock()


def shared_queue() -> RunQueue:
    """The process-wide queue every session shares (created on first use)."""
    global _QUEUE
    with _QUEUE_LOCK:
        if _QUEUE is None or _QUEUE._closed or _QUEUE.root != runs_dir():
            _QUEUE = RunQueue()
        return _QUEUE


def set_shared_queue(queue: RunQueue | None) -> None:
    """Replace the shared queue (tests)."""
    global _QUEUE
    with _QUEUE_LOCK:
        _QUEUE = queue
