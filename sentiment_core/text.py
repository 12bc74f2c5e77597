"""Text as a reader sees it: cleaning (HTML breaks and tags, entities, Unicode forms and curly
quotes), sentence-aware word tokenizing, and the other tokenizers (tweet, whitespace).

Only NLTK pieces that need no downloaded data are used, so everything works offline: the word
tokenizer expects one sentence at a time (``nltk.word_tokenize`` splits sentences first with
downloaded punkt data), so sentences are split with ``PunktSentenceTokenizer`` on its default
parameters plus a list of common abbreviations.
"""
from __future__ import annotations

import html
import re
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
            (keeps @handles, #tags, emoticons), or ``whitespace``.
        lowercase: lowercase before tokenizing.
        strip_punctuation: drop tokens made only of punctuation.
        remove_stopwords: drop common English function words.
        clean: apply ``clean_text`` first (stored in every bundle, so training, prediction, the
            app and the API read text the same way).
        split_sentences: with ``nltk``, split sentences before words.
        keep_negations: with ``remove_stopwords``, keep negations and contrast words.
    """

    kind: str = TOKENIZER_SPEC["kind"].default
    lowercase: bool = TOKENIZER_SPEC["lowercase"].default
    strip_punctuation: bool = TOKENIZER_SPEC["strip_punctuation"].default
    remove_stopwords: bool = TOKENIZER_SPEC["remove_stopwords"].default
    clean: bool = TOKENIZER_SPEC["clean"].default
    split_sentences: bool = TOKENIZER_SPEC["split_sentences"].default
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
        if cfg.clean:
            text = clean_text(text)
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
        else:
            tokens = text.split()
        return self._filter(tokens)

    def _filter(self, tokens: list[str]) -> list[str]:
        cfg = self.config
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
