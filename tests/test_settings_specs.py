"""Every setting is declared once: each ``*_SPEC`` entry is a field of its config dataclass
with the same default, and every field outside the spec is a documented exception."""
from __future__ import annotations

from dataclasses import MISSING, fields

import pytest

from sentiment_core.encoding import ENCODING_SPEC, EncodingConfig
from sentiment_core.models import MODEL_SPEC, ModelConfig
from sentiment_core.pipeline import VOCAB_SPEC, VocabConfig
from sentiment_core.text import TOKENIZER_SPEC, TokenizerConfig
from sentiment_core.timelapse import TIMELAPSE_SPEC, TimelapseConfig
from sentiment_core.trainer import TRAIN_SPEC, TrainConfig

# (dataclass, spec, fields deliberately not in the spec and why)
CASES = [
    (ModelConfig, MODEL_SPEC, {"vocab_size": "from the data", "num_classes": "from the data",
                               "pad_idx": "fixed by the vocabulary"}),
    (TrainConfig, TRAIN_SPEC, {}),
    (EncodingConfig, ENCODING_SPEC, {"fixed_length": "an imported tutorial's padding (importers.TEXT_PRESETS)",
                                     "unknown": "an imported tutorial's unknown-word policy"}),
    (VocabConfig, VOCAB_SPEC, {}),
    (TokenizerConfig, TOKENIZER_SPEC, {"keep_negations": "only matters with remove_stopwords; no widget",
                                       **dict.fromkeys(("strip_chars", "filters", "split", "stopwords"),
                                                       "an imported tutorial's tokenizer (importers.TEXT_PRESETS)")}),
    (TimelapseConfig, TIMELAPSE_SPEC, {}),
]


@pytest.mark.parametrize("cls, spec, exceptions", CASES, ids=[c[0].__name__ for c in CASES])
def test_spec_and_dataclass_declare_the_same_settings(cls, spec, exceptions):
    names = {f.name for f in fields(cls)}
    assert set(spec) <= names, f"spec keys that are not {cls.__name__} fields: {sorted(set(spec) - names)}"
    assert names - set(spec) == set(exceptions)


@pytest.mark.parametrize("cls, spec, exceptions", CASES, ids=[c[0].__name__ for c in CASES])
def test_dataclass_defaults_are_the_spec_defaults(cls, spec, exceptions):
    defaults = {f.name: f.default for f in fields(cls)}
    for name, param in spec.items():
        assert defaults[name] is not MISSING, f"{cls.__name__}.{name} has no default"
        assert type(defaults[name]) is type(param.default) and defaults[name] == param.default, name



def test_encoding_settings_live_only_in_the_encoding_group():
    others = set(TRAIN_SPEC) | set(MODEL_SPEC) | set(VOCAB_SPEC) | set(TOKENIZER_SPEC)
    assert set(ENCODING_SPEC) == {"max_len", "padding", "truncation"} and not set(ENCODING_SPEC) & others
