"""The REST API: endpoints, request limits, model names, shared models, the ``serve``
subcommand, and training faults (NaN, out of memory) seen through the run registry."""
from __future__ import annotations

import json
import math
import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from fnmatch import fnmatch
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from bad_inputs.corpus import write_bundle
from conftest import ROOT, rule_splits
from sentiment_core import cli
from sentiment_core.api import ApiLimits, create_app
from sentiment_core.checkpoint import load_checkpoint
from sentiment_core.errors import GateScopeError
from sentiment_core.runs import RunQueue, RunRequest, write_json

LIMITS = ApiLimits(max_text_chars=200, max_texts=8, max_ig_steps=60)
TINY_RUN = dict(model_options={"emb_dim": 8, "hidden_dim": 8},
                train_config={"epochs": 3, "batch_size": 32, "device": "cpu", "patience": 0})


def fake_run(runs: Path, name: str, bundle: Path | None, state: str = "completed") -> None:
    """A run folder as the worker leaves it (optionally with a best checkpoint)."""
    folder = runs / name
    folder.mkdir(parents=True)
    write_json(folder / "status.json", {"state": state, "message": "finished 2 epochs", "created": time.time()})
    write_json(folder / "config.json", {"display_name": "LSTM", "label_names": ["negative", "positive"]})
    write_json(folder / "result.json", {"test_accuracy": 0.75, "val_accuracy": 0.8})
    if bundle is not None:
        (folder / "best.safetensors").write_bytes(bundle.read_bytes())


@pytest.fixture(scope="module")
def dirs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("api")
    pretrained, runs = root / "pretrained", root / "runs"
    write_bundle(pretrained / "tiny.safetensors")
    write_bundle(pretrained / "tiny_gru.safetensors", cell="gru", bidirectional=True)
    fake_run(runs, "lstm-0101-000000-abcd", pretrained / "tiny.safetensors")
    fake_run(runs, "queued-run", None, state="queued")
    return {"pretrained": pretrained, "runs": runs}


@pytest.fixture(scope="module")
def client(dirs) -> TestClient:
    return TestClient(create_app(dirs["pretrained"], dirs["runs"], default_model="tiny", limits=LIMITS))


# ---------------------------------------------------------------- endpoints


def test_health_reports_configuration(client):
    body = client.get("/health").json()
    assert body["status"] == "ok" and body["default_model"] == "tiny" and "tiny" in body["loaded_models"]
    assert body["limits"]["max_texts"] == 8 and body["limits"]["max_text_chars"] == 200


def test_openapi_schema_documents_endpoints_and_limits(client):
    schema = client.get("/openapi.json").json()
    assert {"/predict", "/explain", "/models", "/health"} <= set(schema["paths"])
    predict = schema["components"]["schemas"]["PredictRequest"]["properties"]
    assert "maxItems" in json.dumps(predict["texts"]) and '"maxLength": 200' in json.dumps(predict["texts"])
    assert client.get("/docs").status_code == 200


def test_predict_one_and_many(client):
    one = client.post("/predict", json={"text": "a good film"}).json()
    assert one["model"] == "tiny" and one["labels"] == ["negative", "positive"] and len(one["predictions"]) == 1
    texts = ["a good film", "", "zzz qqq", "awful " * 30]
    many = client.post("/predict", json={"texts": texts, "model": "tiny_gru"}).json()
    assert many["model"] == "tiny_gru" and len(many["predictions"]) == len(texts)
    for p in many["predictions"]:
        assert math.isclose(sum(p["probabilities"].values()), 1.0, abs_tol=1e-5)
        assert p["label"] == max(p["probabilities"], key=p["probabilities"].get)
    empty, unknown = many["predictions"][1], many["predictions"][2]
    assert empty["tokens"] == [] and "empty" in empty["notes"][0]
    assert unknown["unknown_share"] == 1.0 and unknown["notes"]


def test_predict_accepts_the_flask_tutorial_input_field(client):
    """``{"input": ...}`` (the classic Flask tutorial's body) is ``text`` under another name;
    null stands for a field left out."""
    text = client.post("/predict", json={"text": "a good film"}).json()
    assert client.post("/predict", json={"input": "a good film"}).json() == text
    assert client.post("/predict", json={"input": "a good film", "text": None, "texts": None}).json() == text


def test_predict_matches_the_engine(client, dirs):
    from sentiment_core.predict import Predictor

    expected = Predictor(load_checkpoint(dirs["pretrained"] / "tiny.safetensors")).predict(["good plot"])[0]
    got = client.post("/predict", json={"text": "good plot"}).json()["predictions"][0]
    assert got["label"] == expected.label
    for name, p in expected.probabilities.items():
        assert math.isclose(got["probabilities"][name], p, rel_tol=1e-6)


def test_models_lists_shipped_models_and_runs_with_cards(client):
    body = client.get("/models").json()
    names = [m["name"] for m in body["models"]]
    assert body["default"] == "tiny"
    assert names == ["tiny", "tiny_gru", "run:lstm-0101-000000-abcd"]  # a run without checkpoint is not servable
    shipped, run = body["models"][0], body["models"][2]
    assert shipped["source"] == "pretrained" and shipped["card"]["title"] == "tiny lstm"
    assert run["source"] == "run" and run["state"] == "completed" and run["metrics"]["test_accuracy"] == 0.75


def test_run_models_are_served(client):
    body = client.post("/predict", json={"text": "a bad film", "model": "run:lstm-0101-000000-abcd"}).json()
    assert body["model"] == "run:lstm-0101-000000-abcd" and body["predictions"][0]["label"]


def test_unknown_model_is_404_listing_available_names(client):
    response = client.post("/predict", json={"text": "good", "model": "transformer"})
    assert response.status_code == 404
    assert response.json()["available"] == ["tiny", "tiny_gru", "run:lstm-0101-000000-abcd"]
    assert "tiny_gru" in response.json()["detail"]
    response = client.post("/predict", json={"text": "good", "model": "run:queued-run"})
    # no server holds its data any more: it will never train, so not "yet"
    assert response.status_code == 404 and "saved no model: it ended (interrupted)" in response.json()["detail"]


@pytest.mark.parametrize("model", ["../pretrained/tiny", "..", "run:../lstm-0101-000000-abcd",
                                   "run:../../etc/passwd", "tiny/../tiny", "/etc/passwd", "run:"])
def test_model_names_that_leave_their_folder_are_rejected(client, model):
    response = client.post("/predict", json={"text": "good", "model": model})
    assert response.status_code == 422 and "not allowed" in response.json()["detail"]


@pytest.mark.parametrize("body, status, says", [
    ({"texts": ["good"] * 9}, 422, "at most 8"),
    ({"texts": ["x" * 201]}, 422, "at most 200 characters"),
    ({"text": "x" * 201}, 422, "at most 200 characters"),
    ({"texts": []}, 422, "at least 1"),
    ({"text": "good", "texts": ["good"]}, 422, "exactly one of"),
    ({"text": "good", "input": "good"}, 422, "exactly one of"),
    ({"input": "good", "texts": ["good"]}, 422, "exactly one of"),
    ({"input": None}, 422, "exactly one of"),
    ({}, 422, "exactly one of"),
    ({"input": ["good"]}, 422, "valid string"),
    ({"input": "x" * 201}, 422, "at most 200 characters"),
    ({"text": 3}, 422, "valid string"),
    ({"text": "good", "temperature": 2}, 422, "Extra inputs"),
    ({"text": "good", "model": "m" * 121}, 422, "at most 120"),
    ([1, 2], 422, "valid dictionary"),
])
def test_request_limits_and_malformed_bodies_get_a_message(client, body, status, says):
    response = client.post("/predict", json=body)
    assert response.status_code == status
    assert says in response.json()["detail"]


def test_oversized_bodies_are_413_declared_or_streamed(client):
    big = b'{"text": "' + b"a" * (LIMITS.max_body_bytes + 10) + b'"}'
    response = client.post("/predict", content=big, headers={"content-type": "application/json"})
    assert response.status_code == 413 and "too large" in response.json()["detail"]

    def chunks():
        for _ in range(LIMITS.max_body_bytes // 65536 + 2):
            yield b"a" * 65536

    response = client.post("/predict", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert client.post("/predict", content=b"{not json", headers={"content-type": "application/json"}
                       ).status_code == 422


def test_explain_returns_tokens_ig_with_delta_and_gate_summaries(client):
    body = client.post("/explain", json={"text": "the film was good and the plot was fine", "steps": 50}).json()
    tokens = body["tokens"]
    ig = body["integrated_gradients"]
    assert tokens[:3] == ["the", "film", "was"] and len(ig["scores"]) == len(tokens) == len(body["unknown"])
    assert ig["target"] == body["label"] and ig["steps"] == 50
    assert abs(ig["delta"]) < 1e-2  # completeness holds up to the integration error
    gates = body["gates"]["directions"][0]["gates"]
    assert body["gates"]["cell"] == "lstm" and set(gates) == {"input", "forget", "cell_candidate", "output"}
    assert len(gates["forget"]["mean_per_token"]) == len(tokens)
    assert all(0.0 <= v <= 1.0 for v in gates["forget"]["mean_per_token"])


def test_explain_gate_summaries_are_the_trace_means_and_saturation(client, dirs):
    import numpy as np

    from sentiment_core.explain import trace

    text = "the film was good and the plot was fine"
    body = client.post("/explain", json={"text": text, "model": "tiny_gru", "steps": 10}).json()
    traced = trace(load_checkpoint(dirs["pretrained"] / "tiny_gru.safetensors"), text)
    assert [d["name"] for d in body["gates"]["directions"]] == [d.name for d in traced.directions]
    for direction, summary in zip(traced.directions, body["gates"]["directions"]):
        for gate, values in direction.gates.items():  # (T, H)
            got = summary["gates"][gate]
            np.testing.assert_allclose(got["mean_per_token"], values.mean(axis=1), rtol=1e-5, atol=1e-6)
            assert math.isclose(got["mean"], float(values.mean()), rel_tol=1e-5, abs_tol=1e-6)
            saturated = (values < 0.05) | (values > 0.95) if got["activation"] == "sigmoid" else np.abs(values) > 0.95
            assert got["saturated_share"] == pytest.approx(float(saturated.mean()))


def test_explain_bidirectional_gru_and_chosen_target(client):
    body = client.post("/explain", json={"text": "awful plot", "model": "tiny_gru", "target": "negative",
                                         "baseline": "zero"}).json()
    assert body["integrated_gradients"]["target"] == "negative"
    assert body["integrated_gradients"]["baseline"] == "zero"
    assert [d["direction"] for d in body["gates"]["directions"]] == ["forward", "backward"]
    assert set(body["gates"]["directions"][1]["gates"]) == {"reset", "update", "new"}


@pytest.mark.parametrize("body, says", [
    ({"text": ""}, "empty"),
    ({"text": "zzz qqq"}, "vocabulary"),
    ({"text": "good", "target": "neutral"}, "classes: negative, positive"),
    ({"text": "good", "steps": 61}, "less than or equal to 60"),
    ({"text": "good", "steps": 1}, "greater than or equal to 5"),
    ({"text": "good", "baseline": "mean"}, "'pad', 'unk' or 'zero'"),
])
def test_explain_refusals_are_422_with_a_message(client, body, says):
    response = client.post("/explain", json=body)
    assert response.status_code == 422 and says in response.json()["detail"]


def test_models_are_loaded_once_shared_and_reloaded_when_the_file_changes(dirs):
    app = create_app(dirs["pretrained"], dirs["runs"], default_model="tiny")
    models = app.state.models
    first = models.get("tiny")[1]
    client = TestClient(app)
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda i: client.post("/predict", json={"texts": ["good film", "bad plot"]}).json(),
                                range(16)))
    assert all(a == answers[0] for a in answers)  # concurrent requests, one shared read-only model
    assert models.get("tiny")[1] is first
    assert models.registry.load("tiny").bundle is first.bundle  # the registry's bundle, not a copy
    path = dirs["runs"] / "lstm-0101-000000-abcd" / "best.safetensors"
    loaded, run_predictor = models.get("run:lstm-0101-000000-abcd")
    write_bundle(path, seed=1)  # a still-training run writes a new best checkpoint
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 10**9))
    reloaded, new_predictor = models.get("run:lstm-0101-000000-abcd")
    assert reloaded.version != loaded.version and new_predictor is not run_predictor
    assert new_predictor.bundle is reloaded.bundle


def test_predictor_cache_is_bounded_like_the_registry_cache(dirs):
    models = create_app(dirs["pretrained"], dirs["runs"], default_model="tiny").state.models
    models.registry.cache_size = 1
    tiny = models.get("tiny")[1]
    models.get("tiny_gru")
    assert models.registry.loaded() == ["tiny_gru"] and models.get("tiny")[1] is not tiny


def test_the_api_imports_nothing_from_the_app_side(dirs):
    code = ("import sys; from fastapi.testclient import TestClient; from sentiment_core.api import create_app; "
            f"client = TestClient(create_app({str(dirs['pretrained'])!r}, {str(dirs['runs'])!r})); "
            "assert client.post('/predict', json={'text': 'good'}).status_code == 200; "
            "assert client.post('/explain', json={'text': 'good'}).status_code == 200; "
            "print(sorted(m for m in sys.modules if m.startswith(('streamlit', 'sentiment_core.ui_state', 'app'))))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_bad_default_model_fails_at_startup(dirs):
    with pytest.raises(GateScopeError, match="available: tiny, tiny_gru"):
        create_app(dirs["pretrained"], dirs["runs"], default_model="nope")


def test_no_models_at_all_is_a_404_with_advice(tmp_path):
    client = TestClient(create_app(tmp_path / "none", tmp_path / "runs"))
    response = client.post("/predict", json={"text": "good"})
    assert response.status_code == 404 and "no model is available" in response.json()["detail"]
    assert client.get("/models").json() == {"default": None, "models": []}


# ---------------------------------------------------------------- gatescope serve


def test_serve_subcommand_flags():
    args = cli.build_parser().parse_args(["serve"])
    assert (args.host, args.port, args.model, args.threads) == ("127.0.0.1", 8000, None, None)
    args = cli.build_parser().parse_args(["serve", "--host", "0.0.0.0", "--port", "9000", "--model", "lstm",
                                          "--threads", "3"])
    assert (args.host, args.port, args.model, args.threads) == ("0.0.0.0", 9000, "lstm", 3)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_gatescope_serve_end_to_end(dirs, tmp_path):
    """``python -m sentiment_core serve`` on 127.0.0.1 serves a saved run, then stops on SIGINT."""
    port = free_port()
    env = {**os.environ, "GATESCOPE_RUNS_DIR": str(dirs["runs"]), "PYTHONPATH": str(ROOT)}
    log = open(tmp_path / "serve.log", "w")
    server = subprocess.Popen([sys.executable, "-m", "sentiment_core", "serve", "--port", str(port),
                               "--model", "run:lstm-0101-000000-abcd", "--threads", "1"],
                              cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                health = httpx.get(url + "/health", timeout=2).json()
                break
            except httpx.TransportError:
                assert server.poll() is None and time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
                time.sleep(0.2)
        assert health["default_model"] == "run:lstm-0101-000000-abcd" and health["torch_threads"] == 1
        response = httpx.post(url + "/predict", json={"texts": ["good", "bad"]}, timeout=10)
        assert response.status_code == 200 and len(response.json()["predictions"]) == 2
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=20)
        log.close()
    assert server.returncode == 0


def test_serve_with_an_unknown_model_exits_with_a_message(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("GATESCOPE_RUNS_DIR", str(tmp_path))
    code = cli.main(["serve", "--model", "run:nothing-here"])
    assert code == 2 and "no model called 'run:nothing-here'" in capsys.readouterr().err


# ---------------------------------------------------------------- training faults through the run path


@pytest.fixture
def queue(tmp_path):
    queue = RunQueue(tmp_path / "runs", max_concurrent=2, executor="thread")
    yield queue
    queue.close()


def test_nan_run_stops_with_a_message_keeps_its_best_model_and_is_served(queue, monkeypatch, splits):
    from sentiment_core import models

    original = models.SentimentRNN.forward_from_embeddings
    calls = {"n": 0}

    def poisoned(self, embedded, ids, lengths=None):  # diverges during epoch 2
        calls["n"] += 1
        out = original(self, embedded, ids, lengths)
        return out * math.nan if self.training and calls["n"] > 25 else out

    monkeypatch.setattr(models.SentimentRNN, "forward_from_embeddings", poisoned)
    name = queue.submit(RunRequest(splits, **TINY_RUN, label="absurd-lr"))
    record = queue.wait(name, timeout=60)
    assert record.state == "failed" and "Lower the learning rate" in record.message
    assert record.result["stop_reason"] == "nan_loss" and record.result["has_checkpoint"]
    assert len(record.epochs()) == 1
    bundle = load_checkpoint(record.best_path)
    assert bundle.metrics["best_epoch"] == 1
    client = TestClient(create_app(queue.root / "none", queue.root))
    listed = {m["name"]: m for m in client.get("/models").json()["models"]}
    assert listed[f"run:{name}"]["state"] == "failed"
    response = client.post("/predict", json={"text": "good film", "model": f"run:{name}"})
    assert response.status_code == 200


def test_out_of_memory_run_suggests_a_smaller_batch(queue, monkeypatch):
    from sentiment_core import trainer

    real_collate = trainer.collate

    def huge(data, index, padding="post"):
        if len(index) == 32:  # training batches only
            raise RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 1000 GB")
        return real_collate(data, index, padding)

    monkeypatch.setattr(trainer, "collate", huge)
    name = queue.submit(RunRequest(rule_splits(200), **TINY_RUN, label="huge-batch"))
    record = queue.wait(name, timeout=60)
    assert record.state == "failed" and "smaller batch size" in record.message
    assert record.result["stop_reason"] == "out_of_memory" and record.best_path is None
    response = TestClient(create_app(queue.root / "none", queue.root)).post(
        "/predict", json={"text": "good", "model": f"run:{name}"})
    assert response.status_code == 404 and "saved no model: it ended (failed)" in response.json()["detail"]


# ---------------------------------------------------------------- deployment files


def test_dockerfile_copies_files_that_exist_and_installs_the_cpu_torch():
    """Docker cannot run here: check what can be checked without it."""
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    ignored = [line.strip() for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
               if line.strip() and not line.startswith("#")]
    copied = [source for line in dockerfile.splitlines() if line.startswith("COPY ")
              for source in line.split()[1:-1]]
    assert {"requirements.txt", "sentiment_core", "app", "pretrained"} <= set(copied)
    for source in copied:
        assert (ROOT / source).exists(), f"the Dockerfile copies {source}, which does not exist"
        assert not any(fnmatch(source, pattern) or source.startswith(pattern + "/") for pattern in ignored), \
            f".dockerignore leaves {source} out of the build context"
    pin = next(line.split("#")[0].strip() for line in (ROOT / "requirements.txt").read_text().splitlines()
               if line.startswith("torch=="))
    assert f"pip install {pin} --index-url https://download.pytorch.org/whl/cpu" in dockerfile
    assert '"app/Home.py"' in dockerfile and (ROOT / "app" / "Home.py").is_file()
    assert "EXPOSE 8501 8000" in dockerfile and "python -m sentiment_core serve --host 0.0.0.0" in dockerfile
    assert "python -m sentiment_core serve" in (ROOT / "docs" / "deployment.md").read_text(encoding="utf-8")


# ---------------------------------------------------------------- gate surgery


def test_intervene_with_a_lesson_and_with_own_changes(client):
    body = client.post("/intervene", json={"text": "a good film but bad", "lesson": "forget_before_but"}).json()
    assert body["model"] == "tiny" and body["interventions"] == [
        "forget gate set to 0 at 'but' (layer 0, forward, all units)"]
    assert len(body["per_token_before"]) == len(body["tokens"]) == len(body["directions"][0]["hidden_change"])
    assert body["directions"][0]["hidden_change"][:3] == [0.0, 0.0, 0.0]  # before 'but' nothing changes
    assert body["directions"][0]["max_abs_change"] > 0
    assert math.isclose(sum(body["probabilities_after"].values()), 1.0, rel_tol=1e-5)
    none = client.post("/intervene", json={"text": "a good film", "interventions": [
        {"target": "hidden", "units": [0], "positions": [1], "op": "scale", "value": 1.0}]}).json()
    assert none["probabilities_before"] == none["probabilities_after"] and not none["flipped"]
    gru = client.post("/intervene", json={"text": "not good", "model": "tiny_gru", "lesson": "ignore_not"}).json()
    assert len(gru["interventions"]) == 2 and gru["per_token_before"] is None and "backward" in gru["per_token_note"]


@pytest.mark.parametrize("body,message", [
    ({"text": "a good film"}, "exactly one of 'lesson'"),
    ({"text": "a good film", "lesson": "ignore_not", "interventions": [{"target": "hidden"}]}, "exactly one"),
    ({"text": "a good film", "lesson": "forget"}, "lesson"),
    ({"text": "a good film", "interventions": [{"target": "forgett"}]}, "interventions.0.target"),
    ({"text": "a good film", "interventions": [{"target": "forget", "op": "zero"}]}, "'clamp0', 'clamp1'"),
    ({"text": "a good film", "interventions": [{"target": "hidden", "value": 1000}]}, "less than or equal to 100"),
    ({"text": "a good film", "interventions": []}, "at least 1"),
    ({"text": "a good film", "interventions": [{"target": "update"}]}, "has no 'update' to change; valid: input"),
    ({"text": "a good film", "interventions": [{"target": "forget", "layer": 2}]}, "layer 2 does not exist"),
    ({"text": "a good film", "interventions": [{"target": "forget", "direction": 1}]}, "needs a bidirectional"),
    ({"text": "a good film", "interventions": [{"target": "forget", "units": [8]}]}, "units must be in 0..7"),
    ({"text": "a good film", "interventions": [{"target": "forget", "positions": [3]}]}, "positions must be in 0..2"),
    ({"text": "a good film", "lesson": "ignore_not"}, "the text has no 'not'"),
    ({"text": "zzzz qqqq", "lesson": "ignore_not"}, "vocabulary"),
])
def test_intervene_refuses_bad_requests_with_a_clear_422(client, body, message):
    response = client.post("/intervene", json=body)
    assert response.status_code == 422 and message in response.json()["detail"], response.json()
