"""Which layout a dataset path has, and the reader for it.

Class folders (UCF101 / HMDB51) are the default; an annotation layout is
recognised by its files: a ``.csv`` file or a folder with ``train.csv`` /
``val.csv`` / ``test.csv`` (Kinetics), a labels ``.json`` file or a folder with
``labels.json`` beside ``train.json`` / ``validation.json`` (Something-Something).
An annotation file's videos may live elsewhere: :class:`DatasetLocation` carries
that folder with the path, so a trainer handed it passes both to the one reader.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from core.data.dataset import Dataset, discover_class_folders
from core.data.kinetics import read_kinetics, split_files
from core.data.ssv2 import label_file, read_ssv2
from core.errors import DatasetError, InputError

LAYOUTS = ("folders", "kinetics", "something-something")


@dataclass(frozen=True)
class DatasetLocation(os.PathLike):
    """A dataset path with the folder of its annotations' videos (``--videos``): one path-like value,
    so the trainers and evaluators, which take a dataset path and call :func:`discover_dataset`
    with it, find the videos without each growing an argument for them."""

    path: str
    videos: str

    def __fspath__(self) -> str:
        return self.path

    def __str__(self) -> str:
        return self.path


def dataset_location(path: str | os.PathLike[str], videos: str | os.PathLike[str] | None) -> str | os.PathLike[str]:
    """``path`` itself, or with ``videos`` (the command line's ``--videos``) a :class:`DatasetLocation`;
    a missing videos folder, or one given for a path with no annotation file (class folders hold their
    videos), is an error."""
    if videos is None:
        return path
    folder = Path(videos)
    if not folder.is_dir():
        raise DatasetError("videos folder does not exist or is not a folder", folder)
    root = Path(path)
    if root.exists() and annotated_layout(root) is None:
        raise InputError("holds no annotation file (a Kinetics CSV or Something-Something JSON): --videos is for an annotation file's videos", root)
    return DatasetLocation(os.fspath(path), os.fspath(videos))


def annotated_layout(path: Path) -> str | None:
    """The annotation layout at ``path``, or ``None`` for class folders."""
    if path.is_file():
        suffix = path.suffix.lower()
        if suffix == ".csv":
            return "kinetics"
        if suffix == ".json":
            return "something-something"
        raise DatasetError("is not a folder (a dataset is a folder of class sub-folders of videos) nor an annotation file (.csv or .json)", path)
    if path.is_dir():
        if split_files(path):
            return "kinetics"
        if label_file(path) is not None:
            return "something-something"
    return None


def read_annotated(path: Path, *, videos: Path | None = None) -> Dataset | None:
    """The dataset an annotation layout at ``path`` describes; ``None`` when ``path`` is class folders."""
    if videos is not None and not videos.is_dir():
        raise DatasetError("videos folder does not exist or is not a folder", videos)
    layout = annotated_layout(path)
    if layout == "kinetics":
        return read_kinetics(path, videos)
    if layout == "something-something":
        return read_ssv2(path, videos)
    return None


def discover_dataset(
    root: str | os.PathLike[str], *, split_dir: str | os.PathLike[str] | None = None, videos: str | os.PathLike[str] | None = None
) -> Dataset:
    """The one reader: the dataset at ``root``, whatever its layout: ``root/<class>/`` (official split
    files in ``split_dir`` when given), or a Kinetics CSV / Something-Something JSON (the file, or a
    folder holding them; ``videos``: where their videos are, when not beside them, default a
    :class:`DatasetLocation`'s)."""
    if videos is None and isinstance(root, DatasetLocation):
        videos = root.videos
    root_path = Path(root)
    if not root_path.exists():
        raise DatasetError("dataset folder does not exist", root_path)
    annotated = read_annotated(root_path, videos=None if videos is None else Path(videos))
    return annotated if annotated is not None else discover_class_folders(root_path, split_dir=split_dir)
