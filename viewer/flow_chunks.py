"""The viewer's unit of flow work: a chunk of :data:`CHUNK_PAIRS` pairs, aligned to fixed
boundaries so the view's requests, the whole-video scan and exports share the disk cache.

Plain Python (runs in workers): frames in, coloured flow, quality measures and
maps out, for every pair of one chunk.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from core.data.flow_noise import CHUNK_PAIRS, MAX_ANALYSIS_SIDE, analysis_frames, chunk_indices  # noqa: F401 - one copy, shared with eval's survey
from core.flow import FlowEncoding, PairQuality, compute_flow_cached, flow_to_rgb, pair_quality, render_flow
from core.flow.analysis_size import video_pixels_per_analysis_pixel
from core.video import Video



@dataclass(frozen=True)
class FlowFrame:
    """What the views show for one frame pair."""

    pair: int
    image: np.ndarray  # (h, w, 3) uint8 colour rendering
    quality: PairQuality
    inconsistency: np.ndarray  # (h, w) float32 analysis pixels, forward-backward
    warp_error: np.ndarray  # (h, w) float32 grey levels
    method_used: str
    fell_back: bool
    note: str
    encoding: FlowEncoding  # the colours of ``image``
    radius: float = 0.0  # the motion (analysis px) drawn fully saturated in ``image``: the encoding's, or this pair's own
    video_pixels: float = 1.0  # the video's pixels per analysis pixel: what states ``quality`` and the maps' lengths on screen


@dataclass(frozen=True)
class ChunkQuality:
    """A finished chunk of the scan: per-pair noise scores and mean magnitudes (the mean and 95th percentile, in
    analysis pixels as measured: the timeline states them in the video's pixels, the memo of scans keeps these)."""

    method: str
    first_pair: int
    noise: np.ndarray
    magnitude: np.ndarray
    magnitude_p95: np.ndarray


def render_pairs(forward: np.ndarray, encoding: FlowEncoding) -> tuple[np.ndarray, list[float]]:
    """Colour images of (N, 2, H, W) flow and each pair's radius: one scale for all under a
    "fixed" encoding, each pair its own otherwise (per-pair normalisation)."""
    if encoding.normalization == "fixed":
        return flow_to_rgb(forward, encoding), [encoding.max_radius] * len(forward)
    rendered = [render_flow(pair, encoding) for pair in forward]
    return np.stack([image for image, _ in rendered]), [radius for _, radius in rendered]


def video_pixels_of(video: Video) -> float:
    """``video``'s pixels per analysis pixel (:func:`video_pixels_per_analysis_pixel`), from its size: every frame it
    gives has that size (a reader refuses one that differs)."""
    return video_pixels_per_analysis_pixel((video.info.height, video.info.width))


def compute_chunk(video: Video, chunk: int, method: str, *, device: str, encoding: FlowEncoding, video_pixels: float, cancel,  # noqa: ANN001
                  progress=None, raft_weights: str | None = None, cache_hit: Callable[[bool], None] | None = None) -> list[FlowFrame]:
    """Flow, colour, quality and maps for every pair of one chunk (plain Python: runs in a worker).
    ``video_pixels`` is the caller's one factor for the video (:func:`video_pixels_of`, kept by the open video):
    the frames state it, so what they say in pixels agrees with the captions and the timeline, never derived again
    here.  ``cache_hit`` hears whether the flow came from the cache (a scan's time left leaves such chunks out)."""
    indices = chunk_indices(chunk, len(video))
    frames = analysis_frames(_read_frames(video, indices, cancel))
    result, hit = compute_flow_cached(video.path, indices, method, frames=frames, device=device, backward=True, cancel=cancel,
                                      progress=progress, raft_weights=raft_weights)
    if cache_hit is not None:
        cache_hit(bool(hit))
    images, radii = render_pairs(result.forward, encoding)
    out = []
    for k in range(result.pairs):
        cancel.raise_if_cancelled()
        backward = None if result.backward is None else result.backward[k]
        quality, maps = pair_quality(frames[k], frames[k + 1], result.forward[k], backward)
        out.append(FlowFrame(indices[k], images[k], quality, maps.inconsistency, maps.warp_error, result.method_used, result.fell_back,
                             result.note, encoding, radii[k], video_pixels))
    return out


def _read_frames(video: Video, indices: list[int], cancel) -> np.ndarray:  # noqa: ANN001
    """The chunk's frames, with a cancellation point before each: a 4K frame takes tens of milliseconds, a jump
    seconds, and a job the user moved on from kept a worker decoding frames nobody would see."""
    frames = []
    for index in indices:
        cancel.raise_if_cancelled()
        frames.append(video.read(index))
    return np.stack(frames)
