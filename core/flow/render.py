"""Flow as colour: the Middlebury colour wheel with an explicit, recorded normalisation.

Hue is the direction (right = red, down = yellow, left = cyan-blue, up =
violet), saturation the length, zero motion white.  torchvision's
``flow_to_image`` divides by the largest motion of whatever batch it gets, so
the same motion changes colour from call to call; here the scale is a setting
(:class:`FlowEncoding`) that a model checkpoint records, so inference renders
flow exactly as training did.

Two wheels: ``middlebury`` is the Middlebury code's and torchvision's arithmetic
to the bit (the angle spread over 54 steps between the 55 colours, values
floored, float32), so seed 000's ``flow_to_image`` pictures are reproduced
exactly (with the ``max`` normalisation, pixel for pixel).  ``legacy`` is what
this program drew before (the angle over 55 steps with wrap-around, values
rounded): a checkpoint that records no wheel was trained on it and keeps it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from core.errors import FlowError

from core.flow.encoding import NORMALISATIONS, WHEEL, WHEELS, FlowEncoding  # noqa: F401 - re-exported


def radius_for(flow: np.ndarray, encoding: FlowEncoding) -> float:
    """The radius (pixels of motion at full saturation) ``flow_to_rgb`` uses for this array."""
    if encoding.normalization == "fixed":
        return encoding.max_radius
    if encoding.normalization == "max":
        return float(_torch_max_radius(np.asarray(flow)))
    array = np.asarray(flow, dtype=np.float32)
    magnitude = np.sqrt(array[..., 0, :, :] ** 2 + array[..., 1, :, :] ** 2)
    finite = magnitude[np.isfinite(magnitude)]
    largest = float(finite.max()) if finite.size else 0.0
    return max(largest, encoding.max_radius)


def flow_to_rgb(flow: np.ndarray, encoding: FlowEncoding = FlowEncoding()) -> np.ndarray:
    """Colour images of ``flow`` (N, 2, H, W) or (2, H, W): uint8 (N, H, W, 3) or (H, W, 3).

    Non-finite vectors are drawn black, so broken flow is seen, not hidden.
    """
    rgb, _ = render_flow(flow, encoding)
    return rgb


def render_flow(flow: np.ndarray, encoding: FlowEncoding = FlowEncoding()) -> tuple[np.ndarray, float]:
    """Like :func:`flow_to_rgb`, also returning the radius used (to record with a "clip" scale)."""
    array = np.asarray(flow)
    if array.ndim not in (3, 4) or array.shape[-3] != 2:
        raise FlowError(f"flow must have shape (2, H, W) or (N, 2, H, W), got {array.shape}")
    if encoding.wheel == "middlebury":
        return _render_middlebury(array, encoding)
    radius = radius_for(array, encoding)
    if array.ndim == 4:  # pair by pair: the same colours, and numpy's indexing holds the GIL a pair at a time, not a whole clip
        out = np.empty(array.shape[:1] + array.shape[2:] + (3,), np.uint8)
        for index, pair in enumerate(array):
            out[index] = _colours(pair, radius)
        return out, radius
    return _colours(array, radius), radius


def _torch_max_radius(array: np.ndarray) -> Any:
    """torchvision's scale: the largest vector length of the whole array, plus float32's epsilon (a 0-d tensor)."""
    import torch

    from core.flow.render_torch import max_radius

    flow = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))
    return max_radius(flow[None] if flow.ndim == 3 else flow)


def _render_middlebury(array: np.ndarray, encoding: FlowEncoding) -> tuple[np.ndarray, float]:
    """The Middlebury wheel with torchvision's arithmetic (float32 torch ops in the same order,
    :func:`core.flow.render_torch.middlebury_colours`), a pair at a time."""
    import torch

    from core.flow.render_torch import middlebury_colours

    exact = encoding.normalization == "max"
    if exact:
        scale = _torch_max_radius(array)
    else:
        scale = torch.tensor(radius_for(array, encoding), dtype=torch.float32)
    flow = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))
    single = flow.ndim == 3
    flow = flow[None] if single else flow
    out = np.empty((flow.shape[0], flow.shape[2], flow.shape[3], 3), np.uint8)
    for index in range(flow.shape[0]):  # pair by pair, as the legacy path
        out[index] = middlebury_colours(flow[index: index + 1], scale, saturate=not exact)[0].permute(1, 2, 0).numpy()
    return (out[0] if single else out), float(scale)


def _colours(flow: np.ndarray, radius: float) -> np.ndarray:
    """(H, W, 3) uint8 colours of one (2, H, W) flow field at ``radius``."""
    u = flow[0].astype(np.float64) / radius
    v = flow[1].astype(np.float64) / radius
    finite = np.isfinite(u) & np.isfinite(v)
    u = np.where(finite, u, 0.0)
    v = np.where(finite, v, 0.0)
    rad = np.minimum(np.sqrt(u * u + v * v), 1.0)
    # angle measured so that +x is the wheel's first colour, going through +y (down)
    angle = np.arctan2(-v, -u) / np.pi  # -1..1; +x gives +-1
    count = len(WHEEL)
    position = np.mod((angle + 1.0) / 2.0 * count, count)
    k0 = np.floor(position).astype(np.int64) % count
    k1 = (k0 + 1) % count
    frac = (position - np.floor(position))[..., None]
    colour = (1.0 - frac) * WHEEL[k0] + frac * WHEEL[k1]
    colour = 1.0 - rad[..., None] * (1.0 - colour)
    colour = np.where(finite[..., None], colour, 0.0)
    return np.ascontiguousarray(np.floor(255.0 * colour + 0.5).astype(np.uint8))


def colour_wheel_legend(size: int = 64, encoding: FlowEncoding = FlowEncoding()) -> np.ndarray:
    """A (size, size, 3) key: the colour of each motion up to ``max_radius`` from the centre."""
    half = (size - 1) / 2.0
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    flow = np.stack([(xs - half) / half, (ys - half) / half]) * encoding.max_radius
    return flow_to_rgb(flow, FlowEncoding("fixed", encoding.max_radius))
