"""A model over a whole labelled set: every prediction computed once, in the background, in
length-sorted batches of a seeded random order (so the rows done so far are a random sample the
page can show while the rest finish), slice tags (negation, contrast, length, unknown words, gold
class, the user's own keywords or regular expressions), per-slice accuracy with a 95 % interval, a
paired comparison of two models (McNemar's exact test) and a 2-D projection of the pooled sentence
vectors the classifier reads.

Statistics come from SciPy (``binomtest``: Wilson intervals and the exact McNemar test) and the
projections from scikit-learn (PCA, t-SNE).
"""
from __future__ import annotations

import math
import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd
import regex as regex_engine
import torch

from .checkpoint import Bundle
from .errors import GateScopeError
from .predict import Predictor

NEGATION = re.compile(r"\b(?:not|no|never|nothing|nobody|none|neither|nor|without|cannot|n't)\b|n't\b", re.IGNORECASE)
CONTRAST = re.compile(r"\b(?:but|however|although|though|yet)\b", re.IGNORECASE)
# Token-count buckets: (upper bound inclusive, name); the same for every model and dataset.
LENGTH_BUCKETS = ((10, "length ≤ 10"), (25, "length 11-25"), (100, "length 26-100"), (300, "length 101-300"),
                  (None, "length > 300"))
AUTO_SLICES = ("negation", "contrast", "unknown words")
SORTS = {"wrong_first": "most confidently wrong first", "least_confident": "least confident first",
         "longest": "longest first", "shortest": "shortest first", "original": "original order"}
OUTCOMES = ("all", "wrong", "correct")
PROJECTIONS = ("pca", "tsne")
# A user slice (keywords or a regular expression) is at most this long, and its search over the
# whole set stops after this many seconds with a message: one link cannot occupy the server.
# The regex package unrolls counted repeats when it compiles (``(?:a{1000}){1000}`` takes seconds
# and hundreds of MB before any deadline applies), so the product of a pattern's counts is capped.
MAX_SLICE_PATTERN = 200
MAX_SLICE_REPEATS = 1000
SLICE_SECONDS = 1.0
REPEAT_COUNT = re.compile(r"\{(\d+)(?:,(\d*))?\}")


class SliceError(GateScopeError, ValueError):
    """A user slice that cannot be used (an invalid regular expression, an empty pattern)."""


@dataclass
class DatasetPredictions:
    """One model's predictions over a labelled set, in the set's order.

    Attributes:
        model: the model's name for messages.
        label_names: the model's classes.
        table: one row per example: ``text``, ``gold``, ``prediction``, ``confidence`` (probability of
            the prediction), ``p_gold`` (probability of the gold class), ``correct``, ``length``
            (tokens read), ``unknown_share``, ``tags`` (the example's automatic slices, comma-joined).
        slices: (N, S) boolean frame, one column per automatic slice.
        vectors: (N, D) pooled sentence vectors (the classifier's input), float32.
        total: examples in the whole set: more than N while a pass is under way (the rows done so
            far, a random sample of the set); None: N.
    """

    model: str
    label_names: list[str]
    table: pd.DataFrame
    slices: pd.DataFrame
    vectors: np.ndarray
    total: int | None = None

    @property
    def accuracy(self) -> float:
        return float(self.table["correct"].mean()) if len(self.table) else 0.0

    @property
    def complete(self) -> bool:
        """Every example of the set is in the table."""
        return self.total is None or self.total == len(self.table)


@dataclass
class SliceAccuracy:
    """Accuracy of one model on one slice with its 95 % Wilson interval."""

    slice: str
    count: int
    correct: int
    accuracy: float
    low: float
    high: float


@dataclass
class PairedResult:
    """Two models on the same examples of one slice (McNemar's exact test).

    Attributes:
        slice: the slice name.
        count: examples in the slice.
        accuracy_a, accuracy_b: the two models' accuracies.
        only_a: examples model A gets right and model B wrong (discordant).
        only_b: examples B gets right and A wrong.
        p_value: two-sided exact binomial test of ``only_a`` among ``only_a + only_b`` at 1/2.
        sentence: the result in plain words.
    """

    slice: str
    count: int
    accuracy_a: float
    accuracy_b: float
    only_a: int
    only_b: int
    p_value: float
    sentence: str


@dataclass
class Projection:
    """A 2-D map of sentence vectors.

    Attributes:
        method: ``pca`` or ``tsne``.
        index: (M,) rows of the predictions table that were projected.
        xy: (M, 2) coordinates.
        explained: for PCA, the share of variance of each of the two axes; else empty.
    """

    method: str
    index: np.ndarray
    xy: np.ndarray
    explained: list[float] = field(default_factory=list)


def _pooled_and_logits(model, ids: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The model's forward pass, keeping the pooled vector: (B, D*H) pooled, (B, C) logits."""
    positions = torch.arange(ids.shape[1], device=ids.device)
    if model.config.packed:
        mask = positions.unsqueeze(0) < lengths.to(ids.device).unsqueeze(1)  # (B, T)
    else:
        mask = torch.ones_like(ids, dtype=torch.bool)
    outputs, h_n = model.encode(model.embedding_dropout(model.embedding(ids)), lengths)  # (B, T, D*H)
    pooled, _ = model.pool(outputs, h_n, mask)
    return pooled, model.head_logits(pooled)


CHUNK_SIZE = 2048  # examples tokenized and bucketed together at most (IMDb: 3 % more padding than one sorted
# set, 1024: 7 %); the first chunk is 2 batches and each next one twice as large, so the first rows come early
MAX_PASSES = 4  # passes over a set waiting or running at once on the server; more are refused with a message
PARALLEL_PASSES = 2  # of those, run at the same time
RETRY_SECONDS = 60.0  # a pass that failed is not started again for this long (its error is shown instead)
SNAPSHOT_SECONDS = 1.0  # the rows a pass has done are gathered at most this often, however many sessions ask


class ServerBusyError(GateScopeError):
    """The server already has ``MAX_PASSES`` passes over sets waiting or running."""


@dataclass(frozen=True)
class PassProgress:
    """How far a pass over a set has got.

    Attributes:
        done: examples predicted.
        total: examples in the set.
        seconds: time spent on the pass so far (its wait for a turn left out).
        seconds_left: the time still needed at the speed of the batches so far (None before the first).
        waiting: the pass waits for a turn (``PARALLEL_PASSES`` run at once).
    """

    done: int
    total: int
    seconds: float
    seconds_left: float | None
    waiting: bool


class DatasetPass:
    """One model's predictions over a labelled set, computed chunk by chunk in a seeded random order,
    so the rows done at any moment are a random sample of the set. Other threads may read its
    progress and the rows done so far while ``run`` works.

    Args:
        bundle: the model bundle.
        texts: raw texts.
        labels: gold labels, indices into ``bundle.label_names``.
        model_name: the model's name in messages.
        batch_size: examples per forward pass.
        chunk_size: examples tokenized and bucketed by length together at most (the first chunk is
            two batches, each next one twice as large up to this); None: the whole set in one chunk
            in its own order (the one-shot pass).
        seed: the order of the chunks' examples.

    Raises:
        ValueError: texts and labels differ in number, or a label is not a class of the model.
    """

    def __init__(self, bundle: Bundle, texts: Sequence[str], labels: Sequence[int], model_name: str = "model",
                 batch_size: int = 128, chunk_size: int | None = CHUNK_SIZE, seed: int = 0):
        if len(texts) != len(labels):
            raise ValueError(f"{len(texts)} texts but {len(labels)} labels")
        names = list(bundle.label_names)
        bad = sorted({int(y) for y in labels if not 0 <= int(y) < len(names)})
        if bad:
            raise ValueError(f"labels {bad} are not classes of this model (it has {len(names)}: {', '.join(names)})")
        n = len(texts)
        self.bundle, self.model_name, self.label_names = bundle, model_name, names
        self.texts = [str(t) for t in texts]
        self.gold = np.asarray(labels, dtype=np.int64).reshape(n)  # (N,)
        self.total, self.batch_size = n, batch_size
        if chunk_size is None:
            self.chunks = [np.arange(n)]
        else:
            order, start, size = np.random.default_rng(seed).permutation(n), 0, min(chunk_size, 2 * batch_size)
            self.chunks = []
            while start < n:  # 256, 512, 1024, 2048, 2048, ...: the first rows and speeds come early
                self.chunks.append(order[start:start + size])
                start, size = start + size, min(chunk_size, 2 * size)
        self._probs = np.zeros((n, len(names)), dtype=np.float32)  # (N, C)
        self._vectors = np.zeros((n, bundle.model.config.output_dim), dtype=np.float32)  # (N, D)
        self._lengths = np.zeros(n, dtype=np.int64)
        self._unknown = np.zeros(n, dtype=np.float64)
        self._negation = np.zeros(n, dtype=bool)
        self._contrast = np.zeros(n, dtype=bool)
        self._done = np.zeros(n, dtype=bool)
        self._count = 0
        self._started: float | None = None
        self._seconds = 0.0
        self._lock = threading.Lock()
        self._finished = threading.Event()
        self._chunks_done: list[tuple[int, float]] = []  # (done, seconds) after the first chunk and the last
        self._partial: tuple[float, DatasetPredictions] | None = None  # (built at, rows done)
        self.result: DatasetPredictions | None = None
        self.error: BaseException | None = None

    def run(self, on_batch=None) -> DatasetPredictions:
        """Predict every example, batch by batch, and tag its slices.

        Args:
            on_batch: called with ``(done, total)`` after every batch.

        Returns:
            The predictions of the whole set, in its order.
        """
        try:
            self.result = self._run(on_batch)
            return self.result
        except BaseException as error:
            self.error = error
            raise
        finally:
            self._finished.set()

    def _run(self, on_batch) -> DatasetPredictions:
        model = self.bundle.model
        predictor = Predictor(self.bundle)
        self._started = time.monotonic()
        was_training = model.training
        model.eval()
        try:
            with torch.inference_mode():
                for rows in self.chunks:  # (R,) set positions
                    encoded = [predictor.encode(self.texts[i]) for i in rows]
                    self._lengths[rows] = [len(e.tokens) for e in encoded]
                    self._unknown[rows] = [e.unknown_share for e in encoded]
                    self._negation[rows] = [bool(NEGATION.search(self.texts[i])) for i in rows]
                    self._contrast[rows] = [bool(CONTRAST.search(self.texts[i])) for i in rows]
                    # the prediction path's own batches: a text's answer does not depend on its neighbours
                    for index, ids, lengths in predictor.batches(encoded, self.batch_size):  # (B,), (B, T), (B,)
                        pooled, logits = _pooled_and_logits(model, ids, lengths)
                        probs = torch.softmax(logits.float(), dim=1).cpu().numpy()  # (B, C)
                        vectors = pooled.float().cpu().numpy()  # (B, D)
                        at = rows[index]
                        with self._lock:
                            self._probs[at], self._vectors[at], self._done[at] = probs, vectors, True
                            self._count += len(at)
                            self._seconds = time.monotonic() - self._started
                            done = self._count
                        if on_batch is not None:
                            on_batch(done, self.total)
                    with self._lock:
                        self._chunks_done = self._chunks_done[:1] + [(self._count, self._seconds)]
        finally:
            model.train(was_training)
        with self._lock:
            self._seconds = time.monotonic() - self._started
        return self._assemble(np.arange(self.total), self._probs, self._vectors)

    def _assemble(self, rows: np.ndarray, probs: np.ndarray, vectors: np.ndarray) -> DatasetPredictions:
        """The predictions of set positions ``rows`` (ascending) from their (R, C) probabilities and (R, D) vectors."""
        names, n = self.label_names, len(rows)
        gold, lengths, unknown = self.gold[rows], self._lengths[rows], self._unknown[rows]
        predicted = probs.argmax(1) if n else np.zeros(0, dtype=np.int64)
        slices = _slice_frame(self._negation[rows], self._contrast[rows], lengths, unknown, gold, names)
        classes = np.asarray(names, dtype=object)
        table = pd.DataFrame({
            "text": [self.texts[i] for i in rows], "gold": classes[gold],
            "prediction": classes[predicted], "confidence": probs.max(1) if n else np.zeros(0),
            "p_gold": probs[np.arange(n), gold] if n else np.zeros(0), "correct": predicted == gold,
            "length": lengths, "unknown_share": unknown, "tags": _tags(slices)})
        return DatasetPredictions(self.model_name, names, table, slices, vectors, self.total)

    def progress(self) -> PassProgress:
        """How many examples are done and, from the speed of the batches so far, how long the rest will
        take: the speed of whole chunks (a chunk tokenizes before its batches, so one under way would
        skew it), those after the first once there are some (the first pays the warm-up), less the
        time since the last chunk ended."""
        with self._lock:
            done, seconds, waiting, marks = self._count, self._seconds, self._started is None, self._chunks_done
            if not waiting and done < self.total:
                seconds = time.monotonic() - self._started
        if marks:
            (first_done, first_seconds), (last_done, last_seconds) = ([(0, 0.0)] + marks)[-2:]
            rate = (last_seconds - first_seconds) / (last_done - first_done)  # seconds per example
            left = max(0.0, rate * (self.total - last_done) - (seconds - last_seconds))
        else:
            left = seconds / done * (self.total - done) if done else None
        return PassProgress(done, self.total, seconds, left, waiting)

    def partial(self) -> DatasetPredictions | None:
        """The rows done so far (in the set's order; ``total`` says how many the set has), None before
        the first batch; the whole result once done. Built at most once per ``SNAPSHOT_SECONDS``,
        whoever asks (25,000 rows take about 60 ms)."""
        if self.result is not None:
            return self.result
        with self._lock:
            if self._partial is not None and time.monotonic() - self._partial[0] < SNAPSHOT_SECONDS:
                return self._partial[1]
            if not self._count:
                return None
            rows = np.flatnonzero(self._done)  # (R,)
            probs, vectors = self._probs[rows], self._vectors[rows]  # copies
        found = self._assemble(rows, probs, vectors)
        with self._lock:
            self._partial = (time.monotonic(), found)
        return found

    def wait(self, timeout: float | None = None) -> DatasetPredictions | None:
        """The whole result once done (None if ``timeout`` seconds pass first).

        Raises:
            The pass's own error, when it failed.
        """
        self._finished.wait(timeout)
        if self.error is not None:
            raise self.error
        return self.result


def predict_dataset(bundle: Bundle, texts: Sequence[str], labels: Sequence[int], model_name: str = "model",
                    batch_size: int = 128, chunk_size: int | None = CHUNK_SIZE, on_batch=None) -> DatasetPredictions:
    """Predict every example once, in batches of similar length, and tag its slices (``DatasetPass``).

    Args:
        bundle: the model bundle.
        texts: raw texts.
        labels: gold labels, indices into ``bundle.label_names``.
        model_name: the model's name in messages.
        batch_size: examples per forward pass.
        chunk_size: see ``DatasetPass``.
        on_batch: called with ``(done, total)`` after every batch.

    Returns:
        The predictions table, the automatic slices and the pooled vectors.

    Raises:
        ValueError: texts and labels differ in number, or a label is not a class of the model.
    """
    return DatasetPass(bundle, texts, labels, model_name, batch_size, chunk_size).run(on_batch)


class PredictionCache:
    """A bounded, thread-safe least-recently-used store of ``DatasetPredictions`` per (model version,
    set key), shared by every app session (and by scripts in the same process), with the passes
    that compute them: each model's pass over a set runs once, in the background, however many
    sessions ask for it meanwhile, and memory stays flat (25,000 IMDb reviews with a BiLSTM's
    512-wide vectors take about 50 MB).

    Args:
        max_entries: predictions kept at once.
        max_passes: passes waiting or running at once (more are refused with ``ServerBusyError``).
        parallel: passes running at the same time.
        retry_seconds: how long a failed pass's error is answered instead of starting it again.
    """

    def __init__(self, max_entries: int = 6, max_passes: int = MAX_PASSES, parallel: int = PARALLEL_PASSES,
                 retry_seconds: float = RETRY_SECONDS):
        self.max_entries, self.max_passes, self.retry_seconds = max_entries, max_passes, retry_seconds
        self._items: OrderedDict = OrderedDict()
        self._passes: dict = {}
        self._failed: dict = {}  # key -> (time, error)
        self._lock = threading.Lock()
        self._turns = threading.Semaphore(parallel)

    def __contains__(self, key) -> bool:
        with self._lock:
            return key in self._items

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def start(self, key, make_pass) -> DatasetPredictions | DatasetPass:
        """The stored predictions of ``key``, else the pass computing them (``make_pass()`` started in
        the background when none is under way).

        Raises:
            ServerBusyError: ``max_passes`` other passes are waiting or running.
            The error of a pass for ``key`` that failed less than ``retry_seconds`` ago, and any error
            of ``make_pass``.
        """
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            running = self._passes.get(key)
            if running is not None and running.error is not None:
                raise running.error
            if running is not None:
                return running.result if running.result is not None else running
            failed = self._failed.get(key)
            if failed is not None and time.monotonic() - failed[0] < self.retry_seconds:
                raise failed[1]
            if len(self._passes) >= self.max_passes:
                raise ServerBusyError(f"the server is already predicting {len(self._passes)} other sets (at most "
                                      f"{self.max_passes} at once); open this one again in a minute (their results "
                                      "are kept for everyone)")
            run = make_pass()
            self._passes[key] = run
        threading.Thread(target=self._work, args=(key, run), name="gatescope-dataset-pass", daemon=True).start()
        return run

    def get(self, key, make_pass) -> DatasetPredictions:
        """The predictions of ``key``, waiting for its pass (``start``)."""
        found = self.start(key, make_pass)
        return found.wait() if isinstance(found, DatasetPass) else found

    def _work(self, key, run: DatasetPass) -> None:
        with self._turns:
            try:
                value = run.run()
            except Exception as error:  # kept for the sessions that asked, then retried
                with self._lock:
                    self._passes.pop(key, None)
                    self._failed[key] = (time.monotonic(), error)
                    while len(self._failed) > self.max_entries:
                        self._failed.pop(next(iter(self._failed)))
                return
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.max_entries:
                self._items.popitem(last=False)
            self._passes.pop(key, None)
            self._failed.pop(key, None)


SHARED_PREDICTIONS = PredictionCache()


def automatic_slices(texts: Sequence[str], lengths: Sequence[int], unknown_share: Sequence[float],
                     gold: Sequence[int], label_names: Sequence[str]) -> pd.DataFrame:
    """The automatic slice tags of every example.

    Args:
        texts: raw texts.
        lengths: tokens the model read per text.
        unknown_share: share of those tokens mapped to ``<unk>``.
        gold: gold labels.
        label_names: class names.

    Returns:
        (N, S) boolean frame: ``negation``, ``contrast``, ``unknown words``, one column per length
        bucket present and one ``gold: <class>`` per class.
    """
    return _slice_frame([bool(NEGATION.search(t)) for t in texts], [bool(CONTRAST.search(t)) for t in texts],
                        lengths, unknown_share, gold, label_names)


def _slice_frame(negation: Sequence[bool], contrast: Sequence[bool], lengths: Sequence[int],
                 unknown_share: Sequence[float], gold: Sequence[int], label_names: Sequence[str]) -> pd.DataFrame:
    """``automatic_slices`` from each text's negation and contrast flags."""
    lengths, gold = np.asarray(lengths, dtype=np.int64), np.asarray(gold, dtype=np.int64)  # (N,), (N,)
    columns = {"negation": np.asarray(negation, dtype=bool), "contrast": np.asarray(contrast, dtype=bool),
               "unknown words": np.asarray(unknown_share, dtype=np.float64) > 0}
    bucket = np.searchsorted([b for b, _ in LENGTH_BUCKETS if b is not None], lengths)  # first bound >= length
    for k, (_, name) in enumerate(LENGTH_BUCKETS):
        if (bucket == k).any():
            columns[name] = bucket == k
    for i, name in enumerate(label_names):
        columns[f"gold: {name}"] = gold == i
    return pd.DataFrame(columns, index=range(len(gold)), dtype=bool)


def _tags(slices: pd.DataFrame) -> list[str]:
    """Each row's automatic slices, comma-joined (one join per distinct combination)."""
    flags = slices.to_numpy(dtype=bool)  # (N, S)
    if not len(flags):
        return []
    names = [str(c) for c in slices.columns]  # at most 3 + 5 + 50 classes: a code fits 64 bits
    codes, which = np.unique(flags.astype(np.uint64) @ (np.uint64(1) << np.arange(len(names), dtype=np.uint64)),
                             return_inverse=True)  # (K,), (N,)
    joined = [", ".join(n for j, n in enumerate(names) if int(code) >> j & 1) for code in codes]
    return [joined[k] for k in which.reshape(-1)]


def user_slice(texts: Sequence[str], pattern: str, regex: bool = False) -> np.ndarray:
    """Which texts a user's slice holds, found within a time budget for the whole set.

    The search runs in the ``regex`` package, which releases the GIL and stops at a deadline, so
    a pathological pattern (``^(\\w+\\s?)*$X``) cannot stop the server's other sessions.

    Args:
        texts: raw texts.
        pattern: comma-separated keywords (whole words, any of them, case-insensitive), or a
            regular expression when ``regex`` (case-insensitive search); at most
            ``MAX_SLICE_PATTERN`` characters.
        regex: read ``pattern`` as a regular expression.

    Returns:
        (N,) boolean mask.

    Raises:
        SliceError: an empty, too long or invalid pattern, counted repeats over ``MAX_SLICE_REPEATS``
            (their product), or a search over ``SLICE_SECONDS``.
    """
    if not str(pattern).strip():
        raise SliceError("the slice is empty: type a keyword or a regular expression")
    if len(pattern) > MAX_SLICE_PATTERN:
        raise SliceError(f"the slice is {len(pattern):,} characters long; the limit is {MAX_SLICE_PATTERN}: "
                         "shorten it")
    if regex:
        repeats = math.prod(max(int(low), int(high or 0)) for low, high in REPEAT_COUNT.findall(pattern))
        if repeats > MAX_SLICE_REPEATS:
            raise SliceError(f"the repeat counts in {pattern!r} multiply to {repeats:,}; the limit is "
                             f"{MAX_SLICE_REPEATS:,}: use smaller counts, such as {{2,5}}")
        try:
            compiled = regex_engine.compile(pattern, regex_engine.IGNORECASE)
        except (regex_engine.error, OverflowError, RecursionError) as error:
            raise SliceError(f"{pattern!r} is not a valid regular expression ({error}); for example "
                             r"'\bnot (good|bad)\b'") from None
    else:
        words = [w.strip() for w in pattern.split(",") if w.strip()]
        if not words:
            raise SliceError("the slice is empty: type one keyword or several separated by commas")
        compiled = regex_engine.compile(r"(?<!\w)(?:" + "|".join(regex_engine.escape(w) for w in words)
                                        + r")(?!\w)", regex_engine.IGNORECASE)
    deadline = time.monotonic() + SLICE_SECONDS
    mask = np.zeros(len(texts), dtype=bool)  # (N,)
    try:
        for i, text in enumerate(texts):
            mask[i] = compiled.search(str(text), timeout=max(0.0, deadline - time.monotonic()),
                                      concurrent=True) is not None
    except TimeoutError:
        raise SliceError(f"this pattern took too long (over {SLICE_SECONDS:g} s on {len(texts):,} sentences, "
                         f"stopped at sentence {i + 1:,}); simplify it: avoid a repeat inside a repeat such as "
                         r"'(\w+\s?)*'") from None
    return mask


def wilson_interval(correct: int, count: int) -> tuple[float, float]:
    """95 % Wilson score interval of ``correct / count`` (SciPy); (0, 1) for an empty slice."""
    if count == 0:
        return 0.0, 1.0
    from scipy.stats import binomtest

    ci = binomtest(int(correct), int(count)).proportion_ci(confidence_level=0.95, method="wilson")
    return float(ci.low), float(ci.high)


def slice_accuracy(predictions: DatasetPredictions, extra: dict[str, np.ndarray] | None = None) -> list[SliceAccuracy]:
    """Accuracy per slice (every example first, then the automatic slices, then ``extra``).

    Args:
        predictions: from ``predict_dataset``.
        extra: user slices, name -> (N,) boolean mask.

    Returns:
        One row per slice, empty slices left out.
    """
    correct = predictions.table["correct"].to_numpy()
    masks = {"all": np.ones(len(correct), dtype=bool),
             **{c: predictions.slices[c].to_numpy() for c in predictions.slices.columns}, **(extra or {})}
    rows = []
    for name, mask in masks.items():
        count, right = int(mask.sum()), int(correct[mask].sum())
        if count:
            low, high = wilson_interval(right, count)
            rows.append(SliceAccuracy(name, count, right, right / count, low, high))
    return rows


def mcnemar(correct_a: Sequence[bool], correct_b: Sequence[bool]) -> tuple[int, int, float]:
    """McNemar's exact test of two models on the same examples.

    Args:
        correct_a, correct_b: (N,) whether each model got each example right.

    Returns:
        ``(only_a, only_b, p)``: examples only A gets right, only B gets right, and the two-sided
        exact binomial p-value of ``only_a`` among the discordant ones at 1/2 (SciPy's
        ``binomtest``); p = 1 when there is no discordant example.
    """
    a, b = np.asarray(correct_a, dtype=bool), np.asarray(correct_b, dtype=bool)
    if a.shape != b.shape:
        raise ValueError(f"the two models saw different numbers of examples ({a.size} and {b.size})")
    only_a, only_b = int((a & ~b).sum()), int((~a & b).sum())
    if only_a + only_b == 0:
        return only_a, only_b, 1.0
    from scipy.stats import binomtest

    return only_a, only_b, float(binomtest(only_a, only_a + only_b, 0.5).pvalue)


def _p_text(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}" if p < 0.1 else f"p = {p:.2f}"


def paired_sentence(name_a: str, name_b: str, slice_name: str, only_a: int, only_b: int, p: float,
                    alpha: float = 0.05) -> str:
    """E.g. "the LSTM beats the RNN on negation: 41 vs 17 discordant sentences, p = 0.002"."""
    where = "every example" if slice_name == "all" else slice_name
    counts = f"{only_a} vs {only_b} discordant sentences, {_p_text(p)}"
    if only_a + only_b == 0:
        return f"the {name_a} and the {name_b} agree on every example of {where} (no discordant sentence)"
    if p < alpha:
        winner, loser = (name_a, name_b) if only_a > only_b else (name_b, name_a)
        first, second = max(only_a, only_b), min(only_a, only_b)
        return f"the {winner} beats the {loser} on {where}: {first} vs {second} discordant sentences, {_p_text(p)}"
    return f"the {name_a} and the {name_b} cannot be told apart on {where}: {counts}"


def compare_models(a: DatasetPredictions, b: DatasetPredictions, extra: dict[str, np.ndarray] | None = None,
                   name_a: str | None = None, name_b: str | None = None) -> list[PairedResult]:
    """Two models' predictions on the same examples, slice by slice (A's slices are used).

    Raises:
        ValueError: the two tables do not hold the same texts in the same order.
    """
    if len(a.table) != len(b.table) or not (a.table["text"].to_numpy() == b.table["text"].to_numpy()).all():
        raise ValueError("the two models were not run on the same examples; pick the same source for both")
    name_a, name_b = name_a or a.model, name_b or b.model
    ca, cb = a.table["correct"].to_numpy(), b.table["correct"].to_numpy()
    masks = {"all": np.ones(len(ca), dtype=bool), **{c: a.slices[c].to_numpy() for c in a.slices.columns},
             **(extra or {})}
    rows = []
    for name, mask in masks.items():
        if not mask.any():
            continue
        only_a, only_b, p = mcnemar(ca[mask], cb[mask])
        rows.append(PairedResult(name, int(mask.sum()), float(ca[mask].mean()), float(cb[mask].mean()), only_a, only_b,
                                 p, paired_sentence(name_a, name_b, name, only_a, only_b, p)))
    return rows


def select_rows(predictions: DatasetPredictions, slice_mask: np.ndarray | None = None, outcome: str = "all",
                search: str = "", sort: str = "wrong_first") -> np.ndarray:
    """The table rows a filter keeps, in the chosen order.

    Args:
        predictions: from ``predict_dataset``.
        slice_mask: (N,) rows of the chosen slice (None: every row).
        outcome: ``all``, ``wrong`` or ``correct``.
        search: case-insensitive substring the text must contain ("" keeps every row).
        sort: a key of ``SORTS``.

    Returns:
        Row positions.

    Raises:
        ValueError: an unknown outcome or sort.
    """
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}; valid: {', '.join(OUTCOMES)}")
    if sort not in SORTS:
        raise ValueError(f"unknown sort {sort!r}; valid: {', '.join(SORTS)}")
    table = predictions.table
    keep = np.ones(len(table), dtype=bool) if slice_mask is None else np.asarray(slice_mask, dtype=bool).copy()
    correct = table["correct"].to_numpy()
    if outcome == "wrong":
        keep &= ~correct
    elif outcome == "correct":
        keep &= correct
    if search.strip():
        keep &= table["text"].str.contains(search.strip(), case=False, regex=False).to_numpy()
    rows = np.flatnonzero(keep)
    confidence, length = table["confidence"].to_numpy()[rows], table["length"].to_numpy()[rows]
    if sort == "wrong_first":  # wrong before right; among the wrong, the most confident first
        order = np.lexsort((-confidence, correct[rows]))
    elif sort == "least_confident":
        order = np.argsort(confidence, kind="stable")
    elif sort == "longest":
        order = np.argsort(-length, kind="stable")
    elif sort == "shortest":
        order = np.argsort(length, kind="stable")
    else:
        order = np.arange(len(rows))
    return rows[order]


MAX_POINTS = {"pca": 2000, "tsne": 1000}  # t-SNE takes seconds per hundred points on 2 cores


def project(vectors: np.ndarray, method: str = "pca", max_points: int | None = None, seed: int = 0) -> Projection:
    """A 2-D map of sentence vectors (scikit-learn).

    Args:
        vectors: (N, D) pooled vectors.
        method: ``pca`` (fast, linear, axes that keep the most variance) or ``tsne`` (neighbourhoods).
        max_points: at most this many rows (a seeded sample) are projected (default ``MAX_POINTS``).
        seed: sampling and t-SNE seed.

    Returns:
        The projected rows and their coordinates.

    Raises:
        ValueError: an unknown method or fewer than 3 vectors.
    """
    if method not in PROJECTIONS:
        raise ValueError(f"unknown projection {method!r}; valid: {', '.join(PROJECTIONS)}")
    max_points = max_points or MAX_POINTS[method]
    n = len(vectors)
    if n < 3:
        raise ValueError(f"a map needs at least 3 sentences, got {n}")
    index = np.arange(n)
    if n > max_points:
        index = np.sort(np.random.default_rng(seed).choice(n, max_points, replace=False))
    x = np.asarray(vectors[index], dtype=np.float64)  # (M, D)
    if method == "pca":
        from sklearn.decomposition import PCA

        pca = PCA(n_components=2, random_state=seed)
        xy = pca.fit_transform(x) if x.shape[1] >= 2 else np.column_stack([x[:, 0], np.zeros(len(x))])
        explained = [float(v) for v in getattr(pca, "explained_variance_ratio_", [])]
        return Projection(method, index, xy.astype(np.float32), explained)
    from sklearn.manifold import TSNE

    xy = TSNE(n_components=2, perplexity=min(30.0, (len(x) - 1) / 3), init="pca", random_state=seed).fit_transform(x)
    return Projection(method, index, xy.astype(np.float32))


# ---------------------------------------------------------------- where the examples come from


@dataclass
class LabelledSet:
    """Labelled examples to run a model on.

    Attributes:
        key: a stable name for caches (``eval:imdb_test``, ``run:<name>``, ``upload:<sha>``).
        title: what the page shows.
        texts: raw texts.
        labels: gold labels, indices into ``label_names``.
        label_names: the set's classes.
        notes: how the set was obtained (a fixture instead of the full set, rows dropped).
    """

    key: str
    title: str
    texts: list[str]
    labels: list[int]
    label_names: list[str]
    notes: list[str] = field(default_factory=list)

    def for_model(self, model_labels: Sequence[str]) -> list[int]:
        """The gold labels as indices into a model's classes (matched by name).

        Raises:
            SliceError: a class of the set that the model does not have.
        """
        model_labels = list(model_labels)
        missing = [n for n in self.label_names if n not in model_labels]
        if missing:
            raise SliceError(f"the model's classes ({', '.join(model_labels)}) do not include "
                             f"{', '.join(map(repr, missing))} from {self.title}; pick a set with the same classes")
        return [model_labels.index(self.label_names[y]) for y in self.labels]


def eval_set_names(model_key: str) -> tuple[str, ...]:
    """The evaluation sets a shipped model was measured on (none for other models)."""
    from .pretrained import RECIPES

    recipe = RECIPES.get(model_key)
    return recipe.eval_sets if recipe is not None else ()


def load_eval_set(name: str, mirror=None) -> LabelledSet:
    """A shipped model's evaluation set: in full from the dataset mirror, else its held-out fixture.

    Args:
        name: a key of ``pretrained.EVAL_SETS`` (``imdb_test``, ``sst2_dev``, ``rt_test``, ``airline_test``).
        mirror: the mirror folder (default ``GATESCOPE_DATA_MIRROR``); without one the 200-example
            fixture shipped in ``tests/fixtures`` is used.

    Raises:
        DataError: a configured mirror that is missing or lacks the dataset.
        ValueError: an unknown evaluation set.
    """
    from . import pretrained
    from .data.download import resolve_mirror

    if name not in pretrained.EVAL_SETS:
        raise ValueError(f"unknown evaluation set {name!r}; valid: {', '.join(pretrained.EVAL_SETS)}")
    dataset, description = pretrained.EVAL_SETS[name]
    folder = resolve_mirror(mirror)
    if folder is not None:
        splits = pretrained._make_splits(pretrained._load_dataset(dataset, folder))
        return LabelledSet(f"eval:{name}", description, list(splits.test.texts), list(splits.test.labels),
                           list(splits.label_names), [f"the full set, from the mirror {folder}"])
    rows = pretrained.read_fixture(pretrained.fixture_path(name))
    names = sorted({r[1] for r in rows}, key=lambda n: (n != "negative", n != "neutral", n))
    return LabelledSet(f"fixture:{name}", f"{description}: the {len(rows)}-example held-out sample",
                       [r[0] for r in rows], [names.index(r[1]) for r in rows], names,
                       [("no dataset mirror is configured (GATESCOPE_DATA_MIRROR), so the shipped held-out "
                         f"sample of {len(rows)} examples is used")])


def run_test_set(config: dict, run_name: str, root=None) -> LabelledSet:
    """A run's own test split, rebuilt from its recorded data settings (seeded, so identical); a
    run trained on an upload reads the copy of the file kept in the runs folder.

    Args:
        config: the run's config.json.
        run_name: the run, for messages.
        root: the runs directory (default ``runs.runs_dir()``).

    Raises:
        DataError: the data cannot be loaded again (an upload the server did not keep, or whose
            kept copy is damaged) or has changed since the run trained.
    """
    from .data import selection
    from .errors import DataError
    from .runs import read_kept_upload

    data = dict(config.get("data") or {})
    if data.get("name") == "upload":
        content = read_kept_upload(data, run_name, root)
        _, _, splits = selection.load_upload_splits(content, str(data.get("filename") or "upload.csv"), data)
    else:
        _, splits = selection.load_catalogue_splits(data)
    if data.get("fingerprint") and splits.fingerprint != data["fingerprint"]:
        raise DataError(f"the data of run {run_name!r} has changed since it was trained (fingerprint "
                        f"{splits.fingerprint} instead of {data['fingerprint']}); its test split cannot be rebuilt")
    return LabelledSet(f"run:{run_name}", f"Test split of run {run_name} ({selection.data_label(data)})",
                       list(splits.test.texts), list(splits.test.labels), list(splits.label_names))


def upload_set(content: bytes, filename: str, data: dict | None = None) -> LabelledSet:
    """Every row of an uploaded labelled file (all its parts, not only a test split).

    Raises:
        DataError: what to fix in the file.
    """
    from .data import parse_upload
    from .data.upload import upload_sha

    data = data or {}
    ds, _ = parse_upload(content, filename, text_column=data.get("text_column") or None,
                         label_column=data.get("label_column") or None, threshold=data.get("threshold"))
    texts = [t for part in ds.parts.values() for t in part.texts]
    labels = [y for part in ds.parts.values() for y in part.labels]
    return LabelledSet(f"upload:{upload_sha(content)}", f"Uploaded file {filename} ({len(texts):,} rows)", texts,
                       labels, list(ds.label_names), list(ds.notes))


# ---------------------------------------------------------------- units across the dataset


@dataclass
class UnitSentence:
    """One sentence where a hidden unit is most active.

    Attributes:
        row: the sentence's row in the predictions table.
        tokens: the tokens the model read.
        values: (T,) the unit's hidden state at each token.
        peak: the largest |value| over the sentence.
    """

    row: int
    tokens: list[str]
    values: np.ndarray
    peak: float


def unit_sentences(bundle, texts: Sequence, layer: int, direction: int, unit: int, top: int = 8,
                   n: int = 500, seed: int = 0, batch_size: int = 64) -> list[UnitSentence]:
    """The sentences (of a seeded sample) where one hidden unit reaches its largest |value|.

    Args:
        bundle: a bundle (raw texts) or a bare model (id lists).
        texts: candidate texts (the predictions table's, in its order).
        layer, direction, unit: the unit (``stats.UnitCorrelation`` fields).
        top: sentences returned, most active first.
        n: texts sampled.
        seed: sampling seed.
        batch_size: texts per batched trace.

    Raises:
        ValueError: a unit the model does not have.
    """
    from .encoding import pad_batch
    from .explain.inputs import ExplanationInputError, prepare_input, resolve
    from .explain.trace import run_layers

    model, _ = resolve(bundle)
    cfg = model.config
    if not (0 <= layer < cfg.num_layers and 0 <= direction < cfg.num_directions and 0 <= unit < cfg.hidden_dim):
        raise ValueError(f"the model has no unit {unit} in layer {layer}, direction {direction} "
                         f"({cfg.num_layers} layers, {cfg.num_directions} directions, {cfg.hidden_dim} units)")
    rng = np.random.default_rng(seed)
    chosen = np.sort(rng.choice(len(texts), size=min(n, len(texts)), replace=False)) if len(texts) else []
    prepared = []
    for row in chosen:
        try:
            prepared.append((int(row), prepare_input(bundle, texts[int(row)])))
        except ExplanationInputError:
            continue
    prepared.sort(key=lambda item: item[1].length)
    found: list[UnitSentence] = []
    with torch.inference_mode():
        for start in range(0, len(prepared), batch_size):
            batch = prepared[start:start + batch_size]
            ids = torch.from_numpy(pad_batch([p.ids for _, p in batch], pad_idx=cfg.pad_idx))  # (B, T)
            lengths = torch.tensor([p.length for _, p in batch])
            states, _, _ = run_layers(model, model.embedding(ids.to(next(model.parameters()).device)), lengths)
            hidden = next(s for s in states if (s.layer, s.direction) == (layer, direction)).values["hidden"]
            values = hidden[..., unit].float().cpu().numpy()  # (B, T)
            for b, (row, p) in enumerate(batch):
                v = values[b, :p.length]
                found.append(UnitSentence(row, list(p.tokens), v, float(np.abs(v).max()) if len(v) else 0.0))
    found.sort(key=lambda s: -s.peak)
    return found[:top]
