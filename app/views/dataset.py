"""Dataset: one model (or two) over a whole labelled set: the error table, slices, a paired test,
the embedding projector and the hidden units across the set."""
import urllib.parse

import numpy as np
import pandas as pd
import streamlit as st
from ui import datasets, frame, models, state

from sentiment_core import dataset_view as dv
from sentiment_core import plots, runs
from sentiment_core.data.upload import upload_sha
from sentiment_core.errors import GateScopeError
from sentiment_core.explain import EXPLAIN_SPEC, gate_statistics
from sentiment_core.pretrained import EVAL_SETS
from sentiment_core.registry import RUN_PREFIX, ModelLookupError, shared_registry
from sentiment_core.settings import PageField
from sentiment_core.text import plain

TABS = ("Examples", "Slices", "Map", "Units")
PAGE_SIZE = 25
WAIT_BELOW = 1000  # examples: a set this small is predicted under a spinner (a few seconds) before the page draws
FIRST_WAIT = 2.0  # seconds a larger set is waited for before the page shows its progress and the rows done
PROGRESS_SECONDS = 2.0  # while a pass runs, its progress bar is redrawn this often
ROWS_SECONDS = 10.0  # and the numbers and rows of the examples it has done this often (each costs ~50 ms a session)
EXPLAIN_MAX_CHARS = 2000  # Explain's sentence box
COLORS = {"correct": "correct or wrong", "gold": "gold label", "prediction": "prediction"}
UPLOAD = "upload"
UNIT_TOKEN_BUDGET = 60_000  # tokens whose gate values the Units tab collects at most (BiLSTM-256: ~0.7 GB)
FIELDS = (
    PageField("ds_model", "model", shared_registry().default_key(models.EXPLAIN_PREFERENCE) or ""),
    PageField("ds_source", "examples", ""),
    PageField("ds_tab", "tab", TABS[0]),
    PageField("ds_sort", "sort", "wrong_first"),
    PageField("ds_slice", "slice", "all"),
    PageField("ds_outcome", "outcome", "all"),
    PageField("ds_search", "search", ""),
    PageField("ds_page", "page", 1),
    PageField("ds_keywords", "keywords", ""),
    PageField("ds_regex", "regex", False),
    PageField("ds_other", "vs", ""),
    PageField("ds_color", "color", "correct"),
    PageField("ds_proj", "projection", "pca"),
    PageField("ds_stats_n", "units_n", 300),
    PageField("ds_unit", "unit", 0),
)
ENTERING = st.session_state.get("gs_page") != "dataset"  # a link's values are checked once, on arrival
state.use_page("dataset", FIELDS)
registry = shared_registry()


@st.cache_resource(show_spinner="Loading the examples…", max_entries=6)
def labelled_set(key: str, _content: bytes | None = None, filename: str = "", mapping: tuple = ()):
    """The labelled examples of a source key (``eval:<set>``, ``run:<name>``, ``upload:<sha>:<columns>``;
    ``mapping``: an upload's column mapping as sorted items)."""
    if key.startswith("eval:"):
        return dv.load_eval_set(key[len("eval:"):])
    if key.startswith(RUN_PREFIX):
        name = key[len(RUN_PREFIX):]
        record = runs.load_run(name, registry.runs_root)
        if not record.config.get("data"):  # its config.json is damaged
            raise runs.RunError(f"run {name!r} does not say which data it trained on: {'; '.join(record.problems)}")
        return dv.run_test_set(record.config, name, registry.runs_root)
    return dv.upload_set(_content, filename, dict(mapping))


def run_data(model_key: str) -> dict | None:
    """The data settings of a run trained on an uploaded file (its columns start the mapping), else None."""
    if not model_key.startswith(RUN_PREFIX):
        return None
    try:
        data = runs.load_run(model_key[len(RUN_PREFIX):], registry.runs_root).config.get("data") or {}
    except GateScopeError:
        return None
    return data if data.get("name") == "upload" else None


def predictions(model, set_key: str, labelled):
    """The model's predictions over the set, or the pass computing them: one pass per (model version,
    set) on the server, in the background, shared by every session that asks meanwhile and kept in
    the shared LRU when done. A small set is waited for (a few seconds), a larger one that has no
    row yet ``FIRST_WAIT`` seconds at most."""
    bundle = model.bundle
    found = dv.SHARED_PREDICTIONS.start((model.cache_key, set_key), lambda: dv.DatasetPass(
        bundle, labelled.texts, labelled.for_model(bundle.label_names), bundle.model_config.display_name))
    if isinstance(found, dv.DatasetPass) and (found.total <= WAIT_BELOW or not found.progress().done):
        with st.spinner(f"Predicting all {found.total:,} examples (once per model and dataset)…"):
            found = found.wait(None if found.total <= WAIT_BELOW else FIRST_WAIT) or found
    return found


def progress_bar(run) -> None:
    """A pass's progress: examples done and the time left at the speed of its batches so far."""
    p = run.progress()
    if p.waiting:
        st.progress(0.0, text=f"Waiting for a turn: the server predicts {dv.PARALLEL_PASSES} sets at once; these "
                              f"{p.total:,} examples start when one of them is done.")
        return
    left = (f"about {round(p.seconds_left):,} s left at the speed so far" if p.seconds_left is not None
            else "timing the first batch…")
    st.progress(p.done / max(1, p.total), text=f"Predicting {run.model_name}: {p.done:,} of {p.total:,} examples "
                                               f"done · {left} (once per model and set, shared by everyone)")


@st.cache_data(show_spinner="Projecting the sentence vectors…", max_entries=8)
def projection(cache_key: str, set_key: str, method: str, _vectors: np.ndarray):
    return dv.project(_vectors, method)


@st.cache_resource(show_spinner="Collecting gate statistics…", max_entries=6)
def unit_stats(cache_key: str, model_key: str, set_key: str, n: int, _texts):
    return gate_statistics(registry.load(model_key).bundle, _texts, n=n, top_k=10)


@st.cache_resource(show_spinner="Finding the sentences where the unit is most active…", max_entries=16)
def unit_rows(cache_key: str, model_key: str, set_key: str, layer: int, direction: int, unit: int, _texts):
    return dv.unit_sentences(registry.load(model_key).bundle, _texts, layer, direction, unit)


def explain_query(model_key: str, text: str) -> dict[str, str]:
    return {"model": model_key, "text": text[:EXPLAIN_MAX_CHARS]}


def explain_url(model_key: str, text: str) -> str:
    return "explain?" + urllib.parse.urlencode(explain_query(model_key, text))


def choose(key: str, options: list, fallback) -> None:
    """Put a link's value back in range before its widget is drawn (saying so when a link brought it)."""
    value = st.session_state.get(key)
    if value not in options:
        if ENTERING and value not in (None, "", fallback):
            query = next(f.query for f in FIELDS if f.key == key)
            st.warning(plain(f"The link's {query}={value!r} was ignored: it is not one of "
                             f"{', '.join(map(str, options))}. {fallback or 'None'} is used."), icon="🔗")
        st.session_state[key] = fallback


st.title("🗂️ Across the dataset")
st.markdown("Every example of a labelled set through one model: where it is wrong and confident, which kinds of "
            "sentence (negation, contrast, length, unknown words, your own keywords) it fails on, how it compares "
            "with a second model, a map of the sentence vectors the classifier reads, and its hidden units.")
top = st.columns([2, 3], gap="large")
with top[0]:
    loaded = models.picker("ds_model")
if loaded is None:
    state.stop()
model_key = loaded.key
sources = {f"eval:{name}": f"Evaluation set: {EVAL_SETS[name][1]}" for name in dv.eval_set_names(model_key)}
if model_key.startswith(RUN_PREFIX):
    sources[model_key] = "This run's own test split"
sources[UPLOAD] = "An uploaded labelled file…"
state.default("ds_source", next(iter(sources)))
choose("ds_source", list(sources), next(iter(sources)))
with top[1]:
    source = st.selectbox("Examples", list(sources), key="ds_source", format_func=sources.get,
                          help="A shipped model's evaluation sets (in full from the dataset mirror, else its "
                               "held-out sample), a run's own test split, or any labelled CSV/TSV/JSON file.")
    content, filename, mapping = None, "", {}
    if source == UPLOAD:
        file = st.file_uploader("Labelled file", type=["csv", "tsv", "txt", "json", "jsonl", "parquet"],
                                key="ds_file", help="A text column and a label column, like the Data page's uploads "
                                                    "(up to 50 MB); the file is read in this session only.")
        if file is None:
            st.info("Upload a file with a text and a label column.")
            state.stop()
        content, filename = file.getvalue(), file.name
set_key = source
if source == UPLOAD:  # the Data page's column mapping, starting from a run's own columns
    sha = upload_sha(content)
    mapping = datasets.column_mapping({"bytes": content, "filename": filename, "sha": sha}, "ds", run_data(model_key))
    if mapping is None:
        state.stop()
    set_key = f"upload:{sha}:{mapping['text_column']}|{mapping['label_column']}|{mapping['threshold']}"

try:
    labelled = labelled_set(set_key, content, filename, tuple(sorted(mapping.items())))
    found = predictions(loaded, set_key, labelled)
except dv.ServerBusyError as error:
    st.warning(f"These examples wait: {plain(error)}.", icon="⏳")
    state.stop()
except (GateScopeError, ValueError, OSError) as error:
    st.error(f"These examples cannot be used with this model: {plain(error)}")
    state.stop()
for note in labelled.notes:
    st.caption(f"ℹ️ {plain(note)}")


def headline(preds) -> dict[str, np.ndarray]:
    """The headline numbers and the user's own slice (keywords or a regular expression), over the rows
    ``preds`` holds; returns the user's slices, name -> (N,) mask. Numbers of a pass under way say so."""
    table = preds.table
    m1, m2, m3, m4 = st.columns(4)
    median = f"{int(table['length'].median()) if len(table) else 0} tokens"
    if preds.complete:
        m1.metric("Examples", f"{len(table):,}")
        m2.metric("Accuracy", f"{preds.accuracy:.1%}")
        m3.metric("Wrong", f"{int((~table['correct']).sum()):,}")
        m4.metric("Median length", median)
    else:
        sample = f"the {len(table):,} examples done so far, a random sample of the {preds.total:,}"
        low, high = dv.wilson_interval(int(table["correct"].sum()), len(table))
        m1.metric(f"So far (of {preds.total:,})", f"{len(table):,}", help=f"Examples in these numbers: {sample}.")
        m2.metric("Accuracy so far", f"{preds.accuracy:.1%}", help=f"On {sample}; not the whole set's yet.")
        m3.metric("Wrong so far", f"{int((~table['correct']).sum()):,}", help=f"Among {sample}.")
        m4.metric("Median length so far", median, help=f"Of {sample}.")
        st.caption(f"⏳ Every number and row here is computed on {sample} (accuracy so far {preds.accuracy:.1%}, "
                   f"95 % interval {low:.1%} – {high:.1%}). The whole set's figures replace them when every example "
                   "is done.")
    k1, k2 = st.columns([3, 1], vertical_alignment="bottom")
    keywords = k1.text_input("My slice: keywords (comma-separated, whole words) or a regular expression",
                             key="ds_keywords", placeholder="e.g. boring, dull   or   \\bnot (good|bad)\\b")
    regex = k2.toggle("Regex", key="ds_regex", help="On: the box is one regular expression (Python's syntax, ignoring "
                                                  "case). Off: comma-separated keywords, matched as whole words. At "
                                                  f"most {dv.MAX_SLICE_PATTERN} characters; a search that takes over "
                                                  f"{dv.SLICE_SECONDS:g} s stops with a message.")
    extra: dict[str, np.ndarray] = {}
    if keywords.strip():
        try:
            extra[f"my slice: {keywords.strip()}"] = dv.user_slice(table["text"].tolist(), keywords, regex)
        except dv.SliceError as error:
            st.error(f"My slice is not used: {plain(error)}")
    return extra


def examples_body(preds, masks: dict[str, np.ndarray]) -> None:
    """The Examples tab: filters, one page of the table, a selected row's link to Explain."""
    table = preds.table
    f1, f2, f3, f4 = st.columns([2, 2, 2, 3])
    choose("ds_slice", ["all", *masks], "all")
    choose("ds_outcome", list(dv.OUTCOMES), "all")
    choose("ds_sort", list(dv.SORTS), "wrong_first")
    chosen = f1.selectbox("Slice", ["all", *masks], key="ds_slice")
    outcome = f2.segmented_control("Show", list(dv.OUTCOMES), key="ds_outcome") or "all"
    sort = f3.selectbox("Sort", list(dv.SORTS), key="ds_sort", format_func=dv.SORTS.get)
    search = f4.text_input("Text contains", key="ds_search")
    rows = dv.select_rows(preds, masks.get(chosen), outcome, search, sort)
    pages = max(1, -(-len(rows) // PAGE_SIZE))
    st.session_state["ds_page"] = max(1, min(pages, int(st.session_state["ds_page"])))
    p1, p2 = st.columns([1, 4])
    page = p1.number_input(f"Page (of {pages:,})", 1, pages, key="ds_page")
    among = "" if preds.complete else f" among the {len(table):,} of {preds.total:,} done so far (more fill in as " \
                                      "batches finish)"
    p2.caption(f"{len(rows):,} examples match{among}; {PAGE_SIZE} per page. Click a row to open it on Explain.")
    shown = rows[(page - 1) * PAGE_SIZE: page * PAGE_SIZE]
    view = table.iloc[shown][["text", "gold", "prediction", "confidence", "length", "unknown_share", "tags"]].copy()
    view.insert(0, "explain", [explain_url(model_key, t) for t in view["text"]])
    picked = st.dataframe(
        view, hide_index=True, width="stretch", key="ds_table", on_select="rerun", selection_mode="single-row",
        column_config={
            "explain": st.column_config.LinkColumn("Explain", display_text="🔍 open", width="small"),
            "text": st.column_config.TextColumn("Text", width="large"),
            "confidence": st.column_config.NumberColumn("Confidence", format="percent"),
            "unknown_share": st.column_config.NumberColumn("Unknown words", format="percent"),
            "length": st.column_config.NumberColumn("Tokens")})
    selected = picked.selection.rows if picked else []
    if selected:
        text = view.iloc[selected[0]]["text"]
        frame.link("explain", f"Open this sentence on Explain: “{text[:80]}{'…' if len(text) > 80 else ''}”",
                   query=explain_query(model_key, text))
        if len(text) > EXPLAIN_MAX_CHARS:
            st.caption(f"Explain reads the first {EXPLAIN_MAX_CHARS:,} characters of this {len(text):,}-character text.")


def auto_masks(preds) -> dict[str, np.ndarray]:
    return {c: preds.slices[c].to_numpy() for c in preds.slices.columns}


@state.fragment(run_every=PROGRESS_SECONDS)
def live_progress(run) -> None:
    """A pass under way: its progress bar; the whole page once it is done (or its error), or once its
    first rows are done when none were drawn yet."""
    if run.result is not None or run.error is not None:
        st.rerun()
    if run.progress().done and st.session_state.get("ds_live_rows") != id(run):
        st.rerun()
    progress_bar(run)


@state.fragment(run_every=ROWS_SECONDS)
def live_rows(run) -> None:
    """A pass under way: the numbers and rows of the examples done so far."""
    done = run.partial()
    if done is None:
        st.caption("The numbers and rows of the first examples done appear here in a few seconds.")
        return
    st.session_state["ds_live_rows"] = id(run)
    extra = headline(done)
    examples_body(done, auto_masks(done) | extra)
    st.caption(f"These numbers and rows are redrawn every {ROWS_SECONDS:g} s while the rest are predicted. Slices, "
               f"the map and the units open when all {run.total:,} examples are done.")


if isinstance(found, dv.DatasetPass):
    bar = st.container()
    live_rows(found)  # first: it marks whether rows were drawn, which the bar reads
    with bar:
        live_progress(found)
    state.stop()
preds = found
table = preds.table
extra = headline(preds)
masks = auto_masks(preds) | extra

choose("ds_tab", list(TABS), TABS[0])
tab_rows, tab_slices, tab_map, tab_units = st.tabs(TABS, key="ds_tab", on_change="rerun")


@state.fragment
def examples_view() -> None:
    examples_body(preds, masks)


@state.fragment(run_every=PROGRESS_SECONDS)
def second_progress(run) -> None:
    """The second model's pass under way: its progress; the comparison comes when it is done."""
    if run.result is not None or run.error is not None:
        st.rerun()
    progress_bar(run)
    st.caption("The comparison with the second model appears when it has predicted every example.")


@state.fragment
def slices_view() -> None:
    rows = dv.slice_accuracy(preds, extra)
    others = {e.key: e.label for e in models.available(registry) if e.key != model_key
              and sorted(e.labels) == sorted(preds.label_names)}
    choose("ds_other", ["", *others], "")
    other_key = st.selectbox("Compare with a second model on the same examples", ["", *others], key="ds_other",
                             format_func=lambda k: others.get(k, "— none —"))
    second, paired, names = None, [], [preds.model]
    if other_key:
        try:
            other = registry.load(other_key)
            second_preds = predictions(other, set_key, labelled)
            if isinstance(second_preds, dv.DatasetPass):
                second_progress(second_preds)
            else:
                names = [preds.model, second_preds.model]
                if names[0] == names[1]:  # two LSTMs: say which is which
                    names = [f"{preds.model} ({model_key})", f"{second_preds.model} ({other_key})"]
                second = dv.slice_accuracy(second_preds, extra)
                paired = dv.compare_models(preds, second_preds, extra, *names)
        except dv.ServerBusyError as error:
            st.warning(f"The second model waits: {plain(error)}.", icon="⏳")
        except (GateScopeError, ModelLookupError, ValueError) as error:
            st.error(f"The second model cannot be compared: {plain(error)}")
    colors = [plots.cell_color(n, i) for i, n in enumerate(names)]
    if len(set(colors)) < len(colors):
        colors = None
    st.plotly_chart(plots.slice_accuracy_bars(rows, second, names, colors), width="stretch",
                    config=plots.CHART_CONFIG, key="ds_slice_chart")
    frame_rows = pd.DataFrame([{"slice": r.slice, "examples": r.count, "accuracy": r.accuracy,
                                "95 % interval": f"{r.low:.1%} – {r.high:.1%}"} for r in rows])
    st.dataframe(frame_rows, hide_index=True, width="stretch",
                 column_config={"accuracy": st.column_config.NumberColumn(format="percent")})
    st.caption("Intervals: Wilson score, 95 % (SciPy). A narrow slice has a wide interval: do not read much into "
               "a difference whose intervals overlap.")
    if paired:
        st.subheader("Paired test (McNemar's exact test)")
        significant = [p for p in paired if p.p_value < 0.05]
        for p in significant or paired[:1]:
            st.markdown(f"- {plain(p.sentence[0].upper() + p.sentence[1:])}.")
        st.dataframe(pd.DataFrame([{"slice": p.slice, "examples": p.count, f"{names[0]} accuracy": p.accuracy_a,
                                    f"{names[1]} accuracy": p.accuracy_b, f"only {names[0]} right": p.only_a,
                                    f"only {names[1]} right": p.only_b, "p": p.p_value} for p in paired]),
                     hide_index=True, width="stretch")
        st.caption("Only the sentences the two models disagree on count (discordant): if the models were equally "
                   "good, each would win half of them. p is the exact binomial probability of a split at least "
                   "this uneven (SciPy's binomtest).")


@state.fragment
def map_view() -> None:
    c1, c2 = st.columns(2)
    choose("ds_proj", list(dv.PROJECTIONS), "pca")
    choose("ds_color", list(COLORS), "correct")
    method = c1.segmented_control("Projection", list(dv.PROJECTIONS), key="ds_proj",
                                  format_func={"pca": "PCA", "tsne": "t-SNE"}.get,
                                  help="PCA (scikit-learn): linear, instant, 2,000 sampled sentences. t-SNE: keeps "
                                       "neighbours together, 1,000 sampled sentences, tens of seconds on 2 cores.") \
        or "pca"
    color = c2.segmented_control("Colour by", list(COLORS), key="ds_color", format_func=COLORS.get) or "correct"
    try:
        proj = projection(loaded.cache_key, set_key, method, preds.vectors)
    except ValueError as error:
        st.info(f"No map: {plain(error)}.")
        return
    sub = table.iloc[proj.index]
    groups = (np.where(sub["correct"], "correct", "wrong") if color == "correct" else sub[color].to_numpy())
    axes = (tuple(f"PC{i + 1} ({v:.0%} of variance)" for i, v in enumerate(proj.explained))
            if proj.explained else ("", ""))
    event = st.plotly_chart(plots.projection_scatter(proj.xy, sub["text"].tolist(), list(groups), proj.index.tolist(),
                                                     axis_titles=axes if len(axes) == 2 else ("", "")),
                            width="stretch", config=plots.CHART_CONFIG, key="ds_map", on_select="rerun",
                            selection_mode="points")
    st.caption(f"{len(proj.index):,} sentences" + (f" (a seeded sample of {len(table):,})"
                                                     if len(proj.index) < len(table) else "")
               + f"; each dot is the {loaded.bundle.model_config.pooling}-pooled vector the classifier reads. "
               "Hover for the text; click a dot to open it on Explain.")
    points = (event.selection.points if event and event.selection else []) or []
    if points:
        row = int(points[0]["customdata"][0])
        text = table.iloc[row]["text"]
        frame.link("explain", f"Open on Explain: “{text[:80]}{'…' if len(text) > 80 else ''}”",
                   query=explain_query(model_key, text))


@state.fragment
def units_view() -> None:
    spec = EXPLAIN_SPEC["gate_stats_n"]
    st.session_state["ds_stats_n"] = int(max(spec.min, min(spec.max, int(st.session_state["ds_stats_n"]))))
    n = st.slider("Sentences sampled", int(spec.min), int(spec.max), step=int(spec.step), key="ds_stats_n")
    # every gate value of every token is kept while the statistics are collected: bound the tokens
    fits = max(int(spec.min), int(UNIT_TOKEN_BUDGET // max(1.0, float(table["length"].mean()))))
    if n > fits:
        st.caption(f"These texts are long (about {table['length'].mean():.0f} tokens), so {fits:,} sentences are "
                   f"sampled instead of {n:,} to keep the server's memory in bounds.")
        n = fits
    try:
        stats = unit_stats(loaded.cache_key, model_key, set_key, n, table["text"].tolist())
    except GateScopeError as error:
        st.info(f"No unit statistics: {plain(error)}")
        return
    st.plotly_chart(plots.gate_histograms([h for h in stats.histograms if h.gate != "cell"],
                                          f"Gate values over {stats.n_texts:,} sentences"),
                    width="stretch", config=plots.CHART_CONFIG, key="ds_gate_hist")
    st.caption(f"Saturated: a sigmoid gate below {stats.saturation_margin} or above {1 - stats.saturation_margin} "
               "(fully shut or open), a tanh value beyond ±" f"{1 - stats.saturation_margin}.")
    st.markdown(f"**Units whose final value follows P({plain(stats.class_name)}) most closely**")
    units = stats.top_units
    st.dataframe(pd.DataFrame([{"#": i, "layer / direction": u.name, "unit": u.unit,
                                f"r with P({stats.class_name})": u.r_probability} for i, u in enumerate(units)]),
                 hide_index=True, width="stretch")
    choose("ds_unit", list(range(len(units))), 0)
    pick = st.selectbox("Show the sentences where this unit is most active", range(len(units)), key="ds_unit",
                        format_func=lambda i: f"#{i}: {units[i].name}, unit {units[i].unit} "
                                              f"(r = {units[i].r_probability:+.2f})")
    u = units[pick]
    found = unit_rows(loaded.cache_key, model_key, set_key, u.layer, u.direction, u.unit, table["text"].tolist())
    for s in found:
        row = table.iloc[s.row]
        st.markdown(plots.token_html(s.tokens, s.values, max_abs=1.0, size_px=17, positive=plots.STATE_POSITIVE_RGB,
                                     negative=plots.STATE_NEGATIVE_RGB), unsafe_allow_html=True)
        frame.link("explain", f"gold {row['gold']}, predicted {row['prediction']} ({row['confidence']:.0%}) · "
                   "open on Explain", query=explain_query(model_key, row["text"]))
    st.markdown(plots.state_legend_html(), unsafe_allow_html=True)


with tab_rows:
    examples_view()
active = st.session_state["ds_tab"]
with tab_slices:
    if active == "Slices":
        slices_view()
with tab_map:
    if active == "Map":
        map_view()
with tab_units:
    if active == "Units":
        units_view()
