"""No user string reaches the page as HTML or Markdown: class names, run names, nicknames, sentences,
file names and link values show as plain text (issue 22, items 1 and 7a).

``text.plain`` is the one escape for everything Streamlit renders as Markdown (and the HTML the app
passes through it); ``plots.chart_text`` the one for Plotly's text. The property tests render with
markdown-it (CommonMark, raw HTML on, as Streamlit's ``unsafe_allow_html``) and read the result
with ``html.parser``: no element but the helper's own, and the visible text is the input.
"""
from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
import torch
from browser.app_support import open_page
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from sentiment_core import plots
from sentiment_core.checkpoint import Bundle, save_checkpoint
from sentiment_core.models import ModelConfig, build_model
from sentiment_core.text import WORD_JOINER, plain
from sentiment_core.vocab import Vocab

IFRAME = "<iframe srcdoc=\"<script>parent.document.title='x'</script>\">"
IMG = "<img src=x onerror=alert(1)>"
PAYLOADS = (IFRAME, IMG, "[x](http://evil)", "![i](http://evil/i.png)", ":red[x]", ":material/home: $x^2$ **b**")
# raw markup a payload would leave behind if it reached the page unescaped
RAW = re.compile(r"<iframe|<img|<script|\]\(|:red\[|:material/|\$x|\*\*b")
ALPHABET = st.characters(blacklist_categories=("Cc", "Cs")) | st.sampled_from(list("<>\"'&[]()!:$*_`\\#~|-+.=/ \n"))
TEXTS = st.text(ALPHABET, max_size=60)


class Elements(HTMLParser):
    """The tags and the visible text of an HTML fragment (character references decoded)."""

    def __init__(self, markup: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []
        self.text = ""
        self.feed(markup)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs += attrs

    def handle_data(self, data):
        self.text += data


def squash(text: str) -> str:
    """Text as a browser shows it: runs of whitespace are one space, none at the ends, and the
    zero-width word joiners ``plain`` adds are invisible."""
    return " ".join(text.replace(WORD_JOINER, "").split())


MARKDOWN = MarkdownIt("commonmark", {"html": True}).enable("table").enable("strikethrough")


@given(TEXTS)
@settings(max_examples=300, deadline=None)
def test_plain_text_stays_text_in_markdown(text):
    """Inside a paragraph of Markdown: no link, image, emphasis, code or tag; the words read as typed."""
    page = Elements(MARKDOWN.render(f"Class: {plain(text)}"))
    assert set(page.tags) <= {"p"}
    assert squash(page.text) == squash(f"Class: {text}")
    assert not re.search(r"[<>\[\]()!:$*_`\\&'\"\n]", plain(text).replace("&#", "").replace(";", ""))


@given(TEXTS)
@settings(max_examples=300, deadline=None)
def test_plain_text_stays_text_inside_an_html_block(text):
    """Inside the app's own HTML (``unsafe_allow_html``): blank lines cannot end the block and let
    Markdown in, quotes cannot leave an attribute."""
    page = Elements(MARKDOWN.render(f"<div title='{plain(text)}'>{plain(text)}</div>"))
    assert page.tags == ["div"] and [name for name, _ in page.attrs] == ["title"]
    assert squash(page.text) == squash(text)


@given(st.lists(TEXTS, max_size=6), st.booleans())
@settings(max_examples=200, deadline=None)
def test_token_chips_are_only_spans(tokens, unknown):
    markup = plots.token_html(tokens, [0.5] * len(tokens), unknown=[unknown] * len(tokens))
    page = Elements(MARKDOWN.render(markup))
    assert page.tags == ["div"] + ["span"] * len(tokens)
    assert {name for name, _ in page.attrs} <= {"class", "style", "title"}
    assert squash(page.text) == squash("".join(tokens))


@given(TEXTS, st.none() | st.floats(0, 1))
@settings(max_examples=200, deadline=None)
def test_verdict_is_one_div_in_a_palette_colour(label, probability):
    markup = plots.verdict_html(label, probability)
    page = Elements(MARKDOWN.render(markup))
    assert page.tags == ["div"] + (["span"] if probability is not None else [])
    assert page.attrs[:2] == [("class", "gs-verdict"), ("style", f"color:{plots.class_color(label)}")]
    assert re.fullmatch(r"#[0-9A-F]{6}", plots.class_color(label))
    sure = f" ({probability:.0%} sure)" if probability is not None else ""
    assert squash(page.text) == squash(label.capitalize() + sure)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_chart_text_leaves_no_tag_for_plotly(payload):
    fig = plots.probability_bars({payload: 0.7, "b": 0.3})
    names = list(fig.data[0].y)
    assert "<" not in names[0] and html.unescape(names[0]) == payload
    chips = plots.attribution_bars([payload, "ok"], [0.5, -0.2])
    assert all("<" not in t for t in chips.layout.yaxis.ticktext)


# ---------------------------------------------------------------- the pages


def hostile_bundle(labels: list[str], title: str = "Hostile test model") -> Bundle:
    """A tiny untrained LSTM whose class names are ``labels`` (saved as a run on disk would be, past the
    upload checks, which only guard new uploads)."""
    vocab = Vocab.build([["the", "film", "was", "not", "good", "bad", "plot"]], 1, 100)
    torch.manual_seed(0)
    model = build_model(ModelConfig(vocab_size=len(vocab), num_classes=len(labels), emb_dim=8, hidden_dim=8,
                                    cell="lstm")).eval()
    return Bundle(model=model, vocab=vocab, label_names=list(labels),
                  card={"title": title, "architecture": "LSTM", "task": "movie", "metrics": {}})


def hostile_env(monkeypatch, folder: Path, labels: list[str]) -> None:
    """The app's shipped models: one tiny LSTM with ``labels``; an empty runs folder."""
    save_checkpoint(folder / "pretrained" / "lstm.safetensors", hostile_bundle(labels))
    monkeypatch.setenv("GATESCOPE_PRETRAINED_DIR", str(folder / "pretrained"))
    monkeypatch.setenv("GATESCOPE_RUNS_DIR", str(folder / "runs"))
    monkeypatch.setenv("GATESCOPE_RUN_EXECUTOR", "thread")


def rendered(at) -> list[str]:
    """Every text the page sends to be rendered as Markdown (bodies and labels)."""
    texts = []
    from ui.frame import CSS  # the app's own style sheet, constant markup

    for kind in ("markdown", "caption", "warning", "error", "info", "success", "title", "subheader", "header"):
        texts += [str(e.value) for e in at.get(kind) if str(e.value).strip() != CSS.strip()]
    for kind in ("metric", "expander", "tab", "text_input", "selectbox", "button", "radio"):
        texts += [str(getattr(e, "label", "")) for e in at.get(kind)]
    texts += [str(e.proto.label) for e in at.get("button_group")]
    # pills and segmented controls render their options as Markdown
    texts += [option.content for e in at.get("button_group") for option in e.proto.options]
    return texts


def assert_no_raw_markup(at, *needles: str) -> None:
    """No rendered text carries a payload's markup; each needle (a payload's plain part) is shown."""
    texts = rendered(at)
    raw = [t for t in texts if RAW.search(re.sub(r"<(div|span)[^<>]*>|</(div|span)>", "", t))]
    assert not raw, raw
    joined = html.unescape(" ".join(texts)).replace(WORD_JOINER, "")
    for needle in needles:
        assert needle in joined, needle


LABELS = [IFRAME, "[x](http://evil) ![i](http://evil/i.png)"]


def test_hostile_class_names_on_explain_and_home(monkeypatch, tmp_path):
    hostile_env(monkeypatch, tmp_path, LABELS)
    at = open_page("explain", query={"model": "lstm", "text": f"the film was {IMG} :red[x] **b**"})
    assert not at.exception
    assert any("gs-verdict" in m.value for m in at.markdown)
    assert_no_raw_markup(at, "parent.document.title")
    # What if? (pills of the words, the edited sentence) and Intervene (before / after verdicts)
    for tab in ("What if?", "Intervene"):
        at.session_state["e_tab"] = tab
        at.run()
        assert not at.exception, tab
        assert_no_raw_markup(at)
    at = open_page("home", query={"model": "lstm", "text": "the film was good"})
    assert not at.exception
    verdict = next(m.value for m in at.markdown if "gs-verdict" in m.value)
    assert "<iframe" not in verdict and "](" not in verdict
    assert_no_raw_markup(at)


@pytest.mark.parametrize("query", [
    {"dataset": "[link](http://evil)"},
    {"dataset": "![i](http://evil/i.png)"},
    {"lr": IFRAME},
    {"epochs": ":red[x] $x^2$"},
])
def test_link_values_are_echoed_as_text(monkeypatch, tmp_path, query):
    hostile_env(monkeypatch, tmp_path, ["negative", "positive"])
    at = open_page("home", query={**query, "model": IMG})
    assert not at.exception
    warnings = [w.value for w in at.warning]
    assert len(warnings) == 2, warnings  # the link's value, the unknown model
    assert_no_raw_markup(at)
    assert html.unescape(" ".join(warnings)).count("'") >= 4  # the values are quoted, as typed


def test_hostile_target_link_on_explain(monkeypatch, tmp_path):
    hostile_env(monkeypatch, tmp_path, ["negative", "positive"])
    at = open_page("explain", query={"model": "lstm", "target": "[x](http://evil)", "text": "good"})
    assert not at.exception
    assert any("no class" in w.value for w in at.warning)
    assert_no_raw_markup(at)


NAMES = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp"))
                | st.sampled_from(list("<>\"'&[]()!:$*_`")), min_size=1, max_size=30)


@given(st.lists(NAMES, min_size=2, max_size=2, unique_by=str.lower), NAMES)
@settings(max_examples=6, deadline=None, phases=(Phase.explicit, Phase.generate),  # shrinking pages is slow
          suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_random_class_names_and_links_stay_text(monkeypatch, tmp_path_factory, labels, link):
    with monkeypatch.context() as patch:
        hostile_env(patch, tmp_path_factory.mktemp("fuzz"), labels)
        for key, query in (("explain", {"model": "lstm", "target": link, "text": link}),
                           ("home", {"model": link, "text": link})):
            at = open_page(key, query=query)
            assert not at.exception, key
            for text in rendered(at):
                bare = re.sub(r"<(div|span)[^<>]*>|</(div|span)>", "", text)
                assert not re.search(r"<[A-Za-z/!?]|\]\(", bare), (key, text)


@pytest.fixture(scope="module")
def nickname_run(tmp_path_factory):
    """One finished run, trained once; each example below rewrites its nickname."""
    from browser.app_support import completed_run

    root = tmp_path_factory.mktemp("nick-runs")
    return root, completed_run(root)


@given(NAMES)
@settings(max_examples=5, deadline=None, phases=(Phase.explicit, Phase.generate),
          suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_random_nicknames_stay_text_on_train_and_gallery(monkeypatch, nickname_run, nickname):
    """A student's nickname, shown read-only to another student on Train and to all on the gallery."""
    import json

    from sentiment_core import classroom, runs

    root, name = nickname_run
    config_path = root / name / "config.json"
    config = json.loads(config_path.read_text())
    config_path.write_text(json.dumps({**config, "nickname": nickname, "owner": "someone-else"}))
    with monkeypatch.context() as patch:
        patch.setenv("GATESCOPE_RUNS_DIR", str(root))
        patch.setenv("GATESCOPE_RUN_EXECUTOR", "thread")
        patch.setenv(classroom.PASSCODE_ENV, "a-teacher-passcode")
        try:
            for key, query in (("train", {"run": name}), ("gallery", {})):
                at = open_page(key, query=query, state={"gs_owner": "0000000000000abc"})
                assert not at.exception, key
                for text in rendered(at):
                    bare = re.sub(r"<(div|span)[^<>]*>|</(div|span)>", "", text)
                    assert not re.search(r"<[A-Za-z/!?]|\]\(", bare), (key, text)
        finally:
            runs.set_shared_queue(None)
