"""A video's true class, when something says it: the open dataset, its folder, or its sidecar.

Shown beside the model's prediction ("true: X", right or wrong).  In order:
the dataset the video was opened from (its annotation or class folder); the
video's folder name, when it is one of the model's classes (a UCF101-style
``<class>/<video>`` tree); a rendered clip's sidecar JSON naming a synthetic
class (the bundled sample).  Otherwise the class is unknown and nothing is shown.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

FROM_DATASET, FROM_FOLDER, FROM_SIDECAR = "dataset", "folder name", "sample description"


@dataclass(frozen=True)
class TrueClass:
    name: str
    source: str  # FROM_DATASET, FROM_FOLDER or FROM_SIDECAR


def normalise(path: str | os.PathLike[str]) -> str:
    return os.path.normcase(os.path.normpath(os.fspath(Path(path).resolve())))


def true_class(video: str | os.PathLike[str], class_names: Sequence[str], dataset_labels: Mapping[str, str] | None = None) -> TrueClass | None:
    """``video``'s true class (``dataset_labels``: normalised path -> class, from an open dataset)."""
    if dataset_labels:
        label = dataset_labels.get(normalise(video))
        if label is not None:
            return TrueClass(label, FROM_DATASET)
    folder = Path(video).resolve().parent.name
    if folder in class_names:
        return TrueClass(folder, FROM_FOLDER)
    from core.models.domain import synthetic_sidecar_class

    sidecar = synthetic_sidecar_class(video)
    if sidecar is not None and sidecar in class_names:
        return TrueClass(sidecar, FROM_SIDECAR)
    return None
