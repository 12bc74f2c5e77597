"""Classroom roles and the class board, without Streamlit.

- A **teacher** signs in with the passcode the deployer set (``teacher_passcode`` in
  ``.streamlit/secrets.toml`` or ``$GATESCOPE_TEACHER_PASSCODE``). The passcode is compared in
  constant time and never logged or returned; after each wrong attempt the next one from the
  same client (the app passes the browser's address, so a new tab does not reset it) waits longer
  (1, 2, 4 ... up to 60 seconds).
- A **student** is every other session when a passcode is configured: they stop and delete
  only their own runs and see everyone's finished runs read-only.
- With **no passcode configured** the machine is single-user ("solo"): everything is allowed.

The class board (``<runs dir>/.classroom.json``) holds what the teacher shares with the room:
the class sentence and settings link shown on Home and Explain, and the runs hidden from the
gallery. It survives restarts.
"""
from __future__ import annotations

import hmac
import os
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from . import runs
from .runs import RunError, RunQueue, RunRecord

if TYPE_CHECKING:
    from .registry import ModelEntry

PASSCODE_ENV = "GATESCOPE_TEACHER_PASSCODE"
PASSCODE_SECRET = "teacher_passcode"
BOARD_FILE = ".classroom.json"
MAX_LOCKOUT_SECONDS = 60.0
ROLES = ("solo", "teacher", "student")


class PermissionDenied(RunError):
    """The viewer's role does not allow this action."""


def configured_passcode(secrets: Any = None) -> str:
    """The teacher passcode: ``secrets["teacher_passcode"]`` if set, else ``$GATESCOPE_TEACHER_PASSCODE``.

    Args:
        secrets: a mapping such as ``st.secrets`` (may raise when no secrets file exists).

    Returns:
        The passcode, or "" when none is configured (single-user machine).
    """
    value = ""
    if secrets is not None:
        try:
            value = str(secrets.get(PASSCODE_SECRET) or "")
        except Exception:  # noqa: BLE001 - Streamlit raises when there is no secrets.toml
            value = ""
    return value or os.environ.get(PASSCODE_ENV, "")


@dataclass(frozen=True)
class Viewer:
    """Who is looking at the page.

    Attributes:
        owner: the session id stored with the runs it starts.
        role: ``solo`` (no passcode configured), ``teacher`` or ``student``.
        nickname: the name shown in the class gallery.
    """

    owner: str
    role: str = "solo"
    nickname: str = ""

    @property
    def in_charge(self) -> bool:
        """True for the teacher and on a single-user machine: may change the class settings."""
        return self.role in ("solo", "teacher")

    def owns(self, record: RunRecord) -> bool:
        return bool(self.owner) and record.owner == self.owner

    def can_manage(self, record: RunRecord) -> bool:
        """May stop or delete ``record``: its owner, the teacher, or anyone on a solo machine."""
        return self.in_charge or self.owns(record)

    def can_see(self, record: RunRecord, hidden: set[str] = frozenset()) -> bool:
        """Students see their own runs and the others' finished, not hidden, runs."""
        if self.in_charge or self.owns(record):
            return True
        return record.state in runs.FINAL_STATES and record.name not in hidden


@dataclass
class SignIn:
    """The outcome of one passcode attempt.

    Attributes:
        ok: the passcode was right.
        message: what to tell the user.
        retry_after: seconds until the next attempt is accepted (0 when it may come now).
    """

    ok: bool
    message: str
    retry_after: float = 0.0


class PasscodeGate:
    """Checks passcode attempts, slowing down repeated wrong ones per client.

    Args:
        passcode: the configured passcode ("" = no teacher role).
        clock: time source (tests).
    """

    def __init__(self, passcode: str, clock: Callable[[], float] = time.monotonic):
        self._passcode = passcode.encode("utf-8")
        self._clock = clock
        self._failures: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return bool(self._passcode)

    def attempt(self, client: str, passcode: str) -> SignIn:
        """Check ``passcode`` for ``client`` (a session id).

        Returns:
            A ``SignIn``; while the client is locked out the passcode is not even compared.
        """
        if not self.enabled:
            return SignIn(True, "No passcode is set on this server: everything is allowed.")
        now = self._clock()
        with self._lock:
            count, until = self._failures.get(client, (0, 0.0))
            if now < until:
                wait = until - now
                return SignIn(False, f"Too many wrong passcodes: wait {wait:.0f} s before trying again.", wait)
            if hmac.compare_digest(str(passcode).encode("utf-8"), self._passcode):
                self._failures.pop(client, None)
                return SignIn(True, "Signed in as the teacher.")
            count += 1
            wait = min(MAX_LOCKOUT_SECONDS, 2.0 ** (count - 1))
            self._failures[client] = (count, now + wait)
        return SignIn(False, f"That passcode is not right. You can try again in {wait:.0f} s.", wait)


# ---------------------------------------------------------------- the class board


@dataclass
class Board:
    """What the teacher shares with the class.

    Attributes:
        sentence: the class sentence ("" = none).
        link: a settings link (a GateScope address with query) to open with it, or "".
        hidden: runs hidden from the gallery.
    """

    sentence: str = ""
    link: str = ""
    hidden: list[str] = field(default_factory=list)


def board_path(root: str | os.PathLike | None = None) -> Path:
    return runs.runs_dir(root) / BOARD_FILE


def read_board(root: str | os.PathLike | None = None) -> Board:
    """The class board (an empty one when none was written or the file is damaged)."""
    raw = runs.read_json(board_path(root), {})
    if not isinstance(raw, dict):
        return Board()
    hidden = raw.get("hidden") if isinstance(raw.get("hidden"), list) else []
    return Board(str(raw.get("sentence") or ""), str(raw.get("link") or ""), [str(h) for h in hidden])


def visible_runs(viewer: Viewer, records: list[RunRecord] | None = None, root: str | os.PathLike | None = None,
                 queue: RunQueue | None = None) -> list[RunRecord]:
    """The one answer to "who may see this run": the runs ``viewer`` may list and open (``Viewer.can_see``
    with the board's hidden runs). Every page, picker, link and the API's ``/models`` go through it.

    Args:
        viewer: who is looking.
        records: the runs to filter (default: every run in the runs folder).
        root: runs directory (default: the queue's, else ``$GATESCOPE_RUNS_DIR`` or ``./runs``).
        queue: the run queue, for the live state of its runs.

    Returns:
        The visible records, in the order given (newest first by default).
    """
    root = queue.root if queue is not None else root
    if records is None:
        records = runs.list_runs(root, queue)
    hidden = set(read_board(root).hidden)
    return [record for record in records if viewer.can_see(record, hidden)]


def visible_models(viewer: Viewer, entries: list[ModelEntry], root: str | os.PathLike | None = None,
                   queue: RunQueue | None = None) -> list[ModelEntry]:
    """The registry entries ``viewer`` may pick: every shipped model and upload, and the runs of
    ``visible_runs`` (by run name).

    Args:
        viewer: who is looking.
        entries: ``ModelRegistry.entries()``.
        root: runs directory (default: the queue's, else ``$GATESCOPE_RUNS_DIR`` or ``./runs``).
        queue: the run queue, for the live state of its runs.
    """
    from .registry import RUN_PREFIX  # the registry loads torch; the classroom rules do not need it

    names = {record.name for record in visible_runs(viewer, root=root, queue=queue)}
    return [entry for entry in entries if entry.source != "run" or entry.key[len(RUN_PREFIX):] in names]


def _write_board(board: Board, root) -> None:
    runs.write_json(board_path(root), {"sentence": board.sentence, "link": board.link, "hidden": board.hidden})


def _require_in_charge(viewer: Viewer, what: str) -> None:
    if not viewer.in_charge:
        raise PermissionDenied(f"only the teacher can {what}")


def validate_link(link: str) -> str:
    """A settings link must be a page address on this app: ``/page?...`` or ``?...`` or http(s)."""
    link = str(link or "").strip()
    if link and not link.startswith(("/", "?", "http://", "https://")):
        raise RunError("the settings link must be a GateScope address copied from the browser "
                       "(starting with http://, https:// or /)")
    return link[:2000]


def broadcast(viewer: Viewer, sentence: str, link: str = "", root=None) -> Board:
    """Show ``sentence`` (and ``link``) on every student's Home and Explain; "" clears it.

    Raises:
        PermissionDenied: the viewer is a student.
        RunError: the link is not an address.
    """
    _require_in_charge(viewer, "broadcast a class sentence")
    board = read_board(root)
    board.sentence = str(sentence or "").strip()[:2000]
    board.link = validate_link(link) if board.sentence else ""
    _write_board(board, root)
    return board


def set_hidden(viewer: Viewer, name: str, hidden: bool, root=None) -> Board:
    """Hide run ``name`` from (or show it again in) the class gallery.

    Raises:
        PermissionDenied: the viewer is a student.
    """
    _require_in_charge(viewer, "hide runs from the gallery")
    runs.validate_run_name(name)
    board = read_board(root)
    names = [n for n in board.hidden if n != name]
    board.hidden = [*names, name] if hidden else names
    _write_board(board, root)
    return board


def set_concurrency(viewer: Viewer, queue: RunQueue, value: int) -> None:
    """Change how many runs train at once. Raises PermissionDenied for students."""
    _require_in_charge(viewer, "change how many runs train at once")
    queue.set_max_concurrent(value)


def set_quota(viewer: Viewer, queue: RunQueue, value: int) -> None:
    """Change how many runs each student may have waiting or training. Raises PermissionDenied for students."""
    _require_in_charge(viewer, "change the per-student run limit")
    queue.set_max_per_student(value)


def stop_run(viewer: Viewer, queue: RunQueue, name: str) -> bool:
    """Stop run ``name`` if the viewer may (their own, or any for the teacher).

    Raises:
        PermissionDenied: a student asked to stop someone else's run.
    """
    record = runs.load_run(name, queue.root, queue)
    if not viewer.can_manage(record):
        raise PermissionDenied("you can only stop your own runs; ask the teacher to stop this one")
    return queue.stop(name)


def delete_run(viewer: Viewer, queue: RunQueue, name: str) -> None:
    """Delete finished run ``name`` if the viewer may.

    Raises:
        PermissionDenied: a student asked to delete someone else's run.
        RunError: the run is still active or does not exist.
    """
    record = runs.load_run(name, queue.root, queue)
    if not viewer.can_manage(record):
        raise PermissionDenied("you can only delete your own runs; ask the teacher to delete this one")
    runs.delete_run(name, queue.root)
    if record.name in read_board(queue.root).hidden:
        board = read_board(queue.root)
        board.hidden = [n for n in board.hidden if n != record.name]
        _write_board(board, queue.root)


def submit(viewer: Viewer, queue: RunQueue, request: runs.RunRequest, name: str | None = None) -> str:
    """Queue ``request`` for the viewer: students are held to the per-student limit, the teacher is not.
    A word-vector file is one of the server's, by name (``embeddings.server_model_options``), never a path."""
    from .embeddings import server_model_options

    request = replace(request, model_options=server_model_options(request.model_options))
    return queue.submit(request, name=name, owner=viewer.owner, nickname=viewer.nickname,
                        capped=viewer.role == "student")


# ---------------------------------------------------------------- the gallery


# the table's columns; "model" already says the cell and direction (e.g. "BiLSTM x2"), so the table
# stays narrow enough for a projector (the chart's colours and diamonds use "cell" and "bidirectional")
GALLERY_COLUMNS = ("nickname", "model", "params", "val acc", "test acc", "s / epoch", "hidden", "dataset", "lr",
                   "batch", "epochs", "run")


def gallery_rows(records: list[RunRecord], viewer: Viewer, root: str | os.PathLike | None = None) -> list[dict]:
    """One row per finished run with a result that ``viewer`` may see (``visible_runs``): who,
    settings, size, accuracy and speed. The teacher sees hidden runs, marked ``hidden_from_class``.

    Args:
        records: the runs (``runs.list_runs``).
        viewer: who is looking.
        root: runs directory, whose board names the hidden runs.

    Returns:
        Dicts with the keys of ``GALLERY_COLUMNS`` plus ``hidden_from_class`` and ``state``, in
        the order of ``records``.
    """
    hidden = set(read_board(root).hidden)
    rows = []
    for record in visible_runs(viewer, records, root):
        if record.state not in ("completed", "stopped") or not record.result:
            continue
        if record.best_path is None or not record.epochs():  # stopped before its first epoch: untrained scores
            continue
        cfg, result = record.config, record.result
        model, train = cfg.get("model", {}), cfg.get("train", {})
        rows.append({
            "run": record.name, "nickname": record.nickname or "–", "model": record.display_name,
            "cell": model.get("cell", ""), "layers": model.get("num_layers"), "hidden": model.get("hidden_dim"),
            "bidirectional": bool(model.get("bidirectional")),
            "dataset": cfg.get("data", {}).get("label") or cfg.get("data", {}).get("name", ""),
            "lr": train.get("lr"), "batch": train.get("batch_size"), "epochs": len(record.epochs()),
            "params": result.get("params") or cfg.get("params_estimate"),
            "val acc": result.get("val_accuracy"), "test acc": result.get("test_accuracy"),
            "s / epoch": result.get("seconds_per_epoch"), "hidden_from_class": record.name in hidden,
            "state": record.state,
        })
    return rows
