"""The command line: train, evaluate, predict, explain and datasets, with friendly errors."""
import io
import json
import subprocess
import sys

import pytest

from sentiment_core import cli
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


def test_train_out_folder_gets_a_named_bundle(tmp_path, capsys):
    code = main(["train", "--dataset", "synthetic_negation", "--option", "n_examples=200", *TINY, "--epochs", "1",
                 "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0
    written = list(tmp_path.glob("*.safetensors"))
    assert len(written) == 1 and written[0].name.startswith("lstm-synthetic-negation-")
    assert f"model bundle written to {written[0]}" in out
    assert load_checkpoint(written[0]).dataset["name"] == "synthetic_negation"


def test_train_out_that_cannot_be_written_is_refused_before_training(tmp_path, capsys):
    (tmp_path / "a-file").write_text("not a folder")
    code = main(["train", "--dataset", "synthetic_negation", "--option", "n_examples=200", *TINY,
                 "--out", str(tmp_path / "a-file" / "model.safetensors")])
    captured = capsys.readouterr()
    assert code == 2
    assert "cannot write the model bundle to" in captured.err and "writable" in captured.err
    assert "Traceback" not in captured.err and "val acc" not in captured.out


def test_progress_in_a_log_is_plain_lines(capsys):
    progress = cli._Progress()
    for done in (0, 2**20, 2 * 2**20):
        progress(done, 2 * 2**20, "downloading x.tar.gz")
    progress(5, 10, "reading reviews")
    progress.close()
    err = capsys.readouterr().err
    assert "\r" not in err
    assert err.splitlines() == ["downloading x.tar.gz (2.0 MB) ...", "downloading x.tar.gz: 2.0 MB done",
                                "reading reviews (10) ...", "reading reviews: 5 done"]


def test_progress_on_a_terminal_is_a_tqdm_bar(monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    progress = cli._Progress()
    progress(0, 4 * 2**20, "downloading x.tar.gz")
    progress(4 * 2**20, 4 * 2**20, "downloading x.tar.gz")
    progress.close()
    assert "\r" in terminal.getvalue() and "100%" in terminal.getvalue() and "4.00M" in terminal.getvalue()


def test_training_log_has_no_carriage_returns(capsys):
    assert main(["train", "--dataset", "synthetic_long_range", "--option", "n_examples=100", *TINY]) == 0
    captured = capsys.readouterr()
    assert "\r" not in captured.out + captured.err
    assert "test accuracy" in captured.out


def test_shipped_model_names_work_for_predict_and_evaluate(capsys):
    assert main(["predict", "--model", "bilstm", "--json", "a wonderful, moving film"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["label"] == "positive"
    assert main(["evaluate", "--model", "lstm", "--dataset", "synthetic_negation", "--option", "n_examples=200",
                 "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["count"] > 0


@pytest.mark.parametrize("name,message", [
    ("nosuch", "no model called 'nosuch'; available: "),
    ("run:nosuch", "no model called 'run:nosuch'"),
    ("../bilstm", "no model bundle at ../bilstm"),
    ("bad name!", "is not allowed"),
])
def test_unknown_model_names_are_one_line_errors(name, message, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("GATESCOPE_RUNS_DIR", str(tmp_path / "runs"))
    for command in (["predict", "--model", name, "hi"], ["explain", "--model", name, "hi"]):
        assert main(command) == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
        if "available" in message:
            assert "bilstm" in err and "lstm" in err


def test_explain_json_is_consistent(capsys):
    assert main(["explain", "--model", "bilstm", "--json", "It was not good", "A great film"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [row["tokens"] for row in rows] == [["it", "was", "not", "good"], ["a", "great", "film"]]
    for row in rows:
        assert abs(sum(row["probabilities"].values()) - 1) < 1e-5
        assert row["label"] == max(row["probabilities"], key=row["probabilities"].get)
        ig = row["integrated_gradients"]
        assert ig["target"] == row["label"] and ig["baseline"] == "pad" and ig["steps"] == 50
        assert len(ig["scores"]) == len(row["tokens"])
        assert abs(ig["input_score"] - row["probabilities"][row["label"]]) < 1e-4
        gap = sum(ig["scores"]) - (ig["input_score"] - ig["baseline_score"])
        assert abs(gap - ig["delta"]) < 1e-4 and abs(ig["delta"]) < 0.02
        layers = row["gates"]["layers"]
        assert [(layer["layer"], layer["direction"]) for layer in layers] == [(0, "forward"), (0, "backward")]
        for layer in layers:
            assert {"input", "forget", "cell_candidate", "output"} <= set(layer["gates"])
            for gate in ("input", "forget", "cell_candidate", "output"):
                summary = layer["gates"][gate]
                assert 0 <= summary["saturated_share"] <= 1
                low = 0 if summary["activation"] == "sigmoid" else -1
                assert low <= summary["mean"] <= 1
    assert rows[0]["label"] == "negative" and rows[1]["label"] == "positive"


def test_explain_options_target_steps_baseline(capsys):
    assert main(["explain", "--model", "lstm", "--json", "--target", "positive", "--steps", "20",
                 "--baseline", "unk", "It was not good"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    ig = row["integrated_gradients"]
    assert (ig["target"], ig["steps"], ig["baseline"]) == ("positive", 20, "unk")
    assert abs(ig["input_score"] - row["probabilities"]["positive"]) < 1e-4
    assert [layer["name"] for layer in row["gates"]["layers"]] == ["layer 0"]


def test_explain_text_output(capsys):
    assert main(["explain", "--model", "bilstm", "It was not good"]) == 0
    out = capsys.readouterr().out
    assert "prediction: negative (negative 0." in out and "integrated gradients of P(negative)" in out
    token_lines = [line.split() for line in out.splitlines() if line.startswith("  ") and len(line.split()) == 2]
    assert [tokens[0] for tokens in token_lines] == ["it", "was", "not", "good"]
    assert "convergence delta" in out
    assert "layer 0 backward" in out and "forget" in out and "saturated" in out


@pytest.mark.parametrize("argv,message", [
    (["", "fine"], "cannot explain ''"),
    (["--target", "neutral", "fine"], "unknown target class 'neutral'; the model's classes are negative, positive"),
    (["--steps", "0", "fine"], "steps=0 is below the minimum 5"),
    (["--steps", "100000", "fine"], "above the maximum"),
])
def test_explain_bad_input_is_one_line(argv, message, capsys):
    assert main(["explain", "--model", "bilstm", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_explain_rejects_unknown_baseline_and_non_numeric_steps(capsys):
    for argv in (["--baseline", "mean", "x"], ["--steps", "many", "x"]):
        with pytest.raises(SystemExit) as exit_info:
            main(["explain", "--model", "bilstm", *argv])
        assert exit_info.value.code == 2
        assert "invalid" in capsys.readouterr().err


def test_explain_json_on_stdout_of_the_entry_point():
    result = subprocess.run([sys.executable, "-m", "sentiment_core", "explain", "--model", "bilstm", "--json",
                             "--threads", "1", "not bad at all"], cwd=ROOT, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    (row,) = json.loads(result.stdout)
    assert row["tokens"] == ["not", "bad", "at", "all"]


def test_saved_run_by_name(trained, tmp_path, monkeypatch, capsys):
    run = tmp_path / "runs" / "gru-negation-1"
    run.mkdir(parents=True)
    (run / "status.json").write_text(json.dumps({"state": "completed", "created": 1.0}))
    (run / "best.safetensors").write_bytes(trained.read_bytes())
    monkeypatch.setenv("GATESCOPE_RUNS_DIR", str(tmp_path / "runs"))
    assert main(["predict", "--model", "run:gru-negation-1", "--json", "the movie was good"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["label"] in ("negative", "positive")
    assert main(["explain", "--model", "run:gru-negation-1", "--json", "the movie was good"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert set(row["gates"]["layers"][0]["gates"]) >= {"reset", "update", "new"}


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    return err


def test_predict_input_that_is_a_folder_is_one_line(trained, tmp_path, capsys):
    assert main(["predict", "--model", str(trained), "--input", str(tmp_path)]) == 2
    assert f"--input {tmp_path} is a folder, not a file; give the file itself" in one_line_error(capsys)


def test_train_on_deeply_nested_json_is_one_line(tmp_path, capsys):
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    assert main(["train", "--file", str(deep), *TINY]) == 2
    assert "nested too deeply" in one_line_error(capsys)


def test_import_with_a_vocabulary_folder_is_one_line(tmp_path, capsys):
    import torch
    from tests.tutorial_models import SentimentLSTM

    torch.save(SentimentLSTM(12, 1, embedding_dim=4, hidden_dim=3, n_layers=1, drop_prob=0.0).state_dict(), tmp_path / "m.pt")
    assert main(["import", str(tmp_path / "m.pt"), "--vocab", str(tmp_path), "--out", str(tmp_path / "o.safetensors")]) == 2
    assert "is a folder" in one_line_error(capsys)


def test_a_file_the_system_refuses_is_one_line(trained, tmp_path, capsys, monkeypatch):
    def refused(self):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(type(tmp_path), "read_bytes", refused)
    (tmp_path / "texts.txt").write_text("good\n")
    assert main(["predict", "--model", str(trained), "--input", str(tmp_path / "texts.txt")]) == 2
    assert f"--input {tmp_path / 'texts.txt'} could not be read (Permission denied)" in one_line_error(capsys)


@pytest.fixture(scope="module")
def broken(trained, tmp_path_factory):
    """The trained bundle with one weight set to NaN (a diverged run): every probability is NaN."""
    import torch

    from sentiment_core.checkpoint import save_checkpoint

    bundle = load_checkpoint(trained)
    with torch.no_grad():
        next(bundle.model.parameters()).fill_(float("nan"))
    return save_checkpoint(tmp_path_factory.mktemp("nan") / "nan.safetensors", bundle)


def test_nan_probabilities_are_valid_json_with_a_warning(broken, capsys):
    assert main(["predict", "--model", str(broken), "--json", "the movie was good"]) == 0
    (row,) = json.loads(capsys.readouterr().out, parse_constant=lambda c: pytest.fail(f"{c} in the JSON"))
    assert set(row["probabilities"].values()) == {None} and "not numbers (NaN or infinity)" in row["warning"]
    assert main(["explain", "--model", str(broken), "--json", "the movie was good"]) == 0
    (row,) = json.loads(capsys.readouterr().out, parse_constant=lambda c: pytest.fail(f"{c} in the JSON"))
    assert "warning" in row


def test_nan_probabilities_in_text_mode_warn_on_stderr(broken, capsys):
    assert main(["predict", "--model", str(broken), "the movie was good"]) == 0
    captured = capsys.readouterr()
    assert "nan" in captured.out
    assert captured.err.startswith("gatescope: warning: the model gave probabilities that are not numbers")
    assert "(1 of 1 texts)" in captured.err


def test_report_of_a_bundle_path(trained, tmp_path, monkeypatch, capsys):
    """`train --out m.safetensors` then `report m.safetensors`: what the bundle carries, and why no slices."""
    monkeypatch.chdir(tmp_path)
    script = tmp_path / "retrain.py"
    assert main(["report", str(trained), "--script", str(script)]) == 0
    out = tmp_path / "negation-report.html"
    assert capsys.readouterr().out.splitlines() == [f"report written to {out.name}",
                                                   f"PyTorch script written to {script}"]
    page = out.read_text(encoding="utf-8")
    for section in ("GateScope model negation.safetensors", "Training curves", "Confusion matrix (test split)",
                    "<th>Hidden size</th><td>8</td>", "no accuracy per slice"):
        assert section in page, section
    assert f"<td>{load_checkpoint(trained).metrics['test_accuracy']:.1%}</td>" in page
    assert script.read_text(encoding="utf-8").startswith("#!/usr/bin/env python3")


@pytest.mark.parametrize("source,message", [
    ("missing.safetensors", "no model bundle at missing.safetensors"),
    ("{tmp}/gone/model", "no model bundle at {tmp}/gone/model"),
    ("{tmp}/junk.safetensors", "junk.safetensors is not a valid model bundle"),
    ("{tmp}/", "there is no run called"),
])
def test_report_of_a_bad_path_is_one_line(source, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "junk.safetensors").write_bytes(b"not a bundle at all, just text")
    assert main(["report", source.format(tmp=tmp_path)]) == 2
    assert message.format(tmp=tmp_path) in one_line_error(capsys)
