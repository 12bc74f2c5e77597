"""Dataset-level gate statistics (LSTMVis-style): the distribution of every gate's activations
per layer and direction over many texts, how often gates saturate, and the hidden units whose
final value follows the predicted class most closely."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch

from ..encoding import pad_batch
from .inputs import (ModelOrBundle, TextOrIds, label_names, model_device,
                     resolve, sample_inputs)
from .spec import EXPLAIN_SPEC
from .trace import ACTIVATIONS, direction_name, run_layers


@dataclass
class GateHistogram:
    """Distribution of one gate (or state) of one layer and direction over all tokens.

    Attributes:
        layer: layer index.
        direction: 0 forward, 1 backward.
        name: e.g. ``layer 0 forward``.
        gate: gate name, ``hidden`` or ``cell``.
        activation: ``sigmoid`` (range 0..1), ``tanh`` (-1..1) or ``none`` (unbounded).
        bin_edges: (bins + 1,) fixed 0..1 or -1..1 for bounded values, data range otherwise.
        counts: (bins,) values per bin.
        saturated_share: share of values below m or above 1-m (sigmoid), or with |x| > 1-m
            (tanh); None for unbounded values.
        mean: mean value.
        std: standard deviation.
        n_values: tokens x units counted.
        token_means: one (T,) array per text, in ``GateStats`` order (shortest first): the
            mean over units at each token.
    """

    layer: int
    direction: int
    name: str
    gate: str
    activation: str
    bin_edges: np.ndarray
    counts: np.ndarray
    saturated_share: float | None
    mean: float
    std: float
    n_values: int
    token_means: list[np.ndarray] = field(default_factory=list)


@dataclass
class UnitCorrelation:
    """How one hidden unit's final value follows the prediction.

    Attributes:
        layer: layer index.
        direction: 0 forward, 1 backward.
        name: e.g. ``layer 0 forward``.
        unit: unit index.
        r_probability: Pearson correlation between the unit's final value and the predicted
            probability of the class.
        r_label: point-biserial correlation with "predicted as the class" (0/1).
    """

    layer: int
    direction: int
    name: str
    unit: int
    r_probability: float
    r_label: float


@dataclass
class GateStats:
    """Gate statistics over a sample of texts.

    Attributes:
        n_texts: texts used.
        n_tokens: tokens read in total.
        skipped: texts that could not be explained (empty, only unknown words).
        class_index: class whose probability the units are correlated with.
        class_name: its name.
        saturation_margin: m in the saturation rule.
        histograms: one per layer, direction and gate/state.
        top_units: the ``top_k`` units with the largest |r_probability|, strongest first.
    """

    n_texts: int
    n_tokens: int
    skipped: int
    class_index: int
    class_name: str
    saturation_margin: float
    histograms: list[GateHistogram]
    top_units: list[UnitCorrelation]

    def histogram(self, layer: int, direction: int, gate: str) -> GateHistogram:
        """The histogram of one gate of one layer and direction."""
        for h in self.histograms:
            if (h.layer, h.direction, h.gate) == (layer, direction, gate):
                return h
        raise ValueError(f"no histogram for layer {layer}, direction {direction}, gate {gate!r}")


BATCH_TOKENS = 4096  # padded tokens per batched trace: a BiLSTM-256's gate values for them are ~50 MB
BOUNDS = {"sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0)}


@dataclass
class _RunningHistogram:
    """One gate's histogram, mean and spread, added to batch by batch so that a large sample never
    holds every gate value at once. Only unbounded values (``none``: the cell state, a ReLU RNN's
    hidden state) are kept, since their histogram's range is known only at the end."""

    activation: str
    bins: int
    margin: float
    counts: np.ndarray | None = None
    saturated: int = 0
    total: float = 0.0
    squares: float = 0.0
    n: int = 0
    unbounded: list[np.ndarray] = field(default_factory=list)
    token_means: list[np.ndarray] = field(default_factory=list)

    def add(self, values: np.ndarray) -> None:
        """Count (N,) more values."""
        wide = values.astype(np.float64)
        self.total += float(wide.sum())
        self.squares += float(np.square(wide).sum())
        self.n += values.size
        if self.activation not in BOUNDS:
            self.unbounded.append(values)
            return
        low, high = BOUNDS[self.activation]
        counts, _ = np.histogram(np.clip(values, low, high), bins=self.bins, range=(low, high))
        self.counts = counts if self.counts is None else self.counts + counts
        if self.activation == "sigmoid":
            self.saturated += int(np.count_nonzero((values < self.margin) | (values > 1 - self.margin)))
        else:
            self.saturated += int(np.count_nonzero(np.abs(values) > 1 - self.margin))

    def finish(self) -> tuple[np.ndarray, np.ndarray, float | None, float, float]:
        """(bins + 1,) edges, (bins,) counts, the saturated share (None if unbounded), mean, std."""
        mean = self.total / self.n
        std = float(np.sqrt(max(self.squares / self.n - mean ** 2, 0.0)))
        if self.activation in BOUNDS:
            low, high = BOUNDS[self.activation]
            return np.linspace(low, high, self.bins + 1), self.counts, self.saturated / self.n, mean, std
        values = np.concatenate(self.unbounded)
        low, high = float(values.min()), float(values.max())
        if high <= low:
            low, high = low - 0.5, high + 0.5
        counts, edges = np.histogram(values, bins=self.bins, range=(low, high))
        return edges, counts, None, mean, std


def _token_batches(lengths: Sequence[int], budget: int = BATCH_TOKENS) -> list[tuple[int, int]]:
    """(start, stop) ranges over texts sorted shortest first whose padded size stays within
    ``budget`` tokens (a text longer than the budget gets a batch of its own)."""
    ranges, start = [], 0
    for stop in range(1, len(lengths) + 1):
        if stop - start > 1 and (stop - start) * lengths[stop - 1] > budget:
            ranges.append((start, stop - 1))
            start = stop - 1
    return ranges + ([(start, len(lengths))] if start < len(lengths) else [])


def _correlations(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson r between every column of x (N, U) and y (N,); 0 where either is constant."""
    xc, yc = x - x.mean(0), y - y.mean()
    denominator = np.sqrt((xc ** 2).sum(0) * (yc ** 2).sum())
    return np.divide(xc.T @ yc, denominator, out=np.zeros(x.shape[1]), where=denominator > 0)


def gate_statistics(model_or_bundle: ModelOrBundle, texts: Sequence[TextOrIds], n: int = 200, bins: int = 20,
                    saturation_margin: float = 0.05, top_k: int = 10, class_index: int | None = None,
                    seed: int = 0, batch_tokens: int = BATCH_TOKENS) -> GateStats:
    """Collect gate activations over a random sample of texts (e.g. the validation split).

    Args:
        model_or_bundle: a bundle (raw texts) or a bare model (id lists).
        texts: candidate texts.
        n: texts drawn without replacement (all if fewer).
        bins: histogram bins.
        saturation_margin: m: sigmoid gates < m or > 1-m and tanh values with |x| > 1-m are saturated.
        top_k: units reported in ``top_units``.
        class_index: class whose predicted probability units are correlated with (default: the
            last class, the positive one in negative/positive data).
        seed: sampling seed.
        batch_tokens: padded tokens per batched trace (memory grows with it, not with ``n``).

    Returns:
        Histograms per layer, direction and gate, and the most class-correlated units.

    Raises:
        ExplanationInputError: none of the sampled texts can be explained.
    """
    for name, value in (("gate_stats_n", n), ("histogram_bins", bins), ("saturation_margin", saturation_margin),
                        ("top_k_units", top_k)):
        EXPLAIN_SPEC[name].validate(name, value)
    model, _ = resolve(model_or_bundle)
    cfg = model.config
    names = label_names(model_or_bundle)
    class_index = cfg.num_classes - 1 if class_index is None else class_index
    if not 0 <= class_index < cfg.num_classes:
        raise ValueError(f"class {class_index} does not exist; valid: 0..{cfg.num_classes - 1}")
    prepared, skipped = sample_inputs(model_or_bundle, texts, n, seed)
    device = model_device(model)
    running: dict[tuple[int, int, str], _RunningHistogram] = {}
    finals, probs = [], []
    nonlinearity = getattr(model.rnn, "nonlinearity", "tanh")
    with torch.no_grad():
        for start, stop in _token_batches([p.length for p in prepared], batch_tokens):
            batch = prepared[start:stop]
            ids = torch.from_numpy(pad_batch([p.ids for p in batch], pad_idx=cfg.pad_idx)).to(device)  # (B, T)
            lengths = torch.tensor([p.length for p in batch])
            states, outputs, h_n = run_layers(model, model.embedding(ids), lengths)
            valid = (torch.arange(ids.shape[1]).unsqueeze(0) < lengths.unsqueeze(1)).to(device)  # (B, T)
            for s in states:
                for gate, values in s.values.items():  # (B, T, H)
                    if (s.layer, s.direction, gate) not in running:
                        activation = "none" if gate == "hidden" and nonlinearity == "relu" else ACTIVATIONS[gate]
                        running[s.layer, s.direction, gate] = _RunningHistogram(activation, bins, saturation_margin)
                    entry = running[s.layer, s.direction, gate]
                    entry.add(values[valid].cpu().numpy().ravel())
                    means = values.mean(dim=-1).cpu().numpy()  # (B, T)
                    entry.token_means.extend(means[b, :p.length] for b, p in enumerate(batch))
            pooled, _ = model.pool(outputs, h_n, valid)
            probs.append(torch.softmax(model.head_logits(pooled), dim=1).cpu().numpy())  # (B, C)
            finals.append(h_n.permute(1, 0, 2).reshape(len(batch), -1).cpu().numpy())  # (B, L*D*H)
    histograms = []
    for (layer, direction, gate), entry in running.items():
        edges, counts, saturated, mean, std = entry.finish()
        histograms.append(GateHistogram(layer, direction, direction_name(layer, direction, cfg.bidirectional), gate,
                                        entry.activation, edges, counts, saturated, mean, std, entry.n,
                                        entry.token_means))
    final = np.concatenate(finals)  # (N, L*D*H), units ordered layer, direction, unit
    prob = np.concatenate(probs)  # (N, C)
    r_prob = _correlations(final, prob[:, class_index])
    r_label = _correlations(final, (prob.argmax(1) == class_index).astype(np.float64))
    H, D = cfg.hidden_dim, cfg.num_directions
    top = []
    for column in np.argsort(-np.abs(r_prob), kind="stable")[:top_k]:
        layer, rest = divmod(int(column), D * H)
        direction, unit = divmod(rest, H)
        top.append(UnitCorrelation(layer, direction, direction_name(layer, direction, cfg.bidirectional), unit,
                                   float(r_prob[column]), float(r_label[column])))
    return GateStats(len(prepared), sum(p.length for p in prepared), skipped, class_index,
                     names[class_index], saturation_margin, histograms, top)
