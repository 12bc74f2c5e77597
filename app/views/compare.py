"""Compare: overlay runs, train a grid of configurations, put one sentence through every model."""
from pathlib import Path

import pandas as pd
import streamlit as st
from ui import classroom as classroom_ui
from ui import datasets, state

from sentiment_core import classroom, lessons, plots, runs
from sentiment_core.data import selection
from sentiment_core.errors import GateScopeError
from sentiment_core.registry import RUN_PREFIX, ModelLookupError, shared_registry
from sentiment_core.settings import PageField
from sentiment_core.text import plain

METRICS = {"val_accuracy": "Validation accuracy", "val_loss": "Validation loss",
           "both_loss": "Train vs validation loss (overfitting)", "both_accuracy": "Train vs validation accuracy",
           "val_macro_f1": "Validation macro-F1"}
RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results"
FIELDS = (PageField("c_selected", "runs", []), PageField("c_models", "models", []),
          PageField("c_metric", "curve", "val_accuracy"), PageField("c_grid", "grid", lessons.CELLS.title),
          PageField("c_base", "base", "lesson"), PageField("c_text", "text", "not bad at all , i enjoyed it"))
state.use_page("compare", FIELDS, groups=("data", "model", "train", "encoding", "vocab", "tokenizer"))
queue = classroom_ui.queue()
registry = shared_registry()
LESSON_GRIDS = lessons.COMPARE_LESSONS
# Grids without a stated result: they vary one model setting on the Train page's data and settings.
EXPLORE_GRIDS = {
    "Hidden size": ("hidden_dim", [8, 32, 128]),
    "Bidirectional": ("bidirectional", [False, True]),
    "Pooling": ("pooling", ["last", "mean", "max", "attention"]),
}
BASES = {"lesson": "The lesson's data and settings (the expected result holds)",
         "train": "My Train page's data and settings"}


@st.cache_data(show_spinner=False, max_entries=256)
def predict(cache_key: str, model: str, text: str):
    from sentiment_core.predict import Predictor

    return Predictor(registry.load(model).bundle).predict([text])[0].probabilities


@st.cache_resource(show_spinner="Preparing the lesson's data…", max_entries=16)
def lesson_splits(key: str):
    return lessons.lesson_splits(next(x for x in LESSON_GRIDS.values() if x.key == key))


def value_label(field: str, value) -> str:
    return str(value).upper() if field == "cell" else f"{value:g}" if isinstance(value, float) else str(value)


st.title("⚖️ Compare")
st.markdown(
    "This is where the lessons happen. Pick a grid: each lesson trains a few small runs on the same data with the "
    "same budget and states what you should see (**RNN vs LSTM vs GRU**, **learning rate**, **dropout and "
    "overfitting**, **layers**, **embeddings**, **padding**, **max length**, **clipping**). Every expected result "
    "is checked by GateScope's test suite at the lesson's own settings.")

# ---------------------------------------------------------------- grid
with st.expander("🧪 Train a grid of configurations on the same data and budget", expanded=False):
    data = state.group("data")
    model_opts, train_opts = state.group("model"), state.group("train")
    encoding, vocab_opts = state.group("encoding"), state.group("vocab")
    grids = [*LESSON_GRIDS, *EXPLORE_GRIDS]
    if st.session_state["c_grid"] not in grids:
        st.session_state["c_grid"] = grids[0]
    g1, g2 = st.columns([2, 1])
    grid_name = g1.selectbox("Vary", grids, key="c_grid")
    lesson = LESSON_GRIDS.get(grid_name)
    if lesson is not None:
        st.info(lesson.caption, icon="🎯")
        if st.session_state["c_base"] not in BASES:
            st.session_state["c_base"] = "lesson"
        base = g1.radio("Base settings", list(BASES), key="c_base", format_func=BASES.get, horizontal=True)
        field, values, label_of = lesson.vary, list(lesson.values), lesson.value_label
    else:
        base = "train"
        field, values = EXPLORE_GRIDS[grid_name]
        label_of = lambda v, field=field: value_label(field, v)  # noqa: E731
        st.caption("No expected result is stated for this grid: explore.")
    if base == "lesson":
        st.caption(f"Data: {lesson.data['label']}. Settings: {lesson.settings_label()}.")
        default_epochs = int(lesson.train["epochs"])
    else:
        st.caption(f"Base settings come from the Train page ({model_opts['cell'].upper()}, hidden "
                   f"{model_opts['hidden_dim']}, lr {train_opts['lr']:g}, {train_opts['epochs']} epochs); data: "
                   f"{plain(selection.data_label(data))}." + (" The expected result above was measured with the lesson's "
                                                       "settings; yours may show something else." if lesson else ""))
        default_epochs = int(train_opts["epochs"])
    chosen = g1.multiselect("Values", values, default=values, key=f"c_values_{field}", format_func=label_of)
    epochs = g2.slider("Epochs for every run", 1, 30, default_epochs, key=f"c_epochs_{base}_{field}")
    g2.caption(f"{len(chosen)} runs · they wait in the shared queue and train one after another "
               f"({queue.snapshot()['max_concurrent']} at once).")
    disabled = not chosen or (base == "train" and data.get("name") == "upload")
    if st.button(f"▶ Train {len(chosen)} runs", type="primary", disabled=disabled):
        try:
            if base == "lesson":
                splits = lesson_splits(lesson.key)
                requests = [lessons.run_request(lesson, value, splits, train={**lesson.train, "epochs": epochs})
                            for value in chosen]
            else:
                _, splits = datasets.catalogue(selection.dataset_key(data), data)
                described = {**data, "label": selection.data_label(data)}
                train = {**train_opts, "epochs": epochs}
                if lesson is not None:
                    requests = [lessons.run_request(lesson, value, splits, model_opts, train, encoding,
                                                    state.group("tokenizer"), vocab_opts, described)
                                for value in chosen]
                else:
                    requests = [runs.RunRequest(splits, {**model_opts, field: value}, train, described,
                                                state.group("tokenizer"), vocab_opts,
                                                runs.slugify(f"grid-{field}-{value}"), encoding=encoding)
                                for value in chosen]
            names = [classroom.submit(classroom_ui.viewer(), queue, request) for request in requests]
            state.remember("c_selected", names)
            st.success(f"Queued {len(names)} runs. Their curves appear below as they train.")
        except GateScopeError as error:
            st.error(f"The grid could not start: {plain(error)}")
    if base == "train" and data.get("name") == "upload":
        st.caption("Grids use catalogue or synthetic data; train uploads one run at a time on the Train page.")

# ---------------------------------------------------------------- pick runs
viewer = classroom_ui.viewer()
all_runs = classroom.visible_runs(viewer, queue=queue)
if not all_runs:
    st.info("No runs yet: train one on the Train page or start a grid above.")
    state.stop()
by_name = {r.name: r for r in all_runs}
state.default("c_selected", [r.name for r in all_runs[:3]])
missing = [str(n) for n in st.session_state["c_selected"] if n not in by_name]
if missing:  # a link's run that is gone (or not this person's to see): say so, as Train does
    kept = len(missing) < len(st.session_state["c_selected"])
    st.warning(f"There is no run {plain(', '.join(repr(n) for n in missing[:3]))}"
               f"{f' (and {len(missing) - 3} more)' if len(missing) > 3 else ''} on this server (any more), so "
               f"{'only the others are' if kept else 'the newest runs are'} shown.", icon="🔗")
st.session_state["c_selected"] = ([n for n in st.session_state["c_selected"] if n in by_name]
                                  or [r.name for r in all_runs[:3]])
selected = st.multiselect("Runs to compare", list(by_name), key="c_selected", format_func=lambda n: by_name[n].label)
if not selected:
    st.info("Pick at least one run.")
    state.stop()


def render(selected: list[str]) -> None:
    records = [runs.load_run(n, queue=queue) for n in selected if n in by_name]
    active = [r for r in records if r.state in runs.ACTIVE_STATES]
    if active:
        st.caption("⏳ " + ", ".join(f"{plain(r.name)}: {r.state}" + (f" (queue position {r.queue_position})"
                                                               if r.queue_position else "") for r in active))
    series = {r.name: r.epochs() for r in records}
    colors = {}
    cells = [r.config.get("model", {}).get("cell", "") for r in records]
    if len(set(cells)) == len(cells):  # one run per cell type: use the cell colours
        colors = {r.name: plots.cell_color(c) for r, c in zip(records, cells)}
    if st.session_state.get("c_metric") not in METRICS:
        st.session_state["c_metric"] = "val_accuracy"
    metric = st.segmented_control("Curve", list(METRICS), key="c_metric", format_func=METRICS.get) or "val_accuracy"
    st.plotly_chart(plots.compare_curves(series, metric, colors=colors), width="stretch", key="c_curves",
                    config=plots.CHART_CONFIG)
    table = pd.DataFrame([r.summary() for r in records])
    st.dataframe(table, hide_index=True, width="stretch", column_config={
        "best val acc": st.column_config.NumberColumn(format="percent"),
        "test acc": st.column_config.NumberColumn(format="percent"),
        "test macro-F1": st.column_config.NumberColumn(format="%.3f"),
        "params": st.column_config.NumberColumn(format="localized"),
        "s / epoch": st.column_config.NumberColumn(format="%.2f"),
    })
    if active:
        st.session_state["c_was_active"] = True
    elif st.session_state.pop("c_was_active", False):
        st.rerun()


live = any(by_name[n].state in runs.ACTIVE_STATES for n in selected)
state.fragment(run_every=1.5 if live else None)(render)(selected)

# ---------------------------------------------------------------- one sentence, every model
st.subheader("The same sentence through every selected model")
text = st.text_input("Sentence", key="c_text", max_chars=1000)
rows = []
for name in selected:
    record = by_name[name]
    if record.best_path is None:
        continue
    try:
        loaded = registry.load(RUN_PREFIX + name)
        probs = predict(loaded.cache_key, loaded.key, text)
        rows.append({"model": f"{record.display_name} · {name}", "probabilities": probs})
    except (GateScopeError, ModelLookupError) as error:
        st.warning(f"{plain(name)}: {plain(error)}")
others = {e.key: e for e in registry.entries(("shipped", "upload"))}
st.session_state["c_models"] = [k for k in st.session_state.get("c_models", []) if k in others]
extra = st.multiselect("Also compare with", list(others), key="c_models", format_func=lambda k: others[k].label,
                       help="Shipped models and bundles uploaded or imported from a tutorial on Explain.")
for key in extra:
    try:
        loaded = registry.load(key)
        rows.append({"model": others[key].label, "probabilities": predict(loaded.cache_key, loaded.key, text)})
    except (GateScopeError, ModelLookupError) as error:
        st.warning(f"{plain(others[key].label)}: {plain(error)}")
if rows and text.strip():
    st.plotly_chart(plots.model_probability_bars(rows), width="stretch", key="c_sentence",
                    config=plots.CHART_CONFIG)
elif not rows:
    st.caption("The selected runs have no checkpoint yet (one appears after the first epoch).")

# ---------------------------------------------------------------- reference results
files = sorted(p for p in RESULTS.glob("*") if p.suffix in (".md", ".csv")) if RESULTS.is_dir() else []
if files:
    st.subheader("Reference results")
    st.caption("Measured by `benchmarks/` scripts on the project's reference machine.")
    for path in files:
        with st.expander(path.name):
            if path.suffix == ".csv":
                try:
                    st.dataframe(pd.read_csv(path), hide_index=True, width="stretch")
                except Exception:  # noqa: BLE001
                    st.code(path.read_text(encoding="utf-8", errors="replace")[:5000])
            else:
                st.markdown(path.read_text(encoding="utf-8", errors="replace")[:20000])
