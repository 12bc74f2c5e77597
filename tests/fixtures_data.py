"""Builders for tiny copies of the public datasets in their exact official formats.

Everything is written into a folder the test gives (``tmp_path``); nothing is stored in
the repository.
"""
from __future__ import annotations

import io
import json
import tarfile
import zipfile
from pathlib import Path

# IMDb: review text with the <br /> tags the originals have.
IMDB_POS = "A wonderful film.<br /><br />Great acting and a moving story."
IMDB_NEG = "Dull and far too long.<br />I walked out."

# UCI: quotes that break default CSV quoting, and a U+0085 (NEL) inside a sentence.
UCI_LINES = {
    "amazon_cells_labelled.txt": [
        ("So there is no way for me to plug it in here in the US unless I go by a converter.", 0),
        ("Good case, Excellent value.", 1),
        ("Great for the jawbone.", 1),
        ("Tied to charger for conversations lasting more than 45 minutes.MAJOR PROBLEMS!!", 0),
    ],
    "imdb_labelled.txt": [
        ('A very, very, very slow-moving, aimless movie about a distressed, drifting young man.', 0),
        ('The "acting" was "awful" and the "plot" was worse.', 0),
        ("It's a masterpiece\u0085 truly a joy to watch.", 1),
        ('I loved the film, "simply" great.', 1),
    ],
    "yelp_labelled.txt": [
        ("Wow... Loved this place.", 1),
        ("Crust is not good.", 0),
        ("Not tasty and the texture was just nasty.", 0),
        ("Stopped by during the late May bank holiday off Rick Steve recommendation and loved it.", 1),
    ],
}

# rt-polarity: Windows-1252 bytes (0x97 is an em dash, 0xe9 is e-acute).
RT_POS = [b"the rock is destined to be the 21st century's new \" conan \" . ", b"a caf\xe9 charmer \x97 truly lovely . "]
RT_NEG = [b"simplistic , silly and tedious . ", b"it's so laddish and juvenile \x97 only teenage boys could find it funny . "]

SST2_TRAIN = [
    ("hide new secretions from the parental units", 0),
    ("contains no wit , only labored gags", 0),
    ("that loves its characters and communicates something rather beautiful about human nature", 1),
    ("remains utterly satisfied to remain the same throughout", 0),
    ("on the worst revenge-of-the-nerds clichés the filmmakers could dredge up", 0),
    ("the greatest musicians", 1),
    ("are more deeply thought through than in most ` right-thinking ' films", 1),
    ("it 's a charming and often affecting journey", 1),
]
SST2_DEV = [("it 's a charming and often affecting journey . ", 1), ("unflinchingly bleak and desperate ", 0)]

SARCASM = [
    {"article_link": "https://www.huffingtonpost.com/entry/a", "headline": "former versace store clerk sues over secret 'black code'", "is_sarcastic": 0},
    {"article_link": "https://local.theonion.com/b", "headline": "mom starting to fear son's web series closest thing she will have to grandchild", "is_sarcastic": 1},
    {"article_link": "https://www.huffingtonpost.com/entry/c", "headline": "the 'roseanne' revival catches up to our thorny political mood", "is_sarcastic": 0},
    {"article_link": "https://politics.theonion.com/d", "headline": "boehner just wants wife to listen, not come up with alternative debt-reduction ideas", "is_sarcastic": 1},
]


def _add(tf: tarfile.TarFile, name: str, data: bytes | None = None, **extra) -> None:
    info = tarfile.TarInfo(name)
    if data is None and "type" not in extra:
        info.type = tarfile.DIRTYPE
        info.mode = 0o755
    else:
        info.size = len(data or b"")
        info.mode = 0o644
    for key, value in extra.items():
        setattr(info, key, value)
    tf.addfile(info, io.BytesIO(data) if data else None)


def imdb_files(n_per_class: int = 3) -> dict[str, bytes]:
    """Relative path -> bytes of a small aclImdb/ tree (official layout and file names)."""
    files = {"aclImdb/README": b"Large Movie Review Dataset v1.0\n", "aclImdb/imdb.vocab": b"the\nand\n"}
    for part in ("train", "test"):
        for polarity, text, ratings in (("pos", IMDB_POS, (7, 8, 9, 10)), ("neg", IMDB_NEG, (1, 2, 3, 4))):
            for i in range(n_per_class):
                body = f"{part} {polarity} review {i}. {text}"
                files[f"aclImdb/{part}/{polarity}/{i}_{ratings[i % 4]}.txt"] = body.encode()
            files[f"aclImdb/{part}/urls_{polarity}.txt"] = b"http://www.imdb.com/title/tt0453418/usercomments\n" * n_per_class
    return files


def write_imdb_tree(folder: Path, n_per_class: int = 3) -> Path:
    for relative, data in imdb_files(n_per_class).items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return folder


def write_imdb_targz(path: Path, n_per_class: int = 3) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tf:
        for directory in ("aclImdb", "aclImdb/train", "aclImdb/train/pos", "aclImdb/train/neg",
                          "aclImdb/test", "aclImdb/test/pos", "aclImdb/test/neg"):
            _add(tf, directory)
        for relative, data in imdb_files(n_per_class).items():
            _add(tf, relative, data)
    return path


def uci_files() -> dict[str, bytes]:
    files = {"readme.txt": b"This dataset was created for the Paper 'From Group to Individual Labels'\n"}
    for name, rows in UCI_LINES.items():
        files[name] = "".join(f"{text}  \t{label}\n" for text, label in rows).encode("utf-8")
    return files


def write_uci_folder(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in uci_files().items():
        (folder / name).write_bytes(data)
    return folder


def write_uci_zip(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("sentiment labelled sentences/", b"")
        for name, data in uci_files().items():
            zf.writestr(f"sentiment labelled sentences/{name}", data)
        zf.writestr("__MACOSX/sentiment labelled sentences/._readme.txt", b"\x00\x05\x16\x07")
    return path


def rt_files() -> dict[str, bytes]:
    return {
        "rt-polarity.pos": b"\n".join(RT_POS) + b"\n",
        "rt-polarity.neg": b"\n".join(RT_NEG) + b"\n",
        "rt-polaritydata.README.1.0.txt": b"sentence polarity dataset v1.0\n",
    }


def write_rt_folder(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in rt_files().items():
        (folder / name).write_bytes(data)
    return folder


def write_rt_targz(path: Path, extra: dict[str, bytes] | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tf:
        _add(tf, "rt-polaritydata")
        for name, data in {**rt_files(), **(extra or {})}.items():
            _add(tf, name if name.startswith(("/", "..")) else f"rt-polaritydata/{name}", data)
    return path


def sst2_files() -> dict[str, bytes]:
    train = "sentence\tlabel\n" + "".join(f"{s} \t{y}\n" for s, y in SST2_TRAIN)
    dev = "sentence\tlabel\n" + "".join(f"{s}\t{y}\n" for s, y in SST2_DEV)
    test = "index\tsentence\n0\tuneasy mishmash of styles and genres .\n"
    return {"train.tsv": train.encode(), "dev.tsv": dev.encode(), "test.tsv": test.encode()}


def write_sst2_folder(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in sst2_files().items():
        (folder / name).write_bytes(data)
    return folder


def write_sst2_zip(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in sst2_files().items():
            zf.writestr(f"SST-2/{name}", data)
    return path


def write_sarcasm(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in SARCASM), encoding="utf-8")
    return path
