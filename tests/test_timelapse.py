"""Training time-lapse: snapshots at the right points, stored with the run, read back after a
restart, equal to a recomputation with the saved model, and no change to training itself."""
from __future__ import annotations

import json
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from conftest import ROOT
from sentiment_core import runs
from sentiment_core.checkpoint import load_checkpoint
from sentiment_core.data import make_negation, make_splits
from sentiment_core.encoding import EncodingConfig
from sentiment_core.explain.inputs import prepare_input
from sentiment_core.pipeline import VocabConfig, prepare_data, train_on_splits
from sentiment_core.text import TokenizerConfig
from sentiment_core.timelapse import (EARLY_BATCHES, MIN_GROUP, TIMELAPSE_FILE, TimelapseConfig, TimelapseError,
                                      TimelapseRecorder, consistent_correlation, emergence_sample, find_markers,
                                      load_timelapse, measure_emergence, parse_probes, probe_snapshots)
from sentiment_core.trainer import TrainConfig

MODEL = {"cell": "lstm", "emb_dim": 8, "hidden_dim": 8}
TRAIN = {"epochs": 2, "batch_size": 32, "lr": 1e-2, "device": "cpu", "patience": 0}
VOCAB = {"min_freq": 1, "max_size": 200}
ENCODING = {"max_len": 20}
PROBES = "it was not good\nnot bad at all\nzzzz qqqq"  # the last one is all unknown words: left out


@pytest.fixture(scope="module")
def splits():
    return make_splits(make_negation(300), seed=0)


def request(splits, **train) -> runs.RunRequest:
    return runs.RunRequest(splits, dict(MODEL), {**TRAIN, **train}, {"name": "synthetic_negation"},
                           vocab=dict(VOCAB), encoding=dict(ENCODING), label="tl", timelapse={"probes": PROBES})


@pytest.fixture(scope="module")
def finished(splits, tmp_path_factory):
    root = tmp_path_factory.mktemp("tl-runs")
    queue = runs.RunQueue(root, executor="thread")
    try:
        record = queue.wait(queue.submit(request(splits), name="tl-1"), 120)
    finally:
        queue.close()
    assert record.state == "completed", record.message
    return record


def test_snapshots_are_taken_at_the_start_early_batches_and_every_epoch(finished):
    per_epoch = finished.status["batches_per_epoch"]
    early = [b for b in EARLY_BATCHES if b < per_epoch]
    assert early  # the tiny run has enough batches to test the early snapshots
    tl = load_timelapse(finished.path)
    assert tl.labels == ["start", *[f"epoch 1 · batch {b}" for b in early], "epoch 1", "epoch 2"]
    assert tl.epochs == [0.0, *[b / per_epoch for b in early], 1.0, 2.0]
    assert tl.emergence_labels == ["start", "epoch 1", "epoch 2"]
    assert [p.text for p in tl.probes] == ["it was not good", "not bad at all"]
    assert len(tl.skipped) == 1 and "zzzz qqqq" in tl.skipped[0] and "vocabulary" in tl.skipped[0]
    S, T, C, H = len(tl.labels), 4, 2, MODEL["hidden_dim"]
    probe = tl.probes[0]
    assert probe.tokens == ["it", "was", "not", "good"]
    assert probe.probabilities.shape == (S, C) and np.allclose(probe.probabilities.sum(1), 1, atol=1e-5)
    assert probe.ig.shape == (S, T)
    assert probe.gates.shape == (S, 1, 4, T) and probe.gates.min() >= 0 and probe.gates.max() <= 1
    assert probe.hidden.shape == (S, 1, T, H)
    assert tl.correlation.shape == (3, C, H) and tl.negation.shape == (3, H) == tl.contrast.shape
    assert tl.directions == ["layer 0"] and tl.gates == ["input", "forget", "cell_candidate", "output"]
    assert tl.target_name == "positive"
    # the snapshots differ: the model changed between them
    assert not np.allclose(probe.ig[0], probe.ig[-1])
    assert (finished.path / TIMELAPSE_FILE).stat().st_size < 100_000


def test_values_equal_a_recomputation_with_the_saved_model(finished, splits):
    tl = load_timelapse(finished.path)
    best = finished.result["best_epoch"]
    s = tl.labels.index(f"epoch {best}")
    bundle = load_checkpoint(finished.best_path)
    bundle.model.eval()
    for probe in tl.probes:  # recorded in one batch, recomputed one text at a time
        (again,) = probe_snapshots(bundle, [prepare_input(bundle, probe.text)], tl.target, TimelapseConfig().ig_steps)
        assert torch.allclose(torch.from_numpy(probe.probabilities[s]), torch.from_numpy(again.probabilities), atol=1e-5)
        assert torch.allclose(torch.from_numpy(probe.ig[s]), torch.from_numpy(again.ig), atol=1e-5)
        # gates and hidden states are stored as float16
        assert torch.allclose(torch.from_numpy(probe.gates[s]), torch.from_numpy(again.gates), atol=1e-3)
        assert torch.allclose(torch.from_numpy(probe.hidden[s]), torch.from_numpy(again.hidden), atol=1e-3)
    config = finished.config
    prepared = prepare_data(splits, TokenizerConfig(**config["tokenizer"]), VocabConfig(**config["vocab"]),
                            EncodingConfig.from_dict(config["encoding"]))
    sample = emergence_sample(prepared.validation, bundle.vocab, config["timelapse"]["sample"])
    point = measure_emergence(bundle.model, sample, 2, bundle.batch_padding)
    e = tl.emergence_labels.index(f"epoch {best}")
    assert torch.allclose(torch.from_numpy(tl.correlation[e]), torch.from_numpy(point.correlation), atol=1e-5)
    assert np.allclose(tl.negation[e], point.negation, atol=1e-5, equal_nan=True)
    assert tl.sample_size == len(sample.ids) and tl.sample_negation == int(sample.negation.sum())


@pytest.mark.parametrize("model", [{"cell": "lstm"}, {"cell": "gru", "bidirectional": True, "num_layers": 2},
                                   {"cell": "rnn", "packed": False, "pooling": "mean"}])
def test_a_batch_of_probes_reads_each_text_as_trace_and_captum_do(model, splits):
    from sentiment_core.explain import integrated_gradients, trace

    out = train_on_splits(splits, {**MODEL, **model}, TrainConfig(**{**TRAIN, "epochs": 1}),
                          vocab_config=VocabConfig(**VOCAB), encoding=dict(ENCODING))
    bundle = out.bundle
    texts = ["it was not good", "not bad at all , i liked it a lot", "good"]  # different lengths: padded batch
    inputs = [prepare_input(bundle, t) for t in texts]
    for prepared, snap in zip(inputs, probe_snapshots(bundle, inputs, 1, 16)):
        traced = trace(bundle, prepared)
        assert np.allclose(snap.probabilities, traced.prediction.probabilities, atol=1e-5)
        assert np.allclose(snap.hidden, np.stack([d.hidden for d in traced.directions]), atol=1e-5)
        forget = traced.directions[-1].gates.get("forget", traced.directions[-1].gates.get("update"))
        if forget is not None:  # sigmoid gates are stored as their mean over units
            assert np.allclose(snap.gates[-1, 1], forget.mean(axis=1), atol=1e-5)
        captum = integrated_gradients(bundle, prepared, target=1, baseline="pad", n_steps=16)
        assert np.allclose(snap.ig, captum.scores, atol=1e-5)
        assert abs(snap.ig.sum() - (captum.input_score - captum.baseline_score)) < 0.05  # completeness


def test_recording_does_not_change_training(splits, tmp_path):
    def fit(callbacks):
        return train_on_splits(splits, dict(MODEL), TrainConfig(**{**TRAIN, "epochs": 1}), callbacks=callbacks,
                               vocab_config=VocabConfig(**VOCAB), encoding=dict(ENCODING))

    plain = fit([])
    recorder = TimelapseRecorder(tmp_path / TIMELAPSE_FILE, TimelapseConfig(probes="not good"))
    recorded = fit([recorder])
    assert len(recorder.labels) >= 3
    assert plain.fit.history[0].val_loss == recorded.fit.history[0].val_loss
    for a, b in zip(plain.bundle.model.parameters(), recorded.bundle.model.parameters()):
        assert torch.equal(a, b)


RELOAD = """
import json, sys
sys.path.insert(0, {root!r})
from sentiment_core.timelapse import load_timelapse
tl = load_timelapse({folder!r})
print(json.dumps({{"labels": tl.labels, "probes": [p.text for p in tl.probes], "ig": tl.probes[0].ig.tolist()}}))
"""


def test_a_queued_run_records_through_a_restart_and_a_new_process_reads_it(splits, tmp_path):
    first = runs.RunQueue(tmp_path, max_concurrent=1, executor="thread")
    blocker = first.submit(request(splits, epochs=200), name="blocker")
    waiting = first.submit(request(splits), name="waiting")
    deadline = time.monotonic() + 60
    while load_timelapse(tmp_path / blocker) is None:  # the blocker is training
        assert time.monotonic() < deadline, "the first run did not start"
        time.sleep(0.05)
    first.close(stop_running=True, keep_queued=True)  # the server stops: one run stopped, one still waiting
    stopped = first.wait(blocker, 60)
    assert stopped.state in ("stopped", "completed")
    assert load_timelapse(stopped.path).labels[0] == "start"  # what it recorded before stopping is kept
    assert runs.load_run(waiting, tmp_path, queue=None).state == "queued"
    assert load_timelapse(tmp_path / waiting) is None

    second = runs.RunQueue(tmp_path, max_concurrent=1, executor="thread")  # the next server takes it over
    try:
        assert second.resumed == [waiting]
        record = second.wait(waiting, 120)
    finally:
        second.close()
    assert record.state == "completed"
    out = subprocess.run([sys.executable, "-c", RELOAD.format(root=str(ROOT), folder=str(record.path))],
                         capture_output=True, text=True, timeout=120, check=True)
    reloaded = json.loads(out.stdout)
    here = load_timelapse(record.path)
    assert reloaded["labels"] == here.labels and reloaded["labels"][-1] == "epoch 2"
    assert reloaded["probes"] == ["it was not good", "not bad at all"]
    assert np.allclose(reloaded["ig"], here.probes[0].ig)


def test_probe_sentences_are_checked_before_a_run_is_queued(splits, tmp_path):
    assert parse_probes(" a \n\n b ") == ("a", "b")
    assert TimelapseConfig(probes=["not good", "good"]).sentences == ("not good", "good")  # a list works too
    for text, words in (("", "at least one"), ("\n".join(["x"] * 9), "at most 8"), ("x" * 201, "200 characters")):
        with pytest.raises(TimelapseError, match=words):
            parse_probes(text)
    queue = runs.RunQueue(tmp_path, executor="thread")
    try:
        bad = request(splits)
        bad.timelapse = {"probes": "   "}
        with pytest.raises(runs.RunError, match="probe sentence"):
            queue.submit(bad)
        bad.timelapse = {"probes": "good", "frames": 3}
        with pytest.raises(runs.RunError, match="time-lapse option"):
            queue.submit(bad)
    finally:
        queue.close()
    assert not any(tmp_path.iterdir())


def test_the_negation_score_rewards_units_that_read_negation():
    rng = np.random.default_rng(0)
    n = 400
    labels = rng.integers(0, 2, n)
    negated = rng.random(n) < 0.5
    sentiment = np.where(labels == 1, 1.0, -1.0)
    features = np.stack([
        sentiment + 0.3 * rng.standard_normal(n),                                    # reads negation: same sign
        np.where(negated, -sentiment, sentiment) + 0.3 * rng.standard_normal(n),     # spots words: flips on "not"
        rng.standard_normal(n),                                                      # noise
    ], axis=1)
    score = consistent_correlation(features, labels, negated, 2)
    assert score[0] > 0.9 and score[1] == 0.0 and score[2] < 0.2
    few = np.zeros(n, dtype=bool)
    few[: MIN_GROUP - 1] = True
    assert np.isnan(consistent_correlation(features, labels, few, 2)).all()
    markers = find_markers(["start", "epoch 1", "epoch 2"], np.array([[0.1, np.nan], [0.3, 0.6], [0.7, 0.2]]),
                           np.full((3, 2), np.nan))
    assert [(m.kind, m.point, m.label, m.unit) for m in markers] == [("negation", 1, "epoch 1", 1)]


def test_a_damaged_file_gives_a_message(tmp_path):
    assert load_timelapse(tmp_path) is None  # a run that recorded none
    (tmp_path / TIMELAPSE_FILE).write_bytes(b"not a safetensors file")
    with pytest.raises(TimelapseError, match="cannot be read"):
        load_timelapse(tmp_path)
