"""Home: type a review, see the shipped model's verdict and its gates, find your way around."""
import streamlit as st
from ui import classroom as classroom_ui
from ui import frame, state

from sentiment_core import plots
from sentiment_core.errors import GateScopeError
from sentiment_core.pretrained import headline
from sentiment_core.registry import shared_registry
from sentiment_core.settings import EXAMPLES, PageField
from sentiment_core.text import plain

HOME_PREFERENCE = ("lstm", "bilstm", "gru", "rnn")
registry = shared_registry()
shipped = {e.key: e for e in registry.shipped()}
FIELDS = (PageField("home_text", "text", EXAMPLES[2]),
          PageField("home_model", "model", registry.default_key(HOME_PREFERENCE) or ""))
state.use_page("home", FIELDS)


@st.cache_data(show_spinner=False, max_entries=256)
def analyse(cache_key: str, name: str, text: str):
    """Prediction and per-gate means of the first layer (forward direction) for one text."""
    from sentiment_core.explain.trace import ACTIVATIONS, trace

    traced = trace(registry.load(name).bundle, text)
    first = traced.get(0, 0)
    pred = traced.prediction
    return {
        "tokens": list(traced.tokens),
        "probabilities": {n: float(p) for n, p in zip(pred.label_names, pred.probabilities)},
        "label": pred.label_name,
        "gates": plots.gate_means(first.gates, ACTIVATIONS),
        "notes": list(getattr(traced.input, "notes", []) or []),
        "cell": traced.cell,
        "bidirectional": len(traced.directions) > len({d.layer for d in traced.directions}),
    }


st.title("🔬 GateScope")
st.markdown(
    "**GateScope lets you look inside recurrent neural networks while they read a sentence.** "
    "Type a review below and watch a trained LSTM decide, word by word, which information to let in, keep and "
    "forget. Then train your own RNN, LSTM or GRU, compare them, and explain their decisions."
)

classroom_ui.class_sentence("home_text")

if not shipped:
    st.warning("No shipped models were found in `pretrained/`. Train one on the **Train** page and open it on "
               "**Explain**, or rebuild them with `gatescope pretrain --mirror <datasets folder>`.")
else:
    if st.session_state["home_model"] not in shipped:
        if st.session_state["home_model"]:
            asked = plain(repr(st.session_state["home_model"]))
            st.warning(f"The link names a model that is not shipped here ({asked}); "
                       f"showing {registry.default_key(HOME_PREFERENCE)}.", icon="🔗")
        st.session_state["home_model"] = registry.default_key(HOME_PREFERENCE)
    left, right = st.columns([3, 2], gap="large")
    with left:
        st.text_input("Type a review", key="home_text", max_chars=2000,
                      placeholder="e.g. The plot was thin but the acting saved it",
                      help="Press Enter to update. Any English text works; unknown words become <unk>.")
        st.pills("…or try an example", EXAMPLES, key="home_example", selection_mode="single",
                 on_change=lambda: state.remember("home_text", st.session_state["home_example"] or
                                                  st.session_state["home_text"]))
    with right:
        st.selectbox("Model", list(shipped), key="home_model", format_func=lambda n: shipped[n].title,
                     help="Shipped models trained on movie reviews (the airline one on tweets). "
                          "Accuracy on held-out data is in each model's card.")
        entry = shipped[st.session_state["home_model"]]
        if entry.metrics:
            # the shipped cards' own text; each figure is measured as the Dataset page reads the set
            st.caption(f"{headline(entry.title, entry.metrics)} (test accuracy on the sets as written, "
                       "as the **Dataset** page measures it)")

    text = st.session_state["home_text"]
    if not text.strip():
        st.info("Type a sentence (or pick an example) to see the prediction.")
    else:
        try:
            loaded = registry.load(entry.key)
            result = analyse(loaded.cache_key, entry.key, text)
        except (GateScopeError, ValueError) as error:  # explain input errors carry a readable message
            st.error(f"This text cannot be analysed: {plain(error)}")
            result = None
        if result:
            c1, c2 = st.columns([2, 3], gap="large")
            with c1:
                label = result["label"]
                st.markdown(plots.verdict_html(label, result["probabilities"][label]), unsafe_allow_html=True)
                st.plotly_chart(plots.probability_bars(result["probabilities"]), width="stretch",
                                config=plots.CHART_CONFIG, key="home_probs")
                for note in result["notes"]:
                    st.caption(f"ℹ️ {plain(note)}")
            with c2:
                # the title is page text, not chart text, so it wraps on a phone instead of being cut off
                st.markdown("**How open each gate is at each word** (mean over units)" if result["cell"] != "rnn"
                            else "**The state's value at each word** (mean over units)")
                if result["bidirectional"]:
                    st.caption("This model reads in both directions: the chart shows the first layer's "
                               "**forward** direction (left to right). Both directions are on **Explain**.")
                st.plotly_chart(plots.gate_overview(result["gates"], result["tokens"], gated=result["cell"] != "rnn"),
                                width="stretch", config=plots.CHART_CONFIG, key="home_gates")
                if result["cell"] == "lstm":
                    st.caption("LSTM gates: **input** lets new information in, **forget** keeps (1) or erases (0) "
                               "the memory, **output** decides what to show; the **cell candidate** is the new "
                               "information itself. Bright = open. Explore every unit on **Explain**.")
                elif result["cell"] == "gru":
                    st.caption("GRU gates: **reset** decides how much of the past to use for the new candidate, "
                               "**update** how much of the old state to keep. The **new** row is that candidate "
                               "state itself (built from the word and the reset past), rescaled to 0..1. "
                               "Bright = open.")
                else:
                    st.caption("A plain RNN has no gates: its one row is the new state tanh(W·x + U·h + b), "
                               "from −1 to +1, averaged over units.")
            frame.link("explain", "Explain this sentence in depth", "🔍",
                       query={"model": entry.key, "text": text})

st.divider()
st.subheader("Where next?")
cards = frame.PAGES[1:]
for row in range(0, len(cards), 3):
    cols = st.columns(3)
    for col, entry in zip(cols, cards[row:row + 3]):
        with col.container(border=True):
            st.markdown(f"#### {entry.icon} {entry.title}")
            # constant markup: the blurbs are the app's own page descriptions (frame.PAGES)
            st.markdown(f"<span class='gs-muted'>{entry.blurb}</span>", unsafe_allow_html=True)
            frame.link(entry.key, f"Open {entry.title}", "➡️")
