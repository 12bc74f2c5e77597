"""Training loop: learns, reports through callbacks, stops on events, NaN and patience,
keeps the best weights, and is deterministic."""
import math
import threading

import numpy as np
import pytest
import torch

from sentiment_core.pipeline import VocabConfig, train_on_splits
from sentiment_core.trainer import TrainConfig, make_batches

FAST = dict(epochs=3, batch_size=32, lr=0.01, device="cpu")
TINY = dict(emb_dim=8, hidden_dim=8)


class Recorder:
    def __init__(self):
        self.batches, self.epochs, self.ends = [], [], []

    def on_batch_end(self, info):
        self.batches.append(info)

    def on_epoch_end(self, info):
        self.epochs.append(info)

    def on_fit_end(self, result):
        self.ends.append(result)


def test_learns_a_simple_rule_and_reports(splits):
    rec = Recorder()
    out = train_on_splits(splits, {**TINY, "cell": "gru"}, TrainConfig(**FAST), callbacks=[rec],
                          vocab_config=VocabConfig(min_freq=1))
    assert out.test.accuracy > 0.9
    assert len(rec.epochs) == 3 and len(rec.ends) == 1
    assert rec.batches[0].grad_norm > 0 and rec.batches[-1].step == len(rec.batches)
    assert np.array(out.test.confusion).sum() == len(splits.test)
    assert out.bundle.metrics["test_accuracy"] == out.test.accuracy


def test_same_seed_same_numbers(splits):
    runs = [train_on_splits(splits, dict(TINY), TrainConfig(**{**FAST, "epochs": 1})) for _ in range(2)]
    assert runs[0].fit.history[0].val_loss == runs[1].fit.history[0].val_loss
    for a, b in zip(runs[0].bundle.model.parameters(), runs[1].bundle.model.parameters()):
        assert torch.equal(a, b)


def test_stop_event_stops_cleanly(splits):
    stop = threading.Event()

    class StopAfterTwo:
        def on_batch_end(self, info):
            if info.step == 2:
                stop.set()

    out = train_on_splits(splits, dict(TINY), TrainConfig(**FAST), callbacks=[StopAfterTwo()], stop_event=stop)
    assert out.fit.stop_reason == "stopped" and len(out.fit.batch_history) == 2


def test_absurd_learning_rate_is_detected_and_best_model_kept(splits, tmp_path):
    path = tmp_path / "best.safetensors"
    out = train_on_splits(splits, {**TINY, "cell": "rnn"},
                          TrainConfig(**{**FAST, "epochs": 4, "lr": 10.0, "clip_norm": 0, "optimizer": "sgd"}),
                          checkpoint_path=path)
    if out.fit.stop_reason == "nan_loss":
        assert "learning rate" in out.fit.message
    # Whatever happened, the kept weights are finite and the saved bundle loads.
    assert all(torch.isfinite(p).all() for p in out.bundle.model.parameters())
    assert out.fit.stop_reason in ("nan_loss", "completed", "early_stopping")


def test_nan_loss_is_reported_with_advice(splits, monkeypatch):
    from sentiment_core import models

    original = models.SentimentRNN.forward_from_embeddings
    calls = {"n": 0}

    def poisoned(self, embedded, ids, lengths=None):
        calls["n"] += 1
        out = original(self, embedded, ids, lengths)
        return out * math.nan if self.training and calls["n"] > 20 else out

    monkeypatch.setattr(models.SentimentRNN, "forward_from_embeddings", poisoned)
    out = train_on_splits(splits, dict(TINY), TrainConfig(**FAST))
    assert out.fit.stop_reason == "nan_loss"
    assert "Lower the learning rate" in out.fit.message
    assert out.fit.best_epoch == 1  # epoch 1 finished before the NaN and was kept
    assert all(torch.isfinite(p).all() for p in out.bundle.model.parameters())


def test_early_stopping_with_patience(splits):
    out = train_on_splits(splits, dict(TINY), TrainConfig(**{**FAST, "epochs": 30, "patience": 1, "lr": 0.05}))
    assert out.fit.stop_reason == "early_stopping"
    assert out.fit.best_epoch == min(out.fit.history, key=lambda h: h.val_loss).epoch


def test_out_of_memory_gives_batch_size_advice(splits, monkeypatch):
    from sentiment_core import trainer

    real_collate = trainer.collate

    def boom(data, index, padding="post"):
        if len(index) == FAST["batch_size"]:  # training batches only; evaluation uses 256
            raise RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 1000 GB")
        return real_collate(data, index, padding)

    monkeypatch.setattr(trainer, "collate", boom)
    out = train_on_splits(splits, dict(TINY), TrainConfig(**FAST))
    assert out.fit.stop_reason == "out_of_memory" and "smaller batch size" in out.fit.message


def test_bucketing_groups_similar_lengths():
    lengths = np.random.default_rng(0).integers(1, 200, size=3200)
    rng = np.random.default_rng(1)
    buckets = make_batches(lengths, 32, shuffle=True, bucketing=True, rng=rng)
    plain = make_batches(lengths, 32, shuffle=True, bucketing=False, rng=np.random.default_rng(1))
    waste = lambda batches: sum(lengths[b].max() * len(b) - lengths[b].sum() for b in batches)
    assert sorted(np.concatenate(buckets).tolist()) == list(range(3200))
    assert waste(buckets) < 0.1 * waste(plain)


def test_train_config_validation_lists_choices():
    with pytest.raises(ValueError, match="adam, adamw, sgd"):
        TrainConfig(optimizer="lion")
    with pytest.raises(ValueError, match="valid"):
        TrainConfig(device="tpu")
    with pytest.raises(ValueError, match="minimum"):
        TrainConfig(batch_size=0)


def test_unpacked_model_trains_and_is_evaluated_on_the_encoding_padding_side(splits, monkeypatch):
    from sentiment_core import trainer
    from sentiment_core.encoding import EncodingConfig

    sides = set()
    real_collate = trainer.collate

    def spy(data, index, padding="post"):
        sides.add(padding)
        return real_collate(data, index, padding)

    monkeypatch.setattr(trainer, "collate", spy)
    out = train_on_splits(splits, {**TINY, "cell": "rnn", "packed": False}, TrainConfig(**{**FAST, "epochs": 1}),
                          encoding={"max_len": 12, "padding": "pre"})
    assert sides == {"pre"} and out.bundle.encoding == EncodingConfig(max_len=12, padding="pre")
    assert max(len(ids) for ids in out.prepared.train.ids) <= 12
    assert out.validation.loss == trainer.evaluate(out.bundle.model, out.prepared.validation, padding="pre").loss
    sides.clear()
    train_on_splits(splits, dict(TINY), TrainConfig(**{**FAST, "epochs": 1}), encoding=EncodingConfig(padding="pre"))
    assert sides == {"post"}  # packed models always get post-padded batches


def test_lr_decay_restarts_from_the_best_weights_with_a_smaller_step(tiny_model):
    """On an epoch that does not improve the validation loss, ``lr_decay`` puts the best weights back
    and multiplies the learning rate; at 1 (the default) training carries on as before."""
    from sentiment_core.trainer import EncodedExamples, Trainer

    rng = np.random.default_rng(0)
    noise = EncodedExamples([list(rng.integers(2, 20, 6)) for _ in range(64)], list(rng.integers(0, 2, 64)))
    held_out = EncodedExamples([list(rng.integers(2, 20, 6)) for _ in range(32)], list(rng.integers(0, 2, 32)))
    start = {k: v.clone() for k, v in tiny_model.state_dict().items()}

    class Snapshots:  # the weights and learning rate each epoch ends with
        def __init__(self):
            self.epochs = []

        def on_epoch_end(self, info):
            self.epochs.append((info, {k: v.clone() for k, v in tiny_model.state_dict().items()}))

    def fit(lr_decay):
        tiny_model.load_state_dict(start)
        snaps = Snapshots()
        cfg = TrainConfig(epochs=6, batch_size=16, lr=0.05, device="cpu", patience=0, lr_decay=lr_decay)
        Trainer(tiny_model, cfg, [snaps]).fit(noise, held_out)  # labels are noise: held-out loss soon rises
        return snaps.epochs

    decayed = fit(0.5)
    plateaus = [n for n, (info, _) in enumerate(decayed[:-1]) if not info.is_best]
    assert plateaus, "the noise labels should give at least one epoch without a better validation loss"
    for n in plateaus:
        best = max(m for m in range(n) if decayed[m][0].is_best)
        for key, value in decayed[n][1].items():  # restored at once: the next epoch starts from the best
            assert torch.equal(value, decayed[best][1][key]), key
        assert decayed[n + 1][0].lr == pytest.approx(decayed[n][0].lr * 0.5)
    assert decayed[0][0].lr == 0.05
    constant = fit(1.0)
    assert {info.lr for info, _ in constant} == {0.05}
    worse = [n for n, (info, _) in enumerate(constant) if not info.is_best]
    assert any(not torch.equal(constant[n][1]["embedding.weight"], constant[n - 1][1]["embedding.weight"])
               for n in worse)
