"""The training time-lapse on Train and Explain: the probe-sentence editor, the animation of a
run's snapshots and the unit-emergence chart (data from ``sentiment_core.timelapse``)."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from sentiment_core import plots
from sentiment_core.settings import PageField
from sentiment_core.text import plain
from sentiment_core.timelapse import (DEFAULT_PROBES, MIN_GROUP, TIMELAPSE_FILE, TIMELAPSE_SPEC, Timelapse,
                                      TimelapseError, load_timelapse, parse_probes)

# The probe sentences are a run setting (Train only); the shown probe and direction are view state.
VIEW_FIELDS = (PageField("tl_probe", "probe", 0), PageField("tl_dir", "probe_direction", 0))
TRAIN_FIELDS = (PageField("tl_probes", "probes", DEFAULT_PROBES, TIMELAPSE_SPEC["probes"]), *VIEW_FIELDS)


def probe_editor(container=None) -> str | None:
    """The probe-sentence box (key ``tl_probes``).

    Returns:
        A message saying what is wrong with the sentences, or None when they can be used.
    """
    where = container or st
    spec = TIMELAPSE_SPEC["probes"]
    where.text_area(spec.label, key="tl_probes", help=spec.help, height=130)
    try:
        parse_probes(st.session_state["tl_probes"])
    except TimelapseError as error:
        where.error(f"The probe sentences cannot be used: {error}.")
        return str(error)
    return None


@st.cache_data(show_spinner=False, max_entries=32)
def _load(path: str, stamp: int) -> Timelapse | None:
    return load_timelapse(path)


def _stamp(folder: Path) -> int:
    try:
        return (folder / TIMELAPSE_FILE).stat().st_mtime_ns
    except OSError:
        return 0


def _marker_line(tl: Timelapse, kind: str) -> str:
    """One sentence on when a negation- or contrast-sensitive unit appeared."""
    words = {"negation": "negation word (not, no, never, n't …)", "contrast": "contrast word (but, although …)"}
    held = tl.sample_negation if kind == "negation" else tl.sample_contrast
    if min(held, tl.sample_size - held) < MIN_GROUP:
        return (f"**{kind.capitalize()}:** not measurable: {held} of the {tl.sample_size} validation texts hold a "
                f"{words[kind]}; at least {MIN_GROUP} with and {MIN_GROUP} without are needed.")
    marker = tl.marker(kind)
    if marker is None:
        return f"**{kind.capitalize()}:** no {kind}-sensitive unit yet (none reached {tl.threshold:g})."
    return (f"**{kind.capitalize()}:** unit {marker.unit} became {kind}-sensitive at **{marker.label}** "
            f"(score {marker.score:.2f} ≥ {tl.threshold:g}).")


def show(folder: Path, key: str) -> None:
    """Draw a run's time-lapse: the animated snapshots of one probe sentence and unit emergence.

    Args:
        folder: the run folder.
        key: a prefix for the charts' element keys (one per run shown).
    """
    st.markdown("#### 🎞 Training time-lapse")
    try:
        tl = _load(str(folder), _stamp(folder))
    except TimelapseError as error:
        st.error(f"This run's time-lapse cannot be shown: {plain(error)}.")
        return
    if tl is None:
        st.caption("This run has no time-lapse yet: it is recorded from the first batches on (runs trained "
                   "before time-lapses existed have none).")
        return
    for note in tl.skipped:
        st.caption(f"ℹ️ Probe left out: {plain(note)}")
    if not tl.probes:
        st.info("None of the probe sentences could be read by this model, so only unit emergence was recorded.")
    else:
        texts = [p.text for p in tl.probes]
        if not 0 <= int(st.session_state.get("tl_probe", 0)) < len(texts):
            st.session_state["tl_probe"] = 0
        c1, c2 = st.columns([3, 1])
        index = c1.selectbox("Probe sentence", range(len(texts)), format_func=texts.__getitem__, key="tl_probe",
                             help="The sentences the run snapshots (set on the Train page before starting).")
        if not 0 <= int(st.session_state.get("tl_dir", 0)) < len(tl.directions):
            st.session_state["tl_dir"] = 0
        direction = c2.selectbox("Layer / direction", range(len(tl.directions)), key="tl_dir",
                                 format_func=tl.directions.__getitem__) if len(tl.directions) > 1 else 0
        probe = tl.probes[index]
        st.plotly_chart(plots.timelapse_animation(
            probe.tokens, tl.labels, probe.probabilities, tl.label_names, probe.ig, tl.target_name,
            probe.gates[:, direction], tl.gates, probe.hidden[:, direction], tl.directions[direction]),
            width="stretch", config=plots.CHART_CONFIG, key=f"{key}_tl_anim")
        st.caption(f"Press **▶ Play** to watch the model learn: one frame per snapshot ({len(tl.labels)}: before "
                   f"training, after a few early batches and after every epoch). {plots.TOWARDS_NAME.capitalize()} "
                   f"bars push towards *{plain(tl.target_name)}*, {plots.AWAY_NAME} bars away; watch words like "
                   "*not* and *but* go from ignored to decisive.")
    st.plotly_chart(plots.unit_emergence(tl.emergence_labels, tl.correlation[:, tl.target], tl.negation, tl.contrast,
                                         tl.target_name, tl.threshold,
                                         [m.__dict__ for m in tl.markers]), width="stretch",
                    config=plots.CHART_CONFIG, key=f"{key}_tl_units")
    st.markdown(_marker_line(tl, "negation") + "  \n" + _marker_line(tl, "contrast"))
    st.caption(f"Measured on {tl.sample_size} validation texts. A unit's negation (contrast) score is the smaller |r| "
               f"with the class among texts with and without a negation (contrast) word, 0 when the two disagree in "
               f"sign: a unit that only spots 'good' flips on 'not good' and scores 0. Untrained units score about "
               f"1/√n; {tl.threshold:g} or more counts as sensitive.")
