"""Catalogue, mirror/cache resolution, downloads (pooch) from a local server, archive safety."""
from __future__ import annotations

import dataclasses
import io
import hashlib
import http.server
import tarfile
import socket
import threading
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests

from sentiment_core.data import CATALOGUE, fetch, list_datasets, load_dataset, safe_extract
from sentiment_core.data import download as download_module
from sentiment_core.errors import DataError
from tests.fixtures_data import (
    write_imdb_targz,
    write_rt_folder,
    write_rt_targz,
    write_sst2_zip,
    write_uci_zip,
)

OFFICIAL_IMDB_SHA = "c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path):
    monkeypatch.delenv("GATESCOPE_DATA_MIRROR", raising=False)
    monkeypatch.setattr(download_module, "DOWNLOAD_RETRIES", 0)  # fail fast; one test checks retries
    monkeypatch.setenv("GATESCOPE_CACHE_DIR", str(tmp_path / "env-cache"))


@pytest.fixture
def server(tmp_path):
    """A real HTTP server on 127.0.0.1 serving ``root``; records every request path."""
    root = tmp_path / "www"
    root.mkdir()
    request_paths: list[str] = []
    failed: set[str] = set()

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, *args):
            pass

        def do_GET(self):
            request_paths.append(self.path)
            if self.path.startswith("/truncated/"):
                self.send_response(200)
                self.send_header("Content-Length", "100000")
                self.end_headers()
                self.wfile.write(b"\x1f\x8b" + b"x" * 500)
                return
            if self.path.startswith("/flaky/") and self.path not in failed:
                failed.add(self.path)  # fail once, then serve the file
                self.send_error(503, "Busy")
                return
            if self.path.startswith("/flaky/"):
                self.path = self.path[len("/flaky"):]
            super().do_GET()

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield SimpleNamespace(root=root, url=f"http://127.0.0.1:{httpd.server_address[1]}", requests=request_paths)
    httpd.shutdown()
    httpd.server_close()


def serve_from(monkeypatch, server, name: str, **changes) -> None:
    """Point the catalogue entry ``name`` at ``server`` (same file name), with other changes."""
    info = CATALOGUE[name]
    url = f"{server.url}/{info.urls[0].rsplit('/', 1)[-1]}"
    monkeypatch.setitem(CATALOGUE, name, dataclasses.replace(info, urls=(url,), **changes))


def test_catalogue_lists_offline_and_generated_first_with_required_fields():
    infos = list_datasets()
    names = [i.name for i in infos]
    assert names[:3] == ["airline_tweets", "synthetic_long_range", "synthetic_negation"]
    assert set(names) == {"airline_tweets", "synthetic_long_range", "synthetic_negation", "imdb",
                          "uci_sentences", "rt_polarity", "sst2", "sarcasm"}
    kinds = [i.kind for i in infos]
    assert kinds.index("download") > max(i for i, k in enumerate(kinds) if k != "download")
    for info in infos:
        assert info.title and info.description and info.license and info.citation and info.size
        assert len(info.classes) >= 2
        if info.kind == "download":
            assert info.urls[0].startswith(("http://", "https://"))
        if info.kind == "generated":
            assert "SYNTHETIC" in info.description
    assert CATALOGUE["imdb"].sha256 == OFFICIAL_IMDB_SHA
    assert CATALOGUE["sarcasm"].classes == ["not_sarcastic", "sarcastic"]
    assert CATALOGUE["airline_tweets"].classes == ["negative", "neutral", "positive"]


@pytest.mark.parametrize("name", ["../imdb", "imdb/..", "a/b", "nope", ""])
def test_bad_dataset_names_are_rejected_with_the_valid_list(name, tmp_path):
    with pytest.raises(DataError) as err:
        fetch(name, cache_dir=tmp_path)
    assert "valid names" in str(err.value) and "rt_polarity" in str(err.value)
    with pytest.raises(DataError):
        load_dataset(name, cache_dir=tmp_path)


def test_generated_datasets_have_nothing_to_fetch(tmp_path):
    with pytest.raises(DataError, match="generated"):
        fetch("synthetic_negation", cache_dir=tmp_path)


def test_cache_dir_resolution(monkeypatch, tmp_path):
    monkeypatch.setenv("GATESCOPE_CACHE_DIR", str(tmp_path / "from-env"))
    assert download_module.resolve_cache_dir() == tmp_path / "from-env"
    assert download_module.resolve_cache_dir(tmp_path / "arg") == tmp_path / "arg"
    monkeypatch.delenv("GATESCOPE_CACHE_DIR")
    monkeypatch.setattr(download_module.sys, "platform", "linux")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert download_module.resolve_cache_dir() == tmp_path / "xdg" / "gatescope"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert download_module.default_cache_dir() == Path.home() / ".cache" / "gatescope"
    monkeypatch.setattr(download_module.sys, "platform", "darwin")
    assert download_module.default_cache_dir() == Path.home() / "Library" / "Caches" / "gatescope"
    monkeypatch.setattr(download_module.sys, "platform", "win32")
    monkeypatch.setenv("LOCALAPPDATA", str(tmp_path / "local"))
    assert download_module.default_cache_dir() == tmp_path / "local" / "gatescope"


def test_mirror_with_extracted_files_is_used_in_place(tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    write_rt_folder(mirror / "rt_polarity")
    assert fetch("rt_polarity", mirror=mirror, cache_dir=tmp_path / "cache") == mirror / "rt_polarity"
    monkeypatch.setenv("GATESCOPE_DATA_MIRROR", str(mirror))
    assert fetch("rt_polarity", cache_dir=tmp_path / "cache") == mirror / "rt_polarity"
    assert not (tmp_path / "cache").exists()


def test_mirror_with_official_archive_is_extracted_into_the_cache(tmp_path):
    mirror = tmp_path / "mirror"
    write_rt_targz(mirror / "rt_polarity" / "rt-polaritydata.tar.gz")
    folder = fetch("rt_polarity", mirror=mirror, cache_dir=tmp_path / "cache")
    assert folder == tmp_path / "cache" / "rt_polarity"
    assert (folder / "rt-polaritydata" / "rt-polarity.pos").is_file()
    assert not list(folder.glob(".extract-*"))


def test_missing_or_incomplete_mirror_is_explained(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        fetch("rt_polarity", mirror=tmp_path / "no-such-folder", cache_dir=tmp_path / "c")
    (tmp_path / "m" / "sst2").mkdir(parents=True)
    (tmp_path / "m" / "sst2" / "train.tsv").write_text("sentence\tlabel\n")
    with pytest.raises(DataError) as err:
        fetch("sst2", mirror=tmp_path / "m", cache_dir=tmp_path / "c")
    assert "dev.tsv" in str(err.value) and "SST-2.zip" in str(err.value)


def test_damaged_archive_in_mirror_is_reported(tmp_path):
    bad = tmp_path / "m" / "sst2" / "SST-2.zip"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"PK\x03\x04 this is not really a zip file")
    with pytest.raises(DataError, match="damaged"):
        fetch("sst2", mirror=tmp_path / "m", cache_dir=tmp_path / "c")


def test_download_streams_with_progress_verifies_checksum_and_hits_cache(server, tmp_path, monkeypatch):
    archive = write_imdb_targz(server.root / "aclImdb_v1.tar.gz", n_per_class=2)
    data = archive.read_bytes()
    serve_from(monkeypatch, server, "imdb", sha256=hashlib.sha256(data).hexdigest())
    monkeypatch.setattr(download_module, "CHUNK_BYTES", 256)
    calls = []
    cache = tmp_path / "cache"
    folder = fetch("imdb", cache_dir=cache, progress=lambda *a: calls.append(a))
    assert server.requests == ["/aclImdb_v1.tar.gz"]
    assert (folder / "aclImdb_v1.tar.gz").read_bytes() == data
    assert [p.name for p in folder.iterdir()] == ["aclImdb_v1.tar.gz"]  # no temporary file left
    assert len(calls) > 3  # streamed in chunks
    assert calls[0][0] == 0 and calls[-1][0] == calls[-1][1] == len(data)
    assert all(total == len(data) for _, total, _ in calls)
    assert all(message == "downloading aclImdb_v1.tar.gz" for _, _, message in calls)
    assert [done for done, _, _ in calls] == sorted(done for done, _, _ in calls)

    def no_network(url, output_file, pooch):
        raise AssertionError("the second call must not download")

    assert fetch("imdb", cache_dir=cache, opener=no_network) == folder
    ds = load_dataset("imdb", cache_dir=cache, opener=no_network, verify=False)
    assert server.requests == ["/aclImdb_v1.tar.gz"]
    assert [len(ds.parts["train"]), len(ds.parts["test"])] == [4, 4]


def test_download_file_skips_the_network_for_a_verified_file(server, tmp_path):
    dest = tmp_path / "dl" / "a.bin"
    (server.root / "a.bin").write_bytes(b"abc")
    sha = hashlib.sha256(b"abc").hexdigest()
    assert download_module.download_file(f"{server.url}/a.bin", dest, sha256=sha) == dest
    assert download_module.download_file(f"{server.url}/a.bin", dest, sha256=sha) == dest
    assert server.requests == ["/a.bin"]
    dest.write_bytes(b"damaged")  # a hash mismatch in the cache downloads again
    download_module.download_file(f"{server.url}/a.bin", dest, sha256=sha)
    assert dest.read_bytes() == b"abc" and len(server.requests) == 2


def test_checksum_mismatch_deletes_the_download(server, tmp_path, monkeypatch):
    write_imdb_targz(server.root / "aclImdb_v1.tar.gz", n_per_class=1)
    actual = hashlib.sha256((server.root / "aclImdb_v1.tar.gz").read_bytes()).hexdigest()
    serve_from(monkeypatch, server, "imdb")
    with pytest.raises(DataError) as err:
        fetch("imdb", cache_dir=tmp_path / "cache")
    message = str(err.value)
    assert OFFICIAL_IMDB_SHA in message and actual in message
    assert "checksum mismatch" in message and "GATESCOPE_DATA_MIRROR" in message
    leftovers = list((tmp_path / "cache").rglob("*"))
    assert all(p.is_dir() for p in leftovers), leftovers


def test_truncated_download_is_detected_and_removed(server, tmp_path):
    with pytest.raises(DataError) as err:
        download_module.download_file(
            f"{server.url}/truncated/x.tar.gz", tmp_path / "dl" / "x.tar.gz", name="imdb"
        )
    assert "cut off after 502 of 100,000 bytes" in str(err.value)
    assert list((tmp_path / "dl").iterdir()) == []


def test_failed_download_is_retried(server, tmp_path, monkeypatch):
    (server.root / "x.bin").write_bytes(b"payload")
    monkeypatch.setattr(download_module, "DOWNLOAD_RETRIES", 1)
    dest = download_module.download_file(f"{server.url}/flaky/x.bin", tmp_path / "dl" / "x.bin",
                                         sha256=hashlib.sha256(b"payload").hexdigest())
    assert server.requests == ["/flaky/x.bin", "/flaky/x.bin"]
    assert dest.read_bytes() == b"payload"


def test_download_over_http_extracts_zip_and_loads(server, tmp_path, monkeypatch):
    write_uci_zip(server.root / "sentiment+labelled+sentences.zip")
    serve_from(monkeypatch, server, "uci_sentences")
    folder = fetch("uci_sentences", cache_dir=tmp_path / "cache")
    assert (folder / "sentiment labelled sentences" / "imdb_labelled.txt").is_file()
    ds = load_dataset("uci_sentences", cache_dir=tmp_path / "cache", verify=False)
    assert len(ds.parts["all"]) == 12
    assert server.requests == ["/sentiment+labelled+sentences.zip"]


def test_mirror_is_read_before_the_web(server, tmp_path, monkeypatch):
    serve_from(monkeypatch, server, "rt_polarity")
    mirror = tmp_path / "mirror"
    write_rt_folder(mirror / "rt_polarity")
    ds = load_dataset("rt_polarity", mirror=mirror, cache_dir=tmp_path / "cache", verify=False)
    assert len(ds) > 0 and server.requests == []


def test_non_http_urls_are_not_downloaded(tmp_path):
    with pytest.raises(DataError, match="only http"):
        download_module.download_file((tmp_path / "x.zip").as_uri(), tmp_path / "dl" / "x.zip", name="x")


def _assert_readable_offline_message(message: str, name: str) -> None:
    assert f"could not download {name}" in message and "works offline" in message
    assert f"{name}/" in message and "GATESCOPE_DATA_MIRROR" in message and "--mirror" in message
    assert "upload" in message
    assert "Errno" not in message and "ConnectionPool" not in message and "object at 0x" not in message


def test_no_network_gives_mirror_instructions(tmp_path):
    def offline(url, output_file, pooch):
        raise requests.ConnectionError(socket.gaierror(-3, "Temporary failure in name resolution"))

    with pytest.raises(DataError) as err:
        fetch("sst2", cache_dir=tmp_path / "cache", opener=offline)
    message = str(err.value)
    _assert_readable_offline_message(message, "sst2")
    assert "https://dl.fbaipublicfiles.com/glue/data/SST-2.zip" in message
    assert "dl.fbaipublicfiles.com could not be resolved" in message
    assert not [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]


def test_refused_connection_is_explained(tmp_path, monkeypatch):
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    info = CATALOGUE["sst2"]
    monkeypatch.setitem(CATALOGUE, "sst2", dataclasses.replace(info, urls=(f"http://127.0.0.1:{port}/SST-2.zip",)))
    with pytest.raises(DataError) as err:
        fetch("sst2", cache_dir=tmp_path / "cache")
    _assert_readable_offline_message(str(err.value), "sst2")
    assert "refused the connection" in str(err.value)
    assert not [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]


def test_http_error_is_reported(server, tmp_path, monkeypatch):
    serve_from(monkeypatch, server, "sst2")
    with pytest.raises(DataError, match="HTTP 404 File not found"):
        fetch("sst2", cache_dir=tmp_path / "cache")


def _tar_with(path: Path, name: str, **extra) -> Path:
    info = tarfile.TarInfo(name)
    for key, value in extra.items():
        setattr(info, key, value)
    data = b"" if extra.get("type") in (tarfile.SYMTYPE, tarfile.LNKTYPE) else b"owned"
    info.size = len(data)
    with tarfile.open(path, "w:gz") as tf:
        ok = tarfile.TarInfo("pkg/ok.txt")
        ok.size = 2
        tf.addfile(ok, io.BytesIO(b"ok"))
        tf.addfile(info, io.BytesIO(data))
    return path


@pytest.mark.parametrize(
    "name, extra",
    [
        ("../evil.txt", {}),
        ("pkg/../../evil.txt", {}),
        ("/tmp/gatescope-evil.txt", {}),
        ("pkg/link", {"type": tarfile.SYMTYPE, "linkname": "../../evil.txt"}),
        ("pkg/abs-link", {"type": tarfile.SYMTYPE, "linkname": "/etc/passwd"}),
        ("pkg/hard", {"type": tarfile.LNKTYPE, "linkname": "../outside"}),
    ],
)
def test_unsafe_tar_members_are_rejected(tmp_path, name, extra):
    archive = _tar_with(tmp_path / "bad.tar.gz", name, **extra)
    dest = tmp_path / "out" / "inner"
    with pytest.raises(DataError, match="refusing to extract"):
        safe_extract(archive, dest)
    assert not (tmp_path / "out" / "evil.txt").exists() and not (tmp_path / "evil.txt").exists()
    assert list(dest.iterdir()) == []  # nothing half-extracted


def test_symlink_inside_the_archive_is_allowed(tmp_path):
    archive = _tar_with(tmp_path / "ok.tar.gz", "pkg/alias.txt", type=tarfile.SYMTYPE, linkname="ok.txt")
    safe_extract(archive, tmp_path / "out")
    assert (tmp_path / "out" / "pkg" / "ok.txt").read_bytes() == b"ok"


def test_unsafe_zip_member_is_rejected(tmp_path):
    archive = tmp_path / "bad.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("SST-2/train.tsv", "sentence\tlabel\n")
        zf.writestr("../../evil.txt", "owned")
    with pytest.raises(DataError, match="outside the target folder"):
        safe_extract(archive, tmp_path / "out")
    assert not (tmp_path / "evil.txt").exists()


def test_unsafe_archive_from_mirror_is_rejected_by_fetch(tmp_path):
    mirror = tmp_path / "mirror"
    write_rt_targz(mirror / "rt_polarity" / "rt-polaritydata.tar.gz", extra={"../../escape.txt": b"x"})
    with pytest.raises(DataError, match="refusing to extract"):
        fetch("rt_polarity", mirror=mirror, cache_dir=tmp_path / "cache")
    assert not (tmp_path / "escape.txt").exists()


def test_official_archives_in_mirror_are_found_for_every_download_dataset(tmp_path):
    mirror = tmp_path / "mirror"
    write_sst2_zip(mirror / "sst2" / "SST-2.zip")
    write_uci_zip(mirror / "uci_sentences" / "sentiment+labelled+sentences.zip")
    write_imdb_targz(mirror / "imdb" / "aclImdb_v1.tar.gz", n_per_class=1)
    cache = tmp_path / "cache"
    assert (fetch("sst2", mirror=mirror, cache_dir=cache) / "SST-2" / "dev.tsv").is_file()
    assert fetch("uci_sentences", mirror=mirror, cache_dir=cache) == cache / "uci_sentences"
    # IMDb is read from its archive in place, never extracted.
    assert fetch("imdb", mirror=mirror, cache_dir=cache) == mirror / "imdb"
    assert not (cache / "imdb").exists()
