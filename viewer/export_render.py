"""What an exported clip's frames look like, worked out in the export's worker.

The GUI thread freezes a :class:`ClipExportRequest` (the video, the frames, the
flow method and colours, the overlay choice, other features' overlay snapshots,
the legend's keys and the labels to burn in); :func:`render_clip` then reads
nothing else.  Each frame is RGB | flow with the overlays as the views draw
them, the legend rows under them, and, when asked, the frame number and the
covering prediction's class and score burned in top-left (as MMAction2's demo).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import numpy as np

from core.export import flow_metric_rows, legend_rows, side_by_side
from core.export.burn_in import LabelTrack, burn_in, caption_lines
from core.export.heatmap import blend_rgba
from core.export.legend import LegendEntry, legend_width, scale_entry, with_legend
from core.flow import FlowEncoding
from core.progress import CancelToken
from core.video import Video
from viewer.flow_controller import CHUNK_PAIRS, FlowController, FlowFrame, compute_chunk
from viewer.quality_overlay import OverlayChoice

FrameOverlay = Callable[[int], np.ndarray | None]  # frame index -> (h, w, 4) uint8 RGBA (opacity in alpha) or None


@dataclass(frozen=True)
class ClipExportRequest:
    """Everything a clip export reads; built on the GUI thread, read by the worker."""

    path: str
    video: Video
    frames: tuple[int, ...]
    fps: float
    method: str
    device: str
    encoding: FlowEncoding
    video_pixels: float  # the open video's analysis factor (:class:`viewer.open_video.OpenVideo`), stated by its flow frames
    overlays: OverlayChoice
    extra: tuple[tuple[str, str, FrameOverlay], ...] = field(default=())  # (view, name, overlay)
    map_keys: tuple[LegendEntry, ...] = ()  # the model's heat maps' keys, when they are drawn
    labels: LabelTrack | None = None  # burn in the frame number and these labels (None: nothing burned in)
    raft_weights: str | None = None

    def legend_entries(self) -> list[LegendEntry]:
        """Every key the exported frames need: the model's maps, then the flow-quality overlays."""
        return list(self.map_keys) + [scale_entry(scale) for scale in self.overlays.scales]


def pair_of(frame_index: int, frame_count: int) -> int:
    return FlowController.pair_of(frame_index, frame_count)


def flow_frames_for(video: Video, pairs: list[int], *, method: str, device: str, encoding: FlowEncoding, video_pixels: float,
                    cancel: CancelToken, raft_weights: str | None = None) -> Iterator[FlowFrame]:
    """The FlowFrames of ``pairs`` (ascending), chunk by chunk through the disk cache the viewer fills."""
    current_chunk, by_pair = -1, {}
    options = {} if raft_weights is None else {"raft_weights": raft_weights}
    for pair in pairs:
        chunk = pair // CHUNK_PAIRS
        if chunk != current_chunk:
            by_pair = {f.pair: f for f in compute_chunk(video, chunk, method, device=device, encoding=encoding, video_pixels=video_pixels,
                                                        cancel=cancel, **options)}
            current_chunk = chunk
        yield by_pair[pair]


def render_clip(request: ClipExportRequest, cancel: CancelToken) -> Iterator[np.ndarray]:
    """Composite frames (RGB | flow, overlays as chosen, legend under them, labels burned in) for an MP4 export."""
    count = len(request.video)
    pairs = [pair_of(i, count) for i in request.frames]
    flows = flow_frames_for(request.video, sorted(set(pairs)), method=request.method, device=request.device, encoding=request.encoding,
                            video_pixels=request.video_pixels, cancel=cancel, raft_weights=request.raft_weights)
    flow_by_pair: dict[int, FlowFrame] = {}
    legend = None
    entries = request.legend_entries()
    for index, pair in zip(request.frames, pairs):
        cancel.raise_if_cancelled()
        while pair not in flow_by_pair:
            frame = next(flows)
            flow_by_pair = {frame.pair: frame}  # frames ascend: only the newest pair is ever needed again
        flow = flow_by_pair[pair]
        views = {"rgb": request.video.read(index), "flow": flow.image}
        for name, rgba in request.overlays.layers(flow, bake_opacity=True).items():
            views[request.overlays.target] = blend_rgba(views[request.overlays.target], rgba)
        for view, _name, overlay in request.extra:
            rgba = overlay(index)
            if rgba is not None:
                views[view] = blend_rgba(views[view], rgba)
        image = side_by_side(views["rgb"], views["flow"])
        if request.labels is not None:
            image = burn_in(image, caption_lines(index, request.labels), width_limit=views["rgb"].shape[1])
        if entries:
            if legend is None:
                legend = legend_rows(entries, legend_width(image.shape[1]))
            image = with_legend(image, legend)
        yield image


def flow_metrics_job(video: Video, *, method: str, device: str, encoding: FlowEncoding, video_pixels: float, cancel: CancelToken,
                     progress: Callable[..., None], raft_weights: str | None = None) -> list[dict[str, Any]]:
    """Every pair's quality measures for the whole video (flow from the cache when the scan has run), lengths in the
    video's pixels (the flow of a large video is computed smaller: ``video_pixels`` of them per analysis pixel)."""
    pairs = len(video) - 1
    chunks = (pairs + CHUNK_PAIRS - 1) // CHUNK_PAIRS
    options = {} if raft_weights is None else {"raft_weights": raft_weights}
    rows: list[dict[str, Any]] = []
    for chunk in range(chunks):
        frames = compute_chunk(video, chunk, method, device=device, encoding=encoding, video_pixels=video_pixels, cancel=cancel, **options)
        rows += flow_metric_rows([f.quality.in_video_pixels(f.video_pixels) for f in frames], first_pair=frames[0].pair if frames else chunk * CHUNK_PAIRS, method_used=[f.method_used for f in frames])
        progress(chunk + 1, chunks, f"flow metrics {chunk + 1}/{chunks} chunks")
    return rows
