"""Gradients: why plain RNNs forget, measured; the long-range experiment; gradient clipping."""
import streamlit as st
from ui import classroom as classroom_ui
from ui import state, widgets

from sentiment_core import classroom, lessons, plots, runs
from sentiment_core.errors import GateScopeError
from sentiment_core.explain import EXPLAIN_SPEC, connectivity_profile
from sentiment_core.registry import shared_registry
from sentiment_core.settings import PageField

TABS = ("Gradient connectivity", "Long-range experiment", "Gradient clipping")
EXPERIMENT_CELLS = lessons.LONG_RANGE_CELLS
FIELDS = (
    PageField("g_tab", "tab", TABS[0]),
    PageField("g_sample", "sample", 40, EXPLAIN_SPEC["connectivity_sample"]),
    PageField("g_maxd", "max_distance", 60),
    PageField("g_distances", "distances", list(lessons.LONG_RANGE_DEFAULT_DISTANCES)),
    PageField("g_cells", "cells", list(EXPERIMENT_CELLS)),
    PageField("g_epochs", "epochs", lessons.LONG_RANGE_EPOCHS),
    PageField("g_runs", "runs", []),
    PageField("g_clip_run", "clip_run", ""),
)
state.use_page("gradients", FIELDS)
queue = classroom_ui.queue()
registry = shared_registry()
NOBAR = {"displayModeBar": False}


@st.cache_data(show_spinner="Measuring gradients…", max_entries=32)
def profile(cache_key: str, model: str, sample: int, max_distance: int):
    from sentiment_core.data import make_long_range

    texts = make_long_range(max(sample, 10), distance=(max_distance // 2, max_distance), seed=1).parts["all"].texts
    return connectivity_profile(registry.load(model).bundle, texts, sample_size=sample, max_distance=max_distance)


st.title("📉 Gradients and long-range memory")
st.markdown("To learn from a word, the error signal must travel back from the answer to that word. In a plain RNN "
            "it is multiplied by the recurrent weights and tanh slopes at every step, so it **shrinks exponentially** "
            "(vanishing gradients) — or explodes. LSTM and GRU add a path where the memory is carried almost "
            "unchanged, so the signal survives.")

if st.session_state["g_tab"] not in TABS:
    st.session_state["g_tab"] = TABS[0]
tab_conn, tab_exp, tab_clip = st.tabs(TABS, key="g_tab", on_change="rerun")

with tab_conn:
    shipped = {e.key: e for e in registry.shipped()}
    cells = [n for n in ("rnn", "lstm", "gru") if n in shipped]
    st.markdown("How strongly does the prediction depend on the word **d steps before the end**? Each line averages "
                "‖∂ prediction / ∂ word‖ (scaled so each text's largest value is 1) over texts made of neutral words "
                "with one sentiment cue.")
    if not cells:
        st.info("No shipped RNN/LSTM/GRU models found; train three runs on the long-range set and compare them instead.")
    else:
        k1, k2 = st.columns(2)
        widgets.widget(EXPLAIN_SPEC["connectivity_sample"], "g_sample", k1)
        st.session_state["g_maxd"] = max(10, min(120, int(st.session_state["g_maxd"]) // 10 * 10))
        max_distance = k2.slider("Longest distance", 10, 120, step=10, key="g_maxd")
        values = {}
        for name in cells:
            try:
                prof = profile(registry.load(name).cache_key, name, int(st.session_state["g_sample"]),
                               int(max_distance))
                values[name.upper()] = prof.mean
                distances = prof.distances
            except GateScopeError as error:
                st.warning(f"{name}: {error}")
        if values:
            st.plotly_chart(plots.connectivity(distances, values, "Gradient reaching a word d steps back (log scale)"),
                            width="stretch", config=NOBAR, key="g_conn")
            st.caption("A straight falling line on this log scale is exponential decay. The plain RNN's line falls "
                       "fastest: words far from the end barely influence it.")

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
                    names.append(classroom.submit(classroom_ui.viewer(), queue,
                                                  lessons.long_range_request(cell, d, epochs)))
            state.remember("g_runs", names)
        except GateScopeError as error:
            st.error(f"The experiment could not start: {error}")

    def experiment() -> None:
        names = st.session_state.get("g_runs", [])
        if not names:
            st.plotly_chart(plots.accuracy_vs_distance({}), width="stretch", config=NOBAR, key="g_acc_empty")
            return
        records = []
        for name in names:
            try:
                records.append(runs.load_run(name, queue=queue))
            except runs.RunError:
                continue
        pending = sum(1 for r in records if r.state in runs.ACTIVE_STATES)
        if pending:
            st.progress(1 - pending / len(names), text=f"{len(names) - pending} of {len(names)} runs finished")
        results = lessons.long_range_results(records)
        st.plotly_chart(plots.accuracy_vs_distance(results, "Test accuracy with the cue d words from the end"),
                        width="stretch", config=NOBAR, key="g_acc")
        if not pending and results:
            st.caption("Expected: every cell is near 100% at short distances; by d = 60 the plain RNN is back at a "
                       "coin flip while LSTM and GRU hold on (with 10 epochs). Open the runs on Compare to see their "
                       "curves.")
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
    done = [r for r in runs.list_runs(queue=queue) if r.epochs() or r.state == "running"]
    if not done:
        st.info("Train a run (Train page) to see its gradient norms here. Try a plain RNN with a high learning rate "
                "and clip norm 0 (off), then the same with clip norm 1.")
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
                        config=NOBAR, key="g_clip")
        clipped = sum(1 for b in batches if b.get("clipped"))
        st.caption(f"{clipped} of {len(batches)} steps were clipped (clip norm {clip or 'off'}). Spikes above the line "
                   "are steps that would have jumped too far without clipping.")
