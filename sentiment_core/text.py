"""Tokenization options: NLTK word tokenizer (default), tweet tokenizer, whitespace.

Only NLTK tokenizers that need no downloaded data are used, so everything works offline.
"""
from __future__ import annotations

import re
import string
from dataclasses import asdict, dataclass
from functools import lru_cache

from nltk.tokenize import NLTKWordTokenizer, TweetTokenizer

from .spec import ParamSpec

TOKENIZER_KINDS = ("nltk", "tweet", "whitespace")
TOKENIZER_SPEC = {
    "kind": ParamSpec("nltk", "nltk splits \"don't\" into do + n't; tweet keeps @handles, #tags and :) ; "
                      "whitespace splits on spaces only.", "Tokenizer", choices=TOKENIZER_KINDS),
    "lowercase": ParamSpec(True, "Treat \"Good\" and \"good\" as one word.", "Lowercase"),
    "strip_punctuation": ParamSpec(False, "Drop tokens made only of punctuation.", "Drop punctuation"),
    "remove_stopwords": ParamSpec(False, "Drop common function words; negations and contrast words stay.",
                                  "Drop stopwords (keeps negations)"),
}

# Negations and contrast words carry sentiment ("not good", "good but boring"); they are
# kept even when stopwords are removed unless ``keep_negations`` is turned off.
NEGATIONS = frozenset(
    {"not", "no", "nor", "never", "n't", "none", "nothing", "nobody", "neither", "nowhere",
     "cannot", "without", "but", "however", "although", "though", "don't", "doesn't",
     "didn't", "isn't", "wasn't", "aren't", "weren't", "won't", "wouldn't", "shouldn't",
     "couldn't", "can't", "hasn't", "haven't", "hadn't", "mustn't"}
)

# A standard English stopword list (the usual NLTK/Snowball words), shipped so no
# NLTK data download is needed.
ENGLISH_STOPWORDS = frozenset(
    """i me my myself we our ours ourselves you your yours yourself yourselves he him his
    himself she her hers herself it its itself they them their theirs themselves what which
    who whom this that these those am is are was were be been being have has had having do
    does did doing a an the and but if or because as until while of at by for with about
    against between into through during before after above below to from up down in out on
    off over under again further then once here there when where why how all any both each
    few more most other some such no nor not only own same so than too very s t can will
    just don should now d ll m o re ve y ain aren couldn didn doesn hadn hasn haven isn ma
    mightn mustn needn shan shouldn wasn weren won wouldn n't 's 're 've 'll 'd 'm""".split()
)

_PUNCT_TOKEN = re.compile(rf"^[{re.escape(string.punctuation)}“”‘’…–—`´]+$")


@dataclass(frozen=True)
class TokenizerConfig:
    """How raw text becomes tokens.

    Attributes:
        kind: ``nltk`` (Treebank-style, splits "don't" into "do" + "n't"), ``tweet``
            (keeps @handles, #tags, emoticons), or ``whitespace``.
        lowercase: lowercase before tokenizing.
        strip_punctuation: drop tokens made only of punctuation.
        remove_stopwords: drop common English function words.
        keep_negations: with ``remove_stopwords``, keep negations and contrast words.
    """

    kind: str = TOKENIZER_SPEC["kind"].default
    lowercase: bool = TOKENIZER_SPEC["lowercase"].default
    strip_punctuation: bool = TOKENIZER_SPEC["strip_punctuation"].default
    remove_stopwords: bool = TOKENIZER_SPEC["remove_stopwords"].default
    keep_negations: bool = True

    def __post_init__(self) -> None:
        if self.kind not in TOKENIZER_KINDS:
            raise ValueError(f"unknown tokenizer {self.kind!r}; valid: {', '.join(TOKENIZER_KINDS)}")

    def to_dict(self) -> dict:
        return asdict(self)


@lru_cache(maxsize=None)
def _nltk_tokenizer() -> NLTKWordTokenizer:
    return NLTKWordTokenizer()


@lru_cache(maxsize=None)
def _tweet_tokenizer() -> TweetTokenizer:
    return TweetTokenizer(preserve_case=True, reduce_len=True)


class Tokenizer:
    """Callable that turns one text into a list of tokens according to a TokenizerConfig."""

    def __init__(self, config: TokenizerConfig | None = None):
        self.config = config or TokenizerConfig()

    def __call__(self, text: str) -> list[str]:
        cfg = self.config
        if cfg.lowercase:
            text = text.lower()
        if cfg.kind == "nltk":
            tokens = _nltk_tokenizer().tokenize(text)
        elif cfg.kind == "tweet":
            tokens = _tweet_tokenizer().tokenize(text)
        else:
            tokens = text.split()
        if cfg.strip_punctuation:
            tokens = [t for t in tokens if not _PUNCT_TOKEN.match(t)]
        if cfg.remove_stopwords:
            tokens = [
                t for t in tokens
                if t.lower() not in ENGLISH_STOPWORDS or (cfg.keep_negations and t.lower() in NEGATIONS)
            ]
        return tokens

    def tokenize_many(self, texts: list[str]) -> list[list[str]]:
        """Tokenize a list of texts."""
        return [self(t) for t in texts]
