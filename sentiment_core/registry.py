"""The one model registry: shipped bundles, saved runs' best checkpoints and uploaded bundles,
one loader whose errors say what to do, and one thread-safe cache shared by the app, the REST
API and the CLI.

Models are named by *key*: ``bilstm`` for a shipped bundle (``<pretrained dir>/bilstm.safetensors``),
``run:<run name>`` for a run's best checkpoint, ``upload:<sha>`` for a bundle uploaded in the app.
A cached bundle is shared read-only and reloaded only when its file changes (a run that is still
training writes a new best checkpoint).
"""
from __future__ import annotations

import hashlib
import os
import re
import tempfile
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .checkpoint import Bundle, check_incoming, load_checkpoint, read_metadata
from .errors import CheckpointError, GateScopeError

PRETRAINED_ENV = "GATESCOPE_PRETRAINED_DIR"
ROOT = Path(__file__).resolve().parent.parent
RUN_PREFIX = "run:"
UPLOAD_PREFIX = "upload:"
SHIPPED_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")
SOURCES = ("shipped", "run", "upload")


def pretrained_dir() -> Path:
    """``$GATESCOPE_PRETRAINED_DIR`` or the repository's ``pretrained/`` folder."""
    env = os.environ.get(PRETRAINED_ENV)
    return Path(env).expanduser() if env else ROOT / "pretrained"


class ModelLookupError(GateScopeError, LookupError):
    """A model key that names no usable model.

    Attributes:
        reason: ``unsafe`` (a name that could escape its folder), ``missing`` (no such model) or
            ``no_checkpoint`` (a run whose first epoch has not finished).
        available: the keys that do exist, for the message and for API answers.
    """

    def __init__(self, message: str, reason: str, available: list[str] | None = None):
        super().__init__(message)
        self.reason = reason
        self.available = list(available or [])


@dataclass(frozen=True)
class ModelEntry:
    """One model a picker, ``GET /models`` or the CLI can name (weights not loaded).

    Attributes:
        key: ``<name>``, ``run:<name>`` or ``upload:<sha>``.
        source: ``shipped``, ``run`` or ``upload``.
        title: short human name ("BiLSTM (movie reviews)", a run's display name, a file name).
        architecture: e.g. ``BiLSTM``.
        labels: class names.
        path: the bundle file (None for an upload, which lives in memory).
        state: a run's state (``completed``, ``running``, ...); None otherwise.
        metrics: headline metrics (a card's, or a run's validation/test accuracy).
        card: the model card (shipped) or the run's config and result.
    """

    key: str
    source: str
    title: str
    architecture: str
    labels: list[str]
    path: Path | None = None
    state: str | None = None
    metrics: dict = field(default_factory=dict)
    card: dict = field(default_factory=dict)

    @property
    def label(self) -> str:
        """Picker text, e.g. ``Shipped · BiLSTM (movie reviews)`` or ``Run · lstm-1 · LSTM (completed)``."""
        if self.source == "shipped":
            return f"Shipped · {self.title}"
        if self.source == "run":
            return f"Run · {self.key[len(RUN_PREFIX):]} · {self.title} ({self.state})"
        return f"Upload · {self.title}"


@dataclass
class LoadedModel:
    """A loaded bundle with where it came from; ``version`` changes whenever the file does,
    so page caches keyed on it never serve an old checkpoint's results."""

    entry: ModelEntry
    bundle: Bundle
    version: str

    @property
    def key(self) -> str:
        return self.entry.key

    @property
    def cache_key(self) -> str:
        """``key@version``: a stable name for caches of results computed from this model."""
        return f"{self.entry.key}@{self.version}"


def load_bundle_file(path: str | Path) -> Bundle:
    """``load_checkpoint`` that turns every failure into ``CheckpointError`` with advice.

    Raises:
        CheckpointError: damaged, foreign, newer-format or missing files.
    """
    try:
        return load_checkpoint(path)
    except CheckpointError:
        raise
    except Exception as error:  # noqa: BLE001 - any failure of a foreign file gets one readable message
        raise CheckpointError(f"{Path(path).name} could not be loaded ({type(error).__name__}: {error}); "
                              "it may come from a newer GateScope or be damaged") from None


def load_bundle_bytes(content: bytes, filename: str) -> Bundle:
    """Load an uploaded ``.safetensors`` bundle (written to a temporary file first).

    Raises:
        CheckpointError: empty, pickled or damaged content, or class names that are not plain text.
    """
    if not content:
        raise CheckpointError(f"{filename} is empty; download the bundle again")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / (Path(filename).name or "upload.safetensors")
        path.write_bytes(content)
        return check_incoming(load_bundle_file(path))


def _architecture(config: dict) -> str:
    return ("Bi" if config.get("bidirectional") else "") + str(config.get("cell", "?")).upper()


def _stamp(path: Path) -> str:
    info = path.stat()
    return f"{info.st_mtime_ns}-{info.st_size}"


def _no_checkpoint(run: str, root: Path) -> str:
    """Why run ``run`` has no model: it has not finished an epoch yet, or it ended before its first."""
    from .runs import ACTIVE_STATES, RunError, load_run

    try:
        state = load_run(run, root).state
    except RunError:
        state = None
    if state is None or state in ACTIVE_STATES:
        return (f"run {run!r} has no checkpoint yet (no epoch has finished); wait for its first epoch or choose "
                "another model")
    return (f"run {run!r} saved no model: it ended ({state}) before its first epoch finished; train it again or "
            "choose another model")


class ModelRegistry:
    """Finds, loads and caches every model the app, the API and the CLI can use.

    Args:
        pretrained: folder of shipped bundles (default: ``pretrained_dir()``).
        runs_root: runs directory (default: ``$GATESCOPE_RUNS_DIR`` or ``./runs``).
        cache_size: most bundles kept in memory at once (least recently used go first).
        max_uploads: most uploaded bundles kept (least recently used go first).
    """

    def __init__(self, pretrained: str | os.PathLike | None = None, runs_root: str | os.PathLike | None = None,
                 cache_size: int = 8, max_uploads: int = 8):
        from .runs import runs_dir

        self.pretrained = Path(pretrained) if pretrained is not None else pretrained_dir()
        self.runs_root = runs_dir(runs_root)
        self.cache_size = cache_size
        self.max_uploads = max_uploads
        self._cache: OrderedDict[str, LoadedModel] = OrderedDict()
        self._uploads: OrderedDict[str, LoadedModel] = OrderedDict()
        self._cards: dict[Path, tuple[str, ModelEntry]] = {}
        self._lock = threading.RLock()

    # ------------------------------------------------------------ listing
    def shipped(self) -> list[ModelEntry]:
        """Shipped bundles in the recipes' order, read from their headers (cached per file)."""
        from .pretrained import RECIPES

        order = {n: i for i, n in enumerate(RECIPES)}
        paths = sorted(self.pretrained.glob("*.safetensors"), key=lambda p: (order.get(p.stem, 99), p.stem))
        entries = []
        for path in paths:
            if not SHIPPED_NAME.match(path.stem) or ".." in path.stem:
                continue
            try:
                stamp = _stamp(path)
                with self._lock:
                    cached = self._cards.get(path)
                if cached is None or cached[0] != stamp:
                    meta = read_metadata(path)
                    config, card = meta.get("model_config") or {}, meta.get("card") or {}
                    entry = ModelEntry(path.stem, "shipped", card.get("title", path.stem),
                                       card.get("architecture") or _architecture(config),
                                       [str(x) for x in meta.get("label_names", [])], path,
                                       metrics=card.get("metrics") or {}, card=card)
                    cached = (stamp, entry)
                    with self._lock:
                        self._cards[path] = cached
            except (GateScopeError, OSError):
                continue  # a broken file must not break a listing
            entries.append(cached[1])
        return entries

    def runs(self) -> list[ModelEntry]:
        """Runs that have a best checkpoint, newest first."""
        from .runs import list_runs

        entries = []
        for record in list_runs(self.runs_root):
            if record.best_path is None:
                continue
            result = record.result or {}
            entries.append(ModelEntry(
                RUN_PREFIX + record.name, "run", record.display_name, record.config.get("display_name", ""),
                [str(x) for x in record.config.get("label_names", [])], Path(record.best_path), record.state,
                {k: result.get(k) for k in ("val_accuracy", "test_accuracy", "test_macro_f1")
                 if result.get(k) is not None},
                {"config": record.config, "result": result, "message": record.message, "problems": record.problems}))
        return entries

    def uploads(self) -> list[ModelEntry]:
        """Bundles uploaded in the app and still kept, most recent first."""
        with self._lock:
            return [loaded.entry for loaded in reversed(self._uploads.values())]

    def entries(self, sources: tuple[str, ...] = SOURCES) -> list[ModelEntry]:
        """Every model of the given sources: shipped first, then runs, then uploads."""
        listing = {"shipped": self.shipped, "run": self.runs, "upload": self.uploads}
        return [entry for source in sources for entry in listing[source]()]

    def keys(self) -> list[str]:
        return [entry.key for entry in self.entries()]

    def default_key(self, preference: tuple[str, ...] = ("bilstm", "lstm", "gru", "rnn")) -> str | None:
        """The first shipped model of ``preference`` there is, else any shipped model, else the
        newest run; None when there is no model at all."""
        shipped = [entry.key for entry in self.shipped()]
        for name in preference:
            if name in shipped:
                return name
        if shipped:
            return shipped[0]
        runs = self.runs()
        return runs[0].key if runs else None

    # ------------------------------------------------------------ resolving
    def entry(self, key: str) -> ModelEntry:
        """The entry for ``key``. A shipped file too damaged to be listed still has an entry (title
        and architecture unknown), so that ``load`` can say what is wrong with it.

        Raises:
            ModelLookupError: an unsafe name, an unknown model, or a run without a checkpoint yet.
        """
        from .runs import RunError, validate_run_name

        if key.startswith(UPLOAD_PREFIX):
            with self._lock:
                loaded = self._uploads.get(key)
            if loaded is None:
                raise ModelLookupError(f"the uploaded model {key!r} is no longer in memory; upload the bundle "
                                       "again", "missing", self.keys())
            return loaded.entry
        if key.startswith(RUN_PREFIX):
            run = key[len(RUN_PREFIX):]
            try:
                validate_run_name(run)
            except RunError as error:
                raise ModelLookupError(f"model name {key!r} is not allowed: {error}", "unsafe") from None
            folder = self.runs_root / run
            if folder.is_dir() and not (folder / "best.safetensors").is_file():
                raise ModelLookupError(_no_checkpoint(run, self.runs_root), "no_checkpoint", self.keys())
            for entry in self.runs():
                if entry.key == key:
                    return entry
        else:
            if not SHIPPED_NAME.match(key) or ".." in key:
                raise ModelLookupError(
                    f"model name {key!r} is not allowed: use a shipped name (letters, digits, '.', '_', '-'), "
                    f"'{RUN_PREFIX}<run name>' or a bundle file, without '..' or slashes", "unsafe")
            for entry in self.shipped():
                if entry.key == key:
                    return entry
            path = self.pretrained / f"{key}.safetensors"
            if path.is_file():  # not listed because its header is unreadable: ``load`` says why
                return ModelEntry(key, "shipped", key, "?", [], path)
        available = self.keys()
        raise ModelLookupError(f"no model called {key!r}; available: {', '.join(available) or 'none'}",
                               "missing", available)

    def resolve_path(self, name_or_path: str | os.PathLike) -> Path:
        """A bundle file from a shipped name, ``run:<name>`` or a path (the CLI's ``--model``).

        Raises:
            ModelLookupError: neither an existing file nor a known model.
        """
        path = Path(name_or_path).expanduser()
        if path.is_file():
            return path
        text = str(name_or_path)
        if path.suffix == ".safetensors" or os.sep in text or "/" in text:
            raise ModelLookupError(f"no model bundle at {text}; give a .safetensors file or one of: "
                                   f"{', '.join(self.keys()) or 'none'}", "missing", self.keys())
        entry = self.entry(text)
        assert entry.path is not None  # shipped and run entries always have a file
        return entry.path

    # ------------------------------------------------------------ loading
    def load(self, key: str) -> LoadedModel:
        """The loaded model ``key``, from the cache unless its file changed.

        Raises:
            ModelLookupError: see ``entry``.
            CheckpointError: the bundle cannot be loaded (the message says why).
        """
        entry = self.entry(key)
        if entry.path is None:  # uploads live in memory only
            with self._lock:
                self._uploads.move_to_end(key)
                return self._uploads[key]
        with self._lock:
            stamp = _stamp(entry.path)
            loaded = self._cache.get(key)
            if loaded is None or loaded.version != stamp:
                loaded = LoadedModel(entry, load_bundle_file(entry.path), stamp)
                self._cache[key] = loaded
            self._cache.move_to_end(key)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
            return loaded

    def add_upload(self, content: bytes, filename: str) -> LoadedModel:
        """Load an uploaded bundle and keep it under ``upload:<sha>`` (the same bytes load once).

        Raises:
            CheckpointError: empty, pickled or damaged content.
        """
        key = UPLOAD_PREFIX + hashlib.sha256(content).hexdigest()[:16]
        with self._lock:
            if key in self._uploads:
                self._uploads.move_to_end(key)
                return self._uploads[key]
        bundle = load_bundle_bytes(content, filename)
        config = bundle.model.config
        entry = ModelEntry(key, "upload", Path(filename).name or "bundle", _architecture(vars(config)),
                           list(bundle.label_names), None, None, dict(bundle.metrics or {}), dict(bundle.card or {}))
        loaded = LoadedModel(entry, bundle, key[len(UPLOAD_PREFIX):])
        with self._lock:
            self._uploads[key] = loaded
            while len(self._uploads) > self.max_uploads:
                self._uploads.popitem(last=False)
        return loaded

    def loaded(self) -> list[str]:
        """Keys of the bundles in memory now (least recently used first)."""
        with self._lock:
            return list(self._cache) + list(self._uploads)


_SHARED: dict[tuple, ModelRegistry] = {}
_SHARED_LOCK = threading.Lock()


def shared_registry() -> ModelRegistry:
    """The process-wide registry for the current ``pretrained_dir()`` and runs folder, so every
    app session and API request shares one cache."""
    from .runs import runs_dir

    key = (str(pretrained_dir()), str(runs_dir()))
    with _SHARED_LOCK:
        registry = _SHARED.get(key)
        if registry is None:
            registry = _SHARED[key] = ModelRegistry(key[0], key[1])
        return registry


def describe(entry: ModelEntry) -> dict[str, Any]:
    """The JSON the API's ``GET /models`` and the CLI's listing show for one entry."""
    return {"name": entry.key, "source": "pretrained" if entry.source == "shipped" else entry.source,
            "title": entry.title, "architecture": entry.architecture, "labels": list(entry.labels),
            "state": entry.state, "metrics": dict(entry.metrics), "card": dict(entry.card)}
