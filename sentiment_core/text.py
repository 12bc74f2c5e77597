"""Text as a reader sees it: cleaning (HTML breaks and tags, entities, Unicode forms and curly
quotes), sentence-aware word tokenizing, the other tokenizers (tweet, whitespace), and the
tutorials' own rules for imported models (torchtext's ``basic_english``, Keras' ``Tokenizer``
and the chapters' punctuation strip, as ``chars``; NLTK's English stopword list).

Only NLTK pieces that need no downloaded data are used, so everything works offline: the word
tokenizer expects one sentence at a time (``nltk.word_tokenize`` splits sentences first with
downloaded punkt data), so sentences are split with ``PunktSentenceTokenizer`` on its default
parameters plus a list of common abbreviations.
"""
from __future__ import annotations

import html
import re
from pathlib import Path
import string
import sys
import unicodedata
from dataclasses import asdict, dataclass
from functools import lru_cache

# Importing any part of nltk runs nltk/__init__, which imports all of nltk, and with it SciPy and
# scikit-learn (for association measures, classifiers and a parser GateScope never uses): about
# two-thirds of nltk's import time and 50 MB, on every start-up's path to the first prediction.
# They are hidden while nltk loads (nltk catches the ImportError) and import normally afterwards
# (the Dataset page's maps and tests use them).
_HIDDEN = [name for name in ("scipy", "sklearn") if name not in sys.modules]
sys.modules.update(dict.fromkeys(_HIDDEN))
try:
    from nltk.tokenize import NLTKWordTokenizer, TweetTokenizer
    from nltk.tokenize.punkt import PunktParameters, PunktSentenceTokenizer
finally:
    for _name in _HIDDEN:
        if sys.modules.get(_name, 0) is None:
            del sys.modules[_name]

from .spec import ParamSpec

TOKENIZER_KINDS = ("nltk", "tweet", "whitespace")
TOKENIZER_SPEC = {
    "kind": ParamSpec("nltk", "nltk splits \"don't\" into do + n't; tweet keeps @handles, #tags and :) ; "
                      "whitespace splits on spaces only.", "Tokenizer", choices=TOKENIZER_KINDS),
    "lowercase": ParamSpec(True, "Treat \"Good\" and \"good\" as one word.", "Lowercase"),
    "strip_punctuation": ParamSpec(False, "Drop tokens made only of punctuation.", "Drop punctuation"),
    "remove_stopwords": ParamSpec(False, "Drop common function words; negations and contrast words stay.",
                                  "Drop stopwords"),
    "clean": ParamSpec(True, "Read text as a person does: HTML line breaks and tags become spaces, &amp; and "
                       "friends their characters, curly quotes straight ones, and Unicode look-alikes one form "
                       "(NFKC).", "Clean HTML and Unicode"),
    "split_sentences": ParamSpec(True, "Split sentences before words (nltk tokenizer), so a period never sticks "
                                 "to a word: \"good.\" and \"good\" are one word.", "Split sentences first"),
}
# What bundles saved before cleaning and sentence splitting existed did: their numbers stay.
LEGACY_TOKENIZER = {"clean": False, "split_sentences": False}
# Tokenizers of the tutorials an imported model may read with (``importers.TEXT_PRESETS``); the Data
# and Train pages offer ``TOKENIZER_KINDS`` only.
#   basic_english: torchtext's get_tokenizer("basic_english"), its documented regular expressions;
#   chars: character rules: ``strip_chars`` deleted, ``filters`` turned into ``split``, then split on it
#          (Keras' Tokenizer, text_to_word_sequence) or on any whitespace (the UCI/IMDb chapters).
IMPORT_TOKENIZER_KINDS = ("basic_english", "chars")
ALL_TOKENIZER_KINDS = TOKENIZER_KINDS + IMPORT_TOKENIZER_KINDS
KERAS_FILTERS = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n'  # Keras Tokenizer's default filters
MAX_CHAR_RULE = 256  # characters in strip_chars, filters or split (read from a bundle or a tokenizer file)
STOPWORD_LISTS = ("gatescope", "nltk_english")
_IMPORT_DEFAULTS = {"strip_chars": "", "filters": "", "split": "", "stopwords": "gatescope"}

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



@lru_cache(maxsize=None)
def stopword_list(name: str) -> frozenset[str]:
    """A named stopword list: ``gatescope`` (``ENGLISH_STOPWORDS``) or ``nltk_english`` (NLTK's 179
    English words, shipped as ``text_data/nltk_english_stopwords.txt`` with its source)."""
    if name == "gatescope":
        return ENGLISH_STOPWORDS
    if name not in STOPWORD_LISTS:
        raise ValueError(f"unknown stopword list {name!r}; valid: {', '.join(STOPWORD_LISTS)}")
    lines = (Path(__file__).parent / "text_data" / f"{name}_stopwords.txt").read_text("utf-8").splitlines()
    return frozenset(line for line in lines if line and not line.startswith("#"))


# torchtext's basic_english (torchtext/data/utils.py): after lowercasing, these substitutions in
# order, then a split on whitespace.
_BASIC_ENGLISH = [(re.compile(p), r) for p, r in zip(
    [r"\'", r"\"", r"\.", r"<br \/>", r",", r"\(", r"\)", r"\!", r"\?", r"\;", r"\:", r"\s+"],
    [" '  ", "", " . ", " ", " , ", " ( ", " ) ", " ! ", " ? ", " ", " ", " "])]

_PUNCT_TOKEN = re.compile(rf"^[{re.escape(string.punctuation)}“”‘’…–—`´]+$")
_LINE_BREAK = re.compile(r"<\s*(?:br|p|/p|div|/div|li)\b[^<>]{0,200}>", re.IGNORECASE)
# A tag: '<' + a letter-led name; '<3', 'a < b' and GateScope's own <pad>/<unk> are left alone.
_TAG = re.compile(r"<\s*/?\s*(?!(?:pad|unk)>)[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]{0,300})?\s*/?\s*>")
_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
                         "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
                         "\u00ab": '"', "\u00bb": '"'})
# A period with no space before the next sentence ("Great film.I loved it").
_GLUED_PERIOD = re.compile(r"(?<=[a-z]{2})\.(?=[A-Z][a-z]|[AI]\b)")
_SPACES = re.compile(r"\s+")
# Common English abbreviations (Punkt's trained English model is downloadable data we do not have).
ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof st jr sr vs etc e.g i.e cf approx dept est inc ltd co corp no vol pp ch fig jan feb "
    "mar apr jun jul aug sep sept oct nov dec mt ft lt col gen capt sgt rev hon u.s u.k".split())


def clean_text(text: str) -> str:
    """The text a reader sees: HTML line breaks and tags become spaces, HTML entities their
    characters, Unicode look-alikes one form (NFKC), curly quotes straight ones, and runs of
    whitespace one space.

    Args:
        text: raw text, e.g. an IMDb review with ``<br /><br />`` between paragraphs.

    Returns:
        The cleaned text.
    """
    text = _LINE_BREAK.sub(" ", text)
    text = _TAG.sub(" ", text)
    text = html.unescape(text)
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES)
    return _SPACES.sub(" ", text).strip()


@lru_cache(maxsize=None)
def _sentence_splitter() -> PunktSentenceTokenizer:
    params = PunktParameters()
    params.abbrev_types = set(ABBREVIATIONS)
    return PunktSentenceTokenizer(params)


def split_sentences(text: str) -> list[str]:
    """Sentences of ``text`` (Punkt's default rules, common abbreviations known, and a period
    glued to the next sentence's first word split off)."""
    return _sentence_splitter().tokenize(_GLUED_PERIOD.sub(". ", text))


@dataclass(frozen=True)
class TokenizerConfig:
    """How raw text becomes tokens.

    Attributes:
        kind: ``nltk`` (Treebank-style, splits "don't" into "do" + "n't"), ``tweet``
            (keeps @handles, #tags, emoticons), ``whitespace``, or, for imported tutorial
            models, ``basic_english`` (torchtext's) or ``chars`` (``IMPORT_TOKENIZER_KINDS``).
        lowercase: lowercase before tokenizing.
        strip_punctuation: drop tokens made only of punctuation.
        remove_stopwords: drop the words of ``stopwords``.
        clean: apply ``clean_text`` first (stored in every bundle, so training, prediction, the
            app and the API read text the same way).
        split_sentences: with ``nltk``, split sentences before words.
        keep_negations: with ``remove_stopwords``, keep negations and contrast words.
        strip_chars: characters deleted before tokenizing ("great!" -> "great": the UCI and
            IMDb-RNN chapters delete ``string.punctuation``).
        filters: with ``chars``, characters that become ``split`` (Keras' ``Tokenizer(filters=)``).
        split: with ``chars``, the separator; empty: any run of whitespace (``str.split()``).
        stopwords: the list ``remove_stopwords`` uses (``STOPWORD_LISTS``).
    """

    kind: str = TOKENIZER_SPEC["kind"].default
    lowercase: bool = TOKENIZER_SPEC["lowercase"].default
    strip_punctuation: bool = TOKENIZER_SPEC["strip_punctuation"].default
    remove_stopwords: bool = TOKENIZER_SPEC["remove_stopwords"].default
    clean: bool = TOKENIZER_SPEC["clean"].default
    split_sentences: bool = TOKENIZER_SPEC["split_sentences"].default
    keep_negations: bool = True
    strip_chars: str = ""
    filters: str = ""
    split: str = ""
    stopwords: str = "gatescope"

    def __post_init__(self) -> None:
        if self.kind not in ALL_TOKENIZER_KINDS:
            raise ValueError(f"unknown tokenizer {self.kind!r}; valid: {', '.join(ALL_TOKENIZER_KINDS)}")
        for name in ("strip_chars", "filters", "split"):
            value = getattr(self, name)
            if not isinstance(value, str) or len(value) > MAX_CHAR_RULE:
                raise ValueError(f"{name} must be text of at most {MAX_CHAR_RULE} characters")
        if self.stopwords not in STOPWORD_LISTS:
            raise ValueError(f"unknown stopword list {self.stopwords!r}; valid: {', '.join(STOPWORD_LISTS)}")

    def describe(self) -> str:
        """How text is read, in one plain sentence (shown on Explain)."""
        case = "lowercased, " if self.lowercase else ""
        strip = f"these characters deleted: {self.strip_chars!r}, " if self.strip_chars else ""
        if self.kind == "basic_english":
            how = "torchtext's basic_english tokenizer (punctuation . , ( ) ! ? and ' kept as tokens)"
        elif self.kind == "chars" and self.filters:
            sep = "any whitespace" if not self.split else repr(self.split)
            how = f"the Keras Tokenizer: these filters become separators {self.filters!r}, split on {sep}"
        elif self.kind == "chars":
            how = "a split on whitespace" if not self.split else f"a split on {self.split!r}"
        else:
            how = {"nltk": "GateScope's word tokenizer (NLTK Treebank rules)", "tweet": "NLTK's tweet tokenizer",
                   "whitespace": "a split on whitespace"}[self.kind]
        extras = [text for on, text in (
            (self.clean, "HTML and Unicode cleaned first"),
            (self.strip_punctuation, "punctuation-only tokens dropped"),
            (self.remove_stopwords, f"{'NLTK' if self.stopwords == 'nltk_english' else 'GateScope'}'s English "
                                    f"stopwords removed{' (negations kept)' if self.keep_negations else ''}"),
        ) if on]
        return f"Text is {case}{strip}then read with {how}" + (f"; {', '.join(extras)}" if extras else "") + "."

    def to_dict(self) -> dict:
        """The fields, without an imported tutorial's rules left at their defaults (so run configs and
        bundles of GateScope's own tokenizers read as they did before those rules existed)."""
        return {k: v for k, v in asdict(self).items() if k not in _IMPORT_DEFAULTS or v != _IMPORT_DEFAULTS[k]}


@lru_cache(maxsize=None)
def _nltk_tokenizer() -> NLTKWordTokenizer:
    return NLTKWordTokenizer()


@lru_cache(maxsize=64)
def _deletion(chars: str) -> dict:
    return str.maketrans("", "", chars)


@lru_cache(maxsize=64)
def _separator(filters: str, split: str) -> dict:
    return str.maketrans(dict.fromkeys(filters, split))


@lru_cache(maxsize=None)
def _tweet_tokenizer() -> TweetTokenizer:
    return TweetTokenizer(preserve_case=True, reduce_len=True)


class Tokenizer:
    """Callable that turns one text into a list of tokens according to a TokenizerConfig."""

    def __init__(self, config: TokenizerConfig | None = None):
        self.config = config or TokenizerConfig()

    def __call__(self, text: str) -> list[str]:
        cfg = self.config
        if cfg.clean:
            text = clean_text(text)
        if cfg.strip_chars:
            text = text.translate(_deletion(cfg.strip_chars))
        if cfg.kind == "nltk" and cfg.split_sentences:  # sentences on the original case: capitals are cues
            words = _nltk_tokenizer()
            tokens = [t for sentence in split_sentences(text)
                      for t in words.tokenize(sentence.lower() if cfg.lowercase else sentence)]
            return self._filter(tokens)
        if cfg.lowercase:
            text = text.lower()
        if cfg.kind == "nltk":
            tokens = _nltk_tokenizer().tokenize(text)
        elif cfg.kind == "tweet":
            tokens = _tweet_tokenizer().tokenize(text)
        elif cfg.kind == "basic_english":
            for pattern, replacement in _BASIC_ENGLISH:
                text = pattern.sub(replacement, text)
            tokens = text.split()
        elif cfg.kind == "chars" and cfg.split:  # Keras' text_to_word_sequence
            tokens = [t for t in text.translate(_separator(cfg.filters, cfg.split)).split(cfg.split) if t]
        else:  # whitespace, or chars without a separator (filters become spaces)
            tokens = (text.translate(_separator(cfg.filters, " ")) if cfg.filters else text).split()
        return self._filter(tokens)

    def _filter(self, tokens: list[str]) -> list[str]:
        cfg = self.config
        if cfg.strip_punctuation:
            tokens = [t for t in tokens if not _PUNCT_TOKEN.match(t)]
        if cfg.remove_stopwords:
            stop = stopword_list(cfg.stopwords)
            tokens = [t for t in tokens if t.lower() not in stop or (cfg.keep_negations and t.lower() in NEGATIONS)]
        return tokens

    def tokenize_many(self, texts: list[str]) -> list[list[str]]:
        """Tokenize a list of texts."""
        return [self(t) for t in texts]


# Every ASCII punctuation character can start Markdown (links, images, emphasis, code, tables),
# HTML (tags, entities, attribute quotes) or a Streamlit extension (``:red[...]``, ``:material/icon:``,
# ``$math$``); as a numeric character reference it is only a character. Streamlit's renderer still
# turns the decoded text's URLs, e-mail addresses and ``:emoji:`` codes into links and emoji, so an
# invisible word joiner (U+2060) goes where one of those could begin: after a colon that touches
# the next character (``http://``, ``:smile:``), before an @ that touches the previous one
# (``a@b.org``) and after a "www." Text such as "Note: good" or "@united" is left as it is, so
# what a reader copies is what was typed.
WORD_JOINER = "\u2060"
_PLAIN = str.maketrans({**{c: f"&#{ord(c)};" for c in string.punctuation},
                        **dict.fromkeys("\r\n\t\f\v\x85\u2028\u2029", " ")})
_JOIN = re.compile(r"(?<=:)(?=\S)|(?<=\S)(?=@)|(?i:(?<=www)(?=\.))")


def plain(text: object) -> str:
    """User text that shows as itself wherever Streamlit renders Markdown (``st.markdown``, captions,
    alerts, toasts, widget, tab, expander and metric labels, pill options) and in the HTML the app
    passes through ``st.markdown(..., unsafe_allow_html=True)``, attribute values included.

    Every ASCII punctuation character becomes a numeric character reference (Markdown and browsers
    both decode it to the character, and neither reads it as syntax), line breaks become spaces, a
    leading space is encoded (no indented code block), and a zero-width word joiner keeps URLs,
    e-mail addresses and emoji codes from becoming links or pictures (see ``_JOIN``). Not for code spans (inside
    backticks references are not decoded) nor for plain-text widgets (selectbox, multiselect,
    dataframes), which show text as it is.

    Args:
        text: any value; ``str(text)`` is escaped.

    Returns:
        The escaped text; rendered, it reads as ``text`` (with invisible word joiners).
    """
    escaped = _JOIN.sub(WORD_JOINER, str(text)).translate(_PLAIN)
    return "&#32;" + escaped[1:] if escaped.startswith(" ") else escaped
