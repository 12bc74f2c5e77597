"""Inside the cell: step-through with equations, parameter derivation, diagrams."""
from __future__ import annotations

from browser.app_support import app_env, open_page


def test_step_through_matches_pytorch(monkeypatch, tmp_path):
    app_env(monkeypatch, tmp_path)
    at = open_page("inside", run=False).run()
    assert not at.exception and not at.error
    assert "NumPy recompute = PyTorch ✓" in at.success[0].value
    assert "equals PyTorch's count" in at.success[1].value
    assert len(at.get("latex")) >= 8  # symbolic + numeric per equation, plus the count formula
    first = at.dataframe[0].value.copy()
    assert {"W_i·x", "W_h·h"} <= set(first.columns)  # the equations' names, not U·h
    at.number_input(key="i_unit").set_value(3).run()
    assert not at.exception
    assert not at.dataframe[0].value.equals(first)
    at.select_slider(key="i_t").set_value(0).run()
    at.selectbox(key="model").set_value("gru").run()
    assert not at.exception and "✓" in at.success[0].value
    at.text_input(key="i_text").input("").run()
    assert not at.exception and at.error
