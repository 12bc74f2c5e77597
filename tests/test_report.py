"""Exports of a run: the standalone HTML report (written by `gatescope report`, opened in
Chromium without a network) and the PyTorch script that retrains it without GateScope."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
from browser.app_support import completed_run
from conftest import rule_splits

from sentiment_core import report, runs
from sentiment_core.cli import main


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    return root, completed_run(root, "gru", epochs=2, pooling="attention")


def test_gatescope_report_writes_a_standalone_html_file(run_dir, tmp_path, monkeypatch, capsys):
    root, name = run_dir
    monkeypatch.setenv("GATESCOPE_RUNS_DIR", str(root))
    out, script = tmp_path / "report.html", tmp_path / "retrain.py"
    assert main(["report", name, "--out", str(out), "--script", str(script)]) == 0
    assert f"report written to {out}" in capsys.readouterr().out
    page = out.read_text(encoding="utf-8")
    for section in ("Training curves", "Confusion matrix (test split)", "Accuracy per slice", "Model card",
                    "gold: negative", "negation"):
        assert section in page, section
    assert "<script src=" not in page and len(page) > 3_000_000  # plotly.js is inlined
    assert page.count("Plotly.newPlot") == 3
    assert script.read_text(encoding="utf-8").startswith("#!/usr/bin/env python3")
    assert main(["report", "no-such-run"]) == 2
    assert "there is no run called 'no-such-run'" in capsys.readouterr().err


def _card(page: str) -> str:
    """The model card part of a report."""
    return page.split("<h2>Model card</h2>", 1)[1]


def test_the_report_shows_accuracies_as_percentages(run_dir):
    root, name = run_dir
    record = runs.load_run(name, root)
    page = report.run_report_html(record)
    summary = record.summary()
    assert f"<td>{summary['best val acc']:.1%}</td>" in page and f"<td>{summary['test acc']:.1%}</td>" in page
    assert report.percent(1.0) == "100.0%" and report.percent(None) == ""


def test_the_model_card_is_a_readable_table_not_json(run_dir):
    root, name = run_dir
    card = _card(report.run_report_html(runs.load_run(name, root)))
    assert "{" not in card and "<pre>" not in card and '"model"' not in card
    assert "<th>Hidden size</th><td>16</td>" in card and "<th>Classes</th><td>negative, positive</td>" in card
    assert "<th>Pooling</th><td>attention</td>" in card and "<th>Sentences</th><td>300</td>" in card
    assert "Cue distance" not in card and "Source" not in card  # synthetic_negation has no distance; UCI only


def test_an_upload_run_shows_its_columns_not_synthetic_fields(run_dir):
    """A run trained on an upload: its card names the file and columns (escaped), and none of the
    synthetic sets' options its config.json still carries."""
    import dataclasses

    from sentiment_core.settings import defaults

    root, name = run_dir
    record = runs.load_run(name, root)
    data = {**defaults()["data"], "name": "upload", "filename": "<b>r</b>.csv", "sha": "abc123",
            "text_column": "review", "label_column": " Sentiment <Label>", "threshold": None,
            "label": "Upload: <b>r</b>.csv"}
    card = _card(report.run_report_html(dataclasses.replace(record, config={**record.config, "data": data})))
    assert "<th>Dataset</th><td>Upload: &lt;b&gt;r&lt;/b&gt;.csv</td>" in card
    assert "<th>Label column</th><td> Sentiment &lt;Label&gt;</td>" in card and "<th>Text column</th>" in card
    for field in ("Sentences", "Cue distance", "Label noise", "n_examples", "distance", "noise", "Source",
                  "Score threshold"):  # threshold: None, so not shown
        assert field not in card, field


def test_a_bundle_report_checks_what_the_file_says(run_dir):
    """A bundle's description comes from any file: damaged history rows and metrics are left out
    with a note, and its free-form card is escaped text in lists, never markup or raw JSON."""
    import dataclasses

    from sentiment_core.checkpoint import load_checkpoint

    root, name = run_dir
    bundle = load_checkpoint(runs.load_run(name, root).best_path)
    good = bundle.history[0]
    hostile = dataclasses.replace(bundle, history=[good, {"epoch": "one"}, "junk"], metrics={"test_accuracy": "all"},
                                  card={"<script>x</script>": ["<img src=x onerror=alert(1)>", "a, b and c"],
                                        "deep": {"a": {"b": {"c": {"d": {"e": 1}}}}}})
    page = report.bundle_report_html(hostile, "<b>m</b>.safetensors")
    assert "GateScope model &lt;b&gt;m&lt;/b&gt;.safetensors" in page and "<b>m</b>" not in page
    assert "2 of the 3 epochs in the bundle&#x27;s history are damaged" in page and "Training curves" in page
    assert "metrics are damaged (metrics: test_accuracy is &#x27;all&#x27;, not a number)" in page
    assert "Confusion matrix" not in page and "no test confusion matrix" in page
    card = _card(page)
    assert "<img" not in card and "&lt;img src=x onerror=alert(1)&gt;" in card and "&lt;script&gt;" in card
    assert "<li>a, b and c</li>" in card and "nested deeper; left out" in card and "{" not in card


def test_the_report_opens_in_chromium_offline(run_dir, tmp_path, browser):
    root, name = run_dir
    out = report.write_report(runs.load_run(name, root), tmp_path / "report.html", with_slices=False)
    context = browser.new_context(offline=True)
    try:
        page = context.new_page()
        errors = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(out.as_uri())
        page.wait_for_selector(".plotly .main-svg", timeout=20000)
        assert page.locator(".js-plotly-plot").count() == 2  # curves and confusion matrix
        assert "Model card" in page.inner_text("body") and not errors
    finally:
        context.close()


def test_the_exported_script_retrains_and_predicts_without_gatescope(run_dir, tmp_path):
    root, name = run_dir
    config = runs.load_run(name, root).config
    config = {**config, "train": {**config["train"], "epochs": 6, "lr": 0.02, "patience": 0},
              "vocab": {"min_freq": 1, "max_size": 200}}
    script = tmp_path / "retrain.py"
    script.write_text(report.pytorch_script(config, name), encoding="utf-8")
    splits = rule_splits(300, seed=1)
    data = tmp_path / "data.tsv"
    data.write_text("".join(f"{t}\t{splits.label_names[y]}\n" for t, y in zip(splits.train.texts, splits.train.labels)),
                    encoding="utf-8")
    # run from an empty folder with a bare environment: GateScope cannot be imported by the script
    done = subprocess.run([sys.executable, str(script), str(data), "--predict", "the movie was great",
                           "the plot was awful", "--out", str(tmp_path / "model.pt")],
                          check=False, cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": ""})
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert sum(line.startswith("epoch ") for line in lines) == 6
    accuracy = float(next(line for line in lines if line.startswith("test accuracy")).split()[-1])
    assert accuracy > 0.9
    predictions = [line.split("\t") for line in lines if line.startswith("predict\t")]
    assert [p[1] for p in predictions] == ["positive", "negative"]
    assert (tmp_path / "model.pt").is_file()
    assert "sentiment_core" not in script.read_text(encoding="utf-8")


@pytest.mark.parametrize("options", [
    {"cell": "lstm", "bidirectional": True, "num_layers": 2, "pooling": "attention", "head": "mlp", "head_hidden": 6},
    {"cell": "gru", "pooling": "last", "head": "per_step"},
    {"cell": "rnn", "bidirectional": True, "pooling": "max", "output": "sigmoid"},
    {"cell": "lstm", "pooling": "mean", "packed": False},
])
def test_the_exported_model_is_gatescopes_model(options, tmp_path):
    """The script's classifier takes a GateScope model's weights as they are and gives the same logits."""
    import importlib.util

    import torch

    from sentiment_core.models import ModelConfig, build_model

    config = {"label_names": ["negative", "positive"], "model": {"emb_dim": 5, "hidden_dim": 7, **options}}
    path = tmp_path / "exported.py"
    path.write_text(report.pytorch_script(config), encoding="utf-8")
    spec = importlib.util.spec_from_file_location("exported", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # defines the classes; main() runs only as a script
    torch.manual_seed(0)
    ours = build_model(ModelConfig(vocab_size=20, num_classes=2, emb_dim=5, hidden_dim=7, **options)).eval()
    theirs = module.Classifier(20).eval()
    theirs.load_state_dict(ours.state_dict())  # the same parameter names and shapes
    ids = torch.tensor([[3, 4, 5, 6, 7], [8, 9, 2, 0, 0]])
    lengths = torch.tensor([5, 3])
    if not options.get("packed", True):
        ids, lengths = ids[:1], lengths[:1]  # an unpacked model reads pads like words: compare a full row
    with torch.no_grad():
        assert torch.allclose(theirs(ids, lengths), ours(ids, lengths), atol=1e-5)


HOSTILE = ['x"""; import os; os.system("touch PWNED"); """', "x\nimport os; os.system('touch PWNED')",
           "'''; __import__('os').system('touch PWNED') #", "back\\slash\\", "%(prog)s %d PWNED", "tab\there\r\x0c"]


@pytest.mark.parametrize("place", ["label_names", "display_name", "run_name"])
def test_hostile_names_stay_string_literals_in_the_exported_script(place, tmp_path):
    """Labels, names and the run's name reach the script only as repr() literals: `--help` runs none of them."""
    import ast
    import io
    import tokenize

    config = {"label_names": ["negative", "positive"], "model": {"emb_dim": 5, "hidden_dim": 7}}
    run_name = "run"
    if place == "label_names":
        config["label_names"] = HOSTILE
    elif place == "display_name":
        config["display_name"] = "\n".join(HOSTILE)
    else:
        run_name = "\n".join(HOSTILE)
    source = report.pytorch_script(config, run_name)
    tree = ast.parse(source)  # the hostile text breaks no quote
    assert "PWNED" not in (ast.get_docstring(tree) or "")
    tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    outside_strings = " ".join(t.string for t in tokens if t.type != tokenize.STRING)  # code and comments
    assert "PWNED" not in outside_strings and "import os" not in outside_strings
    constants = {node.targets[0].id: ast.literal_eval(node.value) for node in tree.body
                 if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
                 and node.targets[0].id in ("LABELS", "RUN", "TITLE")}
    if place == "label_names":
        assert constants["LABELS"] == HOSTILE
    assert constants["RUN"] == run_name
    script = tmp_path / "exported.py"
    script.write_text(source, encoding="utf-8")
    done = subprocess.run([sys.executable, str(script), "--help"], check=False, cwd=tmp_path, capture_output=True,
                          text=True, timeout=120, env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": ""})
    assert done.returncode == 0, done.stderr[-2000:]
    assert "usage:" in done.stdout and "%(prog)s %d PWNED" in done.stdout  # the names print as they are
    assert not (tmp_path / "PWNED").exists()
