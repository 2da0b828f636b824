"""The raw flow field (u, v per pixel) of the pair the flow view shows, for the cursor readout and the arrows.

The views get colour images; the inspection tools need the vectors.  They are
read back from the flow disk cache the view's own job has just filled (same
frames, method and weights, so a hit: no flow is computed again), a chunk at a
time in a worker ("inspect-flow" channel), and kept for that chunk, so
scrubbing inside it costs nothing.  With the arrows on, the worker also lays
out every pair's arrows (:func:`core.export.quiver.quiver`), so the GUI thread
only hands segments to the view.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from PySide6.QtCore import QObject, Signal

from core.export.quiver import Quiver, arrow_scale, quiver
from core.flow.cache import compute_flow_cached
from core.video import Video
from viewer.flow_controller import CHUNK_PAIRS, analysis_frames, chunk_indices
from viewer.jobs import JobRunner

CHANNEL = "inspect-flow"
ARROW_STEP = 16  # analysis pixels between arrows


@dataclass(frozen=True)
class ChunkFields:
    """One chunk's forward flow, ``(h, w, 2)`` per pair at analysis size, and its arrows when asked for."""

    key: tuple[str, str, str | None, int]  # video path, method, RAFT weights (new weights: other vectors), chunk
    fields: dict[int, np.ndarray]
    arrows: dict[int, Quiver]
    arrow_scale: float


def read_chunk_fields(video: Video, chunk: int, method: str, *, device: str, raft_weights: str | None, arrows: bool,
                      scale: float | None, cancel) -> ChunkFields:  # noqa: ANN001
    """Plain Python for the worker: the chunk's flow from the cache (computed on a miss), as the view's job reads it."""
    indices = chunk_indices(chunk, len(video))
    frames = analysis_frames(video.read_clip(indices))
    result, _hit = compute_flow_cached(video.path, indices, method, frames=frames, device=device, backward=True, cancel=cancel, raft_weights=raft_weights)
    fields = {indices[k]: np.ascontiguousarray(np.moveaxis(np.asarray(result.forward[k], np.float32), 0, -1)) for k in range(result.pairs)}
    drawn: dict[int, Quiver] = {}
    if arrows and fields:
        if scale is None:  # one length per video: the first chunk read decides it, and it is stated
            scale = arrow_scale(np.stack(list(fields.values())), ARROW_STEP)
        for pair, field in fields.items():
            cancel.raise_if_cancelled()
            drawn[pair] = quiver(field, step=ARROW_STEP, scale=scale)
    return ChunkFields((video.path, method, raft_weights, chunk), fields, drawn, 1.0 if scale is None else float(scale))


class FlowFieldSource(QObject):
    """Asks for the shown pair's chunk when something needs vectors; says when a pair's arrive."""

    ready = Signal()  # a chunk's fields (and, with arrows on, arrows) are now known

    def __init__(self, jobs: JobRunner, flow_settings: Callable[[], tuple[Video | None, str, str, str | None]],
                 on_error: Callable[[str], None], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.jobs, self.on_error = jobs, on_error
        self.flow_settings = flow_settings  # () -> (video, method, device, raft weights) as the flow view uses them
        self.arrows_wanted = False
        self.chunk: ChunkFields | None = None
        self._asked: tuple | None = None
        self._arrow_scale: dict[str, float] = {}  # per video path

    def reset(self) -> None:
        self.jobs.cancel(CHANNEL)
        self.chunk, self._asked = None, None

    def field(self, pair: int) -> np.ndarray | None:
        return None if not self._holds(pair) else self.chunk.fields.get(pair)  # type: ignore[union-attr]

    def arrows(self, pair: int) -> Quiver | None:
        return None if not self._holds(pair) else self.chunk.arrows.get(pair)  # type: ignore[union-attr]

    def _holds(self, pair: int) -> bool:
        video, method, _device, weights = self.flow_settings()
        return self.chunk is not None and video is not None and self.chunk.key == (video.path, method, weights, pair // CHUNK_PAIRS)

    def request(self, pair: int) -> None:
        """Make the pair's field (and arrows, when wanted) known; a no-op when they are."""
        video, method, device, weights = self.flow_settings()
        if video is None or len(video) < 2:
            return
        chunk = pair // CHUNK_PAIRS
        if self._holds(pair) and (not self.arrows_wanted or self.chunk.arrows):  # type: ignore[union-attr]
            return
        asked = (video.path, method, weights, chunk, self.arrows_wanted)
        if asked == self._asked and self.jobs.is_busy(CHANNEL):
            return
        self._asked = asked
        arrows, scale = self.arrows_wanted, self._arrow_scale.get(video.path)

        def work(cancel, progress):  # noqa: ANN001
            return read_chunk_fields(video, chunk, method, device=device, raft_weights=weights, arrows=arrows, scale=scale, cancel=cancel)

        self.jobs.submit(CHANNEL, work, self._arrived, on_error=lambda error, _t: self.on_error(f"cannot read the flow vectors: {error}"))

    def _arrived(self, chunk: ChunkFields) -> None:
        self.chunk = chunk
        if chunk.arrows:
            self._arrow_scale.setdefault(chunk.key[0], chunk.arrow_scale)
        self.ready.emit()
