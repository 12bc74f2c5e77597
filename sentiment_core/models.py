"""One model class for every architecture: RNN, LSTM, GRU, stacked and/or bidirectional,
with last / mean / max / attention pooling, built from a single ``ModelConfig``."""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from .embeddings import GLOVE_DIM
from .spec import ParamSpec, dataclass_from_dict
from .vocab import PAD_IDX

CELLS = ("rnn", "lstm", "gru")
POOLINGS = ("last", "mean", "max", "attention")
HEADS = ("linear", "per_step", "mlp")
OUTPUTS = ("softmax", "sigmoid")
EMBEDDING_SOURCES = ("random", "glove", "file")
GATES_PER_CELL = {"rnn": 1, "lstm": 4, "gru": 3}
# Limits on every model built, trained, loaded or imported (a bundle or import is checked before it is built).
MAX_VOCAB_SIZE = 600_000  # the largest vocabulary training can make: max_size 200,000 + 400,000 GloVe words
MAX_PARAMETERS = 50_000_000  # 200 MB of float32 weights

MODEL_SPEC = {
    "cell": ParamSpec("lstm", "Recurrent cell: plain RNN (tanh), LSTM (4 gates) or GRU (3 gates).",
                      "Cell", choices=CELLS),
    "bidirectional": ParamSpec(False, "Read the text both ways and join the two summaries (BiLSTM).",
                               "Bidirectional"),
    "num_layers": ParamSpec(1, "Stacked recurrent layers; each reads the previous layer's outputs.",
                            "Layers", min=1, max=4, step=1),
    "emb_dim": ParamSpec(100, "Size of each word vector (GloVe 6B fixes it at 50).",
                         "Embedding size", min=1, max=300, step=1),
    "hidden_dim": ParamSpec(128, "Units in each recurrent layer and direction.",
                            "Hidden size", min=1, max=512, step=1),
    "embedding_dropout": ParamSpec(0.0, "Drop whole embedding features during training.",
                                   "Embedding dropout", min=0.0, max=0.8, step=0.05),
    "layer_dropout": ParamSpec(0.0, "Dropout between stacked layers (needs 2+ layers).",
                               "Between-layer dropout", min=0.0, max=0.8, step=0.05),
    "head_dropout": ParamSpec(0.0, "Dropout before the final linear classifier.",
                              "Head dropout", min=0.0, max=0.8, step=0.05),
    "pooling": ParamSpec("last", "How the sequence of hidden states becomes one vector: last state, "
                         "mean, max over time, or learned attention.", "Pooling", choices=POOLINGS),
    "head": ParamSpec("linear", "The classifier after the recurrent layers: one linear layer on the pooled "
                      "vector; the same linear layer at every time step with the last step's output taken "
                      "(the classic UCI LSTM tutorial); or fc1 -> ReLU -> fc2 on the pooled vector "
                      "(the O'Reilly sarcasm model).", "Classifier head", choices=HEADS),
    "head_hidden": ParamSpec(24, "Units of fc1 in the fc1 -> ReLU -> fc2 head.", "fc1 units",
                             min=1, max=512, step=1),
    "output": ParamSpec("softmax", "Softmax over one score per class (cross-entropy), or one sigmoid output read "
                        "as P(positive) (binary cross-entropy, two classes only).", "Output", choices=OUTPUTS),
    "embeddings": ParamSpec("random", "Start from random vectors, from pretrained GloVe 6B 50d, or from a "
                            "word-vector file of your own (see vectors).", "Embeddings", choices=EMBEDDING_SOURCES),
    "vectors": ParamSpec("", "Word-vector file on the server for embeddings 'file': GloVe, word2vec or fastText "
                         "text, or word2vec binary. The embedding size follows the file.", "Word-vector file"),
    "freeze_embeddings": ParamSpec(False, "Keep the embedding table fixed during training.",
                                   "Freeze embeddings"),
    "packed": ParamSpec(True, "Skip padding with packed sequences. Off reproduces the tutorials, "
                        "where the RNN also reads the <pad> tokens.", "Pack sequences"),
}


@dataclass
class ModelConfig:
    """Everything needed to build a ``SentimentRNN``.

    Attributes:
        vocab_size: rows of the embedding table (including ``<pad>`` and ``<unk>``).
        num_classes: output classes.
        cell: ``rnn``, ``lstm`` or ``gru``.
        bidirectional: add a right-to-left direction (BiLSTM / BiGRU / BiRNN).
        num_layers: stacked recurrent layers.
        emb_dim: embedding size; always ``GLOVE_DIM`` (50) with GloVe embeddings, whatever is passed.
        hidden_dim: hidden units per layer and direction.
        embedding_dropout: dropout on embeddings.
        layer_dropout: dropout between recurrent layers.
        head_dropout: dropout before the classifier.
        pooling: ``last``, ``mean``, ``max`` or ``attention``.
        head: ``linear`` (pooled -> linear), ``per_step`` (linear at every time step, the last
            step's output taken; needs ``pooling="last"``) or ``mlp`` (pooled -> fc1 -> ReLU -> fc2).
        head_hidden: fc1 units of the ``mlp`` head.
        output: ``softmax`` (one logit per class) or ``sigmoid`` (one logit z, P(positive) =
            sigmoid(z); the model returns the logits ``[0, z]``, whose softmax is exactly
            ``[1 - sigmoid(z), sigmoid(z)]``, so cross-entropy on them is binary cross-entropy).
        pad_idx: padding index (its embedding stays zero).
        embeddings: ``random``, ``glove`` or ``file`` (where the initial vectors came from).
        vectors: the word-vector file of ``embeddings="file"`` (its dimension is ``emb_dim``).
        freeze_embeddings: do not train the embedding table.
        packed: use packed sequences so padding is never read.
    """

    vocab_size: int
    num_classes: int = 2
    cell: str = MODEL_SPEC["cell"].default
    bidirectional: bool = MODEL_SPEC["bidirectional"].default
    num_layers: int = MODEL_SPEC["num_layers"].default
    emb_dim: int = MODEL_SPEC["emb_dim"].default
    hidden_dim: int = MODEL_SPEC["hidden_dim"].default
    embedding_dropout: float = MODEL_SPEC["embedding_dropout"].default
    layer_dropout: float = MODEL_SPEC["layer_dropout"].default
    head_dropout: float = MODEL_SPEC["head_dropout"].default
    pooling: str = MODEL_SPEC["pooling"].default
    head: str = MODEL_SPEC["head"].default
    head_hidden: int = MODEL_SPEC["head_hidden"].default
    output: str = MODEL_SPEC["output"].default
    pad_idx: int = PAD_IDX
    embeddings: str = MODEL_SPEC["embeddings"].default
    vectors: str = MODEL_SPEC["vectors"].default
    freeze_embeddings: bool = MODEL_SPEC["freeze_embeddings"].default
    packed: bool = MODEL_SPEC["packed"].default

    def __post_init__(self) -> None:
        if self.embeddings == "glove":  # the GloVe vectors fix the embedding size
            self.emb_dim = GLOVE_DIM
        for name, spec in MODEL_SPEC.items():
            spec.validate(name, getattr(self, name))
        if self.vocab_size < 2:
            raise ValueError("vocab_size must be at least 2 (<pad> and <unk>)")
        if self.num_classes < 2:
            raise ValueError("num_classes must be at least 2")
        if self.embeddings == "file" and not self.vectors:
            raise ValueError("embeddings 'file' needs a word-vector file (vectors=PATH)")
        if self.output == "sigmoid" and self.num_classes != 2:
            raise ValueError("a sigmoid output reads one probability, P(positive): it needs exactly 2 classes")
        if self.head == "per_step" and self.pooling != "last":
            raise ValueError("the per-step head takes the last time step's output: set pooling to 'last'")
        if not 0 <= self.pad_idx < self.vocab_size:
            raise ValueError("pad_idx must index a row of the embedding table")
        if self.vocab_size > MAX_VOCAB_SIZE:
            raise ValueError(f"a vocabulary of {self.vocab_size:,} words is more than the {MAX_VOCAB_SIZE:,} a "
                             "GateScope model may have; use a smaller vocabulary")
        if self.parameter_count > MAX_PARAMETERS:
            raise ValueError(f"this model would have {self.parameter_count:,} parameters, more than the "
                             f"{MAX_PARAMETERS:,} a GateScope model may have; use a smaller vocabulary, embedding "
                             "or hidden size, or fewer layers")

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def output_dim(self) -> int:
        """Size of the pooled vector fed to the classifier."""
        return self.hidden_dim * self.num_directions

    @property
    def classifier_outputs(self) -> int:
        """Rows of the final linear layer: 1 for a sigmoid output, else one per class."""
        return 1 if self.output == "sigmoid" else self.num_classes

    @property
    def parameter_count(self) -> int:
        """Parameters of the model this config builds (``model_summary``'s total), without building it."""
        return sum(row.count for row in model_summary(self))

    @property
    def display_name(self) -> str:
        """E.g. ``BiLSTM x2``."""
        name = ("Bi" if self.bidirectional else "") + self.cell.upper()
        return name + (f" x{self.num_layers}" if self.num_layers > 1 else "")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "ModelConfig":
        """Rebuild from ``to_dict`` output; unknown keys raise ValueError listing valid ones."""
        return dataclass_from_dict(cls, data, "model option")


_RNN_CLASSES = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
# The functions nn.RNN/LSTM/GRU call; used to run one layer and one direction at a time.
_FUNCTIONAL_RNNS = {"rnn": torch.rnn_tanh, "lstm": torch.lstm, "gru": torch.gru}


def _gather_time(tensor: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """``tensor[b, positions[b, t]]`` for (B, T, F) ``tensor`` and (B, T) ``positions``."""
    return tensor.gather(1, positions.unsqueeze(-1).expand(-1, -1, tensor.shape[-1]))


class SentimentRNN(nn.Module):
    """Embedding -> recurrent layers -> pooling -> dropout -> linear classifier."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(config.vocab_size, config.emb_dim, padding_idx=config.pad_idx)
        self.embedding_dropout = nn.Dropout(config.embedding_dropout)
        self.rnn = _RNN_CLASSES[config.cell](
            input_size=config.emb_dim,
            hidden_size=config.hidden_dim,
            num_layers=config.num_layers,
            batch_first=True,
            bidirectional=config.bidirectional,
            dropout=config.layer_dropout if config.num_layers > 1 else 0.0,
        )
        if config.pooling == "attention":
            self.attention = nn.Sequential(
                nn.Linear(config.output_dim, config.output_dim), nn.Tanh(), nn.Linear(config.output_dim, 1, bias=False)
            )
        self.head_dropout = nn.Dropout(config.head_dropout)
        if config.head == "mlp":
            self.fc1 = nn.Linear(config.output_dim, config.head_hidden)
        classifier_in = config.head_hidden if config.head == "mlp" else config.output_dim
        self.classifier = nn.Linear(classifier_in, config.classifier_outputs)
        self.embedding.weight.requires_grad_(not config.freeze_embeddings)

    def lengths_of(self, ids: torch.Tensor) -> torch.Tensor:
        """Number of non-pad tokens per row, at least 1. (B,) int64 on CPU."""
        return (ids != self.config.pad_idx).sum(dim=1).clamp(min=1).cpu()

    def encode(self, embedded: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Run the recurrent layers.

        Args:
            embedded: (B, T, E) inputs, real tokens first (post-padded).
            lengths: (B,) real lengths.

        Returns:
            outputs (B, T, D*H) of the top layer (zeros at padding unless ``packed=False``)
            and the top layer's final hidden state per direction, (D, B, H).
        """
        if self.config.packed:
            # Read the batch unpacked (2-5x faster on CPU, where packed sequences skip oneDNN):
            # post-padding never changes a forward pass's earlier outputs, and the backward
            # direction reads each text reversed within its own length, so it is post-padded too.
            return self._encode_post_padded(embedded, lengths.to(embedded.device))
        outputs, state = self.rnn(embedded)  # the tutorials' way: pads are read like words
        h_n = state[0] if isinstance(state, tuple) else state
        return outputs, h_n[-self.config.num_directions:]

    def _encode_post_padded(self, embedded: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Exactly what packed sequences compute, without packing: (B, T, D*H) outputs, (D, B, H) finals."""
        batch, steps = embedded.shape[:2]
        positions = torch.arange(steps, device=embedded.device).unsqueeze(0)  # (1, T)
        valid = (positions < lengths.unsqueeze(1)).unsqueeze(-1)  # (B, T, 1)
        last = (lengths - 1).clamp(min=0)
        rows = torch.arange(batch, device=embedded.device)
        if not self.config.bidirectional:
            outputs = self.rnn(embedded)[0] * valid.to(embedded.dtype)  # (B, T, H)
            return outputs, outputs[rows, last].unsqueeze(0)
        # reversed[b, t] = t-th token from the end of text b; pads stay where they are
        reversed_positions = torch.where(positions < lengths.unsqueeze(1), last.unsqueeze(1) - positions, positions)
        layer_input = embedded
        for layer in range(self.config.num_layers):
            if layer > 0:
                layer_input = nn.functional.dropout(layer_input, self.rnn.dropout, self.training)
            forward = self._run_direction(layer_input, layer, "")  # (B, T, H)
            backward = _gather_time(self._run_direction(_gather_time(layer_input, reversed_positions), layer, "_reverse"),
                                    reversed_positions)  # (B, T, H), back in reading order
            layer_input = torch.cat([forward, backward], dim=2) * valid.to(embedded.dtype)  # (B, T, 2H)
        hidden = self.config.hidden_dim
        final = torch.stack([layer_input[rows, last, :hidden], layer_input[:, 0, hidden:]])  # (2, B, H)
        return layer_input, final

    def _run_direction(self, inputs: torch.Tensor, layer: int, suffix: str) -> torch.Tensor:
        """One layer, one direction of ``self.rnn`` over (B, T, I) inputs; returns (B, T, H)."""
        names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
        weights = [getattr(self.rnn, f"{name}_l{layer}{suffix}") for name in names]
        h0 = inputs.new_zeros(1, inputs.shape[0], self.config.hidden_dim)
        run = _FUNCTIONAL_RNNS[self.config.cell]
        hx = (h0, h0) if self.config.cell == "lstm" else h0
        outputs, *_ = run(inputs, hx, weights, has_biases=True, num_layers=1, dropout=0.0,
                          train=self.training, bidirectional=False, batch_first=True)
        return outputs

    def pool(self, outputs: torch.Tensor, h_n: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Reduce (B, T, D*H) outputs to (B, D*H).

        Returns:
            The pooled vector and, for attention pooling, the (B, T) attention weights.
        """
        pooling = self.config.pooling
        if self.config.head == "per_step":  # the output at the last time step (the tutorials' out[:, -1])
            last = (mask.sum(dim=1) - 1).clamp(min=0)  # (B,)
            return outputs[torch.arange(outputs.shape[0], device=outputs.device), last], None
        if pooling == "last":
            if self.config.bidirectional:  # forward's final state + backward's state at the first token
                return torch.cat([h_n[-2], h_n[-1]], dim=1), None
            return h_n[-1], None
        maskf = mask.unsqueeze(-1).to(outputs.dtype)  # (B, T, 1)
        if pooling == "mean":
            return (outputs * maskf).sum(1) / maskf.sum(1).clamp(min=1.0), None
        if pooling == "max":
            return outputs.masked_fill(~mask.unsqueeze(-1), float("-inf")).max(dim=1).values, None
        scores = self.attention(outputs).squeeze(-1).masked_fill(~mask, float("-inf"))  # (B, T)
        weights = torch.softmax(scores, dim=1)
        return torch.bmm(weights.unsqueeze(1), outputs).squeeze(1), weights

    def head_logits(self, pooled: torch.Tensor) -> torch.Tensor:
        """The classifier on (B, D*H) pooled vectors: dropout, then linear or fc1 -> ReLU -> fc2.

        Returns:
            (B, C) logits; for a sigmoid output ``[0, z]`` (softmax of it is ``[1 - sigmoid(z), sigmoid(z)]``).
        """
        hidden = self.head_dropout(pooled)
        if self.config.head == "mlp":
            hidden = torch.relu(self.fc1(hidden))  # (B, head_hidden)
        logits = self.classifier(hidden)  # (B, C) or (B, 1)
        if self.config.output == "sigmoid":
            return torch.cat([torch.zeros_like(logits), logits], dim=1)  # (B, 2)
        return logits

    def forward_from_embeddings(self, embedded: torch.Tensor, ids: torch.Tensor,
                                lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Logits from already-embedded inputs (used by gradient-based explanations).

        Args:
            embedded: (B, T, E) embeddings of ``ids``.
            ids: (B, T) token indices, post-padded.
            lengths: (B,) real lengths; computed from ``ids`` when omitted.

        Returns:
            (B, C) logits.
        """
        if lengths is None:
            lengths = self.lengths_of(ids)
        positions = torch.arange(ids.shape[1], device=ids.device)
        if self.config.packed:
            mask = positions.unsqueeze(0) < lengths.to(ids.device).unsqueeze(1)  # (B, T)
        else:
            mask = torch.ones_like(ids, dtype=torch.bool)
        outputs, h_n = self.encode(self.embedding_dropout(embedded), lengths)
        pooled, _ = self.pool(outputs, h_n, mask)
        return self.head_logits(pooled)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Logits for a batch.

        Args:
            ids: (B, T) token indices, post-padded (pre-padded input is only meaningful
                with ``packed=False``, as in the tutorials).
            lengths: (B,) real lengths; computed from ``ids`` when omitted.

        Returns:
            (B, C) logits.
        """
        return self.forward_from_embeddings(self.embedding(ids), ids, lengths)


def build_model(config: ModelConfig, embedding_matrix: torch.Tensor | None = None) -> SentimentRNN:
    """Create the model, copying pretrained vectors into the embedding table when given.

    Args:
        config: the architecture.
        embedding_matrix: optional (vocab_size, emb_dim) initial embeddings.

    Returns:
        The model (on CPU, train mode).
    """
    model = SentimentRNN(config)
    if embedding_matrix is not None:
        if tuple(embedding_matrix.shape) != (config.vocab_size, config.emb_dim):
            raise ValueError(
                f"embedding matrix has shape {tuple(embedding_matrix.shape)}, "
                f"expected ({config.vocab_size}, {config.emb_dim})"
            )
        with torch.no_grad():
            model.embedding.weight.copy_(embedding_matrix)
            model.embedding.weight[config.pad_idx].zero_()
    return model


@dataclass(frozen=True)
class ParamRow:
    """One line of the model summary."""

    layer: str
    shape: str
    count: int
    formula: str
    trainable: bool


def model_summary(config: ModelConfig, keras_biases: bool = False) -> list[ParamRow]:
    """Per-layer parameter counts with the formula behind each.

    PyTorch keeps two bias vectors per gate (``bias_ih`` and ``bias_hh``), so each recurrent
    layer and direction has ``g*H*(in + H) + 2*g*H`` parameters where ``g`` is the number of
    gate blocks (RNN 1, GRU 3, LSTM 4). Mathematically one bias would do; PyTorch keeps
    both for cuDNN compatibility. Keras' SimpleRNN and LSTM keep one (``g*H*(in + H) + g*H``);
    its GRU (``reset_after=True``, the default) keeps two, like PyTorch.

    Args:
        config: the architecture.
        keras_biases: count as Keras does (one bias per gate for RNN and LSTM), to compare
            with a Keras tutorial's ``model.summary()``.

    Returns:
        Rows for the embedding, each recurrent layer/direction, attention and the head.
        Without ``keras_biases`` their counts add up to
        ``sum(p.numel() for p in SentimentRNN(config).parameters())``.
    """
    g, H, E, V = GATES_PER_CELL[config.cell], config.hidden_dim, config.emb_dim, config.vocab_size
    biases = 1 if keras_biases and config.cell in ("rnn", "lstm") else 2
    rows = [ParamRow("embedding", f"{V} x {E}", V * E, f"vocab {V} x emb {E}", not config.freeze_embeddings)]
    for layer in range(config.num_layers):
        in_dim = E if layer == 0 else config.output_dim
        in_name = "emb" if layer == 0 else ("2H" if config.bidirectional else "H")
        for direction in range(config.num_directions):
            count = g * H * in_dim + g * H * H + biases * g * H
            name = f"{config.cell} layer {layer}" + (" (backward)" if direction else (" (forward)" if config.bidirectional else ""))
            bias_shapes = f"b_ih {g * H}, b_hh {g * H}" if biases == 2 else f"b {g * H}"
            rows.append(ParamRow(
                name,
                f"W_ih {g * H}x{in_dim}, W_hh {g * H}x{H}, {bias_shapes}",
                count,
                f"{g}·H·({in_name}+H) + {biases}·{g}·H = {g}·{H}·({in_dim}+{H}) + {biases}·{g}·{H}",
                True,
            ))
    D = config.output_dim
    if config.pooling == "attention" and config.head != "per_step":
        rows.append(ParamRow("attention", f"{D}x{D} + {D} + {D}", D * D + 2 * D,
                             f"W {D}x{D} + b {D} + v {D}", True))
    if config.head == "mlp":
        F = config.head_hidden
        rows.append(ParamRow("fc1", f"{F}x{D} + {F}", F * D + F, f"F·D + F = {F}·{D} + {F}", True))
        D = F
    C = config.classifier_outputs
    name = "classifier (every time step)" if config.head == "per_step" else ("fc2" if config.head == "mlp" else "classifier")
    rows.append(ParamRow(name, f"{C}x{D} + {C}", C * D + C, f"C·D + C = {C}·{D} + {C}", True))
    return rows
