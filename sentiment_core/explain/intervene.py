"""Gate surgery: re-run the recurrence with gates, cell or hidden units forced to chosen values
at chosen tokens, and compare the prediction, the states and the word-by-word prediction.

The recurrence is recomputed from the model's weights (PyTorch gate order: LSTM i, f, g, o;
GRU r, z, n, with ``h_t = (1 - z) * n + z * h_{t-1}``). An intervention replaces a value right
after it is computed: a gate after its activation (so the rest of the step uses the new value),
the LSTM cell state before ``h = o * tanh(c)``, the hidden state before it is passed on. Every
later step, every later layer, the pooling and the classifier see the changed values.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch

from ..models import SentimentRNN
from .inputs import ModelOrBundle, TextOrIds, label_names, model_device, prepare_input, resolve
from .trace import GATE_NAMES, direction_name, layer_weights
from .trajectory import BIDIRECTIONAL_REASON

TARGETS = {cell: (*gates, *(("cell",) if cell == "lstm" else ()), "hidden")
           for cell, gates in GATE_NAMES.items() if cell != "rnn"}
TARGETS["rnn"] = ("hidden",)  # a plain RNN has no gates: only its hidden state can be changed
ALL_TARGETS = tuple(dict.fromkeys(t for targets in TARGETS.values() for t in targets))
OPS = ("clamp0", "clamp1", "scale", "add")
OP_LABELS = {"clamp0": "set to 0", "clamp1": "set to 1", "scale": "multiply by", "add": "add"}


@dataclass(frozen=True)
class Intervention:
    """One change to the recurrence.

    Attributes:
        target: a gate (``input``, ``forget``, ``cell_candidate``, ``output``; ``reset``,
            ``update``, ``new``), ``cell`` (LSTM) or ``hidden``.
        layer: recurrent layer (0 reads the embeddings).
        direction: 0 forward, 1 backward.
        units: hidden units to change; None for all of them.
        positions: token positions (0-based, reading order) to change; None for every token.
        op: ``clamp0`` (set to 0), ``clamp1`` (set to 1), ``scale`` (multiply by ``value``) or
            ``add`` (add ``value``).
        value: the factor or summand of ``scale`` and ``add`` (ignored by the clamps).
    """

    target: str
    layer: int = 0
    direction: int = 0
    units: tuple[int, ...] | None = None
    positions: tuple[int, ...] | None = None
    op: str = "clamp0"
    value: float = 0.0

    def __post_init__(self) -> None:
        if self.target not in ALL_TARGETS:
            raise ValueError(f"unknown target {self.target!r}; valid: {', '.join(ALL_TARGETS)}")
        if self.op not in OPS:
            raise ValueError(f"unknown operation {self.op!r}; valid: {', '.join(OPS)}")
        if self.direction not in (0, 1):
            raise ValueError(f"direction must be 0 (forward) or 1 (backward), got {self.direction!r}")
        if not np.isfinite(self.value):
            raise ValueError(f"the value must be a finite number, got {self.value!r}")
        for name in ("units", "positions"):
            items = getattr(self, name)
            if items is not None:
                object.__setattr__(self, name, tuple(sorted({int(i) for i in items})))

    def describe(self, tokens: Sequence[str] | None = None) -> str:
        """E.g. ``forget gate set to 0 at 'but' (layer 0 forward, all units)``."""
        what = self.target.replace("_", " ") + ("" if self.target in ("hidden", "cell") else " gate")
        how = OP_LABELS[self.op] + (f" {self.value:g}" if self.op in ("scale", "add") else "")
        if self.positions is None:
            where = "at every token"
        elif tokens is not None:
            where = "at " + ", ".join(f"'{tokens[p]}'" if 0 <= p < len(tokens) else str(p) for p in self.positions)
        else:
            where = "at positions " + ", ".join(map(str, self.positions))
        units = "all units" if self.units is None else "unit" + ("s " if len(self.units) > 1 else " ") + \
            ", ".join(map(str, self.units))
        return f"{what} {how} {where} (layer {self.layer}, {'backward' if self.direction else 'forward'}, {units})"


def check_interventions(model: SentimentRNN, interventions: Sequence[Intervention], length: int) -> None:
    """Check interventions against a model and a text length.

    Raises:
        ValueError: a target the cell does not have, or a layer, direction, unit or position
            that does not exist; the message lists the valid ones.
    """
    cfg = model.config
    for item in interventions:
        if item.target not in TARGETS[cfg.cell]:
            raise ValueError(f"a {cfg.cell.upper()} has no {item.target!r} to change; valid: "
                             f"{', '.join(TARGETS[cfg.cell])}")
        if not 0 <= item.layer < cfg.num_layers:
            raise ValueError(f"layer {item.layer} does not exist; valid: 0..{cfg.num_layers - 1}")
        if item.direction >= cfg.num_directions:
            raise ValueError("direction 1 (backward) needs a bidirectional model; valid: 0")
        if item.units is not None and any(not 0 <= u < cfg.hidden_dim for u in item.units):
            raise ValueError(f"units must be in 0..{cfg.hidden_dim - 1}, got {list(item.units)}")
        if item.positions is not None and any(not 0 <= p < length for p in item.positions):
            raise ValueError(f"token positions must be in 0..{length - 1} (the text has {length} tokens), "
                             f"got {list(item.positions)}")


@dataclass
class DirectionChange:
    """One layer and direction before and after the interventions.

    Attributes:
        layer: layer index.
        direction: 0 forward, 1 backward.
        name: e.g. ``layer 0 forward``.
        gates_before: gate name -> (T, H) values without interventions.
        gates_after: gate name -> (T, H) values with them.
        hidden_before: (T, H) hidden states without interventions.
        hidden_after: (T, H) with them.
        cell_before: (T, H) LSTM cell states without interventions, else None.
        cell_after: (T, H) with them, else None.
    """

    layer: int
    direction: int
    name: str
    gates_before: dict[str, np.ndarray]
    gates_after: dict[str, np.ndarray]
    hidden_before: np.ndarray
    hidden_after: np.ndarray
    cell_before: np.ndarray | None = None
    cell_after: np.ndarray | None = None

    @property
    def hidden_difference(self) -> np.ndarray:
        """(T, H) after minus before."""
        return self.hidden_after - self.hidden_before

    @property
    def cell_difference(self) -> np.ndarray | None:
        """(T, H) after minus before (LSTM), else None."""
        return None if self.cell_before is None else self.cell_after - self.cell_before


@dataclass
class InterventionResult:
    """What the interventions changed.

    Attributes:
        tokens: (T,) the tokens read.
        label_names: class names.
        interventions: the interventions applied.
        logits_before: (C,) logits without interventions (equal to the model's forward pass).
        logits_after: (C,) with them.
        probabilities_before: (C,) class probabilities without interventions.
        probabilities_after: (C,) with them.
        directions: per layer and direction, the gates and states before and after.
        per_token_available: a prediction after each token exists (unidirectional models).
        per_token_before: (T, C) probabilities if the text ended at token t (as
            ``trajectory`` defines them), without interventions; None when not available.
        per_token_after: (T, C) the same with the interventions at positions up to t.
        forward_scores_before: (T, C) bidirectional models: the top forward state after each token
            through the classifier's forward half (as ``trajectory``); else None.
        forward_scores_after: (T, C) the same with the interventions.
        reason: why there is no per-token prediction (empty when there is).
    """

    tokens: list[str]
    label_names: list[str]
    interventions: list[Intervention]
    logits_before: np.ndarray
    logits_after: np.ndarray
    probabilities_before: np.ndarray
    probabilities_after: np.ndarray
    directions: list[DirectionChange]
    per_token_available: bool
    per_token_before: np.ndarray | None = None
    per_token_after: np.ndarray | None = None
    forward_scores_before: np.ndarray | None = None
    forward_scores_after: np.ndarray | None = None
    reason: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def label_before(self) -> str:
        return self.label_names[int(np.argmax(self.probabilities_before))]

    @property
    def label_after(self) -> str:
        return self.label_names[int(np.argmax(self.probabilities_after))]

    @property
    def flipped(self) -> bool:
        """The predicted class changed."""
        return self.label_before != self.label_after

    def get(self, layer: int, direction: int = 0) -> DirectionChange:
        """The change of one layer and direction."""
        for item in self.directions:
            if (item.layer, item.direction) == (layer, direction):
                return item
        raise ValueError(f"no layer {layer} direction {direction}")


def _masks(interventions: Sequence[Intervention], layer: int, direction: int, T: int, H: int,
           device: torch.device) -> dict[str, list[tuple[torch.Tensor, str, float]]]:
    """Per target, the (T, H) boolean masks of the interventions on this layer and direction."""
    out: dict[str, list[tuple[torch.Tensor, str, float]]] = {}
    for item in interventions:
        if (item.layer, item.direction) != (layer, direction):
            continue
        at = torch.zeros(T, dtype=torch.bool, device=device)
        at[list(range(T)) if item.positions is None else list(item.positions)] = True
        units = torch.zeros(H, dtype=torch.bool, device=device)
        units[list(range(H)) if item.units is None else list(item.units)] = True
        mask = at.unsqueeze(1) & units.unsqueeze(0)  # (T, H)
        out.setdefault(item.target, []).append((mask, item.op, float(item.value)))
    return out


def _apply(value: torch.Tensor, changes: list[tuple[torch.Tensor, str, float]], t: int) -> torch.Tensor:
    """``value`` (B, H) with the interventions of step ``t`` applied, in the given order."""
    for mask, op, amount in changes:
        m = mask[t]
        if not bool(m.any()):
            continue
        if op == "clamp0":
            new = torch.zeros_like(value)
        elif op == "clamp1":
            new = torch.ones_like(value)
        elif op == "scale":
            new = value * amount
        else:
            new = value + amount
        value = torch.where(m, new, value)
    return value


def _recur(cell: str, nonlinearity: str, x: torch.Tensor, weights: dict[str, torch.Tensor],
           reverse: bool, changes: dict[str, list]) -> dict[str, torch.Tensor]:
    """One layer and direction of one text with interventions.

    Args:
        cell: ``lstm``, ``gru`` or ``rnn``.
        nonlinearity: plain RNN activation (``tanh`` or ``relu``).
        x: (1, T, I) layer inputs.
        weights: from ``layer_weights``.
        reverse: read right to left.
        changes: target -> masks and operations (from ``_masks``).

    Returns:
        Gate values, ``hidden`` and (LSTM) ``cell``, each (1, T, H).
    """
    T = x.shape[1]
    H = weights["w_hh"].shape[1]
    xp = torch.nn.functional.linear(x[0], weights["w_ih"], weights["b_ih"])  # (T, G*H)
    h = x.new_zeros(1, H)
    c = x.new_zeros(1, H)
    names = GATE_NAMES[cell]
    record = {name: [None] * T for name in (*names, "hidden", *(("cell",) if cell == "lstm" else ()))}
    for t in (range(T - 1, -1, -1) if reverse else range(T)):
        hp = torch.nn.functional.linear(h, weights["w_hh"], weights["b_hh"])  # (1, G*H)
        xt = xp[t:t + 1]  # (1, G*H)
        if cell == "lstm":
            pre = xt + hp
            i, f, g, o = pre.split(H, dim=1)
            gates = {"input": torch.sigmoid(i), "forget": torch.sigmoid(f), "cell_candidate": torch.tanh(g),
                     "output": torch.sigmoid(o)}
            for name in names:
                gates[name] = _apply(gates[name], changes.get(name, []), t)
            c = _apply(gates["forget"] * c + gates["input"] * gates["cell_candidate"], changes.get("cell", []), t)
            h = gates["output"] * torch.tanh(c)
            record["cell"][t] = c
        elif cell == "gru":
            r = _apply(torch.sigmoid(xt[:, :H] + hp[:, :H]), changes.get("reset", []), t)
            z = _apply(torch.sigmoid(xt[:, H:2 * H] + hp[:, H:2 * H]), changes.get("update", []), t)
            n = _apply(torch.tanh(xt[:, 2 * H:] + r * hp[:, 2 * H:]), changes.get("new", []), t)
            gates = {"reset": r, "update": z, "new": n}
            h = (1 - z) * n + z * h  # PyTorch's convention: z = 1 keeps the old state exactly
        else:
            pre = xt + hp
            gates = {"preactivation": pre}
            h = torch.tanh(pre) if nonlinearity == "tanh" else torch.relu(pre)
        h = _apply(h, changes.get("hidden", []), t)
        for name in names:
            record[name][t] = gates[name]
        record["hidden"][t] = h
    return {name: torch.stack(values, dim=1) for name, values in record.items()}  # each (1, T, H)


@dataclass
class _Run:
    states: list[tuple[int, int, dict[str, torch.Tensor]]]
    outputs: torch.Tensor  # (1, T, D*H)
    logits: torch.Tensor  # (C,)
    per_token: torch.Tensor | None  # (T, C) probabilities
    forward_scores: np.ndarray | None  # (T, C)


def _run(model: SentimentRNN, ids: torch.Tensor, interventions: Sequence[Intervention]) -> _Run:
    """The whole model on (1, T) ids with the interventions; no gradients."""
    cfg = model.config
    T, H = ids.shape[1], cfg.hidden_dim
    nonlinearity = getattr(model.rnn, "nonlinearity", "tanh")
    with torch.no_grad():
        x = model.embedding_dropout(model.embedding(ids))  # (1, T, E)
        states, finals = [], []
        for layer in range(cfg.num_layers):
            outs = []
            for direction in range(cfg.num_directions):
                changes = _masks(interventions, layer, direction, T, H, x.device)
                values = _recur(cfg.cell, nonlinearity, x, layer_weights(model, layer, direction), bool(direction),
                                changes)
                states.append((layer, direction, values))
                outs.append(values["hidden"])
                finals.append(values["hidden"][:, 0] if direction else values["hidden"][:, -1])  # (1, H)
            x = torch.cat(outs, dim=2)  # (1, T, D*H)
        h_n = torch.stack(finals)  # (L*D, 1, H)
        mask = torch.ones(1, T, dtype=torch.bool, device=ids.device)
        pooled, _ = model.pool(x, h_n, mask)
        logits = model.head_logits(pooled)[0]  # (C,)
        per_token = forward_scores = None
        if not cfg.bidirectional:
            # the text cut after token t: the first t + 1 states (a left-to-right model's states
            # never depend on later tokens), pooled as the model pools, h_n = the state at t
            prefix_mask = torch.ones(T, T, dtype=torch.bool, device=ids.device).tril()  # (T, T)
            top = x[0]  # (T, H)
            prefix_logits = model.head_logits(model.pool(x.expand(T, T, H), top.unsqueeze(0), prefix_mask)[0])
            per_token = torch.softmax(prefix_logits, dim=1)  # (T, C)
        elif cfg.head != "mlp":
            w_forward = model.classifier.weight.detach()[:, :H]  # (C, H) or (1, H)
            scores = (states[-cfg.num_directions][2]["hidden"][0] @ w_forward.T).cpu().numpy()  # (T, C)
            if cfg.output == "sigmoid":
                scores = np.concatenate([np.zeros_like(scores), scores], axis=1)
            forward_scores = scores
    return _Run(states, x, logits, per_token, forward_scores)


def _arr(values: dict[str, torch.Tensor], key: str) -> np.ndarray | None:
    """(T, H) NumPy copy of ``values[key]`` (1, T, H), or None when absent."""
    return values[key][0].cpu().numpy() if key in values else None


def intervene(model_or_bundle: ModelOrBundle, text_or_ids: TextOrIds,
              interventions: Sequence[Intervention]) -> InterventionResult:
    """Re-run the model on one text with interventions, and compare with the plain run.

    Args:
        model_or_bundle: a bundle (raw text allowed) or a bare model (token ids only).
        text_or_ids: the text, token ids or a prepared input.
        interventions: the changes, applied in order where they overlap.

    Returns:
        Predictions, states and per-token predictions before and after.

    Raises:
        ExplanationInputError: the text cannot be explained.
        ValueError: an intervention does not fit the model or the text (see ``check_interventions``).
    """
    model, _ = resolve(model_or_bundle)
    prepared = prepare_input(model_or_bundle, text_or_ids)
    ids = prepared.tensor(model_device(model))  # (1, T)
    interventions = list(interventions)
    check_interventions(model, interventions, prepared.length)
    before, after = _run(model, ids, []), _run(model, ids, interventions)
    cfg = model.config
    directions = []
    for (layer, direction, old), (_, _, new) in zip(before.states, after.states):
        directions.append(DirectionChange(
            layer, direction, direction_name(layer, direction, cfg.bidirectional),
            {g: _arr(old, g) for g in GATE_NAMES[cfg.cell]}, {g: _arr(new, g) for g in GATE_NAMES[cfg.cell]},
            _arr(old, "hidden"), _arr(new, "hidden"), _arr(old, "cell"), _arr(new, "cell")))
    available = before.per_token is not None
    reason = "" if available else (BIDIRECTIONAL_REASON if before.forward_scores is not None
                                   else BIDIRECTIONAL_REASON.split(" Shown instead")[0])
    as_numpy = lambda t: None if t is None else t.cpu().numpy()  # noqa: E731
    return InterventionResult(
        list(prepared.tokens), label_names(model_or_bundle), interventions,
        before.logits.cpu().numpy(), after.logits.cpu().numpy(),
        torch.softmax(before.logits, 0).cpu().numpy(), torch.softmax(after.logits, 0).cpu().numpy(),
        directions, available, as_numpy(before.per_token), as_numpy(after.per_token),
        before.forward_scores, after.forward_scores, reason, list(prepared.notes))


# ---------------------------------------------------------------- ready-made lessons


@dataclass(frozen=True)
class GateLesson:
    """A ready-made intervention, defined by a trigger word rather than by positions.

    Attributes:
        key: short name (used in links and the API).
        title: the button's label.
        word: the trigger word; every occurrence in the text is changed.
        example: a sentence to try it on.
        changes: per cell, the (target, op, value) triples applied at the word.
        directions: ``forward`` (left-to-right readings only) or ``all``.
        explanation: what the change does, and what it cannot do, in words.
    """

    key: str
    title: str
    word: str
    example: str
    changes: dict[str, tuple[tuple[str, str, float], ...]]
    directions: str
    explanation: str


LESSONS = (
    GateLesson(
        "forget_before_but", "Forget everything before 'but'", "but",
        "The acting was great but the plot was a mess and I left bored",
        {"lstm": (("forget", "clamp0", 0.0),), "gru": (("update", "clamp0", 0.0), ("reset", "clamp0", 0.0))},
        "forward",
        "At 'but' the LSTM's forget gate is set to 0, so its memory cell keeps nothing of the words before "
        "(the GRU's update and reset gates are set to 0, so its new state is built from 'but' alone). Only the "
        "left-to-right reading is changed: for it, 'before' means the words already read. The LSTM's hidden state "
        "from the word before still feeds the gates at 'but', and max or mean pooling still sees the states "
        "before 'but': the memory is wiped, the past is not unseen."),
    GateLesson(
        "ignore_not", "Make it ignore 'not'", "not", "It was not good",
        {"lstm": (("input", "clamp0", 0.0), ("forget", "clamp1", 0.0)), "gru": (("update", "clamp1", 0.0),)},
        "all",
        "At 'not' the LSTM's input gate is closed (0) and its forget gate fully open (1), so the memory cell passes "
        "'not' unchanged; its output gate still reads 'not', so the hidden state there can change a little. The "
        "GRU's update gate is set to 1, so its hidden state skips 'not' exactly (h = h before). Every layer and "
        "direction is changed."),
)
LESSONS_BY_KEY = {lesson.key: lesson for lesson in LESSONS}


def lesson_interventions(lesson: GateLesson | str, model: SentimentRNN, tokens: Sequence[str]) -> list[Intervention]:
    """The interventions of a ready-made lesson for this model and these tokens.

    Args:
        lesson: the lesson or its key.
        model: the model (its cell, layers and directions).
        tokens: the tokens the model reads.

    Returns:
        One intervention per change, layer and direction, at every occurrence of the word.

    Raises:
        ValueError: unknown lesson, a cell the lesson has no gates for (plain RNN), or the word is
            not in the text.
    """
    if isinstance(lesson, str):
        if lesson not in LESSONS_BY_KEY:
            raise ValueError(f"unknown lesson {lesson!r}; valid: {', '.join(LESSONS_BY_KEY)}")
        lesson = LESSONS_BY_KEY[lesson]
    cfg = model.config
    if cfg.cell not in lesson.changes:
        raise ValueError(f"'{lesson.title}' closes gates, and a plain RNN has none: try an LSTM or a GRU "
                         f"(or set the hidden state to 0 at '{lesson.word}').")
    positions = tuple(i for i, token in enumerate(tokens) if token.lower() == lesson.word)
    if not positions:
        raise ValueError(f"the text has no '{lesson.word}': try \"{lesson.example}\".")
    directions = range(cfg.num_directions) if lesson.directions == "all" else (0,)
    return [Intervention(target, layer, direction, None, positions, op, value)
            for layer in range(cfg.num_layers) for direction in directions
            for target, op, value in lesson.changes[cfg.cell]]


def parse_units(text: str, hidden_dim: int) -> tuple[int, ...] | None:
    """Units typed by a person: ``all`` (None), ``17``, ``0, 3, 5`` or ranges such as ``0-7, 12``.

    Raises:
        ValueError: not numbers, or units outside 0..hidden_dim - 1 (the message says which).
    """
    text = str(text).strip().lower()
    if text in ("", "all", "*"):
        return None
    units: set[int] = set()
    for part in text.replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        low, _, high = part.partition("-")
        try:
            start, end = int(low), int(high) if high else int(low)
        except ValueError:
            raise ValueError(f"{part!r} is not a unit number: write 'all', '17', '0, 3, 5' or '0-7'") from None
        if start > end or not (0 <= start and end < hidden_dim):
            raise ValueError(f"units go from 0 to {hidden_dim - 1}; {part!r} is outside")
        units.update(range(start, end + 1))
    return tuple(sorted(units)) if units else None
