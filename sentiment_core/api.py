"""REST API over the shipped models and the app's saved runs (FastAPI + uvicorn).

``create_app()`` builds the application; ``serve()`` runs it (``gatescope serve``).
Endpoints: ``POST /predict``, ``POST /explain``, ``POST /intervene``, ``GET /models``, ``GET /health``; the
OpenAPI schema is at ``/openapi.json`` and interactive docs at ``/docs``.

Models come from the one ``ModelRegistry`` (``sentiment_core.registry``): ``<name>`` for a
shipped bundle (``<pretrained dir>/<name>.safetensors``) and ``run:<run name>`` for the best
checkpoint of a run saved by the app. Each bundle is loaded once, shared read-only by all
requests, and reloaded only when its file changes (a run that is still training writes a new
best checkpoint). Request sizes are limited: too many or too
long texts are answered 422 with a message, bodies over the byte limit 413.

Access control for public deployments (``ApiAccess``, read from the environment):
``GATESCOPE_API_KEYS`` (comma-separated keys: every request but ``/health`` and the docs needs
one in ``X-API-Key`` or ``Authorization: Bearer``, else 401), ``GATESCOPE_API_RATE_LIMIT``
(requests per minute per client, a key or else an address; over it 429 with ``Retry-After``),
``GATESCOPE_API_CORS_ORIGINS`` (comma-separated origins allowed to call from a browser),
``GATESCOPE_TRUSTED_PROXIES`` (addresses or networks whose ``X-Forwarded-For`` names the client;
none by default: the client is the connection's address) and ``GATESCOPE_API_EXPENSIVE_PER_CLIENT``
/ ``GATESCOPE_API_EXPENSIVE_TOTAL`` (``/explain`` and ``/intervene`` requests in flight per client
and in all; over either 429 at once). Expensive requests run in their own lane, so they never
hold the slots ``/predict`` uses.
"""

import hashlib
import hmac
import ipaddress
import math
import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator

from . import __version__
from .classroom import Viewer, visible_models
from .errors import CheckpointError, GateScopeError
from .explain.intervene import ALL_TARGETS, LESSONS_BY_KEY, OPS
from .explain.spec import BASELINES
from .models import MODEL_SPEC
from .registry import RUN_PREFIX, LoadedModel, ModelLookupError, ModelRegistry, describe, shared_registry

API_VIEWER = Viewer(owner="", role="teacher")  # the deployer's programs see what the teacher sees


@dataclass(frozen=True)
class ApiLimits:
    """Request limits.

    Attributes:
        max_text_chars: characters per text (predict and explain).
        max_texts: texts per ``/predict`` request.
        max_ig_steps: most integrated-gradients steps one ``/explain`` may ask for.
        max_model_name: characters in a model name.
    """

    max_text_chars: int = 5000
    max_texts: int = 64
    max_ig_steps: int = 200
    max_model_name: int = 120

    @property
    def max_body_bytes(self) -> int:
        """Largest accepted request body: every text at its limit, JSON-escaped (up to 12
        bytes per character for ``\\uXXXX`` surrogate pairs), plus room for the rest."""
        return self.max_texts * (12 * self.max_text_chars + 16) + 16384


API_KEYS_ENV = "GATESCOPE_API_KEYS"
RATE_LIMIT_ENV = "GATESCOPE_API_RATE_LIMIT"
CORS_ENV = "GATESCOPE_API_CORS_ORIGINS"
TRUSTED_PROXIES_ENV = "GATESCOPE_TRUSTED_PROXIES"
EXPENSIVE_PER_CLIENT_ENV = "GATESCOPE_API_EXPENSIVE_PER_CLIENT"
EXPENSIVE_TOTAL_ENV = "GATESCOPE_API_EXPENSIVE_TOTAL"
OPEN_PATHS = ("/health", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json")
# Endpoints that run integrated gradients or gate surgery: seconds each, so they are admitted per
# client and in all (429 at once over the limit) and run in a lane of their own.
EXPENSIVE_PATHS = ("/explain", "/intervene")


def _env_list(name: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in os.environ.get(name, "").split(",") if v.strip())


def _env_count(name: str, default: int, what: str) -> int:
    raw = os.environ.get(name, "").strip() or str(default)
    if not raw.isdigit():
        raise GateScopeError(f"{name} must be a whole number of {what} (0 for no limit), got {raw!r}")
    return int(raw)


def _networks(values: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """Parse trusted proxy addresses or networks (``10.0.0.5``, ``10.0.0.0/8``, ``::1``).

    Raises:
        GateScopeError: a value that is neither.
    """
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value, strict=False))
        except ValueError:
            raise GateScopeError(f"{TRUSTED_PROXIES_ENV}: {value!r} is not an IP address or network; give "
                                 "addresses or networks separated by commas, e.g. 127.0.0.1,10.0.0.0/8") from None
    return tuple(networks)


@dataclass(frozen=True)
class ApiAccess:
    """Who may call the API and how often.

    Attributes:
        api_keys: accepted keys; empty = no key needed.
        rate_per_minute: requests per minute per client (its key, else its address); 0 = no limit.
        cors_origins: browser origins allowed to call the API (``"*"`` for any); empty = none.
        trusted_proxies: addresses or networks of reverse proxies whose ``X-Forwarded-For`` names
            the client; empty = the client is the connection's address, whatever the headers say.
        expensive_per_client: ``EXPENSIVE_PATHS`` requests one client may have in flight; 0 = no limit.
        expensive_total: ``EXPENSIVE_PATHS`` requests in flight (running or waiting) over all
            clients; 0 = no limit.
    """

    api_keys: tuple[str, ...] = ()
    rate_per_minute: int = 0
    cors_origins: tuple[str, ...] = field(default_factory=tuple)
    trusted_proxies: tuple[str, ...] = ()
    expensive_per_client: int = 2
    expensive_total: int = 8

    def __post_init__(self):
        _networks(self.trusted_proxies)  # a typo fails at start, with a message

    @classmethod
    def from_env(cls) -> "ApiAccess":
        """Read ``$GATESCOPE_API_KEYS``, ``$GATESCOPE_API_RATE_LIMIT``, ``$GATESCOPE_API_CORS_ORIGINS``,
        ``$GATESCOPE_TRUSTED_PROXIES``, ``$GATESCOPE_API_EXPENSIVE_PER_CLIENT`` and
        ``$GATESCOPE_API_EXPENSIVE_TOTAL``.

        Raises:
            GateScopeError: a limit that is not a whole number of at least 0, or a trusted proxy
                that is not an address or network.
        """
        return cls(_env_list(API_KEYS_ENV), _env_count(RATE_LIMIT_ENV, 0, "requests per minute"),
                   _env_list(CORS_ENV), _env_list(TRUSTED_PROXIES_ENV),
                   _env_count(EXPENSIVE_PER_CLIENT_ENV, cls.expensive_per_client, "requests"),
                   _env_count(EXPENSIVE_TOTAL_ENV, cls.expensive_total, "requests"))


class _RateLimiter:
    """A token bucket per client: ``per_minute`` requests, refilled evenly over a minute."""

    def __init__(self, per_minute: int, clock=time.monotonic, max_clients: int = 10000):
        self.capacity, self.refill = float(per_minute), per_minute / 60.0
        self.clock, self.max_clients = clock, max_clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, client: str) -> float:
        """Spend one request for ``client``; returns 0 when allowed, else seconds to wait."""
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.pop(client, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.refill)
            wait = 0.0
            if tokens >= 1.0:
                tokens -= 1.0
            else:
                wait = (1.0 - tokens) / self.refill
            self._buckets[client] = (tokens, now)
            while len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
        return wait


def client_address(scope, trusted: tuple) -> str:
    """The address a request comes from: the connection's, unless that is a trusted proxy; then the
    nearest address in ``X-Forwarded-For`` (read from the right) that is not a trusted proxy.

    Args:
        scope: the ASGI scope (``client`` is the socket peer: uvicorn runs without proxy headers).
        trusted: parsed ``ApiAccess.trusted_proxies``.

    Returns:
        A normalised IP address, or the peer as given when it is not one (a test client).
    """
    def parse(value: str):
        try:
            return ipaddress.ip_address(value.strip().strip("[]"))
        except ValueError:
            return None

    peer = str((scope.get("client") or ("?",))[0])
    address = parse(peer)
    if address is None or not any(address in network for network in trusted):
        return str(address or peer)
    hops = [hop for name, value in scope.get("headers") or [] if name == b"x-forwarded-for"
            for hop in value.decode("latin-1").split(",")]
    for hop in reversed(hops):  # the right end was written by our own proxies
        address = parse(hop)
        if address is None:
            break  # a forged or broken entry: stop at the last trusted hop
        if not any(address in network for network in trusted):
            return str(address)
        peer = str(address)
    return peer


class _ExpensiveGate:
    """Admission to ``EXPENSIVE_PATHS``: at most ``per_client`` requests in flight per client and
    ``total`` in all (0 = no limit); ``Retry-After`` is the recent typical duration."""

    def __init__(self, per_client: int, total: int, clock=time.monotonic):
        self.per_client, self.total, self.clock = per_client, total, clock
        self._in_flight: dict[str, int] = {}
        self._typical = 1.0  # seconds, an exponential average of finished requests
        self._lock = threading.Lock()

    def enter(self, client: str) -> str | None:
        """Admit one request of ``client``; returns None when admitted, else why not."""
        with self._lock:
            mine, everyone = self._in_flight.get(client, 0), sum(self._in_flight.values())
            if self.per_client and mine >= self.per_client:
                return (f"too many explanations at once: the limit is {self.per_client} /explain or /intervene "
                        "requests in flight per client; wait for one to finish")
            if self.total and everyone >= self.total:
                return (f"the server is busy: {everyone} explanations are running or waiting (the limit is "
                        f"{self.total}); /predict still answers")
            self._in_flight[client] = mine + 1
        return None

    def leave(self, client: str, seconds: float) -> None:
        with self._lock:
            left = self._in_flight.pop(client) - 1
            if left:
                self._in_flight[client] = left
            self._typical = 0.8 * self._typical + 0.2 * seconds

    @property
    def retry_after(self) -> int:
        return max(1, math.ceil(self._typical))


class _AccessControl:
    """ASGI middleware: 429 over the per-client rate, then 401 without a valid API key, then 429
    over the expensive-request limits."""

    def __init__(self, app, access: ApiAccess, clock=time.monotonic):
        self.app, self.access, self.clock = app, access, clock
        self.keys = [k.encode("utf-8") for k in access.api_keys]
        self.trusted = _networks(access.trusted_proxies)
        self.limiter = _RateLimiter(access.rate_per_minute, clock) if access.rate_per_minute else None
        self.expensive = _ExpensiveGate(access.expensive_per_client, access.expensive_total, clock)

    def _valid_key(self, headers: dict) -> bytes | None:
        given = headers.get(b"x-api-key")
        auth = headers.get(b"authorization", b"")
        if given is None and auth[:7].lower() == b"bearer ":
            given = auth[7:].strip()
        if given is None:
            return None
        matches = [hmac.compare_digest(given, key) for key in self.keys]  # every key compared: no timing hint
        return given if any(matches) else None

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope.get("method") == "OPTIONS" or scope.get("path") in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        key = self._valid_key(headers) if self.keys else None
        client = ("key:" + hashlib.sha256(key).hexdigest()[:16]) if key else \
            "addr:" + client_address(scope, self.trusted)
        if self.limiter is not None:
            wait = self.limiter.take(client)
            if wait > 0:
                seconds = max(1, math.ceil(wait))
                await _too_many(f"too many requests: the limit is {self.access.rate_per_minute} per minute per "
                                f"client; try again in {seconds} s", seconds, scope, receive, send)
                return
        if self.keys and key is None:
            await JSONResponse({"detail": "a valid API key is required: send it in the X-API-Key header "
                                          "(or as Authorization: Bearer <key>)"},
                               status_code=401, headers={"WWW-Authenticate": "Bearer"})(scope, receive, send)
            return
        if scope.get("path") not in EXPENSIVE_PATHS:
            await self.app(scope, receive, send)
            return
        refusal = self.expensive.enter(client)
        if refusal is not None:
            seconds = self.expensive.retry_after
            await _too_many(f"{refusal}; try again in {seconds} s", seconds, scope, receive, send)
            return
        start = self.clock()
        try:
            await self.app(scope, receive, send)
        finally:
            self.expensive.leave(client, self.clock() - start)


async def _too_many(detail: str, seconds: int, scope, receive, send) -> None:
    await JSONResponse({"detail": detail}, status_code=429, headers={"Retry-After": str(seconds)})(scope, receive, send)


class ApiError(GateScopeError):
    """An error answered with ``status`` and a message (never a 500).

    Args:
        message: what went wrong and what to do.
        status: HTTP status code.
        extra: more JSON fields for the answer (e.g. ``available`` model names).
    """

    def __init__(self, message: str, status: int, **extra: Any):
        super().__init__(message)
        self.status = status
        self.extra = extra


# ---------------------------------------------------------------- models


class _Models:
    """The registry's models for API requests: the default model, one ``Predictor`` per loaded
    model version, and registry errors turned into ``ApiError`` answers.

    Args:
        registry: where models are found, loaded and cached.
        default: model used when a request names none (None: there is no model at all).
    """

    def __init__(self, registry: ModelRegistry, default: str | None):
        self.registry = registry
        self.default = default
        self._predictors: OrderedDict[str, tuple[str, Any]] = OrderedDict()  # key -> (cache_key, Predictor)
        self._lock = threading.Lock()

    def get(self, name: str | None) -> tuple[LoadedModel, Any]:
        """The loaded model ``name`` (or the default) and its ``Predictor``.

        Args:
            name: a key from ``GET /models``; None or empty for the default.

        Returns:
            ``(loaded model, predictor)``; the predictor is rebuilt when the model's file changed.

        Raises:
            ApiError: 422 for an unsafe name or a bundle that cannot be loaded, 404 (listing the
                available names) for an unknown model or a run without a checkpoint yet.
        """
        from .predict import Predictor

        name = name or self.default
        if name is None:
            raise ApiError("no model is available: ship pretrained bundles (scripts/build_pretrained.py) or "
                           "train a run in the app, then name it in the request", 404, available=[])
        try:
            loaded = self.registry.load(name)
        except ModelLookupError as error:
            if error.reason == "unsafe":
                raise ApiError(str(error), 422) from None
            raise ApiError(str(error), 404, available=error.available) from None
        except CheckpointError as error:
            raise ApiError(f"model {name!r} cannot be loaded: {error}", 422) from None
        with self._lock:
            cached = self._predictors.get(loaded.key)
            if cached is None or cached[0] != loaded.cache_key:
                cached = (loaded.cache_key, Predictor(loaded.bundle))
                self._predictors[loaded.key] = cached
            self._predictors.move_to_end(loaded.key)
            while len(self._predictors) > self.registry.cache_size:
                self._predictors.popitem(last=False)
        return loaded, cached[1]


# ---------------------------------------------------------------- schemas


class PredictionOut(BaseModel):
    """One text's prediction."""

    label: str = Field(description="most probable class")
    probabilities: dict[str, float] = Field(description="class name -> probability (sums to 1)")
    tokens: list[str] = Field(description="tokens the model read (after truncation)")
    truncated: bool = Field(description="the text was longer than the model reads and was cut")
    unknown_share: float = Field(description="share of tokens the vocabulary does not know")
    notes: list[str] = Field(description="plain-language warnings (empty text, unknown words, truncation)")


class PredictResponse(BaseModel):
    model: str
    labels: list[str]
    predictions: list[PredictionOut]


class ModelInfo(BaseModel):
    name: str = Field(description=f"use it as `model` in requests; runs are '{RUN_PREFIX}<run name>'")
    source: str = Field(description="'pretrained' (shipped) or 'run' (trained in the app)")
    title: str
    architecture: str
    labels: list[str]
    state: str | None = Field(description="run state (completed, interrupted, ...); null for shipped models")
    metrics: dict[str, Any]
    card: dict[str, Any] = Field(description="the model card (shipped) or the run's config and result")
    problems: list[str] = Field(default_factory=list, description="what is damaged in a run's folder, in words "
                                "(empty when sound); a run whose model cannot be loaded is not listed")


class ModelsResponse(BaseModel):
    default: str | None
    models: list[ModelInfo]


class HealthResponse(BaseModel):
    status: str
    version: str
    default_model: str | None
    loaded_models: list[str]
    torch_threads: int
    concurrency: int
    limits: dict[str, int]


class IntegratedGradientsOut(BaseModel):
    scores: list[float] = Field(description="attribution of each token to the target class")
    delta: float = Field(description="completeness gap: sum of scores minus (F(input) - F(baseline))")
    steps: int
    baseline: str
    target: str


class ExplainResponse(BaseModel):
    model: str
    label: str
    probabilities: dict[str, float]
    tokens: list[str]
    unknown: list[bool]
    truncated: bool
    integrated_gradients: IntegratedGradientsOut
    gates: dict[str, Any] = Field(description="per-token gate summaries of the recurrent cell")
    notes: list[str]


class ErrorResponse(BaseModel):
    detail: str = Field(description="what went wrong and what to do")
    available: list[str] | None = Field(default=None, description="the names that do exist (models or classes)")
    errors: list[dict[str, Any]] | None = Field(default=None, description="invalid fields, one entry each")


# The names ``ModelRegistry.entry`` allows (shipped ``<name>`` or ``run:<name>``, no ``..``), or "" for the default.
MODEL_NAME_PATTERN = rf"^(?!.*\.\.)(?:(?:{RUN_PREFIX})?[A-Za-z0-9][A-Za-z0-9._-]{{0,79}})?$"
ONE_OF_TEXTS = {"text": "string", "input": "string", "texts": "array"}  # /predict: exactly one, by JSON type


def _exactly_one_text_field(schema: dict[str, Any]) -> None:
    """State the rule of ``PredictRequest._exactly_one`` in its JSON schema: exactly one of
    ``text``, ``input`` and ``texts`` is given and not null (the other two are absent or null)."""
    schema["oneOf"] = [
        {"required": [name], "properties": {other: {"type": kind if other == name else "null"}
                                            for other, kind in ONE_OF_TEXTS.items()}}
        for name in ONE_OF_TEXTS]


def _request_models(limits: ApiLimits) -> tuple[type[BaseModel], type[BaseModel]]:
    """Request schemas carrying this app's limits (so the OpenAPI schema states them)."""
    Text = Annotated[str, Field(max_length=limits.max_text_chars)]
    # The registry refuses other names with a message for people; the pattern says so in the schema.
    ModelName = Annotated[str | None, Field(default=None, max_length=limits.max_model_name,
                                            json_schema_extra={"pattern": MODEL_NAME_PATTERN},
                                            description="model from GET /models (default: the server's)")]

    class PredictRequest(BaseModel):
        """Give exactly one of `text` or `input` (one string) or `texts` (a list of strings)."""

        model_config = ConfigDict(extra="forbid", json_schema_extra=_exactly_one_text_field)
        text: Text | None = Field(default=None, description="one text")
        input: Text | None = Field(default=None, description="one text: the same as `text`, under the name "
                                                             "the classic Flask tutorial sends")
        texts: list[Text] | None = Field(default=None, min_length=1, max_length=limits.max_texts,
                                         description=f"up to {limits.max_texts} texts")
        model: ModelName

        @model_validator(mode="after")
        def _exactly_one(self):
            if sum(getattr(self, name) is not None for name in ONE_OF_TEXTS) != 1:
                raise ValueError("give exactly one of 'text' or 'input' (one string) or 'texts' (a list of strings)")
            return self

        def all_texts(self) -> list[str]:
            """The texts to predict, in order."""
            return list(self.texts) if self.texts is not None else [self.text if self.text is not None
                                                                     else self.input]

    class ExplainRequest(BaseModel):
        model_config = ConfigDict(extra="forbid")
        # The explainer refuses blank texts with a message for people; the pattern says so in the schema.
        text: Text = Field(description="the text to explain (not blank)", json_schema_extra={"pattern": r"\S"})
        model: ModelName
        target: str | None = Field(default=None, max_length=200,
                                   description="class to explain (default: the predicted one)")
        steps: int = Field(default=50, ge=5, le=limits.max_ig_steps,
                           description="integrated-gradients steps (more: smaller delta, slower)")
        baseline: Literal[BASELINES] = Field(default="pad", description="what each token is compared with: "
                                             "<pad>, <unk> or an all-zero embedding")

    return PredictRequest, ExplainRequest


# ---------------------------------------------------------------- gate surgery (POST /intervene)


class InterventionIn(BaseModel):
    """One change to the recurrence (see ``sentiment_core.explain.intervene.Intervention``)."""

    model_config = ConfigDict(extra="forbid")
    target: Literal[ALL_TARGETS] = Field(description="a gate (LSTM input, forget, cell_candidate, output; GRU reset, "
                                                     "update, new), 'cell' (LSTM) or 'hidden' (every cell)")
    layer: int = Field(default=0, ge=0, le=MODEL_SPEC["num_layers"].max - 1, description="0 reads the embeddings")
    direction: Literal[0, 1] = Field(default=0, description="0 forward, 1 backward (bidirectional models)")
    units: list[Annotated[int, Field(ge=0, le=MODEL_SPEC["hidden_dim"].max - 1)]] | None = Field(
        default=None, min_length=1, max_length=MODEL_SPEC["hidden_dim"].max, description="hidden units; null for all")
    positions: list[Annotated[int, Field(ge=0, le=9999)]] | None = Field(
        default=None, min_length=1, max_length=1000, description="token positions (0-based); null for every token")
    op: Literal[OPS] = Field(default="clamp0", description="clamp0 (set to 0), clamp1 (set to 1), scale (multiply "
                                                            "by value) or add (add value)")
    value: float = Field(default=0.0, ge=-100.0, le=100.0, allow_inf_nan=False,
                         description="factor of 'scale' or amount of 'add'")


class DirectionChangeOut(BaseModel):
    name: str
    layer: int
    direction: str
    hidden_change: list[float] = Field(description="per token, the size (L2 norm) of the change of the hidden state")
    cell_change: list[float] | None = Field(description="per token, the size of the change of the LSTM cell state")
    max_abs_change: float = Field(description="largest change of any hidden or cell value")


class InterveneResponse(BaseModel):
    model: str
    tokens: list[str]
    labels: list[str]
    interventions: list[str] = Field(description="each change, in words")
    label_before: str
    label_after: str
    flipped: bool
    probabilities_before: dict[str, float]
    probabilities_after: dict[str, float]
    per_token_before: list[list[float]] | None = Field(description="(T, C) probabilities if the text ended at each "
                                                                   "token; null for bidirectional models")
    per_token_after: list[list[float]] | None
    per_token_note: str = Field(description="why there is no per-token prediction (empty when there is)")
    directions: list[DirectionChangeOut]
    notes: list[str]


def _lesson_or_interventions(schema: dict[str, Any]) -> None:
    """State the rule of ``InterveneRequest._one_kind`` in its JSON schema: exactly one of
    ``lesson`` and ``interventions`` is given and not null."""
    kinds = {"lesson": "string", "interventions": "array"}
    schema["oneOf"] = [{"required": [name], "properties": {other: {"type": kind if other == name else "null"}
                                                            for other, kind in kinds.items()}} for name in kinds]


def _intervene_request_model(limits: ApiLimits) -> type[BaseModel]:
    """The ``POST /intervene`` request schema with this app's limits."""
    class InterveneRequest(BaseModel):
        """Give exactly one of `lesson` (a ready-made change) or `interventions` (your own)."""

        model_config = ConfigDict(extra="forbid", json_schema_extra=_lesson_or_interventions)
        text: Annotated[str, Field(max_length=limits.max_text_chars)] = Field(
            description="the text (not blank)", json_schema_extra={"pattern": r"\S"})
        model: Annotated[str | None, Field(default=None, max_length=limits.max_model_name,
                                           json_schema_extra={"pattern": MODEL_NAME_PATTERN},
                                           description="model from GET /models (default: the server's)")]
        lesson: Literal[tuple(LESSONS_BY_KEY)] | None = Field(
            default=None, description="; ".join(f"{k}: {v.title}" for k, v in LESSONS_BY_KEY.items()))
        interventions: list[InterventionIn] | None = Field(default=None, min_length=1, max_length=32)

        @model_validator(mode="after")
        def _one_kind(self):
            if (self.lesson is None) == (self.interventions is None):
                raise ValueError("give exactly one of 'lesson' (a ready-made change) or 'interventions' (a list)")
            return self

    return InterveneRequest


def _intervene(loaded: LoadedModel, text: str, lesson: str | None, changes: list[InterventionIn] | None
               ) -> InterveneResponse:
    """Gate surgery on one text (see ``POST /intervene``)."""
    import numpy as np

    from .explain import ExplanationInputError, prepare_input
    from .explain.intervene import Intervention, intervene, lesson_interventions

    name, bundle = loaded.key, loaded.bundle
    try:
        prepared = prepare_input(bundle, text)
        if lesson is not None:
            interventions = lesson_interventions(lesson, bundle.model, prepared.tokens)
        else:
            interventions = [Intervention(c.target, c.layer, c.direction, None if c.units is None else tuple(c.units),
                                          None if c.positions is None else tuple(c.positions), c.op, c.value)
                             for c in changes]
        result = intervene(bundle, prepared, interventions)
    except (ExplanationInputError, ValueError) as error:
        raise ApiError(str(error), 422) from None
    directions = []
    for d in result.directions:
        cell = d.cell_difference
        biggest = [np.abs(d.hidden_difference).max(initial=0.0)] + ([] if cell is None else [np.abs(cell).max(initial=0.0)])
        directions.append(DirectionChangeOut(
            name=d.name, layer=d.layer, direction="backward" if d.direction else "forward",
            hidden_change=[float(v) for v in np.linalg.norm(d.hidden_difference, axis=1)],
            cell_change=None if cell is None else [float(v) for v in np.linalg.norm(cell, axis=1)],
            max_abs_change=float(max(biggest))))
    numbers = [*result.probabilities_after, *(v for d in directions for v in d.hidden_change + (d.cell_change or []))]
    if not all(math.isfinite(float(v)) for v in numbers):
        raise ApiError("the change made the numbers overflow (a large 'scale' or 'add' on the cell state at many "
                       "tokens): use a smaller value or fewer tokens", 422)
    labels = list(result.label_names)
    table = lambda a: None if a is None else [[float(v) for v in row] for row in a]  # noqa: E731
    return InterveneResponse(
        model=name, tokens=result.tokens, labels=labels, interventions=[i.describe(result.tokens) for i in interventions],
        label_before=result.label_before, label_after=result.label_after, flipped=result.flipped,
        probabilities_before=dict(zip(labels, map(float, result.probabilities_before))),
        probabilities_after=dict(zip(labels, map(float, result.probabilities_after))),
        per_token_before=table(result.per_token_before), per_token_after=table(result.per_token_after),
        per_token_note=result.reason, directions=directions, notes=result.notes)


# ---------------------------------------------------------------- app


class _BodyLimit:
    """ASGI middleware: answer 413 to bodies over ``limit`` bytes, declared or streamed."""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await self._reject(scope, receive, send)
            return
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.limit:
                await self._reject(scope, receive, send)
                return
            if not message.get("more_body"):
                break
        body, sent = b"".join(chunks), False

        async def replay():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _reject(self, scope, receive, send):
        response = JSONResponse({"detail": f"request body too large: the limit is {self.limit:,} bytes; "
                                           "send fewer or shorter texts"}, status_code=413)
        await response(scope, receive, send)


def _validation_message(errors: list[dict]) -> str:
    parts = []
    for error in errors[:5]:
        loc = ".".join(str(x) for x in error.get("loc", ()) if x != "body")
        parts.append(f"{loc}: {error.get('msg')}" if loc else str(error.get("msg")))
    return "; ".join(parts) + (f" (and {len(errors) - 5} more)" if len(errors) > 5 else "")


def _finite(name: str, values) -> None:
    if not all(math.isfinite(v) for v in values):
        raise ApiError(f"model {name!r} produced NaN or infinite numbers: its weights are damaged; "
                       "retrain or re-export it", 422)


def _gate_summaries(stats, cell: str) -> dict[str, Any]:
    """Per layer and direction, per gate of ``gate_statistics`` over one text: the mean over
    hidden units at each token, the overall mean, and the share of saturated values."""
    from .explain import GATE_NAMES

    directions: dict[tuple[int, int], dict[str, Any]] = {}
    for h in sorted(stats.histograms, key=lambda h: (h.layer, h.direction)):
        if h.gate not in GATE_NAMES[cell]:
            continue  # hidden and cell states are not gates
        entry = directions.setdefault((h.layer, h.direction), {
            "name": h.name, "layer": h.layer, "direction": "backward" if h.direction else "forward", "gates": {}})
        entry["gates"][h.gate] = {"activation": h.activation, "mean_per_token": [float(v) for v in h.token_means[0]],
                                  "mean": h.mean, "saturated_share": h.saturated_share}
    return {"cell": cell, "directions": list(directions.values())}


def _explain(loaded: LoadedModel, text: str, target: str | None, steps: int, baseline: str) -> "ExplainResponse":
    """``explain()`` (prediction, trace, integrated gradients) and ``gate_statistics`` of one
    text (see ``POST /explain``)."""
    from .explain import ExplanationInputError, explain, gate_statistics

    name, bundle = loaded.key, loaded.bundle
    index = None
    if target is not None:
        if target not in bundle.label_names:
            raise ApiError(f"target {target!r} is not a class of model {name!r}; classes: "
                           f"{', '.join(bundle.label_names)}", 422, available=list(bundle.label_names))
        index = bundle.label_names.index(target)
    try:
        result = explain(bundle, text, target=index, baseline=baseline, n_steps=steps)
    except ExplanationInputError as error:
        raise ApiError(str(error), 422) from None
    ig = result.integrated_gradients
    probabilities = [float(p) for p in result.prediction.probabilities]
    scores = [float(s) for s in ig.scores]
    _finite(name, probabilities + scores + [ig.delta])
    return ExplainResponse(
        model=name, label=result.prediction.label_name, probabilities=dict(zip(bundle.label_names, probabilities)),
        tokens=list(result.input.tokens), unknown=list(result.input.unknown), truncated=result.input.truncated,
        integrated_gradients=IntegratedGradientsOut(scores=scores, delta=float(ig.delta), steps=steps,
                                                    baseline=baseline, target=ig.target_name),
        gates=_gate_summaries(gate_statistics(bundle, [result.input]), result.trace.cell), notes=result.notes,
    )


def create_app(pretrained_dir: str | os.PathLike | None = None, runs_root: str | os.PathLike | None = None,
               default_model: str | None = None, limits: ApiLimits | None = None,
               concurrency: int = 2, preload: bool = True, access: ApiAccess | None = None) -> FastAPI:
    """Build the API.

    Args:
        pretrained_dir: folder of shipped bundles (default: ``$GATESCOPE_PRETRAINED_DIR`` or the
            repository's ``pretrained/``).
        runs_root: runs directory (default: ``$GATESCOPE_RUNS_DIR`` or ``./runs``).
        default_model: model used when a request names none (default: the registry's
            ``default_key()``: ``bilstm`` when shipped, then ``lstm``, ``gru``, ``rnn``, any shipped
            model, the newest run).
        limits: request limits.
        concurrency: ``/predict`` evaluations running at once (the rest wait their turn);
            ``/explain`` and ``/intervene`` run in a lane of their own, ``max(1, concurrency // 2)``
            at once, so they never hold the slots of ``/predict``.
        preload: load the default model now, so a bad ``default_model`` fails at startup.
        access: API keys, rate limit, CORS origins, trusted proxies and expensive-request limits
            (default: ``ApiAccess.from_env()``).

    Returns:
        The FastAPI application.

    Raises:
        GateScopeError: ``preload`` and the default model is unknown or cannot be loaded.
    """
    import torch

    limits = limits or ApiLimits()
    registry = (shared_registry() if pretrained_dir is None and runs_root is None
                else ModelRegistry(pretrained_dir, runs_root))
    # fixed now, so requests naming no model scan nothing
    store = _Models(registry, default_model or registry.default_key())
    if preload and store.default:
        store.get(store.default)
    compute = threading.BoundedSemaphore(max(1, concurrency))  # /predict
    expensive_lane = threading.BoundedSemaphore(max(1, concurrency // 2))  # /explain, /intervene
    PredictRequest, ExplainRequest = _request_models(limits)
    InterveneRequest = _intervene_request_model(limits)

    app = FastAPI(
        title="GateScope API", version=__version__,
        description="Sentiment predictions and explanations from GateScope's RNN / LSTM / BiLSTM / GRU models. "
                    f"Limits: {limits.max_texts} texts per request, {limits.max_text_chars} characters per text, "
                    f"{limits.max_body_bytes:,} bytes per body.",
    )
    app.state.models = store
    access = access if access is not None else ApiAccess.from_env()
    app.state.access = access
    app.add_middleware(_BodyLimit, limit=limits.max_body_bytes)
    app.add_middleware(_AccessControl, access=access)
    if access.cors_origins:  # added last = outermost: 401/429 answers carry the CORS headers too
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=list(access.cors_origins), allow_methods=["GET", "POST"],
                           allow_headers=["Content-Type", "X-API-Key", "Authorization"],
                           expose_headers=["Retry-After"])
    errors = {
        400: {"model": ErrorResponse, "description": "the body could not be read (not UTF-8)"},
        404: {"model": ErrorResponse, "description": "no such model, or a run with no checkpoint yet "
                                                     "(`available` lists the models)"},
        401: {"model": ErrorResponse, "description": "API keys are required here and none (or a wrong one) was "
                                                     "sent"},
        413: {"model": ErrorResponse, "description": "the body is over the byte limit"},
        429: {"model": ErrorResponse, "description": "over the per-client rate limit, or (/explain, /intervene) "
                                                     "over the explanations one client or all clients may have in "
                                                     "flight; `Retry-After` says when to try again",
              "headers": {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}}},
        422: {"model": ErrorResponse, "description": "an invalid request (`detail` names the field) or a model "
                                                     "that cannot be loaded; for /explain also a text of which the "
                                                     "model knows no word, or a `target` that is not one of its "
                                                     "classes; for /intervene a change the model or text cannot "
                                                     "take (a gate its cell lacks, a layer, unit or token that does "
                                                     "not exist, a lesson's word missing from the text) (these "
                                                     "depend on the model, so the schema cannot state them)"},
    }

    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, error: ApiError) -> JSONResponse:
        return JSONResponse({"detail": str(error), **error.extra}, status_code=error.status)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, error: RequestValidationError) -> JSONResponse:
        issues = [{"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
                  for e in error.errors()]
        return JSONResponse({"detail": _validation_message(issues), "errors": issues}, status_code=422)

    @app.post("/predict", response_model=PredictResponse, responses=errors,
              summary="Sentiment of one or many texts")
    def predict(request: PredictRequest) -> PredictResponse:
        texts = request.all_texts()
        loaded, predictor = store.get(request.model)
        with compute:
            predictions = predictor.predict(texts)
        for p in predictions:
            _finite(loaded.key, p.probabilities.values())
        return PredictResponse(model=loaded.key, labels=list(loaded.bundle.label_names), predictions=[
            PredictionOut(label=p.label, probabilities=p.probabilities, tokens=p.tokens, truncated=p.truncated,
                          unknown_share=p.unknown_share, notes=p.notes) for p in predictions])

    @app.post("/explain", response_model=ExplainResponse, responses=errors,
              summary="Token attributions (integrated gradients) and gate summaries for one text")
    def explain(request: ExplainRequest) -> ExplainResponse:
        loaded, _ = store.get(request.model)
        with expensive_lane:
            return _explain(loaded, request.text, request.target, request.steps, request.baseline)

    @app.post("/intervene", response_model=InterveneResponse, responses=errors,
              summary="Gate surgery: force gates, cell or hidden units at chosen tokens and compare the prediction")
    def intervene_endpoint(request: InterveneRequest) -> InterveneResponse:
        loaded, _ = store.get(request.model)
        with expensive_lane:
            return _intervene(loaded, request.text, request.lesson, request.interventions)

    @app.get("/models", response_model=ModelsResponse, summary="Shipped models and saved runs, with their cards")
    def models() -> ModelsResponse:
        """Lists what the classroom's teacher sees: every shipped model and every run with a checkpoint,
        runs hidden from the class included (the API serves programs run by the deployer)."""
        # the one visibility rule of the app's pickers and pages, applied for the teacher
        entries = visible_models(API_VIEWER, registry.entries(("shipped", "run")), registry.runs_root)
        return ModelsResponse(default=store.default,
                              models=[ModelInfo(**describe(entry), problems=entry.card.get("problems", [])
                                                if entry.source == "run" else [])
                                      for entry in entries])

    @app.get("/health", response_model=HealthResponse, summary="Liveness and configuration")
    def health() -> HealthResponse:
        return HealthResponse(status="ok", version=__version__, default_model=store.default,
                              loaded_models=registry.loaded(), torch_threads=torch.get_num_threads(),
                              concurrency=max(1, concurrency),
                              limits={"max_texts": limits.max_texts, "max_text_chars": limits.max_text_chars,
                                      "max_ig_steps": limits.max_ig_steps, "max_body_bytes": limits.max_body_bytes,
                                      "expensive_at_once": max(1, concurrency // 2),
                                      "expensive_per_client": access.expensive_per_client,
                                      "expensive_total": access.expensive_total})

    return app


def serve(host: str = "127.0.0.1", port: int = 8000, model: str | None = None, threads: int | None = None) -> int:
    """Run the API with uvicorn until interrupted (``gatescope serve``).

    Args:
        host: interface to listen on (``0.0.0.0`` to accept outside connections).
        port: TCP port.
        model: default model name.
        threads: CPU threads for inference (default: up to 2): that many ``/predict`` requests
            are evaluated at once, each on one torch thread, and ``max(1, threads // 2)``
            explanations in their own lane.

    Returns:
        The exit code.
    """
    import torch
    import uvicorn

    threads = threads or min(2, os.cpu_count() or 1)
    if threads < 1:
        raise GateScopeError(f"--threads must be at least 1, got {threads}")
    app = create_app(default_model=model, concurrency=threads)
    torch.set_num_threads(1)
    # the client's address is the connection's: only GATESCOPE_TRUSTED_PROXIES may name another
    uvicorn.run(app, host=host, port=port, log_level="info", proxy_headers=False)
    return 0
