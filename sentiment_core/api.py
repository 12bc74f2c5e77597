"""REST API over the shipped models and the app's saved runs (FastAPI + uvicorn).

``create_app()`` builds the application; ``serve()`` runs it (``gatescope serve``).
Endpoints: ``POST /predict``, ``POST /explain``, ``GET /models``, ``GET /health``; the
OpenAPI schema is at ``/openapi.json`` and interactive docs at ``/docs``.

Models are named ``<name>`` for a shipped bundle (``<pretrained dir>/<name>.safetensors``) and
``run:<run name>`` for the best checkpoint of a run saved by the app. Each bundle is loaded
once, shared read-only by all requests, and reloaded only when its file changes (a run that
is still training writes a new best checkpoint). Request sizes are limited: too many or too
long texts are answered 422 with a message, bodies over the byte limit 413.
"""

import math
import os
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator

from . import __version__
from .errors import GateScopeError
from .explain.spec import BASELINES

RUN_PREFIX = "run:"
_SHIPPED_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")


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


@dataclass
class _Loaded:
    stamp: tuple[int, int]
    predictor: Any  # sentiment_core.predict.Predictor


def _stamp(path: Path) -> tuple[int, int]:
    info = path.stat()
    return info.st_mtime_ns, info.st_size


class ModelStore:
    """Finds, loads and caches the models the API serves.

    Args:
        pretrained_dir: folder of shipped bundles (default: ``$GATESCOPE_PRETRAINED_DIR`` or the
            repository's ``pretrained/``, as in the app).
        runs_root: runs directory (default: ``$GATESCOPE_RUNS_DIR`` or ``./runs``).
        default: model used when a request names none (default: ``bilstm`` when shipped,
            else the first available model).
        cache_size: most bundles kept in memory at once (least recently used go first).
    """

    def __init__(self, pretrained_dir: str | os.PathLike | None = None, runs_root: str | os.PathLike | None = None,
                 default: str | None = None, cache_size: int = 8):
        from .runs import runs_dir
        from .ui_state import pretrained_dir as default_pretrained_dir

        self.pretrained_dir = Path(pretrained_dir) if pretrained_dir is not None else default_pretrained_dir()
        self.runs_root = runs_dir(runs_root)
        self.default = default
        self.cache_size = cache_size
        self._cache: OrderedDict[str, _Loaded] = OrderedDict()
        self._lock = threading.Lock()
        self._cards: dict[Path, tuple[tuple[int, int], dict]] = {}

    # -- listing
    def _shipped(self) -> list[dict]:
        from .checkpoint import read_metadata

        entries = []
        for path in sorted(self.pretrained_dir.glob("*.safetensors")):
            if not _SHIPPED_NAME.match(path.stem) or ".." in path.stem:
                continue
            try:
                stamp = _stamp(path)
                cached = self._cards.get(path)
                if cached is None or cached[0] != stamp:
                    meta = read_metadata(path)
                    config = meta.get("model_config") or {}
                    card = meta.get("card") or {}
                    cached = (stamp, {
                        "name": path.stem, "source": "pretrained", "title": card.get("title", path.stem),
                        "architecture": card.get("architecture") or _architecture(config),
                        "labels": [str(x) for x in meta.get("label_names", [])],
                        "state": None, "metrics": card.get("metrics") or {}, "card": card,
                    })
                    self._cards[path] = cached
            except (GateScopeError, OSError):
                continue
            entries.append(cached[1])
        return entries

    def _runs(self) -> list[dict]:
        from .runs import list_runs

        entries = []
        for record in list_runs(self.runs_root):
            if record.best_path is None:
                continue
            result = record.result or {}
            card = {"config": record.config, "result": result, "message": record.message,
                    "epochs_finished": len(record.epochs())}
            entries.append({
                "name": RUN_PREFIX + record.name, "source": "run", "title": record.display_name,
                "architecture": record.config.get("display_name", ""),
                "labels": [str(x) for x in record.config.get("label_names", [])], "state": record.state,
                "metrics": {k: result.get(k) for k in ("val_accuracy", "test_accuracy", "test_macro_f1")
                            if result.get(k) is not None},
                "card": card,
            })
        return entries

    def available(self) -> list[dict]:
        """Every servable model: shipped bundles first, then runs with a checkpoint."""
        return self._shipped() + self._runs()

    def names(self) -> list[str]:
        return [entry["name"] for entry in self.available()]

    def default_name(self) -> str | None:
        """The model used when a request names none (None when there is no model at all)."""
        if self.default:
            return self.default
        shipped = [entry["name"] for entry in self._shipped()]
        if "bilstm" in shipped:
            return "bilstm"
        names = shipped or [entry["name"] for entry in self._runs()]
        return names[0] if names else None

    # -- resolving and loading
    def path_of(self, name: str) -> Path:
        """The bundle file of model ``name``.

        Raises:
            ApiError: 422 for an unsafe name, 404 (listing the available names) for an unknown one.
        """
        from .runs import RunError, validate_run_name

        if name.startswith(RUN_PREFIX):
            run = name[len(RUN_PREFIX):]
            try:
                validate_run_name(run)
            except RunError as error:
                raise ApiError(f"model name {name!r} is not allowed: {error}", 422) from None
            folder = self.runs_root / run
            path = folder / "best.safetensors"
            if folder.is_dir() and not path.is_file():
                raise ApiError(f"run {run!r} has no checkpoint yet (no epoch has finished); "
                               "wait for its first epoch or choose another model", 404,
                               available=self.names())
        else:
            if not _SHIPPED_NAME.match(name) or ".." in name:
                raise ApiError(f"model name {name!r} is not allowed: use a name from GET /models (letters, "
                               f"digits, '.', '_', '-'; runs as '{RUN_PREFIX}<run name>'), without '..' or "
                               "slashes", 422)
            path = self.pretrained_dir / f"{name}.safetensors"
        if not path.is_file():
            names = self.names()
            raise ApiError(f"no model called {name!r}; available: {', '.join(names) or 'none'}", 404,
                           available=names)
        return path

    def get(self, name: str | None) -> tuple[str, _Loaded]:
        """The loaded model ``name`` (or the default), loading it on first use.

        Raises:
            ApiError: unknown or unsafe name (404/422), or a bundle that cannot be loaded (422).
        """
        from .checkpoint import load_checkpoint
        from .predict import Predictor

        name = name or self.default_name()
        if name is None:
            raise ApiError("no model is available: ship pretrained bundles (scripts/build_pretrained.py) or "
                           "train a run in the app, then name it in the request", 404, available=[])
        path = self.path_of(name)
        with self._lock:
            stamp = _stamp(path)
            loaded = self._cache.get(name)
            if loaded is None or loaded.stamp != stamp:
                try:
                    bundle = load_checkpoint(path)
                except GateScopeError as error:
                    raise ApiError(f"model {name!r} cannot be loaded: {error}", 422) from None
                loaded = _Loaded(stamp, Predictor(bundle))
                self._cache[name] = loaded
            self._cache.move_to_end(name)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
            return name, loaded

    def loaded(self) -> list[str]:
        with self._lock:
            return list(self._cache)


def _architecture(config: dict) -> str:
    cell = str(config.get("cell", "?")).upper()
    return ("Bi" if config.get("bidirectional") else "") + cell


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
    detail: str
    available: list[str] | None = None


def _request_models(limits: ApiLimits) -> tuple[type[BaseModel], type[BaseModel]]:
    """Request schemas carrying this app's limits (so the OpenAPI schema states them)."""
    Text = Annotated[str, Field(max_length=limits.max_text_chars)]
    ModelName = Annotated[str | None, Field(default=None, max_length=limits.max_model_name,
                                            description="model from GET /models (default: the server's)")]

    class PredictRequest(BaseModel):
        """Give ``text`` (one) or ``texts`` (many), not both."""

        model_config = ConfigDict(extra="forbid")
        text: Text | None = Field(default=None, description="one text")
        texts: list[Text] | None = Field(default=None, min_length=1, max_length=limits.max_texts,
                                         description=f"up to {limits.max_texts} texts")
        model: ModelName

        @model_validator(mode="after")
        def _one_of(self):
            if (self.text is None) == (self.texts is None):
                raise ValueError("give exactly one of 'text' (one string) or 'texts' (a list of strings)")
            return self

    class ExplainRequest(BaseModel):
        model_config = ConfigDict(extra="forbid")
        text: Text = Field(description="the text to explain")
        model: ModelName
        target: str | None = Field(default=None, max_length=200,
                                   description="class to explain (default: the predicted one)")
        steps: int = Field(default=50, ge=5, le=limits.max_ig_steps,
                           description="integrated-gradients steps (more: smaller delta, slower)")
        baseline: Literal[BASELINES] = Field(default="pad", description="what each token is compared with: "
                                             "<pad>, <unk> or an all-zero embedding")

    return PredictRequest, ExplainRequest


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


SATURATION_MARGIN = 0.05


def _gate_summaries(traced) -> dict[str, Any]:
    """Per layer and direction, per gate: the mean over hidden units at each token, the overall
    mean, and the share of saturated values (sigmoid within ``SATURATION_MARGIN`` of 0 or 1,
    tanh beyond 1 - margin in absolute value)."""
    import numpy as np

    from .explain.trace import ACTIVATIONS

    directions = []
    for d in traced.directions:
        gates = {}
        for gate, values in d.gates.items():  # (T, H)
            kind = ACTIVATIONS.get(gate, "none")
            if kind == "sigmoid":
                saturated = float(np.mean((values < SATURATION_MARGIN) | (values > 1 - SATURATION_MARGIN)))
            elif kind == "tanh":
                saturated = float(np.mean(np.abs(values) > 1 - SATURATION_MARGIN))
            else:
                saturated = None
            gates[gate] = {"activation": kind, "mean_per_token": [float(v) for v in values.mean(axis=1)],
                           "mean": float(values.mean()), "saturated_share": saturated}
        directions.append({"name": d.name, "layer": d.layer, "direction": "backward" if d.direction else "forward",
                           "gates": gates})
    return {"cell": traced.cell, "directions": directions}


def _explain(name: str, predictor, text: str, target: str | None, steps: int, baseline: str) -> "ExplainResponse":
    """Integrated gradients and gate summaries of one text (see ``POST /explain``)."""
    from .explain import check_explainable, integrated_gradients, trace

    bundle = predictor.bundle
    check = check_explainable(bundle, text)
    if not check.ok:
        raise ApiError(check.message, 422)
    index = None
    if target is not None:
        if target not in bundle.label_names:
            raise ApiError(f"target {target!r} is not a class of model {name!r}; classes: "
                           f"{', '.join(bundle.label_names)}", 422, available=list(bundle.label_names))
        index = bundle.label_names.index(target)
    ig = integrated_gradients(bundle, check.input, target=index, baseline=baseline, n_steps=steps)
    traced = trace(bundle, check.input)
    probabilities = [float(p) for p in ig.input_probabilities]
    scores = [float(s) for s in ig.scores]
    _finite(name, probabilities + scores + [ig.delta])
    return ExplainResponse(
        model=name, label=bundle.label_names[int(max(range(len(probabilities)), key=probabilities.__getitem__))],
        probabilities=dict(zip(bundle.label_names, probabilities)), tokens=list(check.input.tokens),
        unknown=list(check.input.unknown), truncated=check.input.truncated,
        integrated_gradients=IntegratedGradientsOut(scores=scores, delta=float(ig.delta), steps=steps,
                                                    baseline=baseline, target=ig.target_name),
        gates=_gate_summaries(traced), notes=list(check.notes),
    )


def create_app(pretrained_dir: str | os.PathLike | None = None, runs_root: str | os.PathLike | None = None,
               default_model: str | None = None, limits: ApiLimits | None = None,
               concurrency: int = 2, preload: bool = True) -> FastAPI:
    """Build the API.

    Args:
        pretrained_dir: folder of shipped bundles (default: ``$GATESCOPE_PRETRAINED_DIR`` or the
            repository's ``pretrained/``).
        runs_root: runs directory (default: ``$GATESCOPE_RUNS_DIR`` or ``./runs``).
        default_model: model used when a request names none.
        limits: request limits.
        concurrency: model evaluations running at once (the rest wait their turn).
        preload: load the default model now, so a bad ``default_model`` fails at startup.

    Returns:
        The FastAPI application.

    Raises:
        GateScopeError: ``preload`` and the default model is unknown or cannot be loaded.
    """
    import torch

    limits = limits or ApiLimits()
    store = ModelStore(pretrained_dir, runs_root, default_model)
    store.default = store.default_name()  # fixed now, so requests naming no model scan nothing
    if preload and store.default:
        store.get(store.default)
    compute = threading.BoundedSemaphore(max(1, concurrency))
    PredictRequest, ExplainRequest = _request_models(limits)

    app = FastAPI(
        title="GateScope API", version=__version__,
        description="Sentiment predictions and explanations from GateScope's RNN / LSTM / BiLSTM / GRU models. "
                    f"Limits: {limits.max_texts} texts per request, {limits.max_text_chars} characters per text, "
                    f"{limits.max_body_bytes:,} bytes per body.",
    )
    app.state.store = store
    app.add_middleware(_BodyLimit, limit=limits.max_body_bytes)
    errors = {404: {"model": ErrorResponse}, 413: {"model": ErrorResponse}, 422: {"model": ErrorResponse}}

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
        texts = [request.text] if request.text is not None else list(request.texts)
        name, loaded = store.get(request.model)
        with compute:
            predictions = loaded.predictor.predict(texts)
        for p in predictions:
            _finite(name, p.probabilities.values())
        return PredictResponse(model=name, labels=list(loaded.predictor.bundle.label_names), predictions=[
            PredictionOut(label=p.label, probabilities=p.probabilities, tokens=p.tokens, truncated=p.truncated,
                          unknown_share=p.unknown_share, notes=p.notes) for p in predictions])

    @app.post("/explain", response_model=ExplainResponse, responses=errors,
              summary="Token attributions (integrated gradients) and gate summaries for one text")
    def explain(request: ExplainRequest) -> ExplainResponse:
        name, loaded = store.get(request.model)
        with compute:
            return _explain(name, loaded.predictor, request.text, request.target, request.steps, request.baseline)

    @app.get("/models", response_model=ModelsResponse, summary="Shipped models and saved runs, with their cards")
    def models() -> ModelsResponse:
        return ModelsResponse(default=store.default_name(), models=[ModelInfo(**m) for m in store.available()])

    @app.get("/health", response_model=HealthResponse, summary="Liveness and configuration")
    def health() -> HealthResponse:
        return HealthResponse(status="ok", version=__version__, default_model=store.default_name(),
                              loaded_models=store.loaded(), torch_threads=torch.get_num_threads(),
                              concurrency=max(1, concurrency),
                              limits={"max_texts": limits.max_texts, "max_text_chars": limits.max_text_chars,
                                      "max_ig_steps": limits.max_ig_steps, "max_body_bytes": limits.max_body_bytes})

    return app


def serve(host: str = "127.0.0.1", port: int = 8000, model: str | None = None, threads: int | None = None) -> int:
    """Run the API with uvicorn until interrupted (``gatescope serve``).

    Args:
        host: interface to listen on (``0.0.0.0`` to accept outside connections).
        port: TCP port.
        model: default model name.
        threads: CPU threads for inference (default: up to 2): that many requests are
            evaluated at once, each on one torch thread.

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
    uvicorn.run(app, host=host, port=port, log_level="info")
    return 0
