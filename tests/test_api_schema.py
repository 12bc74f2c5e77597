"""The OpenAPI schema says exactly what the API accepts: schemathesis runs every check over
every operation of a served API (``gatescope serve`` with the shipped ``rnn`` model)."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from conftest import ROOT
from sentiment_core.api import MODEL_NAME_PATTERN, create_app
from sentiment_core.registry import ModelLookupError, ModelRegistry

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
HOOKS = Path(__file__).with_name("schemathesis_hooks.py")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """``python -m sentiment_core serve`` on 127.0.0.1 with the shipped ``rnn`` model only."""
    root = tmp_path_factory.mktemp("schema")
    (root / "pretrained").mkdir()
    (root / "pretrained" / "rnn.safetensors").symlink_to(ROOT / "pretrained" / "rnn.safetensors")
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GATESCOPE_PRETRAINED_DIR": str(root / "pretrained"),
           "GATESCOPE_RUNS_DIR": str(root / "runs")}
    log = open(root / "serve.log", "w")
    server = subprocess.Popen([sys.executable, "-m", "sentiment_core", "serve", "--port", str(port), "--threads", "1"],
                              cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while True:
            try:
                httpx.get(url + "/health", timeout=2).raise_for_status()
                break
            except httpx.TransportError:
                assert server.poll() is None and time.monotonic() < deadline, (root / "serve.log").read_text()
                time.sleep(0.2)
        yield url, root
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=20)
        log.close()


@pytest.mark.skipif(not SCHEMATHESIS.exists(), reason="schemathesis is not installed: pip install -r requirements-dev.txt")
def test_schemathesis_finds_no_issue_with_any_check(served):
    """All checks on all operations, coverage and fuzzing phases, a fixed seed. The one change:
    ``positive_data_acceptance`` is replaced by its model-aware form (tests/schemathesis_hooks.py),
    which lets ``/explain`` refuse a text of unknown words or an unknown target class (and
    ``/intervene`` a change the model or the text cannot take); naming it
    in ``--checks`` also fails the run if the hooks did not load. The one warning allowed is that
    ``/intervene`` refuses most generated requests: almost every random layer, unit, token position
    or gate is one the served plain RNN or the short text does not have."""
    url, root = served
    done = subprocess.run(
        [str(SCHEMATHESIS), "run", url + "/openapi.json", "--checks", "all,positive_data_acceptance_model_aware",
         "--exclude-checks", "positive_data_acceptance", "--max-examples", "25", "--seed", "1",
         "--generation-database", "none", "--no-color"],
        cwd=root, env={**os.environ, "SCHEMATHESIS_HOOKS": str(HOOKS)}, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert "Tested: 5" in done.stdout and "Failures:" not in done.stdout, done.stdout[-3000:]
    if "No issues found" not in done.stdout:
        warnings = done.stdout.split("WARNINGS =")[1].split("SUMMARY =")[0]
        listed = re.findall(r"^\s+- (.+)$", warnings, flags=re.M)
        assert "Schema validation mismatch: 1 operation" in warnings and listed == ["POST /intervene"], warnings


@pytest.mark.parametrize("name", ["tiny", "run:lstm-1", "a.b_c-d", "x" * 80, "run:" + "x" * 80,
                                  "..", "a..b", "run:", "run:../x", "/etc/passwd", "tiny/../tiny", "x" * 81,
                                  "-tiny", "run:run:x", "ti ny"])
def test_model_name_pattern_is_the_registry_rule(tmp_path, name):
    """The schema's model-name pattern allows exactly the names the registry does not call unsafe
    (these are answered 422; the others that do not exist, 404)."""
    with pytest.raises(ModelLookupError) as caught:
        ModelRegistry(tmp_path / "pretrained", tmp_path / "runs").entry(name)
    assert (caught.value.reason == "unsafe") == (re.search(MODEL_NAME_PATTERN, name) is None)


def test_schema_states_the_one_of_rule_and_the_non_blank_explain_text(tmp_path):
    schema = TestClient(create_app(tmp_path / "none", tmp_path / "runs")).get("/openapi.json").json()
    request = schema["components"]["schemas"]["PredictRequest"]
    assert [branch["required"] for branch in request["oneOf"]] == [["text"], ["input"], ["texts"]]
    assert request["oneOf"][1]["properties"] == {"text": {"type": "null"}, "input": {"type": "string"},
                                                 "texts": {"type": "null"}}
    assert schema["components"]["schemas"]["ExplainRequest"]["properties"]["text"]["pattern"] == r"\S"
