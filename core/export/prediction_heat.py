"""A prediction's heat maps as RGBA layers in frame pixels: one colour table for every kind of map.

A prediction's heat maps (a transformer's attention, rollout or relevance over
its tokens; the ResNet families' class activation maps) share one colour table,
:func:`heat_lut`, and are scaled per clip (the whole volume), never per frame,
so the same attention has the same colour on every frame of the clip.  A map
covers the model's centre crop cell by cell.  Rather than resampling a float map
to the frame and colouring every pixel (about 25 ms for a 720p frame, too slow
for scrubbing on the GUI thread), each cell's colour is looked up once and
spread over the frame with two index arrays (which cell row covers frame row y,
which cell column covers frame column x): about 1 ms at 720p.  The index arrays
follow the exact continuous mapping of :class:`core.sampling.CropMap` (a pixel
belongs to the cell its centre falls in), so a heat map lands on the same pixels
as :func:`core.models.transformer.attention_map.heatmap_for_frame`.

Each type of maps has a renderer registered for it (:func:`heat_renderer` looks
it up by the maps' type, as napari looks up a layer's controls): which stream's
map goes on which view, the stream's volume scaled to [0, 1], and its layer over
one video frame.  Nothing here asks which model family made the maps.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Protocol, Sequence

import numpy as np

from core.export.heatmap import ramp

if TYPE_CHECKING:
    from core.sampling import CropMap

RGB, FLOW = "rgb", "flow"  # the two views, and the streams whose maps go on them

# A dark-purple -> red -> orange -> pale-yellow ramp (close to matplotlib's "inferno" at these
# stops): brightness rises monotonically, so it reads in grey too.  Interpolated here rather than
# taken from matplotlib, whose first import costs about a second on the GUI thread.
HEAT_STOPS = ((0.0, (0, 0, 4)), (0.25, (87, 16, 110)), (0.5, (188, 55, 84)), (0.75, (249, 142, 9)), (1.0, (252, 255, 164)))


@lru_cache(maxsize=1)
def heat_lut() -> np.ndarray:
    """The heat maps' (256, 4) uint8 colour table, whose alpha rises with the value: low attention
    stays see-through."""
    values = np.linspace(0.0, 1.0, 256)
    table = np.empty((256, 4), np.float64)
    table[:, :3] = ramp(HEAT_STOPS, values)
    table[:, 3] = 255.0 * np.clip(values * 1.25, 0.0, 1.0)
    return np.ascontiguousarray(np.rint(table), dtype=np.uint8)


@dataclass(frozen=True)
class AttentionChoice:
    """Which map to draw: ``kind``, one of the kinds some maps type carries (``maps.kinds``);
    ``layer`` and ``head`` (``None``: the mean over heads) choose per-layer attention, and are
    ignored by maps that have no layers."""

    kind: str = "attention"
    layer: int = -1
    head: int | None = None

    def __post_init__(self) -> None:
        kinds = known_map_kinds()
        if self.kind not in kinds:
            raise ValueError(f"unknown attention map kind {self.kind!r}: choose one of {', '.join(kinds)}")


def choice_for(maps: Any, choice: AttentionChoice) -> AttentionChoice:
    """``choice`` if ``maps`` carry its kind, else their first kind (a ConvNet's CAM, say)."""
    return choice if choice.kind in maps.kinds else AttentionChoice(kind=maps.kinds[0])


def normalised_volume(volume: np.ndarray) -> np.ndarray:
    """A volume (``(T', H', W')`` tokens or ``(S, h, w)`` maps) scaled to [0, 1] by the clip's own
    minimum and maximum (a flat volume gives zeros)."""
    volume = np.asarray(volume, dtype=np.float32)
    if volume.ndim != 3:
        raise ValueError(f"expected a (T', H', W') token volume, got shape {volume.shape}")
    finite = np.isfinite(volume)
    if not finite.any():
        return np.zeros_like(volume)
    lo, hi = float(volume[finite].min()), float(volume[finite].max())
    if hi - lo <= 1e-12:
        return np.zeros_like(volume)
    return np.where(finite, (volume - lo) / (hi - lo), 0.0).astype(np.float32)


def clip_frame_for(frame_index: int, clip_frame_indices: Sequence[int]) -> int | None:
    """The clip frame whose map frame ``frame_index`` shows, or ``None`` outside the clip.

    With a frame stride above 1 the frames between two sampled ones show the
    map of the sampled frame before them.
    """
    indices = [int(i) for i in clip_frame_indices]
    if not indices or not min(indices) <= int(frame_index) <= max(indices):
        return None
    if int(frame_index) in indices:
        return int(frame_index)
    return max(i for i in indices if i <= int(frame_index))


@lru_cache(maxsize=32)
def token_lookup(crop_map: "CropMap", grid_height: int, grid_width: int, cell: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per frame row and per frame column, the grid row / column covering it (-1 outside the crop).

    A mirrored crop (a flipped test view) showed the model frame column x at crop column
    ``size - x``, so its grid columns are looked up mirrored, as :meth:`CropMap.grid_to_source` does.
    ``cell``: a conv trunk's stride, whose cell i covers crop pixels ``[i * cell, (i + 1) * cell)``
    (:meth:`CropMap.cell_sizes`); ``None``: the grid tiles the crop evenly (a transformer's tokens)."""
    per_row, per_col = crop_map.cells_per_pixel(grid_height, grid_width, cell)

    def axis(length: int, scale: float, offset: int, cells: int, per_pixel: float, mirrored: bool) -> np.ndarray:
        centres = (np.arange(length, dtype=np.float64) + 0.5) * scale - offset  # crop pixel coordinates
        seen = crop_map.size - centres if mirrored else centres  # where the model saw them
        looked_up = seen * cells / crop_map.size if cell is None else seen * per_pixel  # the even tiling's, to the bit
        index = np.clip(np.floor(looked_up), 0, cells - 1).astype(np.int64)
        index[(centres < 0) | (centres >= crop_map.size)] = -1
        return index

    rows = axis(crop_map.src_height, crop_map.scale_y, crop_map.offset_y, grid_height, per_row, False)
    cols = axis(crop_map.src_width, crop_map.scale_x, crop_map.offset_x, grid_width, per_col, crop_map.flipped)
    rows.setflags(write=False)
    cols.setflags(write=False)
    return rows, cols


def grid_rgba(grid01: np.ndarray, crop_map: "CropMap", lut: np.ndarray | None = None, cell: int | None = None) -> np.ndarray:
    """A ``(H', W')`` grid of values in [0, 1] coloured and spread over the frame: ``(src_h, src_w, 4)`` uint8
    (``cell``: see :func:`token_lookup`)."""
    grid01 = np.asarray(grid01, dtype=np.float32)
    if grid01.ndim != 2:
        raise ValueError(f"expected a (H', W') token grid, got shape {grid01.shape}")
    table = heat_lut() if lut is None else lut
    codes = np.rint(np.clip(np.nan_to_num(grid01), 0.0, 1.0) * 255.0).astype(np.uint8)
    coloured = np.zeros((grid01.shape[0] + 1, grid01.shape[1] + 1, 4), np.uint8)  # last row/column: transparent (index -1)
    coloured[:-1, :-1] = table[codes]
    rows, cols = token_lookup(crop_map, grid01.shape[0], grid01.shape[1], cell)
    return np.ascontiguousarray(coloured.take(rows, axis=0).take(cols, axis=1))


def stream_volume(maps: Any, stream: str, choice: AttentionChoice) -> np.ndarray:
    """A transformer's ``(T', H', W')`` map of ``stream`` for ``choice``, scaled to [0, 1] over the clip
    (``layer`` and ``head`` matter to per-layer attention only; the maps ignore them otherwise)."""
    return normalised_volume(maps.volume(stream, choice.kind, layer=choice.layer, head=choice.head))


def attention_rgba(maps: Any, stream: str, frame_index: int, choice: AttentionChoice, *, volume01: np.ndarray | None = None) -> np.ndarray | None:
    """A transformer's heat-map layer of ``stream`` over video frame ``frame_index``, or ``None``
    when the frame is outside the classified clip.  ``volume01`` reuses :func:`stream_volume`'s result."""
    from core.models.transformer.attention_map import slices_for_frame  # loaded with the maps' own module

    if maps.frame_indices is None or maps.crop_map is None:
        raise ValueError("these attention maps carry no frame mapping (inference sets it)")
    clip_frame = clip_frame_for(frame_index, maps.frame_indices)
    if clip_frame is None:
        return None
    volume = stream_volume(maps, stream, choice) if volume01 is None else volume01
    slices = slices_for_frame(clip_frame, maps.frame_indices, volume.shape[0])
    return grid_rgba(volume[slices].mean(axis=0), maps.crop_map)


def cam_volume(maps: Any, stream: str, kind: str | None = None) -> np.ndarray:
    """Class activation maps' ``(S, h, w)`` volume of ``stream``, scaled to [0, 1] over the clip (all its maps)."""
    return normalised_volume(maps.volume(stream, kind or maps.kinds[0]))


def cam_rgba(maps: Any, stream: str, frame_index: int, *, volume01: np.ndarray | None = None) -> np.ndarray | None:
    """The class-activation layer of ``stream`` over video frame ``frame_index`` (the mean of the
    maps whose frames include it), or ``None`` outside the frames the stream saw.  Between two
    sampled frames (a frame stride above 1) the maps of the sampled frame before show."""
    if maps.crop_map is None:
        raise ValueError("these class activation maps carry no frame mapping (inference sets it)")
    groups = maps.rgb_frames if stream == RGB else maps.flow_frames
    covered = sorted({i for group in groups or () for i in group})
    clip_frame = clip_frame_for(frame_index, covered)
    if clip_frame is None:
        return None
    chosen = maps.maps_for_frame(stream, clip_frame)
    if not chosen:
        return None
    volume = cam_volume(maps, stream) if volume01 is None else volume01
    return grid_rgba(volume[chosen].mean(axis=0), maps.crop_map, cell=getattr(maps, "cell_size", None))


def _check_view(view: str) -> None:
    if view not in (RGB, FLOW):
        raise ValueError(f"unknown view {view!r}: choose rgb or flow")


class HeatRenderer(Protocol):
    """How one type of maps becomes layers in frame pixels."""

    def stream_for_view(self, maps: Any, view: str) -> str | None:
        """The stream whose map goes on ``view`` (``rgb`` or ``flow``), or ``None``."""

    def volume01(self, maps: Any, stream: str, choice: AttentionChoice) -> np.ndarray:
        """The stream's whole volume for ``choice``, scaled to [0, 1] over the clip."""

    def rgba(self, maps: Any, stream: str, frame_index: int, choice: AttentionChoice, *, volume01: np.ndarray | None = None) -> np.ndarray | None:
        """The stream's layer over video frame ``frame_index`` (``None`` outside the frames it saw)."""


class TokenHeat:
    """A transformer's maps (:class:`~core.models.transformer.explain.AttentionMaps`): a
    ``(T', H', W')`` token volume per stream, each stream on its own view."""

    def stream_for_view(self, maps: Any, view: str) -> str | None:
        _check_view(view)
        return view if maps.layout.grid(view) is not None else None

    def volume01(self, maps: Any, stream: str, choice: AttentionChoice) -> np.ndarray:
        return stream_volume(maps, stream, choice)

    def rgba(self, maps: Any, stream: str, frame_index: int, choice: AttentionChoice, *, volume01: np.ndarray | None = None) -> np.ndarray | None:
        return attention_rgba(maps, stream, frame_index, choice, volume01=volume01)


class CamHeat:
    """Class activation maps (:class:`~core.models.shared.cam_maps.CamMaps`): an ``(S, h, w)``
    volume per stream, on the view the maps name (a representation-flow model's flow-layer
    maps go on the RGB view: it saw RGB frames only)."""

    def stream_for_view(self, maps: Any, view: str) -> str | None:
        return maps.stream_for_view(view)

    def volume01(self, maps: Any, stream: str, choice: AttentionChoice) -> np.ndarray:
        return cam_volume(maps, stream, choice.kind)

    def rgba(self, maps: Any, stream: str, frame_index: int, choice: AttentionChoice, *, volume01: np.ndarray | None = None) -> np.ndarray | None:
        return cam_rgba(maps, stream, frame_index, volume01=volume01)


_RENDERERS: dict[type, HeatRenderer] = {}
_BUILTIN_RENDERERS: list[bool] = []  # set once the transformer's and the ResNet families' maps are registered


def register_heat_renderer(maps_type: type, renderer: HeatRenderer) -> None:
    """Draw maps of ``maps_type`` (with class attributes ``kinds`` and ``class_kinds``) with ``renderer``."""
    _register_builtin_renderers()
    _RENDERERS[maps_type] = renderer


def _register_builtin_renderers() -> None:
    """Registered on first use, not on import: the maps' modules load torch, which exporting flow never needs."""
    if _BUILTIN_RENDERERS:
        return
    from core.models.shared.cam_maps import CamMaps
    from core.models.transformer.explain import AttentionMaps

    _RENDERERS.setdefault(AttentionMaps, TokenHeat())
    _RENDERERS.setdefault(CamMaps, CamHeat())
    _BUILTIN_RENDERERS.append(True)


def heat_renderer(maps: Any) -> HeatRenderer:
    """The renderer registered for the type of ``maps`` (or for its nearest registered base class)."""
    _register_builtin_renderers()
    for cls in type(maps).__mro__:
        renderer = _RENDERERS.get(cls)
        if renderer is not None:
            return renderer
    raise TypeError(f"no heat-map renderer for {type(maps).__name__}: registered {', '.join(t.__name__ for t in _RENDERERS)}")


def known_map_kinds() -> tuple[str, ...]:
    """Every kind a registered maps type carries, in registration order."""
    _register_builtin_renderers()
    return tuple(dict.fromkeys(kind for maps_type in _RENDERERS for kind in maps_type.kinds))


class FrameHeat:
    """A frozen prediction's heat map for one view, frame by frame, with the opacity in its alpha:
    what an exported clip blends over each frame (the worker calls it; it only reads the immutable
    maps it was given, and works out the volume once).

    The flow view at video frame i shows the flow from i to i + 1 (the last frame shows the last
    pair), and the transformer's flow map for that pair belongs to frame i, as in the views.
    """

    def __init__(self, maps: Any, view: str, *, choice: AttentionChoice, opacity: float, frame_count: int) -> None:
        _check_view(view)
        if maps.crop_map is None:
            raise ValueError("these maps carry no frame mapping (inference sets it)")
        self.maps, self.view, self.frame_count = maps, view, int(frame_count)
        self.opacity = min(max(float(opacity), 0.0), 1.0)
        self.renderer = heat_renderer(maps)
        self.stream = self.renderer.stream_for_view(maps, view)
        self.choice = choice_for(maps, choice)
        self._volume: np.ndarray | None = None

    @property
    def draws(self) -> bool:
        """False when this view shows nothing of these maps (a stream the model lacks)."""
        return self.stream is not None

    def __call__(self, frame_index: int) -> np.ndarray | None:
        if self.stream is None:
            return None
        index = int(frame_index)
        if self.view == FLOW:
            index = min(index, max(0, self.frame_count - 2))  # the pair the flow view shows
        if self._volume is None:
            self._volume = self.renderer.volume01(self.maps, self.stream, self.choice)
        layer = self.renderer.rgba(self.maps, self.stream, index, self.choice, volume01=self._volume)
        if layer is None:
            return None
        if self.opacity < 1.0:
            layer = layer.copy()
            layer[..., 3] = np.rint(layer[..., 3] * np.float32(self.opacity)).astype(np.uint8)
        return layer


def box_rgba(height: int, width: int, boxes: Sequence[tuple[tuple[float, float, float, float], tuple[int, int, int], int]]) -> np.ndarray:
    """A transparent ``(height, width, 4)`` layer with rectangle outlines ``((x0, y0, x1, y1), rgb, thickness)``.

    Boxes are in pixel-edge coordinates (``x1`` is the right edge), as
    :meth:`core.sampling.CropMap.token_box` gives them; thick outlines grow
    inwards, so the outline never covers a neighbouring token.
    """
    import cv2

    layer = np.zeros((height, width, 4), np.uint8)
    for (x0, y0, x1, y1), colour, thickness in boxes:
        left, top = int(round(x0)), int(round(y0))
        right, bottom = max(int(round(x1)) - 1, left), max(int(round(y1)) - 1, top)
        for k in range(max(1, int(thickness))):
            if left + k > right - k or top + k > bottom - k:
                break
            cv2.rectangle(layer, (left + k, top + k), (right - k, bottom - k), (*colour, 255), thickness=1, lineType=cv2.LINE_8)
    return layer
