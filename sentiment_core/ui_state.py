"""What the pages share: the dataset choice, model and training settings kept in session
state and mirrored into URL query parameters, widgets built from the ``*_SPEC`` ranges,
and small helpers for shipped models.

Everything except the ``widget``/``page``/``sync`` helpers is plain Python (tested
without Streamlit); those helpers import Streamlit lazily.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from .spec import ParamSpec

PRETRAINED_ENV = "GATESCOPE_PRETRAINED_DIR"
APP_THREADS_ENV = "GATESCOPE_APP_THREADS"
ROOT = Path(__file__).resolve().parent.parent

# ---------------------------------------------------------------- settings shown on pages

# Dataset options for the synthetic generators and subsampling (ranges for the sliders).
DATA_SPEC = {
    "n_examples": ParamSpec(2000, "How many sentences to generate (half positive, half negative).",
                            "Sentences", min=100, max=20000, step=100),
    "distance": ParamSpec(20, "Neutral filler words between the sentiment word and the end of the sentence.",
                          "Cue distance", min=0, max=200, step=1),
    "noise": ParamSpec(0.0, "Share of labels flipped at random (label noise makes overfitting visible).",
                       "Label noise", min=0.0, max=0.5, step=0.05),
    "max_examples": ParamSpec(0, "Use at most this many examples per part (0 = all): smaller trains faster.",
                              "Max examples (0 = all)", min=0, max=100000, step=500),
    "source": ParamSpec("all", "Which site's sentences (UCI only).", "Source",
                        choices=("all", "amazon", "imdb", "yelp")),
    "split_seed": ParamSpec(0, "Seed for the train/validation/test split and subsampling.", "Split seed",
                            min=0, max=10000, step=1),
}
DATA_DEFAULT = {"name": "synthetic_negation", "n_examples": 2000, "distance": 20, "noise": 0.0,
                "max_examples": 0, "source": "all", "split_seed": 0}
SYNTHETIC_OPTIONS = {"synthetic_long_range": ("n_examples", "distance", "noise"),
                     "synthetic_negation": ("n_examples", "noise")}

# Train-page fields, in display order.
MODEL_FIELDS = ("cell", "bidirectional", "num_layers", "emb_dim", "hidden_dim", "embedding_dropout",
                "layer_dropout", "head_dropout", "pooling", "embeddings", "freeze_embeddings", "packed")
TRAIN_FIELDS = ("epochs", "batch_size", "lr", "optimizer", "weight_decay", "clip_norm", "max_len",
                "padding", "truncation", "patience", "seed")
VOCAB_FIELDS = ("max_size", "min_freq")

# Classroom-friendly starting point: small enough to train in seconds on two CPU cores.
MODEL_DEFAULTS = {"cell": "lstm", "emb_dim": 32, "hidden_dim": 32}
TRAIN_DEFAULTS = {"epochs": 5, "batch_size": 32, "lr": 3e-3, "max_len": 60}
VOCAB_DEFAULTS = {"max_size": 5000}

EMBEDDING_CHOICES = {"random": "Random (learned from scratch)", "glove_frozen": "GloVe 50d, frozen",
                     "glove_finetuned": "GloVe 50d, fine-tuned"}

LR_CHOICES = (1e-5, 2e-5, 5e-5, 1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 3e-3, 5e-3, 1e-2, 2e-2, 5e-2, 0.1, 0.2, 0.5,
              1.0, 2.0, 5.0, 10.0)


def _specs() -> dict[str, dict[str, ParamSpec]]:
    from .models import MODEL_SPEC
    from .pipeline import VOCAB_SPEC
    from .text import TOKENIZER_SPEC
    from .trainer import TRAIN_SPEC

    return {"model": {k: MODEL_SPEC[k] for k in MODEL_FIELDS},
            "tokenizer": dict(TOKENIZER_SPEC),
            "train": {k: TRAIN_SPEC[k] for k in TRAIN_FIELDS},
            "vocab": {k: VOCAB_SPEC[k] for k in VOCAB_FIELDS},
            "data": DATA_SPEC}


def defaults() -> dict[str, dict]:
    """Starting values for every group (spec defaults overridden by the classroom defaults)."""
    specs = _specs()
    out = {group: {k: s.default for k, s in fields.items()} for group, fields in specs.items()}
    out["model"].update(MODEL_DEFAULTS)
    out["train"].update(TRAIN_DEFAULTS)
    out["vocab"].update(VOCAB_DEFAULTS)
    out["data"] = dict(DATA_DEFAULT)
    return out


def embedding_choice(model: Mapping) -> str:
    """``random`` / ``glove_frozen`` / ``glove_finetuned`` from the two model fields."""
    if model.get("embeddings") != "glove":
        return "random"
    return "glove_frozen" if model.get("freeze_embeddings") else "glove_finetuned"


def apply_embedding_choice(model: dict, choice: str) -> dict:
    """Set ``embeddings``/``freeze_embeddings`` (and emb_dim 50 for GloVe) from the choice."""
    model = dict(model)
    model["embeddings"] = "random" if choice == "random" else "glove"
    model["freeze_embeddings"] = choice == "glove_frozen"
    if model["embeddings"] == "glove":
        model["emb_dim"] = 50
    return model


# ---------------------------------------------------------------- query parameters

# Short, readable URL keys. Data keys get a "data." prefix-free name of their own.
QUERY_KEYS = {
    "data": {"name": "dataset", "n_examples": "n", "distance": "distance", "noise": "noise",
             "max_examples": "max_examples", "source": "source", "split_seed": "split_seed"},
    "model": {k: k for k in MODEL_FIELDS},
    "train": {k: k for k in TRAIN_FIELDS},
    "vocab": {"max_size": "vocab_size", "min_freq": "min_freq"},
    "tokenizer": {"kind": "tokenizer", "lowercase": "lowercase", "strip_punctuation": "strip_punct",
                  "remove_stopwords": "stopwords"},
}
QUERY_GROUPS = ("data", "model", "train", "vocab", "tokenizer")


def _parse(value: str, spec: ParamSpec | None, default: Any, name: str = "value") -> Any:
    kind = type(default)
    text = str(value).strip()
    if isinstance(default, bool):
        if text.lower() in ("1", "true", "yes", "on"):
            return True
        if text.lower() in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"expected true or false, got {text!r}")
    if isinstance(default, int):
        number = float(text)
        if not number.is_integer():
            raise ValueError(f"expected a whole number, got {text!r}")
        parsed: Any = int(number)
    elif isinstance(default, float):
        parsed = float(text)
        if not math.isfinite(parsed):
            raise ValueError(f"expected a finite number, got {text!r}")
    else:
        parsed = kind(text) if default is not None else text
    if spec is not None:
        spec.validate(name, parsed)
    return parsed


def _format(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def to_query(state: Mapping[str, Mapping], groups: tuple[str, ...] = QUERY_GROUPS) -> dict[str, str]:
    """Query parameters for the settings that differ from the defaults (short links)."""
    base = defaults()
    out: dict[str, str] = {}
    for group in groups:
        values = state.get(group, {})
        for field, key in QUERY_KEYS[group].items():
            if field in values and values[field] != base[group].get(field):
                out[key] = _format(values[field])
    return out


def from_query(params: Mapping[str, Any]) -> tuple[dict[str, dict], list[str]]:
    """Settings from query parameters, starting from ``defaults()``.

    Bad values are skipped (the default stays) and described in the returned warnings,
    so a mistyped link still opens, and says what was ignored.
    """
    specs = _specs()
    state = defaults()
    warnings: list[str] = []
    lookup = {key: (group, field) for group, keys in QUERY_KEYS.items() for field, key in keys.items()}
    for key, raw in params.items():
        if isinstance(raw, (list, tuple)):
            raw = raw[-1] if raw else ""
        if key not in lookup:
            continue
        group, field = lookup[key]
        if group == "data" and field == "name":
            from .data import CATALOGUE

            if raw in CATALOGUE:
                state["data"]["name"] = raw
            else:
                warnings.append(f"unknown dataset {raw!r} in the link; using {state['data']['name']}")
            continue
        try:
            state[group][field] = _parse(raw, specs[group].get(field), state[group][field], key)
        except (TypeError, ValueError) as error:
            warnings.append(f"ignored {key}={raw!r} from the link ({error})")
    if state["model"].get("embeddings") == "glove":
        state["model"]["emb_dim"] = 50
    return state, warnings


# ---------------------------------------------------------------- datasets


def data_label(data: Mapping) -> str:
    """Human-readable dataset description, e.g. 'Synthetic: long-range (distance 20, 2,000)'."""
    name = data.get("name", "")
    if name == "upload":
        return f"Upload: {data.get('filename', 'file')}"
    if name == "synthetic_long_range":
        return f"Synthetic long-range (distance {data.get('distance')}, {int(data.get('n_examples', 0)):,} sentences)"
    if name == "synthetic_negation":
        return f"Synthetic negation ({int(data.get('n_examples', 0)):,} sentences)"
    try:
        from .data import get_info

        title = get_info(name).title
    except Exception:  # noqa: BLE001
        title = name
    extra = f", at most {int(data['max_examples']):,} per part" if data.get("max_examples") else ""
    return f"{title}{extra}"


def dataset_key(data: Mapping) -> tuple:
    """Hashable cache key: only the options that change the loaded data."""
    name = data.get("name")
    keys = ["name", "max_examples", "split_seed"] + list(SYNTHETIC_OPTIONS.get(name, ()))
    if name == "uci_sentences":
        keys.append("source")
    if name == "upload":
        keys += ["sha", "text_column", "label_column", "threshold"]
    return tuple((k, data.get(k)) for k in keys)


def load_catalogue_splits(data: Mapping, progress=None):
    """Load a catalogue or synthetic dataset and split it (seeded, stratified).

    Returns:
        ``(LabeledDataset, DatasetSplits)``.

    Raises:
        DataError: unknown name, missing files, failed download, bad options.
    """
    from .data import load_dataset, make_splits

    name = data["name"]
    options = {k: data[k] for k in SYNTHETIC_OPTIONS.get(name, ()) if k in data}
    if name == "uci_sentences" and data.get("source", "all") != "all":
        options["source"] = data["source"]
    seed = int(data.get("split_seed", 0))
    max_examples = int(data.get("max_examples") or 0) or None
    ds = load_dataset(name, progress=progress, max_examples=max_examples, seed=seed, **options)
    return ds, make_splits(ds, seed=seed)


def load_upload_splits(content: bytes, filename: str, data: Mapping):
    """Parse an uploaded file and split it.

    Returns:
        ``(LabeledDataset, UploadReport, DatasetSplits)``.

    Raises:
        DataError: with a message that says what to fix in the file.
    """
    from .data import make_splits, parse_upload, subsample
    from .data.types import LabeledDataset

    ds, report = parse_upload(content, filename, text_column=data.get("text_column") or None,
                              label_column=data.get("label_column") or None, threshold=data.get("threshold"))
    seed = int(data.get("split_seed", 0))
    if data.get("max_examples"):
        parts = {k: subsample(v, int(data["max_examples"]), seed=seed) for k, v in ds.parts.items()}
        ds = LabeledDataset(ds.name, ds.label_names, parts, list(ds.notes))
    return ds, report, make_splits(ds, seed=seed)


def token_counts(texts, tokenizer: Mapping | None = None):
    """Counter of training tokens (what the vocabulary is built from)."""
    from collections import Counter

    from .text import Tokenizer, TokenizerConfig

    tok = Tokenizer(TokenizerConfig(**(tokenizer or {})))
    counts: Counter = Counter()
    for text in texts:
        counts.update(tok(text))
    return counts


def vocab_size_for(counts, min_freq: int, max_size: int) -> int:
    """Rows of the embedding table the Train page's summary should assume."""
    kept = sum(1 for c in counts.values() if c >= min_freq)
    return max(2, min(int(max_size), kept + 2))


def class_counts(labels, label_names) -> dict[str, int]:
    counts = {n: 0 for n in label_names}
    for label in labels:
        counts[label_names[label]] += 1
    return counts


# ---------------------------------------------------------------- shipped models


def pretrained_dir() -> Path:
    """``$GATESCOPE_PRETRAINED_DIR`` or the repository's ``pretrained/`` folder."""
    env = os.environ.get(PRETRAINED_ENV)
    return Path(env).expanduser() if env else ROOT / "pretrained"


def list_shipped() -> list:
    """``PretrainedInfo`` of every shipped bundle ([] when none or the module is missing)."""
    try:
        from .pretrained import list_pretrained
    except ImportError:
        return []
    try:
        return list_pretrained(pretrained_dir())
    except Exception:  # noqa: BLE001 - a broken folder must not break the Home page
        return []


HOME_PREFERENCE = ("lstm", "bilstm", "gru", "rnn")


def default_home_model(infos: list) -> str | None:
    """The shipped model the Home page opens with (an LSTM when there is one)."""
    names = [i.name for i in infos]
    for name in HOME_PREFERENCE:
        if name in names:
            return name
    return names[0] if names else None


@dataclass
class ModelChoice:
    """An entry of a model picker: a shipped model, a run's best checkpoint or an upload."""

    key: str       # "shipped:lstm", "run:<name>", "upload:<sha>"
    label: str
    path: Path


def model_choices(runs: list, shipped: list) -> list[ModelChoice]:
    """Shipped models first, then runs that have a checkpoint (newest first)."""
    out = [ModelChoice(f"shipped:{i.name}", f"Shipped · {i.title}", Path(i.path)) for i in shipped]
    for record in runs:
        if record.best_path is not None:
            out.append(ModelChoice(f"run:{record.name}", f"Run · {record.name} · {record.display_name} ({record.state})",
                                   record.best_path))
    return out


# ---------------------------------------------------------------- Streamlit helpers


def log_choices(spec: ParamSpec, current: float) -> list[float]:
    """Round values on a log scale inside the spec's range (plus the current value)."""
    values = [v for v in LR_CHOICES if (spec.min is None or v >= spec.min) and (spec.max is None or v <= spec.max)]
    if current not in values:
        values = sorted(values + [current])
    return values


def widget(spec: ParamSpec, key: str, container=None, label: str | None = None, disabled: bool = False,
           help: str | None = None) -> Any:
    """One widget built from a ParamSpec; its value lives in ``st.session_state[key]``.

    Booleans become toggles, choices select boxes (radio-like segmented control for two or
    three), log-scale numbers a select slider, other numbers sliders (number inputs for
    very wide ranges such as seeds). The caller seeds ``st.session_state[key]`` first.
    """
    import streamlit as st

    where = container or st
    label = label or spec.label
    help = help or spec.help
    value = st.session_state.get(key, spec.default)
    if isinstance(spec.default, bool):
        return where.toggle(label, key=key, help=help, disabled=disabled)
    if spec.choices is not None:
        options = list(spec.choices)
        if value not in options:
            st.session_state[key] = spec.default
        return where.selectbox(label, options, key=key, help=help, disabled=disabled)
    if spec.log:
        options = log_choices(spec, float(value))
        return where.select_slider(label, options=options, key=key, help=help, disabled=disabled,
                                   format_func=lambda v: f"{v:g}")
    is_int = isinstance(spec.default, int) and float(spec.step or 1).is_integer()
    lo, hi = spec.min, spec.max
    if is_int:
        lo, hi, step = int(lo), int(hi), int(spec.step or 1)
        st.session_state[key] = int(min(hi, max(lo, int(value))))
        if hi - lo > 5000:
            return where.number_input(label, min_value=lo, max_value=hi, step=step, key=key, help=help,
                                      disabled=disabled)
        return where.slider(label, min_value=lo, max_value=hi, step=step, key=key, help=help, disabled=disabled)
    lo, hi, step = float(lo), float(hi), float(spec.step or 0.01)
    st.session_state[key] = float(min(hi, max(lo, float(value))))
    return where.slider(label, min_value=lo, max_value=hi, step=step, key=key, help=help, disabled=disabled)


def init_state() -> list[str]:
    """Seed ``gs_data``/``gs_model``/``gs_train``/``gs_vocab``/``gs_tokenizer`` once per session from the URL.

    Returns:
        Warnings about link values that were ignored (shown once).
    """
    import streamlit as st

    if st.session_state.get("gs_ready"):
        return []
    try:
        params = {k: st.query_params.get_all(k) for k in st.query_params.keys()}
    except Exception:  # noqa: BLE001
        params = {}
    state, warnings = from_query(params)
    for group, values in state.items():
        st.session_state.setdefault(f"gs_{group}", values)
    st.session_state["gs_ready"] = True
    if "gs_owner" not in st.session_state:
        import secrets

        st.session_state["gs_owner"] = secrets.token_hex(4)
    return warnings


def group_state(group: str) -> dict:
    """The current settings of ``group`` (data, model, train, vocab or tokenizer)."""
    import streamlit as st

    init_state()
    return dict(st.session_state.get(f"gs_{group}") or defaults()[group])


def set_group_state(group: str, values: Mapping) -> None:
    import streamlit as st

    st.session_state[f"gs_{group}"] = dict(values)


def sync_query(groups: tuple[str, ...] = QUERY_GROUPS) -> None:
    """Mirror the current settings into the URL so the link reopens the same setup."""
    import streamlit as st

    state = {g: group_state(g) for g in groups}
    wanted = to_query(state, groups)
    try:
        current = {k: st.query_params.get(k) for k in st.query_params.keys()}
        if current != wanted:
            st.query_params.from_dict(wanted)
    except Exception:  # noqa: BLE001 - never break a page over the URL
        pass


CSS = """
<style>
/* Projector-friendly: bigger widget labels and metrics, roomy token chips. */
[data-testid="stWidgetLabel"] p { font-size: 1.0rem; font-weight: 600; }
[data-testid="stMetricValue"] { font-size: 2.0rem; }
.gs-card { border: 1px solid #D9E2EC; border-radius: 14px; padding: 1rem 1.1rem; height: 100%;
           background: #F8FAFC; }
.gs-card h4 { margin: 0 0 .3rem 0; }
.gs-muted { color: #52606D; font-size: 0.95rem; }
.gs-verdict { font-size: 2.1rem; font-weight: 700; margin: .2rem 0 .4rem 0; }
</style>
"""


def page(title: str, icon: str = "🔬", layout: str = "wide") -> None:
    """``st.set_page_config`` + house CSS + session seeding; shows link warnings once."""
    import streamlit as st

    try:
        st.set_page_config(page_title=f"{title} · GateScope", page_icon=icon, layout=layout)
    except Exception:  # noqa: BLE001 - already set (AppTest reruns)
        pass
    st.markdown(CSS, unsafe_allow_html=True)
    if not _CACHED.get("threads"):
        # Training runs in worker processes; the UI process keeps to few threads so the two
        # never oversubscribe the cores (OpenMP spinning makes every click slow).
        import torch

        torch.set_num_threads(max(1, int(os.environ.get(APP_THREADS_ENV, "1") or 1)))
        _CACHED["threads"] = True
    for warning in init_state():
        st.warning(warning)


PAGES = {"home": "Home.py", "data": "pages/1_Data.py", "train": "pages/2_Train.py", "compare": "pages/3_Compare.py",
         "explain": "pages/4_Explain.py", "inside": "pages/5_Inside_the_cell.py", "gradients": "pages/6_Gradients.py"}
PAGE_TITLES = {"home": "Home", "data": "Data", "train": "Train", "compare": "Compare", "explain": "Explain",
               "inside": "Inside the cell", "gradients": "Gradients"}


def link(page_key: str, label: str | None = None, icon: str | None = None, container=None) -> None:
    """``st.page_link`` to another page; plain text when the page registry is unavailable
    (a page run on its own, e.g. in AppTest)."""
    import streamlit as st

    where = container or st
    label = label or PAGE_TITLES[page_key]
    try:
        where.page_link(PAGES[page_key], label=label, icon=icon)
    except Exception:  # noqa: BLE001 - StreamlitPageNotFoundError when run outside the multipage app
        where.markdown(f"{icon or ''} **{label}** (open *{PAGE_TITLES[page_key]}* in the sidebar)")


EXAMPLES = (
    "The film was good",
    "It was not good",
    "Not bad at all, I enjoyed it",
    "The acting was great but the plot was a mess and I left bored",
    "Decent movie, although it could be shorter",
    "I loved the movie, every part of it",
)


@dataclass
class LoadedModel:
    """A model a page can use: the bundle plus where it came from."""

    key: str
    label: str
    bundle: Any


def load_bundle_file(path: str | Path):
    """``load_checkpoint`` that turns every failure into ``CheckpointError`` with advice."""
    from .checkpoint import load_checkpoint
    from .errors import CheckpointError

    try:
        return load_checkpoint(path)
    except CheckpointError:
        raise
    except Exception as error:  # noqa: BLE001
        raise CheckpointError(f"{Path(path).name} could not be loaded ({type(error).__name__}: {error}); "
                              "it may come from a newer GateScope or be damaged") from None


def load_uploaded_bundle(content: bytes, filename: str):
    """Load an uploaded ``.safetensors`` bundle (written to a temporary file first)."""
    import tempfile

    from .errors import CheckpointError

    if not content:
        raise CheckpointError(f"{filename} is empty; download the bundle again")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / (Path(filename).name or "upload.safetensors")
        path.write_bytes(content)
        return load_bundle_file(path)


_CACHED: dict = {}
UPLOAD_CHOICE = "upload"


def cached_bundle(path: str | Path, mtime: float):
    """A bundle shared by every session (``st.cache_resource``): read-only, never mutate it."""
    import streamlit as st

    fn = _CACHED.get("bundle")
    if fn is None:
        fn = st.cache_resource(show_spinner="Loading the model…", max_entries=16)(
            lambda path, mtime: load_bundle_file(path))
        _CACHED["bundle"] = fn
    return fn(str(path), float(mtime))


def model_picker(prefix: str, container=None, help: str | None = None) -> LoadedModel | None:
    """Shipped models, runs with a checkpoint, or an uploaded bundle. The choice is shared
    by the Explain, Inside-the-cell and Gradients pages. Errors are shown, never raised."""
    import hashlib

    import streamlit as st

    from . import runs
    from .errors import CheckpointError

    where = container or st
    choices = model_choices(runs.list_runs(), list_shipped())
    keys = [c.key for c in choices] + [UPLOAD_CHOICE]
    labels = {c.key: c.label for c in choices}
    labels[UPLOAD_CHOICE] = "Upload a model bundle (.safetensors)…"
    wanted = st.session_state.get("gs_model_key")
    if wanted not in keys:
        shipped = [k for k in keys if k.startswith("shipped:")]
        preferred = [f"shipped:{n}" for n in HOME_PREFERENCE if f"shipped:{n}" in keys]
        wanted = (preferred or shipped or keys)[0]
    if st.session_state.get(f"{prefix}_model") not in keys:  # entering the page: use the shared choice
        st.session_state[f"{prefix}_model"] = wanted
    key = where.selectbox("Model", keys, key=f"{prefix}_model", format_func=labels.get,
                          help=help or "Shipped models, your runs' best checkpoints, or a bundle file.")
    st.session_state["gs_model_key"] = key
    if key != UPLOAD_CHOICE:
        choice = next(c for c in choices if c.key == key)
        try:
            bundle = cached_bundle(choice.path, choice.path.stat().st_mtime)
        except (CheckpointError, OSError) as error:
            where.error(f"This model cannot be loaded: {error}")
            return None
        return LoadedModel(f"{key}@{choice.path.stat().st_mtime}", choice.label, bundle)
    uploaded = where.file_uploader("Model bundle", type=["safetensors"], key=f"{prefix}_bundle_file",
                                   help="A .safetensors bundle downloaded from the Train page (or saved with "
                                        "GateScope's save_checkpoint). Pickled .pt/.pth files are refused because "
                                        "loading them can run code.")
    if uploaded is not None:
        content = uploaded.getvalue()
        sha = hashlib.sha256(content).hexdigest()[:16]
        current = st.session_state.get("gs_uploaded_bundle")
        if not current or current[0] != sha:
            try:
                st.session_state["gs_uploaded_bundle"] = (sha, uploaded.name, load_uploaded_bundle(content, uploaded.name))
            except CheckpointError as error:
                where.error(f"**{uploaded.name}** cannot be used: {error}")
                return None
    current = st.session_state.get("gs_uploaded_bundle")
    if not current:
        where.info("Upload a bundle to explain it.")
        return None
    return LoadedModel(f"upload:{current[0]}", f"Upload · {current[1]}", current[2])
