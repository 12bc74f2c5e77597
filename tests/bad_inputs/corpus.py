"""The bad-input corpus: the small files beside this module, plus files generated at test
time because they are big (a 10 MB single line) or must be built from a bundle in the
current format (truncated, lying or NaN bundles, a pickle that would leave a marker file).

Every case names what it is; the tests feed each one to every entry point that takes it.
"""
from __future__ import annotations

import json
import pickle
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from sentiment_core.checkpoint import METADATA_KEY, Bundle, save_checkpoint
from sentiment_core.models import ModelConfig, build_model
from sentiment_core.text import Tokenizer
from sentiment_core.vocab import Vocab

HERE = Path(__file__).resolve().parent

# Uploads that cannot be used: the parser must refuse them with a message.
BAD_UPLOADS = {
    "malformed_quotes.csv": "unbalanced quotes swallow rows",
    "ragged.csv": "rows with 1, 2 and 5 fields",
    "binary_junk.csv": "1 KB of random bytes named .csv",
    "empty.csv": "0 bytes",
    "header_only.csv": "a header and no rows",
    "one_class.csv": "every label is 'positive'",
    "one_row.csv": "a single example",
    "free_text_labels.csv": "the label column holds a different sentence on every row",
}
# Unusual but usable uploads: the parser must read them (and say how).
ODD_UPLOADS = {
    "wrong_delimiter.csv": "';' separated, named .csv",
    "latin1.csv": "Windows-1252 / latin-1 accents",
    "utf16.csv": "UTF-16 with a byte-order mark",
    "emoji_rtl.csv": "emoji, Arabic, Hebrew and bidirectional control characters",
}
# Files named like model bundles that are not loadable bundles.
BAD_BUNDLES = {
    "random_bytes.safetensors": "2 KB of random bytes",
    "empty.safetensors": "0 bytes",
    "pickle_dict.safetensors": "a stdlib pickle of a harmless dict",
}
GENERATED_BUNDLES = {
    "truncated.safetensors": "the first half of a valid bundle",
    "lying_shapes.safetensors": "the JSON header says hidden size 16, the weights are for 8",
    "lying_vocab.safetensors": "the JSON header lists 5 words for a 20-row embedding",
    "torch_save.safetensors": "torch.save output (a zip with a pickle inside)",
    "pickle_marker.safetensors": "a pickle whose __reduce__ would create a marker file",
}
NAN_BUNDLE = "nan_weights.safetensors"  # loads (shapes are right) but its weights are NaN
BIG_LINE = "big_single_line.csv"
# Names that try to leave their directory.
UNSAFE_NAMES = ["../escape", "../../outside/x", "a/../../b", "/etc/passwd", "..", ".", "x/..", "..\\win",
                "a/b", "-rf", " ", "\x00"]

WORDS = "the movie was plot actor scene it film story and a of good great fine bad awful poor".split()


def tiny_bundle(seed: int = 0, cell: str = "lstm", **model_options) -> Bundle:
    """An untrained two-class bundle (vocabulary of 20 movie words, dimensions 8)."""
    tokenizer = Tokenizer()
    vocab = Vocab.build([tokenizer(w) for w in WORDS])
    torch.manual_seed(seed)
    config = ModelConfig(vocab_size=len(vocab), num_classes=2, cell=cell, emb_dim=8, hidden_dim=8,
                         **model_options)
    model = build_model(config).eval()
    return Bundle(model=model, vocab=vocab, label_names=["negative", "positive"],
                  card={"title": f"tiny {cell}"})


def write_bundle(path: Path, **options) -> Path:
    """Save a tiny bundle at ``path``."""
    return save_checkpoint(path, tiny_bundle(**options))


class _LeavesMarker:
    """Unpickling this calls ``open(marker, "w")``, which creates the marker file."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


def marker_pickle(marker: Path) -> bytes:
    """Pickle bytes that create ``marker`` if (and only if) someone unpickles them."""
    return pickle.dumps({"state_dict": _LeavesMarker(marker)})


def _rewrite_header(source: Path, dest: Path, change) -> Path:
    with safe_open(str(source), framework="pt") as handle:
        tensors = {k: handle.get_tensor(k) for k in handle.keys()}
        meta = json.loads(handle.metadata()[METADATA_KEY])
    change(meta)
    save_file(tensors, str(dest), metadata={METADATA_KEY: json.dumps(meta)})
    return dest


def write_big_line(path: Path, size: int = 10 * 2**20) -> Path:
    """A CSV that is one ``size``-byte line (no newline anywhere)."""
    chunk = b"this movie was good and then bad, "
    path.write_bytes((chunk * (size // len(chunk) + 1))[:size])
    return path


def write_generated(dest: Path, marker: Path) -> dict[str, Path]:
    """Write the generated cases into ``dest``.

    Args:
        dest: folder to write into.
        marker: the file the marker pickle would create when unpickled.

    Returns:
        File name -> path, for ``GENERATED_BUNDLES``, ``NAN_BUNDLE`` and ``BIG_LINE``.
    """
    dest.mkdir(parents=True, exist_ok=True)
    valid = write_bundle(dest / ".valid.safetensors")
    data = valid.read_bytes()
    out = {"truncated.safetensors": dest / "truncated.safetensors"}
    out["truncated.safetensors"].write_bytes(data[: len(data) // 2])

    def more_hidden(meta):
        meta["model_config"]["hidden_dim"] = 16

    def fewer_words(meta):
        meta["vocab"] = meta["vocab"][:5]
        meta["vocab_freqs"] = meta["vocab_freqs"][:5]

    out["lying_shapes.safetensors"] = _rewrite_header(valid, dest / "lying_shapes.safetensors", more_hidden)
    out["lying_vocab.safetensors"] = _rewrite_header(valid, dest / "lying_vocab.safetensors", fewer_words)
    out["torch_save.safetensors"] = dest / "torch_save.safetensors"
    torch.save(tiny_bundle().model.state_dict(), out["torch_save.safetensors"])
    out["pickle_marker.safetensors"] = dest / "pickle_marker.safetensors"
    out["pickle_marker.safetensors"].write_bytes(marker_pickle(marker))
    nan = tiny_bundle()
    with torch.no_grad():
        for parameter in nan.model.parameters():
            parameter.fill_(float("nan"))
    out[NAN_BUNDLE] = save_checkpoint(dest / NAN_BUNDLE, nan)
    out[BIG_LINE] = write_big_line(dest / BIG_LINE)
    valid.unlink()
    return out
