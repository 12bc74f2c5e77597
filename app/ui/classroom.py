"""Classroom widgets: who is viewing (teacher, student or a single-user machine), the teacher's
sign-in and class settings, the student's nickname, and the class sentence banner. The rules
live in ``sentiment_core.classroom``; this module only draws them."""
from __future__ import annotations

import hashlib

import streamlit as st

from sentiment_core import classroom, runs
from sentiment_core.errors import GateScopeError
from sentiment_core.text import plain
from ui import identity

_GATES: dict[str, classroom.PasscodeGate] = {}  # one per configured passcode, shared by all sessions


def _gate() -> classroom.PasscodeGate:
    passcode = classroom.configured_passcode(st.secrets)
    digest = hashlib.sha256(passcode.encode("utf-8")).hexdigest()
    if digest not in _GATES:
        _GATES[digest] = classroom.PasscodeGate(passcode)
    return _GATES[digest]


def queue() -> runs.RunQueue:
    """The shared run queue; when its backend cannot start (e.g. an unreachable Ray address) the
    page says why and stops."""
    from ui import state

    try:
        return runs.shared_queue()
    except GateScopeError as error:
        st.error(f"Training is not available: {error}")
        state.stop()


def viewer() -> classroom.Viewer:
    """The session's Viewer: ``solo`` without a passcode, else ``teacher`` once signed in, else ``student``."""
    owner = st.session_state.get("gs_owner", "")
    if not _gate().enabled:
        role = "solo"
    else:
        role = "teacher" if identity.is_teacher() else "student"
    return classroom.Viewer(owner, role, st.session_state.get("gs_nickname", ""))


def _client() -> str:
    """Who is trying a passcode: the person (``ui.identity``), so a refresh or a new tab does not reset
    the wait, and students sharing a school's one address cannot lock the teacher out."""
    return f"person:{st.session_state.get('gs_owner', '')}"


def _sign_in() -> None:
    result = _gate().attempt(_client(), st.session_state.get("gs_passcode", ""))
    st.session_state["gs_passcode"] = ""  # never kept in the session or redrawn in the browser
    if result.ok:
        identity.sign_in_teacher()
    st.session_state["gs_sign_in_message"] = (result.ok, result.message)


def _report(action, *args):
    """Run a class action; its error is kept to be shown under the settings.

    Returns:
        The action's result, or None when it failed.
    """
    try:
        return action(*args)
    except GateScopeError as error:
        st.session_state["gs_class_error"] = str(error)
        return None


def nickname_input(container=None) -> str:
    """The nickname box (shown in the class gallery; no accounts)."""
    st.session_state.setdefault("gs_nickname_box", st.session_state.get("gs_nickname", ""))
    value = (container or st).text_input(
        "Your nickname (shown in the class gallery)", key="gs_nickname_box", max_chars=30,
        placeholder="e.g. ada", help="Any name you like; it is stored with the runs you start.")
    if value.strip() != st.session_state.get("gs_nickname", ""):
        identity.remember_nickname(value.strip())
    st.session_state["gs_nickname"] = value.strip()
    return value.strip()


def queue_line(queue: runs.RunQueue) -> None:
    """The sidebar's queue counts, written into the slot ``sidebar`` made (again after a Start, so a new
    run is counted in the same rerun)."""
    snap = queue.snapshot()
    st.session_state["gs_queue_line"].caption(
        f"{len(snap['running'])} training now · {len(snap['queued'])} waiting · up to "
        f"{snap['max_concurrent']} at once · {snap['max_per_student']} per student · training on {snap['backend']}")


def sidebar(queue: runs.RunQueue) -> classroom.Viewer:
    """The Train page's sidebar: queue summary, teacher sign-in and the teacher's class settings.

    Returns:
        The session's Viewer after any sign-in in this run.
    """
    gate = _gate()
    me = viewer()
    snap = queue.snapshot()
    st.subheader("Training queue")
    line = st.empty()  # the counts, drawn again by the page after a Start (see queue_line)
    st.session_state["gs_queue_line"] = line
    queue_line(queue)
    places = [(name, queue.position(name)) for name in queue.owner_runs(me.owner)] if me.owner else []
    if places:
        st.caption("Your runs: " + "; ".join(
            f"{plain(name)} " + ("training" if pos == 0 else f"waiting, number {pos} in line" if pos else "finishing")
            for name, pos in places))
    if gate.enabled and me.role == "student":
        with st.expander("Teacher sign-in"):
            with st.form("gs_sign_in", clear_on_submit=True, border=False):
                st.text_input("Teacher passcode", type="password", key="gs_passcode")
                st.form_submit_button("Sign in", on_click=_sign_in)
    ok_message = st.session_state.pop("gs_sign_in_message", None)
    if ok_message:
        (st.success if ok_message[0] else st.error)(ok_message[1])
    me = viewer()
    if me.role == "student":
        st.caption("You can stop and delete your own runs; the others' finished runs are in the class gallery.")
        return me
    title = "Teacher settings" if me.role == "teacher" else "Class settings"
    with st.expander(title, expanded=me.role == "teacher"):
        if me.role == "teacher" and st.button("Sign out", key="gs_sign_out"):
            identity.sign_out_teacher()
            st.rerun()
        concurrency = st.number_input(
            "Runs that train at the same time", 1, runs.MAX_CONCURRENT_LIMIT, value=int(snap["max_concurrent"]),
            key="gs_concurrency", help="Shared by everyone using this server. On a small machine keep it at 1-2: "
            f"extra runs wait in the queue and start automatically. Default from ${runs.MAX_CONCURRENT_ENV}.")
        if concurrency != snap["max_concurrent"]:
            _report(classroom.set_concurrency, me, queue, int(concurrency))
            st.success(f"Now up to {int(concurrency)} runs at once.")
        quota = st.number_input(
            "Runs each student may queue", 1, runs.MAX_CONCURRENT_LIMIT, value=int(snap["max_per_student"]),
            key="gs_quota", help="Waiting or training at once, per student. The next free slot always goes to "
            f"the student served least recently. Default from ${runs.MAX_PER_STUDENT_ENV}.")
        if quota != snap["max_per_student"]:
            _report(classroom.set_quota, me, queue, int(quota))
        board = classroom.read_board(queue.root)
        with st.form("gs_broadcast", border=False):
            sentence = st.text_area("Class sentence (on every Home and Explain page)", value=board.sentence,
                                    max_chars=500, placeholder="e.g. The acting was not bad at all")
            link = st.text_input("Settings link (optional)", value=board.link,
                                 placeholder="paste a GateScope address, e.g. /train?cell=gru",
                                 help="Students see a button that opens this address.")
            shown = None  # the buttons one above the other: side by side the sidebar cut "📣 Show …"
            if st.form_submit_button("📣 Show to the class", width="stretch"):
                shown = _report(classroom.broadcast, me, sentence, link, queue.root)
            if st.form_submit_button("Clear", width="stretch"):
                shown = _report(classroom.broadcast, me, "", "", queue.root)
        if shown is not None:  # the teacher sees at once what every student now sees
            st.success(f"Every Home and Explain page now shows the class sentence “{plain(shown.sentence)}”"
                       + (f" with a button to {plain(shown.link)}." if shown.link else ".")
                       if shown.sentence else "Cleared: students no longer see a class sentence.", icon="📣")
    error = st.session_state.pop("gs_class_error", None)
    if error:
        st.error(plain(error))
    return me


def class_sentence(text_key: str | None = None, root=None) -> None:
    """The teacher's class sentence as a banner, with its settings link and a button that
    puts the sentence into this page's text box (``text_key``)."""
    from ui import state

    board = classroom.read_board(root)
    if not board.sentence:
        return
    with st.container(border=True):
        cols = st.columns([5, 2, 3])  # the link button's column fits "Open the teacher's settings" at 1280 px
        cols[0].markdown(f"📣 **Class sentence:** {plain(board.sentence)}")
        if text_key:
            cols[1].button("Use it here", key=f"gs_use_class_{text_key}", width="stretch",
                           on_click=state.remember, args=(text_key, board.sentence))
        if board.link:
            cols[2].link_button("Open the teacher's settings", board.link, width="stretch")
