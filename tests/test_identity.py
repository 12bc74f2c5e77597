"""Signed person and teacher tokens, the server secret, nicknames kept per person, and the passcode
back-off bound to the person (tabs of one browser share it)."""
from __future__ import annotations

import os
import stat

import pytest

from sentiment_core import identity
from sentiment_core.classroom import PasscodeGate

SECRET = b"s" * 64


def test_a_person_token_round_trips_and_edits_are_refused():
    person = identity.new_person_id()
    token = identity.issue("person", person, SECRET, 3600)
    assert identity.verify(token, "person", SECRET) == person
    kind, pid, expires, signature = token.split(".")
    other = ("0" if pid[0] != "0" else "1") + pid[1:]
    forged = [f"{kind}.{other}.{expires}.{signature}",          # another student's id
              f"{kind}.{pid}.{int(expires) + 10**6}.{signature}",  # a longer life
              f"teacher.{pid}.{expires}.{signature}",              # a promotion
              token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
              "", "person", "a.b.c.d", "x" * 500, f"person.{pid}<script>.{expires}.{signature}"]
    for bad in forged:
        with pytest.raises(identity.IdentityError):
            identity.verify(bad, "person", SECRET)
    with pytest.raises(identity.IdentityError, match="another server"):
        identity.verify(token, "person", b"t" * 64)


def test_tokens_expire_and_teacher_tokens_follow_the_passcode():
    person = identity.new_person_id()
    token = identity.issue("teacher", person, SECRET, 60, passcode="old", now=1000.0)
    assert identity.verify(token, "teacher", SECRET, passcode="old", now=1059.0) == person
    with pytest.raises(identity.IdentityError, match="expired"):
        identity.verify(token, "teacher", SECRET, passcode="old", now=1061.0)
    with pytest.raises(identity.IdentityError):  # a new passcode signs every teacher out
        identity.verify(token, "teacher", SECRET, passcode="new", now=1001.0)
    with pytest.raises(ValueError, match="person, teacher"):
        identity.issue("admin", person, SECRET, 60)


def test_the_secret_is_made_once_kept_private_and_survives_a_restart(tmp_path, monkeypatch):
    monkeypatch.delenv(identity.SECRET_ENV, raising=False)
    first = identity.server_secret(tmp_path)
    assert len(first) >= 32 and identity.server_secret(tmp_path) == first
    mode = stat.S_IMODE(os.stat(tmp_path / identity.SECRET_FILE).st_mode)
    assert mode == 0o600
    monkeypatch.setenv(identity.SECRET_ENV, "shared-by-two-servers")
    assert identity.server_secret(tmp_path) == b"shared-by-two-servers"


def test_a_runs_folder_that_cannot_keep_the_secret_still_signs(tmp_path, monkeypatch, caplog):
    """A read-only runs folder: one secret for the server's life, and a warning that says what to fix."""
    monkeypatch.delenv(identity.SECRET_ENV, raising=False)
    blocker = tmp_path / "runs"
    blocker.write_text("a file where the runs folder should be")
    first = identity.server_secret(blocker)
    assert len(first) >= 32 and identity.server_secret(blocker) == first
    assert "could not keep the identity secret" in caplog.text and identity.SECRET_ENV in caplog.text


def test_teacher_hours_come_from_the_environment(monkeypatch):
    monkeypatch.setenv(identity.TEACHER_HOURS_ENV, "2")
    assert identity.teacher_lifetime_s() == 7200
    monkeypatch.setenv(identity.TEACHER_HOURS_ENV, "soon")
    assert identity.teacher_lifetime_s() == identity.DEFAULT_TEACHER_HOURS * 3600


def test_nicknames_belong_to_the_person_and_the_store_is_bounded(tmp_path, monkeypatch):
    a, b = identity.new_person_id(), identity.new_person_id()
    identity.set_nickname(a, "  ada  ", tmp_path)
    identity.set_nickname(b, "x" * 80, tmp_path)
    assert identity.nickname(a, tmp_path) == "ada"
    assert identity.nickname(b, tmp_path) == "x" * 30
    assert identity.nickname(identity.new_person_id(), tmp_path) == ""
    monkeypatch.setattr(identity, "MAX_PEOPLE", 3)
    for i in range(5):
        identity.set_nickname(f"{i:016x}", f"p{i}", tmp_path)
    assert identity.nickname(f"{4:016x}", tmp_path) == "p4"
    assert identity.nickname(a, tmp_path) == ""  # the longest-unseen are forgotten first


def test_passcode_back_off_is_per_person_not_per_tab(monkeypatch, tmp_path):
    """Three tabs of one browser are one person (the cookie's id): their guesses share one back-off,
    while another person may still sign in."""
    from browser.app_support import SMALL_DATA, app_env, open_page
    from sentiment_core import classroom, runs
    from ui import classroom as classroom_ui

    app_env(monkeypatch, tmp_path)
    monkeypatch.setenv(classroom.PASSCODE_ENV, "the-real-one")
    classroom_ui._GATES.clear()

    def attempt(owner: str, passcode: str):
        at = open_page("train", state={"gs_data": dict(SMALL_DATA), "gs_owner": owner})
        at.text_input(key="gs_passcode").input(passcode)
        return at.button[[b.label for b in at.button].index("Sign in")].click().run()

    try:
        first = attempt("00000000000000aa", "guess")
        assert any("not right" in e.value for e in first.error)
        second = attempt("00000000000000aa", "the-real-one")  # a new tab: a new session, the same person
        assert any("Too many wrong passcodes" in e.value for e in second.error)
        other = attempt("00000000000000bb", "the-real-one")
        assert any("Signed in as the teacher" in e.value for e in other.success)
    finally:
        runs.set_shared_queue(None)


def test_the_gate_keys_on_the_client_it_is_given():
    clock = [0.0]
    gate = PasscodeGate("secret", clock=lambda: clock[0])
    assert not gate.attempt("person:a", "x").ok
    assert "Too many" in gate.attempt("person:a", "secret").message  # locked: not even compared
    assert gate.attempt("person:b", "secret").ok  # another person is not locked out by a's guesses
