"""Small files that declare or unpack to huge tables or matrices: each is refused with a message in
words within 5 s, the process growing by less than 300 MB (peak RSS, measured in a fresh subprocess so
pyarrow's and numpy's allocations count too; Linux only)."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

SECONDS = 5.0
PEAK_MB = 300

# Runs in a fresh interpreter: read the file, call the loader, report time, RSS growth and the message.
CHILD = textwrap.dedent("""
    import json, sys, time
    from pathlib import Path
    from sentiment_core.errors import DataError

    kind, path = sys.argv[1], Path(sys.argv[2])
    if kind == "upload":
        from sentiment_core.data.upload import parse_upload
        import pyarrow.parquet  # imported before the baseline: a module is not an allocation
        data = path.read_bytes()
    else:
        from sentiment_core.embeddings import read_vectors
    def status(field):  # kB
        return int(next(line for line in open("/proc/self/status") if line.startswith(field)).split()[1])

    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")  # reset the peak (VmHWM) to the present size: imports are not the loader's
    before = status("VmRSS:")
    start = time.perf_counter()
    try:
        parse_upload(data, path.name) if kind == "upload" else read_vectors(path)
        message = None
    except DataError as error:
        message = str(error)
    seconds = time.perf_counter() - start
    grown = (status("VmHWM:") - before) / 1024
    print(json.dumps({"message": message, "seconds": seconds, "grown_mb": grown}))
""")


def refused(kind: str, path) -> str:
    """The loader's refusal message, checked to come fast and without a memory spike."""
    try:
        done = subprocess.run([sys.executable, "-c", CHILD, kind, str(path)], capture_output=True, text=True,
                              timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{path.name}: still reading after 60 s")
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["message"], f"{path.name} was accepted"
    assert result["seconds"] < SECONDS, result
    assert result["grown_mb"] < PEAK_MB, result
    return result["message"]


def test_parquet_declaring_20_million_rows(tmp_path):
    path = tmp_path / "rows.parquet"
    schema = pa.schema([("text", pa.dictionary(pa.int32(), pa.string())), ("label", pa.int8())])
    chunk = pa.table({"text": pa.DictionaryArray.from_arrays(np.zeros(1_000_000, np.int32), ["a good film"]),
                      "label": pa.array(np.ones(1_000_000, np.int8))}, schema=schema)
    with pq.ParquetWriter(path, schema, compression="zstd") as writer:
        for _ in range(20):
            writer.write_table(chunk)
    assert path.stat().st_size < 2 * 2**20  # a small file ...
    message = refused("upload", path)  # ... that unpacks to gigabytes of Python strings
    assert "20,000,000 rows" in message and "1,000,000" in message


def test_parquet_with_one_huge_string_repeated(tmp_path):
    path = tmp_path / "wide.parquet"
    rows = 1000
    text = pa.DictionaryArray.from_arrays(np.zeros(rows, np.int32), ["x" * 1_000_000])  # 1 GB once decoded
    pq.write_table(pa.table({"text": text, "label": pa.array(np.arange(rows) % 2)}), path, compression="zstd")
    assert path.stat().st_size < 2**20
    assert "MB" in refused("upload", path)


def test_csv_with_a_million_columns(tmp_path):
    path = tmp_path / "wide.csv"
    path.write_text(",".join(f"c{i}" for i in range(1_000_000)) + "\n" + ",".join("1" * 1_000_000) + "\n")
    message = refused("upload", path)
    assert "columns" in message and "100" in message


def test_csv_with_one_runaway_data_line(tmp_path):
    path = tmp_path / "line.csv"
    path.write_text("text,label\ngood,1\nbad,0\n" + "," * 5_000_000 + "\n")
    assert "line 4" in refused("upload", path)


@pytest.mark.parametrize("name,content", [
    ("deep.json", "[" * 100_000 + "]" * 100_000),
    ("deep.jsonl", '{"text": "good", "label": 1}\n' * 3 + '{"text": ' + "[" * 100_000 + "]" * 100_000
     + ', "label": 1}\n'),
])
def test_json_nested_100k_deep(tmp_path, name, content):
    path = tmp_path / name
    path.write_text(content)
    assert "nested" in refused("upload", path)


def test_word2vec_binary_declaring_a_trillion_words(tmp_path):
    path = tmp_path / "bomb.bin"
    path.write_bytes(b"1000000000000 1000\n" + b"good " + np.ones(1000, "<f4").tobytes())
    message = refused("vectors", path)
    assert "1,000,000,000,000 words" in message and "bytes" in message


@pytest.mark.parametrize("name", ["bomb.txt", "bomb.vec"])
def test_text_vectors_declaring_a_huge_header(tmp_path, name):
    path = tmp_path / name
    path.write_text("1000000000 1000\n" + "good " + " ".join(["0.1"] * 1000) + "\n")
    assert "1,000,000,000 words" in refused("vectors", path)


def test_text_vectors_with_one_endless_line(tmp_path):
    path = tmp_path / "line.txt"
    path.write_text("good " + "0 " * 20_000_000 + "\n")
    assert "line 1" in refused("vectors", path)
