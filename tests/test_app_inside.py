"""Inside the cell: step-through with equations, parameter derivation, diagrams."""
from __future__ import annotations

from browser.app_support import app_env, open_page


def test_step_through_matches_pytorch(monkeypatch, tmp_path):
    app_env(monkeypatch, tmp_path)
    at = open_page("inside", run=False).run()
    assert not at.exception and not at.error
    assert "NumPy recompute = PyTorch ✓" in at.success[0].value
    assert len(at.success) == 1  # only the open tab is drawn
    assert len(at.get("latex")) >= 8  # symbolic + numeric per equation
    first = at.table[0].value.copy()
    assert {"W_i·x", "W_h·h"} <= set(first.columns)  # the equations' names, not U·h
    at.number_input(key="i_unit").set_value(3).run()
    assert not at.exception
    assert not at.table[0].value.equals(first)
    at.select_slider(key="i_t").set_value(0).run()
    at.selectbox(key="model").set_value("gru").run()
    assert not at.exception and "✓" in at.success[0].value
    at.text_input(key="i_text").input("").run()
    assert not at.exception and at.error


def test_parameter_count_tab_adds_up_to_pytorchs(monkeypatch, tmp_path):
    app_env(monkeypatch, tmp_path)
    at = open_page("inside", query={"tab": "Counting parameters"})
    assert not at.exception and not at.error
    assert "equals PyTorch's count" in at.success[0].value
    assert not any("NumPy recompute = PyTorch" in s.value for s in at.success)  # the step-through tab is closed


def test_toy_mode_shows_the_whole_forward_pass_equal_to_pytorch(monkeypatch, tmp_path):
    from browser.app_support import app_env, open_page

    app_env(monkeypatch, tmp_path)
    at = open_page("inside", query={"tab": "Toy model: the whole forward pass", "toy_cell": "gru", "toy_hidden": "3",
                                    "toy_emb": "2", "toy_text": "not bad at all"})
    assert not at.exception
    assert any("NumPy recompute of the whole pass = PyTorch ✓" in s.value for s in at.success)
    assert any("GRU forward" in m.value for m in at.markdown)
    assert any("P(positive)" in m.value for m in at.markdown)


def test_parameter_count_of_an_imported_keras_model_is_the_tutorials_own(monkeypatch, tmp_path):
    """No phantom <unk> row (the tokenizer had none) and a Keras count as model.summary() prints it (issue 24)."""
    import json
    from pathlib import Path

    from sentiment_core.checkpoint import save_checkpoint
    from sentiment_core.importers import ImportOptions, import_model

    folder = Path(__file__).parent / "fixtures" / "tutorials" / "keras" / "simple_rnn"
    expected = json.loads((folder / "expected.json").read_text())
    bundle = import_model(folder / "model.h5", folder / "tokenizer.json", ImportOptions(max_len=12)).bundle
    save_checkpoint(tmp_path / "shipped" / "airline_keras.safetensors", bundle)
    app_env(monkeypatch, tmp_path)
    monkeypatch.setenv("GATESCOPE_PRETRAINED_DIR", str(tmp_path / "shipped"))
    at = open_page("inside", query={"tab": "Counting parameters", "model": "airline_keras"})
    assert not at.exception and not at.error
    pytorch = expected["keras_parameters"] + 6  # SimpleRNN(6): PyTorch's second bias vector
    assert f"Sum of the rows: {pytorch:,} parameters, the tutorial's own count." in at.success[0].value
    assert "its embedding has" in at.caption[0].value  # GateScope's copy has one more row: <unk>
    at.toggle(key="i_keras_count").set_value(True).run()
    assert f"{expected['keras_parameters']:,} parameters, the tutorial's own count as Keras' model.summary()" \
        in at.success[0].value
