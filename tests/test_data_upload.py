"""Upload parsing: formats, encodings, column and label detection, and every bad-file case."""
from __future__ import annotations

import io
import json
import random

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sentiment_core.data import parse_upload, preview_columns
from sentiment_core.errors import DataError

POS = ["a wonderful film", "great acting", "loved every minute", "brilliant and moving"]
NEG = ["a boring mess", "awful script", "i walked out", "dull and far too long"]


def rows(pos_label="positive", neg_label="negative"):
    return [(t, pos_label) for t in POS] + [(t, neg_label) for t in NEG]


def csv_bytes(header="text,label", data=None, sep=",", encoding="utf-8"):
    lines = [header] + [f"{t}{sep}{y}" for t, y in (data or rows())]
    return ("\n".join(lines) + "\n").encode(encoding)


def parquet_bytes(columns: dict) -> bytes:
    buf = io.BytesIO()
    pq.write_table(pa.table(columns), buf)
    return buf.getvalue()


def texts_by_label(ds):
    out = {}
    for t, y in zip(ds.parts["all"].texts, ds.parts["all"].labels):
        out.setdefault(ds.label_names[y], []).append(t)
    return out


def check_error(data, filename, *words, **kwargs):
    with pytest.raises(DataError) as err:
        parse_upload(data, filename, **kwargs)
    message = str(err.value)
    for word in words:
        assert word.lower() in message.lower(), message
    return message


# ---- formats ---------------------------------------------------------------------------

def test_csv_with_string_labels_normalised():
    data = csv_bytes(data=[(t, " Positive ") for t in POS] + [(t, "NEG") for t in NEG])
    ds, report = parse_upload(data, "reviews.csv")
    assert ds.name == "reviews" and ds.label_names == ["negative", "positive"]
    assert texts_by_label(ds) == {"positive": POS, "negative": NEG}
    assert report.text_column == "text" and report.label_column == "label"
    assert report.label_mapping == {" Positive ": "positive", "NEG": "negative"}
    assert (report.rows_read, report.rows_kept, report.encoding, report.format) == (8, 8, "utf-8", "csv")


def test_csv_quoted_fields_with_commas_and_newlines():
    data = b'review,sentiment\n"good, really good",pos\n"bad\nvery bad",neg\n"fine, great",pos\n"awful, awful",neg\n'
    ds, report = parse_upload(data, "q.csv")
    assert texts_by_label(ds) == {"positive": ["good, really good", "fine, great"], "negative": ["bad\nvery bad", "awful, awful"]}
    assert report.text_column == "review" and report.label_column == "sentiment"


def test_tsv_keeps_quotes_literally():
    data = 'sentence\tlabel\nhe said "great" twice\t1\n"awful" from start\t0\nnice\t1\nbad\t0\n'.encode()
    ds, report = parse_upload(data, "x.tsv")
    assert 'he said "great" twice' in ds.parts["all"].texts
    assert '"awful" from start' in ds.parts["all"].texts
    assert ds.label_names == ["negative", "positive"]


def test_txt_without_header_and_with_header():
    body = "".join(f"{t}\t{1 if y == 'positive' else 0}\n" for t, y in rows())
    ds, report = parse_upload(body.encode(), "s.txt")
    assert len(ds) == 8 and report.text_column == "text" and report.label_column == "label"
    assert ds.label_names == ["negative", "positive"]
    ds2, _ = parse_upload(("sentence\tsentiment\n" + body).encode(), "s.txt")
    assert len(ds2) == 8
    ds3, _ = parse_upload(("opinion\tverdict\n" + body).encode(), "s.txt")
    assert "opinion" not in ds3.parts["all"].texts and len(ds3) == 8


def test_txt_tab_inside_text_and_nel_kept():
    data = "first part\tsecond part is great\t1\nit is a joy\u0085 really\t1\nbad\t0\nworse\t0\n".encode()
    ds, _ = parse_upload(data, "t.txt")
    assert "first part\tsecond part is great" in ds.parts["all"].texts
    assert "it is a joy\u0085 really" in ds.parts["all"].texts


def test_json_lines_array_and_wrapped():
    records = [{"id": i, "content": t, "polarity": y} for i, (t, y) in enumerate(rows("pos", "neg"))]
    lines = "\n".join(json.dumps(r) for r in records).encode()
    for data, name in (
        (lines, "a.jsonl"),
        (json.dumps(records).encode(), "b.json"),
        (json.dumps({"data": records}).encode(), "c.json"),
    ):
        ds, report = parse_upload(data, name)
        assert report.text_column == "content" and report.label_column == "polarity", name
        assert texts_by_label(ds) == {"positive": POS, "negative": NEG}


def test_parquet_with_booleans_and_integers():
    data = parquet_bytes({"tweet": POS + NEG, "is_positive": [True] * 4 + [False] * 4})
    ds, report = parse_upload(data, "p.parquet", label_column="is_positive")
    assert ds.label_names == ["false", "true"] and report.encoding.startswith("binary")
    assert texts_by_label(ds)["true"] == POS
    data = parquet_bytes({"body": POS + NEG, "target": [1] * 4 + [0] * 4})
    ds, _ = parse_upload(data, "p.parquet")
    assert texts_by_label(ds) == {"positive": POS, "negative": NEG}


# ---- encodings -------------------------------------------------------------------------

@pytest.mark.parametrize(
    "encoding, reported",
    [("utf-8-sig", "utf-8-sig"), ("utf-16", "utf-16"), ("cp1252", "cp1252")],
)
def test_encodings(encoding, reported):
    data = csv_bytes(data=[("caf\u00e9 \u201cgreat\u201d", "pos"), ("nice", "pos"), ("bad", "neg"), ("na\u00efve mess", "neg")], encoding=encoding)
    ds, report = parse_upload(data, "e.csv")
    assert report.encoding == reported
    assert "caf\u00e9 \u201cgreat\u201d" in ds.parts["all"].texts
    assert ds.label_names == ["negative", "positive"]


def test_latin1_fallback():
    data = b"text,label\ncaf\xe9 \x81 good,1\nnice,1\nbad,0\nworse,0\n"
    ds, report = parse_upload(data, "l.csv")
    assert report.encoding == "latin-1" and "caf\u00e9 \x81 good" in ds.parts["all"].texts


# ---- columns ---------------------------------------------------------------------------

def test_columns_detected_by_content_and_overrides():
    data = csv_bytes("id,words,stars", [(f"{i},{t}", y) for i, (t, y) in enumerate(rows("5", "1"))])
    ds, report = parse_upload(data, "c.csv")
    assert report.text_column == "words" and report.label_column == "stars"
    assert ds.label_names == ["1", "5"]
    preview = preview_columns(data, "c.csv")
    assert preview.columns == ["id", "words", "stars"]
    assert (preview.text_column, preview.label_column, preview.rows) == ("words", "stars", 8)
    assert preview.sample[0] == {"id": "0", "words": POS[0], "stars": "5"}
    with pytest.raises(DataError) as err:
        parse_upload(data, "c.csv", text_column="review")
    assert "'review' is not a column" in str(err.value) and "'words'" in str(err.value)
    check_error(data, "c.csv", "not a column", "'stars'", label_column="rating")


def test_airline_style_columns():
    header = "tweet_id,airline_sentiment,airline_sentiment_confidence,airline_sentiment_gold,text"
    lines = [header]
    for i, (t, y) in enumerate(rows()):
        lines.append(f"{i},{y},0.{i + 1},{y if i == 0 else ''},@united {t}")
    ds, report = parse_upload("\n".join(lines).encode(), "Tweets.csv")
    assert report.text_column == "text" and report.label_column == "airline_sentiment"


def test_unheadered_csv_is_detected():
    data = "".join(f"{t},{y}\n" for t, y in rows()).encode()
    ds, report = parse_upload(data, "n.csv")
    assert len(ds) == 8 and report.rows_read == 8
    assert set(ds.label_names) == {"negative", "positive"}


# ---- labels ----------------------------------------------------------------------------

def test_three_way_string_labels_are_ordered():
    data = csv_bytes(data=[("ok i guess", "Neutral"), ("meh", "neu")] + rows("pos", "negative"))
    ds, report = parse_upload(data, "3.csv")
    assert ds.label_names == ["negative", "neutral", "positive"]
    assert report.label_mapping["neu"] == "neutral"


def test_minus_one_zero_one():
    data = csv_bytes(data=[("ok", -1), ("fine", -1), ("sure", 0), ("whatever", 0), ("yes", 1), ("great", 1)])
    ds, _ = parse_upload(data, "m.csv")
    assert ds.label_names == ["negative", "neutral", "positive"]
    assert texts_by_label(ds)["negative"] == ["ok", "fine"]


def test_zero_one_in_a_non_sentiment_column_keeps_numbers():
    data = csv_bytes("headline,is_sarcastic", rows("1", "0"))
    ds, report = parse_upload(data, "s.csv")
    assert report.label_column == "is_sarcastic" and ds.label_names == ["0", "1"]


def test_many_classes():
    topics = ["sport", "politics", "music", "science"]
    data = csv_bytes(data=[(f"{topic} text {i}", topic) for topic in topics for i in range(3)])
    ds, _ = parse_upload(data, "topics.csv")
    assert ds.label_names == sorted(topics)


def test_scores_in_unit_interval_split_at_half():
    scores = [0.9, 0.7, 0.5, 0.95, 0.1, 0.3, 0.45, 0.2]
    data = csv_bytes("text,score", [(t, s) for (t, _), s in zip(rows(), scores)])
    ds, report = parse_upload(data, "s.csv")
    assert report.threshold == 0.5 and texts_by_label(ds)["positive"] == POS
    assert report.label_mapping == {"< 0.5": "negative", ">= 0.5": "positive"}
    assert any("threshold" in w for w in report.warnings)


def test_continuous_scores_default_to_median_and_threshold_override():
    scores = [88.5, 92.25, 71.5, 99.0, 12.5, 40.0, 33.3, 55.5]
    data = csv_bytes("text,rating", [(t, s) for (t, _), s in zip(rows(), scores)])
    ds, report = parse_upload(data, "r.csv")
    assert report.threshold == pytest.approx(63.5)
    assert texts_by_label(ds)["positive"] == POS
    ds, report = parse_upload(data, "r.csv", threshold=50)
    assert report.threshold == 50 and texts_by_label(ds)["positive"] == POS + ["dull and far too long"]
    star = csv_bytes("text,stars", [(t, s) for (t, _), s in zip(rows(), [5, 4, 4, 5, 1, 2, 2, 1])])
    ds, report = parse_upload(star, "stars.csv", threshold=4)
    assert ds.label_names == ["negative", "positive"] and texts_by_label(ds)["positive"] == POS
    check_error(csv_bytes(), "x.csv", "threshold", "numeric", threshold=0.5)


def test_empty_and_duplicate_rows_are_dropped_and_counted():
    data = csv_bytes(data=rows() + [("a wonderful film", "positive"), ("", "positive"), ("   ", "negative"), ("text without label", ""), ("a wonderful film", "negative")])
    ds, report = parse_upload(data, "d.csv")
    assert report.rows_read == 13
    assert report.empty_dropped == 3 and report.duplicates_dropped == 1
    assert report.rows_kept == 9 == len(ds)
    assert report.rows_read == report.rows_kept + report.empty_dropped + report.duplicates_dropped + report.bad_rows_skipped
    assert any("different labels" in w for w in report.warnings)


# ---- bad files -------------------------------------------------------------------------

def test_empty_file():
    check_error(b"", "e.csv", "empty")
    check_error(b"\n\n  \n", "e.txt", "empty")


def test_header_only():
    check_error(b"text,label\n", "h.csv", "header", "no data rows")
    check_error(b"text\tlabel\n", "h.txt", "header", "no data rows")


def test_one_class_only():
    check_error(csv_bytes(data=[(t, "pos") for t in POS]), "o.csv", "only one class", "positive", "at least two")


def test_too_few_rows_per_class_names_the_class():
    data = csv_bytes(data=rows() + [("meh", "neutral")])
    msg = check_error(data, "f.csv", "too few rows", "'neutral' has 1 row", "at least 2")
    assert "positive" not in msg.split(";")[0]
    ds, _ = parse_upload(data, "f.csv", min_rows_per_class=1)
    assert "neutral" in ds.label_names


def test_no_text_column_lists_columns():
    data = b"a,b\n1,0\n2,1\n3,0\n4,1\n"
    check_error(data, "n.csv", "no text column", "'a'", "'b'", "text_column")


def test_no_label_column():
    data = csv_bytes("id,comment", [(str(i), t) for i, t in enumerate(POS + NEG)])
    check_error(data, "n.csv", "no label column", "'comment'", "label_column")


@pytest.mark.parametrize("n", [12, 60, 5000])
def test_label_column_that_is_text(n):
    data = csv_bytes("text,label", [(f"review {i}", f"the reviewer felt {i} kinds of sad") for i in range(n)])
    msg = check_error(data, "t.csv", "looks like free text", f"{n:,} different values", "such as", "label_column")
    assert len(msg) < 400


def test_messages_stay_short_for_huge_headers():
    header = ",".join(f"column number {i} with a long name" for i in range(20000))
    msg = check_error((header + "\n").encode(), "wide.csv", "20,000 fields", "at most 100 columns")
    assert len(msg) < 600
    header = ",".join(f"column number {i} with a long name" for i in range(80))  # within the column limit
    msg = check_error((header + "\n").encode(), "wide.csv", "no data rows", "and 72 more")
    assert len(msg) < 600


def test_binary_junk_and_known_binary_formats():
    check_error(bytes(range(256)) * 20, "junk.csv", "binary")
    rng = random.Random(0)
    junk = bytes(rng.choice([b for b in range(1, 256) if b not in (9, 10, 13)]) for _ in range(5000))
    check_error(junk, "junk.txt", "does not look like text")
    check_error(b"PK\x03\x04" + b"\x00" * 100, "sheet.csv", "Excel", "CSV")
    check_error(b"\x1f\x8b\x08" + b"\x00" * 20, "x.csv", "gzip")
    check_error(b"just text", "data.xlsx", "unsupported file type", ".csv")
    check_error(b"text,label\n", "fake.parquet", "not a valid Parquet")
    check_error(b"PAR1 not really parquet PAR1", "bad.parquet", "not a readable Parquet")


def test_unreadable_encodings():
    check_error(b"\xff\xfe" + "text,label\n".encode("utf-16-le") + b"\x00\xd8", "u.csv", "UTF-16", "unreadable encoding")
    check_error("text,label\ngood,1\nbad,0\n".encode("utf-16-le"), "u.csv", "UTF-16", "byte-order mark", "UTF-8")


def test_file_too_large_states_the_limit():
    check_error(csv_bytes(), "big.csv", "limit is 0.0 MB", max_bytes=10)
    msg = check_error(b"x" * (2 * 2**20 + 1), "big.csv", "limit", max_bytes=2 * 2**20)
    assert "2.0 MB" in msg


def test_wrong_delimiter():
    check_error(csv_bytes(sep=","), "w.txt", "wrong delimiter", "tab", ".csv")
    check_error("text label\ngood 1\nbad 0\n".encode(), "w.csv", "only one column", "delimiter")


def test_semicolon_csv_is_read_with_a_warning():
    ds, report = parse_upload(csv_bytes("text;label", sep=";"), "semi.csv")
    assert len(ds) == 8 and any("';'" in w for w in report.warnings)


def test_ragged_rows_few_skipped_many_fail():
    good = rows() * 3
    good = [(f"{t} {i}", y) for i, (t, y) in enumerate(good)]
    lines = ["text,label"] + [f"{t},{y}" for t, y in good] + ["too,many,fields,here"]
    ds, report = parse_upload("\n".join(lines).encode(), "r.csv")
    assert report.bad_rows_skipped == 1 and len(ds) == 24 and report.rows_read == 25
    assert any("skipped 1 malformed row" in w and "line(s) 26" in w for w in report.warnings)
    lines = ["text,label"] + [f"{t}, really,{y}" for t, y in good]
    check_error("\n".join(lines).encode(), "r.csv", "24 of 24 rows", "expected 2 fields, found 3", "quoted")


def test_broken_json():
    check_error(b'{"text": "good", "label": 1}\n{"text": "bad", "lab', "b.jsonl", "could not be read", "JSON")
    check_error(b"not json at all\n", "b.json", "not valid JSON")
    check_error(b'["a", "b"]', "b.json", "objects")


# ---- robustness ------------------------------------------------------------------------

# Texts always contain a word; delimiters, quotes and line breaks are left out so that
# every generated row is well formed (U+0085 and other odd characters stay in).
_texts = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters='\x00,\t"\r\n'), max_size=15
).map(lambda s: f"word {s}")
_label_sets = st.sampled_from(
    [["pos", "neg", "Neutral"], ["1", "0", "-1"], ["0.25", "0.75", "0.5"], ["true", "false"], ["x", "y", ""]]
)
_pairs = _label_sets.flatmap(
    lambda labels: st.lists(
        st.tuples(_texts, st.sampled_from(labels)), min_size=1, max_size=12, unique_by=lambda p: p[0].strip()
    )
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    pairs=_pairs,
    header=st.booleans(),
    name=st.sampled_from(["f.csv", "f.tsv", "f.txt", "f.jsonl"]),
    encoding=st.sampled_from(["utf-8", "utf-16", "utf-8-sig", "cp1252"]),
)
def test_generated_tables_parse_consistently_or_raise_data_error(pairs, header, name, encoding):
    header = header or name != "f.txt"  # CSV and TSV files have a header row
    if name == "f.jsonl":
        body = "\n".join(json.dumps({"text": t, "label": y}) for t, y in pairs)
    else:
        sep = "," if name == "f.csv" else "\t"
        lines = (["text" + sep + "label"] if header else []) + [f"{t}{sep}{y}" for t, y in pairs]
        body = "\n".join(lines)
    try:
        data = body.encode(encoding)
    except UnicodeEncodeError:
        data = body.encode("utf-8")
    try:
        ds, report = parse_upload(data, name, min_rows_per_class=1)
    except DataError:
        return
    assert len(ds.label_names) >= 2 and len(ds) == report.rows_kept
    assert report.rows_read == report.rows_kept + report.empty_dropped + report.duplicates_dropped + report.bad_rows_skipped
    assert all(0 <= y < len(ds.label_names) for y in ds.parts["all"].labels)
    assert set(ds.parts["all"].texts) <= {t.strip() for t, _ in pairs}


@settings(max_examples=150, deadline=None)
@given(data=st.binary(max_size=300), name=st.sampled_from(["f.csv", "f.txt", "f.json", "f.parquet", "f.tsv"]))
def test_arbitrary_bytes_never_crash(data, name):
    try:
        parse_upload(data, name, min_rows_per_class=1)
    except DataError:
        pass


def test_columns_rows_and_values_are_capped_before_detection():
    from sentiment_core.data import upload

    wide = ",".join(f"c{i}" for i in range(500))
    check_error(f"{wide}\n{wide}\n".encode(), "wide.csv", "500 columns", "at most 100")
    record = json.dumps({f"k{i}": i for i in range(200)})
    check_error(f"{record}\n{record}\n".encode(), "wide.jsonl", "200 columns", "at most 100")
    check_error(parquet_bytes({f"c{i}": [1, 2] for i in range(150)}), "wide.parquet", "150 columns")
    many = "".join(f"t{i}\t{i % 2}\n" for i in range(upload.MAX_UPLOAD_ROWS + 1))
    check_error(many.encode(), "many.txt", "1,000,001 rows", "at most 1,000,000")
    cells = {f"c{i}": [0] * (upload.MAX_UPLOAD_CELLS // 40) for i in range(41)}
    check_error(parquet_bytes(cells), "cells.parquet", "values; at most 5,000,000")


def test_parquet_reads_only_the_chosen_columns():
    data = parquet_bytes({"text": POS + NEG, "label": [1] * 4 + [0] * 4,
                          "blob": [["x"] * 3] * 8})  # a column never decoded when both are chosen
    dataset, report = parse_upload(data, "p.parquet", text_column="text", label_column="label")
    assert report.rows_kept == 8 and dataset.label_names == ["negative", "positive"]


@pytest.mark.parametrize("name", [
    '<iframe srcdoc="<script>parent.document.title=1</script>">',  # 58 characters
    "good\u200b",  # an invisible character
])
def test_class_names_that_are_not_plain_text_are_refused(name):
    data = csv_bytes("text,label", [(t, name) for t in POS] + [(t, "bad") for t in NEG])
    check_error(data, "x.csv", "the label column 'label'", "Class names must be plain text",
                "Rename the classes")


# ---- the label column's guess ----------------------------------------------------------

FIXTURES = __import__("pathlib").Path(__file__).parent / "fixtures"


def test_a_column_named_sentiment_label_beats_a_numeric_stars_column():
    data = (FIXTURES / "upload_stars_sentiment.csv").read_bytes()  # Review, stars (1-5), " Sentiment Label"
    preview = preview_columns(data, "reviews.csv")
    assert (preview.text_column, preview.label_column) == ("Review", "Sentiment Label")
    ds, report = parse_upload(data, "reviews.csv")
    assert report.label_column == "Sentiment Label" and ds.label_names == ["negative", "positive"]
    # the name alone is not enough: values that do not look like classes lose to stars
    free = csv_bytes("text,stars,sentiment label", [(f"{t},{s}", f"felt {i} ways")
                                                   for i, (t, s) in enumerate(rows("5", "1"))])
    assert preview_columns(free, "f.csv").label_column == "stars"
