"""One entry point for every flow method: a clip of frames in, flow for each consecutive pair out.

:func:`compute_flow` validates the frames, picks the device, runs the method
and returns a :class:`FlowResult` that records what actually ran: RAFT without
weights falls back to a classical method (never to random weights), and the
result says so, why, and where the weights should go.
:func:`compute_flow_tensor` is the same for a clip already in a torch tensor
(a classifier's on a GPU): RAFT's flow then stays on the device.
:func:`compute_flow_clips` takes the clips of several videos at once (training's
token extraction): RAFT computes them together, other methods one by one.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence

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

    Arrays are float32 ``(N-1, 2, H, W)`` in pixels, channel 0 = x (right), 1 = y (down)
    (torch tensors from :func:`compute_flow_tensor`).
    ``method_used`` differs from ``method_requested`` only when ``fell_back``;
    ``note`` then says why and what to do.  ``weights_source`` names the RAFT
    weights file (or URL) used; ``device`` where it ran.
    """

    forward: Any  # np.ndarray, or a torch.Tensor from compute_flow_tensor
    backward: Any
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
    _check_clip(frames.shape, frames.dtype == np.uint8, frames.dtype)
    return np.ascontiguousarray(frames)


def _check_clip(shape: tuple[int, ...], uint8: bool, dtype: object) -> None:
    if len(shape) != 4 or shape[-1] != 3:
        raise FlowError(f"frames must have shape (N, H, W, 3), got {tuple(shape)}")
    if not uint8:
        raise FlowError(f"frames must be uint8 RGB, got dtype {dtype}")
    if shape[0] < 2:
        raise FlowError(f"flow needs at least 2 frames, got {shape[0]}")
    if min(shape[1:3]) < MIN_SIDE:
        raise FlowError(f"frames of {shape[2]}x{shape[1]} are too small for flow (each side must be >= {MIN_SIDE} px)")


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
    return _compute(check_frames(frames), method, device=device, backward=backward, raft_weights=raft_weights, raft_iters=raft_iters,
                    fallback=fallback, cancel=cancel, progress=progress, raft_warm_start=raft_warm_start, keep_on_device=False)


def compute_flow_tensor(frames: Any, method: str, **options: Any) -> FlowResult:
    """:func:`compute_flow` for a clip in a torch tensor (N, H, W, 3) uint8, its flow as float32 tensors on the frames' device.

    Why: a classifier on a GPU uploads a clip once; RAFT reads it there and its
    flow stays there for rendering and normalising, with no trip through the
    host.  Methods that run on the host (and RAFT's fallback) get the frames
    copied down and their flow copied back, with :func:`compute_flow`'s values.
    ``options`` are :func:`compute_flow`'s.
    """
    import torch

    if not isinstance(frames, torch.Tensor):
        raise FlowError(f"frames must be a torch tensor (N, H, W, 3) uint8, got {type(frames).__name__}")
    _check_clip(tuple(frames.shape), frames.dtype == torch.uint8, frames.dtype)
    result = _compute(frames, method, keep_on_device=True, **options)

    def moved(flow: Any) -> Any:
        return None if flow is None else torch.as_tensor(flow).to(frames.device)

    return dataclasses.replace(result, forward=moved(result.forward), backward=moved(result.backward))


def compute_flow_clips(
    clips: Sequence[np.ndarray],
    method: str,
    *,
    device: str = "auto",
    raft_weights: str | None = None,
    raft_iters: int | None = None,
    fallback: str = "dis",
    cancel: Optional[CancelToken] = None,
    progress: Optional[Callable[..., None]] = None,
) -> list[FlowResult]:
    """Forward flow of several clips (each (N_i, H, W, 3) uint8 RGB, one frame size), one :class:`FlowResult` each.

    Each result is what :func:`compute_flow` gives for that clip alone (on a
    CPU bit for bit; on a GPU RAFT's kernels may differ with the batch).  Why:
    RAFT on a GPU is bound by kernel launches on one 16-frame clip; here the
    pairs of all clips are updated side by side
    (:meth:`core.flow.raft.RaftFlow.clips_flow`).  Classical methods, and RAFT's
    fallback when its weights cannot be had, run clip by clip.  Options are
    :func:`compute_flow`'s (no backward flow, no warm starts); progress counts
    the pairs of all clips.
    """
    if isinstance(clips, np.ndarray) or not isinstance(clips, Sequence):
        raise FlowError(f"clips must be a list of (N, H, W, 3) uint8 arrays, got {type(clips).__name__}")
    if not clips:
        raise FlowError("compute_flow_clips needs at least one clip")
    return _clips([check_frames(clip) for clip in clips], method, device=device, raft_weights=raft_weights, raft_iters=raft_iters,
                  fallback=fallback, cancel=cancel, progress=progress, keep_on_device=False)


def compute_flow_clips_tensor(clips: Sequence[Any], method: str, **options: Any) -> list[FlowResult]:
    """:func:`compute_flow_clips` for clips in torch tensors (N_i, H, W, 3) uint8, each clip's flow a float32
    tensor on its device; ``options`` are :func:`compute_flow_clips`'.

    Why: sliding windows over a video on a GPU (the windows of one batch) have their
    RAFT pairs updated side by side, as training's extraction does, instead of one
    launch-bound call per window; the frames never leave the device.
    """
    import torch

    if isinstance(clips, torch.Tensor) or not isinstance(clips, Sequence) or not clips:
        raise FlowError("clips must be a non-empty list of (N, H, W, 3) uint8 tensors")
    for clip in clips:
        if not isinstance(clip, torch.Tensor):
            raise FlowError(f"clips must be torch tensors, got {type(clip).__name__}")
        _check_clip(tuple(clip.shape), clip.dtype == torch.uint8, clip.dtype)
    results = _clips(list(clips), method, keep_on_device=True, **options)
    return [dataclasses.replace(result, forward=torch.as_tensor(result.forward).to(clip.device)) for result, clip in zip(results, clips)]


def _clips(clips: list[Any], method: str, *, device: Any = "auto", raft_weights: str | None = None, raft_iters: int | None = None,
           fallback: str = "dis", cancel: Optional[CancelToken] = None, progress: Optional[Callable[..., None]] = None,
           keep_on_device: bool) -> list[FlowResult]:
    """The checked clips' flow (arrays, or tensors with ``keep_on_device``): RAFT's pairs side by side, other methods clip by clip."""
    sizes = sorted({tuple(clip.shape[1:3]) for clip in clips})
    if len(sizes) > 1:
        raise FlowError(f"clips computed together must share one frame size, got {', '.join(f'{w}x{h}' for h, w in sizes)}")
    method = normalize_method(method)
    fallback = _check_options(fallback, raft_iters)
    total = sum(clip.shape[0] - 1 for clip in clips)
    check(cancel)
    if method in RAFT_METHODS:
        return _raft_clips(clips, method, device=device, weights=raft_weights, iters=raft_iters, fallback=fallback, cancel=cancel,
                           progress=progress, total=total, keep_on_device=keep_on_device)
    return _one_by_one([_on_host(clip) for clip in clips], method, device=device, cancel=cancel, progress=progress, total=total)


def _one_by_one(clips: list[np.ndarray], method: str, *, device: str, cancel: Optional[CancelToken],
                progress: Optional[Callable[..., None]], total: int) -> list[FlowResult]:
    """:func:`compute_flow` on each clip, progress counted over all of them."""
    results: list[FlowResult] = []
    done = 0
    for clip in clips:
        def on_clip(finished: int, _total: int, message: str = "", offset: int = done) -> None:
            report(progress, offset + finished, total, f"flow {min(offset + finished, total)}/{total}")

        results.append(compute_flow(clip, method, device=device, cancel=cancel, progress=on_clip))
        done += clip.shape[0] - 1
    return results


def _raft_clips(clips: list[Any], method: str, *, device: Any, weights: str | None, iters: int | None, fallback: str,
                cancel: Optional[CancelToken], progress: Optional[Callable[..., None]], total: int,
                keep_on_device: bool = False) -> list[FlowResult]:
    """RAFT over every clip at once, or the fallback clip by clip with :func:`_raft`'s note."""
    from core.device import resolve_device
    from core.flow.raft import DEFAULT_UPDATES, load_raft

    torch_device = resolve_device(device)
    try:
        model = load_raft(method, device=torch_device, weights_path=weights)
    except WeightsUnavailable as err:
        used = _one_by_one([_on_host(clip) for clip in clips], fallback, device=device, cancel=cancel, progress=progress, total=total)
        return [dataclasses.replace(result, method_requested=method, fell_back=True, note=_fallback_note(method, fallback, err))
                for result in used]

    def on_pairs(done: int, _total: int) -> None:
        report(progress, done, total, f"flow {min(done, total)}/{total}")

    flows, geometry = model.clips_flow(clips, updates=int(iters) if iters is not None else DEFAULT_UPDATES,
                                       cancel_check=lambda: check(cancel), progress=on_pairs, keep_on_device=keep_on_device)
    note = _resized_note(geometry)
    return [FlowResult(forward=flow, backward=None, method_requested=method, method_used=method, note=note,
                       weights_source=model.weights_source, device=str(torch_device)) for flow in flows]


def _check_options(fallback: str, raft_iters: int | None) -> str:
    """The fallback method, normalised, after checking it and ``raft_iters``."""
    fallback = normalize_method(fallback)
    if fallback not in CLASSICAL_METHODS:
        raise FlowError(f"fallback must be a classical method ({', '.join(CLASSICAL_METHODS)}), got {fallback!r}")
    if raft_iters is not None and not 1 <= int(raft_iters) <= 100:
        raise FlowError(f"raft_iters must be between 1 and 100, got {raft_iters}")
    return fallback


def _fallback_note(method: str, fallback: str, err: Exception) -> str:
    return f"{method} was asked for but fell back to {fallback}: {err}"


def _resized_note(geometry: Any) -> str:
    if not geometry.resized:
        return ""
    return f"RAFT ran at {geometry.run_width}x{geometry.run_height} (frames are {geometry.width}x{geometry.height}); the flow was scaled back"


def _compute(frames: Any, method: str, *, device: str = "auto", backward: bool = False, raft_weights: str | None = None,
             raft_iters: int | None = None, fallback: str = "dis", cancel: Optional[CancelToken] = None,
             progress: Optional[Callable[..., None]] = None, raft_warm_start: bool = False, keep_on_device: bool) -> FlowResult:
    """compute_flow's work on checked frames (an array, or a tensor with ``keep_on_device``)."""
    method = normalize_method(method)
    fallback = _check_options(fallback, raft_iters)
    pairs = frames.shape[0] - 1
    total = pairs * (2 if backward else 1)

    def cancel_check() -> None:
        check(cancel)

    def on_progress(done: int, _total: int) -> None:
        report(progress, done, total, f"flow {min(done, total)}/{total}")

    check(cancel)
    if method in RAFT_METHODS:
        return _raft(frames, method, device=device, backward=backward, weights=raft_weights, iters=raft_iters, warm_start=raft_warm_start,
                     fallback=fallback, cancel_check=cancel_check, progress=on_progress, keep_on_device=keep_on_device)
    forward, backward_flow, device_used = _classical(_on_host(frames), method, device=device, backward=backward, cancel_check=cancel_check,
                                                     progress=on_progress)
    return FlowResult(forward=forward, backward=backward_flow, method_requested=method, method_used=method, device=device_used)


def _on_host(frames: Any) -> np.ndarray:
    """A clip as the host methods take it: a tensor is copied down."""
    return frames if isinstance(frames, np.ndarray) else np.ascontiguousarray(frames.cpu().numpy())


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


def _raft(frames, method, *, device, backward, weights, iters, warm_start, fallback, cancel_check, progress, keep_on_device) -> FlowResult:
    from core.device import resolve_device
    from core.flow.raft import DEFAULT_UPDATES, load_raft

    torch_device = resolve_device(device)
    try:
        model = load_raft(method, device=torch_device, weights_path=weights)
    except WeightsUnavailable as err:
        forward, backward_flow, device_used = _classical(_on_host(frames), fallback, device=device, backward=backward,
                                                         cancel_check=cancel_check, progress=progress)
        note = _fallback_note(method, fallback, err)
        return FlowResult(forward=forward, backward=backward_flow, method_requested=method, method_used=fallback,
                          fell_back=True, note=note, device=device_used)
    forward, backward_flow, geometry = model.clip_flow(
        frames, backward=backward, updates=int(iters) if iters is not None else DEFAULT_UPDATES,
        warm_start=warm_start, cancel_check=cancel_check, progress=progress, keep_on_device=keep_on_device,
    )
    return FlowResult(forward=forward, backward=backward_flow, method_requested=method, method_used=method,
                      note=_resized_note(geometry), weights_source=model.weights_source, device=str(torch_device))
