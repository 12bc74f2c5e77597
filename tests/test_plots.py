"""Figure builders: right traces, readable styling, no crash on empty or odd input."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest

from sentiment_core import plots

EPOCHS = [{"epoch": i, "train_loss": 1 / i, "val_loss": 1.2 / i, "train_accuracy": 0.5 + i / 10,
           "val_accuracy": 0.5 + i / 12, "val_macro_f1": 0.5, "is_best": i == 2} for i in (1, 2, 3)]
BATCHES = [{"step": i, "loss": 1 / i, "grad_norm": float(i), "clipped": i > 5} for i in range(1, 11)]


def test_projector_style():
    fig = plots.probability_bars({"negative": 0.2, "positive": 0.8})
    assert fig.layout.font.size >= 16
    assert isinstance(fig, go.Figure)
    assert "<b>80%</b>" in fig.data[0].text


def test_heatmap_and_sorting():
    values = np.array([[0.1, 0.9, 0.1], [0.5, 0.5, 0.5], [0.0, 1.0, 0.0]])
    sorted_values, order = plots.sort_units(values, "variance", top_k=2)
    assert order == [2, 0] and sorted_values.shape == (2, 3)
    fig = plots.heatmap(sorted_values, ["not", "good", "not"], [f"unit {u}" for u in order], zmin=0, zmax=1)
    assert fig.data[0].z.shape == (2, 3)
    assert list(fig.layout.xaxis.ticktext) == ["not", "good", "not"]  # repeated tokens keep their place
    assert plots.heatmap(np.zeros((0, 0)), []).layout.annotations  # empty -> message, no crash


def test_gate_means_and_overview():
    gates = {"input": np.full((2, 4), 0.5), "cell_candidate": np.full((2, 4), -1.0), "preactivation": np.zeros((2, 4))}
    means = plots.gate_means(gates, {"input": "sigmoid", "cell_candidate": "tanh", "preactivation": "none"})
    assert means["input"].tolist() == [0.5, 0.5] and means["cell_candidate"].tolist() == [0.0, 0.0]
    assert means["preactivation"].tolist() == [0.5, 0.5]
    fig = plots.gate_overview(means, ["a", "b"])
    assert fig.data[0].zmin == 0 and fig.data[0].zmax == 1


def test_training_and_batch_curves():
    fig = plots.training_curves(EPOCHS)
    names = {t.name for t in fig.data}
    assert {"train", "validation", "best (kept)"} <= names
    fig = plots.batch_curves(BATCHES, clip_norm=5.0)
    assert any(t.name and t.name.startswith("clipped (5") for t in fig.data)
    assert any(s.y0 == 5.0 for s in fig.layout.shapes)  # the clip line
    assert plots.training_curves([]).layout.annotations
    assert plots.grad_norm_figure(BATCHES, 5.0).layout.yaxis.type == "log"


@pytest.mark.parametrize("builder", [
    lambda: plots.confusion_matrix([[5, 1], [2, 7]], ["negative", "positive"]),
    lambda: plots.compare_curves({"a": EPOCHS, "b": EPOCHS}, "both_loss"),
    lambda: plots.length_histogram([3, 5, 8, 40], 10),
    lambda: plots.class_balance({"negative": 3, "positive": 5}),
    lambda: plots.trajectory(["not", "good"], {"negative": [0.4, 0.8], "positive": [0.6, 0.2]}),
    lambda: plots.attribution_bars(["not", "good"], [-0.3, 0.5]),
    lambda: plots.connectivity([0, 1, 2], {"RNN": [1, 0.1, 0.0], "LSTM": [1, 0.8, 0.6]}),
    lambda: plots.accuracy_vs_distance({"RNN": {5: 0.9, 50: 0.5}}),
    lambda: plots.model_probability_bars([{"model": "a", "probabilities": {"neg": 0.3, "pos": 0.7}}], ["neg", "pos"]),
    lambda: plots.parameter_bars([{"layer": "embedding", "count": 10, "formula": "x"},
                                  {"layer": "lstm layer 0", "count": 20, "formula": "y"}]),
])
def test_builders_return_figures(builder):
    fig = builder()
    assert isinstance(fig, go.Figure)
    fig.to_json()  # serialisable for the browser


def test_length_histogram_reports_coverage():
    fig = plots.length_histogram([1, 2, 3, 50], 10)
    assert "75.0%" in fig.layout.annotations[0].text


def test_token_html_escapes_and_colours():
    html = plots.token_html(["<script>", "good"], [-1.0, 0.5])
    assert "<script>" not in html and "&#60;script&#62;" in html
    assert f"rgba({plots.AWAY_RGB},1.00)" in html and f"rgba({plots.TOWARDS_RGB},0.50)" in html


CLASS_COLOURS = {plots.NEGATIVE_COLOR, plots.POSITIVE_COLOR, plots.NEUTRAL_COLOR}


def test_attributions_read_towards_and_away_the_same_on_chips_bars_and_legend():
    """One colour language: a word pushing towards the explained class is purple and one pushing
    away is orange in the chips, in every bar chart and in the legend, whichever class is explained;
    neither colour is a class colour."""
    tokens, scores = ["not", "good"], [-0.3, 0.5]
    bars = plots.attribution_bars(tokens, scores, "IG", target="negative")
    assert list(bars.data[0].marker.color) == [plots.AWAY_COLOR, plots.TOWARDS_COLOR]
    assert bars.layout.xaxis.title.text == "← away · towards →<br>negative"
    chips = plots.token_html(tokens, scores)
    legend = plots.color_legend_html("negative")
    assert f"rgba({plots.TOWARDS_RGB}," in chips and f"rgba({plots.AWAY_RGB}," in chips
    assert plots.TOWARDS_COLOR in legend and "towards negative" in legend and "away from negative" in legend
    assert not {plots.TOWARDS_COLOR, plots.AWAY_COLOR} & CLASS_COLOURS


def test_state_heatmaps_use_a_diverging_palette_that_is_not_a_class_palette():
    colours = {c for _, c in plots.STATE_SCALE}
    assert not colours & CLASS_COLOURS and not colours & {plots.TOWARDS_COLOR, plots.AWAY_COLOR}
    assert plots.STATE_SCALE[2][1] == "#F7F7F7"  # zero is white: the sign reads at a glance


def test_long_attribution_bars_keep_the_largest_words_readable():
    tokens = [f"w{i}" for i in range(300)]
    scores = np.zeros(300)
    scores[[5, 150, 299]] = [2.0, -3.0, 1.0]
    fig = plots.attribution_bars(tokens, scores, "IG", target="positive")
    labels = list(fig.layout.yaxis.ticktext)
    assert len(labels) == plots.ATTRIBUTION_BAR_LIMIT and "of 300 words" in fig.layout.title.text
    assert {"w5 #5", "w150 #150", "w299 #299"} <= set(labels)
    assert labels.index("w5 #5") < labels.index("w150 #150") < labels.index("w299 #299")  # reading order
    assert fig.data[0].orientation == "h"  # horizontal: word labels are never rotated into each other


def test_a_300_word_heatmap_wraps_onto_readable_lines_with_one_colour_scale():
    values = np.linspace(-1, 1, 8 * 300).reshape(8, 300)
    fig = plots.heatmap(values, [f"w{i}" for i in range(300)], zmin=-1, zmax=1, colorscale=plots.STATE_SCALE)
    assert len(fig.data) == 6  # 50 words per line
    assert all(t.z.shape[1] <= plots.HEATMAP_WRAP for t in fig.data)
    assert [t.showscale for t in fig.data] == [True] + [False] * 5
    assert {(t.zmin, t.zmax) for t in fig.data} == {(-1, 1)}
    np.testing.assert_allclose(np.concatenate([t.z for t in fig.data], axis=1), values, atol=1e-6)  # float32
    short = plots.heatmap(values[:, :12], [f"w{i}" for i in range(12)])
    assert len(short.data) == 1


def test_cell_colours_are_consistent():
    assert plots.cell_color("BiLSTM x2") == plots.cell_color("lstm") == plots.CELL_COLORS["lstm"]
    assert plots.cell_color("RNN") != plots.cell_color("GRU")


def test_one_sentence_through_2_and_3_class_models_keeps_neutral_and_class_colours():
    rows = [{"model": "two", "probabilities": {"negative": 0.2, "positive": 0.8}},
            {"model": "three", "probabilities": {"negative": 0.1, "neutral": 0.6, "positive": 0.3}}]
    fig = plots.model_probability_bars(rows)
    names = [trace.name for trace in fig.data]
    assert names == ["negative", "neutral", "positive"]
    assert {t.name: t.marker.color for t in fig.data} == {n: plots.class_color(n) for n in names}
    neutral = next(t for t in fig.data if t.name == "neutral")
    assert list(neutral.x) == [0.0, 0.6]  # the 2-class model has no neutral share


def test_epoch_axes_tick_whole_epochs():
    epochs = [{"epoch": 1, "val_accuracy": 0.5, "train_loss": 0.7, "val_loss": 0.7, "train_accuracy": 0.5},
              {"epoch": 2, "val_accuracy": 0.6, "train_loss": 0.6, "val_loss": 0.6, "train_accuracy": 0.6}]
    assert plots.compare_curves({"a": epochs}).layout.xaxis.dtick == 1
    assert plots.training_curves(epochs).layout.xaxis.dtick == 1


def test_gate_colour_bars_read_closed_to_open():
    fig = plots.gate_overview({"input": [0.2, 0.9], "forget": [0.5, 0.1]}, ["not", "good"])
    bar = fig.data[0].colorbar
    assert list(bar.ticktext) == ["0 = closed", "0.5", "1 = open"] and list(bar.tickvals) == [0.0, 0.5, 1.0]
    rnn = plots.gate_overview({"preactivation": [0.2, 0.9]}, ["a", "b"], gated=False).data[0].colorbar
    assert list(rnn.ticktext) == ["−1", "0", "+1"]  # a plain RNN's tanh value, not "closed … open"


@pytest.mark.parametrize("figure", [lambda: plots.training_curves(EPOCHS), lambda: plots.batch_curves(BATCHES, 5.0)])
def test_two_panel_legends_sit_above_the_panel_titles(figure):
    """Train's 'Accuracy' and 'Gradient norm per batch' titles were covered by the legend."""
    fig = figure()
    assert fig.layout.legend.yref == "container" and fig.layout.legend.yanchor == "top"
    assert fig.layout.margin.t >= 78  # the legend's own strip above the subplot titles


def test_unsigned_sizes_are_not_drawn_as_towards_or_away():
    """Gradient norms push no way: one neutral colour and their own axis title."""
    fig = plots.attribution_bars(["not", "good"], [0.2, 1.0], value_name="‖∂P/∂word‖", magnitude=True)
    assert set(fig.data[0].marker.color) == {plots.WEIGHT_COLOR} and fig.layout.xaxis.title.text == "‖∂P/∂word‖"
    assert plots.WEIGHT_COLOR not in {plots.TOWARDS_COLOR, plots.AWAY_COLOR} | CLASS_COLOURS


def test_a_titled_chart_keeps_its_legend_under_the_title():
    """Explain's 'Prediction after each word: before (dotted) and after the change' was covered by its legend."""
    fig = plots.trajectory(["not", "good"], {"negative": [0.4, 0.8], "positive": [0.6, 0.2]}, "Prediction after each word")
    assert fig.layout.legend.yref == "container" and fig.layout.legend.y < 1 - 40 / fig.layout.height
    assert fig.layout.margin.t >= 90


def test_attribution_axis_title_keeps_both_arrows_on_short_lines():
    """Issue 23: "← away · towards negative →" lost its arrow in a third of a 1280 px page."""
    fig = plots.attribution_bars(["not", "bad"], [0.3, -0.2], "Saliency (gradient × input)", target="negative")
    lines = fig.layout.xaxis.title.text.split("<br>")
    assert "←" in lines[0] and "→" in lines[0] and lines[1] == "negative"
    assert max(len(line) for line in lines) <= 20


def test_title_sits_under_the_camera_button():
    """Issue 23: the camera button (top right) covered a title that filled a narrow column."""
    fig = plots.attribution_bars(["not", "bad"], [0.3, -0.2], "Saliency (gradient × input)", target="negative")
    top_px = (1 - fig.layout.title.y) * fig.layout.height
    assert fig.layout.title.yref == "container" and fig.layout.title.yanchor == "top"
    assert top_px >= plots.MODEBAR_CLEARANCE - 1
    assert fig.layout.margin.t >= top_px + plots.TITLE_SIZE + 8  # the title fits above the plot


def test_subplot_titles_sit_under_the_figure_title():
    """The memory ribbons' first panel title ran into the figure's title once titles moved down."""
    rows = [{"label": f"{cell.upper()} ({cell})", "measure": "survival", "tokens": ["a", "b", "c"],
             "total": [0.1, 0.5, 1.0], "cell": cell} for cell in ("rnn", "lstm")]
    fig = plots.memory_ribbons(rows, title="What survives to the end")
    title_bottom = (1 - fig.layout.title.y) * fig.layout.height + plots.TITLE_SIZE + 4
    assert fig.layout.margin.t >= title_bottom + plots.FONT_SIZE + 4  # a panel title's line fits between


def test_unit_emergence_thins_its_epoch_labels():
    """Issue 23: after 60 epochs the x labels overprinted."""
    labels = ["start"] + [f"epoch {i}" for i in range(1, 61)]
    rng = np.random.default_rng(0)
    fig = plots.unit_emergence(labels, rng.uniform(-1, 1, (61, 5)), rng.uniform(0, 1, (61, 5)),
                               rng.uniform(0, 1, (61, 5)), "positive", 0.5)
    assert len(fig.layout.xaxis2.ticktext) <= plots.EMERGENCE_TICKS
    assert fig.layout.xaxis2.ticktext[0] == "start"


def test_colour_bar_titles_sit_beside_the_bar():
    """Issue 23: "gate" and "kept" ran into the bar's top tick."""
    fig = plots.heatmap(np.random.default_rng(0).uniform(0, 1, (3, 4)), list("abcd"), None, "Survival", 0.0, 1.0,
                        plots.SEQUENTIAL, "kept")
    assert fig.data[0].colorbar.title.text == "kept" and fig.data[0].colorbar.title.side == "right"


def test_unrolled_network_staggers_long_texts_and_keeps_the_percent():
    """Issue 23: at 13 tokens the words ran together and "positive 100" lost its %."""
    from types import SimpleNamespace
    T = 13
    net = SimpleNamespace(tokens=[f"word{t}" for t in range(T)], cell="lstm", rows=[(0, 0, "layer 0")],
                          num_directions=1, num_layers=1, states=np.full((1, T), 0.5), head="linear",
                          shapes={"embedded": "(B, T, E) = (1, 13, 8)", "layer": "(B, T, H) = (1, 13, 4)",
                                  "step": "(B, H) = (1, 4)", "pooled": "(B, H) = (1, 4)", "logits": "(B, C) = (1, 2)"},
                          label_names=["negative", "positive"], probabilities=np.array([0.0, 1.0]),
                          pooling="last", output="softmax")
    fig = plots.unrolled_network(net)
    words = next(tr for tr in fig.data if tr.name == "tokens")
    assert len(set(words.y)) == 2  # neighbours on alternate lines
    assert min(fig.layout.yaxis.range) < min(words.y) - 0.2
    out = next(tr for tr in fig.data if tr.name == "output")
    assert out.text[-1].endswith("positive 100%")
    assert fig.layout.xaxis.range[1] - out.x[-1] >= 2.0  # half the label's width, in cells
    shape = next(a for a in fig.layout.annotations if a.text and a.text.startswith("(B, T, E)"))
    assert shape.x < 0 and shape.xanchor == "right"  # left of the first column, not on its arrow


@pytest.mark.parametrize("lengths, max_len, side", [([3, 5, 9], 60, "right"), ([3, 50, 120], 20, "left")])
def test_length_histogram_label_sits_on_the_side_with_room(lengths, max_len, side):
    """Anchored left of a line near the axis' right end, "keeps 100.0% uncut" ran off the plot
    (the Data page's synthetic set: lengths up to 9, max_len 60)."""
    note = plots.length_histogram(lengths, max_len).layout.annotations[0]
    assert note.xanchor == side and note.x == max_len
