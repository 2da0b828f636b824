"""Datasets on disk: class folders of videos or annotation files (Kinetics CSV,
Something-Something JSON), official, annotated or seeded splits, and the list of
videos a long run had to skip."""

from core.data.dataset import VIDEO_EXTENSIONS, Dataset, Sample, read_class_index
from core.data.layouts import discover_dataset
from core.data.skipped import SkippedVideos
from core.data.splits import SCHEMES, Split, group_key, make_split, require_official

__all__ = [
    "SCHEMES",
    "VIDEO_EXTENSIONS",
    "Dataset",
    "Sample",
    "SkippedVideos",
    "Split",
    "discover_dataset",
    "group_key",
    "make_split",
    "read_class_index",
    "require_official",
]
