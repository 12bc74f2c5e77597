"""Gradients: why plain RNNs forget, measured; the long-range experiment; gradient clipping."""
import streamlit as st
from ui import classroom as classroom_ui
from ui import state, widgets

from sentiment_core import classroom, lessons, plots, runs
from sentiment_core.errors import GateScopeError
from sentiment_core.explain import EXPLAIN_SPEC
from sentiment_core.registry import RUN_PREFIX, ModelLookupError, shared_registry
from sentiment_core.settings import PageField
from sentiment_core.text import plain

TABS = ("Gradient connectivity", "Long-range experiment", "Gradient clipping")
EXPERIMENT_CELLS = lessons.LONG_RANGE_CELLS
FIELDS = (
    PageField("g_tab", "tab", TABS[0]),
    PageField("g_sample", "sample", lessons.CONNECTIVITY_TEXTS, EXPLAIN_SPEC["connectivity_sample"]),
    PageField("g_conn_runs", "lesson_runs", []),
    PageField("g_distances", "distances", list(lessons.LONG_RANGE_DEFAULT_DISTANCES)),
    PageField("g_cells", "cells", list(EXPERIMENT_CELLS)),
    PageField("g_epochs", "epochs", lessons.LONG_RANGE_EPOCHS),
    PageField("g_runs", "runs", []),
    PageField("g_clip_run", "clip_run", ""),
)
state.use_page("gradients", FIELDS)
queue = classroom_ui.queue()
viewer = classroom_ui.viewer()
registry = shared_registry()


@st.cache_data(show_spinner="Measuring gradients…", max_entries=32)
def profile(names: tuple[str, ...], sample: int):
    """Connectivity of the lesson's runs, one per cell in ``EXPERIMENT_CELLS`` order."""
    return lessons.connectivity_profiles({cell: registry.load(RUN_PREFIX + name).bundle
                                          for cell, name in zip(EXPERIMENT_CELLS, names)}, texts=sample)


st.title("📉 Gradients and long-range memory")
st.markdown("To learn from a word, the error signal must travel back from the answer to that word. In a plain RNN "
            "it is multiplied by the recurrent weights and tanh slopes at every step, so it **shrinks exponentially** "
            "(vanishing gradients) — or explodes. LSTM and GRU add a path where the memory is carried almost "
            "unchanged, so the signal survives.")

if st.session_state["g_tab"] not in TABS:
    st.session_state["g_tab"] = TABS[0]
tab_conn, tab_exp, tab_clip = st.tabs(TABS, key="g_tab", on_change="rerun")

with tab_conn:
    st.markdown("How strongly does the prediction depend on the word **d steps before the end**? Each line averages "
                "‖∂ prediction / ∂ word‖ (scaled so each text's largest value is 1) over long-range texts: one "
                "sentiment word, then neutral words. The three models are small, read to the last word (last-state "
                "pooling) and learned the long-range set; the shipped models pool over every word, which hands each "
                "word a direct path to the verdict and hides the lesson.")
    lesson_runs = lessons.connectivity_runs(classroom.visible_runs(viewer, queue=queue))
    pending = [n for n in st.session_state.get("g_conn_runs", []) if n not in lesson_runs.values()]
    missing = [c for c in EXPERIMENT_CELLS if c not in lesson_runs]
    if missing:
        st.info(f"Train the lesson's {', '.join(c.upper() for c in missing)} model(s) first: "
                f"{lessons.CONNECTIVITY.data['label']}, {lessons.CONNECTIVITY.settings_label()}. They join the shared "
                "queue and take well under a minute each; the Compare lesson 'Cell: RNN vs LSTM vs GRU' trains the "
                "same models.")
        if st.button(f"▶ Train {len(missing)} lesson model(s)", type="primary", key="g_conn_train"):
            try:
                splits = lessons.lesson_splits(lessons.CONNECTIVITY)
                names = [classroom.submit(viewer, queue,
                                          lessons.run_request(lessons.CONNECTIVITY, cell, splits)) for cell in missing]
                state.remember("g_conn_runs", names)
                st.rerun()
            except GateScopeError as error:
                st.error(f"The lesson models could not start: {plain(error)}")
    else:
        widgets.widget(EXPLAIN_SPEC["connectivity_sample"], "g_sample", st)
        try:
            profiles = profile(tuple(lesson_runs[c] for c in EXPERIMENT_CELLS), int(st.session_state["g_sample"]))
            any_profile = next(iter(profiles.values()))
            st.plotly_chart(plots.connectivity(any_profile.distances, {n: p.mean for n, p in profiles.items()},
                                               "Gradient reaching a word d steps back (log scale)"),
                            width="stretch", config=plots.CHART_CONFIG, key="g_conn")
            st.caption(lessons.CONNECTIVITY.caption + " A straight falling line on this log scale is exponential "
                       "decay.")
        except (GateScopeError, ModelLookupError) as error:
            st.warning(f"The lesson models could not be measured: {plain(error)}")

    def conn_progress() -> None:
        names = st.session_state.get("g_conn_runs", [])
        states = [runs.load_run(n, queue=queue).state for n in names]
        if any(s in runs.ACTIVE_STATES for s in states):
            done = sum(1 for s in states if s not in runs.ACTIVE_STATES)
            st.progress(done / len(states), text=f"Lesson models: {done} of {len(states)} trained")
            st.session_state["g_conn_live"] = True
        elif st.session_state.pop("g_conn_live", False):
            st.rerun()

    if pending:
        state.fragment(run_every=1.5)(conn_progress)()

with tab_exp:
    st.markdown("**The experiment:** every sentence has one sentiment word followed by neutral words "
                "(*'terrible the window walked of …'*). For each distance *d*, a small RNN, LSTM and GRU learn from "
                "sentences with the cue 0 to *d* words from the end and are **tested with the cue exactly *d* words "
                "from the end**: can they still carry it to the last word, which is all they classify from?")
    e1, e2, e3 = st.columns(3)
    st.session_state["g_distances"] = [d for d in st.session_state["g_distances"]
                                       if d in lessons.LONG_RANGE_DISTANCES]
    st.session_state["g_cells"] = [c for c in st.session_state["g_cells"] if c in EXPERIMENT_CELLS]
    st.session_state["g_epochs"] = max(1, min(15, int(st.session_state["g_epochs"])))
    distances = e1.multiselect("Distances d", list(lessons.LONG_RANGE_DISTANCES), key="g_distances")
    cells_chosen = e2.multiselect("Cells", EXPERIMENT_CELLS, key="g_cells", format_func=str.upper)
    epochs = e3.slider("Epochs", 1, 15, key="g_epochs")
    n_runs = len(distances) * len(cells_chosen)
    st.caption(f"{n_runs} small runs ({lessons.LONG_RANGE_EXAMPLES:,} sentences, hidden "
               f"{lessons.LONG_RANGE_MODEL['hidden_dim']}, last-state pooling, {epochs} epochs, a few seconds each). "
               "They join the shared training queue; results appear as each one finishes.")
    if st.button(f"▶ Run the experiment ({n_runs} runs)", type="primary", disabled=n_runs == 0):
        try:
            names = []
            for d in sorted(distances):
                for cell in cells_chosen:
                    names.append(classroom.submit(viewer, queue,
                                                  lessons.long_range_request(cell, d, epochs)))
            state.remember("g_runs", names)
        except GateScopeError as error:
            st.error(f"The experiment could not start: {plain(error)}")

    def experiment() -> None:
        names = st.session_state.get("g_runs", [])
        if not names:
            st.plotly_chart(plots.accuracy_vs_distance({}), width="stretch", config=plots.CHART_CONFIG, key="g_acc_empty")
            return
        records = []
        for name in names:
            try:
                records.append(runs.load_run(name, queue=queue))
            except runs.RunError:
                continue
        records = classroom.visible_runs(viewer, records, queue=queue)  # a link may name anyone's runs
        pending = sum(1 for r in records if r.state in runs.ACTIVE_STATES)
        if pending:
            st.progress(1 - pending / len(names), text=f"{len(names) - pending} of {len(names)} runs finished")
        results = lessons.long_range_results(records)
        st.plotly_chart(plots.accuracy_vs_distance(results, "Test accuracy with the cue d words from the end"),
                        width="stretch", config=plots.CHART_CONFIG, key="g_acc")
        if not pending and results:
            st.caption(lessons.LONG_RANGE_CAPTION)
            if st.session_state.pop("g_live", False):
                st.rerun()
        elif pending:
            st.session_state["g_live"] = True

    live = any(r.state in runs.ACTIVE_STATES for r in runs.list_runs(queue=queue)
               if r.name in set(st.session_state.get("g_runs", [])))
    state.fragment(run_every=1.5 if live else None)(experiment)()

with tab_clip:
    st.markdown("When gradients explode, one huge step can wreck the weights (the loss becomes NaN). **Clipping** "
                "rescales the whole gradient whenever its norm exceeds a threshold *c*, keeping its direction:")
    st.latex(r"g \leftarrow g \cdot \min\left(1, \frac{c}{\lVert g \rVert}\right)")
    done = [r for r in classroom.visible_runs(viewer, queue=queue) if r.epochs() or r.state == "running"]
    if not done:
        st.info(f"Train a run to see its gradient norms here: Compare's lesson '{lessons.CLIPPING.title}' trains "
                "a plain RNN with a too-high learning rate with clipping off and with clip norm 1.")
    else:
        labels = {r.name: r.label for r in done}
        state.default("g_clip_run", next(iter(labels)))
        if st.session_state["g_clip_run"] not in labels:
            st.session_state["g_clip_run"] = next(iter(labels))
        name = st.selectbox("Run", list(labels), format_func=labels.get, key="g_clip_run")
        record = next(r for r in done if r.name == name)
        clip = record.config.get("train", {}).get("clip_norm")
        batches = record.batches()
        st.plotly_chart(plots.grad_norm_figure(batches, clip, "Gradient norm per step"), width="stretch",
                        config=plots.CHART_CONFIG, key="g_clip")
        clipped = sum(1 for b in batches if b.get("clipped"))
        st.caption(f"{clipped} of {len(batches)} steps were clipped (clip norm {clip or 'off'}). Spikes above the line "
                   "are steps that would have jumped too far without clipping.")
