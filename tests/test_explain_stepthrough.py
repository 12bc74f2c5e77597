"""Step-through numbers (NumPy float64) equal PyTorch's; parameter counts add up."""
import itertools

import numpy as np
import pytest

from sentiment_core.explain import parameter_counts, step_through, trace
from tests.explain_fixtures import single_thread, tiny_bundle, tiny_model  # noqa: F401 (fixture)


@pytest.mark.parametrize("cell,bidirectional,layers", list(itertools.product(["lstm", "gru", "rnn"], [False, True],
                                                                             [1, 2])))
def test_step_numbers_match_pytorch(cell, bidirectional, layers):
    model = tiny_model(cell, bidirectional, layers, seed=11)
    ids = [4, 8, 15, 16, 23]
    traced = trace(model, ids)
    for layer, direction, t, unit in itertools.product(range(layers), range(2 if bidirectional else 1),
                                                       [0, 2, 4], [0, 7]):
        step = step_through(model, ids, layer, direction, t, unit, traced=traced)
        assert step.matches_pytorch, step.max_abs_error
        assert step.max_abs_error < 1e-5
        d = traced.get(layer, direction)
        assert step.hidden_new == pytest.approx(float(d.hidden[t, unit]), abs=1e-5)
        assert step.pytorch_hidden == pytest.approx(step.hidden_new, abs=1e-5)
        for gate in step.gates:
            assert gate.value == pytest.approx(float(d.gates[gate.name][t, unit]), abs=1e-5)
        if cell == "lstm":
            assert step.cell_new == pytest.approx(float(d.cell[t, unit]), abs=1e-5)
            assert step.pytorch_cell == pytest.approx(step.cell_new, abs=1e-5)


def test_step_terms_add_up_and_use_the_model_weights():
    model = tiny_model("lstm", seed=1)
    step = step_through(model, [5, 6, 7], t=1, unit=3)
    forget = next(g for g in step.gates if g.name == "forget")
    assert forget.preactivation == pytest.approx(forget.wx + forget.uh + forget.b_ih + forget.b_hh)
    assert forget.value == pytest.approx(1 / (1 + np.exp(-forget.preactivation)))
    w_if = model.rnn.weight_ih_l0.detach().double().numpy()[8 + 3]  # forget block, unit 3
    assert forget.wx == pytest.approx(float(w_if @ step.x))
    i, f, g, o = (x.value for x in step.gates)
    assert step.cell_new == pytest.approx(f * step.cell_prev + i * g)
    assert step.hidden_new == pytest.approx(o * np.tanh(step.cell_new))


def test_first_backward_step_starts_from_zero_state():
    model = tiny_model("gru", bidirectional=True)
    step = step_through(model, [5, 6, 7], direction=1, t=2, unit=0)
    assert not step.h_prev.any() and step.hidden_prev == 0.0
    assert step.direction_name == "layer 0 backward"


@pytest.mark.parametrize("cell,names", [("lstm", ["input", "forget", "cell_candidate", "output", "cell", "hidden"]),
                                        ("gru", ["reset", "update", "new", "hidden"]),
                                        ("rnn", ["preactivation", "hidden"])])
def test_equations_are_latex_with_numbers(cell, names):
    step = step_through(tiny_bundle(cell), "the movie was good", t=3, unit=2)
    assert step.token == "good"
    assert [e.name for e in step.equations] == names
    for eq in step.equations:
        assert eq.symbolic and "[2]" in eq.numeric and "=" in eq.numeric
    assert "h_{t-1}" in step.equations[0].symbolic


def test_no_numeric_equation_is_wider_than_a_1280_px_page():
    """Issue 23: the GRU's n_t line ran off the page; a long one breaks before its result."""
    for cell in ("lstm", "gru", "rnn"):
        for eq in step_through(tiny_bundle(cell), "the movie was good", t=3, unit=2).equations:
            lines = eq.numeric.replace(r"\begin{aligned}", "").replace(r"\end{aligned}", "").split(r"\\")
            widest = max(len(line.replace("&", "")) for line in lines)
            assert widest <= 85, (cell, eq.name, eq.numeric)  # LaTeX source characters: 82 fit at 1280 px, 92 did not


def test_step_out_of_range_is_a_clear_error():
    model = tiny_model()
    with pytest.raises(ValueError, match="outside the text"):
        step_through(model, [5, 6], t=5)
    with pytest.raises(ValueError, match="unit"):
        step_through(model, [5, 6], unit=99)


@pytest.mark.parametrize("cell,bidirectional,layers,pooling",
                         list(itertools.product(["lstm", "gru", "rnn"], [False, True], [1, 3], ["last", "attention"])))
def test_parameter_counts_add_up(cell, bidirectional, layers, pooling):
    counts = parameter_counts(tiny_model(cell, bidirectional, layers, pooling))
    assert counts.matches and counts.total == counts.actual
    assert len(counts.rows) == 2 + layers * (2 if bidirectional else 1) + (pooling == "attention")
