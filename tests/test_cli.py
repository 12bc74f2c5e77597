"""The command line: train, evaluate, predict and datasets, with friendly errors."""
import json
import subprocess
import sys

import pytest

from sentiment_core.checkpoint import load_checkpoint
from sentiment_core.cli import main
from sentiment_core.encoding import EncodingConfig
from tests.conftest import ROOT

TINY = ["--emb-dim", "8", "--hidden-dim", "8", "--epochs", "2", "--lr", "0.02", "--max-len", "20",
        "--device", "cpu", "--threads", "1", "--min-freq", "1"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "negation.safetensors"
    code = main(["train", "--dataset", "synthetic_negation", "--option", "n_examples=400", "--cell", "gru",
                 *TINY, "--padding", "pre", "--truncation", "pre", "--out", str(out)])
    assert code == 0
    return out


def test_train_writes_a_loadable_bundle_and_prints_a_table(trained, capsys):
    bundle = load_checkpoint(trained)
    assert bundle.model_config.cell == "gru" and bundle.model_config.hidden_dim == 8
    assert bundle.dataset["name"] == "synthetic_negation"
    assert bundle.encoding == EncodingConfig(max_len=20, padding="pre", truncation="pre")
    assert "max_len" not in bundle.train_config
    assert 0.0 <= bundle.metrics["test_accuracy"] <= 1.0


def test_train_output_has_epoch_table_and_confusion(tmp_path, capsys):
    code = main(["train", "--dataset", "synthetic_long_range", "--option", "n_examples=200",
                 "--option", "distance=3", *TINY])
    out = capsys.readouterr().out
    assert code == 0
    assert "val acc" in out and "test accuracy" in out and "confusion" in out
    assert len([line for line in out.splitlines() if line.strip()[:1].isdigit()]) >= 2  # one row per epoch


def test_predict_json_and_evaluate(trained, capsys):
    assert main(["predict", "--model", str(trained), "--json", "the movie was good", ""]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 2 and abs(sum(rows[0]["probabilities"].values()) - 1) < 1e-5
    assert rows[1]["notes"]  # empty text is explained, not an error
    assert main(["evaluate", "--model", str(trained), "--dataset", "synthetic_negation",
                 "--option", "n_examples=400", "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["count"] > 0 and 0 <= metrics["accuracy"] <= 1


def test_datasets_list_and_show(capsys):
    assert main(["datasets", "list"]) == 0
    out = capsys.readouterr().out
    assert out.index("airline_tweets") < out.index("imdb")  # offline first
    assert main(["datasets", "show", "imdb"]) == 0
    assert "Maas" in capsys.readouterr().out


@pytest.mark.parametrize("argv,message", [
    (["train", "--dataset", "no_such_set"], "no_such_set"),
    (["train", "--dataset", "../etc"], "valid"),
    (["predict", "--model", "missing.safetensors", "hi"], "no model bundle"),
    (["train", "--dataset", "synthetic_negation", "--hidden-dim", "0"], "minimum"),
])
def test_bad_input_is_one_line_not_a_traceback(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_module_entry_point_help():
    result = subprocess.run([sys.executable, "-m", "sentiment_core", "train", "--help"], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "--bidirectional" in result.stdout and "--clip-norm" in result.stdout


def test_datasets_fetch_reports_parts_and_fingerprint(capsys):
    assert main(["datasets", "fetch", "airline_tweets"]) == 0
    out = capsys.readouterr().out
    assert "14,638 examples" in out and "fingerprint" in out
