"""Dataset gate statistics: histograms, saturation and class-correlated units."""
import numpy as np
import pytest

from sentiment_core.explain import gate_statistics
from tests.explain_fixtures import (single_thread, synthetic_splits, tiny_bundle,  # noqa: F401 (fixtures)
                                    trained_bundle)


@pytest.mark.parametrize("cell,gates", [("lstm", {"input", "forget", "cell_candidate", "output", "hidden", "cell"}),
                                        ("gru", {"reset", "update", "new", "hidden"}),
                                        ("rnn", {"preactivation", "hidden"})])
def test_histograms_cover_every_gate_layer_and_direction(cell, gates):
    bundle = tiny_bundle(cell, bidirectional=True, num_layers=2)
    texts = synthetic_splits(60).validation.texts
    stats = gate_statistics(bundle, texts, n=50, bins=10, top_k=5)
    assert stats.n_texts == 50 and stats.skipped == 0
    assert {(h.layer, h.direction) for h in stats.histograms} == {(0, 0), (0, 1), (1, 0), (1, 1)}
    assert {h.gate for h in stats.histograms} == gates
    for h in stats.histograms:
        assert h.counts.shape == (10,) and h.bin_edges.shape == (11,)
        assert h.counts.sum() == h.n_values == stats.n_tokens * 8
        if h.activation == "none":
            assert h.saturated_share is None
        else:
            assert 0.0 <= h.saturated_share <= 1.0
            assert h.bin_edges[0] == (0.0 if h.activation == "sigmoid" else -1.0)
    assert stats.histogram(0, 1, "hidden").name == "layer 0 backward"
    assert len(stats.top_units) == 5
    assert all(-1 <= u.r_probability <= 1 and -1 <= u.r_label <= 1 for u in stats.top_units)
    strengths = [abs(u.r_probability) for u in stats.top_units]
    assert strengths == sorted(strengths, reverse=True)


def test_saturation_is_counted_with_the_margin():
    bundle = tiny_bundle("lstm")
    texts = synthetic_splits(60).validation.texts
    narrow = gate_statistics(bundle, texts, n=20, saturation_margin=0.01)
    wide = gate_statistics(bundle, texts, n=20, saturation_margin=0.25)
    for gate in ("input", "forget", "output", "hidden"):
        assert narrow.histogram(0, 0, gate).saturated_share <= wide.histogram(0, 0, gate).saturated_share


def test_trained_model_has_a_unit_tracking_the_class(trained_bundle):
    stats = gate_statistics(trained_bundle, synthetic_splits(60).validation.texts, n=100, top_k=3)
    assert stats.class_name == "positive"
    assert abs(stats.top_units[0].r_probability) > 0.8
    assert abs(stats.top_units[0].r_label) > 0.8
    assert np.isfinite([u.r_probability for u in stats.top_units]).all()


@pytest.mark.parametrize("cell,bidirectional", [("lstm", False), ("gru", True)])
def test_token_means_are_the_per_token_unit_means_of_the_trace(cell, bidirectional):
    from sentiment_core.explain import prepare_input, trace

    bundle = tiny_bundle(cell, bidirectional=bidirectional)
    texts = synthetic_splits(60).validation.texts[:5]
    stats = gate_statistics(bundle, texts)  # all five
    lengths = sorted(prepare_input(bundle, t).length for t in texts)
    for h in stats.histograms:
        assert [len(m) for m in h.token_means] == lengths  # shortest first, like the sample
    one = gate_statistics(bundle, [texts[0]])
    for d in trace(bundle, texts[0]).directions:
        for gate, values in d.gates.items():  # (T, H)
            np.testing.assert_allclose(one.histogram(d.layer, d.direction, gate).token_means[0], values.mean(axis=1),
                                       rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("cell", ["lstm", "rnn"])
def test_small_batches_give_the_same_statistics_as_every_value_at_once(cell):
    """The histograms are built batch by batch (bounded memory on a large sample); each gate's
    counts, mean, spread and saturation match NumPy over all of its values traced one text at a time."""
    from sentiment_core.explain import prepare_input, trace

    bundle = tiny_bundle(cell, bidirectional=True)
    texts = synthetic_splits(60).validation.texts[:30]
    streamed = gate_statistics(bundle, texts, n=30, bins=8, batch_tokens=16)  # a few texts per batch
    whole = gate_statistics(bundle, texts, n=30, bins=8, batch_tokens=10**6)
    traces = [trace(bundle, t) for t in texts if prepare_input(bundle, t).length]
    for h in streamed.histograms:
        values = np.concatenate([
            np.asarray({**d.gates, "hidden": d.hidden, "cell": d.cell}[h.gate]).ravel()
            for tr in traces for d in tr.directions
            if (d.layer, d.direction) == (h.layer, h.direction)])
        other = whole.histogram(h.layer, h.direction, h.gate)
        np.testing.assert_array_equal(h.counts, other.counts)
        assert h.counts.sum() == values.size
        assert np.isclose(h.mean, values.mean(), atol=1e-5) and np.isclose(h.std, values.std(), atol=1e-5)
        if h.activation == "sigmoid":
            assert np.isclose(h.saturated_share, np.mean((values < 0.05) | (values > 0.95)))
        if h.activation == "tanh":
            assert np.isclose(h.saturated_share, np.mean(np.abs(values) > 0.95))
        if h.activation == "none":
            np.testing.assert_allclose(h.bin_edges[[0, -1]], [values.min(), values.max()], atol=1e-5)
