"""What a model was trained on, said plainly: dataset, classes, synthetic or real, date.

Training records it in the checkpoint's ``extra`` (:func:`domain_record`).
Older checkpoints, and the bundled demo models, carry none: their domain is
inferred from what they do carry (the synthetic dataset's class list, the
recorded dataset folder), without touching weights or predictions.  A model
trained on the synthetic shapes (``core.synth``) names moving and coloured
balls; on a real video those names are not actions, and :func:`domain_note`
says so.
"""

from __future__ import annotations

import datetime as _dt
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

EXTRA_DOMAIN = "model_domain"
SYNTHETIC_NAME = "synthetic shapes"
RECORDED, INFERRED = "recorded", "inferred"


@dataclass(frozen=True)
class ModelDomain:
    dataset: str  # a short name: the dataset folder's or annotation file's, or "synthetic shapes"
    classes: tuple[str, ...]
    synthetic: bool
    trained: str | None  # ISO date, None when unknown
    source: str  # "recorded" in the checkpoint or "inferred" from it
    dataset_root: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "classes": list(self.classes), "num_classes": len(self.classes), "synthetic": self.synthetic,
                "trained": self.trained, "source": self.source, "dataset_root": self.dataset_root}

    def describe(self) -> str:
        """``trained on synthetic shapes (10 classes, not real actions)``: the model line's words."""
        kind = ", synthetic: not real actions" if self.synthetic else ""
        when = f", {self.trained}" if self.trained else ""
        guess = "" if self.source == RECORDED else " (inferred)"
        return f"trained on {self.dataset} ({len(self.classes)} classes{kind}{when}){guess}"


def _synthetic_classes() -> tuple[str, ...]:
    from core.synth import CLASS_NAMES

    return tuple(CLASS_NAMES)


def dataset_name(dataset: Any) -> str:
    """A short name for a dataset: its annotation file's folder, or its root folder."""
    files = getattr(dataset, "annotation_files", ())
    if files:
        return Path(files[0]).parent.name or Path(files[0]).stem
    return Path(dataset.root).resolve().name


def domain_record(dataset: Any, classes: Sequence[str], today: _dt.date | None = None) -> dict[str, Any]:
    """What training writes under :data:`EXTRA_DOMAIN`."""
    from core.synth.dataset import load_manifest

    synthetic = load_manifest(dataset.root) is not None
    return {"dataset": SYNTHETIC_NAME if synthetic else dataset_name(dataset), "classes": list(classes), "synthetic": synthetic,
            "trained": (today or _dt.datetime.now(_dt.timezone.utc).date()).isoformat(), "dataset_root": str(Path(dataset.root).resolve())}


def model_domain(class_names: Sequence[str], extra: Mapping[str, Any]) -> ModelDomain:
    """The checkpoint's recorded domain, or one inferred from its class list and training record."""
    recorded = extra.get(EXTRA_DOMAIN)
    if isinstance(recorded, Mapping) and isinstance(recorded.get("dataset"), str) and isinstance(recorded.get("synthetic"), bool):
        trained = recorded.get("trained")
        root = recorded.get("dataset_root")
        return ModelDomain(recorded["dataset"], tuple(class_names), recorded["synthetic"], trained if isinstance(trained, str) else None,
                           RECORDED, root if isinstance(root, str) else None)
    root = extra.get("dataset_root")
    root = root if isinstance(root, str) and root else None
    if tuple(class_names) == _synthetic_classes():
        return ModelDomain(SYNTHETIC_NAME, tuple(class_names), True, None, INFERRED, root)
    name = Path(root).name if root else "an unrecorded dataset"
    return ModelDomain(name, tuple(class_names), False, None, INFERRED, root)


def synthetic_sidecar_class(video: str | os.PathLike[str]) -> str | None:
    """The class a ``<video stem>.json`` beside the video gives, when it is a synthetic class (the
    bundled sample's ``sample.json`` records the one class it was rendered from)."""
    import json

    sidecar = Path(video).with_suffix(".json")
    try:
        data = json.loads(sidecar.read_text(encoding="utf-8")) if sidecar.is_file() else None
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    name = data.get("class") if isinstance(data, dict) else None
    return name if isinstance(name, str) and name in _synthetic_classes() else None


def in_synthetic_dataset(video: str | os.PathLike[str]) -> bool:
    """Whether ``video`` is synthetic data: in a dataset written by ``synth`` (a ``synth.json`` two
    folders up at most) or a rendered clip whose sidecar names its class (the bundled sample)."""
    from core.synth.dataset import MANIFEST_NAME

    path = Path(video).resolve()
    return any((folder / MANIFEST_NAME).is_file() for folder in list(path.parents)[:2]) or synthetic_sidecar_class(path) is not None


def domain_note(domain: ModelDomain, video: str | os.PathLike[str] | None) -> str:
    """The caveat to show beside a prediction ("" when there is none)."""
    if not domain.synthetic or video is None or in_synthetic_dataset(video):
        return ""
    # the conclusion first: the viewer shows the note on one line, cut at the dock's width
    return (f"Its answer says nothing about this video: this model was trained on {domain.dataset} "
            f"(moving and coloured balls), and its {len(domain.classes)} classes are not real actions.")
