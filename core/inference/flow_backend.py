"""The optical-flow engine as a classifier uses it, injected so tests and the viewer can swap it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np


@dataclass(frozen=True)
class FlowBackend:
    """The flow engine as inference uses it.

    ``compute(frames_uint8 (N, H, W, 3), method, device=, cancel=, progress=)``
    returns an object with ``forward`` ``(N-1, 2, H, W)`` float32, ``method_used``,
    ``fell_back`` and ``note``; ``render(flow (N-1, 2, H, W), encoding_dict)``
    returns ``(N-1, H, W, 3)`` uint8 colour images; with a ``"fixed"`` normalisation
    each image must depend on its own field only (windows then share rendered pairs).
    """

    compute: Callable[..., Any]
    render: Callable[[np.ndarray, Mapping[str, Any]], np.ndarray]


def default_flow_backend(*, raft_weights: str | os.PathLike[str] | None = None) -> FlowBackend:
    """``core.flow.compute_flow`` and ``core.flow.render.flow_to_rgb``.

    ``raft_weights`` is an explicit RAFT weights file for checkpoints whose flow method is RAFT.
    """
    from core.flow import compute_flow
    from core.flow.render import FlowEncoding, flow_to_rgb

    def compute(frames: np.ndarray, method: str, **kwargs: Any) -> Any:
        return compute_flow(frames, method, raft_weights=None if raft_weights is None else str(raft_weights), **kwargs)

    def render(flow: np.ndarray, encoding: Mapping[str, Any]) -> np.ndarray:
        return flow_to_rgb(flow, FlowEncoding.from_dict(dict(encoding)))

    return FlowBackend(compute=compute, render=render)
