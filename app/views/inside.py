"""Inside the cell: one time step with the real numbers, the parameter count, the RNN types."""
from pathlib import Path

import pandas as pd
import streamlit as st
from ui import models, state
from ui.explained import shared_trace

from sentiment_core import plots
from sentiment_core.explain import check_explainable, parameter_counts, step_through
from sentiment_core.explain.unrolled import unrolled_network
from sentiment_core.explain.toy import TOY_EMB_RANGE, TOY_MAX_HIDDEN, toy_forward
from sentiment_core.importers import tutorial_config
from sentiment_core.models import GATES_PER_CELL, model_summary
from sentiment_core.registry import shared_registry
from sentiment_core.settings import PageField
from sentiment_core.text import plain

ASSETS = Path(__file__).resolve().parents[2] / "assets"
TABS = ("Step through", "Counting parameters", "RNN types & cells", "Toy model: the whole forward pass",
        "Unrolled network")
registry = shared_registry()
FIELDS = (
    PageField("model", "model", registry.default_key(models.EXPLAIN_PREFERENCE) or ""),
    PageField("i_text", "text", "the movie was not good"),
    PageField("i_tab", "tab", TABS[0]),
    PageField("i_dir", "direction", 0),
    PageField("i_t", "step", 3),
    PageField("i_unit", "unit", 0),
    PageField("i_toy_cell", "toy_cell", "lstm"),
    PageField("i_toy_hidden", "toy_hidden", 2),
    PageField("i_toy_emb", "toy_emb", 2),
    PageField("i_toy_text", "toy_text", "not good at all"),
)
state.use_page("inside", FIELDS)


st.title("🧮 Inside the cell")
st.markdown("One time step of one hidden unit, with the model's real weights: every term of every gate, the "
            "equations with the numbers filled in, and a check that NumPy gets exactly what PyTorch computed.")

top = st.columns([2, 3], gap="large")
with top[0]:
    loaded = models.picker("model")
if loaded is not None:
    with top[1]:
        text = st.text_input("Sentence", key="i_text", max_chars=500)
    check = check_explainable(loaded.bundle, text)
if st.session_state["i_tab"] not in TABS:
    st.session_state["i_tab"] = TABS[0]
tab_step, tab_params, tab_types, tab_toy, tab_unrolled = st.tabs(TABS, key="i_tab", on_change="rerun")


@st.cache_resource(show_spinner=False, max_entries=24)
def toy_model(cell: str, hidden: int, emb: int):
    """A toy-sized model trained for a few seconds on the synthetic negation sentences."""
    from sentiment_core.data import make_negation, make_splits
    from sentiment_core.pipeline import VocabConfig, train_on_splits
    from sentiment_core.trainer import TrainConfig

    splits = make_splits(make_negation(600, seed=0), seed=0)
    return train_on_splits(splits, {"cell": cell, "emb_dim": emb, "hidden_dim": hidden},
                           TrainConfig(epochs=6, batch_size=32, lr=2e-2, device="cpu", patience=0),
                           vocab_config=VocabConfig(min_freq=1, max_size=500), encoding={"max_len": 20}).bundle

@state.fragment  # direction, time step and unit rerun only this tab (and the URL): clicks stay fast
def step_view() -> None:
    if loaded is None:
        return
    cfg = loaded.bundle.model_config
    if not check.ok:
        st.error(check.message)
        return
    traced = shared_trace(loaded.cache_key, loaded.key, text)
    tokens = list(traced.tokens)
    s1, s2, s3 = st.columns(3)
    dirs = traced.directions
    if not 0 <= st.session_state["i_dir"] < len(dirs):
        st.session_state["i_dir"] = 0
    if len(dirs) > 1:
        which = s1.selectbox("Layer / direction", range(len(dirs)), format_func=lambda i: dirs[i].name, key="i_dir")
    else:
        which = 0
        s1.markdown(f"**Layer / direction**  \n{dirs[0].name} (the model's only one)")
    d = dirs[which]
    st.session_state["i_t"] = max(0, min(int(st.session_state["i_t"]), len(tokens) - 1))
    t = s2.select_slider("Time step (word)", options=list(range(len(tokens))), key="i_t",
                         format_func=lambda i: f"{i}: {tokens[i]}") if len(tokens) > 1 else 0
    st.session_state["i_unit"] = max(0, min(int(st.session_state["i_unit"]), cfg.hidden_dim - 1))
    unit = s3.number_input("Hidden unit j", 0, cfg.hidden_dim - 1, key="i_unit",
                           help=f"0 to {cfg.hidden_dim - 1}: each unit has its own row in every weight matrix.")
    step = step_through(loaded.bundle, text, d.layer, d.direction, int(t), int(unit), traced=traced)
    if step.matches_pytorch:
        st.success(f"NumPy recompute = PyTorch ✓ (largest difference {step.max_abs_error:.1e})")
    else:
        st.error(f"NumPy and PyTorch differ by {step.max_abs_error:.1e}: please report this model.")
    st.markdown(f"**{cfg.cell.upper()}**, {step.direction_name}, reading **'{plain(step.token)}'** (t = {step.t}), "
                f"unit j = {step.unit}. Previous hidden value h = {step.hidden_prev:+.4f}"
                + (f", previous memory c = {step.cell_prev:+.4f}" if step.cell_prev is not None else "") + ".")
    for eq in step.equations:
        st.markdown(f"**{eq.name.replace('_', ' ')}**")
        st.latex(eq.symbolic)
        st.latex(eq.numeric)
    # A static table: a few rows, and an interactive grid costs about 300 ms of browser time per redraw.
    numbers = ("W_i·x", "W_h·h", "b_ih", "b_hh", "before activation", "value (NumPy)", "value (PyTorch)")
    st.table(pd.DataFrame([{
        "gate": f"{g.name.replace('_', ' ')} ({g.symbol})", "W_i·x": g.wx, "W_h·h": g.uh, "b_ih": g.b_ih,
        "b_hh": g.b_hh, "before activation": g.preactivation, "activation": g.activation,
        "value (NumPy)": g.value, "value (PyTorch)": g.pytorch_value} for g in step.gates]
    ).style.format("{:+.4f}", subset=list(numbers)), hide_index=True)
    new = f"new hidden value h = {step.hidden_new:+.4f} (PyTorch {step.pytorch_hidden:+.4f})"
    if step.cell_new is not None:
        new += f", new memory c = {step.cell_new:+.4f} (PyTorch {step.pytorch_cell:+.4f})"
    st.info(new)
    st.caption("W_i·x: the gate's input-weight row (W_i… in the equations) times this word's input vector. "
               "W_h·h: its recurrent row (W_h…) times the previous hidden state. PyTorch keeps two biases per gate (b_ih and b_hh).")


state.open_tab(tab_step, "i_tab", TABS[0], step_view)


def params_view() -> None:
    if loaded is None:
        st.info("Pick a model above.")
    else:
        counts = parameter_counts(loaded.bundle)
        cfg = loaded.bundle.model_config
        counted = tutorial_config(loaded.bundle)
        keras = st.toggle("Keras count", key="i_keras_count",
                          help="One bias per gate. PyTorch keeps two bias vectors per gate (bias_ih and bias_hh); "
                               "Keras' SimpleRNN and LSTM keep one. On: the numbers a Keras tutorial's "
                               "model.summary() prints (Keras' GRU keeps two, like PyTorch).")
        g = GATES_PER_CELL[cfg.cell]
        biases = 1 if keras and cfg.cell != "gru" else 2
        st.markdown(f"Each recurrent layer and direction of a **{cfg.cell.upper()}** has **g = {g}** gate block"
                    f"{'s' if g > 1 else ''}, each with an input matrix, a recurrent matrix and "
                    f"{'one bias vector (Keras)' if biases == 1 else 'two bias vectors'}:")
        bias_term = (r"\underbrace{g \cdot H}_{b}" if biases == 1 else
                     r"\underbrace{2 \cdot g \cdot H}_{b_{ih},\, b_{hh}}")
        st.latex(r"\text{params} = \underbrace{g \cdot H \cdot \text{in}}_{W_{ih}} + "
                 r"\underbrace{g \cdot H \cdot H}_{W_{hh}} + " + bias_term
                 + r" = g \cdot H \cdot (\text{in} + H) + " + ("g H" if biases == 1 else "2 g H"))
        rows = model_summary(counted, keras_biases=keras)
        st.dataframe(pd.DataFrame([{"layer": r.layer, "shapes": r.shape, "formula": r.formula, "parameters": r.count,
                                    "trained": "yes" if r.trainable else "frozen"} for r in rows]),
                     hide_index=True, width="stretch",
                     column_config={"parameters": st.column_config.NumberColumn(format="localized")})
        total = sum(r.count for r in rows)
        if counted == cfg and not keras:
            ok = "✓ equals" if counts.matches else "✗ differs from"
            st.success(f"Sum of the rows: {counts.total:,} parameters — {ok} PyTorch's count "
                       f"(sum of p.numel() = {counts.actual:,}).")
        else:
            st.success(f"Sum of the rows: {total:,} parameters, the tutorial's own count"
                       + (" as Keras' model.summary() prints it." if keras else "."))
            differences = []
            if counted != cfg:
                differences.append(f"its embedding has {cfg.vocab_size:,} rows, the tutorial's {counted.vocab_size:,} "
                                   "(GateScope adds the <pad> and <unk> rows a tutorial's vocabulary lacks)")
            if keras and cfg.cell != "gru":
                differences.append("PyTorch keeps two biases per gate")
            st.caption(f"GateScope's copy of the model holds {counts.actual:,} parameters (sum of p.numel(), "
                       f"{'✓ equal to' if counts.matches else '✗ not'} the rows counted its way): "
                       + "; ".join(differences) + ".")
        st.caption("Why two biases? Mathematically one would do; PyTorch keeps both for compatibility with NVIDIA's "
                   "cuDNN kernels. Keras keeps one, so Keras counts are g·H smaller per layer and direction.")


state.open_tab(tab_params, "i_tab", TABS[1], params_view)


def types_view() -> None:
    st.markdown("Recurrent networks reuse one cell at every step. What changes between tasks is where inputs go in "
                "and outputs come out. Sentiment analysis is **many to one**: read every word, answer once.")
    cols = st.columns(2)
    for i, name in enumerate(["rnn_one_to_one", "rnn_one_to_many", "rnn_many_to_one", "rnn_many_to_many"]):
        path = ASSETS / f"{name}.svg"
        if path.is_file():
            cols[i % 2].image(str(path), width="stretch")
    st.divider()
    cols = st.columns(2)
    for col, name, caption in ((cols[0], "lstm_cell", "LSTM: a separate memory lane c; the forget gate decides "
                                "what stays, so gradients can flow back through many steps."),
                               (cols[1], "gru_cell", "GRU: no separate memory; the update gate z mixes old and new. "
                                "Fewer parameters (3 gate blocks instead of 4).")):
        path = ASSETS / f"{name}.svg"
        if path.is_file():
            col.image(str(path), width="stretch")
            col.caption(caption)


state.open_tab(tab_types, "i_tab", TABS[2], types_view)


@state.fragment  # the toy's cell, sizes and sentence rerun only this tab (and the URL)
def toy_view() -> None:
    st.markdown("A model so small that every number fits on the screen: it is trained for a few seconds on the "
                "synthetic negation sentences, then one sentence goes all the way through, every time step, the "
                "pooling, the classifier and the softmax, recomputed in NumPy from the weights alone.")
    k1, k2, k3 = st.columns(3)
    toy_cell = k1.segmented_control("Cell", ["rnn", "lstm", "gru"], key="i_toy_cell", format_func=str.upper,
                                    default=st.session_state.get("i_toy_cell", "lstm")) or "lstm"
    toy_hidden = k2.slider("Hidden size", 1, TOY_MAX_HIDDEN, key="i_toy_hidden")
    toy_emb = k3.slider("Embedding size", *TOY_EMB_RANGE, key="i_toy_emb")
    toy_text = st.text_input("Sentence", key="i_toy_text", max_chars=120)
    with st.spinner("Training the toy model (a few seconds, once)…"):
        toy_bundle = toy_model(toy_cell, int(toy_hidden), int(toy_emb))
    toy_check = check_explainable(toy_bundle, toy_text)
    if not toy_check.ok:
        st.error(toy_check.message)
    else:
        toy = toy_forward(toy_bundle, toy_text)
        if toy.matches_pytorch:
            st.success(f"NumPy recompute of the whole pass = PyTorch ✓ (largest difference {toy.max_abs_error:.1e})")
        else:
            st.error(f"NumPy and PyTorch differ by {toy.max_abs_error:.1e}: please report this.")

        def vec(values) -> str:
            return "[" + ", ".join(f"{v:+.3f}" for v in values) + "]"

        st.markdown("**1. Embedding** — each word's row of the embedding table:")
        st.table(pd.DataFrame({"t": range(len(toy.tokens)), "word": toy.tokens,
                               "x (embedding)": [vec(x) for x in toy.embeddings]}), hide_index=True, width="content")
        for d in toy.directions:
            st.markdown(f"**2. {toy_cell.upper()} {d.name}** — one row per time step, in the order it reads:")
            st.table(pd.DataFrame([{"t": s.t, "word": s.token, **{g: vec(v) for g, v in s.gates.items()},
                                    **({"c": vec(s.cell)} if s.cell is not None else {}), "h": vec(s.hidden)}
                                   for s in d.steps]), hide_index=True)
        st.markdown(f"**3. Pooling ({toy.pooling})** → {vec(toy.pooled)}")
        if toy.fc1 is not None:
            st.markdown(f"**4a. fc1 → ReLU** → {vec(toy.fc1)}")
        st.markdown(f"**4. Classifier** W·pooled + b → logits {vec(toy.logits)}")
        st.markdown(f"**5. {toy.output.capitalize()}** → " + ", ".join(
            f"P({name}) = {p:.4f} (PyTorch {q:.4f})"
            for name, p, q in zip(toy.label_names, toy.probabilities, toy.pytorch_probabilities)))


state.open_tab(tab_toy, "i_tab", TABS[3], toy_view)


# ---------------------------------------------------------------- the unrolled network

UNROLLED_CELLS_TRACE = 2  # the cells' trace in plots.unrolled_network (embeddings, tokens, cells, output)


def _open_step(row: int, t: int) -> None:
    """Show cell (row, t) in the Step-through tab (row = its layer / direction box's index)."""
    st.session_state["i_dir"], st.session_state["i_t"], st.session_state["i_tab"] = int(row), int(t), TABS[0]


def _open_clicked_cell(length: int) -> None:
    """Chart-selection callback: a click on a cell opens it in Step through."""
    points = (st.session_state.get("i_unrolled") or {}).get("selection", {}).get("points", [])
    cells = [p for p in points if p.get("curve_number") == UNROLLED_CELLS_TRACE]
    if cells:
        _open_step(*divmod(int(cells[0]["point_index"]), length))


def _open_picked_word() -> None:
    """Word-pills callback: the same for keyboard users."""
    picked = st.session_state.get("i_unroll_word")
    if picked is not None:
        _open_step(st.session_state.get("i_unroll_row", 0), picked)
        st.session_state["i_unroll_word"] = None


def unrolled_view() -> None:
    if loaded is None:
        st.info("Pick a model above.")
    elif not check.ok:
        st.error(check.message)
    else:
        st.markdown("The same cell, reused at every word: the sentence enters as embeddings at the bottom, the "
                    "hidden state flows from cell to cell, and the last layer's states are pooled and classified. "
                    "Every arrow carries its tensor shape for this model (B = 1 sentence, T words, E embedding size, "
                    "H hidden units, D directions, C outputs). **Click a cell** to open it in Step through; "
                    "**▶ Play** replays the reading.")
        net = unrolled_network(loaded.bundle, text, traced=shared_trace(loaded.cache_key, loaded.key, text))
        st.plotly_chart(plots.unrolled_network(net), width="stretch", config=plots.CHART_CONFIG, key="i_unrolled",
                        on_select=lambda: _open_clicked_cell(len(net.tokens)), selection_mode="points")
        w1, w2 = st.columns([1, 3])
        if len(net.rows) > 1:
            w1.selectbox("Row", range(len(net.rows)), format_func=lambda k: net.rows[k][2], key="i_unroll_row")
        w2.pills("Open a word in Step through", list(range(len(net.tokens))), format_func=lambda i: plain(net.tokens[i]),
                 key="i_unroll_word", on_change=_open_picked_word)
        st.caption("Cell colour: the size of its hidden state, ‖h‖/√H (0 to 1). Bidirectional rows read right to "
                   "left (their arrows point left); a stacked layer reads both directions of the layer below.")


state.open_tab(tab_unrolled, "i_tab", TABS[4], unrolled_view)


