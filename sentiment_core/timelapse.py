"""Training time-lapse: snapshots of a few probe sentences while a model trains, and "unit
emergence" over the validation set, stored with the run so its pages can animate them.

A ``TimelapseRecorder`` is a trainer callback. It snapshots the probe sentences before the first
step ("start"), after batches ``EARLY_BATCHES`` of epoch 1 and after every epoch. A snapshot holds,
per probe: the class probabilities, integrated gradients of the probability of one fixed class
(the last one, usually *positive*; ``ig_steps`` steps, pad baseline, as on Explain), every gate's mean over units per token
(rescaled to 0..1 as the Home page's gate overview) and the hidden states of every layer and
direction. At "start" and after every epoch it also measures, on a fixed sample of at most
``sample`` validation texts, for each unit of the vector the classifier reads (the pooled
features, (D·H,)):

- ``correlation`` (C, U): Pearson's r between the unit and "the label is class c";
- ``negation`` and ``contrast`` (U,): how well the unit reads sentences that hold a negation
  word (``NEGATION_WORDS``) or a contrast word (``CONTRAST_WORDS``). Split the sample into the
  texts with such a word and those without; in each part take r between the unit and "the label
  is class c". The unit's score for class c is the smaller |r| of the two parts when both have
  the same sign, else 0; its score is the largest over the classes (0..1). A unit that merely
  spots "good" flips sign on "not good" (its r has opposite signs in the two parts) and scores
  0; a unit that tracks the sentiment whether or not it is negated scores high. The score is
  NaN when either part has fewer than ``MIN_GROUP`` texts.

A unit is *negation-sensitive* (or *contrast-sensitive*) at a point when its score is at least
``SENSITIVE_THRESHOLD`` (0.5); the marker is the first point where any unit is. Untrained units
score about 1/sqrt(part size), far below it.

Everything goes into ``timelapse.safetensors`` in the run folder (tensors plus a JSON header,
no pickle), rewritten atomically after every snapshot, so an interrupted run keeps what it
recorded and a restarted server reads it from disk (``load_timelapse``). Recording never
touches the random number generators, so a run trains to the same weights with or without it.
"""
from __future__ import annotations

import functools
import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from .errors import GateScopeError
from .settings import EXAMPLES
from .spec import ParamSpec, dataclass_from_dict
from .text import NEGATIONS

TIMELAPSE_FILE = "timelapse.safetensors"
FORMAT = "gatescope-timelapse"
FORMAT_VERSION = 1
EARLY_BATCHES = (1, 2, 4, 8)
MAX_PROBES = 8
MAX_PROBE_CHARS = 200
MIN_GROUP = 10
SENSITIVE_THRESHOLD = 0.5
CONTRAST_WORDS = frozenset({"but", "however", "although", "though", "yet", "whereas"})
NEGATION_WORDS = frozenset(NEGATIONS - CONTRAST_WORDS)

DEFAULT_PROBES = "\n".join(EXAMPLES[i] for i in (0, 1, 2, 3))

TIMELAPSE_SPEC = {
    "probes": ParamSpec(DEFAULT_PROBES, f"One sentence per line (at most {MAX_PROBES}): every run records how the "
                        "model reads them after a few early batches and after every epoch, so you can watch "
                        "words like 'not' and 'but' start to matter.", "Probe sentences (time-lapse)"),
    "ig_steps": ParamSpec(16, "Integration steps of each snapshot's integrated gradients (few keep training fast).",
                          "Time-lapse integration steps", min=5, max=64, step=1),
    "sample": ParamSpec(512, "Validation texts on which unit emergence is measured after every epoch.",
                        "Unit-emergence sample", min=32, max=5000, step=32),
}


class TimelapseError(GateScopeError, ValueError):
    """Probe sentences or a time-lapse file that cannot be used."""


def parse_probes(text: str) -> tuple[str, ...]:
    """The probe sentences of a text box: one per non-empty line.

    Raises:
        TimelapseError: no sentence, more than ``MAX_PROBES``, or a line over ``MAX_PROBE_CHARS``.
    """
    lines = tuple(line.strip() for line in str(text).splitlines() if line.strip())
    if not lines:
        raise TimelapseError("type at least one probe sentence (one per line)")
    if len(lines) > MAX_PROBES:
        raise TimelapseError(f"{len(lines)} probe sentences were given; at most {MAX_PROBES} are recorded")
    long = [line for line in lines if len(line) > MAX_PROBE_CHARS]
    if long:
        raise TimelapseError(f"probe sentences are at most {MAX_PROBE_CHARS} characters; "
                             f"'{long[0][:40]}…' has {len(long[0])}")
    return lines


@dataclass
class TimelapseConfig:
    """What a run's time-lapse records; ranges and help live in ``TIMELAPSE_SPEC``.

    Attributes:
        probes: the probe sentences, one per line.
        ig_steps: integration steps per snapshot.
        sample: validation texts for unit emergence.
    """

    probes: str = TIMELAPSE_SPEC["probes"].default
    ig_steps: int = TIMELAPSE_SPEC["ig_steps"].default
    sample: int = TIMELAPSE_SPEC["sample"].default

    def __post_init__(self) -> None:
        if isinstance(self.probes, (list, tuple)):
            self.probes = "\n".join(map(str, self.probes))
        for name, spec in TIMELAPSE_SPEC.items():
            if name != "probes":
                spec.validate(name, getattr(self, name))
        parse_probes(self.probes)

    @property
    def sentences(self) -> tuple[str, ...]:
        return parse_probes(self.probes)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "TimelapseConfig":
        """Rebuild from ``to_dict`` output; unknown keys raise ValueError listing valid ones."""
        return dataclass_from_dict(cls, data or {}, "time-lapse option")


# ---------------------------------------------------------------- what is measured


@dataclass
class ProbeSnapshot:
    """One probe sentence at one moment of training.

    Attributes:
        probabilities: (C,) class probabilities.
        ig: (T,) integrated gradients towards the time-lapse's target class.
        gates: (LD, G, T) each gate's mean over units, rescaled to 0..1.
        hidden: (LD, T, H) hidden states of every layer and direction.
    """

    probabilities: np.ndarray
    ig: np.ndarray
    gates: np.ndarray
    hidden: np.ndarray


def _unit_scale(values: np.ndarray, activation: str) -> np.ndarray:
    """Map (T, H) gate values to 0..1: sigmoid as is, tanh by (x+1)/2, unbounded through tanh."""
    if activation == "tanh":
        return (values + 1.0) / 2.0
    if activation == "none":
        return (np.tanh(values) + 1.0) / 2.0
    return values


@functools.lru_cache(maxsize=8)
def _gauss_legendre(n_steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes and weights on [-1, 1] (Captum's default integration rule)."""
    return np.polynomial.legendre.leggauss(n_steps)


def path_integrated_gradients(model, ids: torch.Tensor, lengths: torch.Tensor, target: int,
                              n_steps: int) -> np.ndarray:
    """Integrated gradients of P(target) over the embeddings, from the all-``<pad>`` baseline, with
    Gauss-Legendre steps, for several texts in one pass: per text the numbers
    ``explain.integrated_gradients`` (Captum) gives with the ``pad`` baseline and ``probability``
    output, without importing Captum into a training worker.

    Args:
        model: the classifier (eval mode).
        ids: (B, T) post-padded token ids.
        lengths: (B,) real lengths (each row is read as its own unpadded text).
        target: the class explained.
        n_steps: integration steps S.

    Returns:
        (B, T) attribution per token (sum over embedding dimensions; 0 at padding).
    """
    from .explain.inputs import logits_per_row, no_cudnn

    B = ids.shape[0]
    nodes, weights = _gauss_legendre(n_steps)
    alphas = torch.tensor(0.5 * (nodes + 1), dtype=torch.float32, device=ids.device).repeat(B).view(-1, 1, 1)  # (B*S, 1, 1)
    scale = torch.tensor(0.5 * weights, dtype=torch.float32, device=ids.device).view(1, -1, 1, 1)  # (1, S, 1, 1)
    with torch.no_grad():
        start = model.embedding(torch.full_like(ids, model.config.pad_idx))  # (B, T, E)
        delta = model.embedding(ids) - start  # (B, T, E)
    rows = ids.repeat_interleave(n_steps, dim=0)  # (B*S, T): text b's steps are rows b*S .. b*S+S-1
    path = (start.repeat_interleave(n_steps, dim=0) + alphas * delta.repeat_interleave(n_steps, dim=0)).requires_grad_(True)
    with no_cudnn(), torch.enable_grad():
        logits = logits_per_row(model, path, rows, lengths.cpu().repeat_interleave(n_steps))  # (B*S, C)
        (grads,) = torch.autograd.grad(torch.softmax(logits, dim=-1)[:, target].sum(), path)  # (B*S, T, E)
    summed = (grads.view(B, n_steps, *grads.shape[1:]) * scale).sum(1)  # (B, T, E)
    return (summed * delta).sum(-1).detach().cpu().numpy()  # (B, T)


def probe_snapshots(bundle, inputs: Sequence, target: int, ig_steps: int) -> list[ProbeSnapshot]:
    """Measure the probe sentences with the model as it is now, all in one batch (call with the
    model in eval mode). Each text is read as on its own: its gates and states are ``trace``'s,
    its integrated gradients ``path_integrated_gradients``'.

    Args:
        bundle: the run's bundle (its model is the one being trained).
        inputs: the probes as ``ExplainInput``s.
        target: the class integrated gradients explain.
        ig_steps: integration steps.

    Returns:
        One snapshot per probe (NumPy arrays on the CPU).
    """
    from .encoding import pad_batch
    from .explain.trace import ACTIVATIONS, GATE_NAMES, run_layers

    if not inputs:
        return []
    model = bundle.model
    device = next(model.parameters()).device
    ids = torch.from_numpy(pad_batch([p.ids for p in inputs], side="post", pad_idx=model.config.pad_idx)).to(device)
    lengths = torch.tensor([p.length for p in inputs], dtype=torch.int64)
    with torch.no_grad():
        states, outputs, h_n = run_layers(model, model.embedding_dropout(model.embedding(ids)), lengths)
        mask = (torch.arange(ids.shape[1]).unsqueeze(0) < lengths.unsqueeze(1)).to(device)  # (B, T)
        probs = torch.softmax(model.head_logits(model.pool(outputs, h_n, mask)[0]), dim=-1).cpu().numpy()  # (B, C)
    ig = path_integrated_gradients(model, ids, lengths, target, ig_steps)  # (B, T)
    gate_names = GATE_NAMES[model.config.cell]
    values = [{k: v.float().cpu().numpy() for k, v in state.values.items()} for state in states]  # each (B, T, H)
    out = []
    for b, p in enumerate(inputs):
        T = p.length
        gates = np.stack([np.stack([_unit_scale(v[g][b, :T], ACTIVATIONS.get(g, "sigmoid")).mean(axis=1)
                                    for g in gate_names]) for v in values])  # (LD, G, T)
        hidden = np.stack([v["hidden"][b, :T] for v in values])  # (LD, T, H)
        out.append(ProbeSnapshot(probs[b].astype(np.float32), ig[b, :T].astype(np.float32),
                                 gates.astype(np.float32), hidden.astype(np.float32)))
    return out


def pooled_features(model, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """The vector the classifier reads, as ``SentimentRNN.forward_from_embeddings`` computes it.

    Args:
        model: the classifier (in eval mode).
        ids: (B, T) post-padded token ids.
        lengths: (B,) real lengths.

    Returns:
        (B, D·H) pooled features.
    """
    embedded = model.embedding_dropout(model.embedding(ids))  # (B, T, E)
    if model.config.packed:
        mask = torch.arange(ids.shape[1], device=ids.device).unsqueeze(0) < lengths.to(ids.device).unsqueeze(1)
    else:
        mask = torch.ones_like(ids, dtype=torch.bool)
    outputs, h_n = model.encode(embedded, lengths)
    return model.pool(outputs, h_n, mask)[0]


@dataclass
class EmergenceSample:
    """The fixed validation sample unit emergence is measured on.

    Attributes:
        ids: token ids per text.
        labels: (N,) class indices.
        negation: (N,) the text holds a negation word.
        contrast: (N,) the text holds a contrast word.
    """

    ids: list[list[int]]
    labels: np.ndarray
    negation: np.ndarray
    contrast: np.ndarray


def emergence_sample(validation, vocab, size: int, seed: int = 0) -> EmergenceSample:
    """A seeded sample of at most ``size`` encoded validation texts and which of them hold a
    negation or a contrast word (by vocabulary index; words the vocabulary lacks cannot count).

    Args:
        validation: ``EncodedExamples``.
        vocab: the run's vocabulary.
        size: largest sample.
        seed: sampling seed (its own generator: training's random state is untouched).
    """
    rng = np.random.default_rng(seed)
    n = len(validation)
    index = np.sort(rng.choice(n, size=min(size, n), replace=False)) if n else np.arange(0)
    ids = [list(validation.ids[i]) or [0] for i in index]
    itos = vocab.get_itos()
    negation = {i for i, word in enumerate(itos) if word in NEGATION_WORDS}
    contrast = {i for i, word in enumerate(itos) if word in CONTRAST_WORDS}
    return EmergenceSample(ids, np.asarray([validation.labels[i] for i in index], dtype=np.int64),
                           np.asarray([bool(negation.intersection(s)) for s in ids]),
                           np.asarray([bool(contrast.intersection(s)) for s in ids]))


def correlations(features: np.ndarray, labels: np.ndarray, num_classes: int) -> np.ndarray:
    """(C, U) Pearson r between every unit and "the label is class c" (0 where either side is constant)."""
    x = features - features.mean(axis=0)  # (N, U)
    out = np.zeros((num_classes, features.shape[1]), dtype=np.float32)
    for c in range(num_classes):
        y = (labels == c).astype(np.float64)
        y -= y.mean()
        denom = np.sqrt((x ** 2).sum(axis=0) * (y ** 2).sum())
        out[c] = np.where(denom > 0, (x * y[:, None]).sum(axis=0) / np.where(denom > 0, denom, 1.0), 0.0)
    return out


def consistent_correlation(features: np.ndarray, labels: np.ndarray, flag: np.ndarray,
                           num_classes: int) -> np.ndarray:
    """Per unit, how well it tracks the class both in texts with a word kind and in those without.

    Args:
        features: (N, U) unit values.
        labels: (N,) classes.
        flag: (N,) the text holds the word kind (a negation, a contrast word).
        num_classes: C.

    Returns:
        (U,) scores in 0..1 (see the module docstring), NaN when either part has fewer than ``MIN_GROUP`` texts.
    """
    flag = np.asarray(flag, dtype=bool)
    if flag.sum() < MIN_GROUP or (~flag).sum() < MIN_GROUP:
        return np.full(features.shape[1], np.nan, dtype=np.float32)
    with_word = correlations(features[flag], labels[flag], num_classes)  # (C, U)
    without = correlations(features[~flag], labels[~flag], num_classes)  # (C, U)
    agree = np.sign(with_word) == np.sign(without)
    return np.where(agree, np.minimum(np.abs(with_word), np.abs(without)), 0.0).max(axis=0).astype(np.float32)


@dataclass
class EmergencePoint:
    """Unit emergence at one moment: correlation (C, U), negation (U,) and contrast (U,) scores."""

    correlation: np.ndarray
    negation: np.ndarray
    contrast: np.ndarray


def measure_emergence(model, sample: EmergenceSample, num_classes: int, padding: str = "post",
                      batch_size: int = 256) -> EmergencePoint:
    """Unit emergence of ``model`` (in eval mode) on ``sample``.

    Args:
        model: the classifier.
        sample: the texts.
        num_classes: C.
        padding: the side batches are padded on, as in training (``Bundle.batch_padding``).
        batch_size: texts per forward pass.
    """
    from .encoding import pad_batch

    device = next(model.parameters()).device
    rows = []
    with torch.no_grad():
        for start in range(0, len(sample.ids), batch_size):
            chunk = sample.ids[start:start + batch_size]
            ids = torch.from_numpy(pad_batch(chunk, side=padding, pad_idx=model.config.pad_idx)).to(device)
            lengths = torch.tensor([len(s) for s in chunk], dtype=torch.int64)
            rows.append(pooled_features(model, ids, lengths).float().cpu())
    features = torch.cat(rows).numpy().astype(np.float64) if rows else np.zeros((0, model.config.output_dim))
    return EmergencePoint(correlations(features, sample.labels, num_classes),
                          consistent_correlation(features, sample.labels, sample.negation, num_classes),
                          consistent_correlation(features, sample.labels, sample.contrast, num_classes))


# ---------------------------------------------------------------- what is stored


@dataclass
class Marker:
    """The first point where a unit's score reached ``SENSITIVE_THRESHOLD``.

    Attributes:
        kind: ``negation`` or ``contrast``.
        point: index into ``Timelapse.emergence_labels``.
        label: e.g. ``epoch 2``.
        unit: the unit with the largest score there.
        score: its score.
    """

    kind: str
    point: int
    label: str
    unit: int
    score: float


@dataclass
class Probe:
    """One probe sentence over the whole run: tokens and (S, ...) stacks of its snapshots.

    Attributes:
        text: as typed.
        tokens: (T,) the tokens the model reads.
        unknown: (T,) token read as ``<unk>``.
        probabilities: (S, C).
        ig: (S, T).
        gates: (S, LD, G, T), 0..1.
        hidden: (S, LD, T, H).
    """

    text: str
    tokens: list[str]
    unknown: list[bool]
    probabilities: np.ndarray
    ig: np.ndarray
    gates: np.ndarray
    hidden: np.ndarray


@dataclass
class Timelapse:
    """A run's recorded time-lapse.

    Attributes:
        labels: (S,) snapshot names (``start``, ``epoch 1 · batch 2``, ``epoch 3``).
        epochs: (S,) training progress of each snapshot in epochs (0 = start, 0.25 = a quarter of epoch 1).
        probes: the probe sentences that could be read (see ``skipped``).
        skipped: probe sentences left out, with why.
        label_names: class names.
        target: class integrated gradients explain.
        directions: layer/direction names (``layer 0 forward``).
        gates: gate names.
        emergence_labels: (E,) names of the emergence points (``start``, ``epoch 1``, ...).
        correlation: (E, C, U).
        negation: (E, U) scores (NaN where not measurable).
        contrast: (E, U).
        sample_size: validation texts measured.
        sample_negation: how many of them hold a negation word.
        sample_contrast: how many hold a contrast word.
        markers: first negation- and contrast-sensitive units (when they appeared).
        threshold: ``SENSITIVE_THRESHOLD`` when recorded.
    """

    labels: list[str]
    epochs: list[float]
    probes: list[Probe]
    skipped: list[str]
    label_names: list[str]
    target: int
    directions: list[str]
    gates: list[str]
    emergence_labels: list[str]
    correlation: np.ndarray
    negation: np.ndarray
    contrast: np.ndarray
    sample_size: int
    sample_negation: int
    sample_contrast: int
    markers: list[Marker] = field(default_factory=list)
    threshold: float = SENSITIVE_THRESHOLD

    @property
    def target_name(self) -> str:
        return self.label_names[self.target]

    def marker(self, kind: str) -> Marker | None:
        return next((m for m in self.markers if m.kind == kind), None)


def find_markers(labels: Sequence[str], negation: np.ndarray, contrast: np.ndarray,
                 threshold: float = SENSITIVE_THRESHOLD) -> list[Marker]:
    """The first point where some unit's score reaches ``threshold``, per kind.

    Args:
        labels: (E,) point names.
        negation, contrast: (E, U) scores.
        threshold: the sensitivity threshold.
    """
    out = []
    for kind, scores in (("negation", negation), ("contrast", contrast)):
        for point, row in enumerate(np.asarray(scores, dtype=np.float64)):
            row = np.where(np.isfinite(row), row, -1.0)
            if row.size and row.max() >= threshold:
                unit = int(row.argmax())
                out.append(Marker(kind, point, str(labels[point]), unit, float(row[unit])))
                break
    return out


def _write_atomic(path: Path, tensors: dict[str, np.ndarray], meta: dict) -> None:
    from safetensors.numpy import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-timelapse-", suffix=".safetensors")
    os.close(fd)
    try:
        save_file({k: np.ascontiguousarray(v) for k, v in tensors.items()}, tmp,
                  metadata={"gatescope_timelapse": json.dumps(meta, separators=(",", ":"))})
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def load_timelapse(path: str | os.PathLike) -> Timelapse | None:
    """Read ``timelapse.safetensors`` (a run folder or the file itself).

    Returns:
        The time-lapse, or None when the run recorded none (older runs).

    Raises:
        TimelapseError: the file exists but is damaged or of another format.
    """
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if path.is_dir():
        path = path / TIMELAPSE_FILE
    if not path.is_file():
        return None
    try:
        with safe_open(str(path), framework="np") as handle:
            meta = json.loads((handle.metadata() or {})["gatescope_timelapse"])
            arrays = {key: handle.get_tensor(key) for key in handle.keys()}
        if meta.get("format") != FORMAT or int(meta.get("format_version", 0)) > FORMAT_VERSION:
            raise ValueError(f"format {meta.get('format')!r} version {meta.get('format_version')}")
        probes = [Probe(p["text"], list(p["tokens"]), [bool(u) for u in p["unknown"]],
                        *(arrays[f"probe{i}.{name}"].astype(np.float32) for name in ("probabilities", "ig", "gates", "hidden")))
                  for i, p in enumerate(meta["probes"])]
        return Timelapse(list(meta["labels"]), [float(e) for e in meta["epochs"]], probes, list(meta["skipped"]),
                         list(meta["label_names"]), int(meta["target"]), list(meta["directions"]), list(meta["gates"]),
                         list(meta["emergence_labels"]), arrays["correlation"].astype(np.float32),
                         arrays["negation"].astype(np.float32), arrays["contrast"].astype(np.float32),
                         int(meta["sample_size"]), int(meta["sample_negation"]), int(meta["sample_contrast"]),
                         [Marker(**m) for m in meta["markers"]], float(meta["threshold"]))
    except (SafetensorError, OSError, ValueError, KeyError, TypeError) as error:
        raise TimelapseError(f"the time-lapse file {path.name} cannot be read ({error})") from None


# ---------------------------------------------------------------- the recorder


class TimelapseRecorder:
    """Trainer callback that records the time-lapse into ``path`` (see the module docstring).

    ``train_on_splits`` calls ``on_train_start(bundle, prepared)`` before the first step; the
    recorder then follows ``on_batch_end`` and ``on_epoch_end``.

    Args:
        path: the file to write (``<run folder>/timelapse.safetensors``).
        config: probes and sizes.
    """

    def __init__(self, path: str | os.PathLike, config: TimelapseConfig | None = None):
        self.path = Path(path)
        self.config = config or TimelapseConfig()
        self.bundle = None
        self.inputs: list = []
        self.skipped: list[str] = []
        self.labels: list[str] = []
        self.epochs: list[float] = []
        self.snapshots: list[list[ProbeSnapshot]] = []
        self.emergence_labels: list[str] = []
        self.points: list[EmergencePoint] = []
        self.sample: EmergenceSample | None = None

    # -- trainer hooks
    def on_train_start(self, bundle, prepared) -> None:
        from .explain.inputs import ExplanationInputError, prepare_input

        self.bundle = bundle
        model = bundle.model
        was_training = model.training
        model.eval()
        for text in self.config.sentences:
            try:
                self.inputs.append((text, prepare_input(bundle, text)))
            except ExplanationInputError as error:
                self.skipped.append(f"'{text}': {error}")
        model.train(was_training)
        self.sample = emergence_sample(prepared.validation, bundle.vocab, self.config.sample)
        self._record("start", 0.0, emergence=True)

    def on_batch_end(self, info) -> None:
        if info.epoch == 1 and info.batch in EARLY_BATCHES and info.batch < info.batches_per_epoch:
            self._record(f"epoch 1 · batch {info.batch}", info.batch / info.batches_per_epoch, emergence=False)

    def on_epoch_end(self, info) -> None:
        self._record(f"epoch {info.epoch}", float(info.epoch), emergence=True)

    # -- recording
    @property
    def target(self) -> int:
        return len(self.bundle.label_names) - 1

    def _record(self, label: str, epoch: float, emergence: bool) -> None:
        if self.bundle is None:
            return
        model = self.bundle.model
        was_training = model.training
        model.eval()
        try:
            self.snapshots.append(probe_snapshots(self.bundle, [p for _, p in self.inputs], self.target,
                                                  self.config.ig_steps))
            self.labels.append(label)
            self.epochs.append(epoch)
            if emergence:
                self.points.append(measure_emergence(model, self.sample, len(self.bundle.label_names),
                                                     self.bundle.batch_padding))
                self.emergence_labels.append(label)
        finally:
            model.train(was_training)
        self.write()

    def write(self) -> None:
        """Write everything recorded so far (atomically)."""
        from .explain.trace import GATE_NAMES, direction_name

        tensors: dict[str, np.ndarray] = {}
        for i in range(len(self.inputs)):
            series = [snap[i] for snap in self.snapshots]
            tensors[f"probe{i}.probabilities"] = np.stack([s.probabilities for s in series]).astype(np.float32)
            tensors[f"probe{i}.ig"] = np.stack([s.ig for s in series]).astype(np.float32)
            tensors[f"probe{i}.gates"] = np.stack([s.gates for s in series]).astype(np.float16)
            tensors[f"probe{i}.hidden"] = np.stack([s.hidden for s in series]).astype(np.float16)
        tensors["correlation"] = np.stack([p.correlation for p in self.points]).astype(np.float32)
        tensors["negation"] = np.stack([p.negation for p in self.points]).astype(np.float32)
        tensors["contrast"] = np.stack([p.contrast for p in self.points]).astype(np.float32)
        cfg = self.bundle.model.config
        meta = {
            "format": FORMAT, "format_version": FORMAT_VERSION, "labels": self.labels, "epochs": self.epochs,
            "probes": [{"text": text, "tokens": list(p.tokens), "unknown": [bool(u) for u in p.unknown]}
                       for text, p in self.inputs],
            "skipped": self.skipped, "label_names": list(self.bundle.label_names), "target": self.target,
            "directions": [direction_name(layer, d, cfg.bidirectional) for layer in range(cfg.num_layers)
                           for d in range(cfg.num_directions)],
            "gates": list(GATE_NAMES[cfg.cell]), "emergence_labels": self.emergence_labels,
            "sample_size": len(self.sample.ids), "sample_negation": int(self.sample.negation.sum()),
            "sample_contrast": int(self.sample.contrast.sum()),
            "markers": [asdict(m) for m in find_markers(self.emergence_labels, tensors["negation"],
                                                         tensors["contrast"])],
            "threshold": SENSITIVE_THRESHOLD,
            "ig_steps": self.config.ig_steps,
        }
        _write_atomic(self.path, tensors, meta)
