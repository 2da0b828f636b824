"""What a classifier returns, whatever the model family: one clip's :class:`Prediction`, a
video's :class:`VideoPrediction`, and the few helpers that build them.

Models, commands, exports and the viewer all read these types; none of them
needs to know which family made a prediction.  A prediction's ``attention``
holds the maps its model explains with (:class:`core.models.transformer.explain.AttentionMaps`,
:class:`core.models.shared.cam_maps.CamMaps`, or a new family's own): each
maps type names its ``KINDS``, and the viewer picks its panel by them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import torch

from core.errors import CoreError
from core.sampling import CropMap


@dataclass(frozen=True, eq=False)
class Prediction:
    """One clip's result.  ``timings_ms`` has every stage of :data:`core.timings.STAGES` and
    ``total`` (a batched clip reports its share of the batch's backbone and fusion time)."""

    class_names: tuple[str, ...]
    logits: np.ndarray
    probabilities: np.ndarray
    top: list[tuple[str, float]]
    start: int
    frame_indices: tuple[int, ...]
    flow_frame_indices: tuple[int, ...] | None
    padded: int
    crop_map: CropMap
    flow_method: str | None
    flow_fell_back: bool
    flow_note: str
    timings_ms: dict[str, float]
    attention: Any = None  # the model's maps for this clip (a type with KINDS), or None

    @property
    def label(self) -> str:
        return self.top[0][0]

    @property
    def probability(self) -> float:
        return self.top[0][1]


@dataclass(frozen=True, eq=False)
class VideoPrediction:
    """Several clips of one video; ``probabilities`` is the mean of the clips' softmax."""

    class_names: tuple[str, ...]
    probabilities: np.ndarray
    top: list[tuple[str, float]]
    clips: list[Prediction]
    timings_ms: dict[str, float] = field(default_factory=dict)

    @property
    def flow_fell_back(self) -> bool:
        return any(c.flow_fell_back for c in self.clips)


def top_k(probabilities: np.ndarray, class_names: Sequence[str], k: int) -> list[tuple[str, float]]:
    """The ``k`` most probable classes, best first (ties keep class order)."""
    order = np.argsort(-probabilities, kind="stable")[: max(1, min(k, len(class_names)))]
    return [(class_names[i], float(probabilities[i])) for i in order]


def aggregate_predictions(clips: Sequence[Prediction], top: int = 5) -> VideoPrediction:
    """Clips of one video as one result: the mean of their softmax, their timings summed."""
    if not clips:
        raise ValueError("aggregate_predictions needs at least one clip")
    names = clips[0].class_names
    probs = np.mean([c.probabilities for c in clips], axis=0)
    keys = dict.fromkeys(k for c in clips for k in c.timings_ms)  # first-seen order: the stages, then total
    timings = {k: float(sum(c.timings_ms.get(k, 0.0) for c in clips)) for k in keys}
    return VideoPrediction(class_names=names, probabilities=probs, top=top_k(probs, names, top), clips=list(clips), timings_ms=timings)


def checked_probabilities(scores: torch.Tensor, what: str = "logits") -> tuple[np.ndarray, np.ndarray]:
    """A batch of class scores as float32 numpy, and their softmax; non-finite scores are a
    :class:`~core.errors.CoreError` (broken weights or input), never a silent NaN ranking."""
    scores_np = scores.float().cpu().numpy()
    if not np.isfinite(scores_np).all():
        raise CoreError(f"the model produced non-finite {what} (NaN or inf): its weights or its input are broken")
    return scores_np, torch.softmax(torch.from_numpy(scores_np), dim=1).numpy()
