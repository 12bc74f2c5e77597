"""Class gallery: every finished run of the room in one table and one chart (accuracy against
size, coloured by cell); open any run on Compare or Explain."""
import pandas as pd
import streamlit as st
from ui import classroom as classroom_ui
from ui import frame, state

from sentiment_core import classroom, plots
from sentiment_core.registry import RUN_PREFIX
from sentiment_core.settings import PageField
from sentiment_core.text import plain

METRICS = {"test acc": "Test accuracy", "val acc": "Validation accuracy"}
state.use_page("gallery", (PageField("gl_metric", "metric", "test acc"), PageField("gl_run", "run", "")))
queue = classroom_ui.queue()
viewer = classroom_ui.viewer()

st.title("🏫 Class gallery")
st.markdown("Every finished run on this server: who trained it, with which settings, how big it is and how well "
            "it does. Dots up and to the left are small models that still do well.")


@state.fragment(run_every=10.0)
def gallery() -> None:
    records = classroom.visible_runs(viewer, queue=queue)
    rows = classroom.gallery_rows(records, viewer, queue.root)
    damaged = [r for r in records if r.damaged]
    if damaged:
        with st.expander(f"⚠️ {len(damaged)} run(s) with damaged files (shown with what still reads)"):
            st.markdown("\n".join(f"- **{plain(r.name)}**: {plain('; '.join(r.problems))}" for r in damaged))
    if not rows:
        st.info("No finished runs yet. Train one on the Train page: it appears here when it ends.")
        frame.link("train", "Open Train")
        return
    if st.session_state["gl_metric"] not in METRICS:
        st.session_state["gl_metric"] = "test acc"
    st.segmented_control("Accuracy on", list(METRICS), key="gl_metric", format_func=METRICS.get,
                         selection_mode="single")
    metric = st.session_state["gl_metric"] or "test acc"
    st.plotly_chart(plots.accuracy_vs_parameters(rows, metric), width="stretch", config=plots.CHART_CONFIG)
    st.caption("Colour = cell (RNN orange, LSTM blue, GRU green); diamonds are bidirectional. Hover a dot to see "
               "whose run it is.")
    first, rest = classroom.GALLERY_COLUMNS[:6], classroom.GALLERY_COLUMNS[6:]  # scores, then links, then settings
    table = pd.DataFrame([{**{k: r[k] for k in first},
                           "compare": f"compare?runs={r['run']}", "explain": f"explain?model={RUN_PREFIX}{r['run']}",
                           **{k: r[k] for k in rest},
                           **({"hidden from class": r["hidden_from_class"]} if viewer.in_charge else {})}
                          for r in rows])
    st.dataframe(table, hide_index=True, width="stretch", column_config={
        "val acc": st.column_config.NumberColumn(format="percent"),
        "test acc": st.column_config.NumberColumn(format="percent"),
        "s / epoch": st.column_config.NumberColumn(format="%.1f"),
        "params": st.column_config.NumberColumn(format="localized"),
        "compare": st.column_config.LinkColumn("open", display_text="⚖️ Compare"),
        "explain": st.column_config.LinkColumn(" ", display_text="🔍 Explain"),
    })
    names = [r["run"] for r in rows]
    labels = {r["run"]: f"{r['nickname']} · {r['model']} · {r['run']}" for r in rows}
    if st.session_state["gl_run"] not in names:
        st.session_state["gl_run"] = names[0]
    cols = st.columns([3, 1, 1], vertical_alignment="bottom")
    run = cols[0].selectbox("Open a run", names, key="gl_run", format_func=labels.get)
    frame.link("compare", "Compare it", "⚖️", cols[1], query={"runs": run})
    frame.link("explain", "Explain it", "🔍", cols[2], query={"model": f"{RUN_PREFIX}{run}"})
    if viewer.in_charge:
        is_hidden = run in classroom.read_board(queue.root).hidden
        if st.button("Show it to the class again" if is_hidden else "Hide it from the class", key="gl_hide",
                     help="Hidden runs stay on the server and in your view; students no longer see them."):
            classroom.set_hidden(viewer, run, not is_hidden, queue.root)
            st.rerun(scope="fragment")


gallery()
