"""One entry point for every flow method: a clip of frames in, flow for each consecutive pair out.

:func:`compute_flow` validates the frames, picks the device, runs the method
and returns a :class:`FlowResult` that records what actually ran: RAFT without
weights falls back to a classical method (never to random weights), and the
result says so, why, and where the weights should go.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from core.errors import FlowError, WeightsUnavailable
from core.progress import CancelToken, check, report

METHODS = ("raft-large", "raft-small", "tvl1", "dis", "farneback")
RAFT_METHODS = ("raft-large", "raft-small")
CLASSICAL_METHODS = ("tvl1", "dis", "farneback")
MIN_SIDE = 16  # below this no method has anything to match


@dataclass(frozen=True, eq=False)
class FlowResult:
    """Flow of a clip: ``forward[t]`` maps frame t to t+1, ``backward[t]`` frame t+1 to t.

    Arrays are float32 ``(N-1, 2, H, W)`` in pixels, channel 0 = x (right), 1 = y (down).
    ``method_used`` differs from ``method_requested`` only when ``fell_back``;
    ``note`` then says why and what to do.  ``weights_source`` names the RAFT
    weights file (or URL) used; ``device`` where it ran.
    """

    forward: np.ndarray
    backward: np.ndarray | None
    method_requested: str
    method_used: str
    fell_back: bool = False
    note: str = ""
    weights_source: str | None = None
    device: str = "cpu"

    @property
    def pairs(self) -> int:
        return int(self.forward.shape[0])


def check_frames(frames: np.ndarray) -> np.ndarray:
    """Validate a clip: (N, H, W, 3) uint8 with N >= 2 and sides >= 16; returns it C-contiguous."""
    if not isinstance(frames, np.ndarray):
        raise FlowError(f"frames must be a numpy array (N, H, W, 3) uint8, got {type(frames).__name__}")
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise FlowError(f"frames must have shape (N, H, W, 3), got {frames.shape}")
    if frames.dtype != np.uint8:
        raise FlowError(f"frames must be uint8 RGB, got dtype {frames.dtype}")
    if frames.shape[0] < 2:
        raise FlowError(f"flow needs at least 2 frames, got {frames.shape[0]}")
    if min(frames.shape[1:3]) < MIN_SIDE:
        raise FlowError(f"frames of {frames.shape[2]}x{frames.shape[1]} are too small for flow (each side must be >= {MIN_SIDE} px)")
    return np.ascontiguousarray(frames)


_ALIASES = {"tv-l1": "tvl1"}


def normalize_method(method: str) -> str:
    """A method name as :data:`METHODS` spells it: case and ``_``/``-`` do not matter
    (``RAFT_small`` is ``raft-small``); unknown names raise :class:`FlowError`."""
    name = str(method).strip().lower().replace("_", "-")
    name = _ALIASES.get(name, name)
    if name not in METHODS:
        raise FlowError(f"unknown flow method {method!r}: choose one of {', '.join(METHODS)}")
    return name


def check_method(method: str) -> str:
    return normalize_method(method)


def compute_flow(
    frames: np.ndarray,
    method: str,
    *,
    device: str = "auto",
    backward: bool = False,
    raft_weights: str | None = None,
    raft_iters: int | None = None,
    fallback: str = "dis",
    cancel: Optional[CancelToken] = None,
    progress: Optional[Callable[..., None]] = None,
    raft_warm_start: bool = False,
) -> FlowResult:
    """Flow for every consecutive pair of ``frames`` (N, H, W, 3) uint8 RGB.

    ``method``: one of :data:`METHODS`.  ``device``: "auto", "cpu" or "cuda"
    (used by RAFT and TV-L1; OpenCV methods run on the CPU).  ``raft_weights``:
    an explicit weights file (torchvision's or the original RAFT release's);
    ``raft_iters``: RAFT updates for a pair started from zero flow (default 12;
    warm-started pairs use two thirds).  ``raft_warm_start``: start each pair
    from the previous pair's flow with fewer updates (faster, but 8-21% worse
    end-point error in ``bench flow``: off by default); by default every pair
    is computed from its own two frames, as torchvision's RAFT does.  ``fallback``: the classical method used when RAFT weights cannot
    be had.  Progress is reported per pair (forward and backward pairs both
    count); ``cancel`` is checked between pairs/batches.
    """
    method = normalize_method(method)
    fallback = normalize_method(fallback)
    if fallback not in CLASSICAL_METHODS:
        raise FlowError(f"fallback must be a classical method ({', '.join(CLASSICAL_METHODS)}), got {fallback!r}")
    if raft_iters is not None and not 1 <= int(raft_iters) <= 100:
        raise FlowError(f"raft_iters must be between 1 and 100, got {raft_iters}")
    frames = check_frames(frames)
    pairs = frames.shape[0] - 1
    total = pairs * (2 if backward else 1)

    def cancel_check() -> None:
        check(cancel)

    def on_progress(done: int, _total: int) -> None:
        report(progress, done, total, f"flow {min(done, total)}/{total}")

    check(cancel)
    if method in RAFT_METHODS:
        return _raft(frames, method, device=device, backward=backward, weights=raft_weights, iters=raft_iters,
                     warm_start=raft_warm_start, fallback=fallback, cancel_check=cancel_check, progress=on_progress)
    forward, backward_flow, device_used = _classical(frames, method, device=device, backward=backward, cancel_check=cancel_check, progress=on_progress)
    return FlowResult(forward=forward, backward=backward_flow, method_requested=method, method_used=method, device=device_used)


def _classical(frames, method, *, device, backward, cancel_check, progress) -> tuple[np.ndarray, np.ndarray | None, str]:
    if method == "tvl1":
        from core.device import resolve_device
        from core.flow.tvl1_image import tvl1_clip_flow

        torch_device = resolve_device(device)
        forward, backward_flow = tvl1_clip_flow(frames, device=torch_device, backward=backward, cancel_check=cancel_check, progress=progress)
        return forward, backward_flow, str(torch_device)
    from core.flow.classical import classical_flow

    forward, backward_flow = classical_flow(frames, method, backward=backward, cancel_check=cancel_check, progress=progress)
    return forward, backward_flow, "cpu"


def _raft(frames, method, *, device, backward, weights, iters, warm_start, fallback, cancel_check, progress) -> FlowResult:
    from core.device import resolve_device
    from core.flow.raft import DEFAULT_UPDATES, load_raft

    torch_device = resolve_device(device)
    try:
        model = load_raft(method, device=torch_device, weights_path=weights)
    except WeightsUnavailable as err:
        forward, backward_flow, device_used = _classical(frames, fallback, device=device, backward=backward, cancel_check=cancel_check, progress=progress)
        note = f"{method} was asked for but fell back to {fallback}: {err}"
        return FlowResult(forward=forward, backward=backward_flow, method_requested=method, method_used=fallback,
                          fell_back=True, note=note, device=device_used)
    forward, backward_flow, geometry = model.clip_flow(
        frames, backward=backward, updates=int(iters) if iters is not None else DEFAULT_UPDATES,
        warm_start=warm_start, cancel_check=cancel_check, progress=progress,
    )
    note = ""
    if geometry.resized:
        note = f"RAFT ran at {geometry.run_width}x{geometry.run_height} (frames are {geometry.width}x{geometry.height}); the flow was scaled back"
    return FlowResult(forward=forward, backward=backward_flow, method_requested=method, method_used=method,
                      note=note, weights_source=model.weights_source, device=str(torch_device))
