"""Which frames make a clip, and how model-input pixels map back to frame pixels.

Clips follow the seeds: T frames (default 16) at a stride from a start frame;
K clips spread uniformly over the video (TSN) for video-level prediction; the
shorter side resized to the model's input size, then a centre crop.  The
:class:`CropMap` keeps the way back to original frame pixels, which the
attention overlays need.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

DEFAULT_CLIP_LENGTH = 16
DEFAULT_INPUT_SIZE = 224
CENTRE = 0.5  # crop position along the longer side: inference and training's view 0
THREE_CROPS = (0.0, CENTRE, 1.0)  # the multi-view test protocol of MViTv2 and Swin: start, centre, end of the longer side


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
class CropMap:
    """The resize-then-centre-crop that made a model input, and its inverse.

    Coordinates are continuous pixel edges: the crop covers ``[0, size)`` on each
    axis and maps to ``source_box()`` in the original frame.
    """

    src_height: int
    src_width: int
    resized_height: int
    resized_width: int
    size: int
    offset_x: int
    offset_y: int

    @property
    def scale_x(self) -> float:
        return self.resized_width / self.src_width

    @property
    def scale_y(self) -> float:
        return self.resized_height / self.src_height

    def to_source(self, x: float, y: float) -> tuple[float, float]:
        """A point in crop pixels to the same point in original frame pixels."""
        return (x + self.offset_x) / self.scale_x, (y + self.offset_y) / self.scale_y

    def source_box(self) -> tuple[float, float, float, float]:
        """``(x0, y0, x1, y1)`` of the crop in original frame pixels."""
        x0, y0 = self.to_source(0, 0)
        x1, y1 = self.to_source(self.size, self.size)
        return x0, y0, x1, y1

    def token_box(self, row: int, col: int, grid_height: int, grid_width: int) -> tuple[float, float, float, float]:
        """The original-frame box covered by token ``(row, col)`` of a grid laid over the crop."""
        if not (0 <= row < grid_height and 0 <= col < grid_width):
            raise ValueError(f"token ({row}, {col}) is outside a {grid_height}x{grid_width} grid")
        cell_h, cell_w = self.size / grid_height, self.size / grid_width
        x0, y0 = self.to_source(col * cell_w, row * cell_h)
        x1, y1 = self.to_source((col + 1) * cell_w, (row + 1) * cell_h)
        return x0, y0, x1, y1

    def grid_to_source(self, grid: np.ndarray, fill: float = 0.0, interpolation: int = cv2.INTER_NEAREST_EXACT) -> np.ndarray:
        """Paint a (h', w') map laid over the crop onto a (src_height, src_width) frame.

        Each frame pixel is looked up once, at its centre's place in the grid (no
        resize of a resize), so a cell covers exactly the pixel centres inside its
        :meth:`token_box`.  Pixels outside the crop get ``fill``.  Nearest (either
        flavour) paints crisp cells; ``cv2.INTER_LINEAR`` interpolates between cell
        centres for a smooth heat map.
        """
        grid = np.asarray(grid, dtype=np.float32)
        if grid.ndim != 2 or grid.shape[0] < 1 or grid.shape[1] < 1:
            raise ValueError(f"expected a non-empty 2-D token grid, got shape {grid.shape}")
        rows, cols = grid.shape
        # the centre of each frame pixel in crop pixels, then in grid cells
        crop_x = (np.arange(self.src_width) + 0.5) * self.scale_x - self.offset_x
        crop_y = (np.arange(self.src_height) + 0.5) * self.scale_y - self.offset_y
        cell_x = crop_x * (cols / self.size)
        cell_y = crop_y * (rows / self.size)
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


def crop_map(src_height: int, src_width: int, size: int = DEFAULT_INPUT_SIZE, position: float = CENTRE) -> CropMap:
    """The map for resizing the shorter side of a (src_height, src_width) frame to ``size``.

    ``position`` places the square along the longer side: 0 at its start (left
    or top), 0.5 in the centre (the default, what inference sees), 1 at its end;
    the three-crop test protocol of MViTv2 and Swin takes 0, 0.5 and 1.
    """
    if src_height < 1 or src_width < 1 or size < 1:
        raise ValueError(f"bad sizes: frame {src_height}x{src_width}, crop {size}")
    if not 0.0 <= position <= 1.0:
        raise ValueError(f"crop position must be in [0, 1], got {position}")
    scale = size / min(src_height, src_width)
    resized_h = max(size, int(round(src_height * scale)))
    resized_w = max(size, int(round(src_width * scale)))
    return CropMap(
        src_height=src_height,
        src_width=src_width,
        resized_height=resized_h,
        resized_width=resized_w,
        size=size,
        offset_x=_offset(resized_w - size, position),
        offset_y=_offset(resized_h - size, position),
    )


def _offset(room: int, position: float) -> int:
    """Pixels left of (or above) a crop at ``position`` along ``room`` spare pixels;
    the centre is ``room // 2`` exactly, as it always was."""
    return room // 2 if position == CENTRE else int(round(room * position))


def resize_and_crop(frames: np.ndarray, size: int = DEFAULT_INPUT_SIZE, position: float = CENTRE) -> tuple[np.ndarray, CropMap]:
    """Resize the shorter side of (T, H, W, C) frames to ``size`` and crop size x size at
    ``position`` along the longer side (default the centre; see :func:`crop_map`).

    Works for uint8 RGB and for float flow fields alike (flow values are not
    rescaled here: flow callers scale vectors by ``CropMap.scale_x/scale_y``).
    """
    frames = np.asarray(frames)
    if frames.ndim != 4:
        raise ValueError(f"expected frames of shape (T, H, W, C), got {frames.shape}")
    cmap = crop_map(frames.shape[1], frames.shape[2], size, position)
    shrinking = cmap.resized_height < cmap.src_height
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    out = np.empty((frames.shape[0], size, size, frames.shape[3]), dtype=frames.dtype)
    for i, frame in enumerate(frames):
        resized = frame
        if (cmap.resized_height, cmap.resized_width) != frame.shape[:2]:
            resized = cv2.resize(frame, (cmap.resized_width, cmap.resized_height), interpolation=interpolation)
        if resized.ndim == 2:
            resized = resized[:, :, None]
        out[i] = resized[cmap.offset_y : cmap.offset_y + size, cmap.offset_x : cmap.offset_x + size]
    return out, cmap
