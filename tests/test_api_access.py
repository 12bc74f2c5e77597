"""API access control: API keys (401), the per-client rate limit (429 + Retry-After), CORS, the
client's address behind trusted proxies only, and the lane and limits of expensive requests."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from fastapi.testclient import TestClient

from bad_inputs.corpus import write_bundle
from conftest import ROOT
from sentiment_core import api
from sentiment_core.api import ApiAccess, create_app
from sentiment_core.errors import GateScopeError

BODY = {"text": "not bad at all"}


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("access") / "pretrained"
    write_bundle(folder / "tiny.safetensors")
    return folder


def app_with(pretrained, tmp_path, **access):
    return TestClient(create_app(pretrained, tmp_path / "runs", default_model="tiny", access=ApiAccess(**access)))


def test_without_a_valid_key_requests_get_401(pretrained, tmp_path):
    client = app_with(pretrained, tmp_path, api_keys=("k-one", "k-two"))
    for headers in ({}, {"X-API-Key": "wrong"}, {"Authorization": "Bearer wrong"}, {"Authorization": "k-one"}):
        answer = client.post("/predict", json=BODY, headers=headers)
        assert answer.status_code == 401, headers
        assert "X-API-Key" in answer.json()["detail"] and answer.headers["WWW-Authenticate"] == "Bearer"
    assert client.get("/models").status_code == 401
    assert client.post("/predict", json=BODY, headers={"X-API-Key": "k-two"}).status_code == 200
    assert client.post("/predict", json=BODY, headers={"Authorization": "Bearer k-one"}).status_code == 200
    assert client.get("/health").status_code == 200  # liveness and the docs stay open
    assert client.get("/openapi.json").status_code == 200


def test_no_keys_configured_means_open(pretrained, tmp_path):
    assert app_with(pretrained, tmp_path).post("/predict", json=BODY).status_code == 200


def test_over_the_rate_limit_gets_429_with_retry_after(pretrained, tmp_path):
    client = app_with(pretrained, tmp_path, api_keys=("a", "b"), rate_per_minute=3)
    for _ in range(3):
        assert client.post("/predict", json=BODY, headers={"X-API-Key": "a"}).status_code == 200
    refused = client.post("/predict", json=BODY, headers={"X-API-Key": "a"})
    assert refused.status_code == 429
    assert 18 <= int(refused.headers["Retry-After"]) <= 20  # one request comes back every 60/3 s
    assert "3 per minute" in refused.json()["detail"]
    # per client: another key still gets through
    assert client.post("/predict", json=BODY, headers={"X-API-Key": "b"}).status_code == 200
    # wrong keys are counted per address, so guessing keys is slowed down too
    statuses = [client.post("/predict", json=BODY, headers={"X-API-Key": f"guess{i}"}).status_code for i in range(5)]
    assert statuses == [401, 401, 401, 429, 429]


def test_rate_limiter_refills_over_time():
    now = [0.0]
    limiter = api._RateLimiter(60, clock=lambda: now[0])  # one per second
    assert all(limiter.take("c") == 0 for _ in range(60))
    assert limiter.take("c") == pytest.approx(1.0)
    now[0] += 1.0
    assert limiter.take("c") == 0


def test_cors_origins_are_configurable(pretrained, tmp_path):
    client = app_with(pretrained, tmp_path, api_keys=("k",), cors_origins=("https://class.example.org",))
    preflight = client.options("/predict", headers={"Origin": "https://class.example.org",
                                                    "Access-Control-Request-Method": "POST",
                                                    "Access-Control-Request-Headers": "X-API-Key"})
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "https://class.example.org"
    ok = client.post("/predict", json=BODY, headers={"X-API-Key": "k", "Origin": "https://class.example.org"})
    assert ok.headers["access-control-allow-origin"] == "https://class.example.org"
    denied = client.post("/predict", json=BODY, headers={"Origin": "https://class.example.org"})
    assert denied.status_code == 401 and denied.headers["access-control-allow-origin"] == "https://class.example.org"
    other = client.post("/predict", json=BODY, headers={"X-API-Key": "k", "Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers
    assert "access-control-allow-origin" not in app_with(pretrained, tmp_path).post(
        "/predict", json=BODY, headers={"Origin": "https://class.example.org"}).headers  # none by default


def test_access_settings_from_the_environment(monkeypatch):
    for name in (api.TRUSTED_PROXIES_ENV, api.EXPENSIVE_PER_CLIENT_ENV, api.EXPENSIVE_TOTAL_ENV):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(api.API_KEYS_ENV, " k1 , k2,, ")
    monkeypatch.setenv(api.RATE_LIMIT_ENV, "120")
    monkeypatch.setenv(api.CORS_ENV, "https://a.example,https://b.example")
    access = ApiAccess.from_env()
    assert access == ApiAccess(("k1", "k2"), 120, ("https://a.example", "https://b.example"))
    assert (access.trusted_proxies, access.expensive_per_client, access.expensive_total) == ((), 2, 8)  # defaults
    monkeypatch.setenv(api.TRUSTED_PROXIES_ENV, "127.0.0.1, 10.0.0.0/8")
    monkeypatch.setenv(api.EXPENSIVE_PER_CLIENT_ENV, "1")
    monkeypatch.setenv(api.EXPENSIVE_TOTAL_ENV, "0")
    access = ApiAccess.from_env()
    assert (access.trusted_proxies, access.expensive_per_client, access.expensive_total) == (
        ("127.0.0.1", "10.0.0.0/8"), 1, 0)
    monkeypatch.setenv(api.EXPENSIVE_TOTAL_ENV, "-1")
    with pytest.raises(GateScopeError, match="GATESCOPE_API_EXPENSIVE_TOTAL must be a whole number"):
        ApiAccess.from_env()
    monkeypatch.setenv(api.EXPENSIVE_TOTAL_ENV, "4")
    monkeypatch.setenv(api.TRUSTED_PROXIES_ENV, "nginx.local")
    with pytest.raises(GateScopeError, match="'nginx.local' is not an IP address or network"):
        ApiAccess.from_env()
    monkeypatch.setenv(api.TRUSTED_PROXIES_ENV, "")
    monkeypatch.setenv(api.RATE_LIMIT_ENV, "fast")
    with pytest.raises(GateScopeError, match="GATESCOPE_API_RATE_LIMIT must be a whole number"):
        ApiAccess.from_env()


# ---------------------------------------------------------------- who the client is


def scope(peer: str, *forwarded: str) -> dict:
    return {"client": (peer, 5000), "headers": [(b"x-forwarded-for", v.encode()) for v in forwarded]}


def test_forwarded_for_is_read_only_from_trusted_proxies():
    trusted = api._networks(("127.0.0.1", "10.0.0.0/8"))
    assert api.client_address(scope("203.0.113.9", "1.2.3.4"), trusted) == "203.0.113.9"  # not a proxy: ignored
    assert api.client_address(scope("203.0.113.9", "1.2.3.4"), ()) == "203.0.113.9"  # none trusted by default
    assert api.client_address(scope("127.0.0.1", "1.2.3.4"), ()) == "127.0.0.1"
    # behind nginx (which appends its peer): the client's own entries on the left are not believed
    assert api.client_address(scope("127.0.0.1", "6.6.6.6, 1.2.3.4"), trusted) == "1.2.3.4"
    assert api.client_address(scope("127.0.0.1", "6.6.6.6", "1.2.3.4, 10.0.0.7"), trusted) == "1.2.3.4"
    assert api.client_address(scope("10.1.2.3", "not-an-address, 10.0.0.7"), trusted) == "10.0.0.7"
    assert api.client_address(scope("127.0.0.1"), trusted) == "127.0.0.1"  # a proxy that names nobody
    assert api.client_address(scope("::1", "2001:db8::1"), api._networks(("::1",))) == "2001:db8::1"


def test_rotating_forwarded_for_does_not_reset_the_rate_limit(pretrained, tmp_path):
    def client(peer: str, **access) -> TestClient:
        return TestClient(create_app(pretrained, tmp_path / "runs", default_model="tiny",
                                     access=ApiAccess(rate_per_minute=2, **access)), client=(peer, 5000))

    untrusted = client("203.0.113.9")
    statuses = [untrusted.post("/predict", json=BODY, headers={"X-Forwarded-For": f"198.51.100.{i}"}).status_code
                for i in range(4)]
    assert statuses == [200, 200, 429, 429]
    proxied = client("127.0.0.1", trusted_proxies=("127.0.0.1",))  # behind our own proxy: one bucket per client
    statuses = [proxied.post("/predict", json=BODY, headers={"X-Forwarded-For": f"198.51.100.{i % 2}"}).status_code
                for i in range(6)]
    assert statuses == [200, 200, 200, 200, 429, 429]


def test_gatescope_serve_ignores_forwarded_for_from_loopback_by_default(pretrained, tmp_path):
    """Through uvicorn, as deployed: a local client that rotates X-Forwarded-For is still one client
    (uvicorn trusts 127.0.0.1's proxy headers unless GateScope turns them off)."""
    port = free_port()
    env = {**os.environ, "GATESCOPE_PRETRAINED_DIR": str(pretrained), "GATESCOPE_RUNS_DIR": str(tmp_path / "runs"),
           "PYTHONPATH": str(ROOT), api.RATE_LIMIT_ENV: "2"}
    env.pop(api.TRUSTED_PROXIES_ENV, None)
    log = open(tmp_path / "serve.log", "w")
    server = subprocess.Popen([sys.executable, "-m", "sentiment_core", "serve", "--port", str(port),
                               "--model", "tiny", "--threads", "1"],
                              cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        url, deadline = f"http://127.0.0.1:{port}", time.monotonic() + 60
        while True:
            try:
                httpx.get(url + "/health", timeout=2)
                break
            except httpx.TransportError:
                assert server.poll() is None and time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
                time.sleep(0.2)
        statuses = [httpx.post(url + "/predict", json=BODY, timeout=10,
                               headers={"X-Forwarded-For": f"198.51.100.{i}"}).status_code for i in range(4)]
        assert statuses == [200, 200, 429, 429]
    finally:
        server.terminate()
        server.wait(timeout=20)
        log.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ---------------------------------------------------------------- expensive requests


def test_expensive_requests_cannot_starve_predict(pretrained, tmp_path, monkeypatch):
    """Four /explain calls from one client fill the expensive lane (one runs, three wait): a fifth
    is refused at once with 429, another client is refused once the total is reached, and /predict
    still answers at once."""
    release, running = threading.Event(), threading.Semaphore(0)
    real = api._explain

    def blocked(*args):
        running.release()
        assert release.wait(timeout=30), "the test never released the explanations"
        return real(*args)

    monkeypatch.setattr(api, "_explain", blocked)
    client = TestClient(create_app(pretrained, tmp_path / "runs", default_model="tiny", concurrency=2,
                                   access=ApiAccess(api_keys=("a", "b"), expensive_per_client=4, expensive_total=5)))
    explain = {"text": "not bad at all", "steps": 5}
    post = lambda path, body, key: client.post(path, json=body, headers={"X-API-Key": key})  # noqa: E731
    with ThreadPoolExecutor(6) as pool:
        try:
            calls = [pool.submit(post, "/explain", explain, "a") for _ in range(4)]
            assert running.acquire(timeout=30)  # one runs; the lane (concurrency // 2 = 1) makes the rest wait
            wait_until(lambda: sum(api_gate(client).values()) == 4)
            start = time.monotonic()
            fifth = post("/explain", explain, "a")
            assert fifth.status_code == 429 and int(fifth.headers["Retry-After"]) >= 1
            assert "the limit is 4 /explain or /intervene requests in flight per client" in fifth.json()["detail"]
            other = pool.submit(post, "/explain", explain, "b")  # the fifth in flight: admitted, waits
            wait_until(lambda: sum(api_gate(client).values()) == 5)
            busy = post("/intervene", {"text": "not bad", "lesson": "forget_before_but"}, "b")
            assert busy.status_code == 429 and "the server is busy" in busy.json()["detail"]
            quick = pool.submit(post, "/predict", BODY, "b").result(timeout=10)
            assert quick.status_code == 200 and time.monotonic() - start < 10
            assert not running.acquire(timeout=0.2)  # still only one explanation has started
        finally:
            release.set()
        assert [c.result(timeout=60).status_code for c in calls + [other]] == [200] * 5
    assert sum(api_gate(client).values()) == 0  # every admission was given back


def wait_until(condition, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def api_gate(client: TestClient) -> dict[str, int]:
    """Requests in flight per client in the app's expensive gate."""
    stack = client.app.middleware_stack
    while not isinstance(stack, api._AccessControl):
        stack = stack.app
    return dict(stack.expensive._in_flight)
