"""The person behind a browser: read from the signed cookies ``sentiment_core.identity`` issues,
and written back into the browser. The rules (signing, expiry, nicknames) live in the core."""
from __future__ import annotations

import json
import time

import streamlit as st

from sentiment_core import classroom, identity
from sentiment_core.errors import GateScopeError

_PENDING = "gs_cookie_writes"  # {cookie name: (value, max-age seconds)} the browser has yet to store


def _cookies() -> dict[str, str]:
    try:
        return dict(st.context.cookies or {})
    except Exception:  # noqa: BLE001 - no browser request (AppTest): a person per session
        return {}


def _secret() -> bytes:
    return identity.server_secret()


def init_person() -> None:
    """Once per session: this browser's person (from its cookie, else a new person), their nickname,
    and their teacher sign-in when it is still valid. A cookie that does not verify is refused with a
    message; its holder starts as a new person."""
    if st.session_state.get("gs_owner"):
        return
    cookies, secret, person = _cookies(), _secret(), None
    token = cookies.get(identity.PERSON_COOKIE)
    if token:
        try:
            person = identity.verify(token, "person", secret)
        except identity.IdentityError as error:
            st.session_state["gs_identity_warning"] = (
                f"Your browser's GateScope identity was not accepted ({error}), so you start here as a new "
                "person: runs you started before are not yours in this browser any more.")
    person = person or identity.new_person_id()
    st.session_state["gs_owner"] = person
    _write(identity.PERSON_COOKIE, identity.issue("person", person, secret, identity.person_lifetime_s()),
           identity.person_lifetime_s())  # renewed on every visit
    st.session_state.setdefault("gs_nickname", identity.nickname(person))
    teacher = cookies.get(identity.TEACHER_COOKIE)
    if teacher:
        try:
            signed = identity.verify(teacher, "teacher", secret, classroom.configured_passcode(st.secrets))
            if signed != person:
                raise identity.IdentityError("the teacher token belongs to another browser")
            st.session_state["gs_teacher"] = True
            st.session_state["gs_teacher_until"] = int(teacher.split(".")[2])
        except identity.IdentityError:
            _write(identity.TEACHER_COOKIE, "", 0)  # expired, edited or signed with an older passcode


def is_teacher() -> bool:
    """True while this session's teacher sign-in holds (it expires after the set hours)."""
    until = st.session_state.get("gs_teacher_until")
    return bool(st.session_state.get("gs_teacher")) and (until is None or time.time() < until)


def sign_in_teacher() -> None:
    """Make this person the teacher in every tab, for ``identity.teacher_lifetime_s()``."""
    lifetime = identity.teacher_lifetime_s()
    token = identity.issue("teacher", st.session_state["gs_owner"], _secret(), lifetime,
                           classroom.configured_passcode(st.secrets))
    st.session_state["gs_teacher"] = True
    st.session_state["gs_teacher_until"] = int(token.split(".")[2])
    _write(identity.TEACHER_COOKIE, token, lifetime)


def sign_out_teacher() -> None:
    st.session_state["gs_teacher"] = False
    st.session_state.pop("gs_teacher_until", None)
    _write(identity.TEACHER_COOKIE, "", 0)


def remember_nickname(value: str) -> None:
    """Keep the nickname with the person, so a refresh or a new tab shows it again."""
    try:
        identity.set_nickname(st.session_state.get("gs_owner", ""), value)
    except (OSError, GateScopeError):
        pass  # the runs folder is read-only: the nickname still holds for this session


def _write(name: str, value: str, max_age: float) -> None:
    st.session_state.setdefault(_PENDING, {})[name] = (value, int(max_age))


def write_cookies() -> None:
    """Store this session's cookies in the browser with a small script on the page.

    Drawn on every run of a session that set any (an unchanged element is not drawn again), so a
    rerun that replaces the page cannot lose it. Safe markup: the values are tokens this module
    signed (letters, digits, ``._-=``), passed as JSON literals.
    """
    pending = st.session_state.get(_PENDING)
    if not pending:
        return
    lines = [f"document.cookie = {json.dumps(f'{name}={value}')} + '; path=/; max-age={age}; SameSite=Lax'"
             " + (location.protocol === 'https:' ? '; Secure' : '');"
             for name, (value, age) in sorted(pending.items())]
    with st.container(key="gs_cookies"):
        st.html("<script>" + "".join(lines) + "</script>", unsafe_allow_javascript=True)
