"""Data: choose, upload or generate a dataset and see what the network will read."""
import pandas as pd
import streamlit as st
from ui import datasets, frame, state, widgets

from sentiment_core import plots, settings
from sentiment_core.data import list_datasets, selection
from sentiment_core.data.upload import upload_sha
from sentiment_core.encoding import ENCODING_SPEC, recommend_max_len
from sentiment_core.errors import DownloadError, GateScopeError
from sentiment_core.text import TOKENIZER_KINDS, TOKENIZER_SPEC, Tokenizer, TokenizerConfig, plain
from sentiment_core.vocab import Vocab

state.use_page("data", groups=("data", "encoding", "vocab", "tokenizer"))
data = state.group("data")
encoding = state.group("encoding")
vocab_opts = state.group("vocab")
specs = settings.specs()
DATA_DEFAULT = settings.defaults()["data"]
KIND_BADGE = {"offline": "🟢 offline", "generated": "🧪 synthetic", "download": "⬇️ download"}


@st.cache_resource(show_spinner="Tokenizing the training split…", max_entries=8)
def tokenized(key: tuple, tokenizer: tuple, _texts):
    tok = Tokenizer(TokenizerConfig(**dict(tokenizer)))
    return [tok(t) for t in _texts]


@st.cache_resource(show_spinner="Looking words up in GloVe (400,000 words)…", max_entries=4)
def glove_coverage(key: tuple, tokenizer: tuple, min_freq: int, max_size: int, _tokens):
    from sentiment_core.embeddings import embedding_matrix, load_glove_6b_50d

    vocab = Vocab.build(_tokens, min_freq, max_size)
    return embedding_matrix(vocab, load_glove_6b_50d())[1]


@st.cache_resource(show_spinner="Looking words up in the word-vector file…", max_entries=4)
def file_coverage(path: str, key: tuple, tokenizer: tuple, min_freq: int, max_size: int, _tokens):
    from sentiment_core.embeddings import embedding_matrix, load_vectors, resolve_vector_file

    vocab = Vocab.build(_tokens, min_freq, max_size)
    return embedding_matrix(vocab, load_vectors(resolve_vector_file(path)))[1]  # a server file, by name


def use_vector_file() -> None:
    """Text-input callback: train with this word-vector file (the Train page redraws from it)."""
    path = st.session_state.get("d_vectors", "").strip()
    model = state.group("model")
    state.set_group("model", {**model, "vectors": path,
                              "embeddings": "file" if path else ("random" if model.get("embeddings") == "file"
                                                                 else model.get("embeddings"))})
    for key in ("m_vectors", "m_embedding_choice", "m_emb_dim"):
        st.session_state.pop(key, None)


st.title("📚 Data")
st.markdown("Everything starts with the data: choose a dataset, upload your own file, or generate a synthetic "
            "teaching set whose difficulty you control. The choice is used by **Train** and **Compare**.")

infos = sorted(list_datasets(), key=lambda i: {"offline": 0, "generated": 1, "download": 2}[i.kind])
by_name = {i.name: i for i in infos}
SOURCES = ["Catalogue", "Synthetic teaching set", "Upload a file"]
source = st.segmented_control("Where does the data come from?", SOURCES, key="d_source", default=st.session_state.get(
    "d_source", "Upload a file" if data["name"] == "upload" else
    "Synthetic teaching set" if data["name"].startswith("synthetic") else "Catalogue")) or "Catalogue"

splits = ds = report = None
new = dict(data)
if source == "Catalogue":
    names = [i.name for i in infos if i.kind != "generated"]
    current = data["name"] if data["name"] in names else names[0]
    current = st.session_state.get("d_name", current)
    name = st.selectbox("Dataset", names, index=names.index(current), key="d_name",
                        format_func=lambda n: f"{by_name[n].title} · {KIND_BADGE[by_name[n].kind]} · {by_name[n].size}")
    info = by_name[name]
    st.caption(f"{info.description} **License:** {info.license}")
    with st.expander("Citation and source"):
        st.markdown(f"{info.citation}\n\n" + "\n".join(f"- {u}" for u in info.urls))
    c1, c2, c3 = st.columns(3)
    widgets.widget(settings.DATA_SPEC["max_examples"], "d_max_examples", c1, value=int(data.get("max_examples") or 0))
    widgets.widget(settings.DATA_SPEC["split_seed"], "d_split_seed", c2, value=int(data.get("split_seed", 0)))
    if name == "uci_sentences":
        widgets.widget(settings.DATA_SPEC["source"], "d_uci_source", c3, value=data.get("source", "all"))
    s1, s2, s3 = st.columns(3)
    widgets.widget(settings.DATA_SPEC["test_share"], "d_test_share", s1, value=data.get("test_share", 0.1))
    widgets.widget(settings.DATA_SPEC["val_share"], "d_val_share", s2, value=data.get("val_share", 0.1))
    s3.text_input(settings.DATA_SPEC["leave_out"].label, key="d_leave_out", help=settings.DATA_SPEC["leave_out"].help,
                  value=st.session_state.get("d_leave_out", data.get("leave_out", "")), max_chars=200)
    new = {**DATA_DEFAULT, "name": name, "max_examples": st.session_state["d_max_examples"],
           "split_seed": st.session_state["d_split_seed"], "source": st.session_state.get("d_uci_source", "all"),
           "test_share": st.session_state["d_test_share"], "val_share": st.session_state["d_val_share"],
           "leave_out": st.session_state["d_leave_out"].strip()}
    key = selection.dataset_key(new)
    ready = info.kind == "offline" or st.session_state.get("d_loaded") == key
    if info.kind == "download" and not ready:
        st.info(f"**{info.title}** is downloaded from its official site the first time ({info.size}); later "
                "loads use the server's cache. Without internet, upload the data as a file instead.")
        if st.button(f"⬇️ Download and load {info.title}", type="primary"):
            bar = st.progress(0.0, text="Starting…")

            def progress(done, total, message):
                fraction = min(1.0, done / total) if total else 0.0
                bar.progress(fraction, text=f"{message} · {done / 2**20:.1f} MB" + (
                    f" of {total / 2**20:.1f} MB" if total else ""))
            try:
                datasets.catalogue(key, new, progress)
                st.session_state["d_loaded"] = key
                ready = True
                bar.empty()
            except DownloadError as error:
                bar.empty()
                st.error(f"**{info.title}** could not be downloaded: {error.reason}.")
                st.markdown(
                    "What you can do from this page:\n"
                    "- **Upload the data yourself:** choose *Upload a file* above and drop in a CSV with a text "
                    "and a label column (for example the dataset's files, once you have them).\n"
                    "- **Use a set that needs no network:** the 🟢 offline catalogue sets or a synthetic "
                    "teaching set.\n"
                    f"- **Ask whoever runs this server** to copy the dataset's files into a mirror folder "
                    f"(`{name}/` inside the folder named by `GATESCOPE_DATA_MIRROR`) and restart it; the set then "
                    "loads without the internet.")
            except GateScopeError as error:
                bar.empty()
                st.error(f"Could not load {info.title}: {error}")
            except Exception as error:  # noqa: BLE001
                bar.empty()
                st.error(f"Could not load {info.title}: {error}. Try again, upload the data as a file, or use an "
                         "offline or synthetic set.")
    if ready:
        try:
            ds, splits = datasets.catalogue(key, new)
            st.session_state["d_loaded"] = key
        except GateScopeError as error:
            st.error(f"Could not load {info.title}: {error}")
        except Exception as error:  # noqa: BLE001
            st.error(f"Could not load {info.title} ({type(error).__name__}: {error}).")

elif source == "Synthetic teaching set":
    generated = [i.name for i in infos if i.kind == "generated"]
    chosen = st.session_state.get("d_synth", data["name"] if data["name"] in generated else "synthetic_long_range")
    name = st.radio("Teaching set", generated, index=generated.index(chosen), key="d_synth", horizontal=True,
                    format_func=lambda n: by_name[n].title.replace("Synthetic: ", ""))
    st.caption(by_name[name].description)
    cols = st.columns(3)
    for i, option in enumerate(settings.SYNTHETIC_OPTIONS[name]):
        widgets.widget(settings.DATA_SPEC[option], f"d_{option}", cols[i], value=data.get(option, DATA_DEFAULT[option]))
    new = {**DATA_DEFAULT, "name": name,
           **{o: st.session_state[f"d_{o}"] for o in settings.SYNTHETIC_OPTIONS[name]}}
    if name == "synthetic_long_range":
        st.markdown("💡 *Lesson:* train an RNN and an LSTM at distance 5 and at distance 50 (Compare page, or the "
                    "live experiment on **Gradients**). The plain RNN drops to a coin flip as the distance grows.")
    try:
        ds, splits = datasets.catalogue(selection.dataset_key(new), new)
    except GateScopeError as error:
        st.error(f"These settings cannot generate a dataset: {error}")

else:
    st.markdown("Upload **CSV, TSV, TXT** (`text<TAB>label` per line), **JSON/JSONL** or **Parquet** with a text "
                "column and a label column (names like *text*/*review* and *label*/*sentiment* are found "
                "automatically). Labels may be words, 0/1, or scores. Up to 50 MB; the file stays in this "
                "browser tab's memory, and the server keeps a copy only with the runs trained on it.")
    uploaded = st.file_uploader("Your labelled texts", type=["csv", "tsv", "txt", "json", "jsonl", "parquet"],
                                key="d_file")
    if uploaded is not None:
        content = uploaded.getvalue()
        st.session_state["gs_upload"] = {"bytes": content, "filename": uploaded.name, "sha": upload_sha(content)}
    upload = st.session_state.get("gs_upload")
    if upload:
        mapping = datasets.column_mapping(upload, "d", data if data.get("sha") == upload["sha"] else None)
        if mapping is not None:
            new = {**DATA_DEFAULT, "name": "upload", "filename": upload["filename"], "sha": upload["sha"], **mapping}
            try:
                ds, report, splits = datasets.upload(selection.dataset_key(new), upload["bytes"], upload["filename"], new)
            except GateScopeError as error:
                st.error(f"**{plain(upload['filename'])}** cannot be used yet: {plain(error)}")
            except Exception as error:  # noqa: BLE001
                st.error(f"**{plain(upload['filename'])}** could not be parsed ({type(error).__name__}: {plain(error)}). "
                         "Check that it has one text column and one label column.")
            if report is not None:
                st.success(f"Read {report.rows_read:,} rows, kept {report.rows_kept:,} "
                           f"({report.empty_dropped:,} empty and {report.duplicates_dropped:,} duplicate rows "
                           f"dropped). Labels: " + ", ".join(f"{plain(k)} → {plain(v)}" for k, v in
                                                             list(report.label_mapping.items())[:8]))
                for warning in report.warnings:
                    st.warning(plain(warning))
    else:
        st.info("No file yet. Tip: a spreadsheet exported as CSV with columns *text* and *label* works.")


if splits is None:
    state.stop()

# ---------------------------------------------------------------- the chosen dataset
if new != data:
    state.set_group("data", new)
    data = new
label_names = splits.label_names
st.success(f"**Using:** {plain(selection.data_label(data))} for training — {len(splits.train):,} train · "
           f"{len(splits.validation):,} validation · {len(splits.test):,} test examples.")
c1, c2 = st.columns([1, 1], gap="large")
with c1:
    st.subheader("Examples")
    # the short label first: in a half-width column a long text column pushed it out of sight
    rows = [{"label": label_names[y], "text": t} for t, y in zip(splits.train.texts[:12], splits.train.labels[:12])]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", height=300)
    if ds is not None and (ds.notes or splits.notes):
        with st.expander("How the data was loaded and split"):
            for note in list(dict.fromkeys([*ds.notes, *splits.notes])):
                st.markdown(f"- {plain(note)}")
with c2:
    st.subheader("Class balance (training split)")
    st.plotly_chart(plots.class_balance(selection.class_counts(splits.train.labels, label_names)), width="stretch",
                    config=plots.CHART_CONFIG)

# ---------------------------------------------------------------- tokens and lengths
st.divider()
st.subheader("Tokens, lengths and padding")
tok_opts = state.group("tokenizer")
t1, t2, t3 = st.columns(3)
kind_spec = TOKENIZER_SPEC["kind"]
kind = t1.selectbox(kind_spec.label, TOKENIZER_KINDS, index=TOKENIZER_KINDS.index(tok_opts["kind"]),
                    help=kind_spec.help)
FLAGS = ("clean", "split_sentences", "lowercase", "strip_punctuation", "remove_stopwords")
flags = {name: (t2 if i % 2 == 0 else t3).toggle(TOKENIZER_SPEC[name].label, value=tok_opts[name],
                                                  help=TOKENIZER_SPEC[name].help,
                                                  disabled=name == "split_sentences" and kind != "nltk")
         for i, name in enumerate(FLAGS)}
tok_opts = {"kind": kind, **flags}
state.set_group("tokenizer", tok_opts)
tokenizer = Tokenizer(TokenizerConfig(**tok_opts))

sample = st.text_input("Tokenization preview", value=splits.train.texts[0][:300] if splits.train.texts else "",
                       help="Type any sentence (HTML and all) to see the tokens the model will read, after "
                            "cleaning. Words the vocabulary below does not know are underlined and italic: the "
                            "model reads them as <unk>.")
preview_slot = st.empty()  # filled once the vocabulary is built, so unknown words can be marked

key = selection.dataset_key(data)
train_tokens = tokenized(key, tuple(sorted(tok_opts.items())), splits.train.texts)
lengths = [len(t) for t in train_tokens]
recommended = recommend_max_len(lengths, 0.95)
h1, h2 = st.columns([2, 1], gap="large")
with h2:
    widgets.widget(ENCODING_SPEC["max_len"], "d_max_len", value=int(encoding["max_len"]))
    st.caption(f"Recommended for 95% coverage: **{recommended}** tokens "
               f"(longest {max(lengths or [0])}, mean {sum(lengths) / max(1, len(lengths)):.1f}).")
    sides = ENCODING_SPEC["padding"].choices
    # Drawn from the current side (see widgets.widget): a radio drawn again after the page stopped
    # above it (choosing "Upload a file") must show the side training uses.
    side = st.session_state.get("d_padding", encoding["padding"])
    st.radio("Padding side", sides, index=sides.index(side), key="d_padding", horizontal=True,
             help=ENCODING_SPEC["padding"].help)
    max_len = int(st.session_state["d_max_len"])
    state.set_group("encoding", {**encoding, "max_len": max_len, "padding": st.session_state["d_padding"]})
with h1:
    st.plotly_chart(plots.length_histogram(lengths, max_len), width="stretch", config=plots.CHART_CONFIG)

short = sorted(train_tokens[:200], key=len)[:3]
if short:
    width = max(len(t) for t in short) + 2
    side = st.session_state["d_padding"]
    grid = [list(t) + ["<pad>"] * (width - len(t)) if side == "post" else ["<pad>"] * (width - len(t)) + list(t)
            for t in short]
    st.caption(f"A padded batch ({side}-padding): every row gets the same length. Packed models skip the <pad> "
               "tokens; unpacked ones read them, which is why the side matters there.")
    st.dataframe(pd.DataFrame(grid), hide_index=True, width="stretch")

# ---------------------------------------------------------------- vocabulary
st.divider()
st.subheader("Vocabulary")
v1, v2 = st.columns(2)
widgets.widget(specs["vocab"]["min_freq"], "d_min_freq", v1, value=int(vocab_opts["min_freq"]))
widgets.widget(specs["vocab"]["max_size"], "d_max_size", v2, value=int(vocab_opts["max_size"]))
min_freq, max_size = int(st.session_state["d_min_freq"]), int(st.session_state["d_max_size"])
state.set_group("vocab", {**vocab_opts, "min_freq": min_freq, "max_size": max_size})
vocab = Vocab.build(train_tokens, min_freq, max_size)
val_tokens = [tokenizer(t) for t in splits.validation.texts[:3000]]
coverage = vocab.coverage(val_tokens)
preview_tokens = tokenizer(sample)
preview_slot.markdown(plots.token_html(preview_tokens, size_px=18, unknown=[t not in vocab for t in preview_tokens])
                      if preview_tokens else "*no tokens*", unsafe_allow_html=True)
m = st.columns(3)
m[0].metric("Vocabulary size", f"{len(vocab):,}", help="Including <pad> and <unk>.")
m[1].metric("Validation tokens known", f"{coverage.token_coverage:.1%}",
            help="Share of validation tokens that have their own vector; the rest become <unk>.")
m[2].metric("Distinct words known", f"{coverage.type_coverage:.1%}",
            help="Share of the distinct validation words that are in the vocabulary.")
# a sentence, not a metric: five words do not fit a metric's one line and were cut off
st.markdown("**Most frequent words:** " + (", ".join(vocab.get_itos()[2:12]) or "–"))

with st.expander("🌍 GloVe coverage (pretrained word vectors)"):
    st.markdown("How many of your vocabulary words have a pretrained GloVe 6B 50d vector. Words without one start "
                "from random vectors when you pick GloVe embeddings on the Train page.")
    if st.button("Check GloVe coverage"):
        st.session_state["d_glove"] = True
    if st.session_state.get("d_glove"):
        try:
            cov = glove_coverage(key, tuple(sorted(tok_opts.items())), min_freq, max_size, train_tokens)
            g = st.columns(2)
            g[0].metric("Vocabulary words with a GloVe vector", f"{cov.share:.1%}", f"{cov.found:,} of {cov.vocab_words:,}",
                        delta_color="off")
            g[1].metric("Training tokens covered", f"{cov.found_token_share:.1%}")
            if cov.missing_examples:
                st.caption("Missing, e.g.: " + plain(", ".join(cov.missing_examples[:15])))
        except GateScopeError as error:
            st.error(plain(error))
    from sentiment_core.embeddings import vector_files

    vector_names = ["", *vector_files()]  # the server's files, by name: a page never reads a typed path
    if st.session_state.get("d_vectors", "") not in vector_names:
        st.session_state.pop("d_vectors", None)
    chosen_vectors = state.group("model").get("vectors", "")
    st.selectbox("…or a word-vector file on the server", vector_names, key="d_vectors", on_change=use_vector_file,
                 index=vector_names.index(chosen_vectors) if chosen_vectors in vector_names else 0,
                 format_func=lambda n: n or "(none)",
                 help="GloVe, word2vec or fastText text, or word2vec binary, from the server's vectors folder (upload "
                      "one on the Train page). Training then starts from it (the Train page's Embeddings show 'A "
                      "word-vector file'); it is parsed once and cached.")
    if st.session_state.get("d_vectors"):
        try:
            cov = file_coverage(st.session_state["d_vectors"], key, tuple(sorted(tok_opts.items())), min_freq,
                                max_size, train_tokens)
            g = st.columns(2)
            g[0].metric("Vocabulary words with a vector in the file", f"{cov.share:.1%}",
                        f"{cov.found:,} of {cov.vocab_words:,}", delta_color="off")
            g[1].metric("Training tokens covered by the file", f"{cov.found_token_share:.1%}")
            if cov.missing_examples:
                st.caption("Missing, e.g.: " + plain(", ".join(cov.missing_examples[:15])))
        except (GateScopeError, OSError) as error:
            st.error(f"This word-vector file cannot be used: {plain(error)}")

st.info("Next: train a model on this data.")
frame.link("train", "Go to Train", "🏋️")
