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
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "rgba(192,57,43,1.00)" in html and "rgba(30,132,73,0.50)" in html


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
    assert not plots.gate_overview({"preactivation": [0.2, 0.9]}, ["a", "b"], gated=False).data[0].colorbar.ticktext
