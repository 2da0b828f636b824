"""Which layout a dataset path has, and the reader for it.

Class folders (UCF101 / HMDB51) are the default; an annotation layout is
recognised by its files: a ``.csv`` file or a folder with ``train.csv`` /
``val.csv`` / ``test.csv`` (Kinetics), a labels ``.json`` file or a folder with
``labels.json`` beside ``train.json`` / ``validation.json`` (Something-Something).
"""

from __future__ import annotations

from pathlib import Path

from core.errors import DatasetError

LAYOUTS = ("folders", "kinetics", "something-something")


def annotated_layout(path: Path) -> str | None:
    """The annotation layout at ``path``, or ``None`` for class folders."""
    from core.data import kinetics, ssv2

    if path.is_file():
        suffix = path.suffix.lower()
        if suffix == ".csv":
            return "kinetics"
        if suffix == ".json":
            return "something-something"
        raise DatasetError("is not a folder (a dataset is a folder of class sub-folders of videos) nor an annotation file (.csv or .json)", path)
    if path.is_dir():
        if kinetics.split_files(path):
            return "kinetics"
        if ssv2.label_file(path) is not None:
            return "something-something"
    return None


def read_annotated(path: Path, *, videos: Path | None = None):
    """The dataset an annotation layout at ``path`` describes; ``None`` when ``path`` is class folders."""
    from core.data import kinetics, ssv2

    if videos is not None and not videos.is_dir():
        raise DatasetError("videos folder does not exist or is not a folder", videos)
    layout = annotated_layout(path)
    if layout == "kinetics":
        return kinetics.read_kinetics(path, videos)
    if layout == "something-something":
        return ssv2.read_ssv2(path, videos)
    return None
