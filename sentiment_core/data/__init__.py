"""Datasets for GateScope: the catalogue, downloads, loaders, uploads, synthetic sets, splits."""
from .catalogue import CATALOGUE, DatasetInfo, get_info, list_datasets
from .download import default_cache_dir, download_file, fetch, resolve_cache_dir, resolve_mirror, safe_extract
from .loaders import load_dataset, repair_tweet
from .splits import make_splits, subsample
from .synthetic import make_long_range, make_negation
from .types import DatasetSplits, Examples, LabeledDataset
from .upload import ColumnPreview, UploadReport, parse_upload, preview_columns

__all__ = [
    "CATALOGUE",
    "ColumnPreview",
    "DatasetInfo",
    "DatasetSplits",
    "Examples",
    "LabeledDataset",
    "UploadReport",
    "default_cache_dir",
    "download_file",
    "fetch",
    "get_info",
    "list_datasets",
    "load_dataset",
    "make_long_range",
    "make_negation",
    "make_splits",
    "parse_upload",
    "preview_columns",
    "repair_tweet",
    "resolve_cache_dir",
    "resolve_mirror",
    "safe_extract",
    "subsample",
]
