"""Attention maps as RGBA layers in frame pixels (numpy only, no Qt: export can use it too).

A heat map covers the model's centre crop token by token.  Rather than
resampling a float map to the frame and colouring every pixel (about 25 ms
for a 720p frame, too slow for scrubbing on the GUI thread), each token's
colour is looked up once and spread over the frame with two index arrays
(which token row covers frame row y, which token column covers frame column
x): about 1 ms at 720p.  The index arrays follow the exact continuous mapping
of :class:`core.sampling.CropMap` (a pixel belongs to the token its centre
falls in), so a heat map lands on the same pixels as
:func:`core.models.transformer.attention_map.heatmap_for_frame`.

Colours are scaled per clip (the whole ``(T', H', W')`` volume), never per
frame, so the same attention has the same colour on every frame of the clip.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence

import cv2
import numpy as np

from core.models.transformer.attention_map import slices_for_frame
from core.models.shared.cam_maps import CAM_KINDS, CamMaps
from core.models.transformer.explain import MAP_KINDS, AttentionMaps
from core.models.transformer.layout import FLOW, RGB
from core.sampling import CropMap

BOX_COLOURS = {RGB: (0, 230, 255), FLOW: (255, 64, 255)}
CAM_KIND = CAM_KINDS[0]
ALL_KINDS = MAP_KINDS + CAM_KINDS  # the transformer's attention kinds, then the ConvNet families' CAM
FAMILY_REPFLOW = "repflow"


def map_kinds(maps: AttentionMaps | CamMaps | None) -> tuple[str, ...]:
    """The kinds a prediction's maps can draw (the transformer's before any prediction)."""
    return CAM_KINDS if isinstance(maps, CamMaps) else MAP_KINDS


def choice_for(maps: AttentionMaps | CamMaps, choice: "AttentionChoice") -> "AttentionChoice":
    """``choice`` if ``maps`` offer its kind, else the first kind they do (CAM for a ConvNet's maps)."""
    kinds = map_kinds(maps)
    return choice if choice.kind in kinds else AttentionChoice(kind=kinds[0])


@dataclass(frozen=True)
class AttentionChoice:
    """Which map to draw: ``kind`` of :data:`core.models.transformer.explain.MAP_KINDS`; ``layer`` and
    ``head`` (``None``: the mean over heads) apply to ``attention`` only."""

    kind: str = "attention"
    layer: int = -1
    head: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in ALL_KINDS:
            raise ValueError(f"unknown attention map kind {self.kind!r}: choose one of {', '.join(ALL_KINDS)}")

    def describe(self, maps: AttentionMaps | CamMaps) -> str:
        if isinstance(maps, CamMaps):
            return "class activation map (the class weights over the last convolutional features)"
        if self.kind != "attention":
            return f"{self.kind} over all {maps.num_layers} layers"
        layer = self.layer % maps.num_layers + 1
        head = "mean of heads" if self.head is None else f"head {self.head + 1}"
        return f"class-token attention, layer {layer}/{maps.num_layers}, {head}"


# A dark-purple -> red -> orange -> pale-yellow ramp (close to matplotlib's "inferno" at these
# stops): brightness rises monotonically, so it reads in grey too.  Interpolated here rather than
# taken from matplotlib, whose first import costs about a second on the GUI thread.
HEAT_STOPS = ((0.0, (0, 0, 4)), (0.25, (87, 16, 110)), (0.5, (188, 55, 84)), (0.75, (249, 142, 9)), (1.0, (252, 255, 164)))


@lru_cache(maxsize=1)
def heat_lut() -> np.ndarray:
    """A (256, 4) uint8 colour table whose alpha rises with the value: low attention stays see-through."""
    values = np.linspace(0.0, 1.0, 256)
    positions = [p for p, _ in HEAT_STOPS]
    table = np.empty((256, 4), np.float64)
    for channel in range(3):
        table[:, channel] = np.interp(values, positions, [c[channel] for _, c in HEAT_STOPS])
    table[:, 3] = 255.0 * np.clip(values * 1.25, 0.0, 1.0)
    return np.ascontiguousarray(np.rint(table), dtype=np.uint8)


def normalised_volume(volume: np.ndarray) -> np.ndarray:
    """``(T', H', W')`` scaled to [0, 1] by the clip's own minimum and maximum (a flat volume gives zeros)."""
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
def token_lookup(crop_map: CropMap, grid_height: int, grid_width: int) -> tuple[np.ndarray, np.ndarray]:
    """Per frame row and per frame column, the token row / column covering it (-1 outside the crop)."""

    def axis(length: int, scale: float, offset: int, cells: int) -> np.ndarray:
        centres = (np.arange(length, dtype=np.float64) + 0.5) * scale - offset  # crop pixel coordinates
        index = np.floor(centres * cells / crop_map.size).astype(np.int64)
        index[(centres < 0) | (centres >= crop_map.size)] = -1
        return index

    rows = axis(crop_map.src_height, crop_map.scale_y, crop_map.offset_y, grid_height)
    cols = axis(crop_map.src_width, crop_map.scale_x, crop_map.offset_x, grid_width)
    rows.setflags(write=False)
    cols.setflags(write=False)
    return rows, cols


def grid_rgba(grid01: np.ndarray, crop_map: CropMap, lut: np.ndarray | None = None) -> np.ndarray:
    """A ``(H', W')`` grid of values in [0, 1] coloured and spread over the frame: ``(src_h, src_w, 4)`` uint8."""
    grid01 = np.asarray(grid01, dtype=np.float32)
    if grid01.ndim != 2:
        raise ValueError(f"expected a (H', W') token grid, got shape {grid01.shape}")
    table = heat_lut() if lut is None else lut
    codes = np.rint(np.clip(np.nan_to_num(grid01), 0.0, 1.0) * 255.0).astype(np.uint8)
    coloured = np.zeros((grid01.shape[0] + 1, grid01.shape[1] + 1, 4), np.uint8)  # last row/column: transparent (index -1)
    coloured[:-1, :-1] = table[codes]
    rows, cols = token_lookup(crop_map, grid01.shape[0], grid01.shape[1])
    return np.ascontiguousarray(coloured.take(rows, axis=0).take(cols, axis=1))


def stream_volume(maps: AttentionMaps, stream: str, choice: AttentionChoice) -> np.ndarray:
    """The clip's ``(T', H', W')`` map for ``stream``, scaled to [0, 1] over the clip."""
    head = choice.head if choice.kind == "attention" else None
    return normalised_volume(maps.volume(stream, choice.kind, layer=choice.layer, head=head))


def attention_rgba(maps: AttentionMaps, stream: str, frame_index: int, choice: AttentionChoice, *, volume01: np.ndarray | None = None) -> np.ndarray | None:
    """The heat-map layer of ``stream`` over video frame ``frame_index``, or ``None`` when the
    frame is outside the classified clip.  ``volume01`` reuses :func:`stream_volume`'s result."""
    if maps.frame_indices is None or maps.crop_map is None:
        raise ValueError("these attention maps carry no frame mapping (inference sets it)")
    clip_frame = clip_frame_for(frame_index, maps.frame_indices)
    if clip_frame is None:
        return None
    volume = stream_volume(maps, stream, choice) if volume01 is None else volume01
    slices = slices_for_frame(clip_frame, maps.frame_indices, volume.shape[0])
    return grid_rgba(volume[slices].mean(axis=0), maps.crop_map)


def cam_stream_for_view(maps: CamMaps, view: str, family: str) -> str | None:
    """The CAM stream drawn on ``view`` (``rgb`` or ``flow``), or ``None``: each map goes on the
    view that shows what its stream looked at.

    A two-stream ConvNet's spatial stream saw RGB frames (the RGB view), its
    temporal stream stacked optical flow (the flow view).  A representation-flow
    model sees RGB frames only, so its map goes on the RGB view: the
    representation-flow stream's when it has one (the model's own motion), else
    its RGB stream's; the flow view shows optical flow the model never used.
    """
    if view not in (RGB, FLOW):
        raise ValueError(f"unknown view {view!r}: choose rgb or flow")
    if family == FAMILY_REPFLOW:
        if view != RGB:
            return None
        return FLOW if maps.flow is not None else (RGB if maps.rgb is not None else None)
    return view if (maps.rgb if view == RGB else maps.flow) is not None else None


def cam_volume(maps: CamMaps, stream: str) -> np.ndarray:
    """The clip's ``(S, h, w)`` CAM of ``stream``, scaled to [0, 1] over the clip (all its maps)."""
    return normalised_volume(maps.volume(stream, CAM_KIND))


def cam_rgba(maps: CamMaps, stream: str, frame_index: int, *, volume01: np.ndarray | None = None) -> np.ndarray | None:
    """The CAM layer of ``stream`` over video frame ``frame_index`` (the mean of the maps whose
    frames include it), or ``None`` outside the frames the stream saw.  Between two sampled
    frames (a frame stride above 1) the maps of the sampled frame before show."""
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
    return grid_rgba(volume[chosen].mean(axis=0), maps.crop_map)


class FrameHeat:
    """A frozen prediction's heat map for one view, frame by frame, with the opacity in its alpha:
    what an exported clip blends over each frame (the worker calls it; it only reads the immutable
    maps it was given, and works out each volume once).

    The flow view at video frame i shows the flow from i to i + 1 (the last frame shows the last
    pair), and the transformer's flow map for that pair belongs to frame i, as in the views.
    """

    def __init__(self, maps: AttentionMaps | CamMaps, view: str, *, family: str, choice: AttentionChoice, opacity: float, frame_count: int) -> None:
        if view not in (RGB, FLOW):
            raise ValueError(f"unknown view {view!r}: choose rgb or flow")
        if maps.crop_map is None:
            raise ValueError("these maps carry no frame mapping (inference sets it)")
        self.maps, self.view, self.frame_count = maps, view, int(frame_count)
        self.opacity = min(max(float(opacity), 0.0), 1.0)
        if isinstance(maps, CamMaps):
            self.stream = cam_stream_for_view(maps, view, family)
            self.choice = None
        else:
            self.stream = view if maps.layout.grid(view) is not None else None
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
        maps = self.maps
        if isinstance(maps, CamMaps):
            if self._volume is None:
                self._volume = cam_volume(maps, self.stream)
            layer = cam_rgba(maps, self.stream, index, volume01=self._volume)
        else:
            assert self.choice is not None
            if self._volume is None:
                self._volume = stream_volume(maps, self.stream, self.choice)
            layer = attention_rgba(maps, self.stream, index, self.choice, volume01=self._volume)
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
    layer = np.zeros((height, width, 4), np.uint8)
    for (x0, y0, x1, y1), colour, thickness in boxes:
        left, top = int(round(x0)), int(round(y0))
        right, bottom = max(int(round(x1)) - 1, left), max(int(round(y1)) - 1, top)
        for k in range(max(1, int(thickness))):
            if left + k > right - k or top + k > bottom - k:
                break
            cv2.rectangle(layer, (left + k, top + k), (right - k, bottom - k), (*colour, 255), thickness=1, lineType=cv2.LINE_8)
    return layer


def token_position(index: int, grid: tuple[int, int, int]) -> tuple[int, int, int]:
    """A stream's token number (time-major, as the fusion lays them out) as ``(t, row, col)``."""
    t_count, height, width = grid
    if not 0 <= index < t_count * height * width:
        raise ValueError(f"token {index} is outside a grid of {t_count}x{height}x{width} tokens")
    t, rest = divmod(int(index), height * width)
    row, col = divmod(rest, width)
    return t, row, col


# -- the cross-stream matrix -----------------------------------------------------------
GRANULARITIES = ("tokens", "time")


def other_stream(stream: str) -> str:
    if stream not in (RGB, FLOW):
        raise ValueError(f"unknown stream {stream!r}: choose rgb or flow")
    return FLOW if stream == RGB else RGB


def cross_matrix(maps: AttentionMaps, query: str, granularity: str, choice: AttentionChoice) -> np.ndarray:
    """Attention from ``query``'s tokens (rows) to the other stream's (columns) in the chosen layer/head.

    ``tokens``: the full ``(N_query, N_key)`` block; ``time``: summarised over
    space, ``(T', T')``, each entry the share of a query slice's attention that
    goes to a key slice.
    """
    key = other_stream(query)
    if granularity == "tokens":
        return np.asarray(maps.block(query, key, layer=choice.layer, head=choice.head), dtype=np.float32)
    if granularity == "time":
        return np.asarray(maps.cross_time(query, key, layer=choice.layer, head=choice.head), dtype=np.float32)
    raise ValueError(f"unknown granularity {granularity!r}: choose one of {', '.join(GRANULARITIES)}")


def cell_tokens(maps: AttentionMaps, query: str, granularity: str, row: int, col: int, choice: AttentionChoice) -> tuple[int, int, float]:
    """The query and key token numbers a matrix cell stands for, and the attention between them.

    A ``time`` cell stands for its strongest token pair: the two slices' block's maximum.
    """
    key = other_stream(query)
    q_grid, k_grid = maps.layout.grid(query), maps.layout.grid(key)
    if q_grid is None or k_grid is None:
        raise ValueError(f"variant {maps.layout.variant!r} has no cross-stream attention")
    block = np.asarray(maps.block(query, key, layer=choice.layer, head=choice.head), dtype=np.float32)
    if granularity == "tokens":
        if not (0 <= row < block.shape[0] and 0 <= col < block.shape[1]):
            raise ValueError(f"cell ({row}, {col}) is outside the {block.shape[0]}x{block.shape[1]} matrix")
        return int(row), int(col), float(block[row, col])
    q_per, k_per = q_grid[1] * q_grid[2], k_grid[1] * k_grid[2]
    if not (0 <= row < q_grid[0] and 0 <= col < k_grid[0]):
        raise ValueError(f"cell ({row}, {col}) is outside the {q_grid[0]}x{k_grid[0]} time matrix")
    sub = block[row * q_per : (row + 1) * q_per, col * k_per : (col + 1) * k_per]
    i, j = np.unravel_index(int(np.argmax(sub)), sub.shape)
    return int(row * q_per + i), int(col * k_per + j), float(sub[i, j])


def slice_frames(maps: AttentionMaps, t: int) -> tuple[int, ...]:
    """The video frames time slice ``t`` of the clip was made from."""
    from core.sampling import time_slice_frames

    if maps.frame_indices is None:
        raise ValueError("these attention maps carry no frame mapping (inference sets it)")
    return time_slice_frames(maps.frame_indices, maps.grid_shape[0])[t]


def describe_token(maps: AttentionMaps, stream: str, token: int) -> str:
    grid = maps.layout.grid(stream)
    assert grid is not None
    t, row, col = token_position(token, grid)
    frames = slice_frames(maps, t)
    name = "RGB" if stream == RGB else "flow"
    return f"{name} token {token} (slice {t}: frames {frames[0]}-{frames[-1]}; row {row}, col {col})"


def describe_cell(maps: AttentionMaps, query: str, granularity: str, row: int, col: int, value: float) -> str:
    """Hover text for a matrix cell."""
    key = other_stream(query)
    if granularity == "tokens":
        return f"{describe_token(maps, query, row)}\n→ {describe_token(maps, key, col)}\nattention {value:.4f}"
    q_frames, k_frames = slice_frames(maps, row), slice_frames(maps, col)
    names = {RGB: "RGB", FLOW: "flow"}
    return (
        f"{names[query]} slice {row} (frames {q_frames[0]}-{q_frames[-1]})\n→ {names[key]} slice {col} (frames {k_frames[0]}-{k_frames[-1]})\n"
        f"share of attention {value:.4f} (click: its strongest token pair)"
    )
