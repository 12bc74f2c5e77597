"""API access control: API keys (401), the per-client rate limit (429 + Retry-After), CORS."""
from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from bad_inputs.corpus import write_bundle
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
    assert int(refused.headers["Retry-After"]) == 20  # one request comes back every 60/3 s
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
    monkeypatch.setenv(api.API_KEYS_ENV, " k1 , k2,, ")
    monkeypatch.setenv(api.RATE_LIMIT_ENV, "120")
    monkeypatch.setenv(api.CORS_ENV, "https://a.example,https://b.example")
    assert ApiAccess.from_env() == ApiAccess(("k1", "k2"), 120, ("https://a.example", "https://b.example"))
    monkeypatch.setenv(api.RATE_LIMIT_ENV, "fast")
    with pytest.raises(GateScopeError, match="GATESCOPE_API_RATE_LIMIT must be a whole number"):
        ApiAccess.from_env()
