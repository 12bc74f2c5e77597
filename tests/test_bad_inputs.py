"""Bad input, everywhere: every case of the corpus (``tests/bad_inputs/``) is fed to every
entry point that takes it (upload parser, CLI, API, bundle loader). Each gets a clear
message, the process survives, nothing is unpickled, and no file outside the runs and cache
directories is created, changed or removed."""
from __future__ import annotations

import io
import pickle
import sys
import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bad_inputs import corpus
from sentiment_core import cli
from sentiment_core.api import create_app
from sentiment_core.checkpoint import load_checkpoint, read_metadata
from sentiment_core.data import load_dataset, parse_upload
from sentiment_core.errors import CheckpointError, DataError
from sentiment_core.pretrained import list_pretrained
from sentiment_core.runs import RunError, RunQueue, RunRequest, delete_run, load_run, validate_run_name, write_json

from conftest import rule_splits

MAX_MESSAGE = 600  # a clear message is a sentence or two, not a dump of the input
TINY_TRAIN = ["--epochs", "1", "--emb-dim", "8", "--hidden-dim", "8", "--batch-size", "16", "--min-freq", "1",
              "--device", "cpu", "--val-fraction", "0.2", "--test-fraction", "0.2"]
ALL_UPLOADS = [*corpus.BAD_UPLOADS, *corpus.ODD_UPLOADS]
ALL_BUNDLES = [*corpus.BAD_BUNDLES, *corpus.GENERATED_BUNDLES]


class World:
    """A temporary tree: runs/ and cache/ may change, everything else must not."""

    def __init__(self, root: Path):
        self.root = root
        self.runs, self.cache, self.work = root / "runs", root / "cache", root / "work"
        self.models, self.outside, self.generated = root / "models", root / "outside", root / "generated"
        for folder in (self.runs, self.cache, self.work, self.models, self.outside):
            folder.mkdir()
        (self.outside / "escape").write_text("sentinel: nothing may overwrite me")
        (self.outside / "x").mkdir()
        self.marker = self.outside / "UNPICKLED"
        self.files = corpus.write_generated(self.generated, self.marker)
        for name in [*corpus.BAD_UPLOADS, *corpus.ODD_UPLOADS, *corpus.BAD_BUNDLES]:
            self.files[name] = corpus.HERE / name
        corpus.write_bundle(self.models / "tiny.safetensors")
        for name in [*ALL_BUNDLES, corpus.NAN_BUNDLE]:
            shutil.copy(self.files[name], self.models / name)
            run = self.runs / f"bad-{Path(name).stem.replace('_', '-')}"
            run.mkdir()
            shutil.copy(self.files[name], run / "best.safetensors")
            write_json(run / "status.json", {"state": "completed", "message": "done", "created": 1.0})
            write_json(run / "config.json", {"display_name": "LSTM", "label_names": ["negative", "positive"]})

    def listing(self) -> dict[str, tuple]:
        """Every path outside runs/ and cache/ with its size and modification time."""
        out = {}
        for path in sorted(self.root.rglob("*")):
            relative = path.relative_to(self.root)
            if relative.parts[0] in ("runs", "cache"):
                continue
            info = path.lstat()
            out[str(relative)] = (path.is_dir(), info.st_size if path.is_file() else 0, info.st_mtime_ns)
        return out


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> World:
    return World(tmp_path_factory.mktemp("world"))


@pytest.fixture(autouse=True)
def untouched(world, monkeypatch):
    """Run each test inside the world and check that nothing outside runs/ and cache/ changed."""
    monkeypatch.chdir(world.work)
    monkeypatch.setenv("GATESCOPE_RUNS_DIR", str(world.runs))
    monkeypatch.setenv("GATESCOPE_CACHE_DIR", str(world.cache))
    monkeypatch.setenv("GATESCOPE_DATA_MIRROR", str(world.cache / "mirror"))
    before = world.listing()
    yield
    assert world.listing() == before
    assert not world.marker.exists(), "a pickle was unpickled"


@pytest.fixture(scope="module")
def client(world) -> TestClient:
    return TestClient(create_app(pretrained_dir=world.models, runs_root=world.runs, default_model="tiny"))


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    """Run the CLI in this process (argparse's own refusals exit with code 2)."""
    try:
        code = cli.main([str(a) for a in argv])
    except SystemExit as exit_:
        code = exit_.code
    out = capsys.readouterr()
    return code, out.out, out.err


def assert_clear(message: str, *mentions: str) -> None:
    assert message.strip() and len(message) <= MAX_MESSAGE, message[:MAX_MESSAGE * 2]
    assert "Traceback" not in message
    for mention in mentions:
        assert mention in message


# ---------------------------------------------------------------- uploads


@pytest.mark.parametrize("name", [*corpus.BAD_UPLOADS, corpus.BIG_LINE])
def test_upload_parser_refuses_bad_files(world, name):
    with pytest.raises(DataError) as caught:
        parse_upload(world.files[name].read_bytes(), name)
    assert_clear(str(caught.value))


@pytest.mark.parametrize("name", corpus.ODD_UPLOADS)
def test_upload_parser_reads_odd_but_valid_files(world, name):
    dataset, report = parse_upload(world.files[name].read_bytes(), name)
    assert report.rows_kept >= 20 and sorted(report.label_mapping.values()) == ["negative", "positive"]
    assert report.encoding
    if name == "wrong_delimiter.csv":
        assert any("';'" in w for w in report.warnings)


@pytest.mark.parametrize("name", ALL_UPLOADS)
def test_cli_train_answers_every_upload(world, capsys, name):
    code, out, err = run_cli(capsys, "train", "--file", world.files[name], *TINY_TRAIN)
    if name in corpus.BAD_UPLOADS:
        assert code == 2 and err.startswith("gatescope: error: ") and err.count("\n") == 1
        assert_clear(err)
    else:
        assert code == 0, err
        assert "test accuracy" in out


@pytest.mark.parametrize("name", ALL_UPLOADS)
def test_cli_predict_reads_any_text_file(world, capsys, monkeypatch, name):
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    code, out, err = run_cli(capsys, "predict", "--model", world.models / "tiny.safetensors",
                             "--input", world.files[name], "--json")
    if name in ("empty.csv",):
        assert code == 2
        assert_clear(err, "nothing to predict")
    else:
        assert code == 0, err
        assert '"probabilities"' in out


@pytest.mark.parametrize("name", [*ALL_UPLOADS, corpus.BIG_LINE])
def test_api_answers_file_contents_as_text(world, client, name):
    text = world.files[name].read_bytes().decode("utf-8", errors="replace")
    for path in ("/predict", "/explain"):
        response = client.post(path, json={"text": text})
        if len(text) > 5000:
            assert response.status_code in (413, 422)
        else:
            assert response.status_code in (200, 422), response.text
        if response.status_code != 200:
            assert_clear(response.json()["detail"])
    if name == corpus.BIG_LINE:
        assert client.post("/predict", json={"texts": [text]}).status_code == 413


# ---------------------------------------------------------------- model bundles


@pytest.mark.parametrize("name", ALL_BUNDLES)
def test_bundle_loader_refuses_with_the_file_name(world, name):
    with pytest.raises(CheckpointError) as caught:
        load_checkpoint(world.files[name])
    assert_clear(str(caught.value), name)
    if name not in ("lying_shapes.safetensors", "lying_vocab.safetensors"):  # their header itself is valid
        with pytest.raises(CheckpointError):
            read_metadata(world.files[name])


def test_shipped_model_listing_skips_unreadable_bundles(world):
    """Listing reads headers only: bundles whose header is readable are listed (and refused
    when loaded), the others are skipped."""
    listed = {info.name for info in list_pretrained(world.models)}
    assert listed == {"lying_shapes", "lying_vocab", "nan_weights", "tiny"}


@pytest.mark.parametrize("name", ALL_BUNDLES)
def test_cli_refuses_bad_bundles(world, capsys, name):
    code, _, err = run_cli(capsys, "predict", "--model", world.files[name], "a good film")
    assert code == 2
    assert_clear(err, name)
    code, _, err = run_cli(capsys, "evaluate", "--model", world.files[name], "--file",
                           corpus.HERE / "latin1.csv", "--val-fraction", "0.2", "--test-fraction", "0.2")
    assert code == 2
    assert_clear(err, name)


@pytest.mark.parametrize("name", [*ALL_BUNDLES, corpus.NAN_BUNDLE])
def test_api_refuses_bad_bundles_as_shipped_models_and_runs(client, name):
    stem = Path(name).stem
    run = "run:bad-" + stem.replace("_", "-")
    for model in (stem, run):
        for path, body in (("/predict", {"text": "a good film", "model": model}),
                           ("/explain", {"text": "a good film", "model": model})):
            response = client.post(path, json=body)
            assert response.status_code == 422, response.text
            assert_clear(response.json()["detail"], repr(model))
    assert client.get("/models").status_code == 200
    assert client.post("/predict", json={"text": "a good film"}).status_code == 200  # the server is fine


def test_pickles_are_never_unpickled(world, capsys, client, tmp_path):
    """The marker pickle goes through every entry point; the marker never appears. As a
    control, unpickling the same kind of file does create its marker."""
    path = world.files["pickle_marker.safetensors"]
    with pytest.raises(CheckpointError):
        load_checkpoint(path)
    assert run_cli(capsys, "predict", "--model", path, "good")[0] == 2
    assert client.post("/predict", json={"text": "good", "model": "pickle_marker"}).status_code == 422
    assert client.post("/predict", json={"text": "good", "model": "run:bad-pickle-marker"}).status_code == 422
    assert not world.marker.exists()
    control = tmp_path / "control-marker"
    pickle.loads(corpus.marker_pickle(control))  # noqa: S301 - the control: this is what must never happen
    assert control.exists()


# ---------------------------------------------------------------- names


@pytest.mark.parametrize("name", corpus.UNSAFE_NAMES)
def test_unsafe_dataset_names(world, capsys, name):
    with pytest.raises(DataError) as caught:
        load_dataset(name, cache_dir=world.cache)
    assert_clear(str(caught.value))
    for argv in (("datasets", "show", name), ("datasets", "fetch", name),
                 ("train", f"--dataset={name}", *TINY_TRAIN)):
        code, _, err = run_cli(capsys, *argv)
        assert code == 2
        assert_clear(err)


@pytest.mark.parametrize("name", corpus.UNSAFE_NAMES)
def test_unsafe_run_names(world, client, name):
    with pytest.raises(RunError):
        validate_run_name(name)
    with pytest.raises(RunError):
        load_run(name, world.runs)
    with pytest.raises(RunError):
        delete_run(name, world.runs)
    queue = RunQueue(world.runs, max_concurrent=1, executor="thread")
    try:
        with pytest.raises(RunError) as caught:
            queue.submit(RunRequest(rule_splits(40), {"emb_dim": 8, "hidden_dim": 8}, {"epochs": 1}), name=name)
        assert_clear(str(caught.value))
    finally:
        queue.close()
    for model in (name, "run:" + name):
        response = client.post("/predict", json={"text": "good", "model": model})
        assert response.status_code in (404, 422), response.text
        assert_clear(response.json()["detail"])
    assert client.post("/predict", json={"text": "good", "model": "run:../escape"}).status_code == 422

