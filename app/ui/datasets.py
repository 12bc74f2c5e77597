"""The datasets the pages share: one cache of loaded and split data for Data, Train and Compare."""
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
