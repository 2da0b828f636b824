"""Attention drawn on both frame views, for the frames of the classified clip only.

Listens to the classify state (prediction, drawing choices, the selected
token pair) and to the frames the views show, and sets two named layers on
each :class:`~viewer.widgets.frame_view.FrameView`: the heat map and the
selected token's box.  The RGB view gets the class token's attention over the
RGB tokens, the flow view over the flow tokens (flow image k of the clip is
the flow from clip frame k to the next, which the flow view shows at frame k).
Heat maps are built in frame pixels in about a millisecond
(:mod:`viewer.attention_render`), so this stays on the GUI thread.

A ConvNet-family prediction carries class activation maps instead
(:class:`core.models.shared.cam_maps.CamMaps`): the spatial stream's on the
RGB view, the temporal stream's on the flow view, and a representation-flow
model's (it sees RGB only) on the RGB view; no token boxes.
"""

from __future__ import annotations

import dataclasses

from PySide6.QtCore import QObject

from core.inference import Prediction
from core.models.shared.cam_maps import CamMaps
from core.models.transformer.layout import FLOW, RGB
from viewer.attention_render import (
    BOX_COLOURS,
    AttentionChoice,
    FrameHeat,
    attention_rgba,
    box_rgba,
    cam_rgba,
    cam_stream_for_view,
    cam_volume,
    choice_for,
    clip_frame_for,
    slice_frames,
    stream_volume,
    token_position,
)
from viewer.classify_state import ClassifyState, OverlaySettings, TokenSelection
from viewer.state import ViewerState
from viewer.widgets.frame_view import FrameView

HEAT_LAYER = "attention"
BOX_LAYER = "attention-token"
HEAT_Z, BOX_Z = 20.0, 30.0


class AttentionOverlays(QObject):
    def __init__(self, state: ViewerState, classify_state: ClassifyState, views: dict[str, FrameView], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.state, self.classify_state, self.views = state, classify_state, views
        self.shown: dict[str, int | None] = {RGB: None, FLOW: None}  # the frame each view shows
        self._volumes: dict[tuple[int, str, AttentionChoice | None], object] = {}
        classify_state.predictionChanged.connect(self._on_prediction)
        self._drawn = classify_state.overlay
        classify_state.overlayChanged.connect(self._on_overlay)
        classify_state.selectionChanged.connect(self._on_selection)

    # -- what the views show ---------------------------------------------------------------
    def rgb_frame_shown(self, index: int, _frame: object = None) -> None:
        self.shown[RGB] = int(index)
        self._refresh_stream(RGB)

    def flow_pair_shown(self, pair: int) -> None:
        self.shown[FLOW] = int(pair)
        self._refresh_stream(FLOW)

    def _on_overlay(self, overlay: OverlaySettings) -> None:
        if dataclasses.replace(overlay, opacity=self._drawn.opacity) == self._drawn:  # the slider alone: no new pixels
            for view in self.views.values():
                view.set_overlay_opacity(HEAT_LAYER, overlay.opacity)
            self._drawn = overlay
            return
        self.refresh()

    def _on_prediction(self, _prediction: Prediction | None) -> None:
        self._volumes.clear()
        self.refresh()

    def _on_selection(self, selection: TokenSelection | None) -> None:
        prediction = self.classify_state.prediction
        if selection is not None and prediction is not None and prediction.attention is not None and not isinstance(prediction.attention, CamMaps):
            maps = prediction.attention
            query_token = selection.rgb_token if selection.query == RGB else selection.flow_token
            t, _row, _col = token_position(query_token, maps.grid_shape)
            self.state.set_frame(slice_frames(maps, t)[0])  # the views follow; their layers refresh on arrival
        self.refresh()

    # -- drawing ---------------------------------------------------------------------------------
    def refresh(self) -> None:
        self._drawn = self.classify_state.overlay
        for stream in (RGB, FLOW):
            self._refresh_stream(stream)

    def _refresh_stream(self, stream: str) -> None:
        view = self.views.get(stream)
        if view is None:
            return
        heat, box = self.layers_for(stream, self.shown[stream])
        overlay = self.classify_state.overlay
        view.set_overlay(HEAT_LAYER, heat, opacity=overlay.opacity, z=HEAT_Z)
        view.set_overlay(BOX_LAYER, box, opacity=1.0, z=BOX_Z)

    def layers_for(self, stream: str, frame_index: int | None):  # noqa: ANN201
        """The heat-map and box layers for ``stream`` at ``frame_index`` (``None`` where nothing is drawn)."""
        prediction = self.classify_state.prediction
        maps = None if prediction is None else prediction.attention
        if isinstance(maps, CamMaps):
            return self._cam_layer(maps, stream, frame_index), None
        if maps is None or frame_index is None or maps.layout.grid(stream) is None or maps.crop_map is None:
            return None, None
        if clip_frame_for(frame_index, maps.frame_indices or ()) is None:
            return None, None
        overlay = self.classify_state.overlay
        heat = None
        if overlay.enabled:
            choice = choice_for(maps, overlay.choice)
            key = (id(maps), stream, choice)
            volume = self._volumes.get(key)
            if volume is None:
                volume = self._volumes[key] = stream_volume(maps, stream, choice)
            heat = attention_rgba(maps, stream, frame_index, choice, volume01=volume)  # type: ignore[arg-type]
        return heat, self._box_layer(stream, frame_index)

    def _cam_layer(self, maps: CamMaps, view: str, frame_index: int | None):  # noqa: ANN202
        """The class activation map of the stream that ``view`` shows, or ``None``."""
        if frame_index is None or maps.crop_map is None or not self.classify_state.overlay.enabled:
            return None
        stream = cam_stream_for_view(maps, view, self.family)
        if stream is None:
            return None
        key = (id(maps), stream, None)
        volume = self._volumes.get(key)
        if volume is None:
            volume = self._volumes[key] = cam_volume(maps, stream)
        return cam_rgba(maps, stream, frame_index, volume01=volume)  # type: ignore[arg-type]

    def export_snapshot(self, view: str):  # noqa: ANN201 - an export.OverlaySnapshot
        """For File > Export MP4: a function that, when an export starts, freezes the current
        prediction's maps and drawing choices for ``view`` (``None`` when the overlay is off or there
        is nothing to draw); the export's worker then renders each frame as the view would."""

        def snapshot() -> FrameHeat | None:
            prediction = self.classify_state.prediction
            overlay = self.classify_state.overlay
            if prediction is None or prediction.attention is None or not overlay.enabled:
                return None
            heat = FrameHeat(prediction.attention, view, family=self.family, choice=overlay.choice, opacity=overlay.opacity, frame_count=self.state.frame_count)
            return heat if heat.draws else None

        return snapshot

    @property
    def family(self) -> str:
        """The loaded model's family (a config without one is a transformer's)."""
        return str(getattr(self.classify_state.model.config, "family", "transformer"))

    def _box_layer(self, stream: str, frame_index: int):  # noqa: ANN202
        """The selected token's box: thick on the frames of its own time slice, thin on the others."""
        selection = self.classify_state.selection
        prediction = self.classify_state.prediction
        if selection is None or prediction is None or prediction.attention is None or isinstance(prediction.attention, CamMaps):
            return None
        maps = prediction.attention
        token = selection.rgb_token if stream == RGB else selection.flow_token
        t, row, col = token_position(token, maps.grid_shape)
        box = prediction.crop_map.token_box(row, col, maps.grid_shape[1], maps.grid_shape[2])
        crop = prediction.crop_map
        thickness = max(2, round(min(crop.src_height, crop.src_width) / 90))
        in_slice = clip_frame_for(frame_index, maps.frame_indices or ()) in slice_frames(maps, t)
        return box_rgba(crop.src_height, crop.src_width, [(box, BOX_COLOURS[stream], thickness if in_slice else 1)])
