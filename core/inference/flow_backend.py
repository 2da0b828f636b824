"""The optical-flow engine as a classifier uses it, injected so tests and the viewer can swap it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np


@dataclass(frozen=True)
class FlowBackend:
    """The flow engine as inference uses it.

    ``compute(frames_uint8 (N, H, W, 3), method, device=, cancel=, progress=)``
    returns an object with ``forward`` ``(N-1, 2, H, W)`` float32, ``method_used``,
    ``fell_back`` and ``note``; ``render(flow (N-1, 2, H, W), encoding_dict)``
    returns ``(N-1, H, W, 3)`` uint8 colour images; with a ``"fixed"`` normalisation
    each image must depend on its own field only (windows then share rendered pairs).

    The device path (optional, both or neither): ``compute_tensor`` takes the
    frames as a uint8 torch tensor and returns ``forward`` as a float32 tensor on
    the frames' device; ``render_tensor`` draws such a tensor there, as uint8
    ``(N-1, H, W, 3)`` equal to ``render``'s.  Why: on a GPU the flow then never
    goes through the host.  A backend without them is used as before.

    ``compute_clips(list of frames_uint8, method, device=, cancel=, progress=)``
    (optional) returns one such result per clip, the clips computed together
    (RAFT batched across videos in training's extraction); a backend without it
    is called once per clip (:meth:`flow_of_clips`).  ``compute_clips_tensor`` (optional,
    with the device path) is the same for clips in tensors, each flow left on the device
    (sliding windows of one batch on a GPU); without it, ``compute_tensor`` runs per clip.
    """

    compute: Callable[..., Any]
    render: Callable[[np.ndarray, Mapping[str, Any]], np.ndarray]
    compute_tensor: Callable[..., Any] | None = None
    render_tensor: Callable[[Any, Mapping[str, Any]], Any] | None = None
    compute_clips: Callable[..., Sequence[Any]] | None = None
    compute_clips_tensor: Callable[..., Sequence[Any]] | None = None

    @property
    def has_device_path(self) -> bool:
        return self.compute_tensor is not None and self.render_tensor is not None

    def flow_of_clips(self, clips: Sequence[np.ndarray], method: str, **kwargs: Any) -> list[Any]:
        """One result per clip: ``compute_clips`` when the backend has it, else ``compute`` on each clip."""
        return _per_clip("compute_clips", self.compute_clips, self.compute, clips, method, kwargs)

    def flow_of_tensor_clips(self, clips: Sequence[Any], method: str, **kwargs: Any) -> list[Any]:
        """One device result per clip in a tensor: ``compute_clips_tensor`` when the backend has it, else
        ``compute_tensor`` on each clip."""
        if self.compute_tensor is None:
            raise ValueError("the flow backend has no device path (compute_tensor)")
        return _per_clip("compute_clips_tensor", self.compute_clips_tensor, self.compute_tensor, clips, method, kwargs)


def _per_clip(name: str, together: Callable[..., Sequence[Any]] | None, alone: Callable[..., Any], clips: Sequence[Any], method: str,
              kwargs: dict[str, Any]) -> list[Any]:
    """``together(clips)`` checked to give one result per clip, or ``alone`` on each clip when there is no ``together``."""
    if together is None:
        return [alone(clip, method, **kwargs) for clip in clips]
    results = list(together(list(clips), method, **kwargs))
    if len(results) != len(clips):
        raise ValueError(f"the flow backend's {name} returned {len(results)} results for {len(clips)} clips")
    return results


def default_flow_backend(*, raft_weights: str | os.PathLike[str] | None = None) -> FlowBackend:
    """``core.flow.compute_flow`` and ``core.flow.render.flow_to_rgb``, their tensor forms
    (``core.flow.engine.compute_flow_tensor``, ``core.flow.render_torch.flow_to_rgb_tensor``)
    and ``core.flow.engine.compute_flow_clips`` (and its tensor form).

    ``raft_weights`` is an explicit RAFT weights file for checkpoints whose flow method is RAFT.
    """
    from core.flow import compute_flow
    from core.flow.render import FlowEncoding, flow_to_rgb

    weights = None if raft_weights is None else str(raft_weights)

    def compute(frames: np.ndarray, method: str, **kwargs: Any) -> Any:
        return compute_flow(frames, method, raft_weights=weights, **kwargs)

    def render(flow: np.ndarray, encoding: Mapping[str, Any]) -> np.ndarray:
        return flow_to_rgb(flow, FlowEncoding.from_dict(dict(encoding)))

    def compute_tensor(frames: Any, method: str, **kwargs: Any) -> Any:
        from core.flow.engine import compute_flow_tensor

        return compute_flow_tensor(frames, method, raft_weights=weights, **kwargs)

    def render_tensor(flow: Any, encoding: Mapping[str, Any]) -> Any:
        from core.flow.render_torch import flow_to_rgb_tensor

        return flow_to_rgb_tensor(flow, FlowEncoding.from_dict(dict(encoding)))

    def compute_clips(clips: Sequence[np.ndarray], method: str, **kwargs: Any) -> list[Any]:
        from core.flow.engine import compute_flow_clips

        return compute_flow_clips(clips, method, raft_weights=weights, **kwargs)

    def compute_clips_tensor(clips: Sequence[Any], method: str, **kwargs: Any) -> list[Any]:
        from core.flow.engine import compute_flow_clips_tensor

        return compute_flow_clips_tensor(clips, method, raft_weights=weights, **kwargs)

    return FlowBackend(compute=compute, render=render, compute_tensor=compute_tensor, render_tensor=render_tensor,
                       compute_clips=compute_clips, compute_clips_tensor=compute_clips_tensor)
