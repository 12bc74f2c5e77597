"""The datasets the pages share: one cache of loaded and split data for Data, Train and Compare, and
the column mapping of an uploaded file (Data and Dataset)."""
from __future__ import annotations

import streamlit as st

from sentiment_core.data import selection
from sentiment_core.errors import GateScopeError
from sentiment_core.text import plain


@st.cache_resource(show_spinner="Loading the dataset…", max_entries=8)
def catalogue(key: tuple, data: dict, _progress=None):
    """``(LabeledDataset, DatasetSplits)`` of a catalogue or synthetic set (``key``: ``dataset_key``)."""
    return selection.load_catalogue_splits(data, progress=_progress)


@st.cache_resource(show_spinner="Reading your file…", max_entries=4)
def upload(key: tuple, _content: bytes, filename: str, data: dict):
    """``(LabeledDataset, UploadReport, DatasetSplits)`` of an uploaded file."""
    return selection.load_upload_splits(_content, filename, data)


@st.cache_data(show_spinner=False, max_entries=8)
def preview(sha: str, _content: bytes, filename: str):
    """``ColumnPreview`` of an uploaded file (``sha``: ``upload_sha`` of its bytes)."""
    from sentiment_core.data import preview_columns

    return preview_columns(_content, filename)


def column_mapping(file: dict, prefix: str, chosen: dict | None = None) -> dict | None:
    """The column mapping of an uploaded labelled file: its format and columns, then the text
    column, the label column and the score threshold (widgets ``<prefix>_text_<sha>``, ``_label_``,
    ``_thr_``), the Data page's and the Dataset page's.

    Args:
        file: ``{"bytes", "filename", "sha"}`` of the upload.
        prefix: the page's widget key prefix (``d``, ``ds``).
        chosen: settings to start from (``text_column``, ``label_column``, ``threshold``: a run's,
            or the Data page's earlier choice); a column the file lacks is guessed instead.

    Returns:
        ``{"text_column", "label_column", "threshold"}``, or None after an error saying what to fix.
    """
    try:
        cols = preview(file["sha"], file["bytes"], file["filename"])
    except GateScopeError as error:
        st.error(f"**{plain(file['filename'])}** cannot be used: {plain(error)}")
        return None
    except Exception as error:  # noqa: BLE001 - a file that cannot be read is explained, never raised
        st.error(f"**{plain(file['filename'])}** could not be read ({type(error).__name__}). Save it as UTF-8 CSV "
                 "with a header row and try again.")
        return None
    chosen = chosen or {}
    threshold = chosen.get("threshold")
    threshold = float(threshold) if isinstance(threshold, (int, float)) and not isinstance(threshold, bool) else None
    st.caption(f"{cols.format.upper()} · {cols.encoding} · {cols.rows:,} rows · columns: "
               f"{plain(', '.join(cols.columns))}")

    def start(column: str | None, guess: str | None, fallback: str) -> int:
        return cols.columns.index(next(c for c in (column, guess, fallback) if c in cols.columns))

    c1, c2, c3 = st.columns(3)
    text_col = c1.selectbox("Text column", cols.columns, key=f"{prefix}_text_{file['sha']}",
                            index=start(chosen.get("text_column"), cols.text_column, cols.columns[0]))
    label_col = c2.selectbox("Label column", cols.columns, key=f"{prefix}_label_{file['sha']}",
                             index=start(chosen.get("label_column"), cols.label_column, cols.columns[-1]))
    threshold = c3.number_input("Score threshold (numeric labels)", value=threshold,
                                key=f"{prefix}_thr_{file['sha']}", placeholder="automatic",
                                help="Scores below it become negative, the rest positive. Leave empty: "
                                     "0..1 scores split at 0.5, others at the median; a few whole "
                                     "numbers stay separate classes.")
    return {"text_column": text_col, "label_column": label_col, "threshold": threshold}


def upload_bytes(data: dict) -> bytes | None:
    """The bytes of the uploaded file ``data`` names, from this session (None for other data):
    the Train page passes them to ``RunRequest.upload`` so the server keeps the file with the run."""
    file = st.session_state.get("gs_upload")
    if data.get("name") == "upload" and file and file.get("sha") == data.get("sha"):
        return file["bytes"]
    return None


def splits_for(data: dict):
    """The chosen dataset's splits, or None after saying what to do."""
    try:
        if data.get("name") == "upload":
            file = st.session_state.get("gs_upload")
            if not file:
                st.warning("The uploaded file is gone (uploads live only in this browser tab). "
                           "Upload it again on the Data page, or pick a catalogue dataset.")
                return None
            return upload(selection.dataset_key(data), file["bytes"], file["filename"], data)[2]
        return catalogue(selection.dataset_key(data), data)[1]
    except GateScopeError as error:
        st.error(f"The dataset could not be loaded: {plain(error)}")
    except Exception as error:  # noqa: BLE001 - a failed load is explained, never raised
        st.error(f"The dataset could not be loaded ({type(error).__name__}: {plain(error)}). "
                 "Pick another dataset on the Data page.")
    return None
