"""Self-describing model bundles: one safetensors file whose header carries the model
config, training config, vocabulary, label names, tokenizer and encoding options, metrics,
dataset fingerprint and library versions. Loading never unpickles anything."""
from __future__ import annotations

import json
import os
import platform
import struct
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from . import __version__
from .data.types import check_label_names
from .encoding import EncodingConfig, split_encoding_options
from .errors import CheckpointError
from .files import parse_json
from .models import ModelConfig, SentimentRNN, build_model
from .text import LEGACY_TOKENIZER, TokenizerConfig
from .trainer import effective_padding
from .vocab import Vocab

FORMAT = "gatescope-bundle"
FORMAT_VERSION = 1
METADATA_KEY = "gatescope"
MAX_HEADER_BYTES = 64 * 2**20


@dataclass
class Bundle:
    """A trained model with everything needed to use and describe it."""

    model: SentimentRNN
    vocab: Vocab
    label_names: list[str]
    tokenizer_config: TokenizerConfig = field(default_factory=TokenizerConfig)
    encoding: EncodingConfig = field(default_factory=EncodingConfig)
    train_config: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    history: list[dict] = field(default_factory=list)
    dataset: dict = field(default_factory=dict)
    card: dict = field(default_factory=dict)
    versions: dict = field(default_factory=dict)

    @property
    def model_config(self) -> ModelConfig:
        return self.model.config

    @property
    def batch_padding(self) -> str:
        """The side batches are padded on, as in training (``trainer.effective_padding``)."""
        return effective_padding(self.model, self.encoding.padding)


def library_versions() -> dict:
    """Versions recorded in every bundle."""
    import numpy
    import safetensors

    return {
        "gatescope": __version__,
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "safetensors": safetensors.__version__,
        "python": platform.python_version(),
    }


def save_checkpoint(path: str | Path, bundle: Bundle, half: bool = False) -> Path:
    """Write ``bundle`` atomically (a crash mid-write never destroys the previous file).

    Args:
        path: destination, conventionally ``*.safetensors``.
        bundle: the model and its description.
        half: store floating weights as float16 (halves the size; loading restores float32).

    Returns:
        The path written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {}
    for name, tensor in bundle.model.state_dict().items():
        tensor = tensor.detach().cpu()
        if half and tensor.is_floating_point():
            tensor = tensor.half()
        tensors[name] = tensor.contiguous()
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model_config": bundle.model.config.to_dict(),
        "vocab": bundle.vocab.get_itos(),
        "vocab_freqs": [bundle.vocab.freqs.get(t, 0) for t in bundle.vocab.get_itos()],
        "label_names": list(bundle.label_names),
        "tokenizer": bundle.tokenizer_config.to_dict(),
        "encoding": bundle.encoding.to_dict(),
        "train_config": bundle.train_config,
        "metrics": bundle.metrics,
        "history": bundle.history,
        "dataset": bundle.dataset,
        "card": bundle.card,
        "versions": bundle.versions or library_versions(),
        "stored_dtype": "float16" if half else "float32",
    }
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".safetensors")
    os.close(fd)
    try:
        save_file(tensors, tmp, metadata={METADATA_KEY: json.dumps(meta, separators=(",", ":"))})
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; give the usual permissions
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def read_metadata(path: str | Path) -> dict:
    """The bundle's JSON description without loading weights.

    Raises:
        CheckpointError: the file is missing, not a safetensors file, or not a GateScope bundle.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no model bundle at {path}")
    size = path.stat().st_size
    with open(path, "rb") as handle:
        head = handle.read(8)
        if len(head) < 8:
            raise CheckpointError(f"{path.name} is too short to be a model bundle ({size} bytes); "
                                  "it is empty or truncated: save or download it again")
        (header_len,) = struct.unpack("<Q", head)
        if header_len > min(MAX_HEADER_BYTES, size - 8):
            # Not a safetensors header. Pickles start with 0x80 + protocol, torch.save zips with "PK".
            if (head[0] == 0x80 and head[1] in range(2, 6)) or head[:2] == b"PK":
                raise CheckpointError(f"{path.name} looks like a pickle/zip file (e.g. torch.save output). "
                                      "GateScope only loads safetensors bundles, because unpickling can run "
                                      "code: re-export the model with GateScope's save_checkpoint")
            raise CheckpointError(f"{path.name} is not a valid model bundle (corrupt or truncated header); "
                                  "save or download it again")
    try:
        with safe_open(str(path), framework="pt") as handle:
            raw = (handle.metadata() or {}).get(METADATA_KEY)
    except (SafetensorError, OSError, ValueError) as error:
        raise CheckpointError(f"{path.name} is not a readable safetensors file ({error}); "
                              "it is corrupt or truncated: save or download it again") from None
    if raw is None:
        raise CheckpointError(f"{path.name} is a safetensors file but not a GateScope model bundle "
                              "(no GateScope description inside); train or export it with GateScope")
    meta = parse_json(raw, f"{path.name}: the bundle description", CheckpointError,
                      "the file is damaged: save or download it again")
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{path.name} is not a GateScope model bundle")
    if meta.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{path.name} uses bundle format {meta.get('format_version')}, this GateScope "
                              f"reads format {FORMAT_VERSION}: upgrade GateScope or re-export the model")
    return meta


def check_incoming(bundle: Bundle) -> Bundle:
    """Refuse what a bundle from outside (an upload or an import) may not bring into a shared server.

    Runs already on disk are not checked, so they still load (pages escape what they show).

    Raises:
        CheckpointError: a class name that is not plain short text.
    """
    check_label_names(bundle.label_names, error=CheckpointError)
    return bundle


def _check_shapes(path: Path, config: ModelConfig) -> None:
    """Compare the weights the header declares with those ``config`` needs, before anything is built.

    Raises:
        CheckpointError: missing, unexpected or differently shaped weights.
    """
    # Only the embedding table grows with the vocabulary; MODEL_SPEC bounds every other weight. So the
    # model is built with a 2-word vocabulary and the table's shape taken from the description.
    small = build_model(replace(config, vocab_size=2, pad_idx=0))
    expected = {name: tuple(t.shape) for name, t in small.state_dict().items()}
    expected["embedding.weight"] = (config.vocab_size, config.emb_dim)
    try:
        with safe_open(str(path), framework="pt") as handle:
            declared = {name: tuple(handle.get_slice(name).get_shape()) for name in handle.keys()}
    except (SafetensorError, OSError) as error:
        raise CheckpointError(f"{path.name}: weights could not be read ({error}); the file is damaged") from None
    missing, extra = set(expected) - set(declared), set(declared) - set(expected)
    if missing or extra:
        raise CheckpointError(f"{path.name}: weights do not match the described model "
                              f"(missing {sorted(missing)[:5]}, unexpected {sorted(extra)[:5]})")
    for name, shape in expected.items():
        if declared[name] != shape:
            raise CheckpointError(f"{path.name}: weight {name} has shape {declared[name]} but the "
                                  f"described model needs {shape}")


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> Bundle:
    """Rebuild the model and everything around it from a bundle.

    Sizes are checked before anything is built: the vocabulary against ``MAX_VOCAB_SIZE``, the
    described model against ``MAX_PARAMETERS`` (``ModelConfig``), and every weight's declared
    shape against the model's.

    Args:
        path: the bundle file.
        device: where to put the model.

    Returns:
        The bundle, model in eval mode and float32.

    Raises:
        CheckpointError: corrupt, truncated, foreign, oversized or inconsistent files, with what to do.
    """
    path = Path(path)
    meta = read_metadata(path)
    try:
        config = ModelConfig.from_dict(dict(meta.get("model_config") or {}))
    except (TypeError, ValueError) as error:  # includes the limits on vocabulary and parameters
        raise CheckpointError(f"{path.name}: the model it describes cannot be loaded ({error})") from None
    try:
        words, freqs = meta["vocab"], meta.get("vocab_freqs", [])
        if not isinstance(words, list) or not isinstance(freqs, list):
            raise TypeError("the vocabulary and its counts must be lists")
        if len(words) != config.vocab_size:
            raise CheckpointError(f"{path.name}: the vocabulary has {len(words):,} entries but the model expects "
                                  f"{config.vocab_size:,}; the bundle is inconsistent")
        label_names = [str(x) for x in meta["label_names"]]
        if len(label_names) != config.num_classes:
            raise CheckpointError(f"{path.name}: {len(label_names)} label names for {config.num_classes} classes")
        _check_shapes(path, config)
        vocab = Vocab(list(words), dict(zip(words, freqs)))
        # Bundles saved before cleaning existed stored no such fields: they keep reading text as then.
        tokenizer = TokenizerConfig(**{**LEGACY_TOKENIZER, **meta["tokenizer"]})
        encoding = EncodingConfig.from_dict(meta["encoding"])
        # bundles written before encoding became its own group repeat it among the training options
        train_config, _ = split_encoding_options(dict(meta.get("train_config") or {}))
    except CheckpointError:
        raise
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(f"{path.name}: the bundle description is incomplete or invalid ({error})") from None
    model = build_model(config)
    expected = model.state_dict()
    try:
        with safe_open(str(path), framework="pt") as handle:
            state = {name: handle.get_tensor(name).to(expected[name].dtype) for name in expected}
    except (SafetensorError, OSError) as error:
        raise CheckpointError(f"{path.name}: weights could not be read ({error}); the file is damaged") from None
    model.load_state_dict(state)
    model.to(device).eval()
    return Bundle(
        model=model, vocab=vocab, label_names=label_names, tokenizer_config=tokenizer, encoding=encoding,
        train_config=train_config, metrics=meta.get("metrics", {}),
        history=meta.get("history", []), dataset=meta.get("dataset", {}), card=meta.get("card", {}),
        versions=meta.get("versions", {}),
    )
