"""A run trained on an uploaded file keeps the file (once per content, under a size cap, removed
with the last run that uses it), so its own test split rebuilds on the Dataset page and in its
report (issue 23 item 3)."""
from __future__ import annotations

import pytest
from upload_runs import CONTENT, FILENAME, train_upload_run, upload_request

from sentiment_core import dataset_view as dv
from sentiment_core import report, runs
from sentiment_core.data import upload
from sentiment_core.data.upload import upload_sha
from sentiment_core.errors import DataError

SHA = upload_sha(CONTENT)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Two finished runs on the same upload (read-only for the tests that use it)."""
    root = tmp_path_factory.mktemp("runs")
    return root, train_upload_run(root, count=2)


def test_the_file_is_kept_once_outside_config_json_and_the_test_split_rebuilds(trained):
    root, (first, second) = trained
    kept = root / runs.UPLOADS_DIR / SHA
    assert [p.name for p in kept.parent.iterdir()] == [SHA] and kept.read_bytes() == CONTENT  # one copy, two runs
    config = runs.load_run(first, root).config
    assert config["data"]["sha"] == SHA and config["data"]["filename"] == FILENAME
    assert (root / first / "config.json").stat().st_size < 20_000  # the bytes are not in it
    assert "the food was great" not in (root / first / "config.json").read_text()
    test = dv.run_test_set(config, first, root)
    assert test.label_names == ["negative", "positive"] and len(test.texts) == config["sizes"]["test"] > 0


def test_the_report_has_slices(trained, monkeypatch):
    root, (first, _) = trained
    monkeypatch.setenv(runs.RUNS_DIR_ENV, str(root))  # the app's and the CLI's runs folder
    slices = report.run_slices(runs.load_run(first, root))
    assert slices[0].slice == "all" and slices[0].count == runs.load_run(first, root).config["sizes"]["test"]
    assert {"gold: negative", "gold: positive"} <= {s.slice for s in slices}


def test_a_missing_damaged_or_renamed_copy_is_a_clear_message(trained, tmp_path):
    root, (first, _) = trained
    config = runs.load_run(first, root).config
    empty = tmp_path / "elsewhere"
    with pytest.raises(DataError, match="which the server did not keep"):
        dv.run_test_set(config, first, empty)
    (empty / runs.UPLOADS_DIR).mkdir(parents=True)
    (empty / runs.UPLOADS_DIR / SHA).write_bytes(CONTENT.replace(b"great", b"grand"))
    with pytest.raises(DataError, match="damaged or was edited"):
        dv.run_test_set(config, first, empty)
    edited = {**config, "data": {**config["data"], "sha": "../../etc/passwd"}}
    with pytest.raises(DataError, match="does not name its uploaded file"):
        dv.run_test_set(edited, first, root)


def test_the_kept_file_goes_with_the_last_run_that_uses_it(tmp_path):
    first, second = train_upload_run(tmp_path, count=2)
    kept = tmp_path / runs.UPLOADS_DIR / SHA
    runs.delete_run(first, tmp_path)
    assert kept.read_bytes() == CONTENT  # the second run still uses it
    runs.delete_run(second, tmp_path)
    assert not kept.exists()


def test_an_upload_over_the_cap_is_refused_before_anything_is_written(tmp_path, monkeypatch):
    queue = runs.RunQueue(tmp_path, executor="thread")
    try:
        monkeypatch.setattr(upload, "MAX_UPLOAD_BYTES", len(CONTENT) - 1)
        with pytest.raises(runs.RunError, match="keeps training files of at most"):
            queue.submit(upload_request())
        monkeypatch.setattr(upload, "MAX_UPLOAD_BYTES", 50 * 2**20)
        monkeypatch.setattr(runs, "MAX_KEPT_UPLOADS_BYTES", len(CONTENT) + 10)
        (tmp_path / runs.UPLOADS_DIR).mkdir()
        (tmp_path / runs.UPLOADS_DIR / ("0" * 16)).write_bytes(b"x" * 20)  # another run's file
        with pytest.raises(runs.RunError, match="already keeps"):
            queue.submit(upload_request())
        assert sorted(p.name for p in tmp_path.iterdir()) == [runs.UPLOADS_DIR]  # no run folder
        assert [p.name for p in (tmp_path / runs.UPLOADS_DIR).iterdir()] == ["0" * 16]
        wrong = upload_request()
        wrong.data["sha"] = "0123456789abcdef"
        with pytest.raises(runs.RunError, match="not the one the data settings name"):
            queue.submit(wrong)
    finally:
        queue.close()
