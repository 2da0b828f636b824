"""Heat maps drawn on both frame views, for the frames of the classified clip only.

Listens to the classify state (prediction, drawing choices, the selected
token pair) and to the frames the views show, and sets two named layers on
each :class:`~viewer.widgets.frame_view.FrameView`: the heat map and the
selected token's box.  Which stream's map goes on which view, and how it
becomes pixels, is the business of the renderer core registers for the maps'
type (:func:`core.export.prediction_heat.heat_renderer`): a transformer's RGB-token
attention on the RGB view and its flow-token attention on the flow view (flow
image k of the clip is the flow from clip frame k to the next, which the flow
view shows at frame k); a two-stream ConvNet's spatial and temporal class
activation maps on their own views; a representation-flow model's (it sees RGB
only) on the RGB view.  Heat maps are built in frame pixels in about a
millisecond, so this stays on the GUI thread.  Token boxes exist only for maps
with a cross-stream matrix, where a token pair can be selected.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Sequence

import numpy as np
from PySide6.QtCore import QObject, Signal

from core.export.legend import LegendEntry, map_entries
from core.export.prediction_heat import FLOW, RGB, AttentionChoice, FrameHeat, box_rgba, choice_for, clip_frame_for, heat_renderer
from core.sampling import CropMap, crop_map
from core.inference import Prediction
from viewer.classify.cross_stream import slice_frames, token_position
from viewer.classify.maps_panels import has_cross_stream
from viewer.classify.state import ClassifyState, OverlaySettings, TokenSelection
from viewer.staging import post_later
from viewer.state import ViewerState
from viewer.widgets.frame_view import FrameView

HEAT_LAYER = "attention"
BOX_LAYER = "attention-token"
HEAT_Z, BOX_Z = 20.0, 30.0
BOX_COLOURS = {RGB: (0, 230, 255), FLOW: (255, 64, 255)}  # cyan and magenta, as the cross-stream panel names them


def keys_of(entries: list[LegendEntry]) -> list[tuple[str, str, str, str]]:
    """What a legend shows of its entries (their colours are fixed per kind): equal keys, nothing to redraw."""
    return [(e.label, e.low, e.high, e.unit) for e in entries]


def crop_note(crop: CropMap) -> str:
    return f"shaded: outside the model's {crop.size}x{crop.size} px centre crop (it never sees that part)"


class AttentionOverlays(QObject):
    legendChanged = Signal(object, str)  # list[LegendEntry] of the maps drawn, and the crop's note ("" without one)

    def __init__(self, state: ViewerState, classify_state: ClassifyState, views: dict[str, FrameView], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.state, self.classify_state, self.views = state, classify_state, views
        self.legend: list[LegendEntry] = []
        self.crop: CropMap | None = None
        self.shown: dict[str, int | None] = {RGB: None, FLOW: None}  # the frame each view shows
        self._volumes: dict[tuple[int, str, AttentionChoice], np.ndarray] = {}
        classify_state.predictionChanged.connect(self._on_prediction)
        self._drawn = classify_state.overlay
        classify_state.overlayChanged.connect(self._on_overlay)
        classify_state.selectionChanged.connect(self._on_selection)
        classify_state.modelChanged.connect(lambda _status: self.update_keys())
        state.videoChanged.connect(lambda _info: self.update_keys())

    # -- what the views show ---------------------------------------------------------------
    def rgb_frame_shown(self, index: int, _frame: object = None) -> None:
        self.shown[RGB] = int(index)
        self._refresh_view(RGB)

    def flow_pair_shown(self, pair: int) -> None:
        self.shown[FLOW] = int(pair)
        self._refresh_view(FLOW)

    def flow_pair_cleared(self) -> None:
        """The flow view emptied (its pair's flow still computing, or none at all): the map of the pair it
        showed goes with it, or it would sit over the empty view as if it were the new pair's."""
        self.shown[FLOW] = None
        self._refresh_view(FLOW)

    def _on_overlay(self, overlay: OverlaySettings) -> None:
        if dataclasses.replace(overlay, opacity=self._drawn.opacity) == self._drawn:  # the slider alone: no new pixels
            for view in self.views.values():
                view.set_overlay_opacity(HEAT_LAYER, overlay.opacity)
            self._drawn = overlay
            return
        self.refresh()
        self.update_keys()

    def _on_prediction(self, _prediction: Prediction | None) -> None:
        """The old maps go at once; the new ones are coloured in the next turn (after this turn's paint:
        see :mod:`viewer.staging`), reading whatever prediction is current by then."""
        self._volumes.clear()
        for view in self.views.values():
            view.set_overlay(HEAT_LAYER, None)
            view.set_overlay(BOX_LAYER, None)
        post_later(self, "maps", self._draw_prediction)

    def _draw_prediction(self) -> None:
        self.refresh()
        self.update_keys()

    def _on_selection(self, selection: TokenSelection | None) -> None:
        maps = self._maps()
        if selection is not None and has_cross_stream(maps):
            query_token = selection.rgb_token if selection.query == RGB else selection.flow_token
            t, _row, _col = token_position(query_token, maps.grid_shape)
            self.state.set_frame(slice_frames(maps, t)[0])  # the views follow; their layers refresh on arrival
        self.refresh()

    def _maps(self) -> Any:
        prediction = self.classify_state.prediction
        return None if prediction is None else prediction.attention

    # -- drawing ---------------------------------------------------------------------------------
    def refresh(self) -> None:
        self._drawn = self.classify_state.overlay
        for view in (RGB, FLOW):
            self._refresh_view(view)

    def model_crop(self) -> CropMap | None:
        """The crop the model sees: the prediction's own, else the chosen model's input size on this video."""
        maps = self._maps()
        if maps is not None and maps.crop_map is not None:
            return maps.crop_map
        config, info = self.classify_state.model.config, self.state.info
        size = int(getattr(config, "input_size", 0) or 0)
        if size <= 0 or info is None or info.width < 1 or info.height < 1:
            return None
        return crop_map(info.height, info.width, size)

    def update_keys(self) -> None:
        """The legend's keys of the maps drawn, and the crop's shaded border on both views
        (both follow the "Show" box: hidden maps need no key, nor do frames outside the classified clip,
        where no map is drawn)."""
        legend = self.legend_for([index for index in self.shown.values() if index is not None])
        crop = self.model_crop() if self.classify_state.overlay.enabled else None
        if (keys_of(legend), crop) == (keys_of(self.legend), self.crop):
            return  # nothing shown changed (a repeated selection or prediction): no relabelling, no relayout
        self.legend, self.crop = legend, crop
        region = None
        if crop is not None:
            x0, y0, x1, y1 = crop.source_box()
            region = (x0 / crop.src_width, y0 / crop.src_height, x1 / crop.src_width, y1 / crop.src_height)
        for view in self.views.values():
            view.set_region_mark(region, "" if crop is None else crop_note(crop))
        self.legendChanged.emit(self.legend, "" if crop is None else crop_note(crop))

    def legend_for(self, frames: Sequence[int]) -> list:
        """The keys of the maps drawn on any of ``frames`` (the views', or an export's): none when the maps are
        hidden or the frames lie outside the classified clip."""
        maps, overlay = self._maps(), self.classify_state.overlay
        drawn = maps is not None and maps.crop_map is not None and overlay.enabled and any(
            clip_frame_for(index, maps.frame_indices or ()) is not None for index in frames)
        return map_entries(maps, overlay.choice) if drawn else []

    def _refresh_view(self, view_name: str) -> None:
        view = self.views.get(view_name)
        if view is None:
            return
        heat, box = self.layers_for(view_name, self.shown[view_name])
        overlay = self.classify_state.overlay
        view.set_overlay(HEAT_LAYER, heat, opacity=overlay.opacity, z=HEAT_Z)
        view.set_overlay(BOX_LAYER, box, opacity=1.0, z=BOX_Z)
        self.update_keys()  # into or out of the classified clip: its keys come and go with its maps

    def layers_for(self, view: str, frame_index: int | None) -> tuple[np.ndarray | None, np.ndarray | None]:
        """The heat-map and box layers for ``view`` at ``frame_index`` (``None`` where nothing is drawn)."""
        maps = self._maps()
        if maps is None or frame_index is None or maps.crop_map is None:
            return None, None
        if clip_frame_for(frame_index, maps.frame_indices or ()) is None:
            return None, None
        return self._heat_layer(maps, view, frame_index), self._box_layer(maps, view, frame_index)

    def _heat_layer(self, maps: Any, view: str, frame_index: int) -> np.ndarray | None:
        """The map of the stream ``view`` shows, coloured over the clip's scale (volumes kept per choice)."""
        if not self.classify_state.overlay.enabled:
            return None
        renderer = heat_renderer(maps)
        stream = renderer.stream_for_view(maps, view)
        if stream is None:
            return None
        choice = choice_for(maps, self.classify_state.overlay.choice)
        key = (id(maps), stream, choice)
        volume = self._volumes.get(key)
        if volume is None:
            volume = self._volumes[key] = renderer.volume01(maps, stream, choice)
        return renderer.rgba(maps, stream, frame_index, choice, volume01=volume)

    def export_snapshot(self, view: str) -> Callable[[], FrameHeat | None]:
        """For File > Export MP4: a function that, when an export starts, freezes the current
        prediction's maps and drawing choices for ``view`` (``None`` when the overlay is off or there
        is nothing to draw); the export's worker then renders each frame as the view would."""

        def snapshot() -> FrameHeat | None:
            maps = self._maps()
            overlay = self.classify_state.overlay
            if maps is None or not overlay.enabled:
                return None
            heat = FrameHeat(maps, view, choice=overlay.choice, opacity=overlay.opacity, frame_count=self.state.frame_count)
            return heat if heat.draws else None

        return snapshot

    def _box_layer(self, maps: Any, view: str, frame_index: int) -> np.ndarray | None:
        return token_box_layer(maps, self.classify_state.selection, view, frame_index)

    def export_box_snapshot(self, view: str) -> Callable[[], Callable[[int], np.ndarray | None] | None]:
        """For File > Export MP4: the selected token pair's box on ``view``, frozen when the export starts
        (``None``: no pair selected), drawn on the frames the views draw it on."""

        def snapshot() -> Callable[[int], np.ndarray | None] | None:
            maps, selection, frame_count = self._maps(), self.classify_state.selection, self.state.frame_count
            if maps is None or maps.crop_map is None or selection is None or not has_cross_stream(maps):
                return None

            def layer(frame_index: int) -> np.ndarray | None:
                index = min(int(frame_index), max(0, frame_count - 2)) if view == FLOW else int(frame_index)  # the pair shown
                return token_box_layer(maps, selection, view, index)

            return layer

        return snapshot


def token_box_layer(maps: Any, selection: TokenSelection | None, view: str, frame_index: int) -> np.ndarray | None:
    """The selected token's box on ``view`` at ``frame_index``, on the frames its time slice covers and no others:
    the panel's readout names those frames, and a box elsewhere would point at a token the model never saw there
    (a flow token of frames 8-9 boxed on frame 6's flow)."""
    if selection is None or maps.crop_map is None or not has_cross_stream(maps):
        return None
    token = selection.rgb_token if view == RGB else selection.flow_token
    t, row, col = token_position(token, maps.grid_shape)
    clip_frame = clip_frame_for(frame_index, maps.frame_indices or ())
    if clip_frame is None or clip_frame not in slice_frames(maps, t):
        return None
    crop = maps.crop_map
    box = crop.token_box(row, col, maps.grid_shape[1], maps.grid_shape[2])
    thickness = max(2, round(min(crop.src_height, crop.src_width) / 90))
    return box_rgba(crop.src_height, crop.src_width, [(box, BOX_COLOURS[view], thickness)])
