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

from .text import plain

FONT_SIZE = 17
TITLE_SIZE = 21
FONT_FAMILY = "Inter, 'Source Sans Pro', 'Helvetica Neue', Arial, sans-serif"
LINE_WIDTH = 3

# Okabe-Ito based palette (colour-blind safe).
CELL_COLORS = {"rnn": "#D55E00", "lstm": "#0072B2", "gru": "#009E73"}
SPLIT_COLORS = {"train": "#0072B2", "validation": "#E69F00", "test": "#CC79A7"}
SEQUENCE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]
NEGATIVE_COLOR, POSITIVE_COLOR, NEUTRAL_COLOR = "#C0392B", "#1E8449", "#7F8C8D"
# Attributions (integrated gradients, saliency, occlusion, what-if) always read "towards / away from
# the explained class": purple towards, orange away. Neither is a class colour, so a purple word means
# the same on every chart whichever class is explained.
TOWARDS_RGB, AWAY_RGB = "94,60,153", "230,97,1"
TOWARDS_COLOR, AWAY_COLOR = f"rgb({TOWARDS_RGB})", f"rgb({AWAY_RGB})"
TOWARDS_NAME, AWAY_NAME = "purple", "orange"  # how captions and legends name them
# Signed states (hidden h, cell c, tanh candidates): blue below zero, brown above; not a class palette
# (red/green mean negative/positive only) and not the attribution palette.
STATE_SCALE = [[0.0, "#2166AC"], [0.25, "#92C5DE"], [0.5, "#F7F7F7"], [0.75, "#DFC27D"], [1.0, "#8C510A"]]
STATE_NEGATIVE_RGB, STATE_POSITIVE_RGB = "33,102,172", "140,81,10"  # the scale's ends, for token chips
# unsigned weights and sizes (attention, gradient norms): slate, since they push no way
WEIGHT_RGB = "82,96,109"
WEIGHT_COLOR = f"rgb({WEIGHT_RGB})"
# correct / wrong predictions (the projector): neither a class nor an attribution colour
CORRECT_COLOR, WRONG_COLOR = "#56B4E9", "#1F2933"
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


_GRID, _INK = "#EBF0F8", "#2a3f5f"
_AXIS = dict(gridcolor=_GRID, linecolor=_GRID, ticks="", title=dict(standoff=15), zerolinecolor=_GRID,
             zerolinewidth=2, automargin=True)
# Plotly's "plotly_white" look, cut to what 2-D bar, heatmap and line charts read. The full template
# describes 24 trace types: Plotly validated and copied it into every figure (about 12 ms a chart)
# and sent 7 KB of it with each one. Fonts, legend and colours stay in each figure's own layout:
# Streamlit's chart theme overrides a template's.
HOUSE_TEMPLATE = go.layout.Template(
    layout=dict(autotypenumbers="strict", paper_bgcolor="white", plot_bgcolor="white", hovermode="closest",
                hoverlabel=dict(align="left"), xaxis=_AXIS, yaxis=_AXIS,
                coloraxis=dict(colorbar=dict(outlinewidth=0, ticks="")), shapedefaults=dict(line=dict(color=_INK)),
                annotationdefaults=dict(arrowcolor=_INK, arrowhead=0, arrowwidth=1)),
    data=dict(bar=[dict(marker=dict(line=dict(color="white", width=0.5)))],
              heatmap=[dict(colorbar=dict(outlinewidth=0, ticks=""))],
              scattergl=[dict(marker=dict(colorbar=dict(outlinewidth=0, ticks="")))]),
)


MODEBAR_CLEARANCE = 30  # px: a title's top sits under the camera button, which floats over the top right
LEGEND_STRIP_TOP = MODEBAR_CLEARANCE + 28  # px: a legend strip under a title
SUBPLOT_TITLE_STRIP = 24  # px: top-row subplot titles sit above their panels, under the figure's title


def style(fig: go.Figure, title: str | None = None, height: int | None = None, legend: bool = True) -> go.Figure:
    """Apply the projector-friendly house style."""
    full_height = height or fig.layout.height or 450  # Plotly's and Streamlit's default height
    fig.update_layout(
        template=HOUSE_TEMPLATE,
        font=dict(family=FONT_FAMILY, size=FONT_SIZE, color="#1F2933"),
        title=dict(text=title, font=dict(size=TITLE_SIZE), x=0.0, xanchor="left", yref="container",
                   y=1 - MODEBAR_CLEARANCE / full_height, yanchor="top") if title else None,
        margin=dict(l=10, r=10, t=MODEBAR_CLEARANCE + 36 + (SUBPLOT_TITLE_STRIP if _top_row_titles(fig) else 0)
                    if title else 20, b=10),
        legend=dict(orientation="h", yanchor="bottom", y=1.02, xanchor="right", x=1.0, font=dict(size=FONT_SIZE - 1)),
        showlegend=legend,
        hoverlabel=dict(font_size=FONT_SIZE - 1),
        colorway=SEQUENCE,
    )
    if height:
        fig.update_layout(height=height)
    if title and legend:  # the legend in its own strip under the title, never over it
        fig.update_layout(legend=dict(yref="container", y=1 - LEGEND_STRIP_TOP / full_height,
                                      yanchor="top"), margin=dict(t=LEGEND_STRIP_TOP + 50))
    fig.update_xaxes(title_font=dict(size=FONT_SIZE), tickfont=dict(size=FONT_SIZE - 2), automargin=True)
    fig.update_yaxes(title_font=dict(size=FONT_SIZE), tickfont=dict(size=FONT_SIZE - 2), automargin=True)
    return fig


def _top_row_titles(fig: go.Figure) -> bool:
    """Whether ``make_subplots`` put titles above the top row (annotations standing on the plot's top edge)."""
    return any(a.yref == "paper" and a.yanchor == "bottom" and a.y is not None and a.y >= 0.999
               for a in fig.layout.annotations)


def legend_above_subplots(fig: go.Figure, title: str | None) -> go.Figure:
    """Move the legend into its own strip above the subplot titles (and under the figure's
    title), so it never covers them."""
    top = LEGEND_STRIP_TOP if title else 4  # pixels from the top of the figure
    fig.update_layout(legend=dict(yref="container", y=1 - top / (fig.layout.height or 450), yanchor="top"),
                      margin=dict(t=top + 74))
    return fig


def chart_text(text: object) -> str:
    """User text (a token, class, run or nickname) as Plotly shows it: Plotly reads a few HTML tags
    (``<a href>``, ``<b>``, ``<br>``) and entities in titles, ticks, legends and hover text, so ``&``,
    ``<`` and ``>`` are escaped."""
    return html.escape(str(text), quote=False)


def _positions(tokens: Sequence[str]) -> tuple[list[int], list[str]]:
    return list(range(len(tokens))), [chart_text(t) for t in tokens]


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
        x=values, y=[chart_text(n) for n in names], orientation="h",
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
    models = [chart_text(r["model"]) for r in rows]
    for i, label in enumerate(label_names):
        values = [float(r["probabilities"].get(label, 0.0)) for r in rows]
        fig.add_trace(go.Bar(x=values, y=models, name=chart_text(label), orientation="h",
                             marker_color=class_color(label, i),
                             text=[f"{v:.0%}" if v >= 0.08 else "" for v in values], textposition="inside",
                             hovertemplate=f"{chart_text(label)}: %{{x:.3f}}<extra>%{{y}}</extra>"))
    fig.update_layout(barmode="stack", legend_traceorder="normal")  # the legend in the bars' order
    fig.update_xaxes(range=[0, 1], tickformat=".0%")
    fig.update_yaxes(autorange="reversed")
    return style(fig, None, height or 90 + 44 * len(rows))


# ---------------------------------------------------------------- heatmaps


HEATMAP_WRAP = 50  # tokens per heatmap line: a long review wraps onto several lines, like text


def heatmap(values: np.ndarray, tokens: Sequence[str], row_labels: Sequence[str] | None = None,
            title: str | None = None, zmin: float | None = None, zmax: float | None = None,
            colorscale: str | list = SEQUENTIAL, colorbar_title: str = "", height: int | None = None,
            value_name: str = "value", colorbar_ticks: Mapping[float, str] | None = None,
            colorbar_on_top: bool = False) -> go.Figure:
    """Rows x tokens heatmap (units or gates on the y axis, tokens in reading order on x).

    Texts longer than ``HEATMAP_WRAP`` tokens wrap onto several stacked panels that share one
    colour scale, so every cell stays wide enough to see and every word label readable.

    Args:
        values: (R, T) array.
        tokens: T token strings.
        row_labels: R labels (default ``unit 0`` ...).
        zmin, zmax: colour range (fix it so heatmaps are comparable: sigmoid gates 0..1,
            tanh states -1..1; default: the data's range, shared by every panel).
        colorbar_on_top: a short horizontal colour bar above the chart, leaving the full width to
            the tokens (for narrow columns and phones).
    """
    values = np.asarray(values, dtype=float)
    if values.ndim != 2 or values.size == 0:
        return empty("Nothing to show: type a sentence with at least one word.")
    rows = list(row_labels) if row_labels is not None else [f"unit {i}" for i in range(values.shape[0])]
    if len(set(rows)) < len(rows):  # the rows are categories: keep them distinct
        rows = [f"{label} ({i})" for i, label in enumerate(rows)]
    names = [str(t) for t in tokens]
    if zmin is None or zmax is None:
        finite = values[np.isfinite(values)]
        zmin = float(finite.min()) if zmin is None and finite.size else zmin
        zmax = float(finite.max()) if zmax is None and finite.size else zmax
    lines = [range(start, min(start + HEATMAP_WRAP, len(names))) for start in range(0, len(names), HEATMAP_WRAP)]
    show_rows = len(rows) <= 40
    rotate = any(len(line) > 8 for line in lines)
    fig = make_subplots(rows=len(lines), cols=1, vertical_spacing=min(0.12, 0.35 / len(lines)),
                        subplot_titles=[f"words {line[0] + 1}–{line[-1] + 1} of {len(names)}" for line in lines]
                        if len(lines) > 1 else None)
    for panel, line in enumerate(lines, start=1):
        # Categorical axes named "position · token": the hover reads %{x} and %{y}, so no per-cell
        # label arrays travel to the browser (they were two R x T string arrays, most of the payload).
        x = [f"{i} · {names[i]}" for i in line]
        fig.add_trace(go.Heatmap(
            z=values[:, line.start:line.stop].astype(np.float32), x=x, y=rows, zmin=zmin, zmax=zmax,
            colorscale=colorscale, showscale=panel == 1,  # f4: half the bytes
            hovertemplate=f"token %{{x}}<br>%{{y}}<br>{value_name} %{{z:.3f}}<extra></extra>",
            colorbar=dict(thickness=12 if colorbar_on_top else 16, tickfont=dict(size=FONT_SIZE - 3),
                          **(dict(orientation="h", x=0.5, xanchor="center", y=1.0, yanchor="bottom", len=0.6,
                                  title=dict(text="")) if colorbar_on_top else
                             dict(len=1.0 if len(lines) == 1 else min(1.0, 1.6 / len(lines)), y=1.0, yanchor="top",
                                  title=dict(text=colorbar_title, side="right"))),
                          **({"tickvals": list(colorbar_ticks), "ticktext": list(colorbar_ticks.values())}
                             if colorbar_ticks else {})),
            xgap=1, ygap=1 if show_rows else 0), row=panel, col=1)
        fig.update_xaxes(type="category", tickmode="array", tickvals=x, ticktext=names[line.start:line.stop],
                         tickangle=-40 if rotate else None, showgrid=False,
                         range=[-0.5, HEATMAP_WRAP - 0.5] if len(lines) > 1 else None, row=panel, col=1)
        fig.update_yaxes(type="category", tickmode="array", tickvals=rows if show_rows else [],
                         ticktext=rows if show_rows else [], autorange="reversed", showgrid=False,
                         title="units (rows)" if not show_rows else None, row=panel, col=1)
    if len(lines) > 1:
        fig.update_annotations(font_size=FONT_SIZE - 3, xanchor="left", x=0.0)
    row_px = (26 if len(lines) == 1 else 18) if show_rows else 6
    per_panel = 70 + row_px * len(rows) + (60 if rotate else 30)
    h = height or int(min(900, max(220, per_panel)) if len(lines) == 1 else per_panel * len(lines) + 40)
    fig = style(fig, title, h, legend=False)
    if colorbar_on_top:
        fig.update_layout(margin=dict(t=(60 if title else 0) + 56))
    return fig


GATE_TICKS = {0.0: "0 = closed", 0.5: "0.5", 1.0: "1 = open"}  # colour bars of sigmoid gates
RESCALED_TICKS = {0.0: "−1", 0.5: "0", 1.0: "+1"}  # a plain RNN's tanh value, drawn on the gates' 0..1 scale


def gate_overview(gates: Mapping[str, Sequence[float]], tokens: Sequence[str], title: str | None = None,
                  height: int | None = None, gated: bool = True) -> go.Figure:
    """One row per gate (its mean over units) by token: the Home page's at-a-glance view, with a
    short colour bar above the chart so the tokens keep the full width on a phone.

    Args:
        gates: gate name -> (T,) mean activation (sigmoid gates 0..1; ``g``/``n``/``h``
            candidates -1..1 are rescaled to 0..1 for the shared colour scale).
        tokens: the T tokens.
        gated: label the colour bar "0 = closed … 1 = open" (False for a plain RNN, whose row is
            its tanh value: the bar reads −1 … +1).
    """
    names = list(gates)
    if not names or not tokens:
        return empty("Type a sentence to see the gates open and close.")
    z = np.asarray([np.asarray(gates[n], dtype=float) for n in names])
    return heatmap(z, tokens, [n.replace("_", " ") for n in names], title, 0.0, 1.0, SEQUENTIAL,
                   "mean" if gated else "tanh",
                   height or 150 + 44 * len(names), value_name="mean activation" if gated else "rescaled tanh value",
                   colorbar_ticks=GATE_TICKS if gated else RESCALED_TICKS, colorbar_on_top=True)


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
    return legend_above_subplots(style(fig, title, height), title)


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
    return legend_above_subplots(style(fig, title, height), title)


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
        z=share, x=[chart_text(n) for n in labels], y=[chart_text(n) for n in labels], text=text, texttemplate="%{text}",
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
    # on the side of the line with more room: past the middle of the axis, the text went off the plot
    right = max_len > 0.5 * max(float(arr.max()), max_len)
    fig.add_annotation(x=max_len, y=1, yref="paper", xanchor="right" if right else "left", showarrow=False,
                       text=f"max_len = {max_len} <br>keeps {covered:.1%} uncut " if right else
                       f" max_len = {max_len}<br> keeps {covered:.1%} uncut",
                       font=dict(size=FONT_SIZE, color="#D55E00"), align="right" if right else "left",
                       bgcolor="rgba(255,255,255,0.8)")
    fig.update_xaxes(title="tokens per example")
    fig.update_yaxes(title="examples")
    return style(fig, title, height, legend=False)


def class_balance(counts: Mapping[str, int], title: str | None = None, height: int | None = None) -> go.Figure:
    """Examples per class, with percentages."""
    names = list(counts)
    values = [int(counts[n]) for n in names]
    total = max(1, sum(values))
    fig = go.Figure(go.Bar(x=[chart_text(n) for n in names], y=values,
                           marker_color=[class_color(n, i) for i, n in enumerate(names)],
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
        # inside the long bars, outside the short ones: no label runs past a narrow column's edge
        text=[f"{c:,} ({c / total:.0%})" for c in counts], textposition="auto", insidetextanchor="end",
        cliponaxis=False,
        customdata=[get(r, "formula") for r in rows], hovertemplate="%{y}<br>%{x:,}<br>%{customdata}<extra></extra>"))
    fig.update_xaxes(title="parameters", range=[0, max(counts + [1]) * 1.25])
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
        fig.add_trace(go.Scatter(x=x, y=list(values), mode="lines+markers", name=chart_text(label),
                                 line=dict(color=class_color(label, i), width=LINE_WIDTH), marker=dict(size=9),
                                 customdata=names,
                                 hovertemplate=f"after '%{{customdata}}'<br>{chart_text(label)} %{{y:.2f}}<extra></extra>"))
    fig.add_hline(y=0.5, line=dict(color="#9AA5B1", dash="dot"))
    fig.update_xaxes(tickmode="array", tickvals=x, ticktext=names, tickangle=-40 if len(x) > 8 else None,
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
        fig.add_trace(go.Scatter(x=x, y=list(values), mode="lines+markers", name=chart_text(label),
                                 line=dict(color=class_color(label, i), width=LINE_WIDTH), marker=dict(size=9),
                                 customdata=names,
                                 hovertemplate=f"after '%{{customdata}}'<br>{chart_text(label)} %{{y:.2f}}<extra></extra>"))
    fig.add_hline(y=0, line=dict(color="#9AA5B1", dash="dot"))
    fig.update_xaxes(tickmode="array", tickvals=x, ticktext=names, tickangle=-40 if len(x) > 8 else None,
                     title="reading position")
    fig.update_yaxes(title=y_title)
    return style(fig, title, height)


ATTRIBUTION_BAR_LIMIT = 30  # longer texts show their largest effects only, so every word label stays readable


def attribution_bars(tokens: Sequence[str], scores: Sequence[float], title: str | None = None,
                     height: int | None = None, value_name: str = "attribution",
                     target: str | None = None, magnitude: bool = False) -> go.Figure:
    """Signed per-token scores as horizontal bars in reading order (top to bottom): purple pushes
    towards the explained class, orange away from it, the same on every attribution chart.

    Args:
        tokens: the T tokens.
        scores: (T,) signed scores, positive = towards ``target``.
        value_name: what a score is (axis and hover).
        target: the explained class, named on the axis ("← away · towards X →").
        magnitude: unsigned sizes (e.g. gradient norms): one neutral colour, no towards/away.

    Texts longer than ``ATTRIBUTION_BAR_LIMIT`` tokens show the words with the largest effects,
    still in reading order, each labelled with its position.
    """
    if not tokens:
        return empty("Nothing to attribute.", height or 300)
    s = np.asarray(scores, dtype=float)
    keep = np.arange(len(tokens))
    if len(tokens) > ATTRIBUTION_BAR_LIMIT:
        keep = np.sort(np.argsort(-np.abs(np.nan_to_num(s)), kind="stable")[:ATTRIBUTION_BAR_LIMIT])
        title = f"{title or value_name} · the {ATTRIBUTION_BAR_LIMIT} largest of {len(tokens)} words"
    labels = [chart_text(f"{tokens[i]} #{i}" if len(tokens) > ATTRIBUTION_BAR_LIMIT else tokens[i]) for i in keep]
    y = list(range(len(keep)))
    towards = f"towards {target}" if target else "towards"
    away = f"away from {target}" if target else "away"
    colours = [WEIGHT_COLOR] * len(keep) if magnitude else [TOWARDS_COLOR if v >= 0 else AWAY_COLOR for v in s[keep]]
    fig = go.Figure(go.Bar(
        x=s[keep], y=y, orientation="h", marker_color=colours,
        customdata=[[lab, towards if v >= 0 else away] for lab, v in zip(labels, s[keep])],
        hovertemplate=f"%{{customdata[0]}}: {value_name} %{{x:+.3f}} (%{{customdata[1]}})<extra></extra>"))
    fig.update_yaxes(tickmode="array", tickvals=y, ticktext=labels, autorange="reversed", showgrid=False)
    # two short lines, so neither arrow is cut in a third of a 1280 px page: "← away · towards →" / "negative"
    fig.update_xaxes(title=value_name if magnitude else attribution_axis_title(target), zeroline=True, zerolinewidth=2,
                     zerolinecolor="#52606D")
    return style(fig, title, height or int(110 + 26 * len(keep)), legend=False)


def attribution_axis_title(target: str | None = None) -> str:
    """The attribution axis title, "← away · towards →" over the explained class, both arrows on a
    line of their own that fits a third of a 1280 px page."""
    return "← away · towards →" + (f"<br>{chart_text(target)}" if target else "")


UNKNOWN_STYLE = "text-decoration: underline dotted #52606D; text-underline-offset: 4px; font-style: italic;"


def token_html(tokens: Sequence[str], scores: Sequence[float] | None = None, max_abs: float | None = None,
               positive: str = TOWARDS_RGB, negative: str = AWAY_RGB, size_px: int = 22,
               unknown: Sequence[bool] | None = None) -> str:
    """Tokens as inline HTML spans shaded by signed score (purple towards, orange away), with the score in a
    tooltip; words the vocabulary does not know (read as ``<unk>``) are dotted-underlined and
    italic. Safe for ``st.markdown(..., unsafe_allow_html=True)``: tokens pass through ``text.plain``.

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
            f"<span title='{plain(tip)}' style='background: rgba({rgb},{alpha:.2f}); "
            f"color:{text_color}; padding:3px 6px; margin:2px; border-radius:6px; display:inline-block; "
            f"line-height:1.6; border:1px solid #D9E2EC; {UNKNOWN_STYLE if unk else ''}'>{plain(token)}</span>")
    return f"<div class='gs-tokens' style='font-size:{size_px}px; line-height:2.1'>{''.join(spans)}</div>"


def color_legend_html(target: str | None = None) -> str:
    """The legend of ``token_html`` and ``attribution_bars``: purple towards ``target``, orange away."""
    towards = f"pushes towards {target}" if target else "pushes towards the class"
    away = f"pushes away from {target}" if target else "pushes away from it"
    return (f"<div style='font-size:15px; color:#52606D'>"
            f"<span style='background:{TOWARDS_COLOR}; color:white; padding:2px 8px; border-radius:6px'>"
            f"{TOWARDS_NAME}</span> {plain(towards)} &nbsp; "
            f"<span style='background:{AWAY_COLOR}; color:white; padding:2px 8px; border-radius:6px'>"
            f"{AWAY_NAME}</span> "
            f"{plain(away)}; stronger colour = larger effect</div>")


def verdict_html(label: str, probability: float | None = None, font_size: str | None = None) -> str:
    """A predicted class in large type, in its class colour, for ``st.markdown(..., unsafe_allow_html=True)``.

    Safe: the colour is one of the palette's constants (``class_color``) and the label passes through
    ``text.plain``.

    Args:
        label: the class name (any text: class names come from uploads).
        probability: shown after it as "(87% sure)" when given.
        font_size: a CSS size from the caller's code (e.g. ``"1.5rem"``), never user text.

    Returns:
        One ``<div class='gs-verdict'>``.
    """
    size = f";font-size:{font_size}" if font_size else ""
    sure = (f" <span style='font-size:1.2rem;color:#52606D'>({probability:.0%} sure)</span>"
            if probability is not None else "")
    return (f"<div class='gs-verdict' style='color:{class_color(label)}{size}'>"
            f"{plain(str(label).capitalize())}{sure}</div>")


def state_legend_html(what: str = "the unit's hidden value") -> str:
    """The legend of ``token_html`` chips shaded by a state (``STATE_*_RGB``): brown above 0, blue below."""
    return (f"<div style='font-size:15px; color:#52606D'>"
            f"<span style='background:rgb({STATE_POSITIVE_RGB}); color:white; padding:2px 8px; border-radius:6px'>brown</span> "
            f"{plain(what)} above 0 &nbsp; "
            f"<span style='background:rgb({STATE_NEGATIVE_RGB}); color:white; padding:2px 8px; border-radius:6px'>blue</span> "
            f"below 0; stronger colour = further from 0</div>")


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
            customdata=[[chart_text(r.get(k, "")) for k in ("nickname", "model", "run")] for r in mine],
            hovertemplate="<b>%{customdata[0]}</b> · %{customdata[1]}<br>%{x:,} parameters<br>"
                          f"{metric} %{{y:.1%}}<br>%{{customdata[2]}}<extra></extra>"))
    fig.update_xaxes(title="parameters (log scale)", type="log")
    fig.update_yaxes(title=metric.replace("acc", "accuracy").replace("val", "validation"), tickformat=".0%")
    return style(fig, title, height)


# ---------------------------------------------------------------- gate surgery, memory, the unrolled network

STATE_EMPTY = "#E4E7EB"  # a cell not computed yet (the unrolled network's animation)


def difference_heatmap(values: np.ndarray, tokens: Sequence[str], row_labels: Sequence[str] | None = None,
                       title: str | None = None, value_name: str = "Δ") -> go.Figure:
    """Rows x tokens of a change (after minus before), on a diverging scale centred on 0.

    Args:
        values: (R, T) differences.
        tokens: T token strings.
        row_labels: R labels (default ``unit 0`` ...).
    """
    values = np.asarray(values, dtype=float)
    bound = float(np.abs(values).max()) if values.size else 0.0
    bound = bound if bound > 0 else 1.0
    # a change of state reads like a state (blue below zero, brown above); purple/orange stay attributions
    return heatmap(values, tokens, row_labels, title, -bound, bound, STATE_SCALE, value_name, value_name=value_name)


def prediction_before_after(tokens: Sequence[str], before: Mapping[str, Sequence[float]],
                            after: Mapping[str, Sequence[float]], title: str | None = None, y_title: str = "probability",
                            probability: bool = True, height: int = 360) -> go.Figure:
    """The prediction after each word, before (dotted) and after (solid) an intervention, one
    colour per class."""
    if not tokens:
        return empty("Type a sentence to see the prediction word by word.", height)
    x, names = _positions(tokens)
    fig = go.Figure()
    for i, label in enumerate(after):
        color = class_color(label, i)
        for kind, values, dash in (("before", before[label], "dot"), ("after", after[label], "solid")):
            fig.add_trace(go.Scatter(
                x=x, y=list(values), mode="lines+markers", name=f"{label} · {kind}", customdata=names,
                line=dict(color=color, width=LINE_WIDTH if kind == "after" else 2, dash=dash),
                marker=dict(size=9 if kind == "after" else 6, symbol="circle" if kind == "after" else "circle-open"),
                hovertemplate=f"after '%{{customdata}}'<br>{label} ({kind}) %{{y:.2f}}<extra></extra>"))
    fig.add_hline(y=0.5 if probability else 0.0, line=dict(color="#9AA5B1", dash="dot"))
    fig.update_xaxes(tickmode="array", tickvals=x, ticktext=names, tickangle=-40 if len(x) > 8 else 0,
                     title="reading position")
    fig.update_yaxes(title=y_title, **({"range": [0, 1], "tickformat": ".0%"} if probability else {}))
    return style(fig, title, height)


def memory_ribbons(rows: Sequence[Mapping], title: str | None = None, height: int | None = None) -> go.Figure:
    """One ribbon per model over its own tokens: the thicker, the more of what the word wrote
    survives to the end of the reading.

    Args:
        rows: dicts with ``label`` (e.g. ``LSTM``), ``cell``, ``tokens`` (T,), ``total`` (T,) and
            ``measure`` (what the number is).
    """
    rows = [r for r in rows if len(r["tokens"])]
    if not rows:
        return empty("Type a sentence to see how long each word is remembered.")
    fig = make_subplots(rows=len(rows), cols=1, shared_xaxes=False, vertical_spacing=0.16 if len(rows) > 1 else 0,
                        subplot_titles=[f"{r['label']}: {r['measure']}" for r in rows])
    for k, row in enumerate(rows, start=1):
        x, names = _positions(row["tokens"])
        total = np.asarray(row["total"], dtype=float)
        width = np.clip(total, 0.0, 1.0) * 0.45  # half-thickness; 1 = everything kept
        color = cell_color(row["cell"], k - 1)
        fig.add_trace(go.Scatter(x=[*x, *x[::-1]], y=[*width, *(-width[::-1])], fill="toself", mode="lines",
                                 line=dict(color=color, width=1), fillcolor=color, opacity=0.75, hoverinfo="skip",
                                 name=row["label"], showlegend=False), row=k, col=1)
        fig.add_trace(go.Scatter(x=x, y=[0.0] * len(x), mode="markers", marker=dict(size=10, color=color),
                                 customdata=np.stack([names, [f"{v:.3f}" for v in total]], axis=1),
                                 hovertemplate="'%{customdata[0]}': %{customdata[1]} survives to the end"
                                               "<extra></extra>", showlegend=False), row=k, col=1)
        fig.update_xaxes(tickmode="array", tickvals=x, ticktext=names, tickangle=-40 if len(x) > 8 else 0,
                         showgrid=False, row=k, col=1)
        fig.update_yaxes(range=[-0.5, 0.5], showticklabels=False, showgrid=False, zeroline=False, row=k, col=1)
    return style(fig, title, height or 80 + 190 * len(rows), legend=False)


UNROLLED_ONE_LINE = 8  # tokens the unrolled network writes on one line; longer texts stagger them


def unrolled_network(net, height: int | None = None) -> go.Figure:
    """The text as a chain of cells: tokens and embeddings at the bottom, one row of cells per layer
    and direction, then pooling, classifier and output, every arrow labelled with its tensor shape.
    The play button replays the reading step by step (cells light up as their states are computed).

    Args:
        net: an ``explain.unrolled.UnrolledNetwork``.
    """
    T = len(net.tokens)
    if not T:
        return empty("Type a sentence to unroll the network over it.")
    color = cell_color(net.cell)
    rows = len(net.rows)
    y_emb, y_row = 1.0, [2.0 + 1.3 * k for k in range(rows)]
    y_top = y_row[-1]
    gap = max(2.5, 0.25 * T)  # room for a shape label between the head's boxes, in cells (they narrow as T grows)
    x_pool, x_head, x_out = T - 1 + gap, T - 1 + 2 * gap, T - 1 + 3 * gap
    notes: list[dict] = []

    def arrow(x0, y0, x1, y1, text="", label_dy=0.0):
        notes.append(dict(x=x1, y=y1, ax=x0, ay=y0, xref="x", yref="y", axref="x", ayref="y", showarrow=True,
                          arrowhead=3, arrowsize=1.2, arrowwidth=1.6, arrowcolor="#7B8794", standoff=15,
                          startstandoff=15, text=""))
        if text:
            notes.append(dict(x=(x0 + x1) / 2, y=(y0 + y1) / 2 + label_dy, text=text, showarrow=False, xref="x",
                              yref="y", font=dict(size=FONT_SIZE - 4, color="#3E4C59"),
                              bgcolor="rgba(255,255,255,0.85)"))

    bidirectional = net.num_directions > 1
    for k, (layer, direction, _) in enumerate(net.rows):
        # each row reads the embeddings or both directions of the layer below; a backward row's
        # arrows pass beside the forward row's cells
        source = y_emb if layer == 0 else y_row[max(j for j, r in enumerate(net.rows) if r[0] == layer - 1)]
        off = 0.3 if direction else 0.0
        label = net.shapes["embedded" if layer == 0 else "layer"] if direction == 0 else ""
        for t in range(T):
            arrow(t + off, source, t + off, y_row[k])
        if label:  # left of the first column, off the arrows
            notes.append(dict(x=-0.35, y=(source + y_row[k]) / 2, text=label.replace(" = ", "<br>= "), xanchor="right",
                              showarrow=False, xref="x", yref="y", font=dict(size=FONT_SIZE - 4, color="#3E4C59")))
        for t in range(T - 1):
            start, end = (t + 1, t) if direction else (t, t + 1)
            first = t == (T - 2 if direction else 0) and layer == 0
            arrow(start, y_row[k], end, y_row[k], net.shapes["step"] if first and (direction == 0 or bidirectional)
                  else "", 0.42)
    top = [k for k, r in enumerate(net.rows) if r[0] == net.num_layers - 1]
    for k in top:
        arrow(T - 1 if net.rows[k][1] == 0 else 0, y_row[k], x_pool, y_top)
    # the head's shapes on two lines under their arrows, so neighbours never run into each other
    notes.append(dict(x=(T - 1 + x_pool) / 2, y=y_top - 0.6, text=net.shapes["layer"].replace(" = ", "<br>= "),
                      showarrow=False, xref="x", yref="y", font=dict(size=FONT_SIZE - 4, color="#3E4C59")))
    arrow(x_pool, y_top, x_head, y_top, net.shapes["pooled"].replace(" = ", "<br>= "), -0.6)
    arrow(x_head, y_top, x_out, y_top, net.shapes["logits"].replace(" = ", "<br>= "), -0.6)

    fig = go.Figure()
    fig.add_trace(go.Scatter(x=list(range(T)), y=[y_emb] * T, mode="markers+text", name="embedding",
                             marker=dict(symbol="square", size=30, color="#CBD2D9", line=dict(color="#7B8794", width=1)),
                             text=[f"x{t}" for t in range(T)], textfont=dict(size=FONT_SIZE - 6),
                             customdata=net.tokens, hovertemplate="embedding of '%{customdata}'<extra></extra>"))
    # long texts stagger their words on two lines, so neighbours never run together
    stagger = 0.4 if T > UNROLLED_ONE_LINE else 0.0
    fig.add_trace(go.Scatter(x=list(range(T)), y=[y_emb - 0.75 - stagger * (t % 2) for t in range(T)], mode="text",
                             text=net.tokens,
                             textfont=dict(size=FONT_SIZE - 1), hoverinfo="skip", name="tokens"))
    xs, ys, values, custom = [], [], [], []
    for k, (layer, direction, name) in enumerate(net.rows):
        for t in range(T):
            xs.append(t)
            ys.append(y_row[k])
            values.append(float(net.states[k, t]))
            custom.append([k, t, name, net.tokens[t], f"{net.states[k, t]:.3f}"])
    cells = dict(symbol="square", size=34, color=values, cmin=0.0, cmax=1.0, colorscale=SEQUENTIAL,
                 line=dict(color=color, width=3),
                 colorbar=dict(title=dict(text="‖h‖/√H", side="right"), thickness=14,
                               tickfont=dict(size=FONT_SIZE - 4)))
    fig.add_trace(go.Scatter(x=xs, y=ys, mode="markers", name="cells", marker=cells, customdata=custom,
                             hovertemplate="%{customdata[2]}, t = %{customdata[1]} ('%{customdata[3]}')<br>"
                                           "‖h‖/√H = %{customdata[4]}<br>click: open in Step through<extra></extra>"))
    head = "fc1 → ReLU → fc2" if net.head == "mlp" else "classifier"
    if "fc1" in net.shapes:
        head += "<br>" + net.shapes["fc1"]
    best = int(np.argmax(net.probabilities)) if len(net.probabilities) else 0
    out_name = net.label_names[best] if net.label_names else ""
    fig.add_trace(go.Scatter(
        x=[x_pool, x_head, x_out], y=[y_top] * 3, mode="markers+text", name="output",
        marker=dict(symbol="square", size=[46, 46, 46], color=["#F5F7FA", "#F5F7FA", class_color(out_name)],
                    line=dict(color="#52606D", width=2)),
        text=[f"{net.pooling}<br>pooling", head, f"{net.output}<br>{out_name} {net.probabilities[best]:.0%}"],
        textposition=["top center", "top center", "top center"], textfont=dict(size=FONT_SIZE - 4),
        hoverinfo="skip"))
    labels = [name for _, _, name in net.rows]
    fig.update_layout(annotations=notes, clickmode="event+select", dragmode=False)
    # room right of the output box for its centred "positive 100%"
    fig.update_xaxes(visible=False, range=[-2.4, x_out + 2.0])  # left: the input shapes
    fig.update_yaxes(tickmode="array", tickvals=[y_emb, *y_row], ticktext=["embedding", *labels],
                     range=[y_emb - 1.2 - stagger, y_top + 1.2], showgrid=False, zeroline=False)
    # the play button: frame s shows the states computed after s reading steps (each direction reads its own way)
    frames = []
    for s in range(T):
        opacity = [1.0 if (T - 1 - t if net.rows[k][1] else t) <= s else 0.12 for k in range(rows) for t in range(T)]
        frames.append(go.Frame(name=str(s), data=[go.Scatter(marker=dict(opacity=opacity))], traces=[2]))
    fig.frames = frames
    fig.update_layout(
        updatemenus=[dict(type="buttons", showactive=False, x=0.0, y=-0.02, xanchor="left", yanchor="top",
                          buttons=[dict(label="▶ Play", method="animate",
                                        args=[None, dict(frame=dict(duration=700, redraw=True), fromcurrent=False,
                                                         transition=dict(duration=0), mode="immediate")]),
                                   dict(label="Pause", method="animate",
                                        args=[[None], dict(frame=dict(duration=0, redraw=False), mode="immediate")])])],
        sliders=[dict(active=T - 1, x=0.14, y=-0.02, len=0.84, yanchor="top", currentvalue=dict(prefix="reading step "),
                      steps=[dict(label=str(s), method="animate",
                                  args=[[str(s)], dict(frame=dict(duration=0, redraw=True), mode="immediate")])
                             for s in range(T)])])
    return style(fig, None, height or int(260 + 110 * rows), legend=False)
# ---------------------------------------------------------------- training time-lapse


def _frame_title(label: str, probabilities: np.ndarray, label_names: Sequence[str]) -> str:
    best = int(np.argmax(probabilities))
    return f"{label} · predicts <b>{label_names[best]}</b> ({float(probabilities[best]):.0%})"


def timelapse_animation(tokens: Sequence[str], labels: Sequence[str], probabilities: np.ndarray,
                        label_names: Sequence[str], ig: np.ndarray, target_name: str, gates: np.ndarray,
                        gate_names: Sequence[str], hidden: np.ndarray, direction: str = "",
                        max_units: int = 32, frame_ms: int = 700) -> go.Figure:
    """One probe sentence while the model trains, one animation frame per snapshot: integrated
    gradients per token, the prediction, each gate's mean per token and the hidden states, with
    a play button and a snapshot slider. Axes and colour ranges stay fixed across frames, so
    growth is visible.

    Args:
        tokens: the T tokens.
        labels: S snapshot names (``start``, ``epoch 1 · batch 2``, ``epoch 3``).
        probabilities: (S, C) class probabilities.
        label_names: C class names.
        ig: (S, T) integrated gradients towards ``target_name``.
        target_name: the class integrated gradients explain.
        gates: (S, G, T) mean gate values, 0..1.
        gate_names: G gate names.
        hidden: (S, T, H) hidden states of one layer and direction.
        direction: its name, for the panel title.
        max_units: hidden units drawn (the most changing ones at the last snapshot when H is larger).
        frame_ms: milliseconds per frame when playing.
    """
    probabilities, ig = np.asarray(probabilities, dtype=float), np.asarray(ig, dtype=float)
    gates, hidden = np.asarray(gates, dtype=float), np.asarray(hidden, dtype=float)
    if not len(labels) or not len(tokens):
        return empty("No snapshots recorded yet: they appear after the first batches.")
    x, names = _positions(tokens)
    units = np.arange(hidden.shape[2])
    if len(units) > max_units:
        units = np.sort(np.argsort(-hidden[-1].var(axis=0), kind="stable")[:max_units])
    unit_names = [f"unit {u}" for u in units]
    gate_labels = [str(g).replace("_", " ") for g in gate_names]
    top = float(np.nanmax(np.abs(ig))) if ig.size else 1.0
    top = top * 1.15 if top > 0 else 1.0
    fig = make_subplots(rows=3, cols=2, specs=[[{}, {}], [{"colspan": 2}, None], [{"colspan": 2}, None]],
                        column_widths=[0.68, 0.32], row_heights=[0.34, 0.22, 0.44], vertical_spacing=0.1,
                        horizontal_spacing=0.08,
                        subplot_titles=(f"Integrated gradients towards {target_name}", "Prediction",
                                        "Gates (mean over units)", f"Hidden state h{' · ' + direction if direction else ''}"))

    def colorbar(axis: str, title: str, **ticks) -> dict:
        """A colour bar beside the row whose y axis is ``axis``."""
        low, high = fig.layout[axis].domain
        return dict(title=dict(text=title, side="right"), thickness=14, len=high - low, y=(low + high) / 2, yanchor="middle", **ticks)

    gate_bar = colorbar("yaxis3", "gate", tickvals=list(GATE_TICKS), ticktext=list(GATE_TICKS.values()))
    hidden_bar = colorbar("yaxis4", "h")

    def traces(s: int) -> list:
        return [
            go.Bar(x=x, y=ig[s], marker_color=[TOWARDS_COLOR if v >= 0 else AWAY_COLOR for v in ig[s]],
                   customdata=names, hovertemplate="%{customdata}: IG %{y:.3f}<extra></extra>", name="IG"),
            go.Bar(x=probabilities[s], y=list(label_names), orientation="h", name="probability",
                   marker_color=[class_color(n, i) for i, n in enumerate(label_names)],
                   text=[f"{v:.0%}" for v in probabilities[s]], textposition="auto",
                   hovertemplate="%{y}: %{x:.3f}<extra></extra>"),
            go.Heatmap(z=gates[s], x=x, y=gate_labels, zmin=0.0, zmax=1.0, colorscale=SEQUENTIAL, xgap=1, ygap=1,
                       colorbar=gate_bar,
                       customdata=np.broadcast_to(np.array(names, dtype=object), gates[s].shape),
                       hovertemplate="%{customdata} · %{y}: %{z:.2f}<extra></extra>", name="gates"),
            go.Heatmap(z=hidden[s][:, units].T, x=x, y=unit_names, zmin=-1.0, zmax=1.0, colorscale=STATE_SCALE,
                       xgap=1, ygap=1 if len(units) <= 40 else 0,
                       colorbar=hidden_bar,
                       customdata=np.broadcast_to(np.array(names, dtype=object), (len(units), len(names))),
                       hovertemplate="%{customdata} · %{y}: %{z:.3f}<extra></extra>", name="hidden"),
        ]

    for trace, (row, col) in zip(traces(0), ((1, 1), (1, 2), (2, 1), (3, 1))):
        fig.add_trace(trace, row=row, col=col)
    fig.frames = [go.Frame(data=traces(s), traces=[0, 1, 2, 3], name=str(label),
                           layout=dict(title=dict(text=_frame_title(label, probabilities[s], label_names))))
                  for s, label in enumerate(labels)]
    for row in (1, 2, 3):
        fig.update_xaxes(tickmode="array", tickvals=x, ticktext=names, tickangle=-40 if len(x) > 8 else 0,
                         showgrid=False, row=row, col=1)
    fig.update_yaxes(range=[-top, top], zeroline=True, zerolinewidth=2, title="IG", row=1, col=1)
    fig.update_xaxes(range=[0, 1.05], tickformat=".0%", row=1, col=2)
    fig.update_yaxes(autorange="reversed", row=1, col=2)
    fig.update_yaxes(autorange="reversed", row=2, col=1)
    fig.update_yaxes(autorange="reversed", showticklabels=len(units) <= 40, row=3, col=1)
    play = dict(frame=dict(duration=frame_ms, redraw=True), transition=dict(duration=0), fromcurrent=True,
                mode="immediate")
    fig.update_layout(
        updatemenus=[dict(type="buttons", direction="left", x=0.0, y=-0.02, xanchor="left", yanchor="top",
                          pad=dict(t=10, r=10), showactive=False,
                          buttons=[dict(label="▶ Play", method="animate", args=[None, play]),
                                   dict(label="Pause", method="animate",
                                        args=[[None], dict(frame=dict(duration=0, redraw=False), mode="immediate")])])],
        sliders=[dict(active=0, x=0.24, len=0.76, y=-0.02, yanchor="top", pad=dict(t=10),
                      currentvalue=dict(prefix="Snapshot: ", font=dict(size=FONT_SIZE)),
                      steps=[dict(method="animate", label=str(label),
                                  args=[[str(label)], dict(frame=dict(duration=0, redraw=True), mode="immediate",
                                                           transition=dict(duration=0))])
                             for label in labels])],
    )
    style(fig, _frame_title(labels[0], probabilities[0], label_names),
          int(min(1300, 560 + 22 * len(units) + (40 if len(x) > 8 else 0))), legend=False)
    fig.update_layout(margin=dict(l=10, r=10, t=90, b=110))
    return fig


EMERGENCE_TICKS = 12  # x labels on the unit-emergence chart at most


def unit_emergence(labels: Sequence[str], correlation: np.ndarray, negation: np.ndarray, contrast: np.ndarray,
                   class_name: str, threshold: float, markers: Sequence[Mapping] = (), max_units: int = 40,
                   height: int | None = None) -> go.Figure:
    """Unit emergence over training: each unit's correlation with one class (heatmap, units
    sorted by their final |r|) and the best negation and contrast scores against the
    sensitivity threshold, with a marker where such a unit first appears.

    Args:
        labels: E point names (``start``, ``epoch 1``, ...).
        correlation: (E, U) Pearson r of each unit with "the label is ``class_name``".
        negation, contrast: (E, U) scores (NaN where not measurable).
        class_name: the class of ``correlation``.
        threshold: the sensitivity threshold.
        markers: dicts with ``kind``, ``point``, ``unit``, ``score`` (``timelapse.Marker``).
        max_units: units drawn (the strongest at the last point).
    """
    correlation = np.asarray(correlation, dtype=float)
    if correlation.ndim != 2 or not len(labels):
        return empty("Unit emergence appears after the first epoch.")
    order = np.argsort(-np.abs(correlation[-1]), kind="stable")[:max_units]
    x = list(range(len(labels)))
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.62, 0.38], vertical_spacing=0.08,
                        subplot_titles=(f"Correlation of each unit with {class_name}",
                                        "Best unit at reading negations and contrasts"))
    fig.add_trace(go.Heatmap(z=correlation[:, order].T, x=x, y=[f"unit {u}" for u in order], zmin=-1, zmax=1,
                             colorscale=STATE_SCALE, xgap=1, ygap=1 if len(order) <= 40 else 0,
                             colorbar=dict(title=dict(text="r"), thickness=14, len=0.55, y=0.72),
                             customdata=np.broadcast_to(np.array(labels, dtype=object)[None, :], (len(order), len(x))),
                             hovertemplate="%{customdata} · %{y}: r = %{z:.2f}<extra></extra>"), row=1, col=1)
    colors = {"negation": SEQUENCE[3], "contrast": SEQUENCE[0]}
    for kind, scores in (("negation", negation), ("contrast", contrast)):
        scores = np.asarray(scores, dtype=float)
        best = [float(np.nanmax(row)) if np.isfinite(row).any() else None for row in scores]
        fig.add_trace(go.Scatter(x=x, y=best, mode="lines+markers", name=f"{kind} score", connectgaps=False,
                                 line=dict(color=colors[kind], width=LINE_WIDTH), marker=dict(size=9),
                                 customdata=labels, hovertemplate=f"%{{customdata}}: best {kind} score %{{y:.2f}}<extra></extra>"),
                      row=2, col=1)
    fig.add_hline(y=threshold, line_dash="dash", line_color="#52606D", row=2, col=1,
                  annotation_text=f"sensitive ≥ {threshold:g}", annotation_position="top left")
    for marker in markers:
        fig.add_vline(x=marker["point"], line_color=colors.get(marker["kind"], NEUTRAL_COLOR), line_width=2,
                      line_dash="dot")
        fig.add_annotation(x=marker["point"], y=1.0, xref="x2", yref="y2 domain", showarrow=False, yanchor="bottom",
                           text=f"{marker['kind']} unit {marker['unit']}", font=dict(color=colors.get(marker["kind"]),
                                                                                      size=FONT_SIZE - 2))
    every = max(1, -(-len(x) // EMERGENCE_TICKS))  # a label every few points, so long runs never overprint
    fig.update_xaxes(tickmode="array", tickvals=x[::every], ticktext=list(labels)[::every], tickangle=-30,
                     row=2, col=1)
    fig.update_yaxes(autorange="reversed", showticklabels=len(order) <= 24, row=1, col=1)
    fig.update_yaxes(range=[0, 1.05], title="score", row=2, col=1)
    style(fig, None, height or int(min(900, 420 + 12 * len(order))))
    low, high = fig.layout.yaxis2.domain
    fig.update_layout(legend=dict(y=high, yanchor="top", x=1.0, xanchor="right", bgcolor="rgba(255,255,255,0.8)"))
    return fig
# ---------------------------------------------------------------- across the dataset


def slice_accuracy_bars(rows: Sequence, second: Sequence | None = None, names: Sequence[str] = ("model",),
                        colors: Sequence[str] | None = None, title: str | None = None) -> go.Figure:
    """Accuracy per slice with its 95 % interval as error bars, one bar group per model.

    Args:
        rows: ``dataset_view.SliceAccuracy`` of the first model.
        second: the same for a second model (None: one model).
        names: the models' names.
        colors: the models' colours (default: the palette).
    """
    if not rows:
        return empty("No slice has any example.")
    fig = go.Figure()
    for i, part in enumerate([rows] + ([second] if second else [])):
        color = (colors[i] if colors and i < len(colors) else SEQUENCE[i % len(SEQUENCE)])
        fig.add_trace(go.Bar(
            y=[r.slice for r in part], x=[r.accuracy for r in part], orientation="h", name=str(names[i]),
            marker_color=color,
            error_x=dict(type="data", symmetric=False, array=[r.high - r.accuracy for r in part],
                         arrayminus=[r.accuracy - r.low for r in part], thickness=2, color="#1F2933"),
            customdata=[[r.count, r.low, r.high] for r in part],
            hovertemplate="%{y}: %{x:.1%} of %{customdata[0]:,} (95 % interval %{customdata[1]:.1%}–"
                          "%{customdata[2]:.1%})<extra>" + html.escape(str(names[i])) + "</extra>"))
    fig.update_xaxes(range=[0, 1.02], tickformat=".0%", title="accuracy (bars: 95 % interval)")
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(barmode="group")
    return style(fig, title, 120 + 34 * len(rows) * (2 if second else 1), legend=bool(second))


def projection_scatter(xy: np.ndarray, texts: Sequence[str], groups: Sequence[str], rows: Sequence[int],
                       title: str | None = None, axis_titles: tuple[str, str] = ("", ""),
                       height: int = 560) -> go.Figure:
    """The embedding projector: one dot per sentence, one trace (colour) per group.

    Args:
        xy: (M, 2) coordinates.
        texts: (M,) texts shown on hover (cut to 200 characters).
        groups: (M,) group of each dot: a class name (class colours), ``correct`` or ``wrong``.
        rows: (M,) the table row of each dot, kept as ``customdata`` for click selection.
    """
    if len(xy) == 0:
        return empty("No sentence to map.")
    palette = {"correct": CORRECT_COLOR, "wrong": WRONG_COLOR}
    fig = go.Figure()
    groups = [str(g) for g in groups]
    for i, group in enumerate(dict.fromkeys(groups)):
        mine = [j for j, g in enumerate(groups) if g == group]
        short = [html.escape(texts[j][:200] + ("…" if len(texts[j]) > 200 else "")) for j in mine]
        fig.add_trace(go.Scattergl(
            x=xy[mine, 0], y=xy[mine, 1], mode="markers", name=group,
            marker=dict(size=7, opacity=0.75, color=palette.get(group) or class_color(group, i)),
            customdata=[[int(rows[j]), s] for j, s in zip(mine, short)],
            hovertemplate="%{customdata[1]}<extra>" + html.escape(group) + "</extra>"))
    fig.update_xaxes(title=axis_titles[0], zeroline=False, showticklabels=False)
    fig.update_yaxes(title=axis_titles[1], zeroline=False, showticklabels=False)
    fig.update_layout(hoverlabel=dict(namelength=-1), dragmode="select")
    return style(fig, title, height)


def gate_histograms(histograms: Sequence, title: str | None = None) -> go.Figure:
    """One small histogram per gate (``stats.GateHistogram``), titled with its saturated share."""
    if not histograms:
        return empty("No gate was recorded.")
    cols = min(4, len(histograms))
    rows_n = math.ceil(len(histograms) / cols)
    names = [f"{h.name} · {h.gate.replace('_', ' ')}" + (f" ({h.saturated_share:.0%} saturated)"
                                                          if h.saturated_share is not None else "")
             for h in histograms]
    fig = make_subplots(rows=rows_n, cols=cols, subplot_titles=names, horizontal_spacing=0.06,
                        vertical_spacing=0.18 if rows_n > 1 else 0.1)
    for i, h in enumerate(histograms):
        centres = (np.asarray(h.bin_edges[:-1]) + np.asarray(h.bin_edges[1:])) / 2
        share = np.asarray(h.counts, dtype=float) / max(1, int(np.sum(h.counts)))
        fig.add_trace(go.Bar(x=centres, y=share, marker_color=SEQUENCE[i % len(SEQUENCE)], showlegend=False,
                             hovertemplate="%{x:.2f}: %{y:.1%} of values<extra></extra>"),
                      row=i // cols + 1, col=i % cols + 1)
    fig.update_yaxes(tickformat=".0%")
    fig.update_annotations(font_size=FONT_SIZE - 3)
    return style(fig, title, 80 + 240 * rows_n, legend=False)
