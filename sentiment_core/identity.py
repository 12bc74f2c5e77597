"""Who a person is, across refreshes, tabs and server restarts, without accounts.

A person is a random id the server hands to a browser in a signed token (kept by the app in a
cookie, ``PERSON_COOKIE``): ``person.<id>.<expiry>.<signature>``. The signature is an HMAC-SHA256
with the server's secret, so a student cannot edit the token to become another student; a
token that does not verify is refused with a message and its holder starts as a new person.
The teacher's sign-in is a second token, ``teacher.<id>.<expiry>.<signature>``, bound to the
person and to the configured passcode (changing the passcode signs every teacher out) and
expiring after ``TEACHER_HOURS_ENV`` hours.

The secret is ``$GATESCOPE_SECRET`` when set (several servers behind one address must share
it), else a random one kept in ``<runs dir>/.identity_secret`` (mode 0600), so tokens survive a
restart. Nicknames live with the person in ``<runs dir>/.people.json``.

Why a cookie: it is what the browser sends on a refresh and to every tab of the same site, so
identity, run quotas and passcode back-offs belong to the person, not the tab; a token in the
address would travel with every link a student shares.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import secrets
import threading
import time
from pathlib import Path

from . import runs
from .errors import GateScopeError

SECRET_ENV = "GATESCOPE_SECRET"
SECRET_FILE = ".identity_secret"
PEOPLE_FILE = ".people.json"
TEACHER_HOURS_ENV = "GATESCOPE_TEACHER_HOURS"
DEFAULT_TEACHER_HOURS = 8.0
PERSON_DAYS = 180  # a person token lasts a school year's half; the browser refreshes it on every visit
MAX_PEOPLE = 5000  # nicknames kept; the longest-unseen are forgotten first
PERSON_COOKIE = "gatescope_person"
TEACHER_COOKIE = "gatescope_teacher"
KINDS = ("person", "teacher")
MAX_TOKEN_CHARS = 200
_ID_CHARS = frozenset("0123456789abcdef")
_lock = threading.Lock()
_PROCESS_SECRET: dict[str, bytes] = {}  # the fallback when the runs folder cannot keep one


class IdentityError(GateScopeError, ValueError):
    """A token that cannot be trusted: edited, forged, expired or from another server."""


def server_secret(root: str | os.PathLike | None = None) -> bytes:
    """The signing secret: ``$GATESCOPE_SECRET``, else the runs folder's secret file (made once).

    Args:
        root: the runs folder (default: ``runs.runs_dir()``).
    """
    configured = os.environ.get(SECRET_ENV, "")
    if configured:
        return configured.encode("utf-8")
    path = runs.runs_dir(root) / SECRET_FILE
    with _lock:
        try:
            value = path.read_bytes().strip()
            if len(value) >= 32:
                return value
        except OSError:
            pass
        value = secrets.token_hex(32).encode("ascii")
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(value)
            try:
                os.link(tmp, path)  # the first server to write wins; a racing one reads its secret
            except FileExistsError:
                value = path.read_bytes().strip()
            finally:
                tmp.unlink(missing_ok=True)
        except OSError as error:  # a read-only or full runs folder: people last until the server stops
            value = _PROCESS_SECRET.setdefault("value", value)
            logging.getLogger(__name__).warning(
                "could not keep the identity secret in %s (%s): people are forgotten when the server "
                "restarts; make the runs folder writable or set %s", path, error.strerror or error, SECRET_ENV)
        return value


def new_person_id() -> str:
    """A fresh random person id (16 hex characters)."""
    return secrets.token_hex(8)


def _signature(secret: bytes, payload: str, passcode: str = "") -> str:
    key = secret + b"\0" + hashlib.sha256(passcode.encode("utf-8")).digest()
    digest = hmac.new(key, payload.encode("ascii"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:24]).decode("ascii")


def issue(kind: str, person: str, secret: bytes, lifetime_s: float, passcode: str = "",
          now: float | None = None) -> str:
    """A signed token saying ``person`` is a ``kind`` until ``lifetime_s`` from now.

    Args:
        kind: ``person`` or ``teacher``.
        person: a person id from ``new_person_id``.
        secret: ``server_secret()``.
        lifetime_s: seconds until it expires.
        passcode: the teacher passcode the token is bound to (teacher tokens).
        now: the current time (tests).
    """
    if kind not in KINDS:
        raise ValueError(f"unknown token kind {kind!r}; valid: {', '.join(KINDS)}")
    expires = int((time.time() if now is None else now) + lifetime_s)
    payload = f"{kind}.{person}.{expires}"
    return f"{payload}.{_signature(secret, payload, passcode)}"


def verify(token: str, kind: str, secret: bytes, passcode: str = "", now: float | None = None) -> str:
    """The person id in ``token`` when it is a valid, unexpired ``kind`` token.

    Raises:
        IdentityError: the token is malformed, edited, signed by another secret or expired.
    """
    token = str(token or "")
    parts = token.split(".")
    if len(token) > MAX_TOKEN_CHARS or len(parts) != 4 or parts[0] != kind:
        raise IdentityError(f"the {kind} token is not one this server issued")
    _, person, expires, signature = parts
    if not (person and set(person) <= _ID_CHARS and len(person) <= 32 and expires.isdigit()):
        raise IdentityError(f"the {kind} token is not one this server issued")
    if not hmac.compare_digest(signature, _signature(secret, f"{kind}.{person}.{expires}", passcode)):
        raise IdentityError(f"the {kind} token was changed or comes from another server")
    if int(expires) < (time.time() if now is None else now):
        raise IdentityError(f"the {kind} token has expired")
    return person


def teacher_lifetime_s() -> float:
    """How long a teacher's sign-in lasts: ``$GATESCOPE_TEACHER_HOURS`` (default 8) hours."""
    try:
        hours = float(os.environ.get(TEACHER_HOURS_ENV) or DEFAULT_TEACHER_HOURS)
    except ValueError:
        hours = DEFAULT_TEACHER_HOURS
    return max(0.01, hours) * 3600.0


def person_lifetime_s() -> float:
    return PERSON_DAYS * 86400.0


# ---------------------------------------------------------------- what the server keeps per person


def _people_path(root) -> Path:
    return runs.runs_dir(root) / PEOPLE_FILE


def nickname(person: str, root: str | os.PathLike | None = None) -> str:
    """The nickname ``person`` chose last ("" when none)."""
    people = runs.read_json(_people_path(root), {})
    entry = people.get(person) if isinstance(people, dict) else None
    return str(entry.get("nickname") or "")[:30] if isinstance(entry, dict) else ""


def set_nickname(person: str, value: str, root: str | os.PathLike | None = None) -> None:
    """Remember ``person``'s nickname (30 characters at most) for their next visit."""
    value = str(value or "").strip()[:30]
    with _lock:
        people = runs.read_json(_people_path(root), {})
        people = people if isinstance(people, dict) else {}
        entry = people.get(person) if isinstance(people.get(person), dict) else {}
        if entry.get("nickname") == value:
            return
        people[person] = {**entry, "nickname": value, "seen": int(time.time())}
        if len(people) > MAX_PEOPLE:
            by_age = sorted(people, key=lambda p: people[p].get("seen", 0) if isinstance(people[p], dict) else 0)
            for old in by_age[:len(people) - MAX_PEOPLE]:
                del people[old]
        runs.write_json(_people_path(root), people)
