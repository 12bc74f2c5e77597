"""Train: choose an architecture and hyperparameters, train in the background, watch it learn."""
import time

import pandas as pd
import streamlit as st
from ui import classroom as classroom_ui
from ui import datasets, frame, state, widgets
from ui import timelapse as timelapse_ui

from sentiment_core import classroom, plots, recipes, report, runs, settings
from sentiment_core.data import selection
from sentiment_core.embeddings import (GLOVE_DIM, VECTOR_SUFFIXES, load_vectors, resolve_vector_file,
                                       save_vector_upload, vector_files)
from sentiment_core.errors import GateScopeError
from sentiment_core.models import ModelConfig, model_summary
from sentiment_core.recipes import RECIPES, checked_count, recipe_settings
from sentiment_core.settings import PageField
from sentiment_core.text import plain

state.use_page("train", (PageField("gs_show_run", "run", ""), *timelapse_ui.TRAIN_FIELDS),
               groups=("data", "model", "train", "encoding", "vocab", "tokenizer"))
specs = settings.specs()


@st.cache_resource(show_spinner=False, max_entries=8)
def counts_for(key: tuple, tokenizer: tuple, _texts):
    return selection.token_counts(_texts, dict(tokenizer))


queue = classroom_ui.queue()
data = state.group("data")
model_opts = state.group("model")
train_opts = state.group("train")
encoding = state.group("encoding")
vocab_opts = state.group("vocab")
tokenizer_opts = state.group("tokenizer")

# ---------------------------------------------------------------- sidebar: queue and class settings
with st.sidebar:
    viewer = classroom_ui.sidebar(queue)

st.title("🏋️ Train a model")
st.markdown("Pick a recurrent cell and its settings, press **Start training**, and watch the curves grow. "
            "Training runs in the background: you can switch pages or refresh, and the run keeps going "
            "(it is saved in the runs folder as it trains).")

splits = datasets.splits_for(data)
top = st.columns([3, 1])
top[0].markdown(f"**Dataset:** {plain(selection.data_label(data))}" + (
    f" — {len(splits.train):,} train / {len(splits.validation):,} validation / {len(splits.test):,} test, "
    f"classes: {plain(', '.join(splits.label_names))}" if splits else ""))
frame.link("data", "Change dataset", "📚", top[1])

# ---------------------------------------------------------------- the settings' widgets
# Each spec widget of this page and the setting it shows: (group, field, widget key). Read after
# the widgets (the settings follow them), written before them when code changes a setting.
FORM = ([("model", n, f"m_{n}") for n in settings.MODEL_FIELDS if n not in ("embeddings", "freeze_embeddings",
                                                                               "vectors")]
        + [("train", n, f"t_{n}") for n in settings.TRAIN_FIELDS]
        + [("encoding", n, f"d_{n}") for n in settings.ENCODING_FIELDS]
        + [("vocab", n, f"v_{n}") for n in settings.VOCAB_FIELDS])


def show_settings(groups: dict[str, dict]) -> None:
    """Make the page's widgets show ``groups`` (settings groups by name), in the browser too.

    Writes each widget's key: Streamlit sends a written value to the browser, while a deleted key
    left the browser showing (and sending back with the next click) its old value.
    """
    values = {key: groups[group][field] for group, field, key in FORM}
    values["m_embedding_choice"] = settings.embedding_choice(groups["model"])
    values["m_vectors"] = groups["model"].get("vectors", "")
    for group, group_values in groups.items():
        state.set_group(group, group_values)
    for key in [k for k in st.session_state if k.startswith(("m_", "t_", "d_", "v_")) and k not in values]:
        del st.session_state[key]  # other pages' widgets (Data's), not drawn here: they redraw from the groups
    st.session_state.update(values)


def apply_recipe() -> None:
    """Button callback: the chosen tutorial's settings replace the page's."""
    recipe = RECIPES[st.session_state["gs_recipe"]]
    show_settings(recipe_settings(recipe))
    st.session_state["gs_run_label"] = recipe.key.replace("_", "-")
    st.session_state["gs_applied_recipe"] = recipe.key


# ---------------------------------------------------------------- start from a tutorial


with st.expander("📖 Start from a tutorial", expanded=bool(st.session_state.get("gs_applied_recipe"))):
    recipe_keys = list(RECIPES)
    chosen = st.selectbox("Tutorial", recipe_keys, key="gs_recipe", format_func=lambda k: RECIPES[k].title,
                          index=recipe_keys.index(st.session_state.get("gs_applied_recipe") or recipe_keys[0]),
                          help="The classic RNN sentiment tutorials' setups, with the result each one reports.")
    recipe = RECIPES[chosen]
    st.markdown(f"**{recipe.title}** — from {recipe.tutorial}. Dataset: `{recipe.dataset}`.  \n"
                f"**The tutorial reports:** {recipe.published}.")
    if recipe.notes:
        st.caption(recipe.notes)
    if recipe.param_checks:
        st.dataframe(pd.DataFrame([{"the tutorial counts": c.what, "tutorial": f"{c.expected:,}",
                                    "GateScope": f"{checked_count(recipe, c):,}",
                                    "counted as": "Keras (one bias per gate)" if c.keras else "PyTorch (two biases)"}
                                   for c in recipe.param_checks]), hide_index=True, width="stretch")
    st.button("Use these settings", key="gs_apply_recipe", on_click=apply_recipe,
              help="Replaces the dataset, model, training and text settings below; your run then shows the "
                   "tutorial's result beside its own.")

# ---------------------------------------------------------------- settings
settings_col, summary_col = st.columns([3, 2], gap="large")


def take_vector_upload() -> None:
    """Uploader callback: keep the uploaded vector file in the server's vectors folder and pick it by name."""
    file = st.session_state.get("m_vectors_file")
    if file is None:
        return
    try:
        st.session_state["m_vectors"] = save_vector_upload(file.getvalue(), file.name)
    except GateScopeError as error:
        st.session_state["m_vectors_upload_error"] = str(error)


def current(key: str, fallback):
    """A widget's value this session, else the shared setting (widgets are drawn from it, see
    ``widgets.widget``; the max_len, padding and truncation widgets are the Data page's own)."""
    return st.session_state.get(key, fallback)


EMBEDDINGS = list(settings.EMBEDDING_CHOICES)

with settings_col:
    tab_model, tab_train, tab_text = st.tabs(["🧠 Model", "⚙️ Training", "🔤 Text & vocabulary"])
    ms = specs["model"]
    with tab_model:
        c1, c2 = st.columns(2)
        c1.segmented_control("Cell", ["rnn", "lstm", "gru"], key="m_cell", help=ms["cell"].help,
                             default=current("m_cell", model_opts["cell"]), format_func=str.upper,
                             selection_mode="single")
        c2.selectbox("Embeddings", EMBEDDINGS, key="m_embedding_choice",
                     index=EMBEDDINGS.index(current("m_embedding_choice", settings.embedding_choice(model_opts))),
                     format_func=settings.EMBEDDING_CHOICES.get,
                     help="Random vectors learn from your data only. GloVe vectors were trained on 6 billion "
                          "words; frozen keeps them fixed, fine-tuned lets training adjust them. GloVe fixes "
                          "the embedding size at 50; a word-vector file of your own (GloVe, word2vec, fastText "
                          "text, word2vec binary) fixes it at the file's size.")
        c1.toggle(ms["bidirectional"].label, key="m_bidirectional", help=ms["bidirectional"].help,
                  value=current("m_bidirectional", model_opts["bidirectional"]))
        c2.toggle(ms["packed"].label, key="m_packed", help=ms["packed"].help,
                  value=current("m_packed", model_opts["packed"]))
        widgets.widget(ms["num_layers"], "m_num_layers", c1, value=model_opts["num_layers"])
        widgets.widget(ms["hidden_dim"], "m_hidden_dim", c2, value=model_opts["hidden_dim"])
        source = st.session_state["m_embedding_choice"].split("_")[0]
        vector_error = None
        fixed_dim = GLOVE_DIM if source == "glove" else None
        if source == "file":  # one of the server's files, by name (links and pages never name a path)
            vector_names = ["", *vector_files()]
            chosen_vectors = current("m_vectors", model_opts.get("vectors", ""))
            if chosen_vectors not in vector_names:
                st.session_state.pop("m_vectors", None)
                chosen_vectors = ""
            st.selectbox(ms["vectors"].label, vector_names, key="m_vectors", index=vector_names.index(chosen_vectors),
                         format_func=lambda n: n or "(pick a file, or upload one below)",
                         help="The word-vector files on this server: the teacher's folder and the files uploaded "
                              "here. " + ms["vectors"].help)
            st.file_uploader("…or upload one", type=list(VECTOR_SUFFIXES), key="m_vectors_file",
                             on_change=take_vector_upload,
                             help="Kept in the server's vectors folder; parsed once and cached for every run.")
            if upload_error := st.session_state.pop("m_vectors_upload_error", None):
                st.error(plain(upload_error))
            if st.session_state["m_vectors"]:
                path = None
                try:
                    path = resolve_vector_file(st.session_state["m_vectors"])
                    with st.spinner("Reading the word vectors (once; cached afterwards)…"):
                        vectors = load_vectors(path)
                    fixed_dim = vectors.dim
                    st.caption(f"{len(vectors.words):,} words x {vectors.dim} dimensions.")
                except (GateScopeError, OSError) as error:  # named by the file's name, not its server path
                    reason = str(error) if path is None else str(error).replace(str(path), st.session_state["m_vectors"])
                    vector_error = f"This word-vector file cannot be used: {reason}"
                    st.error(plain(vector_error))
        if fixed_dim is not None:
            st.session_state["m_emb_dim"] = fixed_dim  # shown as ModelConfig will build it
        widgets.widget(ms["emb_dim"], "m_emb_dim", c1, disabled=fixed_dim is not None,
                       value=fixed_dim if fixed_dim is not None else model_opts["emb_dim"],
                       help=ms["emb_dim"].help + (f" (fixed at {fixed_dim} by the vectors)" if fixed_dim else ""))
        widgets.widget(ms["pooling"], "m_pooling", c2, value=model_opts["pooling"])
        widgets.widget(ms["embedding_dropout"], "m_embedding_dropout", c1, value=model_opts["embedding_dropout"])
        widgets.widget(ms["head_dropout"], "m_head_dropout", c2, value=model_opts["head_dropout"])
        widgets.widget(ms["layer_dropout"], "m_layer_dropout", c1, disabled=st.session_state["m_num_layers"] < 2,
                       value=model_opts["layer_dropout"])
        widgets.widget(ms["head"], "m_head", c2, value=model_opts["head"])
        widgets.widget(ms["output"], "m_output", c1, value=model_opts["output"])
        widgets.widget(ms["head_hidden"], "m_head_hidden", c2, disabled=st.session_state["m_head"] != "mlp",
                       value=model_opts["head_hidden"])
    ts = specs["train"]
    with tab_train:
        c1, c2 = st.columns(2)
        widgets.widget(ts["epochs"], "t_epochs", c1, value=train_opts["epochs"])
        widgets.widget(ts["lr"], "t_lr", c2, value=train_opts["lr"])
        widgets.widget(ts["batch_size"], "t_batch_size", c1, value=train_opts["batch_size"])
        widgets.widget(ts["optimizer"], "t_optimizer", c2, value=train_opts["optimizer"])
        widgets.widget(ts["clip_norm"], "t_clip_norm", c1, value=train_opts["clip_norm"])
        widgets.widget(ts["weight_decay"], "t_weight_decay", c2, value=train_opts["weight_decay"])
        widgets.widget(ts["lr_decay"], "t_lr_decay", c1, value=train_opts["lr_decay"])
        widgets.widget(ts["patience"], "t_patience", c2, value=train_opts["patience"])
        widgets.widget(ts["seed"], "t_seed", c1, value=train_opts["seed"])
    es = specs["encoding"]
    with tab_text:
        c1, c2 = st.columns(2)
        widgets.widget(es["max_len"], "d_max_len", c1, value=encoding["max_len"])
        widgets.widget(specs["vocab"]["max_size"], "v_max_size", c2, value=vocab_opts["max_size"])
        widgets.widget(es["truncation"], "d_truncation", c1, value=encoding["truncation"])
        widgets.widget(specs["vocab"]["min_freq"], "v_min_freq", c2, value=vocab_opts["min_freq"])
        widgets.widget(es["padding"], "d_padding", c1, disabled=st.session_state["m_packed"], value=encoding["padding"],
                       help=es["padding"].help + (" Packed models skip padding, so the side does not matter."
                                                  if st.session_state["m_packed"] else ""))
        c2.caption("The Data page shows the length histogram and how much of the data a max length keeps.")

with tab_train:  # the run's probe sentences (training time-lapse)
    probe_error = timelapse_ui.probe_editor()

# write the widget values back to the shared settings (the frame puts them in the URL)
shown = {group: {} for group in ("model", "train", "encoding", "vocab")}
for group, field, key in FORM:
    shown[group][field] = st.session_state[key]
model_opts = shown["model"]
model_opts["vectors"] = st.session_state.get("m_vectors", state.group("model").get("vectors", ""))
model_opts["cell"] = model_opts["cell"] or state.group("model")["cell"]  # a deselected cell keeps the last one
model_opts = settings.apply_embedding_choice(model_opts, st.session_state["m_embedding_choice"])
train_opts = shown["train"]
encoding = shown["encoding"]
vocab_opts = {**vocab_opts, **shown["vocab"]}
for group, values in (("model", model_opts), ("train", train_opts), ("encoding", encoding), ("vocab", vocab_opts)):
    state.set_group(group, values)

# ---------------------------------------------------------------- live model summary
with summary_col:
    st.subheader("Model summary")
    vocab_size = vocab_opts["max_size"]
    if splits is not None:
        counts = counts_for(selection.dataset_key(data), tuple(sorted(tokenizer_opts.items())), splits.train.texts)
        vocab_size = selection.vocab_size_for(counts, vocab_opts["min_freq"], vocab_opts["max_size"])
    try:
        config = ModelConfig(vocab_size=vocab_size, num_classes=splits.num_classes if splits else 2, **model_opts)
        keras_count = st.toggle("Keras count", key="gs_keras_count",
                                help="One bias per gate. PyTorch keeps two bias vectors per gate (bias_ih and bias_hh); Keras' "
                                     "SimpleRNN and LSTM keep one. On: the numbers a Keras tutorial's "
                                     "model.summary() prints (Keras' GRU keeps two, like PyTorch).")
        rows = model_summary(config, keras_biases=keras_count)
        total = sum(r.count for r in rows)
        trainable = sum(r.count for r in rows if r.trainable)
        m1, m2 = st.columns(2)
        m1.metric(f"{config.display_name} parameters", f"{total:,}")
        m2.metric("Trainable", f"{trainable:,}", help="Frozen GloVe embeddings are not trained.")
        st.plotly_chart(plots.parameter_bars(rows), width="stretch", config=plots.CHART_CONFIG)
        # a list, not a table: in this narrow column a formula wraps instead of being cut off
        st.markdown("\n".join(f"- **{r.layer}** {r.count:,} = {r.formula}" + ("" if r.trainable else " *(frozen)*")
                               for r in rows))
        st.caption(f"Vocabulary of {vocab_size:,} words (from the training split). The recurrent layers "
                   f"have g·H·(in+H) + {1 if keras_count and config.cell != 'gru' else 2}·g·H parameters each: "
                   "g = 1 (RNN), 3 (GRU) or 4 (LSTM) gate blocks, "
                   + ("one bias per gate as Keras counts." if keras_count and config.cell != "gru" else
                      "two bias vectors per gate as in PyTorch.") + " See *Inside the cell* for the derivation.")
    except ValueError as error:
        st.error(f"These settings do not make a valid model: {error}")

# ---------------------------------------------------------------- start
st.divider()
start_cols = st.columns([2, 2, 2])
if viewer.role != "solo":
    classroom_ui.nickname_input(start_cols[2])
run_label = start_cols[0].text_input("Run name (optional)", key="gs_run_label", max_chars=40,
                                     placeholder="e.g. lstm-dropout-0.3",
                                     help="Letters, digits, '-', '_' and '.'; a date and a random suffix are added.")
start_cols[1].markdown("&nbsp;")
# The click is taken from its callback, which Streamlit calls once per click: the button's own value
# also came back True in a rerun the page asked for while the click's run was still going (a loaded
# server queued a second run 6 s after the first).
start_cols[1].button("▶ Start training", type="primary", width="stretch",
                     disabled=splits is None or vector_error is not None or probe_error is not None,
                     on_click=st.session_state.__setitem__, args=("gs_start_clicked", True))
start = st.session_state.pop("gs_start_clicked", False)


def repeated_start() -> bool:
    """A double click: within 3 s of the last Start while that run is still queued or running.
    A Start after a quick run has finished is a new run."""
    last = st.session_state.get("gs_last_start")
    if not last or time.monotonic() - last[0] >= 3.0:
        return False
    try:
        return runs.load_run(last[1], queue.root, queue=queue).state in ("queued", "running")
    except GateScopeError:  # the run was deleted meanwhile
        return False


if start and splits is not None and not repeated_start():
    label = run_label.strip() or model_opts["cell"]
    try:
        name = classroom.submit(classroom_ui.viewer(), queue, runs.RunRequest(
            splits=splits, model_options=model_opts, train_config=train_opts,
            encoding=encoding,
            data={**data, "label": selection.data_label(data),
                  **({"recipe": st.session_state["gs_applied_recipe"]}
                     if st.session_state.get("gs_applied_recipe") else {})},
            tokenizer=tokenizer_opts, vocab=vocab_opts, label=runs.slugify(label),
            timelapse={"probes": st.session_state["tl_probes"]}, upload=datasets.upload_bytes(data)))
        st.session_state["gs_last_start"] = (time.monotonic(), name)
        state.remember("gs_show_run", name)  # the new run is shown (and live) at once
        st.toast(f"Queued {plain(name)}")
        classroom_ui.queue_line(queue)  # the sidebar counts the new run at once
    except GateScopeError as error:
        st.error(f"Training could not start: {plain(error)}")

# ---------------------------------------------------------------- runs
all_runs = classroom.visible_runs(viewer, queue=queue)
if not all_runs:
    model_name = ("Bi" if model_opts["bidirectional"] else "") + model_opts["cell"].upper()
    st.info(f"No runs yet. Press **Start training** to train this {model_name} on "
            f"{plain(selection.data_label(data))}" + (f", {len(splits.train):,} training examples." if splits else "."))
    state.stop()

names = [r.name for r in all_runs]
if st.session_state["gs_show_run"] not in names:
    if st.session_state["gs_show_run"]:
        st.warning(f"There is no run {plain(repr(st.session_state['gs_show_run']))} on this server (any more).",
                   icon="🔗")
    mine = [r.name for r in all_runs if viewer.owns(r)]
    st.session_state["gs_show_run"] = (mine or names)[0]
# Names without the state: a selectbox keeps showing the label it was drawn with, so a state in it
# went stale ("· running" after the run finished); the live state is the heading below.
labels = {r.name: f"{r.name} · {r.display_name}" + (" · ⚠ damaged" if r.damaged else "") for r in all_runs}
st.subheader("Run")
choice = st.selectbox("Show run", names, format_func=labels.get, key="gs_show_run",
                      help="Every run on this server, newest first (students see their own and the others' "
                           "finished runs). Runs survive refreshes and restarts.")
STATE_BADGES = {"queued": "⏳ queued", "running": "🟢 running", "completed": "✅ completed",
                "stopped": "⏹ stopped", "failed": "❌ failed", "interrupted": "⚠️ interrupted",
                "damaged": "🧩 damaged"}


def fmt_seconds(seconds) -> str:
    """A duration as read aloud: "0.26 s", "4.3 s", "42 s", "2 min 05 s"; "…" when unknown."""
    if seconds is None:
        return "…"
    if seconds < 9.95:  # sub-second epochs are common on small data: "0 s" hid them
        return f"{seconds:.2f} s" if seconds < 1 else f"{seconds:.1f} s"
    seconds = int(round(seconds))
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


def _stop(name: str) -> None:
    """Stop's callback: ask the run to stop before the page redraws, so "Stopping…" shows at once."""
    try:
        classroom.stop_run(viewer, queue, name)
        st.session_state["gs_stopping"] = name
    except GateScopeError as error:
        st.session_state["gs_run_error"] = str(error)


def delete_controls(name: str) -> None:
    """Delete, below the run's heading (never where Stop was), asking to confirm first."""
    if st.session_state.get("gs_confirm_delete") != name:
        st.button("🗑 Delete", key=f"delete_{name}", help="Removes the run's folder and model for good.",
                  on_click=st.session_state.__setitem__, args=("gs_confirm_delete", name))
        return
    st.warning(f"Delete {plain(name)} for good? Its folder, curves and model are removed from the server.",
               icon="🗑")
    yes, no, _ = st.columns([1, 1, 3])
    no.button("Cancel", key=f"delete_no_{name}", on_click=st.session_state.pop, args=("gs_confirm_delete", None))
    if yes.button("Confirm delete", key=f"delete_yes_{name}", type="primary"):
        st.session_state.pop("gs_confirm_delete", None)
        try:
            classroom.delete_run(viewer, queue, name)
        except GateScopeError as error:
            st.error(plain(error))
            return
        st.session_state.pop("gs_show_run", None)
        st.rerun()  # the whole page: the run list, not only this run's view


def show_run(name: str) -> None:
    try:
        record = runs.load_run(name, queue=queue)
    except runs.RunError as error:
        st.error(plain(error))
        return
    active = record.state in runs.ACTIVE_STATES
    head = st.columns([3, 1])
    head[0].markdown(f"### {STATE_BADGES.get(record.state, record.state)} · {plain(record.display_name)}")
    cfg = record.config
    head[0].caption(f"{plain(record.name)} · {plain(cfg.get('data', {}).get('label', ''))} · "
                    f"lr {cfg.get('train', {}).get('lr')} · batch {cfg.get('train', {}).get('batch_size')} · "
                    f"{cfg.get('train', {}).get('epochs')} epochs"
                    + (f" · trained on {record.device}" if record.device else ""))
    may_manage = viewer.can_manage(record)
    if not active and st.session_state.get("gs_stopping") == name:
        st.session_state.pop("gs_stopping")  # the run has ended: the next run's Stop is a button again
    if active and may_manage:
        stopping = st.session_state.get("gs_stopping") == name
        head[1].button("⏳ Stopping…" if stopping else "⏹ Stop", key=f"stop_{name}", width="stretch",
                       disabled=stopping, on_click=_stop, args=(name,))
        if stopping:
            st.info("Stopping after the current batch… The best epoch so far is kept.", icon="⏹")
    error = st.session_state.pop("gs_run_error", None)
    if error:
        st.error(plain(error))
    if not active and may_manage:
        delete_controls(name)
    if not may_manage:
        head[1].caption(f"Read-only: {plain(record.nickname or 'another student')}'s run.")
    if record.state == "queued":
        pos = record.queue_position
        st.info(f"Waiting in the shared queue{f' at position {pos}' if pos else ''}: "
                f"{queue.snapshot()['max_concurrent']} run(s) train at once on this server and the next free slot "
                "goes to the student who waited longest. It starts by itself.")
    progress = record.progress()
    if record.state == "running":
        eta = progress["eta"]
        st.progress(progress["fraction"], text=f"Epoch {min(progress['epoch'] or 1, progress['epochs'])} of "
                    f"{progress['epochs']} · {progress['fraction']:.0%} · elapsed {fmt_seconds(progress['elapsed'])}"
                    f" · about {fmt_seconds(eta)} left")
    elif record.state in ("failed", "interrupted", "stopped"):
        (st.error if record.state == "failed" else st.warning)(plain(record.message))
    elif record.state == "completed" and record.message:
        st.caption(f"✅ {plain(record.message[:1].upper() + record.message[1:])}.")
    if record.problems:  # a damaged run ("damaged" when even its state cannot be read)
        st.warning("Some of this run's files are damaged; what still reads is shown. "
                   + "; ".join(plain(p) for p in record.problems) + ".", icon="⚠️")
    epochs = record.epochs()
    batches = record.batches()
    if epochs or batches or active:
        st.plotly_chart(plots.training_curves(epochs), width="stretch", key=f"curves_{name}",
                        config=plots.CHART_CONFIG)
        if len(batches) > 4000:  # keep the browser fast on long runs
            step = len(batches) // 2000 + 1
            batches = batches[::step]
        st.plotly_chart(plots.batch_curves(batches, cfg.get("train", {}).get("clip_norm")), width="stretch",
                        key=f"batches_{name}", config=plots.CHART_CONFIG)
    result = record.result
    if result:
        st.markdown("#### Results on the test set")
        m = st.columns(4)
        m[0].metric("Test accuracy", f"{result['test_accuracy']:.1%}")
        m[1].metric("Test macro-F1", f"{result['test_macro_f1']:.3f}")
        m[2].metric("Best epoch", result.get("best_epoch") or "–")
        m[3].metric("Time per epoch", fmt_seconds(result.get("seconds_per_epoch")))
        recipe = RECIPES.get(cfg.get("data", {}).get("recipe"))
        differ = recipes.differences(recipe, cfg) if recipe is not None else []
        if recipe is not None and not differ:
            st.info(f"**{recipe.title}** — the tutorial reports: {recipe.published}. "
                    f"This run: test accuracy {result['test_accuracy']:.1%}"
                    + (f", validation accuracy {result['val_accuracy']:.1%}" if result.get("val_accuracy") else "")
                    + f", {fmt_seconds(result.get('seconds_per_epoch'))} per epoch.", icon="📖")
        elif recipe is not None:  # started from a tutorial, then changed: its result is not this run's
            st.info(f"Started from **{recipe.title}**, but this run is not the tutorial's setup, so the "
                    "tutorial's result is not set beside it. It differs in: "
                    + "; ".join(plain(line) for line in differ) + ".", icon="📖")
        left, right = st.columns([1, 1])
        left.plotly_chart(plots.confusion_matrix(result["test"]["confusion"], cfg.get("label_names", [])),
                          width="stretch", key=f"cm_{name}", config=plots.CHART_CONFIG)
        right.markdown("Rows are the true class, columns the prediction: the diagonal is correct. "
                       "Off-diagonal cells show which classes the model confuses.")
    if record.state != "queued":
        timelapse_ui.show(record.path, f"run_{name}")
    if active and record.best_path is not None:
        st.caption("The best epoch so far is saved on the server; its download appears when the run ends "
                   "(or press Stop).")
    elif record.best_path is not None:  # not every second while training: the bundle is megabytes
        st.download_button("⬇ Download the model bundle (.safetensors)", record.best_path.read_bytes(),
                           file_name=f"{name}.safetensors", mime="application/octet-stream", key=f"dl_{name}",
                           help="One self-describing file: weights, vocabulary, settings and metrics. "
                                "Open it on the Explain page.")
        if record.state != "completed":
            st.caption("The download holds the best epoch.")
        x1, x2 = st.columns(2)
        x1.download_button("⬇ HTML report (opens offline)", lambda: report_html(name), file_name=f"{name}-report.html",
                           mime="text/html", key=f"dl_report_{name}", on_click="ignore",
                           help="Curves, metrics, confusion matrix, accuracy per slice of the test split and the "
                                "model card in one file (also: gatescope report RUN).")
        x2.download_button("⬇ Export as a PyTorch script", report.pytorch_script(record.config, name),
                           file_name=f"gatescope_{name}.py", mime="text/x-python", key=f"dl_script_{name}",
                           on_click="ignore", help="A self-contained .py that rebuilds and retrains this "
                                                   "configuration with PyTorch alone: python it.py data.tsv")
    if watched() != seen:
        st.rerun()  # a run started, ended or appeared: refresh the list, the queue count and the timer


def report_html(name: str) -> str:
    """The run's standalone HTML report, built when its download is clicked."""
    record = runs.load_run(name, queue=queue)
    try:
        return report.run_report_html(record, report.run_slices(record))
    except GateScopeError as error:
        return report.run_report_html(record, None, f"No slices: {error}.")


def watched() -> tuple:
    """What the page must follow: every run's state and the queue's own count (which can trail the
    run's status file by a moment when a run ends)."""
    now = queue.snapshot()
    return ({r.name: r.state for r in runs.list_runs(queue=queue)}, len(now["running"]), len(now["queued"]))


seen = watched()
live = any(s in runs.ACTIVE_STATES for s in seen[0].values()) or any(seen[1:])
state.fragment(run_every=1.0 if live else None)(show_run)(choice)
