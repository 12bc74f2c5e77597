"""Pretrained vectors: shipped GloVe 6B 50d, text-file readers, coverage of a vocabulary, and the server's
word-vector files (by name only: a link or a page never makes the server open a path)."""
import html

import numpy as np
import pytest

from sentiment_core.embeddings import embedding_matrix, load_glove_6b_50d, read_text_vectors
from sentiment_core.errors import DataError
from sentiment_core.vocab import Vocab


def test_shipped_glove_is_the_real_400k_by_50_table():
    glove = load_glove_6b_50d()
    assert glove.vectors.shape == (400_000, 50) and glove.words[:3] == ["the", ",", "."]
    index = glove.index()
    good, great, awful = (np.asarray(glove.vectors[index[w]]) for w in ("good", "great", "awful"))
    cosine = lambda a, b: float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))
    assert cosine(good, great) > cosine(good, awful) > 0  # real vectors carry meaning


def test_glove_and_word2vec_text_files(tmp_path):
    glove = tmp_path / "tiny.glove.txt"
    glove.write_text("good 1 0 0\nbad -1 0 0\n", encoding="utf-8")
    w2v = tmp_path / "tiny.w2v.txt"
    w2v.write_text("2 3\ngood 1 0 0\nbad -1 0 0\n", encoding="utf-8")
    for path in (glove, w2v):
        vectors = read_text_vectors(path)
        assert vectors.words == ["good", "bad"] and vectors.dim == 3


@pytest.mark.parametrize("content,message", [
    ("good 1 0 0\nbad -1 0\n", "earlier lines 3"),
    ("good one two\n", "GloVe or word2vec"),
    ("", "no vectors"),
])
def test_bad_vector_files_say_what_is_wrong(tmp_path, content, message):
    path = tmp_path / "bad.txt"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match=message):
        read_text_vectors(path)


def test_embedding_matrix_copies_known_words_and_reports_coverage(tmp_path):
    path = tmp_path / "v.txt"
    path.write_text("good 1 2 3\nmovie 4 5 6\n", encoding="utf-8")
    vocab = Vocab.build([["good", "movie", "zzyzx"], ["good"]])
    matrix, coverage = embedding_matrix(vocab, read_text_vectors(path))
    assert matrix.shape == (len(vocab), 3)
    assert matrix[vocab["good"]].tolist() == [1, 2, 3] and matrix[0].abs().sum() == 0  # <pad> stays zero
    assert coverage.found == 2 and coverage.vocab_words == 3 and coverage.missing_examples == ["zzyzx"]
    assert coverage.found_token_share == pytest.approx(3 / 4)


def test_extra_glove_words_keep_their_pretrained_vectors():
    from sentiment_core.data import make_negation, make_splits
    from sentiment_core.encoding import EncodingConfig
    from sentiment_core.pipeline import VocabConfig, prepare_data
    from sentiment_core.text import TokenizerConfig

    splits = make_splits(make_negation(n_examples=200, seed=0), seed=0)
    plain = prepare_data(splits, TokenizerConfig(), VocabConfig(min_freq=1), EncodingConfig(20))
    extended = prepare_data(splits, TokenizerConfig(), VocabConfig(min_freq=1, glove_words=500), EncodingConfig(20))
    glove = load_glove_6b_50d()
    new_words = extended.vocab.get_itos()[len(plain.vocab):]
    assert extended.vocab.get_itos()[:len(plain.vocab)] == plain.vocab.get_itos()  # training words first
    assert len(new_words) == 500 and new_words[:3] == [w for w in glove.words if w not in plain.vocab][:3]
    assert extended.train.ids == plain.train.ids  # training text encodes the same
    matrix, coverage = embedding_matrix(extended.vocab, glove)
    row = glove.words.index(new_words[0])
    assert np.allclose(matrix[extended.vocab[new_words[0]]].numpy(), glove.vectors[row])
    assert coverage.found == len(extended.vocab) - 2 - sum(w not in set(glove.words) for w in plain.vocab.get_itos()[2:])


# ---------------------------------------------------------------- the server's word-vector files (issue 22, 7b)
from sentiment_core import classroom, embeddings  # noqa: E402
from sentiment_core.embeddings import NOT_A_SERVER_VECTOR_FILE, resolve_vector_file  # noqa: E402
from sentiment_core.settings import settings_from_query  # noqa: E402

SECRET = "hunter2 0.5 0.5\n"  # a GloVe-looking line: a read of it would show as a file of 2 dimensions


@pytest.fixture
def server(tmp_path, monkeypatch):
    """A teacher's vectors folder with one file, an uploads folder, and a secret file outside both."""
    monkeypatch.setenv("GATESCOPE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("GATESCOPE_VECTORS_DIR", str(tmp_path / "teacher"))
    (tmp_path / "teacher").mkdir()
    (tmp_path / "teacher" / "glove.txt").write_text("good 1 0 0\nbad -1 0 0\n")
    (tmp_path / "secret.txt").write_text(SECRET)
    (tmp_path / "teacher" / "escape.txt").symlink_to(tmp_path / "secret.txt")
    (tmp_path / "teacher" / "notes.md").write_text("not vectors")
    return tmp_path


def never_opens(monkeypatch, *paths):
    """Fail the test if anything opens one of ``paths``."""
    import builtins
    import io

    real_open = builtins.open
    forbidden = {str(p) for p in paths}

    def guarded(file, *args, **kwargs):
        assert str(file) not in forbidden, f"opened {file}"
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", guarded)
    monkeypatch.setattr(io, "open", guarded)


def test_only_files_in_the_servers_folders_resolve_by_name(server):
    assert embeddings.vector_files() == ["glove.txt"]  # no symlink out, no other suffix
    assert resolve_vector_file("glove.txt") == (server / "teacher" / "glove.txt").resolve()
    for name in ("/etc/passwd", str(server / "secret.txt"), "../secret.txt", "../../x", "..", "escape.txt",
                 "notes.md", str(server / "teacher" / "glove.txt"), "missing.txt", "", "a\nb.txt"):
        with pytest.raises(DataError) as error:
            resolve_vector_file(name)
        assert str(error.value) == NOT_A_SERVER_VECTOR_FILE  # one answer: nothing about what exists


@pytest.mark.parametrize("value", ["/etc/passwd", "../../x", "SECRET", "../secret.txt", "/no/such/file.txt"])
def test_a_link_naming_a_path_is_ignored_without_opening_it_or_saying_whether_it_exists(server, monkeypatch,
                                                                                       value):
    value = str(server / "secret.txt") if value == "SECRET" else value
    never_opens(monkeypatch, server / "secret.txt", "/etc/passwd")
    state, warnings = settings_from_query({"embeddings": "file", "vectors": value})
    assert state["model"]["vectors"] == ""
    (warning,) = warnings
    assert warning == f"The link's vectors={value!r} was ignored: {NOT_A_SERVER_VECTOR_FILE}."
    for leak in ("not found", "exist", "no word-vector file", "word2vec", "GloVe", "numbers", "dimensions"):
        assert leak not in warning
    state, warnings = settings_from_query({"embeddings": "file", "vectors": "glove.txt"})
    assert state["model"]["vectors"] == "glove.txt" and not warnings


class RecordingQueue:
    def __init__(self):
        self.requests = []

    def submit(self, request, **kwargs):
        self.requests.append(request)
        return "run-1"


def test_a_run_started_from_the_app_loads_only_a_server_file(server, monkeypatch):
    from sentiment_core.runs import RunRequest

    never_opens(monkeypatch, server / "secret.txt", "/etc/passwd")
    queue, viewer = RecordingQueue(), classroom.Viewer("me")
    for path in ("/etc/passwd", str(server / "secret.txt"), "../secret.txt"):
        request = RunRequest(None, {"embeddings": "file", "vectors": path}, {})
        with pytest.raises(DataError, match="paths are not accepted"):
            classroom.submit(viewer, queue, request)
    classroom.submit(viewer, queue, RunRequest(None, {"embeddings": "file", "vectors": "glove.txt"}, {}))
    classroom.submit(viewer, queue, RunRequest(None, {"embeddings": "random", "vectors": "/etc/passwd"}, {}))
    assert [r.model_options["vectors"] for r in queue.requests] == [
        str((server / "teacher" / "glove.txt").resolve()), ""]


def test_an_uploaded_vector_file_gets_a_safe_name_and_a_size_limit(server, monkeypatch):
    from sentiment_core.data import upload

    assert embeddings.save_vector_upload(b"good 1 0\nbad 0 1\n", "../../evil\\..\\glove 100d.TXT") == "glove_100d.txt"
    assert (embeddings.vector_upload_dir() / "glove_100d.txt").is_file()
    assert not (server / "evil").exists() and resolve_vector_file("glove_100d.txt").parent.name == "uploads"
    long = embeddings.save_vector_upload(b"good 1 0\n", "x" * 500 + ".vec")
    assert len(long) == embeddings.MAX_VECTOR_NAME_CHARS and long.endswith(".vec")
    assert embeddings.vector_upload_name(".bashrc.bin") == "bashrc.bin"
    with pytest.raises(DataError, match="ending in .txt, .vec, .bin"):
        embeddings.save_vector_upload(b"x", "cron.sh")
    monkeypatch.setattr(upload, "MAX_UPLOAD_BYTES", 10)
    with pytest.raises(DataError, match="at most 0 MB"):
        embeddings.save_vector_upload(b"good 1 0 0 0\n", "big.txt")


def test_train_page_opened_by_a_path_link_shows_nothing_of_the_file(server, monkeypatch):
    from browser.app_support import SMALL_DATA, app_env, open_page

    app_env(monkeypatch, server)
    monkeypatch.setenv("GATESCOPE_CACHE_DIR", str(server / "cache"))
    at = open_page("train", query={"embeddings": "file", "vectors": str(server / "secret.txt")},
                   state={"gs_data": dict(SMALL_DATA)})
    assert not at.exception
    shown = html.unescape(" ".join(str(e.value) for kind in (at.warning, at.error, at.caption, at.markdown, at.info)
                                   for e in kind)).replace("\u2060", "")  # as the browser shows it
    assert "vectors" in shown and "paths are not accepted" in shown  # the link warning
    for leak in ("hunter2", "2 dimensions", "1 words", "not found", "no word-vector file", "exist"):
        assert leak not in shown
    assert at.selectbox(key="m_vectors").value == "" and at.session_state["m_emb_dim"] != 2
