"""Explain: why did the model decide that? Gates, states, trajectory, attributions, what-ifs."""
import numpy as np
import streamlit as st
from ui import classroom as classroom_ui
from ui import models, state, widgets
from ui import timelapse as timelapse_ui
from ui.explained import shared_trace

from sentiment_core import plots
from sentiment_core.explain import (EXPLAIN_SPEC, check_explainable, counterfactual_edits, integrated_gradients,
                                    occlusion, saliency, trajectory)
from sentiment_core.explain.intervene import (LESSONS_BY_KEY, OP_LABELS, OPS, TARGETS, Intervention, intervene,
                                              lesson_interventions, parse_units)
from sentiment_core.explain.memory import memory_model_keys, memory_ribbon
from sentiment_core.explain.trace import ACTIVATIONS, GATE_SYMBOLS
from sentiment_core.predict import Predictor, describe_reading
from sentiment_core.registry import shared_registry
from sentiment_core.settings import EXAMPLES, PageField
from sentiment_core.text import plain

TABS = ("Gates", "Hidden & cell states", "Word by word", "Saliency & occlusion", "What if?", "Intervene",
        "Memory ribbons")
INTERVENE_FIELDS = (  # the Intervene and Memory ribbons tabs
    PageField("e_iv_lesson", "lesson", ""),
    PageField("e_iv_dir", "iv_direction", 0),
    PageField("e_iv_target", "iv_target", ""),
    PageField("e_iv_units", "iv_units", "all"),
    PageField("e_iv_tokens", "iv_tokens", []),
    PageField("e_iv_op", "iv_op", "clamp0"),
    PageField("e_iv_value", "iv_value", 0.5),
    PageField("e_iv_show", "iv_show", 0),
    PageField("e_mem_dir", "memory_direction", 0),
)
SORTS = {"index": "by index", "variance": "most changing first", "mean": "most open first",
         "last": "by value at the last word"}
FIELDS = (
    PageField("model", "model", shared_registry().default_key(models.EXPLAIN_PREFERENCE) or ""),
    PageField("e_text", "text", EXAMPLES[3]),
    PageField("e_target", "target", None),
    PageField("e_baseline", "baseline", EXPLAIN_SPEC["baseline"].default, EXPLAIN_SPEC["baseline"]),
    PageField("e_steps", "steps", EXPLAIN_SPEC["n_steps"].default, EXPLAIN_SPEC["n_steps"]),
    PageField("e_output", "output", EXPLAIN_SPEC["output"].default, EXPLAIN_SPEC["output"]),
    PageField("e_tab", "tab", TABS[0]),
    PageField("e_dir", "direction", 0),
    PageField("e_gate", "gate", ""),
    PageField("e_sort", "sort", "index"),
    PageField("e_topk", "units", 32),
    PageField("e_occ", "occlusion", EXPLAIN_SPEC["occlusion_mode"].default, EXPLAIN_SPEC["occlusion_mode"]),
    *INTERVENE_FIELDS,
    *timelapse_ui.VIEW_FIELDS,
)
state.use_page("explain", FIELDS)
registry = shared_registry()


# Cached per (model key@version, text, options); the bundle itself is shared and never mutated.


@st.cache_data(show_spinner=False, max_entries=128)
def cached_trajectory(cache_key: str, model: str, text: str):
    return trajectory(registry.load(model).bundle, text, traced=shared_trace(cache_key, model, text))


@st.cache_data(show_spinner="Integrating gradients…", max_entries=128)
def cached_ig(cache_key: str, model: str, text: str, target: int, baseline: str, n_steps: int, output: str):
    return integrated_gradients(registry.load(model).bundle, text, target=target, baseline=baseline, n_steps=n_steps,
                                output=output)


@st.cache_data(show_spinner=False, max_entries=128)
def cached_saliency(cache_key: str, model: str, text: str, target: int, output: str):
    return saliency(registry.load(model).bundle, text, target=target, output=output)


@st.cache_data(show_spinner=False, max_entries=128)
def cached_occlusion(cache_key: str, model: str, text: str, target: int, mode: str, output: str):
    return occlusion(registry.load(model).bundle, text, mode=mode, target=target, output=output)


@st.cache_data(show_spinner=False, max_entries=128)
def cached_edits(cache_key: str, model: str, text: str, edit: str, replacement: str, target: int):
    return counterfactual_edits(registry.load(model).bundle, text, edit=edit, replacement=replacement, target=target)


st.title("🔍 Explain a prediction")
classroom_ui.class_sentence("e_text")
top = st.columns([2, 3], gap="large")
with top[0]:
    loaded = models.picker("model")
if loaded is None:
    state.stop()
bundle = loaded.bundle
cfg = bundle.model_config
label_names = list(bundle.label_names)
with top[1]:
    text = st.text_input("Sentence", key="e_text", max_chars=2000)
    st.pills("Examples", EXAMPLES, key="e_example", label_visibility="collapsed",
             on_change=lambda: state.remember("e_text", st.session_state["e_example"] or st.session_state["e_text"]))
st.caption(f"{plain(loaded.entry.label)} · {cfg.display_name}, hidden {cfg.hidden_dim}, {cfg.pooling} pooling, "
           f"classes: {plain(', '.join(label_names))}")
if bundle.card.get("text_preset"):  # an imported tutorial model: how its tutorial read text
    st.caption(f"📖 Reads text as {plain(bundle.card.get('text_preset_title', bundle.card['text_preset']))}. "
               f"{plain(describe_reading(bundle))}")

check = check_explainable(bundle, text)
if not check.ok:
    st.error(plain(check.message))
    state.stop()
for note in check.notes:
    st.caption(f"ℹ️ {plain(note)}")

traced = shared_trace(loaded.cache_key, loaded.key, text)
pred = traced.prediction
tokens = list(traced.tokens)

def ig_settings() -> tuple[str, int, str]:
    return st.session_state["e_baseline"], int(st.session_state["e_steps"]), st.session_state["e_output"]


@state.fragment  # baseline, steps and output rerun only the chips (and the Saliency tab, which draws them too)
def integrated_gradients_view() -> None:
    st.markdown("**Integrated gradients** — how much each word pushed the model towards "
                f"*{plain(target_name)}* (purple) or away from it (orange):")
    a1, a2, a3 = st.columns(3)
    baseline_spec = EXPLAIN_SPEC["baseline"]
    # <pad>'s embedding row is all zeros in models trained here (padding_idx), so 'pad' and 'zero' are one
    # baseline: offer it once and say so; a model whose <pad> vector is not zero gets all three.
    pad_is_zero = bool((bundle.model.embedding.weight[cfg.pad_idx] == 0).all())
    baselines = [b for b in baseline_spec.choices if not (pad_is_zero and b == "zero")]
    if st.session_state["e_baseline"] not in baselines:
        st.session_state["e_baseline"] = "pad"
    a1.selectbox(baseline_spec.label, baselines, key="e_baseline",
                 format_func=lambda b: "pad = zero" if b == "pad" and pad_is_zero else b,
                 help=baseline_spec.help + (" In this model the <pad> vector is all zeros, so 'pad' is also the "
                                            "all-zero baseline." if pad_is_zero else ""))
    widgets.widget(EXPLAIN_SPEC["n_steps"], "e_steps", a2)
    widgets.widget(EXPLAIN_SPEC["output"], "e_output", a3)
    settings, drawn = ig_settings(), st.session_state.get("_e_ig_drawn")
    st.session_state["_e_ig_drawn"] = settings
    if drawn is not None and settings != drawn and st.session_state["e_tab"] == TABS[3]:
        st.rerun()  # the open Saliency & occlusion tab draws the same attributions: redraw it too
    ig = cached_ig(loaded.cache_key, loaded.key, text, target, *settings)
    st.markdown(plots.token_html(ig.tokens, ig.scores, unknown=traced.input.unknown), unsafe_allow_html=True)
    st.markdown(plots.color_legend_html(target_name), unsafe_allow_html=True)
    ok = ig.relative_delta < 0.05
    st.caption(f"{'✅' if ok else '⚠️'} Convergence delta {ig.delta:+.4f} ({ig.relative_delta:.1%} of the score "
               f"change {ig.input_score:.3f} → baseline {ig.baseline_score:.3f}). "
               + ("Small: the attributions add up." if ok else "Large: raise the integration steps."))


p1, p2 = st.columns([1, 2], gap="large")
with p1:
    st.markdown(plots.verdict_html(pred.label_name), unsafe_allow_html=True)
    st.plotly_chart(plots.probability_bars(dict(zip(label_names, map(float, pred.probabilities)))),
                    width="stretch", config=plots.CHART_CONFIG, key="e_probs")
with p2:
    if st.session_state["e_target"] not in (None, *label_names):
        st.warning(f"This model has no class {plain(repr(st.session_state['e_target']))}; explaining the prediction.",
                   icon="🔗")
        st.session_state["e_target"] = None
    st.segmented_control("Explain which class?", label_names, key="e_target", format_func=plain,
                         help="Attributions and what-if edits follow this class (default: the prediction; "
                              "click the selected class again to follow the prediction).")
    target_name = st.session_state.get("e_target") or pred.label_name
    target = label_names.index(target_name)
    integrated_gradients_view()

# ---- attention pooling and gradient connectivity of this sentence (what the model already computes)
if traced.attention is not None:
    with st.expander("🎯 Attention pooling: how much each word counts in the vector the classifier reads"):
        weights = np.asarray(traced.attention, dtype=float)
        st.markdown(plots.token_html(tokens, weights, max_abs=float(weights.max()) or 1.0, positive=plots.WEIGHT_RGB),
                    unsafe_allow_html=True)
        top_word = tokens[int(weights.argmax())]
        st.caption(f"The weights add up to 1; '{plain(top_word)}' gets the most ({weights.max():.0%}). Attention says "
                   "where the model looks, not which way a word pushes (see integrated gradients for that).")


@st.cache_data(show_spinner=False, max_entries=128)
def cached_connectivity(cache_key: str, model: str, text: str, target: int):
    from sentiment_core.explain.gradients import gradient_connectivity

    return gradient_connectivity(registry.load(model).bundle, text, target=target)


with st.expander(f"📉 Gradient connectivity: how strongly P({plain(target_name)}) depends on each word"):
    conn = cached_connectivity(loaded.cache_key, loaded.key, text, target)
    st.plotly_chart(plots.attribution_bars(conn.tokens, conn.normalized, value_name="‖∂P/∂word‖ (of the largest)",
                                           magnitude=True),
                    width="stretch", config=plots.CHART_CONFIG, key="e_connectivity")
    st.caption("The size of the gradient reaching each word's vector, scaled so the largest is 1. In a plain "
               "RNN it usually fades with the distance from the end (vanishing gradients); the Gradients page "
               "averages it over many sentences.")

if st.session_state["e_tab"] not in TABS:
    st.session_state["e_tab"] = TABS[0]
tab_gates, tab_states, tab_traj, tab_attr, tab_edit, tab_intervene, tab_memory = st.tabs(TABS, key="e_tab",
                                                                                      on_change="rerun")


directions = traced.directions
dir_names = [d.name for d in directions]

@state.fragment  # widgets in this tab rerun only this tab (and the URL): clicks stay fast
def gates_view() -> None:
    g1, g2, g3, g4 = st.columns(4)
    if not 0 <= st.session_state["e_dir"] < len(directions):
        st.session_state["e_dir"] = 0
    which = g1.selectbox("Layer / direction", range(len(directions)), format_func=lambda i: dir_names[i],
                         key="e_dir") if len(directions) > 1 else 0
    d = directions[which]
    gate_names = list(d.gates)
    state.default("e_gate", gate_names[0])
    if st.session_state["e_gate"] not in gate_names:
        st.session_state["e_gate"] = gate_names[0]
    gate = g2.selectbox("Gate", gate_names, key="e_gate",
                        format_func=lambda g: f"{g.replace('_', ' ')} ({GATE_SYMBOLS.get(g, '')})")
    if st.session_state["e_sort"] not in SORTS:
        st.session_state["e_sort"] = "index"
    sort = g3.selectbox("Sort units", list(SORTS), key="e_sort", format_func=SORTS.get)
    st.session_state["e_topk"] = max(1, min(cfg.hidden_dim, int(st.session_state["e_topk"])))
    top_k = g4.slider("Show top units", 1, cfg.hidden_dim, key="e_topk") if cfg.hidden_dim > 1 else 1
    values, order = plots.sort_units(np.asarray(d.gates[gate]).T, sort, top_k)
    act = ACTIVATIONS.get(gate, "none")
    zmin, zmax = plots.GATE_RANGES.get(act, (None, None))
    scale = plots.SEQUENTIAL if act == "sigmoid" else plots.STATE_SCALE
    st.plotly_chart(plots.heatmap(values, tokens, [f"unit {u}" for u in order],
                                  f"{gate.replace('_', ' ')} gate · {d.name}", zmin, zmax, scale,
                                  "" if act == "sigmoid" else act, value_name=gate, colorbar_ticks=plots.GATE_TICKS if act == "sigmoid" else None),
                    width="stretch", config=plots.CHART_CONFIG, key="e_gate_map")
    st.caption({"input": "Input gate: how much of the new candidate is written into the memory (1 = all).",
                "forget": "Forget gate: how much of the old memory is kept (1 = keep, 0 = erase). Watch it drop "
                          "at words like 'but'.",
                "cell_candidate": "Cell candidate: the new information proposed at this word (−1..1).",
                "output": "Output gate: how much of the memory is shown as the hidden state.",
                "reset": "Reset gate: how much of the past the new candidate may look at.",
                "update": "Update gate: PyTorch's z. h_t = (1−z)·n + z·h_{t−1}: 1 keeps the old state.",
                "new": "New candidate n (−1..1).",
                "preactivation": "Plain RNN: the value before tanh (no gates)."}.get(gate, ""))


state.open_tab(tab_gates, "e_tab", TABS[0], gates_view)


def gate_units() -> list[int]:
    """The units the Gates tab shows, in its order (its direction, gate, sorting and top-k)."""
    d = directions[st.session_state["e_dir"] if 0 <= st.session_state["e_dir"] < len(directions) else 0]
    gate = st.session_state["e_gate"] if st.session_state["e_gate"] in d.gates else next(iter(d.gates))
    sort = st.session_state["e_sort"] if st.session_state["e_sort"] in SORTS else "index"
    top_k = max(1, min(cfg.hidden_dim, int(st.session_state["e_topk"])))
    return list(plots.sort_units(np.asarray(d.gates[gate]).T, sort, top_k)[1])


@state.fragment  # widgets in this tab rerun only this tab (and the URL): clicks stay fast
def states_view() -> None:
    s_which = st.selectbox("Layer / direction", range(len(directions)), format_func=lambda i: dir_names[i],
                           key="e_sdir") if len(directions) > 1 else 0
    sd = directions[s_which]
    units = gate_units()
    hv = np.asarray(sd.hidden).T[units]  # (units, T)
    st.plotly_chart(plots.heatmap(hv, tokens, [f"unit {u}" for u in units], f"hidden state h · {sd.name}", -1, 1,
                                  plots.STATE_SCALE, "h", value_name="h"), width="stretch", config=plots.CHART_CONFIG, key="e_hidden")
    if sd.cell is not None:
        cv = np.asarray(sd.cell).T[units]  # (units, T)
        bound = float(np.abs(cv).max()) or 1.0
        st.plotly_chart(plots.heatmap(cv, tokens, [f"unit {u}" for u in units], f"cell state c · {sd.name}",
                                      -bound, bound, plots.STATE_SCALE, "c", value_name="c"),
                        width="stretch", config=plots.CHART_CONFIG, key="e_cell")
        st.caption("The cell state is the LSTM's long-term memory: it is not squashed, so it can grow beyond ±1.")
    gate = st.session_state.get("e_gate", "").replace("_", " ")
    st.caption(f"The same units in the same order as the Gates tab ({SORTS[st.session_state['e_sort']]} of the "
               f"{gate} gate, top {len(units)}): change them there.")


state.open_tab(tab_states, "e_tab", TABS[1], states_view)


@state.fragment  # widgets in this tab rerun only this tab (and the URL): clicks stay fast
def trajectory_view() -> None:
    traj = cached_trajectory(loaded.cache_key, loaded.key, text)
    if traj.available:
        probs = np.asarray(traj.probabilities)
        st.plotly_chart(plots.trajectory(traj.tokens, {n: probs[:, i] for i, n in enumerate(traj.label_names)},
                                         "Prediction after each word"), width="stretch", config=plots.CHART_CONFIG, key="e_traj")
        st.caption("Each point is the model's answer if the text ended at that word: watch it flip at 'not' or 'but'.")
    else:
        st.info(traj.reason)
        if traj.forward_scores is not None:
            fs = np.asarray(traj.forward_scores)
            st.plotly_chart(plots.word_scores(traj.tokens, {n: fs[:, i] for i, n in enumerate(traj.label_names)},
                                              "Forward reading only: score after each word", "score per class"),
                            width="stretch", config=plots.CHART_CONFIG, key="e_fwd")


state.open_tab(tab_traj, "e_tab", TABS[2], trajectory_view)


@state.fragment  # widgets in this tab rerun only this tab (and the URL): clicks stay fast
def attribution_view() -> None:
    st.caption("Three ways to ask 'which words mattered?'. They often agree on the big words and disagree on the "
               "small ones: that disagreement is worth discussing.")
    c1, c2, c3 = st.columns(3)
    with c1:
        ig = cached_ig(loaded.cache_key, loaded.key, text, target, *ig_settings())
        st.plotly_chart(plots.attribution_bars(ig.tokens, ig.scores, "Integrated gradients", value_name="IG",
                                               target=target_name),
                        width="stretch", config=plots.CHART_CONFIG, key="e_ig_bars")
    with c2:
        sal = cached_saliency(loaded.cache_key, loaded.key, text, target, st.session_state["e_output"])
        st.plotly_chart(plots.attribution_bars(sal.tokens, sal.gradient_x_input, "Saliency (gradient × input)",
                                               value_name="grad×input", target=target_name), width="stretch", config=plots.CHART_CONFIG, key="e_sal")
    with c3:
        occ = cached_occlusion(loaded.cache_key, loaded.key, text, target, st.session_state["e_occ"], st.session_state["e_output"])
        st.plotly_chart(plots.attribution_bars(occ.tokens, occ.scores, "Occlusion", value_name="score drop",
                                               target=target_name),
                        width="stretch", config=plots.CHART_CONFIG, key="e_occ_bars")
        widgets.widget(EXPLAIN_SPEC["occlusion_mode"], "e_occ")
        st.caption(occ.description)


state.open_tab(tab_attr, "e_tab", TABS[3], attribution_view)


@state.fragment  # widgets in this tab rerun only this tab (and the URL): clicks stay fast
def edit_view() -> None:
    st.markdown("Click a word to edit it and see the prediction change.")
    clicked = st.pills("Words", list(range(len(tokens))), format_func=lambda i: plain(tokens[i]), key="e_click",
                       label_visibility="collapsed")
    e1, e2 = st.columns(2)
    action = e1.radio("Edit", ["drop", "replace"], horizontal=True, key="e_action",
                      format_func={"drop": "drop the word", "replace": "replace it with…"}.get)
    replacement = e2.text_input("Replacement word", "good", key="e_replacement", disabled=action == "drop",
                                max_chars=40)
    if clicked is not None and clicked < len(tokens):
        edited = [t for i, t in enumerate(tokens) if i != clicked] if action == "drop" else \
            [replacement.strip() or "<unk>" if i == clicked else t for i, t in enumerate(tokens)]
        new_text = " ".join(edited)
        after = Predictor(bundle).predict([new_text])[0]
        before_p = float(pred.probabilities[target])
        after_p = float(after.probabilities[target_name])
        st.markdown(f"**Edited:** {plain(new_text)}")
        m1, m2 = st.columns(2)
        # no green/red arrow: red and green mean the classes negative and positive everywhere
        m1.metric(f"P({plain(target_name)})", f"{after_p:.1%}", f"{after_p - before_p:+.1%}", delta_color="off")
        m2.metric("Prediction", plain(after.label), "flipped!" if after.label != pred.label_name else "unchanged",
                  delta_color="off")
    st.divider()
    st.markdown(f"**Every edit at once** — how much P({plain(target_name)}) falls when each word is "
                f"{'dropped' if action == 'drop' else 'replaced'}: a purple word was pushing towards "
                f"{plain(target_name)} (it falls without it), an orange one away (it rises).")
    edits = cached_edits(loaded.cache_key, loaded.key, text, action, replacement.strip() or "<unk>", target)
    # the word's own effect: original minus edited probability, so the bars read like the attributions above
    st.plotly_chart(plots.attribution_bars(edits.tokens, -np.asarray(edits.delta), value_name="fall of P",
                                           target=target_name), width="stretch", config=plots.CHART_CONFIG,
                    key="e_edits")
    flips = [edits.tokens[i] for i in np.flatnonzero(edits.flipped)]
    st.caption(("Editing " + ", ".join(f"'{plain(t)}'" for t in flips) + " flips the prediction.") if flips
               else "No single edit flips the prediction.")
    if action == "replace" and not edits.replacement_known:
        st.caption(f"'{plain(replacement)}' is not in the vocabulary, so it is read as <unk>.")


state.open_tab(tab_edit, "e_tab", TABS[4], edit_view)


# ---------------------------------------------------------------- Intervene (gate surgery) and Memory ribbons

@st.cache_data(show_spinner=False, max_entries=64)
def cached_intervention(cache_key: str, model: str, text: str, changes: tuple):
    return intervene(registry.load(model).bundle, text, list(changes))


def _take_lesson_example() -> None:
    """Lesson button callback: put the lesson's example sentence in the text box."""
    state.remember("e_text", LESSONS_BY_KEY[st.session_state["e_iv_lesson"]].example)


@state.fragment  # widgets in this tab rerun only this tab (and the URL)
def intervene_view() -> None:
    st.markdown("Change what happens inside the cell and run the sentence again: force a gate open or shut, or "
                "change the hidden or cell state of some units at some words. Everything after the change is "
                "recomputed from the weights.")
    lesson_keys = ["", *LESSONS_BY_KEY]
    if st.session_state["e_iv_lesson"] not in lesson_keys:
        st.session_state["e_iv_lesson"] = ""
    lesson_key = st.segmented_control(
        "Ready-made lessons", lesson_keys, key="e_iv_lesson",
        format_func=lambda k: LESSONS_BY_KEY[k].title if k else "My own change") or ""
    if lesson_key:
        lesson = LESSONS_BY_KEY[lesson_key]
        st.caption(lesson.explanation)
        try:
            changes = lesson_interventions(lesson, bundle.model, tokens)
        except ValueError as error:
            st.info(f"{str(error)[0].upper()}{str(error)[1:]}")
            if lesson.word not in [t.lower() for t in tokens] and \
                    st.button(f"Use “{lesson.example}”", key="e_iv_example", on_click=_take_lesson_example):
                st.rerun()
            return
    else:
        c1, c2, c3, c4 = st.columns(4)
        if not 0 <= st.session_state["e_iv_dir"] < len(directions):
            st.session_state["e_iv_dir"] = 0
        which = c1.selectbox("Layer / direction", range(len(directions)), format_func=lambda i: dir_names[i],
                             key="e_iv_dir") if len(directions) > 1 else 0
        targets = list(TARGETS[cfg.cell])
        state.default("e_iv_target", targets[0])
        if st.session_state["e_iv_target"] not in targets:
            st.session_state["e_iv_target"] = targets[0]
        target_name = c2.selectbox("Change", targets, key="e_iv_target",
                                   format_func=lambda g: g.replace("_", " ") + ("" if g in ("hidden", "cell") else
                                                                                f" gate ({GATE_SYMBOLS[g]})"))
        if st.session_state["e_iv_op"] not in OPS:
            st.session_state["e_iv_op"] = OPS[0]
        op = c3.selectbox("How", OPS, key="e_iv_op", format_func=OP_LABELS.get)
        value = c4.number_input("Value", -10.0, 10.0, step=0.1, key="e_iv_value", disabled=op not in ("scale", "add"),
                                help="The factor of 'multiply by' or the amount of 'add'.")
        u1, u2 = st.columns([1, 3])
        units_text = u1.text_input("Units", key="e_iv_units", max_chars=200,
                                   help=f"'all', one unit (0..{cfg.hidden_dim - 1}), a list '0, 3, 5' or a range '0-7'.")
        st.session_state["e_iv_tokens"] = [p for p in st.session_state["e_iv_tokens"] if 0 <= p < len(tokens)]
        with u2:
            at = st.pills("At the words (none chosen: every word)", list(range(len(tokens))), selection_mode="multi",
                          format_func=lambda i: plain(tokens[i]), key="e_iv_tokens")
        try:
            units = parse_units(units_text, cfg.hidden_dim)
        except ValueError as error:
            st.error(f"Units: {error}.")
            return
        d = directions[which]
        changes = [Intervention(target_name, d.layer, d.direction, units, tuple(at) or None, op, float(value))]
    for change in changes:
        st.caption(f"✂️ {plain(change.describe(tokens))}")
    result = cached_intervention(loaded.cache_key, loaded.key, text, tuple(changes))
    b1, b2 = st.columns(2, gap="large")
    for column, kind, probs, label in ((b1, "Before", result.probabilities_before, result.label_before),
                                       (b2, "After the change", result.probabilities_after, result.label_after)):
        with column:
            st.markdown(f"**{kind}:**")
            st.markdown(plots.verdict_html(label, font_size="1.5rem"), unsafe_allow_html=True)
            st.plotly_chart(plots.probability_bars(dict(zip(result.label_names, map(float, probs)))), width="stretch",
                            config=plots.CHART_CONFIG, key=f"e_iv_probs_{kind[:5]}")
    shift = float(result.probabilities_after[target] - result.probabilities_before[target])
    st.metric(f"P({plain(label_names[target])})", f"{result.probabilities_after[target]:.1%}", f"{shift:+.1%}",
              delta_color="off")  # red/green mean the classes
    if result.flipped:
        st.success(f"The change flips the prediction: {plain(result.label_before)} → {plain(result.label_after)}.")
    if not 0 <= st.session_state["e_iv_show"] < len(result.directions):
        st.session_state["e_iv_show"] = 0
    show = st.selectbox("Show the change in", range(len(result.directions)), key="e_iv_show",
                        format_func=lambda i: result.directions[i].name) if len(result.directions) > 1 else 0
    change = result.directions[show]
    for name, diff in (("hidden state h", change.hidden_difference), ("cell state c", change.cell_difference)):
        if diff is None:
            continue
        order = np.argsort(-np.abs(diff).max(axis=0), kind="stable")[:min(32, cfg.hidden_dim)]  # most changed units
        st.plotly_chart(plots.difference_heatmap(diff.T[order], tokens, [f"unit {u}" for u in order],
                                                 f"Change in the {name} (after − before) · {change.name}",
                                                 "Δ" + name.split()[-1]),
                        width="stretch", config=plots.CHART_CONFIG, key=f"e_iv_diff_{name[:4]}")
    st.caption("Rows: the units that changed most (up to 32). Brown: the value went up; blue: it went down; "
               "white: unchanged. Nothing before the first changed word can change in a left-to-right reading.")
    if result.per_token_available:
        names = result.label_names
        st.plotly_chart(plots.prediction_before_after(
            tokens, {n: result.per_token_before[:, i] for i, n in enumerate(names)},
            {n: result.per_token_after[:, i] for i, n in enumerate(names)},
            "Prediction after each word: before (dotted) and after the change"),
            width="stretch", config=plots.CHART_CONFIG, key="e_iv_traj")
    else:
        st.info(result.reason)
        if result.forward_scores_before is not None:
            names = result.label_names
            st.plotly_chart(plots.prediction_before_after(
                tokens, {n: result.forward_scores_before[:, i] for i, n in enumerate(names)},
                {n: result.forward_scores_after[:, i] for i, n in enumerate(names)},
                "Forward reading only: score after each word", "score per class", probability=False),
                width="stretch", config=plots.CHART_CONFIG, key="e_iv_fwd")


state.open_tab(tab_intervene, "e_tab", TABS[5], intervene_view)


@st.cache_data(show_spinner=False, max_entries=64)
def cached_ribbon(cache_key: str, model: str, text: str, layer: int, direction: int):
    return memory_ribbon(registry.load(model).bundle, text, layer, direction)


@state.fragment  # widgets in this tab rerun only this tab (and the URL)
def memory_view() -> None:
    st.markdown("How much of what each word wrote into the memory is still there at the end of the sentence? "
                "The thicker the ribbon, the more survives. **LSTM**: the product of the later forget gates; "
                "**GRU**: the product of the later update gates z; **plain RNN** (no gates): the size of "
                "∂h_end/∂h_word, how strongly the last state still depends on that word's state.")
    rows, skipped = [], []
    for cell, key in memory_model_keys(models.available(registry, ("shipped", "run"))).items():
        model_bundle = registry.load(key).bundle
        check_cell = check_explainable(model_bundle, text)
        if not check_cell.ok:
            skipped.append(f"{cell.upper()} ({key}): {check_cell.message}")
            continue
        ribbon = cached_ribbon(registry.load(key).cache_key, key, text, 0, 0)
        rows.append({"label": f"{cell.upper()} ({key})", "cell": cell, "tokens": ribbon.tokens,
                     "total": ribbon.total, "measure": ribbon.measure})
    missing = [c.upper() for c in ("rnn", "lstm", "gru") if c not in {r["cell"] for r in rows}]
    if missing:
        skipped.append(f"No {', '.join(missing)} model to show: train one (unidirectional) on the Train page.")
    st.plotly_chart(plots.memory_ribbons(rows, "What survives to the end (layer 0, reading left to right)"),
                    width="stretch", config=plots.CHART_CONFIG, key="e_mem_ribbons")
    for note in skipped:
        st.caption(f"ℹ️ {plain(note)}")
    st.markdown(f"**Per unit, {plain(loaded.entry.label)}** — each unit's survival from each word to the end:")
    if not 0 <= st.session_state["e_mem_dir"] < len(directions):
        st.session_state["e_mem_dir"] = 0
    which = st.selectbox("Layer / direction", range(len(directions)), format_func=lambda i: dir_names[i],
                         key="e_mem_dir") if len(directions) > 1 else 0
    d = directions[which]
    ribbon = cached_ribbon(loaded.cache_key, loaded.key, text, d.layer, d.direction)
    units = gate_units()
    gated = ribbon.written is not None
    st.plotly_chart(plots.heatmap(ribbon.per_unit.T[units], tokens, [f"unit {u}" for u in units],
                                  f"Survival to the end · {d.name}", 0.0, 1.0 if gated else None, plots.SEQUENTIAL,
                                  "kept" if gated else "‖J‖", value_name="survival"),
                    width="stretch", config=plots.CHART_CONFIG, key="e_mem_units")
    st.caption(f"{ribbon.measure.capitalize()}; the same units in the same order as the Gates tab. "
               + ("1: that unit keeps everything the word wrote; 0: it is erased before the end." if gated else
                  "The column norm of the Jacobian for each unit."))


state.open_tab(tab_memory, "e_tab", TABS[6], memory_view)


# ---------------------------------------------------------------- training time-lapse (run models only)
@state.fragment  # its selectors rerun only this section (and the URL)
def timelapse_view() -> None:
    if loaded.entry.source == "run" and loaded.entry.path is not None:
        timelapse_ui.show(loaded.entry.path.parent, "e")
    else:
        st.markdown("#### 🎞 Training time-lapse")
        st.caption("Runs trained on the Train page record how they learned to read a few probe sentences: "
                   "choose a run model above to watch it.")


st.divider()
timelapse_view()
