"""GateScope home: type a review, see the prediction and the gates, find your way around."""
import sys
from pathlib import Path

_ROOT = str(Path(__file__).resolve().parents[1])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

import streamlit as st  # noqa: E402

from sentiment_core import plots, ui_state  # noqa: E402

ui_state.page("Home", "🔬")


@st.cache_resource(show_spinner="Loading the shipped model…", max_entries=6)
def shipped_model(name: str, mtime: float):
    """Shared by every session: read-only (never mutate it)."""
    from sentiment_core.pretrained import load_pretrained

    return load_pretrained(name, ui_state.pretrained_dir())


@st.cache_data(show_spinner=False, max_entries=256)
def analyse(name: str, mtime: float, text: str):
    """Prediction and per-gate means of the first layer (forward direction) for one text."""
    from sentiment_core.explain.trace import ACTIVATIONS, trace

    bundle = shipped_model(name, mtime)
    traced = trace(bundle, text)
    first = traced.get(0, 0)
    pred = traced.prediction
    return {
        "tokens": list(traced.tokens),
        "probabilities": {n: float(p) for n, p in zip(pred.label_names, pred.probabilities)},
        "label": pred.label_name,
        "gates": plots.gate_means(first.gates, ACTIVATIONS),
        "notes": list(getattr(traced.input, "notes", []) or []),
        "cell": traced.cell,
    }


st.title("🔬 GateScope")
st.markdown(
    "**GateScope lets you look inside recurrent neural networks while they read a sentence.** "
    "Type a review below and watch a trained LSTM decide, word by word, which information to let in, keep and "
    "forget. Then train your own RNN, LSTM or GRU, compare them, and explain their decisions."
)

shipped = ui_state.list_shipped()
if not shipped:
    st.warning("No shipped models were found in `pretrained/`. Train one on the **Train** page and open it on "
               "**Explain**, or rebuild them with `python scripts/build_pretrained.py`.")
else:
    by_name = {i.name: i for i in shipped}
    default = ui_state.default_home_model(shipped)
    st.session_state.setdefault("home_model", default)
    if st.session_state["home_model"] not in by_name:
        st.session_state["home_model"] = default
    st.session_state.setdefault("home_text", ui_state.EXAMPLES[2])

    left, right = st.columns([3, 2], gap="large")
    with left:
        st.text_input("Type a review", key="home_text", max_chars=2000,
                      placeholder="e.g. The plot was thin but the acting saved it",
                      help="Press Enter to update. Any English text works; unknown words become <unk>.")
        st.pills("…or try an example", ui_state.EXAMPLES, key="home_example", selection_mode="single",
                 on_change=lambda: st.session_state.update(home_text=st.session_state["home_example"] or
                                                           st.session_state["home_text"]))
    with right:
        st.selectbox("Model", list(by_name), key="home_model",
                     format_func=lambda n: f"{by_name[n].title}",
                     help="Shipped models trained on movie reviews (the airline one on tweets). "
                          "Accuracy on held-out data is in each model's card.")
        info = by_name[st.session_state["home_model"]]
        if info.metrics:
            st.caption(info.headline())

    text = st.session_state["home_text"]
    info = by_name[st.session_state["home_model"]]
    mtime = info.path.stat().st_mtime if info.path.exists() else 0.0
    if not text.strip():
        st.info("Type a sentence (or pick an example) to see the prediction.")
    else:
        try:
            result = analyse(info.name, mtime, text)
        except Exception as error:  # noqa: BLE001 - explain input errors carry a readable message
            st.error(f"This text cannot be analysed: {error}")
            result = None
        if result:
            c1, c2 = st.columns([2, 3], gap="large")
            with c1:
                label = result["label"]
                color = plots.class_color(label)
                st.markdown(f"<div class='gs-verdict' style='color:{color}'>{label.capitalize()} "
                            f"<span style='font-size:1.2rem;color:#52606D'>"
                            f"({result['probabilities'][label]:.0%} sure)</span></div>", unsafe_allow_html=True)
                st.plotly_chart(plots.probability_bars(result["probabilities"]), width="stretch",
                                config={"displayModeBar": False}, key="home_probs")
                for note in result["notes"]:
                    st.caption(f"ℹ️ {note}")
            with c2:
                st.plotly_chart(
                    plots.gate_overview(result["gates"], result["tokens"],
                                        title="How open each gate is at each word (mean over units)"),
                    width="stretch", config={"displayModeBar": False}, key="home_gates")
                if result["cell"] == "lstm":
                    st.caption("LSTM gates: **input** lets new information in, **forget** keeps (1) or erases (0) "
                               "the memory, **output** decides what to show; the **cell candidate** is the new "
                               "information itself. Bright = open. Explore every unit on **Explain**.")
                elif result["cell"] == "gru":
                    st.caption("GRU gates: **reset** decides how much of the past to use for the new candidate, "
                               "**update** how much of the old state to keep. Bright = open.")
                else:
                    st.caption("A plain RNN has no gates: this row shows its squashed pre-activation "
                               "(the value before tanh), rescaled to 0..1.")

st.divider()
st.subheader("Where next?")
CARDS = [
    ("data", "📚", "Data", "Pick a dataset, upload your own, or generate a synthetic teaching set. "
     "See lengths, classes, vocabulary and tokens."),
    ("train", "🏋️", "Train", "Build an RNN, LSTM or GRU with sliders, train it in the background and watch "
     "the curves grow."),
    ("compare", "⚖️", "Compare", "RNN vs LSTM vs GRU, learning rates, dropout and overfitting: overlay runs and "
     "put one sentence through every model."),
    ("explain", "🔍", "Explain", "Gate heatmaps, hidden states, integrated gradients, saliency, occlusion and "
     "what-if edits for any model."),
    ("inside", "🧮", "Inside the cell", "Step through one time step with the real numbers and the equations; "
     "count the parameters by hand."),
    ("gradients", "📉", "Gradients", "Why plain RNNs forget: vanishing gradients, the long-range experiment and "
     "gradient clipping."),
]
for row in range(0, len(CARDS), 3):
    cols = st.columns(3)
    for col, (key, icon, title, text) in zip(cols, CARDS[row:row + 3]):
        with col.container(border=True):
            st.markdown(f"#### {icon} {title}")
            st.markdown(f"<span class='gs-muted'>{text}</span>", unsafe_allow_html=True)
            ui_state.link(key, f"Open {title}", "➡️")
