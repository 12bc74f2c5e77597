"""Turn a user's uploaded file into a ``LabeledDataset``, explaining every problem found.

Formats: CSV, TSV, TXT (``text<TAB>label`` per line), JSON (lines or an array of
objects) and Parquet. Text encodings tried: UTF-8 (with or without BOM), UTF-16 with a
BOM, Windows-1252, latin-1. Columns are detected by name or content and can be
overridden; labels may be strings, integers, booleans or continuous scores.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import re
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import DataError
from .types import Examples, LabeledDataset, check_label_names

FORMATS = {
    ".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".txt": "txt", ".json": "json",
    ".jsonl": "json", ".ndjson": "json", ".parquet": "parquet", ".pq": "parquet",
}
TEXT_NAMES = (
    "text", "review", "sentence", "tweet", "content", "comment", "body", "message",
    "document", "headline", "phrase", "utterance", "title",
)
LABEL_NAMES = (
    "label", "labels", "sentiment", "target", "class", "polarity", "rating", "score",
    "stars", "category", "y",
)
# Column names under which 0/1 integers mean negative/positive.
_SENTIMENT_COLUMNS = {"label", "labels", "sentiment", "target", "polarity", "class"}
SYNONYMS = {
    "positive": "positive", "pos": "positive", "p": "positive", "+": "positive",
    "good": "positive", "happy": "positive",
    "negative": "negative", "neg": "negative", "n": "negative", "-": "negative",
    "bad": "negative", "sad": "negative",
    "neutral": "neutral", "neu": "neutral", "neut": "neutral", "objective": "neutral",
}
_SENTIMENT_ORDER = ("negative", "neutral", "positive")
_BOOLEANS = {"true": True, "false": False}
MAX_BAD_FRACTION = 0.1
MAX_CLASSES = 50
MAX_UPLOAD_BYTES = 50 * 2**20  # as .streamlit/config.toml's maxUploadSize
MAX_UPLOAD_ROWS = 1_000_000
MAX_UPLOAD_COLUMNS = 100
MAX_UPLOAD_CELLS = 5_000_000  # rows x columns, each held as a Python value while columns are detected
MAX_DECODED_BYTES = 200 * 2**20  # what a compressed (Parquet) upload may unpack to
# A physical line with more separators than this cannot be a row of MAX_UPLOAD_COLUMNS columns, even
# with long quoted texts: refused before the CSV reader splits it into fields.
MAX_SEPARATORS_PER_LINE = 100 * MAX_UPLOAD_COLUMNS
_SIGNATURES = {
    b"PK\x03\x04": "a zip archive or an Excel .xlsx workbook",
    b"\x1f\x8b": "a gzip-compressed file",
    b"%PDF": "a PDF document",
    b"\xd0\xcf\x11\xe0": "an old Excel .xls / Word document",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
}


@dataclass
class UploadReport:
    """What the parser did with an uploaded file.

    ``rows_read == rows_kept + empty_dropped + duplicates_dropped + bad_rows_skipped``.
    """

    rows_read: int
    rows_kept: int
    empty_dropped: int
    duplicates_dropped: int
    text_column: str
    label_column: str
    label_mapping: dict[str, str]
    encoding: str
    threshold: float | None
    warnings: list[str] = field(default_factory=list)
    format: str = ""
    bad_rows_skipped: int = 0


@dataclass
class ColumnPreview:
    """Columns of an uploaded file and the detected text/label columns (for a UI)."""

    columns: list[str]
    text_column: str | None
    label_column: str | None
    format: str
    encoding: str
    rows: int
    sample: list[dict[str, str]]


@dataclass
class _Table:
    columns: list[str]
    values: dict[str, list[Any]]
    format: str
    encoding: str
    records: int  # data records in the file, malformed ones included
    bad_rows: int = 0
    warnings: list[str] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return len(self.values[self.columns[0]]) if self.columns else 0


def upload_sha(data: bytes) -> str:
    """The name of an upload's content: the first 16 hex digits of its SHA-256."""
    return hashlib.sha256(data).hexdigest()[:16]


def _mb(n: int) -> str:
    return f"{n / 2**20:.1f} MB"


def _short(value: Any, width: int = 40) -> str:
    text = str(value)
    return repr(text if len(text) <= width else text[: width - 3] + "...")


def _listing(items: list[Any], limit: int = 8) -> str:
    """Comma-separated, quoted and shortened; at most ``limit`` items shown."""
    shown = ", ".join(_short(i) for i in items[:limit])
    return shown + (f" and {len(items) - limit:,} more" if len(items) > limit else "")


def _check_shape(filename: str, rows: int, columns: int) -> None:
    """Refuse a table over the row, column or value limits (from what the file declares or holds).

    Raises:
        DataError: naming the limit that was passed and what to upload instead.
    """
    if columns > MAX_UPLOAD_COLUMNS:
        raise DataError(
            f"{filename} has {columns:,} columns; at most {MAX_UPLOAD_COLUMNS} are read. Keep the text and "
            "label columns (and few others) and upload it again"
        )
    if rows > MAX_UPLOAD_ROWS:
        raise DataError(
            f"{filename} has {rows:,} rows; at most {MAX_UPLOAD_ROWS:,} are read. Upload a sample of the rows"
        )
    if rows * columns > MAX_UPLOAD_CELLS:
        raise DataError(
            f"{filename} has {rows:,} rows x {columns} columns = {rows * columns:,} values; at most "
            f"{MAX_UPLOAD_CELLS:,} are read. Drop the columns you do not need or upload fewer rows"
        )


def _detect_format(data: bytes, filename: str) -> str:
    suffix = Path(filename).suffix.lower()
    if data[:4] == b"PAR1":
        return "parquet"
    for magic, what in _SIGNATURES.items():
        if data.startswith(magic):
            raise DataError(
                f"{filename} looks like {what}, not a text table; export or save it as CSV "
                "(UTF-8) and upload that"
            )
    if suffix not in FORMATS:
        raise DataError(
            f"{filename}: unsupported file type {suffix or '(none)'!r}; upload .csv, .tsv, .txt, "
            ".json, .jsonl or .parquet"
        )
    if FORMATS[suffix] == "parquet":
        raise DataError(f"{filename} is not a valid Parquet file (no PAR1 header); export it again")
    return FORMATS[suffix]


def _decode(data: bytes, filename: str) -> tuple[str, str]:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError as exc:
            raise DataError(
                f"{filename} starts with a UTF-16 byte-order mark but is not valid UTF-16 "
                f"({exc.reason}); unreadable encoding. Save it again as UTF-8"
            ) from exc
    if data.startswith(b"\xef\xbb\xbf"):
        encoding = "utf-8-sig"
    elif b"\x00" in data:
        sample = data[:4096]
        alternate = max(sample[0::2].count(0), sample[1::2].count(0))
        if alternate > 0.3 * len(sample) / 2:
            raise DataError(
                f"{filename} looks like UTF-16 text without a byte-order mark; unreadable "
                "encoding. Save it as UTF-8 (or UTF-16 with BOM) and upload it again"
            )
        raise DataError(
            f"{filename} contains binary data (NUL bytes), not text; upload a CSV, TSV, TXT, "
            "JSON or Parquet file"
        )
    else:
        encoding = "utf-8"
    for candidate in (encoding, "cp1252"):
        try:
            text = data.decode(candidate)
            break
        except UnicodeDecodeError:
            continue
    else:
        candidate, text = "latin-1", data.decode("latin-1")
    odd = sum(1 for ch in text[:100_000] if (ord(ch) < 32 and ch not in "\t\n\r\f") or 0x7F <= ord(ch) < 0xA0)
    if odd > max(10, 0.05 * min(len(text), 100_000)):
        raise DataError(
            f"{filename} does not look like text: {odd:,} control characters in the first "
            f"{min(len(text), 100_000):,}. It is binary junk or an unreadable encoding; save it "
            "as UTF-8 CSV and upload again"
        )
    return text, candidate


def _normalise_name(name: str) -> str:
    return " ".join(str(name).strip().lower().split())


def _name_tokens(name: str) -> set[str]:
    return set(re.split(r"[^a-z0-9]+", _normalise_name(name))) - {""}


_KNOWN = set(TEXT_NAMES) | set(LABEL_NAMES)


def _has_header(first: list[str], rest: list[list[str]], default: bool) -> bool:
    if any(_normalise_name(f) in _KNOWN for f in first):
        return True
    # In the most label-like column (fewest distinct values, some repeated), the first
    # row is data exactly when its value is one of the labels below it.
    candidates = []
    for j in range(len(first)):
        cells = [r[j].strip() for r in rest[:2000] if len(r) == len(first)]
        distinct = set(cells)
        if 1 < len(distinct) <= 20 and len(distinct) < len(cells):
            candidates.append((len(distinct), j, distinct))
    if not candidates:
        return default
    _, j, distinct = min(candidates)
    if first[j].strip() in distinct:
        return False
    # Formats that normally have no header need stronger evidence: a word above numbers.
    return default or (_as_number(first[j]) is None and all(_as_number(v) is not None for v in distinct))


def _unique_names(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for i, raw in enumerate(names, 1):
        name = str(raw).strip() or f"column {i}"
        if name in seen:
            seen[name] += 1
            name = f"{name}.{seen[name]}"
        else:
            seen[name] = 0
        out.append(name)
    return out


def _bad_rows_check(filename: str, bad: list[tuple[int, str]], records: int, fix: str) -> list[str]:
    if not bad:
        return []
    lines = ", ".join(str(n) for n, _ in bad[:5]) + (" ..." if len(bad) > 5 else "")
    if len(bad) > MAX_BAD_FRACTION * records:
        raise DataError(
            f"{filename}: {len(bad):,} of {records:,} rows could not be read (ragged rows; first "
            f"at line {bad[0][0]}: {bad[0][1]}). {fix}"
        )
    return [f"skipped {len(bad):,} malformed row(s) at line(s) {lines}: {bad[0][1]}"]


def _sniff_delimiter(text: str, preferred: str) -> str:
    sample_lines = [line for line in text[:65536].split("\n")[:50] if line.strip()]
    if len(text) > 65536 and len(sample_lines) > 1:
        sample_lines = sample_lines[:-1]  # the last line may be cut off
    best, best_score = preferred, (0.0, 0)
    for delimiter in dict.fromkeys([preferred, ",", "\t", ";", "|"]):
        quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
        try:
            rows = list(csv.reader(sample_lines, delimiter=delimiter, quoting=quoting))
        except csv.Error:
            continue
        width = len(rows[0]) if rows else 0
        if width < 2:
            continue
        consistency = sum(len(r) == width for r in rows) / len(rows)
        if delimiter == preferred and consistency >= 0.9:
            return preferred
        if consistency >= 0.9 and (consistency, width) > best_score:
            best, best_score = delimiter, (consistency, width)
    return best


def _bounded_lines(text: str, delimiter: str, filename: str):
    """The physical lines of ``text``, refusing one with more than ``MAX_SEPARATORS_PER_LINE`` delimiters
    before the CSV reader splits it into fields."""
    for number, line in enumerate(io.StringIO(text, newline=""), 1):
        separators = line.count(delimiter)
        if separators > MAX_SEPARATORS_PER_LINE:
            raise DataError(
                f"{filename}: line {number} has {separators + 1:,} fields separated by {delimiter!r}; a table may "
                f"have at most {MAX_UPLOAD_COLUMNS} columns. Remove the extra columns (or check the delimiter) and "
                "upload it again"
            )
        yield line


def _parse_delimited(text: str, filename: str, fmt: str, encoding: str) -> _Table:
    preferred = "\t" if fmt == "tsv" else ","
    delimiter = _sniff_delimiter(text, preferred)
    warnings = []
    if delimiter != preferred:
        warnings.append(f"{filename} is separated by {delimiter!r}, not {preferred!r}; read it that way")
    quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
    old_limit = csv.field_size_limit()
    csv.field_size_limit(max(old_limit, len(text) + 1))
    try:
        reader = csv.reader(_bounded_lines(text, delimiter, filename), delimiter=delimiter, quoting=quoting)
        numbered: list[tuple[int, list[str]]] = []
        for row in reader:
            if not any(f.strip() for f in row):
                continue
            if not numbered:
                _check_shape(filename, 1, len(row))  # the header (or first row) fixes the width
            elif len(numbered) > MAX_UPLOAD_ROWS:
                _check_shape(filename, len(numbered), 1)
            numbered.append((reader.line_num, row))
    except csv.Error as exc:
        raise DataError(f"{filename} is not a readable {fmt.upper()} file ({exc}); export it again") from exc
    finally:
        csv.field_size_limit(old_limit)
    if not numbered:
        raise DataError(f"{filename} is empty (no rows); upload a file with a text column and a label column")
    first = numbered[0][1]
    has_header = _has_header(first, [r for _, r in numbered[1:]], default=True)
    width = len(first)
    names = _unique_names(first) if has_header else [f"column {i}" for i in range(1, width + 1)]
    data_rows = numbered[1:] if has_header else numbered
    bad = [(n, f"expected {width} fields, found {len(r)}") for n, r in data_rows if len(r) != width]
    fix = (
        f"Check that the delimiter is {delimiter!r} everywhere and that text containing "
        f"{delimiter!r} or line breaks is quoted"
    )
    warnings += _bad_rows_check(filename, bad, len(data_rows), fix)
    good = [r for _, r in data_rows if len(r) == width]
    values = {name: [r[j] for r in good] for j, name in enumerate(names)}
    return _Table(names, values, fmt, encoding, len(data_rows), len(bad), warnings)


def _parse_txt(text: str, filename: str, encoding: str) -> _Table:
    lines = [(n, line.rstrip("\r")) for n, line in enumerate(text.split("\n"), 1) if line.strip()]
    if not lines:
        raise DataError(f"{filename} is empty (no lines); upload one 'text<TAB>label' line per example")
    _check_shape(filename, len(lines), 2)
    if not any("\t" in line for _, line in lines):
        other = next((d for d in (",", ";", "|") if all(d in line for _, line in lines[:20])), None)
        hint = f" It seems to use {other!r}: rename it to .csv." if other else ""
        raise DataError(
            f"{filename}: wrong delimiter, no tab found. TXT uploads need one 'text<TAB>label' "
            f"line per example.{hint}"
        )
    pairs = [(n, line.rpartition("\t")) for n, line in lines]
    rows = [(n, [t, lab]) for n, (t, sep, lab) in pairs if sep]
    bad = [(n, "no tab between text and label") for n, (_, sep, _) in pairs if not sep]
    first = rows[0][1] if rows else []
    has_header = rows[0][0] == lines[0][0] and _has_header(first, [r for _, r in rows[1:]], default=False)
    names = _unique_names(first) if has_header else ["text", "label"]
    data_rows = rows[1:] if has_header else rows
    records = len(lines) - (1 if has_header else 0)
    warnings = _bad_rows_check(filename, bad, records, "Put exactly one tab between the text and its label")
    values = {names[0]: [r[0] for _, r in data_rows], names[1]: [r[1] for _, r in data_rows]}
    return _Table(names, values, "txt", encoding, records, len(bad), warnings)


def _records_to_table(records: list[Any], filename: str, encoding: str, bad: list, total: int) -> _Table:
    columns: dict[str, None] = {}
    for record in records:
        if not isinstance(record, dict):
            raise DataError(
                f"{filename}: JSON records must be objects like {{\"text\": ..., \"label\": ...}}, "
                f"found {type(record).__name__}"
            )
        columns.update(dict.fromkeys(str(k) for k in record))
        if len(columns) > MAX_UPLOAD_COLUMNS:
            _check_shape(filename, len(records), len(columns))
    _check_shape(filename, len(records), len(columns))
    values = {
        c: [
            json.dumps(r[c]) if isinstance(r.get(c), (dict, list)) else r.get(c)
            for r in records
        ]
        for c in columns
    }
    warnings = _bad_rows_check(filename, bad, total, "Each line must be one complete JSON object")
    return _Table(list(columns), values, "json", encoding, total, len(bad), warnings)


def _parse_json(text: str, filename: str, encoding: str) -> _Table:
    stripped = text.strip()
    if not stripped:
        raise DataError(f"{filename} is empty; upload JSON lines or an array of objects")
    try:
        whole = json.loads(stripped)
    except json.JSONDecodeError:
        whole = None
    if isinstance(whole, dict):
        lists = [v for v in whole.values() if isinstance(v, list) and v and isinstance(v[0], dict)]
        whole = lists[0] if len(lists) == 1 else [whole]
    if isinstance(whole, list):
        if not whole:
            raise DataError(f"{filename} holds an empty JSON array; add records with a text and a label")
        return _records_to_table(whole, filename, encoding, [], len(whole))
    if whole is not None:
        raise DataError(f"{filename}: expected JSON objects with a text and a label field, found a {type(whole).__name__}")
    records, bad = [], []
    lines = [(n, line) for n, line in enumerate(text.split("\n"), 1) if line.strip()]
    _check_shape(filename, len(lines), 1)
    for n, line in lines:
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as exc:
            bad.append((n, f"invalid JSON ({exc.msg})"))
    if not records:
        raise DataError(
            f"{filename} is not valid JSON or JSON lines (line {bad[0][0]}: {bad[0][1]}); export "
            "it again as one JSON object per line"
        )
    return _records_to_table(records, filename, encoding, bad, len(lines))


def _decoded_bytes(array: Any) -> int:
    """Bytes of ``array``'s values once decoded (a dictionary column repeats its entries)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(array, pa.ChunkedArray):
        return sum(_decoded_bytes(chunk) for chunk in array.chunks)
    if not pa.types.is_dictionary(array.type):
        return array.nbytes
    entries = array.dictionary
    if not (pa.types.is_string(entries.type) or pa.types.is_binary(entries.type)
            or pa.types.is_large_string(entries.type) or pa.types.is_large_binary(entries.type)):
        return array.nbytes
    lengths = pc.take(pc.binary_length(entries), array.indices)  # (rows,) length of each row's entry
    return int(pc.sum(lengths).as_py() or 0) + array.indices.nbytes


def _parse_parquet(data: bytes, filename: str, columns: list[str] | None = None) -> _Table:
    """Read a Parquet upload in batches, checking the declared shape and sizes before decoding."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        metadata = pq.ParquetFile(io.BytesIO(data)).metadata
        schema = metadata.schema.to_arrow_schema()
    except Exception as exc:  # pyarrow raises several unrelated exception types
        raise DataError(f"{filename} is not a readable Parquet file ({exc}); export it again") from exc
    _check_shape(filename, metadata.num_rows, max(metadata.num_columns, len(schema.names)))
    declared = sum(metadata.row_group(i).total_byte_size for i in range(metadata.num_row_groups))
    too_big = (
        f"{filename} unpacks to more than {_mb(MAX_DECODED_BYTES)} of data (the limit); upload fewer rows or "
        "only the text and label columns"
    )
    if declared > MAX_DECODED_BYTES:
        raise DataError(too_big)
    chosen = [n for n in schema.names if columns is None or n in columns] or list(schema.names)
    strings = [f.name for f in schema if f.name in chosen and (
        pa.types.is_string(f.type) or pa.types.is_large_string(f.type)
        or pa.types.is_binary(f.type) or pa.types.is_large_binary(f.type))]
    names = _unique_names(chosen)
    values: dict[str, list[Any]] = {name: [] for name in names}
    decoded = 0
    try:
        # text columns stay dictionary-encoded until their decoded size is known
        reader = pq.ParquetFile(io.BytesIO(data), read_dictionary=strings)
        for batch in reader.iter_batches(batch_size=10_000, columns=chosen):
            decoded += sum(_decoded_bytes(column) for column in batch.columns)
            if decoded > MAX_DECODED_BYTES:
                raise DataError(too_big)
            for name, column in zip(names, batch.columns):
                values[name].extend(column.to_pylist())
            _check_shape(filename, len(values[names[0]]), len(names))
    except DataError:
        raise
    except Exception as exc:  # pyarrow raises several unrelated exception types
        raise DataError(f"{filename} is not a readable Parquet file ({exc}); export it again") from exc
    return _Table(names, values, "parquet", "binary (parquet)", len(values[names[0]]) if names else 0)


def _read_table(data: bytes, filename: str, max_bytes: int, columns: list[str] | None = None) -> _Table:
    """The upload as a table; ``columns``, when given, are the only ones a Parquet file needs to decode."""
    if len(data) > max_bytes:
        raise DataError(
            f"{filename} is {_mb(len(data))}; the limit is {_mb(max_bytes)}. Upload a smaller "
            "file, for example a sample of the rows"
        )
    if not data.strip(b" \t\r\n\x00\xef\xbb\xbf\xff\xfe"):
        raise DataError(f"{filename} is empty; upload a file with a text column and a label column")
    fmt = _detect_format(data, filename)
    if fmt == "parquet":
        table = _parse_parquet(data, filename, columns)
    else:
        text, encoding = _decode(data, filename)
        if fmt == "json":
            try:
                table = _parse_json(text, filename, encoding)
            except RecursionError:
                raise DataError(
                    f"{filename}: the JSON is nested too deeply (brackets inside brackets hundreds of levels "
                    'deep). Upload flat records such as {"text": "...", "label": "..."}, one per line'
                ) from None
        elif fmt == "txt":
            table = _parse_txt(text, filename, encoding)
        else:
            table = _parse_delimited(text, filename, fmt, encoding)
    if table.columns and table.records == 0:
        raise DataError(
            f"{filename} has a header ({_listing(table.columns)}) but no data rows; add "
            "examples below the header"
        )
    if len(table.columns) < 2:
        found = _listing(table.columns) or "none"
        raise DataError(
            f"{filename}: only one column found ({found}); a text column and a label column "
            "are needed. Wrong delimiter? Separate them with commas (.csv) or tabs (.tsv/.txt)"
        )
    return table


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or (
        isinstance(value, str) and not value.strip()
    )


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        number = float(str(value).strip())
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _text_stats(values: list[Any]) -> tuple[float, float, int, int]:
    """(share of non-blank values that are non-numeric strings, their mean length,
    distinct non-blank values, non-blank values)."""
    present = [v for v in values if not _is_blank(v)]
    strings = [str(v) for v in present if isinstance(v, str) and _as_number(v) is None]
    share = len(strings) / len(present) if present else 0.0
    mean = sum(len(s) for s in strings) / len(strings) if strings else 0.0
    return share, mean, len(set(map(str, present))), len(present)


def _pick_by_name(columns: list[str], names: tuple[str, ...]) -> list[str]:
    exact = [c for n in names for c in columns if _normalise_name(c) == n]
    partial = [c for c in columns if c not in exact and _name_tokens(c) & set(names)]
    return exact + partial


def _guess_text(table: _Table, exclude: str | None) -> str | None:
    columns = [c for c in table.columns if c != exclude]
    stats = {c: _text_stats(table.values[c][:5000]) for c in columns}
    for c in _pick_by_name(columns, TEXT_NAMES):
        if stats[c][0] >= 0.5:
            return c
    texty = [c for c in columns if stats[c][0] >= 0.5 and stats[c][2] > min(20, 0.5 * stats[c][3])]
    # Texts rarely repeat, labels do: prefer non-repeating columns, then the longest.
    return max(texty, key=lambda c: (stats[c][2] > max(2, 0.5 * stats[c][3]), stats[c][1]), default=None)


def _guess_label(table: _Table, exclude: str | None) -> str | None:
    """The label column: among columns named like labels, one whose values look like classes
    (mostly filled, 2 to ``MAX_CLASSES`` values that repeat) and whose name says label or
    sentiment (``" Sentiment Label"``) first, then exact names (``stars``, in ``LABEL_NAMES`` order)
    before partial ones; without such names, the column with the fewest repeated values."""
    columns = [c for c in table.columns if c != exclude]
    distinct = {c: len({str(v).strip() for v in table.values[c] if not _is_blank(v)}) for c in columns}
    named = _pick_by_name(columns, LABEL_NAMES)
    if named:
        filled = {c: sum(not _is_blank(v) for v in table.values[c]) for c in named}

        def rank(c: str) -> tuple:
            classes = (2 <= distinct[c] <= MAX_CLASSES and distinct[c] <= max(2, 0.5 * filled[c])
                       and filled[c] >= 0.5 * table.rows)
            says_label = bool(_name_tokens(c) & _SENTIMENT_COLUMNS)
            return not classes, not says_label, _normalise_name(c) not in LABEL_NAMES, distinct[c] < 2

        return min(named, key=rank)  # the first of equals: ``named`` lists exact names in LABEL_NAMES order
    low = [c for c in columns if 2 <= distinct[c] <= 20 and distinct[c] <= max(2, 0.5 * table.rows)]
    return min(low, key=lambda c: distinct[c], default=None)


def _check_override(table: _Table, column: str | None, what: str) -> None:
    if column is not None and column not in table.columns:
        valid = _listing(table.columns, limit=20)
        raise DataError(f"{what} {_short(column)} is not a column of the file; valid columns are: {valid}")


def _convert_labels(
    raw: list[Any], column: str, threshold: float | None
) -> tuple[list[str], dict[str, str], float | None, list[str]]:
    """Class name for every raw label, the raw->class mapping, threshold used, warnings."""
    warnings: list[str] = []
    if all(isinstance(v, bool) or str(v).strip().lower() in _BOOLEANS for v in raw):
        names = [
            ("true" if v else "false") if isinstance(v, bool)
            else ("true" if _BOOLEANS[str(v).strip().lower()] else "false")
            for v in raw
        ]
        return names, {str(v): n for v, n in zip(raw, names)}, None, warnings
    numbers = [_as_number(v) for v in raw]
    if all(n is not None for n in numbers):
        distinct = sorted(set(numbers))
        integral = all(float(n).is_integer() for n in distinct)
        if threshold is None and integral and len(distinct) <= 10:
            if -1 in distinct and set(distinct) <= {-1, 0, 1}:
                named = {-1.0: "negative", 0.0: "neutral", 1.0: "positive"}
            elif set(distinct) <= {0, 1} and _normalise_name(column) in _SENTIMENT_COLUMNS:
                named = {0.0: "negative", 1.0: "positive"}
            else:
                named = {n: str(int(n)) for n in distinct}
            names = [named[n] for n in numbers]
            return names, {str(v).strip(): named[n] for v, n in zip(raw, numbers)}, None, warnings
        if threshold is None:
            threshold = 0.5 if 0 <= distinct[0] and distinct[-1] <= 1 else statistics.median(numbers)
            warnings.append(
                f"labels in {_short(column)} are scores; split into negative / positive at "
                f"{threshold:g} (>= {threshold:g} is positive). Pass threshold= to change it"
            )
        names = ["positive" if n >= threshold else "negative" for n in numbers]
        mapping = {f"< {threshold:g}": "negative", f">= {threshold:g}": "positive"}
        return names, mapping, float(threshold), warnings
    if threshold is not None:
        raise DataError(
            f"threshold={threshold} needs numeric labels, but column {_short(column)} holds text labels "
            f"such as {_short(next(v for v, n in zip(raw, numbers) if n is None))}"
        )
    names = []
    mapping: dict[str, str] = {}
    for v in raw:
        normal = _normalise_name(v)
        name = SYNONYMS.get(normal, normal)
        names.append(name)
        mapping[str(v)] = name
    return names, mapping, None, warnings


def _order_classes(names: set[str]) -> list[str]:
    if names <= set(_SENTIMENT_ORDER):
        return [n for n in _SENTIMENT_ORDER if n in names]
    if all(_as_number(n) is not None for n in names):
        return sorted(names, key=lambda n: float(n))
    return sorted(names)


def preview_columns(data: bytes, filename: str, *, max_bytes: int = MAX_UPLOAD_BYTES) -> ColumnPreview:
    """Read an upload far enough to list its columns and the detected text/label columns.

    Args:
        data: the file's bytes.
        filename: original file name (its extension selects the format).
        max_bytes: size limit.

    Returns:
        ``ColumnPreview`` with all column names, the guessed text and label columns
        (``None`` when none fits), format, encoding, row count and the first 5 rows.

    Raises:
        DataError: the file cannot be read as a table (same checks as ``parse_upload``).
    """
    table = _read_table(data, filename, max_bytes)
    text_column = _guess_text(table, None)
    label_column = _guess_label(table, text_column)
    sample = [
        {c: "" if _is_blank(table.values[c][i]) else str(table.values[c][i]) for c in table.columns}
        for i in range(min(5, table.rows))
    ]
    return ColumnPreview(
        list(table.columns), text_column, label_column, table.format, table.encoding, table.rows, sample
    )


def parse_upload(
    data: bytes,
    filename: str,
    *,
    text_column: str | None = None,
    label_column: str | None = None,
    threshold: float | None = None,
    max_bytes: int = MAX_UPLOAD_BYTES,
    min_rows_per_class: int = 2,
) -> tuple[LabeledDataset, UploadReport]:
    """Parse an uploaded labelled-text file into a dataset with one part ``all``.

    Args:
        data: the file's bytes.
        filename: original file name; the extension selects the format (.csv, .tsv,
            .txt, .json/.jsonl, .parquet) and the stem names the dataset.
        text_column: column holding the texts (detected when ``None``).
        label_column: column holding the labels (detected when ``None``).
        threshold: split numeric labels into negative (< threshold) and positive
            (>= threshold); by default scores in [0, 1] split at 0.5, other
            continuous scores at their median, and few distinct integers stay classes.
        max_bytes: largest accepted file size.
        min_rows_per_class: fewest rows any class may have.

    Returns:
        The dataset and an ``UploadReport`` describing columns, label mapping, dropped
        rows, encoding, threshold and warnings.

    Raises:
        DataError: the file is empty, too large, binary, in an unreadable encoding,
            header-only, ragged, has no usable text or label column, only one class, or
            too few rows in a class. The message names the problem and the fix.
    """
    wanted = [text_column, label_column] if text_column and label_column else None
    table = _read_table(data, filename, max_bytes, wanted)
    _check_override(table, text_column, "text_column")
    _check_override(table, label_column, "label_column")
    if text_column is not None and text_column == label_column:
        raise DataError(f"text_column and label_column are both {_short(text_column)}; pick two different columns")
    columns = _listing(table.columns)
    text_col = text_column or _guess_text(table, label_column)
    if text_col is None:
        raise DataError(
            f"{filename}: no text column found among the columns {columns}; name the text "
            "column 'text' or choose it with text_column"
        )
    label_col = label_column or _guess_label(table, text_col)
    if label_col is None:
        raise DataError(
            f"{filename}: no label column found among the columns {columns}; name it 'label' "
            "or choose it with label_column"
        )
    texts_raw, labels_raw = table.values[text_col], table.values[label_col]
    keep = [i for i in range(table.rows) if not _is_blank(texts_raw[i]) and not _is_blank(labels_raw[i])]
    empty_dropped = table.rows - len(keep)
    texts = [str(texts_raw[i]).strip() for i in keep]
    raw_labels = [labels_raw[i] for i in keep]
    frequency: dict[str, int] = {}
    for value in raw_labels:
        key = str(value).strip()
        frequency[key] = frequency.get(key, 0) + 1
    singletons = sum(1 for n in frequency.values() if n == 1)
    if any(_as_number(v) is None for v in frequency) and (
        len(frequency) > MAX_CLASSES or (len(frequency) >= 10 and singletons >= 0.5 * len(frequency))
    ):
        raise DataError(
            f"the label column {_short(label_col)} looks like free text, not labels: "
            f"{len(frequency):,} different values such as {_listing(list(frequency), limit=3)}. "
            f"Choose the label column with label_column (columns: {columns})"
        )
    names, mapping, used_threshold, warnings = _convert_labels(raw_labels, label_col, threshold)
    seen: dict[tuple[str, str], None] = {}
    labels_by_text: dict[str, set[str]] = {}
    for text, name in zip(texts, names):
        seen.setdefault((text, name), None)
        labels_by_text.setdefault(text, set()).add(name)
    duplicates_dropped = len(texts) - len(seen)
    conflicts = sum(1 for s in labels_by_text.values() if len(s) > 1)
    counts: dict[str, int] = {}
    for _, name in seen:
        counts[name] = counts.get(name, 0) + 1
    if len(counts) < 2:
        only = next(iter(counts), "none")
        raise DataError(
            f"only one class ({_short(only)}) in the label column {_short(label_col)}; a classifier needs at "
            "least two classes. Add examples of another class or choose another label column"
        )
    if len(counts) > MAX_CLASSES:
        raise DataError(
            f"the label column {_short(label_col)} has {len(counts):,} classes (at most {MAX_CLASSES}); "
            "choose another label column or pass threshold= for numeric scores"
        )
    small = {n: c for n, c in counts.items() if c < min_rows_per_class}
    if small:
        described = [f"{_short(n)} has {c} row{'s' if c != 1 else ''}" for n, c in sorted(small.items())]
        listed = ", ".join(described[:5]) + (f" and {len(described) - 5:,} more classes" if len(described) > 5 else "")
        raise DataError(
            f"too few rows per class: {listed}; each class needs at least {min_rows_per_class}. "
            "Add examples of these classes or remove their rows"
        )
    try:
        label_names = check_label_names(_order_classes(set(counts)), error=DataError)
    except DataError as error:
        raise DataError(f"the label column {_short(label_col)}: {error}") from None
    index = {n: i for i, n in enumerate(label_names)}
    examples = Examples([t for t, _ in seen], [index[n] for _, n in seen])
    warnings = table.warnings + warnings
    if conflicts:
        warnings.append(f"{conflicts:,} text(s) appear with different labels; all versions were kept")
    report = UploadReport(
        rows_read=table.records,
        rows_kept=len(examples),
        empty_dropped=empty_dropped,
        duplicates_dropped=duplicates_dropped,
        text_column=text_col,
        label_column=label_col,
        label_mapping=mapping,
        encoding=table.encoding,
        threshold=used_threshold,
        warnings=warnings,
        format=table.format,
        bad_rows_skipped=table.bad_rows,
    )
    notes = [
        f"uploaded {filename}: {report.rows_kept:,} of {report.rows_read:,} rows kept "
        f"({empty_dropped:,} empty, {duplicates_dropped:,} duplicates, {table.bad_rows:,} malformed)",
        *warnings,
    ]
    name = Path(filename).stem or "upload"
    return LabeledDataset(name, label_names, {"all": examples}, notes), report
