"""A run trained on an uploaded CSV, started the way the Train page starts one (issue 23 item 3).

``train_upload_run(root)`` trains a tiny GRU on ``fixtures/upload_stars_sentiment.csv`` (60 reviews;
columns ``Review``, ``stars`` 1-5 and `` Sentiment Label``) with the Data page's settings for it, the
file's bytes in ``RunRequest.upload``, and returns the run's name.
"""
from __future__ import annotations

from pathlib import Path

from sentiment_core import runs, settings
from sentiment_core.data import selection
from sentiment_core.data.upload import upload_sha

FIXTURE = Path(__file__).parent / "fixtures" / "upload_stars_sentiment.csv"
CONTENT = FIXTURE.read_bytes()
FILENAME = "reviews.csv"
MAPPING = {"text_column": "Review", "label_column": "Sentiment Label", "threshold": None}


def upload_data(content: bytes = CONTENT) -> dict:
    """The data settings the Data page makes for the upload (``app/views/data.py``)."""
    return {**settings.defaults()["data"], "name": "upload", "filename": FILENAME, "sha": upload_sha(content),
            **MAPPING}


def upload_request(content: bytes = CONTENT) -> runs.RunRequest:
    """A tiny run on the upload, carrying the file's bytes."""
    data = upload_data(content)
    _, _, splits = selection.load_upload_splits(content, FILENAME, data)
    return runs.RunRequest(splits, {"cell": "gru", "emb_dim": 8, "hidden_dim": 8},
                           {"epochs": 1, "batch_size": 16, "lr": 1e-2, "device": "cpu"},
                           {**data, "label": selection.data_label(data)}, vocab={"min_freq": 1, "max_size": 200},
                           label="upload", encoding={"max_len": 12}, upload=content)


def train_upload_run(root: Path, count: int = 1) -> list[str]:
    """Train ``count`` runs on the upload into ``root`` (thread executor) and return their names."""
    queue = runs.RunQueue(root, max_concurrent=1, executor="thread")
    try:
        names = [queue.submit(upload_request()) for _ in range(count)]
        for name in names:
            queue.wait(name, 120)
    finally:
        queue.close()
    return names
