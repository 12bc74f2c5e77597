"""Tokenizers, vocabulary and encoding: what the Data page and every model rely on."""
import numpy as np
import pytest

from sentiment_core.encoding import EncodingConfig, length_stats, pad_batch, recommend_max_len, text_to_indices, truncate
from sentiment_core.text import Tokenizer, TokenizerConfig
from sentiment_core.vocab import PAD_IDX, UNK_IDX, Vocab


def test_nltk_tokenizer_splits_contractions_and_lowercases():
    assert Tokenizer()("It wasn't GOOD.") == ["it", "was", "n't", "good", "."]


def test_tweet_tokenizer_keeps_handles_hashtags_and_emoticons():
    tokens = Tokenizer(TokenizerConfig(kind="tweet"))("@united lost my bag again #fail :(")
    assert "@united" in tokens and "#fail" in tokens and ":(" in tokens


def test_stopword_removal_keeps_negations_unless_asked():
    text = "the movie was not good but the end was fine"
    keep = Tokenizer(TokenizerConfig(remove_stopwords=True))(text)
    assert keep == ["movie", "not", "good", "but", "end", "fine"]
    drop = Tokenizer(TokenizerConfig(remove_stopwords=True, keep_negations=False))(text)
    assert "not" not in drop and "good" in drop


def test_strip_punctuation_and_whitespace_kind():
    tok = Tokenizer(TokenizerConfig(kind="whitespace", strip_punctuation=True, lowercase=False))
    assert tok("Great !! movie ...") == ["Great", "movie"]


def test_unknown_tokenizer_lists_valid_kinds():
    with pytest.raises(ValueError, match="nltk, tweet, whitespace"):
        TokenizerConfig(kind="spacy")


def test_vocab_order_is_by_frequency_then_alphabet_with_specials_first():
    vocab = Vocab.build([["b", "a", "c"], ["a", "b"], ["d"]])
    assert vocab.get_itos() == ["<pad>", "<unk>", "a", "b", "c", "d"]
    assert vocab.lookup_indices(["a", "zzz"]) == [2, UNK_IDX]
    assert vocab.lookup_tokens([3, 0]) == ["b", "<pad>"]
    assert "c" in vocab and "zzz" not in vocab and len(vocab) == 6


def test_vocab_min_freq_and_max_size():
    corpus = [["a"] * 5 + ["b"] * 3 + ["c"] * 1]
    assert Vocab.build(corpus, min_freq=2).get_itos()[2:] == ["a", "b"]
    assert Vocab.build(corpus, max_size=3).get_itos() == ["<pad>", "<unk>", "a"]


def test_vocab_coverage_and_oov_rate():
    vocab = Vocab.build([["good", "movie"]])
    cov = vocab.coverage([["good", "film"], ["movie"]])
    assert cov.tokens == 3 and cov.known_tokens == 2
    assert cov.oov_rate == pytest.approx(1 / 3)
    assert cov.type_coverage == pytest.approx(2 / 3)


def test_typed_pad_token_is_never_padding():
    vocab = Vocab.build([["good"]])
    tokens, ids = text_to_indices("<pad> good", Tokenizer(TokenizerConfig(kind="whitespace")), vocab)
    assert tokens == ["<pad>", "good"] and ids == [UNK_IDX, 2]


def test_padding_and_truncation_sides():
    assert truncate([1, 2, 3, 4], 2, "post") == [1, 2]
    assert truncate([1, 2, 3, 4], 2, "pre") == [3, 4]
    post = pad_batch([[5, 6], [7]], side="post")
    pre = pad_batch([[5, 6], [7]], side="pre")
    np.testing.assert_array_equal(post, [[5, 6], [7, PAD_IDX]])
    np.testing.assert_array_equal(pre, [[5, 6], [PAD_IDX, 7]])
    with pytest.raises(ValueError, match="pre, post"):
        EncodingConfig(padding="middle")


def test_length_stats_and_recommended_max_len():
    lengths = list(range(1, 101))  # 1..100
    stats = length_stats(lengths)
    assert stats.max == 100 and stats.mean == pytest.approx(50.5)
    assert recommend_max_len(lengths, coverage=0.95) == 100  # 95th value is 95 -> rounded up to 100
    assert recommend_max_len(lengths, coverage=0.5, round_to=10) == 50
    assert stats.covered_by(lengths, 50) == pytest.approx(0.5)


def test_extend_appends_missing_words_in_the_given_order():
    vocab = Vocab.build([["good", "film", "good"], ["bad", "film"]])
    extended = vocab.extend(["the", "good", "zebra", "the", "apple", "kiwi"], limit=3)
    assert extended.get_itos() == vocab.get_itos() + ["the", "zebra", "apple"]
    assert extended.lookup_indices(["good", "zebra"]) == vocab.lookup_indices(["good"]) + [len(vocab) + 1]
    assert extended.freqs["zebra"] == 0 and extended.freqs["good"] == 2
    assert len(vocab) == 5  # the original is unchanged
