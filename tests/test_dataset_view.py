"""The whole-dataset view: the predictions table of a model trained to a known rule, slice tags,
Wilson intervals, McNemar's exact test against a hand computation, and the projector's shapes."""
from __future__ import annotations

import math
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import rule_splits

from sentiment_core import dataset_view as dv
from sentiment_core.pipeline import VocabConfig, train_on_splits
from sentiment_core.trainer import TrainConfig


@pytest.fixture(scope="module")
def rule_bundle():
    """An LSTM that has learnt 'good/great/fine' -> positive, 'bad/awful/poor' -> negative."""
    torch.manual_seed(0)
    outcome = train_on_splits(rule_splits(400), {"cell": "lstm", "emb_dim": 16, "hidden_dim": 16, "pooling": "mean"},
                              TrainConfig(epochs=6, batch_size=32, lr=2e-2, device="cpu", patience=0),
                              vocab_config=VocabConfig(min_freq=1, max_size=200), encoding={"max_len": 30})
    assert outcome.test.accuracy > 0.95
    return outcome.bundle


TEXTS = ["the movie was good", "the plot was awful", "it was great but the story",  # right, right, right
         "the film was bad", "a fine scene", "the actor was poor and zzzz"]  # gold flipped, flipped, right
GOLD = [1, 0, 1, 1, 0, 0]


def test_the_table_holds_what_the_rule_says(rule_bundle):
    preds = dv.predict_dataset(rule_bundle, TEXTS, GOLD, "LSTM")
    table = preds.table
    assert list(table.columns) == ["text", "gold", "prediction", "confidence", "p_gold", "correct", "length",
                                   "unknown_share", "tags"]
    assert table["prediction"].tolist() == ["positive", "negative", "positive", "negative", "positive", "negative"]
    assert table["correct"].tolist() == [True, True, True, False, False, True]
    assert table["gold"].tolist() == ["positive", "negative", "positive", "positive", "negative", "negative"]
    assert table["length"].tolist() == [4, 4, 6, 4, 3, 6]
    assert table.loc[5, "unknown_share"] == pytest.approx(1 / 6)  # 'zzzz' is not in the vocabulary
    assert (table["confidence"] >= 0.5).all()
    wrong = ~table["correct"]
    assert np.allclose(table.loc[wrong, "p_gold"], 1 - table.loc[wrong, "confidence"], atol=1e-5)
    assert preds.vectors.shape == (6, 16)
    assert preds.accuracy == pytest.approx(4 / 6)
    # the pooled vectors are what the classifier reads: its logits give the table's probabilities
    logits = rule_bundle.model.head_logits(torch.from_numpy(preds.vectors))
    assert np.allclose(torch.softmax(logits, 1).max(1).values.detach().numpy(), table["confidence"], atol=1e-5)
    # sorted most confidently wrong first
    rows = dv.select_rows(preds, sort="wrong_first")
    first_two = sorted([3, 4], key=lambda i: -table.loc[i, "confidence"])
    assert rows[:2].tolist() == first_two and set(rows[2:].tolist()) == {0, 1, 2, 5}
    assert dv.select_rows(preds, outcome="wrong").tolist() == first_two
    assert dv.select_rows(preds, outcome="correct", search="WAS", sort="original").tolist() == [0, 1, 2, 5]
    assert dv.select_rows(preds, slice_mask=preds.slices["contrast"].to_numpy()).tolist() == [2]


def test_predictions_match_the_predictor(rule_bundle):
    from sentiment_core.predict import Predictor

    texts = [" ".join(["the movie was"] * k + ["good"]) for k in range(1, 12)]
    preds = dv.predict_dataset(rule_bundle, texts, [1] * len(texts), batch_size=4)
    expected = [p.probabilities["positive"] for p in Predictor(rule_bundle).predict(texts)]
    p_positive = np.where(preds.table["prediction"] == "positive", preds.table["confidence"],
                          1 - preds.table["confidence"])
    assert np.allclose(p_positive, expected, atol=1e-5)


def test_automatic_slice_tags():
    texts = ["not good", "good but long", "However it works", "I didn't like it", "yet another", "fine"]
    slices = dv.automatic_slices(texts, [2, 12, 30, 400, 2, 1], [0, 0.5, 0, 0, 0, 0], [0, 1, 1, 0, 1, 1],
                                 ["negative", "positive"])
    assert slices["negation"].tolist() == [True, False, False, True, False, False]
    assert slices["contrast"].tolist() == [False, True, True, False, True, False]
    assert slices["unknown words"].tolist() == [False, True, False, False, False, False]
    assert slices["length ≤ 10"].tolist() == [True, False, False, False, True, True]
    assert slices["length 11-25"].tolist() == [False, True, False, False, False, False]
    assert slices["length 26-100"].tolist() == [False, False, True, False, False, False]
    assert slices["length > 300"].tolist() == [False, False, False, True, False, False]
    assert "length 101-300" not in slices.columns  # empty buckets are left out
    assert slices["gold: positive"].tolist() == [False, True, True, False, True, True]


def test_user_slices_and_their_errors():
    texts = ["The plot was dull", "plotting along", "a DULL, long film", "great"]
    assert dv.user_slice(texts, "plot, dull").tolist() == [True, False, True, False]
    assert dv.user_slice(texts, r"^the\b", regex=True).tolist() == [True, False, False, False]
    with pytest.raises(dv.SliceError, match="is not a valid regular expression"):
        dv.user_slice(texts, "(unclosed", regex=True)
    with pytest.raises(dv.SliceError, match="the slice is empty"):
        dv.user_slice(texts, " , ")


# A realistic set: 5,000 review-length sentences (about 1 MB of text).
REVIEWS = ["the movie was not very good at all but I liked the actors a lot anyway " * 3] * 5000
ISSUE_PATTERN = r"^(\w+\s?)*$X"  # catastrophic backtracking in Python's re (the issue's link)
SLOW_PATTERN = r"^(?:a|.)*?(?:.{2,}){3,}\d"  # takes seconds per sentence even in the regex package


def test_the_issues_regex_slice_ends_within_2_seconds():
    start = time.monotonic()
    try:
        mask = dv.user_slice(REVIEWS, ISSUE_PATTERN, regex=True)
        assert not mask.any()
    except dv.SliceError as error:
        assert "took too long" in str(error)
    assert time.monotonic() - start < 2


def test_a_regex_slice_over_its_time_budget_stops_with_a_message():
    wall, cpu = time.monotonic(), time.process_time()
    with pytest.raises(dv.SliceError, match=r"this pattern took too long \(over 1 s on 5,000 sentences.*simplify it"):
        dv.user_slice(REVIEWS, SLOW_PATTERN, regex=True)
    assert time.process_time() - cpu < 2  # the budget is the regex package's clock: CPU time
    assert time.monotonic() - wall < 10  # a generous wall bound: the test machine's 2 cores are shared


def test_regex_slices_over_the_size_and_repeat_limits_are_refused_before_compiling():
    start = time.monotonic()
    with pytest.raises(dv.SliceError, match="the slice is 201 characters long; the limit is 200: shorten it"):
        dv.user_slice(REVIEWS, "a" * 201, regex=True)
    with pytest.raises(dv.SliceError, match="the limit is 200"):
        dv.user_slice(REVIEWS, ",".join(["dull"] * 50))  # keywords too
    # the regex package unrolls counted repeats while compiling: this one would take minutes
    with pytest.raises(dv.SliceError, match=r"multiply to 4,294,836,225; the limit is 1,000: use smaller counts"):
        dv.user_slice(REVIEWS, "(?:a{65535}){65535}", regex=True)
    assert time.monotonic() - start < 1
    assert dv.user_slice(["in 2024-05 it rained", "no date"], r"\d{4}-\d{2}", regex=True).tolist() == [True, False]


def test_a_slow_regex_slice_leaves_other_threads_running():
    """The search runs without the GIL, so the server's other sessions go on (checked in a child
    process, which a search that held the GIL would freeze until the timeout kills it)."""
    script = f"""
import threading, time
from sentiment_core import dataset_view as dv
texts = [{REVIEWS[0]!r}] * 200
errors = []
def search():
    try:
        dv.user_slice(texts, {SLOW_PATTERN!r}, regex=True)
    except dv.SliceError as error:
        errors.append(str(error))
worker = threading.Thread(target=search, daemon=True)
worker.start()
ticks, last, gap = 0, time.monotonic(), 0.0
while worker.is_alive():
    time.sleep(0.005)
    now = time.monotonic()
    gap, last, ticks = max(gap, now - last), now, ticks + 1
print(ticks, gap, errors[0][:40])
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                          cwd=Path(__file__).parent.parent)
    assert done.returncode == 0, done.stderr[-2000:]
    ticks, gap, message = done.stdout.split(maxsplit=2)
    assert message.startswith("this pattern took too long")
    assert int(ticks) > 20 and float(gap) < 0.5  # the main thread kept running during the search


def test_wilson_interval_against_the_formula():
    low, high = dv.wilson_interval(41, 50)
    z, p, n = 1.959963984540054, 41 / 50, 50
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    assert (low, high) == (pytest.approx(centre - half, abs=1e-9), pytest.approx(centre + half, abs=1e-9))
    assert dv.wilson_interval(0, 0) == (0.0, 1.0)


def test_slice_accuracy_counts_and_intervals(rule_bundle):
    preds = dv.predict_dataset(rule_bundle, TEXTS, GOLD)
    rows = {r.slice: r for r in dv.slice_accuracy(preds, {"mine": np.array([1, 0, 0, 1, 0, 0], bool)})}
    assert (rows["all"].count, rows["all"].correct) == (6, 4)
    assert (rows["mine"].count, rows["mine"].correct, rows["mine"].accuracy) == (2, 1, 0.5)
    assert rows["gold: positive"].count == 3 and rows["gold: positive"].correct == 2
    assert rows["all"].low < 4 / 6 < rows["all"].high
    assert "negation" not in rows  # no example of TEXTS has a negation


def test_mcnemar_against_a_hand_computed_case():
    # 5 examples only A gets right, 1 only B: p = 2 * P(X >= 5 | n = 6, 1/2) = 2 * 7/64
    a = np.array([1, 1, 1, 1, 1, 0, 1, 0, 1, 1], bool)
    b = np.array([0, 0, 0, 0, 0, 1, 1, 0, 1, 1], bool)
    only_a, only_b, p = dv.mcnemar(a, b)
    assert (only_a, only_b) == (5, 1) and p == pytest.approx(14 / 64)
    assert dv.mcnemar(a, a) == (0, 0, 1.0)
    # 41 vs 17: exact two-sided binomial
    from math import comb
    tail = sum(comb(58, k) for k in range(41, 59)) / 2 ** 58
    assert dv.mcnemar(np.r_[np.ones(41), np.zeros(17)].astype(bool),
                      np.r_[np.zeros(41), np.ones(17)].astype(bool))[2] == pytest.approx(2 * tail)
    assert dv.paired_sentence("LSTM", "RNN", "negation", 41, 17, 2 * tail) == (
        "the LSTM beats the RNN on negation: 41 vs 17 discordant sentences, p = 0.002")
    assert dv.paired_sentence("LSTM", "RNN", "negation", 1, 5, 14 / 64).startswith(
        "the LSTM and the RNN cannot be told apart on negation: 1 vs 5")


def test_compare_models_on_the_same_examples(rule_bundle, tiny_model):
    preds = dv.predict_dataset(rule_bundle, TEXTS, GOLD, "LSTM")
    flipped = dv.DatasetPredictions("other", preds.label_names, preds.table.assign(correct=~preds.table["correct"]),
                                    preds.slices, preds.vectors)
    result = {r.slice: r for r in dv.compare_models(preds, flipped)}
    assert (result["all"].only_a, result["all"].only_b) == (4, 2)
    assert result["all"].accuracy_a == pytest.approx(4 / 6)
    with pytest.raises(ValueError, match="not run on the same examples"):
        dv.compare_models(preds, dv.predict_dataset(rule_bundle, TEXTS[:3], GOLD[:3]))


def test_projector_shapes():
    rng = np.random.default_rng(0)
    vectors = np.concatenate([rng.normal(0, 1, (40, 12)), rng.normal(6, 1, (40, 12))]).astype(np.float32)
    pca = dv.project(vectors, "pca")
    assert pca.xy.shape == (80, 2) and pca.index.tolist() == list(range(80))
    assert len(pca.explained) == 2 and pca.explained[0] > 0.5  # the two clusters lie along the first axis
    assert (np.sign(pca.xy[:40, 0]) != np.sign(pca.xy[40:, 0].mean())).all()
    sampled = dv.project(vectors, "pca", max_points=30)
    assert sampled.xy.shape == (30, 2) and len(set(sampled.index.tolist())) == 30
    tsne = dv.project(vectors[::4], "tsne")
    assert tsne.xy.shape == (20, 2) and np.isfinite(tsne.xy).all()
    with pytest.raises(ValueError, match="unknown projection"):
        dv.project(vectors, "umap3")


def test_the_fixture_is_used_without_a_mirror(monkeypatch):
    monkeypatch.delenv("GATESCOPE_DATA_MIRROR", raising=False)
    labelled = dv.load_eval_set("sst2_dev")
    assert labelled.key == "fixture:sst2_dev" and len(labelled.texts) == 200
    assert labelled.label_names == ["negative", "positive"]
    assert labelled.for_model(["negative", "positive"]) == labelled.labels
    with pytest.raises(dv.SliceError, match="do not include"):
        labelled.for_model(["bad", "good"])
    assert dv.eval_set_names("bilstm") == ("imdb_test", "sst2_dev", "rt_test")
    assert dv.eval_set_names("run:x") == ()


def planted_model():
    """A tiny RNN whose unit 3 follows token 5 and is the only unit the classifier reads."""
    from conftest import tiny_config

    from sentiment_core.models import build_model

    torch.manual_seed(0)
    model = build_model(tiny_config(cell="rnn", pooling="last")).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(0.05)
        model.embedding.weight[5] = 0.0
        model.embedding.weight[5, 0] = 3.0
        model.rnn.weight_ih_l0[3, 0] = 2.0
        model.rnn.weight_hh_l0[3, 3] = 1.0
        model.classifier.weight.zero_()
        model.classifier.weight[1, 3] = 4.0
    return model


def test_the_planted_unit_ranks_first_and_shows_its_sentences():
    from sentiment_core.explain import gate_statistics

    rng = np.random.default_rng(0)
    texts = [list(rng.integers(6, 30, size=int(rng.integers(3, 9)))) + ([5] if i % 2 else []) for i in range(60)]
    model = planted_model()
    stats = gate_statistics(model, texts, n=60, top_k=3)
    assert stats.top_units[0].unit == 3 and stats.top_units[0].r_probability > 0.9
    assert abs(stats.top_units[1].r_probability) < stats.top_units[0].r_probability
    found = dv.unit_sentences(model, texts, 0, 0, 3, top=5, n=60)
    assert len(found) == 5 and all(texts[s.row][-1] == 5 for s in found)  # the sentences that end with token 5
    assert [s.peak for s in found] == sorted((s.peak for s in found), reverse=True)
    assert all(len(s.values) == len(texts[s.row]) for s in found)
    with pytest.raises(ValueError, match="has no unit 8"):
        dv.unit_sentences(model, texts, 0, 0, 8)


@pytest.fixture(scope="module")
def rule_set():
    """60 distinct short sentences of the rule, with their gold labels."""
    test = rule_splits(300, seed=3).train
    texts, labels = [], []
    for text, label in zip(test.texts, test.labels):
        if text not in texts:
            texts.append(text)
            labels.append(label)
    return texts[:60], labels[:60]


def test_a_pass_reports_every_batch_and_ends_equal_to_the_one_shot_pass(rule_bundle, rule_set):
    texts, gold = rule_set
    seen = []
    chunked = dv.predict_dataset(rule_bundle, texts, gold, "LSTM", batch_size=4, chunk_size=10,
                                 on_batch=lambda done, total: seen.append((done, total)))
    # 60 examples: a first chunk of 8 (two batches), five of 10 (three each), one of 2: 18 batches of at most 4
    assert len(seen) == 18 and seen[-1] == (60, 60) and {t for _, t in seen} == {60}
    steps = np.diff([0] + [d for d, _ in seen])
    assert (steps >= 1).all() and (steps <= 4).all()
    one_shot = dv.predict_dataset(rule_bundle, texts, gold, "LSTM", batch_size=4, chunk_size=None)
    assert chunked.complete and chunked.total == 60
    for column in ("text", "gold", "prediction", "correct", "length", "unknown_share", "tags"):
        assert chunked.table[column].tolist() == one_shot.table[column].tolist(), column
    for column in ("confidence", "p_gold"):
        assert torch.allclose(torch.tensor(chunked.table[column].to_numpy()),
                              torch.tensor(one_shot.table[column].to_numpy()), atol=1e-6), column
    assert torch.allclose(torch.from_numpy(chunked.vectors), torch.from_numpy(one_shot.vectors), atol=1e-6)
    assert chunked.slices.equals(one_shot.slices)


def test_the_rows_done_so_far_are_a_random_sample_labelled_as_part_of_the_set(rule_bundle, rule_set):
    texts, gold = rule_set
    run = dv.DatasetPass(rule_bundle, texts, gold, "LSTM", batch_size=4, chunk_size=10)
    assert run.partial() is None and run.progress().waiting
    found = {}

    def look(done, total):
        if done == 8:  # the first chunk
            found["partial"], found["progress"] = run.partial(), run.progress()

    final = run.run(look)
    partial, progress = found["partial"], found["progress"]
    assert not partial.complete and partial.total == 60 and len(partial.table) == 8
    assert (progress.done, progress.total, progress.waiting) == (8, 60, False)
    assert progress.seconds > 0 and progress.seconds_left == pytest.approx(progress.seconds / 8 * 52)
    rows = [texts.index(t) for t in partial.table["text"]]
    assert rows == sorted(rows) and rows != list(range(8))  # in the set's order, but not its first 8
    whole = final.table.iloc[rows].reset_index(drop=True)
    assert partial.table["prediction"].tolist() == whole["prediction"].tolist()
    assert np.allclose(partial.table["confidence"], whole["confidence"]) and partial.vectors.shape == (8, 16)
    assert partial.accuracy == pytest.approx(whole["correct"].mean())
    assert run.partial() is final and final.complete and run.progress().seconds_left == 0


def test_the_time_left_leaves_out_the_first_chunks_warm_up(rule_bundle, rule_set, monkeypatch):
    texts, gold = rule_set
    forward, now = dv._pooled_and_logits, [0.0]

    def timed(model, ids, lengths):  # a clock that moves only here: 0.5 s a batch in the first chunk, then 0.01
        now[0] += 0.5 if now[0] < 1.0 else 0.01
        return forward(model, ids, lengths)

    monkeypatch.setattr(dv, "_pooled_and_logits", timed)
    monkeypatch.setattr(dv, "time", SimpleNamespace(monotonic=lambda: now[0]))
    run = dv.DatasetPass(rule_bundle, texts, gold, batch_size=4, chunk_size=10)
    seen = {}
    run.run(lambda done, total: seen.setdefault(done, run.progress()))
    # chunks of 8 (2 batches), 10 (3), 10 (3): the first ends at 1.0 s, the second at 1.03 s
    assert (seen[8].seconds, seen[8].seconds_left) == pytest.approx((1.0, 1.0 / 8 * 52))  # the warm-up alone
    assert (seen[18].seconds, seen[18].seconds_left) == pytest.approx((1.03, 1.0 / 8 * 52 - 0.03))  # chunk 1 only
    assert seen[28].seconds == pytest.approx(1.06)  # two: the second chunk's speed, less the time since it ended
    assert seen[28].seconds_left == pytest.approx(0.03 / 10 * 42 - 0.03)  # (1.06 / 28 * 32 = 1.21 s from the start)


def hold_after_first_batch(monkeypatch):
    """Make every pass stop before its second batch until the returned event is set."""
    release, calls = threading.Event(), []
    forward = dv._pooled_and_logits

    def held(model, ids, lengths):
        calls.append(len(ids))
        if len(calls) > 1:
            release.wait(30)
        return forward(model, ids, lengths)

    monkeypatch.setattr(dv, "_pooled_and_logits", held)
    return release, calls


def test_two_sessions_asking_at_once_share_one_pass_and_a_later_visit_computes_nothing(rule_bundle, rule_set,
                                                                                       monkeypatch):
    texts, gold = rule_set
    cache = dv.PredictionCache(max_entries=2)
    made = []

    def make():
        made.append(1)
        return dv.DatasetPass(rule_bundle, texts, gold, batch_size=4, chunk_size=10)

    release, calls = hold_after_first_batch(monkeypatch)
    with ThreadPoolExecutor(4) as pool:
        asked = list(pool.map(lambda _: cache.start("k", make), range(4)))
    assert len(made) == 1 and all(found is asked[0] for found in asked)
    assert isinstance(asked[0], dv.DatasetPass)
    release.set()
    result = cache.get("k", make)
    assert len(made) == 1 and result.complete and "k" in cache
    forward_calls = len(calls)
    assert cache.start("k", make) is result and len(made) == 1 and len(calls) == forward_calls


def test_the_cache_is_bounded_and_refuses_a_pass_over_its_limit(rule_bundle, rule_set, monkeypatch):
    texts, gold = rule_set
    cache = dv.PredictionCache(max_entries=2, max_passes=1)
    made = []

    def make(n):
        made.append(n)
        return dv.DatasetPass(rule_bundle, texts[:n], gold[:n], batch_size=4)

    for n in [5, 6, 5, 7, 5, 6]:
        assert len(cache.get(n, lambda n=n: make(n)).table) == n
    assert made == [5, 6, 7, 6]  # 6 was the least recently used when 7 came
    assert len(cache) == 2 and 5 in cache and 7 not in cache
    release, _ = hold_after_first_batch(monkeypatch)
    running = cache.start(20, lambda: make(20))
    with pytest.raises(dv.ServerBusyError, match="already predicting 1 other sets"):
        cache.start(21, lambda: make(21))
    release.set()
    assert len(running.wait(30).table) == 20


def test_a_failed_pass_answers_its_error_until_it_may_be_retried(rule_bundle, rule_set, monkeypatch):
    texts, gold = rule_set
    cache = dv.PredictionCache(retry_seconds=60)

    def broken(model, ids, lengths):
        raise RuntimeError("out of memory")

    monkeypatch.setattr(dv, "_pooled_and_logits", broken)
    run = cache.start("k", lambda: dv.DatasetPass(rule_bundle, texts, gold))
    with pytest.raises(RuntimeError, match="out of memory"):
        run.wait(30)
    with pytest.raises(RuntimeError, match="out of memory"):
        cache.start("k", lambda: dv.DatasetPass(rule_bundle, texts, gold))
    cache.retry_seconds = 0
    monkeypatch.undo()
    assert cache.get("k", lambda: dv.DatasetPass(rule_bundle, texts, gold)).complete


def test_an_uploaded_file_is_used_whole_with_its_classes_matched_by_name(rule_bundle):
    cues = [("good", "positive"), ("awful", "negative"), ("great", "positive"), ("poor", "negative")] * 5
    fillers = ["movie", "plot", "actor", "scene", "film"]
    rows = ["text,label"] + [f"the {fillers[i // 4]} was {w},{y}" for i, (w, y) in enumerate(cues)]
    labelled = dv.upload_set("\n".join(rows).encode(), "mine.csv")
    assert labelled.key.startswith("upload:") and len(labelled.texts) == 20
    gold = labelled.for_model(rule_bundle.label_names)
    assert [rule_bundle.label_names[y] for y in gold[:4]] == ["positive", "negative", "positive", "negative"]
    preds = dv.predict_dataset(rule_bundle, labelled.texts, gold)
    assert preds.accuracy == 1.0


def test_an_unpacked_models_set_predictions_do_not_depend_on_their_neighbours():
    """The Dataset page predicts through the prediction path's own batches (issue 24): an unpacked
    model's confidence for a text is the one it has alone, however long the texts batched with it."""
    from sentiment_core.predict import Predictor

    torch.manual_seed(0)
    splits = rule_splits(200)
    bundle = train_on_splits(splits, {"cell": "gru", "emb_dim": 8, "hidden_dim": 8, "packed": False},
                             TrainConfig(epochs=1, batch_size=32, device="cpu", patience=0),
                             vocab_config=VocabConfig(min_freq=1, max_size=200), encoding={"max_len": 30}).bundle
    texts = ["good", "the movie was bad and the plot and the actor and the scene were awful " * 2, "awful film"]
    result = dv.predict_dataset(bundle, texts, [1, 0, 0], batch_size=8)
    predictor = Predictor(bundle)
    alone = np.array([predictor.probabilities([predictor.encode(t)])[0].max().item() for t in texts])
    assert np.allclose(result.table["confidence"].to_numpy(), alone, atol=1e-6)
