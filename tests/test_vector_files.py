"""Word-vector files of every common format: read, cached once, used for training."""
from __future__ import annotations

import struct

import numpy as np
import pytest

from sentiment_core import embeddings
from sentiment_core.checkpoint import load_checkpoint
from sentiment_core.cli import main
from sentiment_core.embeddings import load_vectors, read_vectors, vector_format
from sentiment_core.errors import DataError

WORDS = ["good", "bad", "not", "the", "film", "café"]


def _table(dim=3):
    return np.arange(len(WORDS) * dim, dtype=np.float32).reshape(len(WORDS), dim) / 7 - 1


def write_glove(path, table):
    path.write_text("".join(f"{w} {' '.join(f'{v:.6f}' for v in row)}\n" for w, row in zip(WORDS, table)),
                    encoding="utf-8")


def write_word2vec_text(path, table):
    path.write_text(f"{len(WORDS)} {table.shape[1]}\n" + "".join(
        f"{w} {' '.join(f'{v:.6f}' for v in row)}\n" for w, row in zip(WORDS, table)), encoding="utf-8")


def write_fasttext_vec(path, table):
    """fastText's .vec: a header and a trailing space after each vector."""
    path.write_text(f"{len(WORDS)} {table.shape[1]}\n" + "".join(
        f"{w} {' '.join(f'{v:.4f}' for v in row)} \n" for w, row in zip(WORDS, table)), encoding="utf-8")


def write_word2vec_binary(path, table):
    with open(path, "wb") as handle:
        handle.write(f"{len(WORDS)} {table.shape[1]}\n".encode())
        for word, row in zip(WORDS, table):
            handle.write(word.encode("utf-8") + b" " + struct.pack(f"<{len(row)}f", *row) + b"\n")


@pytest.mark.parametrize("writer,fmt", [(write_glove, "text"), (write_word2vec_text, "text"),
                                        (write_fasttext_vec, "text"), (write_word2vec_binary, "word2vec_binary")])
def test_each_format_reads_the_same_table(tmp_path, writer, fmt):
    table = _table()
    path = tmp_path / "vectors.bin"
    writer(path, table)
    assert vector_format(path) == fmt
    vectors = read_vectors(path)
    assert vectors.words == WORDS and vectors.dim == 3
    np.testing.assert_allclose(vectors.vectors, table, atol=1e-4)


def test_truncated_binary_file_says_so(tmp_path):
    path = tmp_path / "cut.bin"
    write_word2vec_binary(path, _table())
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(DataError, match="truncated"):
        read_vectors(path)


def test_a_file_is_parsed_once_then_memory_mapped(tmp_path, monkeypatch):
    path = tmp_path / "glove.txt"
    write_glove(path, _table())
    first = load_vectors(path, cache_dir=tmp_path / "cache")
    embeddings._load_vectors_cached.cache_clear()  # a new process: only the disk cache is left

    def must_not_parse(*_):
        raise AssertionError("the file was parsed again")

    monkeypatch.setattr(embeddings, "read_vectors", must_not_parse)
    again = load_vectors(path, cache_dir=tmp_path / "cache")
    assert isinstance(again.vectors, np.memmap) and again.words == first.words
    np.testing.assert_array_equal(again.vectors, first.vectors)


def test_cli_train_with_vectors_follows_the_file_dimension(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("GATESCOPE_CACHE_DIR", str(tmp_path / "cache"))
    path = tmp_path / "w2v.bin"
    table = np.random.default_rng(0).normal(size=(len(WORDS), 6)).astype(np.float32)
    write_word2vec_binary(path, table)
    out = tmp_path / "m.safetensors"
    code = main(["train", "--dataset", "synthetic_negation", "--option", "n_examples=200", "--hidden-dim", "4",
                 "--epochs", "1", "--vectors", str(path), "--out", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "6 words x 6" in printed and "the word-vector file knows" in printed
    bundle = load_checkpoint(out)
    assert bundle.model_config.emb_dim == 6 and bundle.model_config.embeddings == "file"
    assert main(["train", "--dataset", "synthetic_negation", "--vectors", str(tmp_path / "missing.txt")]) == 2
    assert "no word-vector file" in capsys.readouterr().err
