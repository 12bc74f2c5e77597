"""Settings the app, the API and the CLI share, without Streamlit: the spec groups, the
classroom-sized defaults (one named override set), and the URL codec that turns settings and
page state into short query strings and back.

Every range, default and help text is declared once, in the ``*_SPEC`` dict next to the code it
controls; this module only groups them.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

from .spec import ParamSpec

# ---------------------------------------------------------------- the groups

# Dataset options for the synthetic generators and subsampling.
DATA_SPEC = {
    "name": ParamSpec("synthetic_negation", "Which dataset: a catalogue name, a synthetic set or an upload.",
                      "Dataset"),
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
    "leave_out": ParamSpec("", "Classes to leave out, comma-separated (e.g. 'neutral' makes the airline tweets a "
                           "2-class set, as the Keras tutorial does).", "Leave out classes"),
    "test_share": ParamSpec(0.1, "Share of each class held out for testing (datasets without an official test "
                            "set).", "Test share", min=0.05, max=0.5, step=0.05),
    "val_share": ParamSpec(0.1, "Share of each class held out for validation (early stopping, best epoch).",
                           "Validation share", min=0.05, max=0.3, step=0.05),
}
SYNTHETIC_OPTIONS = {"synthetic_long_range": ("n_examples", "distance", "noise"),
                     "synthetic_negation": ("n_examples", "noise")}

# Fields the Train page shows, in display order (the rest keep their spec defaults).
MODEL_FIELDS = ("cell", "bidirectional", "num_layers", "emb_dim", "hidden_dim", "embedding_dropout",
                "layer_dropout", "head_dropout", "pooling", "head", "head_hidden", "output", "embeddings",
                "freeze_embeddings", "vectors", "packed")
TRAIN_FIELDS = ("epochs", "batch_size", "lr", "optimizer", "weight_decay", "clip_norm", "lr_decay", "patience",
                "seed")
ENCODING_FIELDS = ("max_len", "padding", "truncation")
VOCAB_FIELDS = ("max_size", "min_freq")
GROUPS = ("data", "model", "train", "encoding", "vocab", "tokenizer")

# The app's classroom-sized starting point: small enough to train in seconds on two CPU cores.
# The only place the app departs from the engine's spec defaults.
CLASSROOM_DEFAULTS = {
    "model": {"cell": "lstm", "emb_dim": 32, "hidden_dim": 32},
    "train": {"epochs": 5, "batch_size": 32, "lr": 3e-3},
    "encoding": {"max_len": 60},
    "vocab": {"max_size": 5000},
}

# short enough for the Train page's half column at 1280 px; the box's help says what each means
EMBEDDING_CHOICES = {"random": "Random, learned", "glove_frozen": "GloVe 50d, frozen",
                     "glove_finetuned": "GloVe 50d, fine-tuned", "file_frozen": "Your file, frozen",
                     "file_finetuned": "Your file, fine-tuned"}

LR_CHOICES = (1e-5, 2e-5, 5e-5, 1e-4, 2e-4, 3e-4, 5e-4, 1e-3, 2e-3, 3e-3, 5e-3, 1e-2, 2e-2, 5e-2, 0.1, 0.2,
              0.5, 1.0, 2.0, 5.0, 10.0)

EXAMPLES = (
    "The film was good",
    "It was not good",
    "Not bad at all, I enjoyed it",
    "The acting was great but the plot was a mess and I left bored",
    "Decent movie, although it could be shorter",
    "I loved the movie, every part of it",
)


def specs() -> dict[str, dict[str, ParamSpec]]:
    """The spec of every field of every group, read from the modules that own them."""
    from .encoding import ENCODING_SPEC
    from .models import MODEL_SPEC
    from .pipeline import VOCAB_SPEC
    from .text import TOKENIZER_SPEC
    from .trainer import TRAIN_SPEC

    return {"data": dict(DATA_SPEC),
            "model": {k: MODEL_SPEC[k] for k in MODEL_FIELDS},
            "train": {k: TRAIN_SPEC[k] for k in TRAIN_FIELDS},
            "encoding": {k: ENCODING_SPEC[k] for k in ENCODING_FIELDS},
            "vocab": {k: VOCAB_SPEC[k] for k in VOCAB_FIELDS},
            "tokenizer": dict(TOKENIZER_SPEC)}


def defaults() -> dict[str, dict]:
    """Starting values for every group: spec defaults, then ``CLASSROOM_DEFAULTS``."""
    out = {group: {k: s.default for k, s in fields.items()} for group, fields in specs().items()}
    for group, overrides in CLASSROOM_DEFAULTS.items():
        out[group].update(overrides)
    return out


def embedding_choice(model: Mapping) -> str:
    """``random`` / ``glove_*`` / ``file_*`` (``_frozen`` or ``_finetuned``) from the two model fields."""
    source = model.get("embeddings")
    if source not in ("glove", "file"):
        return "random"
    return f"{source}_frozen" if model.get("freeze_embeddings") else f"{source}_finetuned"


def apply_embedding_choice(model: Mapping, choice: str) -> dict:
    """``embeddings`` / ``freeze_embeddings`` from one of ``EMBEDDING_CHOICES``."""
    if choice not in EMBEDDING_CHOICES:
        raise ValueError(f"unknown embedding choice {choice!r}; valid: {', '.join(EMBEDDING_CHOICES)}")
    return {**model, "embeddings": choice.split("_")[0], "freeze_embeddings": choice.endswith("_frozen")}


def log_choices(spec: ParamSpec, current: float) -> list[float]:
    """Round values on a log scale inside the spec's range, plus the current value."""
    values = [v for v in LR_CHOICES if (spec.min is None or v >= spec.min) and (spec.max is None or v <= spec.max)]
    return values if current in values else sorted(values + [current])


# ---------------------------------------------------------------- the URL codec

# Short, readable URL keys for the settings groups (unchanged from earlier links).
QUERY_KEYS = {
    "data": {"name": "dataset", "n_examples": "n", "distance": "distance", "noise": "noise",
             "max_examples": "max_examples", "source": "source", "split_seed": "split_seed",
             "leave_out": "leave_out", "test_share": "test_share", "val_share": "val_share"},
    "model": {k: {"output": "head_output"}.get(k, k) for k in MODEL_FIELDS},  # Explain's own ``output``
    "train": {k: k for k in TRAIN_FIELDS},
    "encoding": {k: k for k in ENCODING_FIELDS},
    "vocab": {"max_size": "vocab_size", "min_freq": "min_freq"},
    "tokenizer": {"kind": "tokenizer", "lowercase": "lowercase", "strip_punctuation": "strip_punct",
                  "remove_stopwords": "stopwords", "clean": "clean", "split_sentences": "sentences"},
}


def parse_value(raw: Any, default: Any, spec: ParamSpec | None = None, name: str = "value") -> Any:
    """A typed value from its URL text, shaped like ``default`` and checked against ``spec``.

    Raises:
        ValueError: with words a link's author can act on ("expected a number, got 'abc'").
    """
    text = str(raw).strip()
    if isinstance(default, bool):
        if text.lower() in ("1", "true", "yes", "on"):
            return True
        if text.lower() in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"expected true or false, got {text!r}")
    if isinstance(default, (list, tuple)):  # comma-separated, items typed like the default's first
        parts = [part for part in (p.strip() for p in text.split(",")) if part]
        return [parse_value(part, default[0], None, name) for part in parts] if default else parts
    if isinstance(default, (int, float)):
        try:
            number = float(text)
        except ValueError:
            raise ValueError(f"expected a number, got {text!r}") from None
        if not math.isfinite(number):
            raise ValueError(f"expected a finite number, got {text!r}")
        if isinstance(default, int):
            if not number.is_integer():
                raise ValueError(f"expected a whole number, got {text!r}")
            number = int(number)
        parsed: Any = number
    else:
        parsed = text
    if spec is not None:
        spec.validate(name, parsed)
    return parsed


def format_value(value: Any) -> str:
    """URL text of a value (``true``, ``0.003``, ``a,b``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return ",".join(map(str, value))
    return str(value)


def settings_to_query(state: Mapping[str, Mapping], groups: tuple[str, ...] = GROUPS) -> dict[str, str]:
    """Query parameters for the settings that differ from ``defaults()`` (short links)."""
    base = defaults()
    out: dict[str, str] = {}
    for group in groups:
        values = state.get(group, {})
        for field, key in QUERY_KEYS[group].items():
            if field in values and values[field] != base[group].get(field):
                out[key] = format_value(values[field])
    return out


def settings_from_query(params: Mapping[str, Any]) -> tuple[dict[str, dict], list[str]]:
    """Settings from query parameters, starting from ``defaults()``.

    Bad values are skipped (the default stays) and described in the returned warnings, so a
    mistyped link still opens and says what was ignored.
    """
    from .data import CATALOGUE

    all_specs = specs()
    state = defaults()
    warnings: list[str] = []
    lookup = {key: (group, field) for group, keys in QUERY_KEYS.items() for field, key in keys.items()}
    for key, raw in params.items():
        if isinstance(raw, (list, tuple)):
            raw = raw[-1] if raw else ""
        if key not in lookup:
            continue
        group, field = lookup[key]
        if (group, field) == ("data", "name"):
            if raw in CATALOGUE:
                state["data"]["name"] = raw
            else:
                warnings.append(f"The link names an unknown dataset ({raw!r}), so {state['data']['name']} is used. "
                                f"Valid: {', '.join(CATALOGUE)}.")
            continue
        if (group, field) == ("model", "vectors") and str(raw).strip():
            from .embeddings import resolve_vector_file
            from .errors import DataError

            try:  # a link names one of the server's files, never a path (the answer is the same either way)
                resolve_vector_file(str(raw).strip())
            except DataError as error:
                warnings.append(f"The link's {key}={raw!r} was ignored: {error}.")
                continue
        try:
            state[group][field] = parse_value(raw, state[group][field], all_specs[group].get(field), key)
        except ValueError as error:
            warnings.append(f"The link's {key}={raw!r} was ignored: {error}. The default "
                            f"{format_value(state[group][field])} is used.")
    return state, warnings


@dataclass(frozen=True)
class PageField:
    """One piece of a page's state that its link carries.

    Attributes:
        key: the session-state (widget) key, e.g. ``e_text``.
        query: the URL key, e.g. ``text``.
        default: the value when the link has none (also fixes the type).
        spec: a ``ParamSpec`` to validate against (optional).
    """

    key: str
    query: str
    default: Any
    spec: ParamSpec | None = None

    def parse(self, raw: Any) -> Any:
        """The value from URL text (``ValueError`` with a readable reason)."""
        if isinstance(raw, (list, tuple)):
            raw = raw[-1] if raw else ""
        return parse_value(raw, self.default, self.spec, self.query)


def page_to_query(fields: tuple[PageField, ...], values: Mapping[str, Any],
                  defaults: Mapping[str, Any] | None = None) -> dict[str, str]:
    """Query parameters for the page fields whose value differs from the default.

    Args:
        fields: the page's fields.
        values: widget key -> current value.
        defaults: widget key -> a default known only at run time (the model's first gate, say),
            overriding the field's own.
    """
    defaults = defaults or {}
    return {f.query: format_value(values[f.key]) for f in fields
            if f.key in values and values[f.key] is not None and values[f.key] != defaults.get(f.key, f.default)}


def page_from_query(fields: tuple[PageField, ...], params: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Values of the page fields the link carries, and warnings for the ones it got wrong."""
    values: dict[str, Any] = {}
    warnings: list[str] = []
    for f in fields:
        if f.query not in params:
            continue
        raw = params[f.query]
        raw = (raw[-1] if raw else "") if isinstance(raw, (list, tuple)) else raw
        try:
            values[f.key] = f.parse(raw)
        except ValueError as error:
            warnings.append(f"The link's {f.query}={raw!r} was ignored: {error}.")
    return values, warnings
