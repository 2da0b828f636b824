"""Which frames make a clip, and how model-input pixels map back to frame pixels.

Clips follow the seeds: T frames (default 16) at a stride from a start frame;
K clips spread uniformly over the video (TSN) for video-level prediction, or
clips at several temporal strides (seed 003, :func:`strided_clips`); the
shorter side resized to the model's input size, then a centre crop.  Test-time
views (:class:`CropView`) may instead crop a corner of a larger resize, mirrored
or not; ConvNet training may crop anywhere in a larger resize (:func:`resize_for_crops`,
:func:`crop_offsets`).  The :class:`CropMap` keeps the way back to original frame
pixels, which the attention overlays need.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np

DEFAULT_CLIP_LENGTH = 16
DEFAULT_INPUT_SIZE = 224
CENTRE = 0.5  # crop position along the longer side: inference and training's view 0
THREE_CROPS = (0.0, CENTRE, 1.0)  # the multi-view test protocol of MViTv2 and Swin: start, centre, end of the longer side
CROP_ROOM_SCALE = 256 / 224  # room for crops: Simonyan & Zisserman train and test on 224 crops of frames whose shorter side is 256


@dataclass(frozen=True)
class ClipIndices:
    """Frame indices of one clip; ``padded`` counts trailing repeats of the last frame."""

    start: int
    stride: int
    indices: tuple[int, ...]
    padded: int

    @property
    def span(self) -> int:
        """Frames covered from the first index to the last, inclusive."""
        return self.indices[-1] - self.indices[0] + 1


def clip_span(length: int, stride: int) -> int:
    return (length - 1) * stride + 1


def _check_clip_args(num_frames: int, length: int, stride: int) -> None:
    if num_frames < 1:
        raise ValueError(f"a video needs at least one frame, got num_frames={num_frames}")
    if length < 1 or stride < 1:
        raise ValueError(f"clip length and stride must be >= 1, got length={length}, stride={stride}")


def clip_indices(start: int, num_frames: int, length: int = DEFAULT_CLIP_LENGTH, stride: int = 1) -> ClipIndices:
    """``length`` frames from ``start`` every ``stride``; past the end, repeat the last frame.

    A video shorter than one clip is padded this way; ``padded`` says by how
    many frames so callers can tell the user.
    """
    _check_clip_args(num_frames, length, stride)
    if not 0 <= start < num_frames:
        raise ValueError(f"clip start {start} is outside the video's {num_frames} frames")
    raw = start + stride * np.arange(length)
    padded = int(np.count_nonzero(raw >= num_frames))
    indices = np.minimum(raw, num_frames - 1)
    return ClipIndices(start=start, stride=stride, indices=tuple(int(i) for i in indices), padded=padded)


def uniform_clip_starts(num_frames: int, num_clips: int, length: int = DEFAULT_CLIP_LENGTH, stride: int = 1) -> list[int]:
    """Start frames of ``num_clips`` clips centred in equal segments of the video (TSN).

    When the video is shorter than a clip every start is 0 (and the clip pads).
    """
    _check_clip_args(num_frames, length, stride)
    if num_clips < 1:
        raise ValueError(f"num_clips must be >= 1, got {num_clips}")
    room = num_frames - clip_span(length, stride)
    if room <= 0:
        return [0] * num_clips
    centres = (np.arange(num_clips) + 0.5) * (room + 1) / num_clips
    return [int(s) for s in np.clip(np.floor(centres), 0, room)]


def strided_clips(num_positions: int, length: int, strides: Sequence[int], clips_per_stride: int) -> list[tuple[int, ...]]:
    """Seed 003's multi-stride test clips over ``num_positions`` positions (frames, or snippet starts):
    for each stride in order, ``clips_per_stride`` clips of ``length`` positions that far apart, centred
    in equal segments (:func:`uniform_clip_starts`); past the end a clip repeats the last position
    (:func:`clip_indices`), as a clip longer than its video does."""
    return [clip_indices(start, num_positions, length, int(stride)).indices
            for stride in strides for start in uniform_clip_starts(num_positions, clips_per_stride, length, int(stride))]


def random_strided_clip(num_positions: int, length: int, strides: Sequence[int], rng: np.random.Generator) -> tuple[int, ...]:
    """One training clip of seed 003's multi-stride sampling: a stride drawn uniformly from ``strides``,
    then a start drawn uniformly among those where the whole clip fits (0 when none does: it repeats
    the last position), in that order from ``rng``."""
    if not strides:
        raise ValueError("multi-stride sampling needs at least one stride")
    stride = int(strides[int(rng.integers(len(strides)))])
    room = max(num_positions - clip_span(length, stride), 0)
    return clip_indices(int(rng.integers(0, room + 1)), num_positions, length, stride).indices


def sliding_window_starts(num_frames: int, length: int = DEFAULT_CLIP_LENGTH, stride: int = 1, step: int | None = None) -> list[int]:
    """Starts of windows every ``step`` frames (default: one clip span) covering the whole video."""
    _check_clip_args(num_frames, length, stride)
    span = clip_span(length, stride)
    step = span if step is None else step
    if step < 1:
        raise ValueError(f"window step must be >= 1, got {step}")
    last = max(num_frames - span, 0)
    starts = list(range(0, last + 1, step))
    if starts[-1] != last:
        starts.append(last)  # the tail of the video gets a window too
    return starts


def time_slice_frames(frame_indices: tuple[int, ...] | list[int], num_slices: int) -> list[tuple[int, ...]]:
    """The frames each of ``num_slices`` temporal token slices was made from.

    Video backbones downsample time by an integer factor (16 frames -> 8 slices),
    so slice t covers frames ``[t*T/T', (t+1)*T/T')`` of the clip.
    """
    count = len(frame_indices)
    if num_slices < 1 or num_slices > count:
        raise ValueError(f"cannot split {count} frames into {num_slices} time slices")
    bounds = np.linspace(0, count, num_slices + 1)
    return [tuple(frame_indices[int(round(a)) : int(round(b))]) for a, b in zip(bounds[:-1], bounds[1:])]


@dataclass(frozen=True)
class CropView:
    """Where one square crop of a test view sits, as Simonyan & Zisserman's ten crops need it.

    ``x`` and ``y`` place the square along each axis's spare pixels (0 left or top,
    0.5 centre, 1 right or bottom); ``scale``: the shorter side is resized to
    ``round(size * scale)`` first (1: to the crop size, so only the longer side has
    room); ``flip``: the crop is mirrored left to right.  A plain float position is
    ``CropView(p, p)``: the same place along the longer side, as it always was.
    """

    x: float = CENTRE
    y: float = CENTRE
    scale: float = 1.0
    flip: bool = False

    def __post_init__(self) -> None:
        if not (0.0 <= self.x <= 1.0 and 0.0 <= self.y <= 1.0):
            raise ValueError(f"crop position must be in [0, 1], got x={self.x}, y={self.y}")
        if not self.scale >= 1.0:
            raise ValueError(f"crop view scale must be >= 1 (the crop must fit in the resized frame), got {self.scale}")

    def describe(self) -> str:
        """A short name for messages: ``top-left``, ``centre``, ``bottom-right flipped``..."""
        place = _PLACES.get((self.x, self.y), f"x={self.x:g}, y={self.y:g}")
        return place + (" flipped" if self.flip else "")


_PLACES = {(0.0, 0.0): "top-left", (1.0, 0.0): "top-right", (0.0, 1.0): "bottom-left", (1.0, 1.0): "bottom-right", (CENTRE, CENTRE): "centre"}


def as_crop_view(position: float | CropView) -> CropView:
    """A float position along the longer side, or a :class:`CropView`, as a :class:`CropView`."""
    return position if isinstance(position, CropView) else CropView(float(position), float(position))


TEN_CROPS = tuple(  # Simonyan & Zisserman's test crops: four corners and the centre of a larger resize, each also mirrored
    CropView(x, y, CROP_ROOM_SCALE, flip) for x, y in _PLACES for flip in (False, True)
)


@dataclass(frozen=True)
class CropMap:
    """The resize-then-crop (and perhaps mirror) that made a model input, and its inverse.

    Coordinates are continuous pixel edges: the crop covers ``[0, size)`` on each
    axis and maps to ``source_box()`` in the original frame.  ``flipped``: the
    crop was mirrored left to right after cropping, so crop column x shows frame
    content from column ``size - x`` of the unmirrored crop (maps drawn on a
    flipped view land mirrored back on the frame).
    """

    src_height: int
    src_width: int
    resized_height: int
    resized_width: int
    size: int
    offset_x: int
    offset_y: int
    flipped: bool = False

    @property
    def scale_x(self) -> float:
        return self.resized_width / self.src_width

    @property
    def scale_y(self) -> float:
        return self.resized_height / self.src_height

    def to_source(self, x: float, y: float) -> tuple[float, float]:
        """A point in crop pixels (as the model saw them, mirrored when ``flipped``) to the same
        point in original frame pixels."""
        if self.flipped:
            x = self.size - x
        return (x + self.offset_x) / self.scale_x, (y + self.offset_y) / self.scale_y

    def source_box(self) -> tuple[float, float, float, float]:
        """``(x0, y0, x1, y1)`` of the crop in original frame pixels (``x0 < x1``, flipped or not)."""
        return self._box(0, 0, self.size, self.size)

    def _box(self, x0: float, y0: float, x1: float, y1: float) -> tuple[float, float, float, float]:
        """The frame box of a crop box; a mirror swaps its left and right edges back into order."""
        (a, top), (b, bottom) = self.to_source(x0, y0), self.to_source(x1, y1)
        return min(a, b), top, max(a, b), bottom

    def cell_sizes(self, grid_height: int, grid_width: int, cell: int | None = None) -> tuple[float, float]:
        """Crop pixels per grid cell (height, width): ``cell`` for a conv trunk's grid (its total stride:
        with padding, cell i covers crop pixels ``[i * cell, (i + 1) * cell)``, the last cut by the crop's
        edge when the size is not a multiple), else an even tiling of the crop (a transformer's tokens)."""
        if cell is not None:
            if cell < 1 or (grid_height - 1) * cell >= self.size or (grid_width - 1) * cell >= self.size:
                raise ValueError(f"a {grid_height}x{grid_width} grid of {cell} px cells does not fit a {self.size} px crop")
            return float(cell), float(cell)
        return self.size / grid_height, self.size / grid_width

    def cells_per_pixel(self, grid_height: int, grid_width: int, cell: int | None = None) -> tuple[float, float]:
        """Grid cells per crop pixel (height, width), the factor a pixel position is looked up with
        (``cells / size`` for an even tiling, as it always was, to the bit)."""
        if cell is None:
            return grid_height / self.size, grid_width / self.size
        cell_h, cell_w = self.cell_sizes(grid_height, grid_width, cell)
        return 1.0 / cell_h, 1.0 / cell_w

    def token_box(self, row: int, col: int, grid_height: int, grid_width: int, cell: int | None = None) -> tuple[float, float, float, float]:
        """The original-frame box covered by token ``(row, col)`` of a grid laid over the crop
        (``cell``: see :meth:`cell_sizes`; a box is cut at the crop's edge)."""
        if not (0 <= row < grid_height and 0 <= col < grid_width):
            raise ValueError(f"token ({row}, {col}) is outside a {grid_height}x{grid_width} grid")
        cell_h, cell_w = self.cell_sizes(grid_height, grid_width, cell)
        return self._box(col * cell_w, row * cell_h, min((col + 1) * cell_w, self.size), min((row + 1) * cell_h, self.size))

    def grid_to_source(self, grid: np.ndarray, fill: float = 0.0, interpolation: int = cv2.INTER_NEAREST_EXACT, cell: int | None = None) -> np.ndarray:
        """Paint a (h', w') map laid over the crop onto a (src_height, src_width) frame.

        Each frame pixel is looked up once, at its centre's place in the grid (no
        resize of a resize), so a cell covers exactly the pixel centres inside its
        :meth:`token_box` (``cell``: a conv trunk's stride, see :meth:`cell_sizes`).
        Pixels outside the crop get ``fill``.  Nearest (either flavour) paints crisp
        cells; ``cv2.INTER_LINEAR`` interpolates between cell centres for a smooth heat map.
        """
        grid = np.asarray(grid, dtype=np.float32)
        if grid.ndim != 2 or grid.shape[0] < 1 or grid.shape[1] < 1:
            raise ValueError(f"expected a non-empty 2-D token grid, got shape {grid.shape}")
        rows, cols = grid.shape
        per_y, per_x = self.cells_per_pixel(rows, cols, cell)
        # the centre of each frame pixel in crop pixels, then in grid cells
        crop_x = (np.arange(self.src_width) + 0.5) * self.scale_x - self.offset_x
        crop_y = (np.arange(self.src_height) + 0.5) * self.scale_y - self.offset_y
        seen_x = self.size - crop_x if self.flipped else crop_x  # where the model saw that column
        cell_x = seen_x * per_x
        cell_y = crop_y * per_y
        if interpolation in (cv2.INTER_NEAREST, cv2.INTER_NEAREST_EXACT):
            col = np.clip(np.floor(cell_x), 0, cols - 1).astype(np.intp)
            row = np.clip(np.floor(cell_y), 0, rows - 1).astype(np.intp)
            out = grid.take(row, axis=0).take(col, axis=1)
        elif interpolation == cv2.INTER_LINEAR:  # separable: (H, rows) @ grid @ (cols, W)
            out = _linear_weights(cell_y, rows) @ grid @ _linear_weights(cell_x, cols).T
        else:
            raise ValueError(f"grid_to_source paints nearest or linear, not OpenCV interpolation {interpolation}")
        out = np.array(out, dtype=np.float32)
        _fill_outside(out, crop_y, crop_x, self.size, fill)
        return out


def _linear_weights(cells: np.ndarray, count: int) -> np.ndarray:
    """``(len(cells), count)`` weights of linear interpolation between cell centres at
    positions ``cells`` (in cells); beyond the outer centres the edge cell's value holds."""
    position = np.clip(cells - 0.5, 0, count - 1)
    low = np.floor(position).astype(np.intp)
    high = np.minimum(low + 1, count - 1)
    frac = (position - low).astype(np.float32)
    weights = np.zeros((len(cells), count), np.float32)
    lines = np.arange(len(cells))
    np.add.at(weights, (lines, low), 1 - frac)
    np.add.at(weights, (lines, high), frac)
    return weights


def _fill_outside(out: np.ndarray, crop_y: np.ndarray, crop_x: np.ndarray, size: int, fill: float) -> None:
    """Set the rows and columns of ``out`` whose pixel centres fall outside the crop to ``fill``
    (the crop is one band of rows and one of columns, so slices do it)."""
    for axis, centres in ((0, crop_y), (1, crop_x)):
        inside = np.flatnonzero((centres >= 0) & (centres < size))
        first, stop = (int(inside[0]), int(inside[-1]) + 1) if inside.size else (0, 0)
        before = (slice(None, first), slice(None)) if axis == 0 else (slice(None), slice(None, first))
        after = (slice(stop, None), slice(None)) if axis == 0 else (slice(None), slice(stop, None))
        out[before] = fill
        out[after] = fill


def crop_map(src_height: int, src_width: int, size: int = DEFAULT_INPUT_SIZE, position: float | CropView = CENTRE) -> CropMap:
    """The map for resizing the shorter side of a (src_height, src_width) frame to ``size``.

    ``position`` places the square along the longer side: 0 at its start (left
    or top), 0.5 in the centre (the default, what inference sees), 1 at its end;
    the three-crop test protocol of MViTv2 and Swin takes 0, 0.5 and 1.  A
    :class:`CropView` places it on both axes of a larger resize, perhaps mirrored
    (Simonyan & Zisserman's ten crops, :data:`TEN_CROPS`).
    """
    if src_height < 1 or src_width < 1 or size < 1:
        raise ValueError(f"bad sizes: frame {src_height}x{src_width}, crop {size}")
    if not isinstance(position, CropView) and not 0.0 <= position <= 1.0:
        raise ValueError(f"crop position must be in [0, 1], got {position}")
    view = as_crop_view(position)
    resized_h, resized_w = _resized_shape(src_height, src_width, size, view.scale)
    return CropMap(
        src_height=src_height,
        src_width=src_width,
        resized_height=resized_h,
        resized_width=resized_w,
        size=size,
        offset_x=_offset(resized_w - size, view.x),
        offset_y=_offset(resized_h - size, view.y),
        flipped=view.flip,
    )


def _resized_shape(src_height: int, src_width: int, size: int, scale: float) -> tuple[int, int]:
    """(height, width) of a frame whose shorter side is resized to ``round(size * scale)``."""
    shorter = size if scale == 1.0 else int(round(size * scale))
    factor = shorter / min(src_height, src_width)
    return max(shorter, int(round(src_height * factor))), max(shorter, int(round(src_width * factor)))


def _offset(room: int, position: float) -> int:
    """Pixels left of (or above) a crop at ``position`` along ``room`` spare pixels;
    the centre is ``room // 2`` exactly, as it always was."""
    return room // 2 if position == CENTRE else int(round(room * position))


def resize_and_crop(frames: np.ndarray, size: int = DEFAULT_INPUT_SIZE, position: float | CropView = CENTRE) -> tuple[np.ndarray, CropMap]:
    """Resize the shorter side of (T, H, W, C) frames to ``size`` and crop size x size at
    ``position`` along the longer side (default the centre; see :func:`crop_map`), or
    as a :class:`CropView` says (a larger resize, a corner, mirrored).

    Works for uint8 RGB and for float flow fields alike (flow values are not
    rescaled here: flow callers scale vectors by ``CropMap.scale_x/scale_y``).  A
    flipped view mirrors pixels only, which is wrong for a flow field (its
    horizontal component must change sign too): two-channel input is refused then.
    """
    frames = np.asarray(frames)
    if frames.ndim != 4:
        raise ValueError(f"expected frames of shape (T, H, W, C), got {frames.shape}")
    if isinstance(position, CropView) and position.flip and frames.shape[3] == 2:
        raise ValueError("a flipped crop of a flow field (T, H, W, 2) would keep the sign of its horizontal motion: "
                         "mirror the frames before computing flow, or negate u as well")
    cmap = crop_map(frames.shape[1], frames.shape[2], size, position)
    out = np.empty((frames.shape[0], size, size, frames.shape[3]), dtype=frames.dtype)
    for i, frame in enumerate(frames):
        resized = _resize(frame, cmap.resized_height, cmap.resized_width)
        out[i] = resized[cmap.offset_y : cmap.offset_y + size, cmap.offset_x : cmap.offset_x + size]
    if cmap.flipped:
        out = np.ascontiguousarray(out[:, :, ::-1])
    return out, cmap


def resize_for_crops(frames: np.ndarray, size: int, scale: float) -> np.ndarray:
    """(T, H, W, C) frames with the shorter side resized to ``round(size * scale)`` and nothing cropped:
    the whole frame that random training crops of ``size`` are drawn from (Simonyan & Zisserman:
    shorter side 256, 224 crops anywhere in the frame).  Its pixels are those
    :func:`resize_and_crop` crops for a :class:`CropView` of this ``scale``, so a training crop
    and the test view at the same place are the same array."""
    frames = np.asarray(frames)
    if frames.ndim != 4:
        raise ValueError(f"expected frames of shape (T, H, W, C), got {frames.shape}")
    if not scale >= 1.0 or size < 1:
        raise ValueError(f"crops of {size} px need a resize at least as large, got scale {scale}")
    height, width = _resized_shape(frames.shape[1], frames.shape[2], size, scale)
    out = np.empty((frames.shape[0], height, width, frames.shape[3]), dtype=frames.dtype)
    for i, frame in enumerate(frames):
        out[i] = _resize(frame, height, width)
    return out


def _resize(frame: np.ndarray, height: int, width: int) -> np.ndarray:
    """One (H, W, C) frame at (height, width): area averaging when it shrinks, linear when it grows."""
    if (height, width) == frame.shape[:2]:
        return frame
    interpolation = cv2.INTER_AREA if height < frame.shape[0] else cv2.INTER_LINEAR
    resized = cv2.resize(frame, (width, height), interpolation=interpolation)
    return resized[:, :, None] if resized.ndim == 2 else resized


def crop_offsets(height: int, width: int, size: int, rng: np.random.Generator | None = None) -> tuple[int, int]:
    """``(top, left)`` of a ``size`` square in a (height, width) frame: with ``rng`` every position
    equally likely (a random training crop, the top drawn first), without it the centre
    (as :func:`crop_map` centres, ``room // 2``)."""
    if not 1 <= size <= min(height, width):
        raise ValueError(f"a {size} px crop does not fit a {height}x{width} frame")
    if rng is None:
        return (height - size) // 2, (width - size) // 2
    return int(rng.integers(0, height - size + 1)), int(rng.integers(0, width - size + 1))
