"""Every Plotly figure GateScope shows, in one place, styled for a classroom projector
(large fonts, thick lines, colour-blind-safe colours, one colour per cell type).

Builders take plain Python/NumPy data and return ``plotly.graph_objects.Figure``; they
never import Streamlit, so they are easy to test and reuse in notebooks.
"""
from __future__ import annotations

import html
import math
from typing import Iterable, Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

FONT_SIZE = 17
TITLE_SIZE = 21
FONT_FAMILY = "Inter, 'Source Sans Pro', 'Helvetica Neue', Arial, sans-serif"
LINE_WIDTH = 3

# Okabe-Ito based palette (colour-blind safe).
CELL_COLORS = {"rnn": "#D55E00", "lstm": "#0072B2", "gru": "#009E73"}
SPLIT_COLORS = {"train": "#0072B2", "validation": "#E69F00", "test": "#CC79A7"}
SEQUENCE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]
NEGATIVE_COLOR, POSITIVE_COLOR, NEUTRAL_COLOR = "#C0392B", "#1E8449", "#7F8C8D"
DIVERGING = "RdBu"          # negative red ... positive blue, for signed values (gates in [-1, 1])
SEQUENTIAL = "Viridis"      # for values in [0, 1] (sigmoid gates)
GATE_RANGES = {"sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0)}


# Every chart's Plotly config: only the camera button, which saves a sharp PNG for slides.
CHART_CONFIG = {"displaylogo": False, "modeBarButtons": [["toImage"]],
                "toImageButtonOptions": {"format": "png", "scale": 2, "filename": "gatescope-chart"}}


def class_color(name: str, index: int = 0) -> str:
    """Red for negative-like, green for positive-like, grey for neutral, else the palette."""
    low = str(name).lower()
    if low.startswith(("neg", "not_", "bad")):
        return NEGATIVE_COLOR
    if low.startswith(("pos", "good")):
        return POSITIVE_COLOR
    if low.startswith(("neu", "mixed")):
        return NEUTRAL_COLOR
    return SEQUENCE[index % len(SEQUENCE)]


def cell_color(name: str, index: int = 0) -> str:
    """The colour of a cell type in every chart (RNN orange, LSTM blue, GRU green)."""
    low = str(name).lower().replace("bi", "", 1) if str(name).lower().startswith("bi") else str(name).lower()
    for cell, color in CELL_COLORS.items():
        if low.startswith(cell):
            return color
    return SEQUENCE[index % len(SEQUENCE)]


def style(fig: go.Figure, title: str | None = None, height: int | None = None, legend: bool = True) -> go.Figure:
    """Apply the projector-friendly house style."""
    fig.update_layout(
        template="plotly_white",
        font=dict(family=FONT_FAMILY, size=FONT_SIZE, color="#1F2933"),
        title=dict(text=title, font=dict(size=TITLE_SIZE), x=0.0, xanchor="left") if title else None,
        margin=dict(l=10, r=10, t=60 if title else 20, b=10),
        legend=dict(orientation="h", yanchor="bottom", y=1.02, xanchor="right", x=1.0, font=dict(size=FONT_SIZE - 1)),
        showlegend=legend,
        hoverlabel=dict(font_size=FONT_SIZE - 1),
        colorway=SEQUENCE,
    )
    if height:
        fig.update_layout(height=height)
    fig.update_xaxes(title_font=dict(size=FONT_SIZE), tickfont=dict(size=FONT_SIZE - 2), automargin=True)
    fig.update_yaxes(title_font=dict(size=FONT_SIZE), tickfont=dict(size=FONT_SIZE - 2), automargin=True)
    return fig



def _positions(tokens: Sequence[str]) -> tuple[list[int], list[str]]:
    return list(range(len(tokens))), [str(t) for t in tokens]


def empty(message: str, height: int = 260) -> go.Figure:
    """A blank figure with a centred message (used instead of an empty chart)."""
    fig = go.Figure()
    fig.add_annotation(text=message, x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False,
                       font=dict(size=FONT_SIZE + 1, color="#52606D"))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return style(fig, height=height, legend=False)


# ---------------------------------------------------------------- predictions


def probability_bars(probabilities: Mapping[str, float], title: str | None = None, height: int | None = None) -> go.Figure:
    """Horizontal bars of class probabilities, the winner labelled in bold."""
    names = list(probabilities)
    values = [float(probabilities[n]) for n in names]
    best = int(np.argmax(values)) if values else -1
    fig = go.Figure(go.Bar(
        x=values, y=names, orientation="h",
        marker_color=[class_color(n, i) for i, n in enumerate(names)],
        text=[f"<b>{v:.0%}</b>" if i == best else f"{v:.0%}" for i, v in enumerate(values)],
        # inside long bars, outside short ones: a "100%" label is never cut off in a narrow column
        textposition="auto", insidetextanchor="end", cliponaxis=False,
        hovertemplate="%{y}: %{x:.3f}<extra></extra>",
    ))
    fig.update_xaxes(range=[0, 1.15], tickformat=".0%", title=None, showgrid=True)
    fig.update_yaxes(autorange="reversed")
    return style(fig, title, height or 70 + 48 * len(names), legend=False)


def class_order(label_sets: Iterable[Sequence[str]]) -> list[str]:
    """Every class of several models once (a 3-class model's ``neutral`` is kept when it is
    shown next to 2-class ones): negative-like, neutral-like, positive-like, then the rest as first seen."""
    order: list[str] = []
    for labels in label_sets:
        order += [label for label in labels if label not in order]
    rank = {NEGATIVE_COLOR: 0, NEUTRAL_COLOR: 1, POSITIVE_COLOR: 2}
    return sorted(order, key=lambda label: (rank.get(class_color(label), 3), order.index(label)))


def model_probability_bars(rows: Sequence[Mapping], label_names: Sequence[str] | None = None,
                           height: int | None = None) -> go.Figure:
    """The same sentence through several models: one stacked bar per model.

    Args:
        rows: dicts with ``model`` (name) and ``probabilities`` (class -> probability).
        label_names: class order (default: every class of every row, ``class_order``).
    """
    label_names = class_order([*([label_names] if label_names else []), *(list(r["probabilities"]) for r in rows)])
    fig = go.Figure()
    models = [str(r["model"]) for r in rows]
    for i, label in enumerate(label_names):
        values = [float(r["probabilities"].get(label, 0.0)) for r in rows]
        fig.add_trace(go.Bar(x=values, y=models, name=label, orientation="h", marker_color=class_color(label, i),
                             text=[f"{v:.0%}" if v >= 0.08 else "" for v in values], textposition="inside",
                             hovertemplate=f"{label}: %{{x:.3f}}<extra>%{{y}}</extra>"))
    fig.update_layout(barmode="stack")
    fig.update_xaxes(range=[0, 1], tickformat=".0%")
    fig.update_yaxes(autorange="reversed")
    return style(fig, None, height or 90 + 44 * len(rows))


# ---------------------------------------------------------------- heatmaps


def heatmap(values: np.ndarray, tokens: Sequence[str], row_labels: Sequence[str] | None = None,
            title: str | None = None, zmin: float | None = None, zmax: float | None = None,
            colorscale: str = SEQUENTIAL, colorbar_title: str = "", height: int | None = None,
            value_name: str = "value", colorbar_ticks: Mapping[float, str] | None = None) -> go.Figure:
    """Rows x tokens heatmap (units or gates on the y axis, tokens in reading order on x).

    Args:
        values: (R, T) array.
        tokens: T token strings.
        row_labels: R labels (default ``unit 0`` ...).
        zmin, zmax: colour range (fix it so heatmaps are comparable: sigmoid gates 0..1,
            tanh states -1..1).
    """
    values = np.asarray(values, dtype=float)
    if values.ndim != 2 or values.size == 0:
        return empty("Nothing to show: type a sentence with at least one word.")
    rows = list(row_labels) if row_labels is not None else [f"unit {i}" for i in range(values.shape[0])]
    if len(set(rows)) < len(rows):  # the rows are categories: keep them distinct
        rows = [f"{label} ({i})" for i, label in enumerate(rows)]
    _, names = _positions(tokens)
    # Categorical axes named "position · token": the hover reads %{x} and %{y}, so no per-cell
    # label arrays travel to the browser (they were two R x T string arrays, most of the payload).
    x = [f"{i} · {name}" for i, name in enumerate(names)]
    fig = go.Figure(go.Heatmap(
        z=values.astype(np.float32), x=x, y=rows, zmin=zmin, zmax=zmax, colorscale=colorscale,  # f4: half the bytes
        hovertemplate=f"token %{{x}}<br>%{{y}}<br>{value_name} %{{z:.3f}}<extra></extra>",
        colorbar=dict(title=dict(text=colorbar_title), thickness=16, tickfont=dict(size=FONT_SIZE - 3),
                      **({"tickvals": list(colorbar_ticks), "ticktext": list(colorbar_ticks.values())}
                         if colorbar_ticks else {})),
        xgap=1, ygap=1 if len(rows) <= 40 else 0,
    ))
    fig.update_xaxes(type="category", tickmode="array", tickvals=x, ticktext=names,
                     tickangle=-40 if len(x) > 8 else 0, showgrid=False)
    show_rows = len(rows) <= 40
    fig.update_yaxes(type="category", tickmode="array", tickvals=rows if show_rows else [],
                     ticktext=rows if show_rows else [], autorange="reversed", showgrid=False,
                     title="units (rows)" if not show_rows else None)
    h = height or int(min(900, max(220, 70 + (26 if show_rows else 6) * len(rows) + (60 if len(x) > 8 else 30))))
    return style(fig, title, h, legend=False)


GATE_TICKS = {0.0: "0 = closed", 0.5: "0.5", 1.0: "1 = open"}  # colour bars of sigmoid gates


def gate_overview(gates: Mapping[str, Sequence[float]], tokens: Sequence[str], title: str | None = None,
                  height: int | None = None, gated: bool = True) -> go.Figure:
    """One row per gate (its mean over units) by token: the Home page's at-a-glance view.

    Args:
        gates: gate name -> (T,) mean activation (sigmoid gates 0..1; ``g``/``n``/``h``
            candidates -1..1 are rescaled to 0..1 for the shared colour scale).
        tokens: the T tokens.
        gated: label the colour bar "0 = closed … 1 = open" (False for a plain RNN's rescaled values).
    """
    names = list(gates)
    if not names or not tokens:
        return empty("Type a sentence to see the gates open and close.")
    z = np.asarray([np.asarray(gates[n], dtype=float) for n in names])
    return heatmap(z, tokens, names, title, 0.0, 1.0, SEQUENTIAL, "mean<br>activation" if gated else "rescaled<br>value",
                   height or 120 + 44 * len(names), value_name="mean activation",
                   colorbar_ticks=GATE_TICKS if gated else None)


def sort_units(values: np.ndarray, how: str = "index", top_k: int | None = None) -> tuple[np.ndarray, list[int]]:
    """Reorder (U, T) unit rows for display.

    Args:
        values: (U, T) activations.
        how: ``index`` (as stored), ``variance`` (most changing first), ``mean`` (most
            open first), ``last`` (by the value at the final token).
        top_k: keep only the first ``top_k`` rows after sorting.

    Returns:
        The reordered rows and their original unit indices.
    """
    values = np.asarray(values, dtype=float)
    if how == "variance":
        order = np.argsort(-values.var(axis=1), kind="stable")
    elif how == "mean":
        order = np.argsort(-values.mean(axis=1), kind="stable")
    elif how == "last":
        order = np.argsort(-values[:, -1], kind="stable") if values.shape[1] else np.arange(values.shape[0])
    else:
        order = np.arange(values.shape[0])
    if top_k:
        order = order[:top_k]
    return values[order], [int(i) for i in order]


# ---------------------------------------------------------------- training curves


def _epoch_values(epochs: Sequence[Mapping], key: str) -> tuple[list[int], list[float | None]]:
    return [int(e["epoch"]) for e in epochs], [e.get(key) for e in epochs]


def training_curves(epochs: Sequence[Mapping], height: int = 360, title: str | None = None) -> go.Figure:
    """Loss (left) and accuracy (right) per epoch, train and validation, best epoch starred."""
    if not epochs:
        return empty("The curves appear after the first epoch finishes.", height)
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Loss (lower is better)", "Accuracy (higher is better)"),
                        horizontal_spacing=0.1)
    for col, metric in ((1, "loss"), (2, "accuracy")):
        for split in ("train", "val"):
            x, y = _epoch_values(epochs, f"{split}_{metric}")
            name = "train" if split == "train" else "validation"
            fig.add_trace(go.Scatter(x=x, y=y, mode="lines+markers", name=name, legendgroup=name,
                                     showlegend=col == 1, line=dict(color=SPLIT_COLORS[name], width=LINE_WIDTH),
                                     marker=dict(size=8),
                                     hovertemplate=f"epoch %{{x}}<br>{name} {metric} %{{y:.3f}}<extra></extra>"),
                          row=1, col=col)
    best = [e for e in epochs if e.get("is_best")]
    if best:
        b = best[-1]
        fig.add_trace(go.Scatter(x=[b["epoch"]], y=[b.get("val_loss")], mode="markers", name="best (kept)",
                                 marker=dict(symbol="star", size=18, color="#F0E442", line=dict(color="#000", width=1)),
                                 hovertemplate="best epoch %{x}<extra></extra>"), row=1, col=1)
    fig.update_xaxes(title="epoch", dtick=1 if len(epochs) <= 20 else None, tick0=1)
    fig.update_yaxes(tickformat=".0%", row=1, col=2)
    fig.update_annotations(font_size=FONT_SIZE)
    return style(fig, title, height)


def batch_curves(batches: Sequence[Mapping], clip_norm: float | None = None, height: int = 380,
                 smooth: int = 20, title: str | None = None) -> go.Figure:
    """Per-batch loss (with a moving average) and gradient norm with the clip line.

    Points above the clip line are the steps whose gradients were rescaled.
    """
    if not batches:
        return empty("Per-batch loss and gradient norm appear as soon as training starts.", height)
    steps = [int(b["step"]) for b in batches]
    loss = np.asarray([b.get("loss") if b.get("loss") is not None else np.nan for b in batches], dtype=float)
    norm = np.asarray([b.get("grad_norm") if b.get("grad_norm") is not None else np.nan for b in batches], dtype=float)
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Loss per batch", "Gradient norm per batch"),
                        horizontal_spacing=0.1)
    fig.add_trace(go.Scatter(x=steps, y=loss, mode="lines", name="batch loss", line=dict(color="#9FB3C8", width=1.5),
                             hovertemplate="step %{x}<br>loss %{y:.3f}<extra></extra>"), row=1, col=1)
    if len(loss) >= 3:
        k = max(1, min(smooth, len(loss) // 3))
        avg = np.convolve(np.nan_to_num(loss), np.ones(k) / k, mode="valid")
        fig.add_trace(go.Scatter(x=steps[k - 1:], y=avg, mode="lines", name=f"moving average ({k})",
                                 line=dict(color=SPLIT_COLORS["train"], width=LINE_WIDTH)), row=1, col=1)
    fig.add_trace(go.Scatter(x=steps, y=norm, mode="lines", name="gradient norm", line=dict(color="#7B8794", width=1.5),
                             hovertemplate="step %{x}<br>norm %{y:.2f}<extra></extra>"), row=1, col=2)
    if clip_norm and clip_norm > 0:
        fig.add_hline(y=clip_norm, line=dict(color="#D55E00", dash="dash", width=2.5), row=1, col=2,
                      annotation_text=f"clip at {clip_norm:g}", annotation_position="top left",
                      annotation_font=dict(size=FONT_SIZE - 2, color="#D55E00"))
        above = norm > clip_norm
        if above.any():
            fig.add_trace(go.Scatter(x=np.asarray(steps)[above], y=norm[above], mode="markers",
                                     name=f"clipped ({int(above.sum())} steps)",
                                     marker=dict(color="#D55E00", size=7)), row=1, col=2)
    fig.update_xaxes(title="step")
    fig.update_annotations(font_size=FONT_SIZE)
    return style(fig, title, height)


def grad_norm_figure(batches: Sequence[Mapping], clip_norm: float | None, title: str | None = None,
                     height: int = 340, log: bool = True) -> go.Figure:
    """Gradient norm per step on a log axis with the clipping threshold (Gradients page)."""
    if not batches:
        return empty("No batches recorded yet.", height)
    steps = [int(b["step"]) for b in batches]
    norm = np.asarray([b.get("grad_norm") or np.nan for b in batches], dtype=float)
    fig = go.Figure(go.Scatter(x=steps, y=norm, mode="lines", name="gradient norm before clipping",
                               line=dict(color="#0072B2", width=2)))
    if clip_norm and clip_norm > 0:
        fig.add_trace(go.Scatter(x=steps, y=np.minimum(norm, clip_norm), mode="lines", name="norm actually applied",
                                 line=dict(color="#009E73", width=2)))
        fig.add_hline(y=clip_norm, line=dict(color="#D55E00", dash="dash", width=2.5),
                      annotation_text=f"clip norm {clip_norm:g}", annotation_font=dict(color="#D55E00"))
    fig.update_xaxes(title="step")
    fig.update_yaxes(title="‖gradient‖", type="log" if log else "linear")
    return style(fig, title, height)


def confusion_matrix(matrix: Sequence[Sequence[int]], labels: Sequence[str], title: str | None = None,
                     height: int | None = None) -> go.Figure:
    """Counts with row percentages; rows are the true class, columns the prediction."""
    m = np.asarray(matrix, dtype=float)
    if m.size == 0:
        return empty("No test examples.")
    share = m / np.clip(m.sum(axis=1, keepdims=True), 1, None)
    text = [[f"{int(m[i, j])}<br>({share[i, j]:.0%})" for j in range(m.shape[1])] for i in range(m.shape[0])]
    fig = go.Figure(go.Heatmap(
        z=share, x=list(labels), y=list(labels), text=text, texttemplate="%{text}",
        textfont=dict(size=FONT_SIZE), colorscale="Blues", zmin=0, zmax=1, showscale=False,
        hovertemplate="true %{y}<br>predicted %{x}<br>%{text}<extra></extra>"))
    fig.update_xaxes(title="predicted", side="bottom")
    fig.update_yaxes(title="true", autorange="reversed")
    return style(fig, title, height or 120 + 80 * len(labels), legend=False)


def compare_curves(series: Mapping[str, Sequence[Mapping]], metric: str = "val_accuracy", title: str | None = None,
                   height: int = 380, colors: Mapping[str, str] | None = None) -> go.Figure:
    """One line per run for an epoch metric (``val_accuracy``, ``train_loss`` ...).

    Train curves are dotted and validation curves solid when both are drawn via ``metric="both_loss"``
    or ``"both_accuracy"``: the gap between them is overfitting.
    """
    if not series:
        return empty("Pick runs to compare.", height)
    fig = go.Figure()
    both = metric.startswith("both_")
    base = metric.split("_", 1)[1] if both else metric
    for i, (name, epochs) in enumerate(series.items()):
        color = (colors or {}).get(name) or SEQUENCE[i % len(SEQUENCE)]
        keys = [f"train_{base}", f"val_{base}"] if both else [metric]
        for key in keys:
            x, y = _epoch_values(epochs, key)
            dotted = both and key.startswith("train")
            fig.add_trace(go.Scatter(
                x=x, y=y, mode="lines+markers", name=f"{name} ({'train' if dotted else 'val'})" if both else name,
                line=dict(color=color, width=LINE_WIDTH - (1 if dotted else 0), dash="dot" if dotted else "solid"),
                marker=dict(size=7), hovertemplate=f"{name}<br>epoch %{{x}}<br>{key} %{{y:.3f}}<extra></extra>"))
    nice = {"val_accuracy": "validation accuracy", "val_loss": "validation loss", "train_loss": "training loss",
            "train_accuracy": "training accuracy", "val_macro_f1": "validation macro-F1",
            "both_loss": "loss (dotted: train, solid: validation)",
            "both_accuracy": "accuracy (dotted: train, solid: validation)"}.get(metric, metric)
    longest = max((len(epochs) for epochs in series.values()), default=0)
    fig.update_xaxes(title="epoch", dtick=1 if longest <= 20 else None, tick0=1)
    fig.update_yaxes(title=nice, tickformat=".0%" if "accuracy" in metric or "f1" in metric else None)
    return style(fig, title, height)


# ---------------------------------------------------------------- data


def length_histogram(lengths: Sequence[int], max_len: int, title: str | None = None, height: int = 340) -> go.Figure:
    """Token counts per example with the chosen ``max_len`` and the share it keeps uncut."""
    arr = np.asarray(lengths, dtype=float)
    if arr.size == 0:
        return empty("No examples.", height)
    covered = float((arr <= max_len).mean())
    fig = go.Figure(go.Histogram(x=arr, nbinsx=min(60, max(10, int(arr.max()) // 2 or 10)), marker_color="#56B4E9",
                                 hovertemplate="%{x} tokens: %{y} examples<extra></extra>", name="examples"))
    fig.add_vline(x=max_len, line=dict(color="#D55E00", width=3, dash="dash"))
    fig.add_annotation(x=max_len, y=1, yref="paper", xanchor="left", showarrow=False,
                       text=f" max_len = {max_len}<br> keeps {covered:.1%} uncut",
                       font=dict(size=FONT_SIZE, color="#D55E00"), align="left", bgcolor="rgba(255,255,255,0.8)")
    fig.update_xaxes(title="tokens per example")
    fig.update_yaxes(title="examples")
    return style(fig, title, height, legend=False)


def class_balance(counts: Mapping[str, int], title: str | None = None, height: int | None = None) -> go.Figure:
    """Examples per class, with percentages."""
    names = list(counts)
    values = [int(counts[n]) for n in names]
    total = max(1, sum(values))
    fig = go.Figure(go.Bar(x=names, y=values, marker_color=[class_color(n, i) for i, n in enumerate(names)],
                           text=[f"{v:,}<br>({v / total:.0%})" for v in values], textposition="outside",
                           cliponaxis=False, hovertemplate="%{x}: %{y:,}<extra></extra>"))
    fig.update_yaxes(title="examples", range=[0, max(values + [1]) * 1.3])
    return style(fig, title, height or 320, legend=False)


# ---------------------------------------------------------------- models


def parameter_bars(rows: Sequence, title: str | None = None, height: int | None = None) -> go.Figure:
    """Parameters per layer (``ParamRow``s or dicts with layer/count/formula)."""
    def get(r, k):
        return r[k] if isinstance(r, Mapping) else getattr(r, k)

    layers = [get(r, "layer") for r in rows]
    counts = [int(get(r, "count")) for r in rows]
    total = max(1, sum(counts))
    fig = go.Figure(go.Bar(
        x=counts, y=layers, orientation="h", marker_color=[cell_color(l, i) if "layer" in l else "#9FB3C8"
                                                           for i, l in enumerate(layers)],
        text=[f"{c:,} ({c / total:.0%})" for c in counts], textposition="outside", cliponaxis=False,
        customdata=[get(r, "formula") for r in rows], hovertemplate="%{y}<br>%{x:,}<br>%{customdata}<extra></extra>"))
    fig.update_xaxes(title="parameters", range=[0, max(counts + [1]) * 1.7])
    fig.update_yaxes(autorange="reversed")
    return style(fig, title, height or 90 + 40 * len(rows), legend=False)


# ---------------------------------------------------------------- explanations


def trajectory(tokens: Sequence[str], probabilities: Mapping[str, Sequence[float]], title: str | None = None,
               height: int = 340) -> go.Figure:
    """The predicted probability of each class after reading each token (prefix predictions)."""
    if not tokens:
        return empty("Type a sentence to see how the prediction evolves word by word.", height)
    x, names = _positions(tokens)
    fig = go.Figure()
    for i, (label, values) in enumerate(probabilities.items()):
        fig.add_trace(go.Scatter(x=x, y=list(values), mode="lines+markers", name=label,
                                 line=dict(color=class_color(label, i), width=LINE_WIDTH), marker=dict(size=9),
                                 customdata=names, hovertemplate=f"after '%{{customdata}}'<br>{label} %{{y:.2f}}<extra></extra>"))
    fig.add_hline(y=0.5, line=dict(color="#9AA5B1", dash="dot"))
    fig.update_xaxes(tickmode="array", tickvals=x, ticktext=names, tickangle=-40 if len(x) > 8 else 0,
                     title="reading position")
    fig.update_yaxes(title="probability", range=[0, 1], tickformat=".0%")
    return style(fig, title, height)


def word_scores(tokens: Sequence[str], scores: Mapping[str, Sequence[float]], title: str | None = None,
                y_title: str = "score", height: int = 340) -> go.Figure:
    """A score per class after each word (a bidirectional model's forward-reading scores): words on
    the x axis, one line per class in the class colours, 0 dotted."""
    if not tokens:
        return empty("Type a sentence to see how the scores evolve word by word.", height)
    x, names = _positions(tokens)
    fig = go.Figure()
    for i, (label, values) in enumerate(scores.items()):
        fig.add_trace(go.Scatter(x=x, y=list(values), mode="lines+markers", name=label,
                                 line=dict(color=class_color(label, i), width=LINE_WIDTH), marker=dict(size=9),
                                 customdata=names,
                                 hovertemplate=f"after '%{{customdata}}'<br>{label} %{{y:.2f}}<extra></extra>"))
    fig.add_hline(y=0, line=dict(color="#9AA5B1", dash="dot"))
    fig.update_xaxes(tickmode="array", tickvals=x, ticktext=names, tickangle=-40 if len(x) > 8 else 0,
                     title="reading position")
    fig.update_yaxes(title=y_title)
    return style(fig, title, height)


def attribution_bars(tokens: Sequence[str], scores: Sequence[float], title: str | None = None,
                     height: int = 300, value_name: str = "attribution") -> go.Figure:
    """Signed per-token scores as bars: green pushes towards the predicted class, red against."""
    if not tokens:
        return empty("Nothing to attribute.", height)
    x, names = _positions(tokens)
    s = np.asarray(scores, dtype=float)
    fig = go.Figure(go.Bar(x=x, y=s, marker_color=[POSITIVE_COLOR if v >= 0 else NEGATIVE_COLOR for v in s],
                           customdata=names, hovertemplate=f"%{{customdata}}: {value_name} %{{y:.3f}}<extra></extra>"))
    fig.update_xaxes(tickmode="array", tickvals=x, ticktext=names, tickangle=-40 if len(x) > 8 else 0)
    fig.update_yaxes(title=value_name, zeroline=True, zerolinewidth=2)
    return style(fig, title, height, legend=False)


UNKNOWN_STYLE = "text-decoration: underline dotted #52606D; text-underline-offset: 4px; font-style: italic;"


def token_html(tokens: Sequence[str], scores: Sequence[float] | None = None, max_abs: float | None = None,
               positive: str = "30,132,73", negative: str = "192,57,43", size_px: int = 22,
               unknown: Sequence[bool] | None = None) -> str:
    """Tokens as inline HTML spans shaded by signed score (green +, red -), with the score in a
    tooltip; words the vocabulary does not know (read as ``<unk>``) are dotted-underlined and
    italic. Safe: tokens are HTML-escaped.

    Args:
        tokens: the tokens the model read.
        scores: one signed score per token (None: unshaded chips, e.g. a tokenizer preview).
        max_abs: the score drawn at full colour (default: the largest magnitude).
        positive, negative: RGB triples for the two signs.
        size_px: font size.
        unknown: per token, whether the vocabulary maps it to ``<unk>``.
    """
    s = np.asarray(scores, dtype=float) if scores is not None and len(scores) else np.zeros(len(tokens))
    top = float(max_abs if max_abs else (np.nanmax(np.abs(s)) if s.size else 1.0)) or 1.0
    flags = list(unknown) if unknown is not None else [False] * len(tokens)
    spans = []
    for token, value, unk in zip(tokens, s, flags):
        alpha = 0.0 if not math.isfinite(value) else min(1.0, abs(value) / top)
        rgb = positive if value >= 0 else negative
        text_color = "#ffffff" if alpha > 0.55 else "#1F2933"
        tip = f"{token}: {value:+.3f}" if scores is not None else str(token)
        if unk:
            tip += " (unknown word: read as <unk>)"
        spans.append(
            f"<span title='{html.escape(tip)}' style='background: rgba({rgb},{alpha:.2f}); "
            f"color:{text_color}; padding:3px 6px; margin:2px; border-radius:6px; display:inline-block; "
            f"line-height:1.6; border:1px solid #D9E2EC; {UNKNOWN_STYLE if unk else ''}'>{html.escape(str(token))}</span>")
    return f"<div class='gs-tokens' style='font-size:{size_px}px; line-height:2.1'>{''.join(spans)}</div>"


def color_legend_html(positive_label: str = "supports the prediction", negative_label: str = "works against it") -> str:
    """A small legend for ``token_html``."""
    return (f"<div style='font-size:15px; color:#52606D'>"
            f"<span style='background:rgba(30,132,73,0.8); color:white; padding:2px 8px; border-radius:6px'>green</span> "
            f"{html.escape(positive_label)} &nbsp; "
            f"<span style='background:rgba(192,57,43,0.8); color:white; padding:2px 8px; border-radius:6px'>red</span> "
            f"{html.escape(negative_label)}; stronger colour = larger effect</div>")


# ---------------------------------------------------------------- gradients


def connectivity(distances: Sequence[int], values: Mapping[str, Sequence[float]], title: str | None = None,
                 height: int = 380, log: bool = True, y_title: str = "‖∂ output / ∂ input at distance d‖") -> go.Figure:
    """Gradient magnitude reaching a token d steps back, one line per cell type (log y)."""
    if not values:
        return empty("Nothing measured yet.", height)
    fig = go.Figure()
    for i, (name, ys) in enumerate(values.items()):
        ys = np.asarray(ys, dtype=float)
        ys = np.where(ys > 0, ys, np.nan) if log else ys
        fig.add_trace(go.Scatter(x=list(distances), y=ys, mode="lines+markers", name=name,
                                 line=dict(color=cell_color(name, i), width=LINE_WIDTH), marker=dict(size=7)))
    fig.update_xaxes(title="distance d (tokens back from the end)")
    fig.update_yaxes(title=y_title, type="log" if log else "linear", exponentformat="power")
    return style(fig, title, height)


def accuracy_vs_distance(results: Mapping[str, Mapping[int, float]], title: str | None = None,
                         height: int = 360) -> go.Figure:
    """Test accuracy by cue distance, one line per cell (the long-range experiment)."""
    if not results:
        return empty("Run the experiment to fill this chart.", height)
    fig = go.Figure()
    for i, (name, by_distance) in enumerate(results.items()):
        xs = sorted(by_distance)
        fig.add_trace(go.Scatter(x=xs, y=[by_distance[d] for d in xs], mode="lines+markers", name=name,
                                 line=dict(color=cell_color(name, i), width=LINE_WIDTH), marker=dict(size=11)))
    fig.add_hline(y=0.5, line=dict(color="#9AA5B1", dash="dot"), annotation_text="coin flip",
                  annotation_position="bottom right")
    fig.update_xaxes(title="distance between the cue word and the end", dtick=None)
    fig.update_yaxes(title="test accuracy", range=[0.3, 1.05], tickformat=".0%")
    return style(fig, title, height)


def gate_means(gates: Mapping[str, np.ndarray], activations: Mapping[str, str] | None = None) -> dict[str, np.ndarray]:
    """Per-token mean over units of each gate, mapped to 0..1 for one shared colour scale.

    Sigmoid gates are already in 0..1; tanh values (LSTM ``cell_candidate``, GRU ``new``)
    are mapped with (x+1)/2; unbounded values (plain RNN pre-activation) go through tanh first.
    """
    out = {}
    for name, values in gates.items():
        v = np.asarray(values, dtype=float)  # (T, H)
        kind = (activations or {}).get(name, "sigmoid")
        if kind == "tanh":
            v = (v + 1.0) / 2.0
        elif kind == "none":
            v = (np.tanh(v) + 1.0) / 2.0
        out[name] = v.mean(axis=1) if v.ndim == 2 else v
    return out


def accuracy_vs_parameters(rows: Sequence[Mapping], metric: str = "test acc", title: str | None = None,
                           height: int = 420) -> go.Figure:
    """The class gallery's chart: one point per run, accuracy against parameter count (log
    scale), coloured by cell; bidirectional runs are diamonds.

    Args:
        rows: ``classroom.gallery_rows`` dicts (``cell``, ``params``, ``metric``, ``nickname``, ``model``, ``run``).
        metric: ``"test acc"`` or ``"val acc"``.
    """
    points = [r for r in rows if r.get(metric) is not None and r.get("params")]
    if not points:
        return empty("Finished runs appear here: accuracy against size, one dot per run.", height)
    fig = go.Figure()
    for i, cell in enumerate(sorted({str(r.get("cell") or "?") for r in points})):
        mine = [r for r in points if str(r.get("cell") or "?") == cell]
        fig.add_trace(go.Scatter(
            x=[r["params"] for r in mine], y=[r[metric] for r in mine], mode="markers", name=cell.upper(),
            marker=dict(size=15, color=cell_color(cell, i), line=dict(color="white", width=1.5),
                        symbol=["diamond" if r.get("bidirectional") else "circle" for r in mine]),
            customdata=[[r.get("nickname", ""), r.get("model", ""), r.get("run", "")] for r in mine],
            hovertemplate="<b>%{customdata[0]}</b> · %{customdata[1]}<br>%{x:,} parameters<br>"
                          f"{metric} %{{y:.1%}}<br>%{{customdata[2]}}<extra></extra>"))
    fig.update_xaxes(title="parameters (log scale)", type="log")
    fig.update_yaxes(title=metric.replace("acc", "accuracy").replace("val", "validation"), tickformat=".0%")
    return style(fig, title, height)
