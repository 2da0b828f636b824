"""The classification side of the viewer's state: one plain object with change signals.

The clip region, the loaded model's description, the last clip prediction
and the sliding-window timeline, the attention drawing choices and the
selected cross-stream token pair.  Widgets render it; the classify
controller changes it; nothing here computes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from core.export.prediction_heat import AttentionChoice
from core.inference import Prediction, VideoPrediction
from core.models import registry
from core.sampling import clip_span

DEFAULT_CLIP_LENGTH = 16


@dataclass(frozen=True)
class ModelStatus:
    """What the panel says about the model: its file, its config once read (``None`` while
    reading), or why there is none."""

    path: Path | None
    config: Any | None = None  # the config of the checkpoint's family (its registry record's config_class)
    problem: str = ""  # non-empty: no usable model (the demo file is missing, ...)
    chosen: bool = True  # False: a demo standing in for the model chosen last, missing at this start (not recorded as chosen)

    @property
    def ready(self) -> bool:
        return self.path is not None and not self.problem

    @property
    def family(self) -> registry.Family:
        """The model's family record, which says how to describe it and which maps it draws (the
        default family's until the config is read, as for a config that records no family)."""
        if self.config is None:
            return registry.family(registry.default_family())
        return registry.family_record(self.config)


@dataclass(frozen=True)
class OverlaySettings:
    """How attention is drawn over the frames."""

    enabled: bool = True
    choice: AttentionChoice = AttentionChoice()
    opacity: float = 0.6


@dataclass(frozen=True)
class TokenSelection:
    """A cell of the cross-stream matrix: one RGB token and one flow token (numbers within their stream)."""

    rgb_token: int
    flow_token: int
    value: float
    query: str  # the stream whose tokens are the rows (queries)


class ClassifyState(QObject):
    regionChanged = Signal(int)  # first frame of the clip to classify
    modelChanged = Signal(object)  # ModelStatus
    predictionChanged = Signal(object)  # Prediction | None
    timelineChanged = Signal(object)  # VideoPrediction | None (a partial one while it runs)
    overlayChanged = Signal(object)  # OverlaySettings
    selectionChanged = Signal(object)  # TokenSelection | None

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.frame_count = 0
        self.region_start = 0
        self.follow_frame = True  # the region keeps the current frame inside it until the user drags it
        self.model = ModelStatus(path=None, problem="no model loaded")
        self.prediction: Prediction | None = None
        self.timeline: VideoPrediction | None = None
        self.overlay = OverlaySettings()
        self.selection: TokenSelection | None = None

    # -- the clip region ------------------------------------------------------
    @property
    def clip_length(self) -> int:
        config = self.model.config
        return config.clip_length if config is not None else DEFAULT_CLIP_LENGTH

    @property
    def frame_stride(self) -> int:
        config = self.model.config
        return config.frame_stride if config is not None else 1

    @property
    def span(self) -> int:
        """Frames from the clip's first to its last, inclusive."""
        return clip_span(self.clip_length, self.frame_stride)

    def max_start(self) -> int:
        return max(0, self.frame_count - self.span)

    def clip_around(self, frame_index: int) -> int:
        """The start of the clip centred on ``frame_index`` (kept inside the video)."""
        return min(max(0, int(frame_index) - self.span // 2), self.max_start())

    def set_frame_count(self, count: int) -> None:
        self.frame_count = max(0, int(count))
        self.follow_frame = True
        self.prediction, self.timeline, self.selection = None, None, None
        self.predictionChanged.emit(None)
        self.timelineChanged.emit(None)
        self.selectionChanged.emit(None)
        self.set_region_start(0, force=True)

    def set_region_start(self, start: int, *, force: bool = False) -> None:
        start = min(max(0, int(start)), self.max_start())
        if start != self.region_start or force:
            self.region_start = start
            self.regionChanged.emit(start)

    def drag_region(self, start: int) -> None:
        """The user placed the region: it stops following the current frame."""
        self.follow_frame = False
        self.set_region_start(start)

    def follow(self, frame_index: int) -> None:
        """Keep the current frame inside the region: move it (centred on the frame) only when the frame leaves it,
        so scrubbing through a classified clip leaves the region on that clip."""
        if self.follow_frame and not self.region_start <= int(frame_index) < self.region_start + self.span:
            self.set_region_start(self.clip_around(frame_index))

    # -- model and results -------------------------------------------------------
    def set_model(self, status: ModelStatus) -> None:
        self.model = status
        self.modelChanged.emit(status)
        self.set_region_start(self.region_start, force=True)  # clip length or stride may differ

    def set_prediction(self, prediction: Prediction | None) -> None:
        self.prediction = prediction
        self.selection = None
        self.predictionChanged.emit(prediction)
        self.selectionChanged.emit(None)

    def set_timeline(self, timeline: VideoPrediction | None) -> None:
        self.timeline = timeline
        self.timelineChanged.emit(timeline)

    # -- drawing choices ------------------------------------------------------------
    def set_overlay(self, **changes: object) -> None:
        """Change some of ``enabled``, ``opacity``, ``kind``, ``layer``, ``head``."""
        choice_changes = {k: changes.pop(k) for k in ("kind", "layer", "head") if k in changes}
        overlay = replace(self.overlay, **changes)  # type: ignore[arg-type]
        if choice_changes:
            overlay = replace(overlay, choice=replace(overlay.choice, **choice_changes))  # type: ignore[arg-type]
        if overlay != self.overlay:
            self.overlay = overlay
            self.overlayChanged.emit(overlay)

    def set_selection(self, selection: TokenSelection | None) -> None:
        self.selection = selection
        self.selectionChanged.emit(selection)
