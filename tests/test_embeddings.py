"""Pretrained vectors: shipped GloVe 6B 50d, text-file readers, coverage of a vocabulary."""
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
