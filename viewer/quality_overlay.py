"""Flow inspection overlays: forward-backward inconsistency and warp error over a view.

The maps come with every :class:`~viewer.flow_controller.FlowFrame` (the flow
controller computes them in its worker); here they only become colour through
fixed-scale lookup tables (:mod:`core.export.heatmap`), a few milliseconds on
the GUI thread.  The inconsistency is measured at the flow's analysis size and
coloured in the video's pixels (its scale saturates at 2 px of the frame the
user sees, on a 1080p video as on a 240p one).  The choice of overlays is a small immutable
:class:`OverlayChoice`, so an export job renders exactly what the view shows
without reading the widgets.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QObject, Signal

from core.export.heatmap import QUALITY_SCALES, HeatScale, heat_rgba
from viewer.flow_controller import FlowController, FlowFrame
from viewer.settings import OVERLAY_TARGETS
from viewer.widgets.frame_view import FrameView

LAYER_PREFIX = "quality."
LAYER_Z = {"warp_error": 20.0, "inconsistency": 21.0}  # inconsistency on top: it is the sharper cue


@dataclass(frozen=True)
class OverlayChoice:
    """Which quality overlays are on, over which view ("flow" or "rgb"), how opaque."""

    names: tuple[str, ...] = ()
    target: str = "flow"
    opacity: float = 0.8

    @property
    def scales(self) -> list[HeatScale]:
        return [QUALITY_SCALES[name] for name in self.names]

    def layers(self, frame: FlowFrame, *, bake_opacity: bool = False) -> dict[str, np.ndarray]:
        """RGBA layers for one pair's maps, bottom first; ``bake_opacity`` puts the opacity into alpha (exports)."""
        maps = {"inconsistency": frame.inconsistency, "warp_error": frame.warp_error}
        opacity = self.opacity if bake_opacity else 1.0
        ordered = sorted(self.names, key=lambda name: LAYER_Z[name])
        to_unit = {"inconsistency": frame.video_pixels, "warp_error": 1.0}  # a length at the analysis size; grey levels
        return {name: heat_rgba(maps[name], QUALITY_SCALES[name], opacity=opacity, to_scale_unit=to_unit[name]) for name in ordered}


class QualityOverlayController(QObject):
    changed = Signal(object)  # the new OverlayChoice

    def __init__(self, flow: FlowController, views: dict[str, FrameView], parent: QObject | None = None) -> None:
        super().__init__(parent)
        if set(views) != set(OVERLAY_TARGETS):
            raise ValueError(f"views must be given for {OVERLAY_TARGETS}, got {sorted(views)}")
        self.flow, self.views = flow, views
        self.choice = OverlayChoice()
        self.shown_pair: int | None = None
        self.drawable = True  # False while the video has no flow at all (one frame): the legend then keys nothing
        flow.flowReady.connect(self._flow_ready)
        flow.flowPending.connect(lambda _pair: self._clear())
        flow.flowUnavailable.connect(lambda _reason: self._flow_unavailable())

    # -- choices ----------------------------------------------------------------
    def set_enabled(self, name: str, enabled: bool) -> None:
        if name not in QUALITY_SCALES:
            raise ValueError(f"unknown quality overlay {name!r}: choose from {', '.join(QUALITY_SCALES)}")
        names = [n for n in QUALITY_SCALES if (n == name and enabled) or (n != name and n in self.choice.names)]
        self._update(OverlayChoice(tuple(names), self.choice.target, self.choice.opacity))

    def set_target(self, target: str) -> None:
        if target not in OVERLAY_TARGETS:
            raise ValueError(f"overlay target must be one of {OVERLAY_TARGETS}, got {target!r}")
        self._update(OverlayChoice(self.choice.names, target, self.choice.opacity))

    def set_opacity(self, opacity: float) -> None:
        opacity = min(max(float(opacity), 0.0), 1.0)
        if opacity != self.choice.opacity:
            self.choice = OverlayChoice(self.choice.names, self.choice.target, opacity)
            for view in self.views.values():
                for name in QUALITY_SCALES:
                    view.set_overlay_opacity(LAYER_PREFIX + name, opacity)
            self.changed.emit(self.choice)

    def _update(self, choice: OverlayChoice) -> None:
        if choice == self.choice:
            return
        self.choice = choice
        current = self.flow.shown()  # quality maps do not depend on the colours
        if current is None:
            self._clear()
        else:
            self._show(current)
        self.changed.emit(choice)

    # -- drawing ----------------------------------------------------------------
    def _flow_ready(self, frame: FlowFrame) -> None:
        self._show(frame)
        self._set_drawable(True)

    def _flow_unavailable(self) -> None:
        self._clear()
        self._set_drawable(False)

    def _set_drawable(self, drawable: bool) -> None:
        if drawable != self.drawable:
            self.drawable = drawable
            self.changed.emit(self.choice)

    def _show(self, frame: FlowFrame) -> None:
        layers = self.choice.layers(frame)
        for target, view in self.views.items():
            for name in QUALITY_SCALES:
                rgba = layers.get(name) if target == self.choice.target else None
                view.set_overlay(LAYER_PREFIX + name, rgba, opacity=self.choice.opacity, z=LAYER_Z[name])
        self.shown_pair = frame.pair if layers else None

    def _clear(self) -> None:
        for view in self.views.values():
            for name in QUALITY_SCALES:
                view.set_overlay(LAYER_PREFIX + name, None)
        self.shown_pair = None
