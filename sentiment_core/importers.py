"""Import a model trained with the classic tutorials' own code as a normal GateScope bundle.

Two weight formats, neither of which executes code from the file:

* PyTorch ``state_dict`` files (``.pt``, ``.pth``, ``.pkl``), read with
  ``torch.load(weights_only=True)``; a pickled whole model (``torch.save(model)``) is refused.
* Keras weights (``.h5`` from Keras 2, ``.keras``/``.weights.h5`` from Keras 3), read with
  ``h5py``: Embedding, SimpleRNN, LSTM, GRU, Bidirectional and Dense layers.

The architecture (cell, layers, directions, sizes, head, sigmoid or softmax output) is inferred
from tensor names and shapes; only what weights cannot say is asked for (how the sequence is
pooled, padding side, max length, label names). The vocabulary is a JSON word -> index dict
(index 0 = padding, as the UCI tutorial and Keras' Tokenizer make it), a JSON list or text
file of tokens in index order (torchtext's ``itos``), or a Keras ``tokenizer.to_json()`` file.

Embedding rows are reordered so that ``<pad>`` is 0 and ``<unk>`` is 1, as GateScope's
vocabulary needs; a model is unchanged by the reordering (each word keeps its vector).

How the tutorial read text is chosen as a preset (``TEXT_PRESETS``, one per tutorial family) and
recorded in the bundle: its tokenizer (``TokenizerConfig``), unknown-word policy, truncation and
fixed-length padding (``EncodingConfig``), which ``Predictor.encode`` applies everywhere.
"""
from __future__ import annotations

import io
import pickle
import re
import struct
import tempfile
import zipfile
import zlib
from contextlib import contextmanager
import string
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch

from .checkpoint import Bundle, library_versions
from .data.types import check_label_names
from .encoding import ENCODING_SPEC, UNKNOWN_POLICIES, EncodingConfig
from .errors import CheckpointError
from .files import parse_json, read_named_file
from .models import GATES_PER_CELL, MAX_PARAMETERS, MAX_VOCAB_SIZE, MODEL_SPEC, ModelConfig, build_model
from .text import KERAS_FILTERS, STOPWORD_LISTS, TokenizerConfig
from .vocab import PAD_TOKEN, UNK_TOKEN, Vocab

TORCH_SUFFIXES = (".pt", ".pth", ".pkl", ".bin")
KERAS_SUFFIXES = (".h5", ".hdf5", ".keras")
HEAD_INPUTS = ("final", "last_step", "mean", "max")
HEAD_INPUT_HELP = {
    "final": "the recurrent layer's final hidden state (PyTorch tutorials' hidden[-1], Keras' default)",
    "last_step": "a linear layer at every time step, the last step's output taken (the UCI LSTM tutorial)",
    "mean": "the mean over time steps (global average pooling, the O'Reilly sarcasm model)",
    "max": "the maximum over time steps (global max pooling)",
}
PAD_NAMES = ("", "<pad>", "<PAD>")
UNK_NAMES = ("<unk>", "<UNK>", "<OOV>", "<oov>")
_RNN_KEY = re.compile(r"^(?P<module>.+)\.weight_ih_l(?P<layer>\d+)(?P<reverse>_reverse)?$")
# Limits on what a file may make GateScope read; each is checked on what the file declares before reading.
MAX_TEXT_FILE_BYTES = 32 * 2**20  # a vocabulary file, or a .keras model's config.json, is read whole
MAX_ARCHIVE_MEMBERS = 100  # files inside a .keras archive (Keras writes 3)
MAX_MEMBER_BYTES = 256 * 2**20  # model.weights.h5 unpacked from a .keras archive (streamed to a temporary file)
MAX_ARCHIVE_BYTES = 512 * 2**20  # all files of a .keras archive unpacked, as its directory declares them
_ZIP_DIRECTORY_BYTES = MAX_ARCHIVE_MEMBERS * (46 + 1024)  # directory entries of MAX_ARCHIVE_MEMBERS, names to 1 KiB
_CHUNK = 2**20
MAX_NAMES_BYTES = 2**20  # an HDF5 group's layer_names / weight_names, read whole
LAMBDA_LAYERS = ("Lambda", "TFOpLambda", "SlicingOpLambda")  # Keras layers that run code and hold no weights


class ModelImportError(CheckpointError):
    """The file cannot be imported; the message says what to change."""


@dataclass(frozen=True)
class TextPreset:
    """How one tutorial family reads text: its tokenizer and what its code does with the ids.

    Attributes:
        title: the tutorials it reproduces.
        tokenizer: ``TokenizerConfig`` fields.
        unknown: the unknown-word policy (``UNKNOWN_POLICIES``); ``keras``: from the tokenizer's
            ``oov_token``.
        fixed_length: every text padded to ``max_len`` (``EncodingConfig.fixed_length``).
        padding: the side pads go on.
        truncation: the end long texts lose; None: ``post`` for PyTorch, ``pre`` for Keras.
    """

    title: str
    tokenizer: dict
    unknown: str
    fixed_length: bool
    padding: str
    truncation: str | None


_TUTORIAL_TEXT = dict(clean=False, split_sentences=False)  # the tutorials read text as written
TEXT_PRESETS = {
    "whitespace": TextPreset("GateScope's first importer (whitespace split, punctuation-only tokens dropped)",
                             dict(kind="whitespace", strip_punctuation=True), "unk", False, "pre", None),
    "gatescope": TextPreset("GateScope's own tokenizer (as its trained models read text)", {}, "unk", False, "post", None),
    "chapters": TextPreset("the UCI LSTM and IMDb RNN chapters (punctuation deleted, vocab_to_int.get(word, 0), "
                           "pad_features: zeros before the text, cut after max_len)",
                           dict(kind="chars", strip_chars=string.punctuation, **_TUTORIAL_TEXT), "pad", True, "pre", "post"),
    "keras": TextPreset("Keras' Tokenizer and pad_sequences (settings read from tokenizer.to_json())",
                        dict(kind="chars", filters=KERAS_FILTERS, split=" ", **_TUTORIAL_TEXT), "keras", True, "pre", "pre"),
    "sarcasm": TextPreset("the sarcasm-style BiLSTM (punctuation deleted, NLTK's English stopwords removed, <OOV>, "
                          "padded and cut after the text)",
                          dict(kind="chars", strip_chars=string.punctuation, remove_stopwords=True,
                               stopwords="nltk_english", keep_negations=False, **_TUTORIAL_TEXT), "unk", True, "post", "post"),
    "torchtext": TextPreset("torchtext's basic_english tokenizer and vocabulary (<unk>; each text at its own length)",
                            dict(kind="basic_english", **_TUTORIAL_TEXT), "unk", False, "post", "post"),
}
STOPWORD_CHOICES = ("none", *STOPWORD_LISTS)


@dataclass
class ImportOptions:
    """What the weights cannot say.

    Attributes:
        head_input: what the classifier reads (``HEAD_INPUTS``); None: ``mean`` for an fc1 -> fc2
            head, ``final`` otherwise.
        max_len: tokens fed at most (the tutorial's sequence length).
        padding: ``pre`` or ``post``; None: the preset's.
        truncation: which end long texts lose; None: the preset's, else ``post`` for PyTorch,
            ``pre`` for Keras (``pad_sequences``' default).
        labels: class names in output order; None: ``negative, positive`` for two classes.
        packed: the model skipped padding with packed sequences (off: pads are read, the
            tutorials' way).
        lowercase: the tutorial lowercased its text; None: the preset's (yes for every preset
            but a Keras tokenizer saved with ``lower=False``).
        preset: how the tutorial read text (``TEXT_PRESETS``); None: ``keras`` for a Keras
            ``tokenizer.to_json()`` vocabulary, else ``whitespace``.
        fixed_length: pad every text to ``max_len``; None: the preset's.
        unknown: what an unknown word becomes (``UNKNOWN_POLICIES``); None: the preset's.
        stopwords: the stopword list removed (``STOPWORD_CHOICES``; ``none`` keeps every word);
            None: the preset's.
    """

    head_input: str | None = None
    max_len: int = ENCODING_SPEC["max_len"].default
    padding: str | None = None
    truncation: str | None = None
    labels: list[str] | None = None
    packed: bool = False
    lowercase: bool | None = None
    preset: str | None = None
    fixed_length: bool | None = None
    unknown: str | None = None
    stopwords: str | None = None


@dataclass
class ImportedModel:
    """The bundle and plain-language notes on how it was read."""

    bundle: Bundle
    notes: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- vocabulary


def read_vocabulary(path: str | Path) -> list[str | None]:
    """Tokens by index from a tutorial's saved vocabulary.

    Args:
        path: a JSON word -> index dict, a JSON list (``itos``), a Keras ``tokenizer.to_json()``
            file, or a text file with one token per line in index order.

    Returns:
        ``itos``: token of each index, None for an index no token uses (e.g. the UCI
        tutorial's padding index 0).

    Raises:
        ModelImportError: missing, unreadable or oversized files (``MAX_TEXT_FILE_BYTES``, more
            than ``MAX_VOCAB_SIZE`` words), duplicate tokens or indices, indices that are not
            whole numbers from 0 to ``MAX_VOCAB_SIZE - 1``.
    """
    path = Path(path)
    raw = read_named_file(path, MAX_TEXT_FILE_BYTES, "the vocabulary", ModelImportError)
    _refuse_pickled_vocabulary(raw, path)
    text = raw.decode("utf-8", errors="replace")
    if path.suffix.lower() == ".json" or text.lstrip()[:1] in ("{", "["):
        advice = "save the vocabulary with json.dump(vocab_to_int, f) or json.dump(itos, f)"
        data = _parse(text, path.name, advice)
        if isinstance(data, dict) and data.get("class_name") == "Tokenizer":  # Keras tokenizer.to_json()
            config = data.get("config")
            word_index = config.get("word_index") if isinstance(config, dict) else None
            data = _parse(word_index, path.name, advice) if isinstance(word_index, str) else word_index
        if isinstance(data, (list, dict)) and len(data) > MAX_VOCAB_SIZE:
            raise ModelImportError(f"{path.name}: {len(data):,} words, more than the {MAX_VOCAB_SIZE:,} a GateScope "
                                   "model may have; save only the words the model's embedding has rows for")
        if isinstance(data, list):
            return _unique_itos([str(t) for t in data], path.name)
        if isinstance(data, dict):
            return _itos_from_index(data, path.name)
        raise ModelImportError(f"{path.name}: expected a word -> index dict or a list of tokens")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if len(lines) > MAX_VOCAB_SIZE:
        raise ModelImportError(f"{path.name}: {len(lines):,} lines, more than the {MAX_VOCAB_SIZE:,} words a "
                               "GateScope model may have")
    return _unique_itos(lines, path.name)


PICKLE_SUFFIXES = (".pkl", ".pickle", ".pt", ".pth")


def _refuse_pickled_vocabulary(raw: bytes, path: Path) -> None:
    """Refuse a vocabulary saved with ``pickle.dump`` or ``torch.save``, without unpickling it.

    Pickles of protocol 2 and later start with ``0x80`` and the protocol number; ``torch.save``
    writes a zip archive (``PK``); the suffix names the rest.
    """
    pickled = raw[:1] == b"\x80" and raw[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05")
    if path.suffix.lower() in PICKLE_SUFFIXES or pickled or raw[:4] == b"PK\x03\x04":
        raise ModelImportError(f"{path.name} is a pickled Python object (pickle.dump or torch.save): GateScope never "
                               "unpickles a file, because that can run any code. Save it as JSON instead: "
                               "json.dump(vocab_to_int, open('vocab.json', 'w'))")


def _parse(text: str, name: str, advice: str) -> Any:
    """JSON text as a value; every failure is a ``ModelImportError``."""
    return parse_json(text, name, ModelImportError, advice)


def _unique_itos(tokens: list[str], name: str) -> list[str | None]:
    seen: set[str] = set()
    for token in tokens:
        if token in seen:
            raise ModelImportError(f"{name}: the token {token!r} appears twice; each index needs its own token")
        seen.add(token)
    return list(tokens)


def _index(value: Any) -> int | None:
    """A vocabulary index: an int, or a float holding a whole number (3.0); None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _itos_from_index(word_index: dict, name: str) -> list[str | None]:
    pairs = []
    for word, value in word_index.items():
        index = _index(value)
        if index is None:
            raise ModelImportError(f"{name}: the word {str(word)[:40]!r} has index {str(value)[:40]!r}; every value of "
                                   "the word -> index dict must be a whole number")
        if not 0 <= index < MAX_VOCAB_SIZE:
            raise ModelImportError(f"{name}: the word {str(word)[:40]!r} has index {index:,}; indices go from 0 to "
                                   f"{MAX_VOCAB_SIZE - 1:,} (the largest vocabulary a GateScope model may have)")
        pairs.append((str(word), index))
    itos: list[str | None] = [None] * (max((i for _, i in pairs), default=-1) + 1)
    for word, index in pairs:
        if itos[index] is not None:
            raise ModelImportError(f"{name}: the words {itos[index]!r} and {word!r} share index {index}")
        itos[index] = word
    return itos


def _reorder(itos: list[str | None], rows: int, notes: list[str]) -> tuple[list[str], list[int | None]]:
    """GateScope's itos (``<pad>``, ``<unk>``, words) and, per new row, the source row (None: zeros)."""
    if len(itos) > rows:
        # Keras' Tokenizer keeps every word in word_index although Embedding(num_words) has fewer rows
        kept = sum(1 for t in itos[:rows] if t is not None)
        notes.append(f"The vocabulary lists {len(itos)} indices but the embedding has {rows} rows: the "
                     f"{kept} words with a row are kept (Keras' Tokenizer(num_words) does the same).")
        itos = itos[:rows]
    pad_row = unk_row = None
    words: list[str] = []
    source_rows: list[int] = []
    for row, token in enumerate(itos):
        if token is None or token in PAD_NAMES:
            if pad_row is None and (token is not None or row == 0):
                pad_row = row
            continue
        if token in UNK_NAMES and unk_row is None:
            unk_row = row
            continue
        if token in (PAD_TOKEN, UNK_TOKEN):
            continue
        words.append(token)
        source_rows.append(row)
    if pad_row is None:
        notes.append("No padding index found (no '' / <pad> token and nothing at index 0): padding reads "
                     "as a zero vector.")
    return [PAD_TOKEN, UNK_TOKEN, *words], [pad_row, unk_row, *source_rows]


# ---------------------------------------------------------------- layers found in a file


@dataclass
class _Recurrent:
    """One layer and direction in PyTorch layout."""

    cell: str
    weight_ih: np.ndarray  # (g*H, in)
    weight_hh: np.ndarray  # (g*H, H)
    bias_ih: np.ndarray  # (g*H,)
    bias_hh: np.ndarray  # (g*H,)


@dataclass
class _Layers:
    """What a file holds, in PyTorch layout: embedding (V, E), recurrent [layer][direction], linears."""

    embedding: np.ndarray
    recurrent: list[list[_Recurrent]]
    linears: list[tuple[np.ndarray, np.ndarray]]  # (out, in) weight, (out,) bias, input to output
    head_input: str | None = None  # what the head reads, where the file says (a Keras model's description)
    masked: bool = False  # Keras' Embedding(mask_zero=True): padding steps are skipped


def _cell_of(gate_rows: int, hidden: int, name: str) -> str:
    blocks = gate_rows // hidden if hidden else 0
    for cell, gates in GATES_PER_CELL.items():
        if gates == blocks and gate_rows == gates * hidden:
            return cell
    raise ModelImportError(f"{name}: {gate_rows} gate rows for hidden size {hidden} is not an RNN (1 block), "
                       "GRU (3) or LSTM (4)")


# ---------------------------------------------------------------- PyTorch state_dict


def load_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Tensors of a PyTorch ``state_dict`` file, read with ``torch.load(weights_only=True)``.

    Args:
        path: a file written by ``torch.save(model.state_dict(), path)`` (or a checkpoint dict
            holding one under ``state_dict`` / ``model_state_dict``).

    Returns:
        Name -> tensor.

    Raises:
        ModelImportError: a pickled whole model (refused: unpickling it could run code), or no tensors.
    """
    path = Path(path)
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise ModelImportError(
            f"{path.name} holds a whole pickled model (torch.save(model)), not a state_dict. GateScope never "
            "unpickles objects, because that can run any code. In the tutorial's notebook, save the weights "
            "instead: torch.save(model.state_dict(), 'model.pt'), and import that file") from None
    except (RuntimeError, OSError, EOFError, ValueError) as error:
        raise ModelImportError(f"{path.name} is not a readable PyTorch file ({error}); save it again with "
                           "torch.save(model.state_dict(), path)") from None
    if isinstance(data, dict):
        for key in ("state_dict", "model_state_dict", "model"):
            if isinstance(data.get(key), dict):
                data = data[key]
                break
    tensors = {k: v for k, v in data.items() if isinstance(v, torch.Tensor)} if isinstance(data, dict) else {}
    if not tensors:
        raise ModelImportError(f"{path.name} holds no weight tensors; save it with torch.save(model.state_dict(), path)")
    _check_count(sum(t.numel() for t in tensors.values()), path.name)
    return tensors


def _check_count(values: int, name: str) -> None:
    """Refuse weights of more than ``MAX_PARAMETERS`` values in all, before they are read or copied."""
    if values > MAX_PARAMETERS:
        raise ModelImportError(f"{name} declares {values:,} weight values, more than the {MAX_PARAMETERS:,} "
                               "parameters a GateScope model may have")


def _check_recurrent(cell_of: str, w_ih: np.ndarray, w_hh: np.ndarray, biases: list[np.ndarray], name: str) -> str:
    """The cell of one layer and direction whose PyTorch-layout shapes agree, else a message.

    Args:
        cell_of: where the weights are, for messages.
        w_ih: (g*H, in) input weights.
        w_hh: (g*H, H) recurrent weights.
        biases: each (g*H,).
        name: the file's name.

    Returns:
        ``rnn``, ``lstm`` or ``gru``.
    """
    if w_ih.ndim != 2 or w_hh.ndim != 2:
        raise ModelImportError(f"{name}: the recurrent weights of {cell_of} have {w_ih.ndim} and {w_hh.ndim} "
                               "dimensions; an RNN/LSTM/GRU layer's weights are matrices (2 dimensions)")
    cell = _cell_of(w_hh.shape[0], w_hh.shape[1], f"{name}: {cell_of}")
    if w_ih.shape[0] != w_hh.shape[0] or any(b.shape != (w_hh.shape[0],) for b in biases):
        raise ModelImportError(f"{name}: the weights of {cell_of} disagree (input {w_ih.shape}, recurrent "
                               f"{w_hh.shape}, biases {[b.shape for b in biases]}); the file is damaged")
    return cell


def _torch_layers(tensors: dict[str, torch.Tensor], name: str, notes: list[str]) -> _Layers:
    """The layers of a PyTorch ``state_dict``, in its key order (the order the model defines its modules).

    Several recurrent modules (``rnn1``, ``rnn2`` instead of ``num_layers=2``) are read as one
    stack in definition order (or name order where only that chains their sizes).
    """
    try:
        arrays = {k: v.detach().float().numpy() for k, v in tensors.items()}
    except (RuntimeError, TypeError) as error:  # sparse, quantized or complex tensors
        raise ModelImportError(f"{name} holds tensors that are not plain numbers ({error}); save the model's "
                               "state_dict() after model.float()") from None
    recurrent_keys = [(m, k) for k in arrays if (m := _RNN_KEY.match(k))]
    if not recurrent_keys:
        raise ModelImportError(f"{name}: no recurrent layer found (expected names like lstm.weight_ih_l0); "
                           f"the file holds {', '.join(sorted(arrays)[:8])}")
    modules = list(dict.fromkeys(m.group("module") for m, _ in recurrent_keys))  # definition order
    stacks = {module: _torch_module(module, recurrent_keys, arrays, name) for module in modules}
    embeddings = [k for k, v in arrays.items() if v.ndim == 2 and k.endswith(".weight") and "embed" in k.lower()]
    if len(embeddings) != 1:
        raise ModelImportError(f"{name}: expected one embedding table (e.g. embedding.weight), found "
                           f"{embeddings or 'none'}")
    embedding = arrays[embeddings[0]]
    if len(modules) > 1:
        modules = _first_chain([modules, sorted(modules, key=_natural)],
                               lambda order: _stack_chains([stacks[m] for m in order], embedding.shape[1])) or modules
        notes.append(f"The recurrent modules {' -> '.join(modules)} were read as one stack of "
                     f"{sum(len(stacks[m]) for m in modules)} layers, each reading the one before (the order the "
                     "model defines them in).")
    recurrent = [row for module in modules for row in stacks[module]]
    used = {embeddings[0], *(k for k in arrays for m in modules if k.startswith(m + "."))}
    linears, linear_names = [], []
    for key in arrays:
        if key in used or not key.endswith(".weight") or arrays[key].ndim != 2:
            continue
        bias_key = key[: -len("weight")] + "bias"
        weight = arrays[key]
        linears.append((weight, arrays.get(bias_key, np.zeros(weight.shape[0], dtype=np.float32))))
        linear_names.append(key[: -len(".weight")])
        used.update({key, bias_key})
    leftovers = sorted(set(arrays) - used)
    if leftovers:
        raise ModelImportError(f"{name}: weights GateScope cannot place: {', '.join(leftovers[:6])} (it imports "
                           "embedding -> RNN/LSTM/GRU -> one or two linear layers)")
    by_name = [linears[i] for i in sorted(range(len(linears)), key=lambda i: _natural(linear_names[i]))]
    return _Layers(embedding, recurrent, _chain_linears(linears, recurrent, name, by_name))


def _torch_module(module: str, recurrent_keys: list, arrays: dict[str, np.ndarray],
                  name: str) -> list[list[_Recurrent]]:
    """One ``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU`` module's layers and directions."""
    keys = [m for m, _ in recurrent_keys if m.group("module") == module]
    num_layers = 1 + max(int(m.group("layer")) for m in keys)
    directions = 2 if any(m.group("reverse") for m in keys) else 1
    recurrent = []
    for layer in range(num_layers):
        row = []
        for suffix in ("", "_reverse")[:directions]:
            key = f"{module}.%s_l{layer}{suffix}"
            try:
                w_ih, w_hh = arrays[key % "weight_ih"], arrays[key % "weight_hh"]
            except KeyError as missing:
                raise ModelImportError(f"{name}: {missing} is missing; the recurrent layers are incomplete") from None
            zeros = np.zeros(w_hh.shape[:1], dtype=np.float32)
            b_ih, b_hh = arrays.get(key % "bias_ih", zeros), arrays.get(key % "bias_hh", zeros)
            cell = _check_recurrent(f"{module} layer {layer}{suffix}", w_ih, w_hh, [b_ih, b_hh], name)
            row.append(_Recurrent(cell, w_ih, w_hh, b_ih, b_hh))
        recurrent.append(row)
    return recurrent


def _stack_chains(stacks: list[list[list[_Recurrent]]], emb_dim: int) -> bool:
    """Whether each layer reads what the layer before it writes (the first reads the embedding)."""
    width = emb_dim
    for row in (row for stack in stacks for row in stack):
        if any(d.weight_ih.shape[1] != width for d in row):
            return False
        width = sum(d.weight_hh.shape[1] for d in row)
    return True


def _first_chain(orders: list, chains) -> Any:
    """The first of ``orders`` for which ``chains(order)`` holds, else None."""
    return next((order for order in orders if chains(order)), None)


def _chain_linears(linears: list[tuple[np.ndarray, np.ndarray]], recurrent: list[list[_Recurrent]], name: str,
                   by_name: list[tuple[np.ndarray, np.ndarray]] | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """Order linear layers from the recurrent output to the prediction.

    Args:
        linears: (out, in) weights and biases in the order the model defines them.
        recurrent: the recurrent layers, whose last row's width the first linear layer reads.
        name: the file's name, for messages.
        by_name: the same layers in their names' order (``fc1`` before ``fc2``), tried second.

    Returns:
        The definition order if its shapes chain, else the name order, else the one order the
        shapes allow; refused when none chains one or two layers.
    """
    width = sum(d.weight_hh.shape[1] for d in recurrent[-1])

    def chains(order: list) -> bool:
        size = width
        for weight, _ in order:
            if weight.shape[1] != size:
                return False
            size = weight.shape[0]
        return 1 <= len(order) <= 2

    found = _first_chain([linears, by_name or linears, _chain_by_shapes(linears, width)], chains)
    if found is None:
        shapes = ", ".join(f"{w.shape[1]}->{w.shape[0]}" for w, _ in linears) or "none"
        raise ModelImportError(f"{name}: expected one or two linear layers after the recurrent output of size "
                               f"{width}, found {shapes}")
    return list(found)


def _chain_by_shapes(linears: list[tuple[np.ndarray, np.ndarray]], width: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The linear layers that follow one another by shape alone, from ``width`` on (stops where that is ambiguous)."""
    ordered, remaining = [], list(linears)
    while remaining:
        nxt = [lin for lin in remaining if lin[0].shape[1] == width]
        if len(nxt) != 1:
            break
        ordered.append(nxt[0])
        remaining = [lin for lin in remaining if lin is not nxt[0]]
        width = nxt[0][0].shape[0]
    return ordered if not remaining else []


# ---------------------------------------------------------------- Keras HDF5


def _zip_directory_fits(path: Path) -> None:
    """Refuse an archive whose directory declares too many files, before ``zipfile`` reads it all.

    The end-of-directory record (the last 22 bytes, before a comment of at most 64 KiB) gives the
    number of files and the directory's size.
    """
    with open(path, "rb") as handle:
        handle.seek(0, 2)
        size = handle.tell()
        handle.seek(max(0, size - 22 - 0xFFFF))
        tail = handle.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < 22:
        raise ModelImportError(f"{path.name} is a damaged zip archive (no directory at its end); save the "
                               "model again with model.save('model.keras')")
    _, _, _, entries, directory_bytes, _, _ = struct.unpack("<4s4H2LH", tail[at:at + 22])[1:]
    if entries > MAX_ARCHIVE_MEMBERS or directory_bytes > _ZIP_DIRECTORY_BYTES:
        raise ModelImportError(f"{path.name} lists {entries:,} files ({directory_bytes:,} bytes of names); a .keras "
                               f"archive may hold at most {MAX_ARCHIVE_MEMBERS} (Keras writes 3)")


def _unpack(archive: zipfile.ZipFile, info: zipfile.ZipInfo, out, limit: int, name: str) -> None:
    """Copy one archive member to ``out`` in chunks, stopping at ``limit`` bytes whatever it declares."""
    if info.file_size > limit:
        raise ModelImportError(f"{name}: {info.filename} unpacks to {info.file_size / 2**20:,.0f} MiB; at most "
                               f"{limit // 2**20} MiB is read from a .keras archive")
    copied = 0
    with archive.open(info) as source:
        while chunk := source.read(_CHUNK):
            copied += len(chunk)
            if copied > limit:
                raise ModelImportError(f"{name}: {info.filename} unpacks to more than {limit // 2**20} MiB; at most "
                                       f"{limit // 2**20} MiB is read from a .keras archive")
            out.write(chunk)


def _open_h5(source, name: str, remedy: str):
    """``h5py.File(source)`` for reading, or a message naming ``name`` and how to save it again (``remedy``)."""
    import h5py

    try:
        return h5py.File(source, "r")
    except OSError as error:
        raise ModelImportError(f"{name} is not a readable HDF5 file ({error}); save it again with {remedy}") from None


@contextmanager
def _keras_file(path: Path) -> Iterator[tuple[Any, dict | list | None]]:
    """The open HDF5 weights of a Keras file and its model description (None for weights-only files).

    A ``.keras`` archive (Keras 3) is checked against ``MAX_ARCHIVE_MEMBERS`` and
    ``MAX_ARCHIVE_BYTES``; its ``model.weights.h5`` is unpacked to a temporary file (at most
    ``MAX_MEMBER_BYTES``) and its ``config.json`` read (at most ``MAX_TEXT_FILE_BYTES``).
    """
    if not zipfile.is_zipfile(path):
        with _open_h5(path, path.name, "model.save('model.h5')") as handle:
            yield handle, _h5_model_config(handle, path.name)
        return
    _zip_directory_fits(path)
    with zipfile.ZipFile(path) as archive, tempfile.TemporaryFile() as weights:
        members = {info.filename: info for info in archive.infolist()}
        declared = sum(info.file_size for info in members.values())
        if len(members) > MAX_ARCHIVE_MEMBERS or declared > MAX_ARCHIVE_BYTES:
            raise ModelImportError(f"{path.name} holds {len(members):,} file(s) that unpack to {declared / 2**20:,.0f} "
                                   f"MiB; a .keras archive may hold at most {MAX_ARCHIVE_MEMBERS} files and "
                                   f"{MAX_ARCHIVE_BYTES // 2**20} MiB in all")
        if "model.weights.h5" not in members:
            raise ModelImportError(f"{path.name} is a zip without model.weights.h5; save the model with "
                                   "model.save('model.keras') or model.save_weights('model.weights.h5')")
        config = None
        if "config.json" in members:
            text = io.BytesIO()
            _unpack(archive, members["config.json"], text, MAX_TEXT_FILE_BYTES, path.name)
            config = _parse(text.getvalue().decode("utf-8", errors="replace"), f"{path.name}: config.json",
                            "save the model again with model.save('model.keras')")
        _unpack(archive, members["model.weights.h5"], weights, MAX_MEMBER_BYTES, path.name)
        weights.seek(0)
        with _open_h5(weights, f"{path.name}: model.weights.h5", "model.save('model.keras')") as handle:
            yield handle, config


def _h5_model_config(handle, name: str) -> dict | list | None:
    """The JSON model description Keras 2's ``model.save('model.h5')`` stores, or None."""
    if "model_config" not in handle.attrs:
        return None
    if handle.attrs.get_id("model_config").get_storage_size() > MAX_TEXT_FILE_BYTES:
        raise ModelImportError(f"{name}: the model description is over {MAX_TEXT_FILE_BYTES // 2**20} MiB")
    raw = handle.attrs["model_config"]
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else str(raw)
    return _parse(text, f"{name}: the model description", "save the model again with model.save('model.h5')")


def _refuse_lambda_layers(config: dict | list | None, name: str) -> None:
    """Refuse a model whose description has a Lambda layer: it holds no weights and would be dropped."""
    found, stack = [], [config]
    while stack:  # the description nests (Bidirectional wraps a layer): walk it without recursion
        node = stack.pop()
        if isinstance(node, dict):
            if node.get("class_name") in LAMBDA_LAYERS:
                inner = node.get("config")
                found.append(str(inner.get("name", node["class_name"]) if isinstance(inner, dict) else node["class_name"]))
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    if found:
        raise ModelImportError(f"{name}: the Lambda layer {found[0][:60]!r} runs the tutorial's own Python code, which "
                               "GateScope cannot import (and would silently drop, changing the model); remove it "
                               "and retrain, or write it as built-in Keras layers")


def _natural(name: str) -> tuple:
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name))


_SKIPPED_GROUPS = ("optimizer", "optimizer_weights", "top_level_model_weights", "vars")
_KERAS_WEIGHT_RANK = {"embeddings": 0, "kernel": 0, "recurrent_kernel": 1, "bias": 2}


def _dataset_order(path: str) -> tuple:
    """Sort key of a dataset inside one layer's group, for files without ``weight_names``.

    A Bidirectional layer's forward weights come before its backward ones; within a cell Keras'
    order is kernel, recurrent kernel, bias (Keras 2 names end in ``:0``, Keras 3's do not;
    ``.keras`` files number them ``vars/0``, ``vars/1``, ...).
    """
    folder, _, leaf = path.rpartition("/")
    leaf = leaf.split(":")[0]
    rank = int(leaf) if leaf.isdigit() else _KERAS_WEIGHT_RANK.get(leaf, 9)
    return ("backward" in folder, _natural(folder), rank, leaf)


def _weight_groups(handle, name: str) -> dict[str, list[np.ndarray]]:
    """Each layer's weights by layer name, in Keras' order, layers in the file's order.

    Keras 2 and Keras 3 ``.h5`` files keep a layer's weights under ``model_weights/<layer>/``
    (Keras 3 without the ``:0`` suffix) and list them in order in its ``weight_names``;
    ``.keras`` archives and ``.weights.h5`` files keep them under ``layers/<layer>/.../vars/<i>``
    (the group named after the layer's class, its ``vars`` group's ``name`` attribute the layer's name).
    Each dataset's declared shape and type are checked before it is read: numbers only, at most
    2 dimensions, ``MAX_PARAMETERS`` values in all.
    """
    import h5py

    root = handle["model_weights"] if "model_weights" in handle else handle
    if "layers" in root and "layer_names" not in root.attrs:  # Keras 3: layers/<layer>/...
        root = root["layers"]
    listed = _h5_names(root, "layer_names", name)
    found: dict[str, list] = {}
    for layer in listed or sorted(root, key=_natural):
        group = root.get(layer)
        if layer in _SKIPPED_GROUPS or not isinstance(group, h5py.Group):
            continue  # Keras keeps the optimizer's state next to the layers
        names = _h5_names(group, "weight_names", name)
        if names and all(isinstance(group.get(n), h5py.Dataset) for n in names):
            datasets = [group[n] for n in names]
        else:
            paths: list[str] = []

            def keep(path: str, obj) -> None:
                if isinstance(obj, h5py.Dataset):
                    paths.append(path)

            group.visititems(keep)
            datasets = [group[p] for p in sorted(paths, key=_dataset_order)]
        if datasets:  # a .keras archive names groups by class (dense_1); its vars group keeps the layer's name
            own = group["vars"].attrs.get("name") if isinstance(group.get("vars"), h5py.Group) else None
            found[own.decode("utf-8", "replace") if isinstance(own, bytes) else str(own or layer)] = datasets
    for datasets in found.values():
        for dataset in datasets:
            if dataset.dtype.kind not in "fiu" or dataset.ndim > 2:
                raise ModelImportError(f"{name}: {dataset.name} holds {dataset.dtype} values in {dataset.ndim} "
                                       "dimensions; Keras weights are numbers in 1 or 2 dimensions")
    _check_count(sum(d.size for datasets in found.values() for d in datasets), name)
    return {layer: [np.asarray(d, dtype=np.float32) for d in datasets] for layer, datasets in found.items()}


def _h5_names(obj, attribute: str, name: str) -> list[str]:
    """The names Keras lists in an HDF5 attribute (``layer_names``, ``weight_names``).

    Their declared count and size (``MAX_NAMES_BYTES``; for variable-length strings, the
    pointers to them) are checked before they are read; the strings themselves lie in the file,
    whose size is bounded.
    """
    if attribute not in obj.attrs:
        return []
    declared = obj.attrs.get_id(attribute)
    count = int(np.prod(declared.shape)) if declared.shape else 1
    if count * declared.get_type().get_size() > MAX_NAMES_BYTES:
        raise ModelImportError(f"{name}: the {attribute} of {obj.name} take over {MAX_NAMES_BYTES // 2**20} MiB; a "
                               "Keras file lists a few names per layer")
    return [n.decode("utf-8", "replace") if isinstance(n, bytes) else str(n) for n in np.ravel(obj.attrs[attribute])]


def _keras_recurrent(arrays: list[np.ndarray], group: str, name: str) -> _Recurrent:
    """Keras kernel (in, g*H), recurrent kernel (H, g*H), bias -> PyTorch layout."""
    if len(arrays) != 3:
        raise ModelImportError(f"{name}: {group}: a recurrent cell needs kernel, recurrent kernel and bias "
                               f"(found {len(arrays)} arrays); layers without bias (use_bias=False) are not "
                               "supported")
    kernel, recurrent, bias = arrays
    if recurrent.ndim != 2:
        raise ModelImportError(f"{name}: the recurrent kernel of {group} has {recurrent.ndim} dimensions; an "
                               "RNN/LSTM/GRU layer's weights are matrices (2 dimensions)")
    hidden = recurrent.shape[0]
    cell = _cell_of(recurrent.shape[1], hidden, f"{name}: {group}")
    if cell == "gru":
        if bias.ndim != 2:
            raise ModelImportError(f"{name}: {group}: a Keras GRU with reset_after=False applies the reset gate "
                                   "before the recurrent weights, which PyTorch's GRU cannot express; retrain with "
                                   "reset_after=True (the default since TensorFlow 2)")
        if bias.shape[0] != 2:
            raise ModelImportError(f"{name}: the bias of {group} has shape {bias.shape}; a Keras GRU keeps two "
                                   f"rows (input and recurrent), shape (2, {recurrent.shape[1]})")
        biases = [bias[0], bias[1]]  # Keras' input bias -> bias_ih, recurrent bias -> bias_hh
    else:  # SimpleRNN and LSTM (gates i, f, c, o = PyTorch's i, f, g, o): one bias, put on the input side
        biases = [bias, np.zeros_like(bias)]
    _check_recurrent(group, kernel.T, recurrent.T, biases, name)
    if cell == "gru":  # Keras blocks (z, r, h) -> PyTorch (r, z, n)
        order = np.concatenate([np.arange(hidden, 2 * hidden), np.arange(hidden), np.arange(2 * hidden, 3 * hidden)])
        return _Recurrent(cell, kernel.T[order], recurrent.T[order], biases[0][order], biases[1][order])
    return _Recurrent(cell, kernel.T, recurrent.T, *biases)


def _keras_layers(path: Path, notes: list[str]) -> _Layers:
    try:
        with _keras_file(path) as (handle, config):
            _refuse_lambda_layers(config, path.name)
            groups = _weight_groups(handle, path.name)
    except ModelImportError:
        raise
    except (OSError, KeyError, ValueError, TypeError, RuntimeError, EOFError, NotImplementedError,
            zipfile.BadZipFile, zlib.error) as error:  # what h5py and zipfile raise on damaged files
        raise ModelImportError(f"{path.name} is damaged or truncated and cannot be read ({error}); save it "
                               "again with model.save(...)") from None
    if config is None:
        notes.append("This file holds weights only, without the model's description, so its settings could not "
                     "be checked: layers without weights (Lambda, pooling), Embedding(mask_zero), go_backwards and "
                     "activations. The model was read as Embedding -> recurrent layers -> Dense, the last "
                     "recurrent layer's final state read (--head-input mean if it had GlobalAveragePooling1D).")
        return _keras_by_shapes(groups, path.name)
    return _keras_by_config(_keras_layer_list(config, path.name), groups, path.name, notes)


def _keras_by_shapes(groups: dict[str, list[np.ndarray]], name: str) -> _Layers:
    """A weights-only Keras file: each layer's kind from how many arrays it holds."""
    embedding = None
    recurrent, linears = [], []
    for layer, arrays in groups.items():
        if len(arrays) == 1 and arrays[0].ndim == 2:
            if embedding is not None:
                raise ModelImportError(f"{name}: two embedding tables; GateScope imports one")
            embedding = arrays[0]
        elif len(arrays) in (3, 6) and arrays[0].ndim == 2:
            halves = [arrays[:3], arrays[3:]] if len(arrays) == 6 else [arrays]
            recurrent.append([_keras_recurrent(h, f"{layer} ({d})" if len(halves) > 1 else layer, name)
                              for h, d in zip(halves, ("forward", "backward"))])
        elif len(arrays) == 2 and arrays[0].ndim == 2:
            kernel, bias = arrays
            linears.append((kernel.T, bias))
        else:
            raise ModelImportError(f"{name}: cannot place the weights of {layer} (GateScope imports Embedding, "
                                   "SimpleRNN/LSTM/GRU (optionally Bidirectional) and Dense layers)")
    _require_layers(embedding, recurrent, name)
    return _Layers(embedding, recurrent, _chain_linears(linears, recurrent, name))


def _require_layers(embedding, recurrent: list, name: str) -> None:
    """Refuse a Keras file without an Embedding or a recurrent layer."""
    if embedding is None:
        raise ModelImportError(f"{name}: no Embedding layer found")
    if not recurrent:
        raise ModelImportError(f"{name}: no SimpleRNN, LSTM or GRU layer found")


# ---------------------------------------------------------------- a Keras model's description

KERAS_RECURRENT = ("SimpleRNN", "LSTM", "GRU")
KERAS_INACTIVE = ("Dropout", "SpatialDropout1D")  # identity at inference
KERAS_POOLING = {"GlobalAveragePooling1D": "mean", "GlobalMaxPooling1D": "max"}
_KERAS_MODELS = ("Sequential", "Functional", "Model")


def _keras_layer_list(config: Any, name: str) -> list[tuple[str, dict]]:
    """``(class name, layer config)`` of each layer of a Keras model description, input to output.

    Args:
        config: ``model.to_json()`` as parsed: a Sequential or Functional model (Keras 2 or 3).
        name: the file's name, for messages.
    """
    inner = config.get("config") if isinstance(config, dict) else None
    layers = inner.get("layers") if isinstance(inner, dict) else inner  # Keras 2.0 kept the list itself
    if not isinstance(layers, list):
        raise ModelImportError(f"{name}: the model description lists no layers; save the model again with "
                               "model.save(...)")
    out = []
    for layer in layers:
        layer_class = layer.get("class_name") if isinstance(layer, dict) else None
        layer_config = layer.get("config") if isinstance(layer, dict) else None
        if not isinstance(layer_class, str) or not isinstance(layer_config, dict):
            raise ModelImportError(f"{name}: a layer of the model description has no class name or settings")
        if layer_class in _KERAS_MODELS:
            raise ModelImportError(f"{name}: the layer {str(layer_config.get('name'))[:60]!r} is a whole model "
                                   "inside the model; GateScope imports one flat Sequential or Functional model")
        out.append((layer_class, layer_config))
    return out


def _setting(config: dict, key: str, default: Any) -> Any:
    value = config.get(key, default)
    return value.get("class_name", default) if isinstance(value, dict) else value  # Keras 3 may nest objects


def _keras_cell_settings(layer_class: str, config: dict, label: str, name: str) -> None:
    """Refuse a SimpleRNN / LSTM / GRU whose settings GateScope's cell cannot compute."""
    if layer_class not in KERAS_RECURRENT:
        raise ModelImportError(f"{name}: {label} is a {layer_class[:40]}; GateScope imports SimpleRNN, LSTM and GRU "
                               "layers")
    activation = _setting(config, "activation", "tanh")
    if activation != "tanh":
        raise ModelImportError(f"{name}: {label} has activation={str(activation)[:30]!r}; GateScope's cells use "
                               "tanh (the default): retrain without setting activation")
    recurrent_activation = _setting(config, "recurrent_activation", "sigmoid")
    if layer_class != "SimpleRNN" and recurrent_activation != "sigmoid":
        raise ModelImportError(f"{name}: {label} has recurrent_activation={str(recurrent_activation)[:30]!r}; "
                               "GateScope's gates use sigmoid (Keras' default since 2.3): retrain with "
                               "recurrent_activation='sigmoid'")
    if layer_class == "GRU" and not config.get("reset_after", True):
        raise ModelImportError(f"{name}: {label} has reset_after=False: the reset gate is applied before the "
                               "recurrent weights, which PyTorch's GRU cannot express; retrain with "
                               "reset_after=True (the default since TensorFlow 2)")
    for setting in ("stateful", "time_major"):
        if config.get(setting):
            raise ModelImportError(f"{name}: {label} has {setting}=True, which GateScope cannot express (each text "
                                   "is read from a zero state, batch first); retrain without it")


def _keras_recurrent_block(layer_class: str, config: dict, arrays: list[np.ndarray], name: str
                           ) -> tuple[list[_Recurrent], bool]:
    """One SimpleRNN / LSTM / GRU layer, or a Bidirectional one, and whether it returns sequences."""
    label = f"the layer {str(config.get('name'))[:60]!r}"
    if layer_class != "Bidirectional":
        _keras_cell_settings(layer_class, config, label, name)
        if config.get("go_backwards"):
            raise ModelImportError(f"{name}: {label} has go_backwards=True: it reads the text from its last word to "
                                   "its first, which a one-directional GateScope model cannot express; retrain "
                                   "without go_backwards (or wrap the layer in Bidirectional)")
        return [_keras_recurrent(arrays, label, name)], bool(config.get("return_sequences"))
    merge_mode = config.get("merge_mode", "concat")
    if merge_mode != "concat":
        raise ModelImportError(f"{name}: {label} is Bidirectional with merge_mode={str(merge_mode)[:20]!r}; "
                               "GateScope joins the two directions as 'concat' (Keras' default): retrain with it")
    sides = []
    for key, backwards in (("layer", False), ("backward_layer", True)):
        side = config.get(key) or config.get("layer")  # no backward_layer: a copy of the forward one
        side_class = side.get("class_name") if isinstance(side, dict) else None
        side_config = side.get("config") if isinstance(side, dict) else None
        if not isinstance(side_class, str) or not isinstance(side_config, dict):
            raise ModelImportError(f"{name}: {label} is Bidirectional but its description lacks the wrapped layer")
        _keras_cell_settings(side_class, side_config, f"{label} ({'backward' if backwards else 'forward'})", name)
        if key == "layer" and side_config.get("go_backwards"):
            raise ModelImportError(f"{name}: {label} wraps a layer with go_backwards=True, so its 'forward' "
                                   "direction reads the text backwards; GateScope's forward direction reads it "
                                   "forwards: retrain without go_backwards")
        sides.append((side_class, side_config))
    if len(arrays) % 2:
        raise ModelImportError(f"{name}: {label} holds {len(arrays)} arrays; a Bidirectional layer holds its "
                               "forward and backward weights (6 arrays)")
    half = len(arrays) // 2
    row = [_keras_recurrent(arrays[:half], f"{label} (forward)", name),
           _keras_recurrent(arrays[half:], f"{label} (backward)", name)]
    return row, bool(sides[0][1].get("return_sequences"))


def _keras_by_config(layer_list: list[tuple[str, dict]], groups: dict[str, list[np.ndarray]], name: str,
                     notes: list[str]) -> _Layers:
    """The layers of a Keras file read through the model's own description.

    Every setting that changes what the model computes is honoured or refused: ``mask_zero``
    (packed reading), ``go_backwards``, ``return_sequences`` with a global pooling layer (the head's
    input), Bidirectional's ``merge_mode``, the cells' activations and the Dense activations.
    """
    groups = dict(groups)
    embedding, masked, head_input, returns_sequences = None, False, None, False
    recurrent: list[list[_Recurrent]] = []
    linears: list[tuple[np.ndarray, np.ndarray]] = []
    activations: list[str] = []
    for layer_class, config in layer_list:
        layer = str(config.get("name"))
        label = f"the layer {layer[:60]!r}"
        arrays = groups.pop(layer, [])
        if layer_class == "InputLayer" or layer_class in KERAS_INACTIVE:
            continue
        if layer_class == "Embedding":
            if embedding is not None or recurrent or len(arrays) != 1 or arrays[0].ndim != 2:
                raise ModelImportError(f"{name}: {label} (Embedding) is not one table before the recurrent layers; "
                                       "GateScope imports one Embedding first")
            embedding, masked = arrays[0], bool(config.get("mask_zero"))
        elif layer_class in KERAS_RECURRENT or layer_class == "Bidirectional":
            if embedding is None or linears or head_input is not None:
                raise ModelImportError(f"{name}: {label} ({layer_class}) is not between the Embedding and the "
                                       "Dense layers; GateScope imports Embedding -> recurrent layers -> Dense")
            row, returns_sequences = _keras_recurrent_block(layer_class, config, arrays, name)
            recurrent.append(row)
        elif layer_class in KERAS_POOLING:
            if not recurrent or not returns_sequences or head_input is not None or config.get("keepdims"):
                raise ModelImportError(f"{name}: {label} ({layer_class}) must pool a recurrent layer with "
                                       "return_sequences=True, once, without keepdims")
            head_input = KERAS_POOLING[layer_class]
        elif layer_class == "Dense":
            if not recurrent:
                raise ModelImportError(f"{name}: {label} (Dense) comes before any recurrent layer")
            if returns_sequences and head_input is None:
                raise ModelImportError(f"{name}: {label} (Dense) reads every time step: the recurrent layer before "
                                       "it has return_sequences=True and nothing pools it; add "
                                       "GlobalAveragePooling1D / GlobalMaxPooling1D, or drop return_sequences")
            if len(arrays) not in (1, 2) or arrays[0].ndim != 2:
                raise ModelImportError(f"{name}: {label} (Dense) holds {len(arrays)} arrays; expected kernel and bias")
            kernel = arrays[0]
            bias = arrays[1] if len(arrays) == 2 else np.zeros(kernel.shape[1], dtype=np.float32)
            linears.append((kernel.T, bias))
            activations.append(str(_setting(config, "activation", "linear")))
        else:
            raise ModelImportError(f"{name}: {label} is a {layer_class[:40]}, which GateScope does not import (it "
                                   "imports Embedding, SimpleRNN / LSTM / GRU, Bidirectional, Dropout, "
                                   "GlobalAveragePooling1D / GlobalMaxPooling1D and Dense)")
    leftover = [layer for layer, arrays in groups.items() if arrays]
    if leftover:
        raise ModelImportError(f"{name}: the file holds weights for {leftover[0][:60]!r}, a layer its model "
                               "description does not list; save the model again with model.save(...)")
    _require_layers(embedding, recurrent, name)
    if head_input is None:
        head_input = "final"  # a Dense after an RNN without return_sequences reads its final state
    _keras_dense_activations(activations, [w.shape[0] for w, _ in linears], name, notes)
    if masked:
        notes.append("The Embedding has mask_zero=True: padding is skipped, as Keras skips masked steps (read as "
                     "packed sequences).")
    return _Layers(embedding, recurrent, _chain_linears(linears, recurrent, name), head_input=head_input,
                   masked=masked)


def _keras_dense_activations(activations: list[str], units: list[int], name: str, notes: list[str]) -> None:
    """Refuse Dense activations GateScope's head cannot compute (fc1 -> ReLU -> fc2, sigmoid or softmax)."""
    if len(activations) == 2 and activations[0] != "relu":
        raise ModelImportError(f"{name}: the hidden Dense layer has activation={activations[0][:20]!r}; "
                               "GateScope's two-layer head is fc1 -> ReLU -> fc2: retrain with "
                               "activation='relu'")
    if not activations:
        return
    last, outputs = activations[-1], units[-1]
    if outputs == 1 and last == "sigmoid" or outputs > 1 and last == "softmax":
        return
    if last == "linear":
        notes.append(f"The last Dense has no activation (the loss applied it, from_logits=True): its "
                     f"{'output is read through a sigmoid' if outputs == 1 else 'outputs are read through a softmax'}, "
                     "as the loss did.")
        return
    if outputs > 1 and last == "sigmoid":
        raise ModelImportError(f"{name}: the last Dense is Dense({outputs}, activation='sigmoid'): each class gets "
                               "its own probability and they need not add up to 1, which GateScope's outputs "
                               f"cannot express; retrain with Dense({outputs}, activation='softmax') or, for two "
                               "classes, Dense(1, activation='sigmoid')")
    raise ModelImportError(f"{name}: the last Dense is Dense({outputs}, activation={last[:20]!r}); GateScope reads "
                           "Dense(1, activation='sigmoid') or Dense(n, activation='softmax')")


# ---------------------------------------------------------------- the bundle


def _config_of(layers: _Layers, options: ImportOptions, vocab_size: int, name: str, default_head: str) -> ModelConfig:
    """The GateScope architecture of the layers found, with what the options add.

    Args:
        layers: the file's layers in PyTorch layout.
        options: what the weights cannot say.
        vocab_size: rows of GateScope's embedding table.
        name: the file's name, for messages.
        default_head: what the head reads when neither the file nor the options say.
    """
    cells = {d.cell for row in layers.recurrent for d in row}
    directions = {len(row) for row in layers.recurrent}
    hiddens = {d.weight_hh.shape[1] for row in layers.recurrent for d in row}
    if len(cells) != 1 or len(directions) != 1 or len(hiddens) != 1:
        raise ModelImportError(f"{name}: the recurrent layers differ in cell type, direction or size; GateScope "
                           "imports stacks of identical layers")
    hidden = hiddens.pop()
    emb_dim = layers.embedding.shape[1]
    for layer, row in enumerate(layers.recurrent):
        expected = emb_dim if layer == 0 else hidden * len(row)
        if any(d.weight_ih.shape[1] != expected for d in row):
            raise ModelImportError(f"{name}: layer {layer} reads {row[0].weight_ih.shape[1]} inputs, expected {expected}")
    outputs = layers.linears[-1][0].shape[0]
    mlp = len(layers.linears) == 2
    if options.head_input and layers.head_input and options.head_input != layers.head_input:
        raise ModelImportError(f"{name}: the model's own description says its classifier reads "
                               f"{HEAD_INPUT_HELP[layers.head_input]}; the head input '{options.head_input}' "
                               "disagrees: leave it out")
    head_input = options.head_input or layers.head_input or default_head
    if head_input not in HEAD_INPUTS:
        raise ModelImportError(f"unknown head input {head_input!r}; valid: {', '.join(HEAD_INPUTS)}")
    if layers.masked and head_input == "max" and options.padding == "pre":
        raise ModelImportError(f"{name}: with Embedding(mask_zero=True), pre-padding and GlobalMaxPooling1D "
                               "(which ignores the mask), Keras takes the maximum over the padding steps' zero "
                               "outputs too, which GateScope cannot express; import with post-padding if the "
                               "tutorial padded after the text")
    if head_input == "last_step" and mlp:
        raise ModelImportError("the last-step head is one linear layer; this model has two (fc1 -> fc2): "
                           "choose mean, max or final")
    labels = options.labels
    num_classes = 2 if outputs == 1 else outputs
    if labels is None:
        labels = ["negative", "positive"] if num_classes == 2 else [f"class {i}" for i in range(num_classes)]
    if len(labels) != num_classes:
        raise ModelImportError(f"{len(labels)} label names for a model with {num_classes} classes"
                           + (" (one sigmoid output reads P(second label))" if outputs == 1 else ""))
    try:
        return ModelConfig(
            vocab_size=vocab_size, num_classes=num_classes, cell=cells.pop(), bidirectional=directions.pop() == 2,
            num_layers=len(layers.recurrent), emb_dim=emb_dim, hidden_dim=hidden,
            pooling={"final": "last", "last_step": "last"}.get(head_input, head_input),
            head="per_step" if head_input == "last_step" else ("mlp" if mlp else "linear"),
            head_hidden=layers.linears[0][0].shape[0] if mlp else MODEL_SPEC["head_hidden"].default,
            output="sigmoid" if outputs == 1 else "softmax", packed=options.packed or layers.masked,
        )
    except ValueError as error:
        raise ModelImportError(f"{name}: GateScope cannot hold this architecture ({error})") from None


def import_model(weights: str | Path, vocabulary: str | Path, options: ImportOptions | None = None) -> ImportedModel:
    """Build a GateScope bundle from a tutorial's weights file and vocabulary.

    Args:
        weights: ``.pt``/``.pth``/``.pkl`` state dict or ``.h5``/``.keras`` Keras weights.
        vocabulary: the vocabulary file (``read_vocabulary``).
        options: what the weights cannot say (defaults: the tutorials' pre-padding).

    Returns:
        The bundle (model in eval mode) and notes on how it was read.

    Raises:
        ModelImportError: with what to change, for every file GateScope cannot import: damaged
            files, class names that are not plain text (``check_label_names``), and files over the
            limits (``MAX_PARAMETERS``, ``MAX_VOCAB_SIZE``, ``MAX_TEXT_FILE_BYTES`` and the
            ``.keras`` archive limits), each refused from what the file declares before it is read.
    """
    weights, options = Path(weights), options or ImportOptions()
    if options.labels is not None:
        check_label_names(options.labels, error=ModelImportError)
    if weights.is_dir():
        raise ModelImportError(f"{weights} is a folder, not a model file; give the weights file itself")
    if not weights.is_file():
        raise ModelImportError(f"no model file at {weights}")
    try:
        return _import(weights, vocabulary, options)
    except MemoryError:
        raise ModelImportError(f"{weights.name}: this server ran out of memory importing it; the model or its "
                               "vocabulary is too large") from None


def _import(weights: Path, vocabulary: str | Path, options: ImportOptions) -> ImportedModel:
    """``import_model`` once the options and the file's existence are checked."""
    notes: list[str] = []
    tokens = read_vocabulary(vocabulary)
    options, tokenizer, tokens = _text_settings(options, vocabulary, tokens)
    suffix = weights.suffix.lower()
    if suffix in TORCH_SUFFIXES:
        layers, framework = _torch_layers(load_state_dict(weights), weights.name, notes), "pytorch"
    elif suffix in KERAS_SUFFIXES:
        layers, framework = _keras_layers(weights, notes), "keras"
    else:
        raise ModelImportError(f"{weights.name}: unknown model file type; expected {', '.join(TORCH_SUFFIXES)} "
                           f"(PyTorch state_dict) or {', '.join(KERAS_SUFFIXES)} (Keras)")
    itos, source_rows = _reorder(tokens, layers.embedding.shape[0], notes)
    default_head = "mean" if framework == "pytorch" and len(layers.linears) == 2 else "final"
    config = _config_of(layers, options, len(itos), weights.name, default_head)
    matrix = np.zeros((len(itos), config.emb_dim), dtype=np.float32)
    for row, source in enumerate(source_rows):
        if source is not None:
            matrix[row] = layers.embedding[source]
    model = build_model(config)
    state = {"embedding.weight": torch.from_numpy(matrix)}
    for layer, row in enumerate(layers.recurrent):
        for direction, weights_of in enumerate(row):
            suffix_name = f"_l{layer}" + ("_reverse" if direction else "")
            for part in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                state[f"rnn.{part}{suffix_name}"] = torch.from_numpy(np.ascontiguousarray(getattr(weights_of, part)))
    (w_last, b_last) = layers.linears[-1]
    if len(layers.linears) == 2:
        state["fc1.weight"], state["fc1.bias"] = map(torch.from_numpy, layers.linears[0])
    state["classifier.weight"], state["classifier.bias"] = torch.from_numpy(w_last), torch.from_numpy(b_last)
    expected = model.state_dict()
    for key, tensor in state.items():
        if tuple(tensor.shape) != tuple(expected[key].shape):
            raise ModelImportError(f"{weights.name}: {key} has shape {tuple(tensor.shape)}, the inferred model needs "
                               f"{tuple(expected[key].shape)}")
    model.load_state_dict(state)
    model.eval()
    truncation = options.truncation or ("pre" if framework == "keras" else "post")
    try:
        encoding = EncodingConfig(max_len=options.max_len, padding=options.padding, truncation=truncation,
                                  fixed_length=options.fixed_length, unknown=options.unknown)
    except ValueError as error:
        raise ModelImportError(f"encoding: {error}") from None
    notes.append(_unknown_note(encoding.unknown, has_unk_row=source_rows[1] is not None))
    if framework == "keras":
        notes.append("Keras' SimpleRNN and LSTM keep one bias per gate: it was put on PyTorch's input side "
                     "(bias_ih) and bias_hh set to zero, which computes the same gates.")
    notes.append(f"Read as {config.display_name}, embedding {config.emb_dim}, hidden {config.hidden_dim}, "
                 f"{HEAD_INPUT_HELP[_head_input_of(config)]}, "
                 f"{'sigmoid output (P(' + positive_label(options, config) + '))' if config.output == 'sigmoid' else 'softmax output'}.")
    bundle = Bundle(
        model=model, vocab=Vocab(itos), label_names=list(options.labels or _default_labels(config)),
        tokenizer_config=tokenizer, encoding=encoding,
        card={"imported_from": weights.name, "framework": framework, "import_notes": notes,
              "tutorial_embedding_rows": int(layers.embedding.shape[0]),
              "text_preset": options.preset, "text_preset_title": TEXT_PRESETS[options.preset].title},
        versions=library_versions(),
    )
    return ImportedModel(bundle, notes)


def keras_tokenizer_settings(path: str | Path) -> dict | None:
    """The settings of a Keras ``tokenizer.to_json()`` file (filters, lower, split, char_level,
    oov_token, num_words), or None when the file is another kind of vocabulary."""
    path = Path(path)
    text = read_named_file(path, MAX_TEXT_FILE_BYTES, "the vocabulary", ModelImportError).decode("utf-8", errors="replace")
    if text.lstrip()[:1] != "{":
        return None
    data = _parse(text, path.name, "save the tokenizer with open(path, 'w').write(tokenizer.to_json())")
    if not isinstance(data, dict) or data.get("class_name") != "Tokenizer" or not isinstance(data.get("config"), dict):
        return None
    return {k: data["config"].get(k) for k in ("filters", "lower", "split", "char_level", "oov_token", "num_words")}


def _text_settings(options: ImportOptions, vocabulary: str | Path, tokens: list[str | None]
                   ) -> tuple[ImportOptions, TokenizerConfig, list[str | None]]:
    """The options with the preset's text settings filled in, the tokenizer, and the vocabulary as
    the tutorial's code used it (a Keras tokenizer's ``num_words`` words; its ``oov_token`` as <unk>).

    Raises:
        ModelImportError: an unknown preset, policy or stopword list, or Keras settings GateScope
            cannot read with (``char_level``, over-long filters).
    """
    keras = keras_tokenizer_settings(vocabulary)
    name = options.preset or ("keras" if keras else "whitespace")
    if name not in TEXT_PRESETS:
        raise ModelImportError(f"unknown text preset {name!r}; valid: {', '.join(TEXT_PRESETS)}")
    preset = TEXT_PRESETS[name]
    fields, unknown = dict(preset.tokenizer), preset.unknown
    if name == "keras":
        keras = keras or {}
        if keras.get("char_level"):
            raise ModelImportError("this Keras tokenizer reads characters (char_level=True); GateScope reads words")
        for key, field_name in (("filters", "filters"), ("lower", "lowercase"), ("split", "split")):
            if keras.get(key) is not None:
                fields[field_name] = keras[key]
        num_words, oov = _index(keras.get("num_words")), keras.get("oov_token")
        if num_words:  # texts_to_sequences: a word of index >= num_words is the oov_token, or left out
            tokens = tokens[:num_words]
        if isinstance(oov, str) and oov in tokens:
            tokens = [UNK_TOKEN if t == oov else t for t in tokens]
        unknown = "unk" if any(t in UNK_NAMES for t in tokens) else "skip"
    if options.lowercase is not None:
        fields["lowercase"] = options.lowercase
    if options.stopwords is not None:
        if options.stopwords not in STOPWORD_CHOICES:
            raise ModelImportError(f"unknown stopword list {options.stopwords!r}; valid: {', '.join(STOPWORD_CHOICES)}")
        fields["remove_stopwords"] = options.stopwords != "none"
        if options.stopwords != "none":
            fields.update(stopwords=options.stopwords, keep_negations=False)
    if options.unknown is not None and options.unknown not in UNKNOWN_POLICIES:
        raise ModelImportError(f"unknown-word policy {options.unknown!r}; valid: {', '.join(UNKNOWN_POLICIES)}")
    try:
        tokenizer = TokenizerConfig(**fields)
    except (TypeError, ValueError) as error:
        raise ModelImportError(f"the tokenizer settings: {error}") from None
    resolved = replace(options, preset=name, padding=options.padding or preset.padding,
                       truncation=options.truncation or preset.truncation,
                       fixed_length=preset.fixed_length if options.fixed_length is None else options.fixed_length,
                       unknown=options.unknown or unknown)
    return resolved, tokenizer, tokens


def _unknown_note(unknown: str, has_unk_row: bool) -> str:
    """What happens to a word the tutorial's vocabulary lacks, for the import notes."""
    if unknown == "pad":
        return "Words the vocabulary lacks read as index 0, the padding vector, as vocab_to_int.get(word, 0) does."
    if unknown == "skip":
        return "Words the vocabulary lacks are left out, as Keras' Tokenizer without an oov_token does."
    if has_unk_row:
        return "Words the vocabulary lacks read as its own unknown-word token's vector."
    return ("The vocabulary has no unknown-word token: words it lacks read as a zero vector here; if the "
            "tutorial's code read them otherwise, choose its preset or the unknown-word policy pad or skip.")


def tutorial_config(bundle: Bundle) -> ModelConfig:
    """The architecture as the tutorial's own code built it, to count its parameters.

    An imported model's embedding has GateScope's rows (``<pad>`` and ``<unk>`` added where the
    tutorial's vocabulary had none, rows no word used left out); the tutorial's table had
    ``card["tutorial_embedding_rows"]``. Any other bundle's config is returned as it is.
    """
    rows = _index(bundle.card.get("tutorial_embedding_rows")) if isinstance(bundle.card, dict) else None
    config = bundle.model_config
    if rows is None or rows == config.vocab_size or not 2 <= rows <= MAX_VOCAB_SIZE:
        return config
    return replace(config, vocab_size=rows)


def _head_input_of(config: ModelConfig) -> str:
    """The ``HEAD_INPUTS`` name of what a config's head reads."""
    if config.head == "per_step":
        return "last_step"
    return "final" if config.pooling == "last" else config.pooling


def _default_labels(config: ModelConfig) -> list[str]:
    return ["negative", "positive"] if config.num_classes == 2 else [f"class {i}" for i in range(config.num_classes)]


def positive_label(options: ImportOptions, config: ModelConfig) -> str:
    """The class a sigmoid output's probability is about (the second label)."""
    return (options.labels or _default_labels(config))[1]
