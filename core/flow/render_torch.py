"""Flow as colour on whatever device the flow is on: :mod:`core.flow.render`'s images from torch tensors, batched.

Why: on a GPU, RAFT's flow can be rendered where it was computed instead of
being copied to the host, drawn there and sent back as images.  The arithmetic
is :mod:`core.flow.render`'s op for op, and on a CPU tensor the images are the
same bytes (tested): the Middlebury kernel here is the one ``render`` runs, a
pair at a time on a CPU (as ``render`` does) and a whole clip at once
elsewhere; the legacy wheel is ``render``'s numpy arithmetic in float64 torch
ops, its square roots and angles taken by numpy on a CPU.

Why those exceptions: ``sqrt`` and ``atan2`` are the only operations here
without one right answer.  torch's CPU kernels are not correctly rounded
(measured on torch 2.14: 15% of float32 square roots and 2% of float64 angles
differ from numpy's in the last bit), and its vectorised and scalar ``atan2``
differ too, so a pixel's angle could depend on where a batch cut the pixels.
A GPU rounds them its own way: there, a last-bit difference moves a colour
channel by at most one grey level at a rare pixel (tested by perturbing them),
except that the ``"max"`` normalisation's longest vector may flip torchvision's
wrap-around quirk (see :func:`middlebury_colours`).  Every other operation
(+, -, *, /, floor, max, indexing) is exact on every device.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from core.errors import FlowError
from core.flow.encoding import WHEEL, FlowEncoding

class _Constants:
    """A device's copies of the wheels and of pi.

    Why tensors on the device rather than Python numbers: CUDA divides by a host
    scalar as a multiplication by its reciprocal, which is not IEEE division.
    The Middlebury columns are the integer-valued table already divided by 255
    (in float32, as the kernel used to divide each look-up): the same numbers
    with six fewer operations a pair.
    """

    def __init__(self, device: torch.device) -> None:
        table = torch.from_numpy(np.round(WHEEL * 255.0).astype(np.float32)) / 255.0
        self.columns = tuple(table[:, c].contiguous().to(device) for c in range(3))
        self.legacy = torch.from_numpy(WHEEL).to(device)
        self.pi32 = torch.tensor(math.pi, dtype=torch.float32, device=device)
        self.pi64 = torch.tensor(math.pi, dtype=torch.float64, device=device)


_CONSTANTS: dict[torch.device, _Constants] = {}


def _constants(device: torch.device) -> _Constants:
    if device not in _CONSTANTS:
        _CONSTANTS[device] = _Constants(device)
    return _CONSTANTS[device]


def _sqrt64(x: Tensor) -> Tensor:
    """float64 square roots rounded as numpy's (correctly): numpy's on a CPU, the device's elsewhere (IEEE on CUDA)."""
    return torch.from_numpy(np.sqrt(x.numpy())) if x.device.type == "cpu" else torch.sqrt(x)


def _atan2_64(y: Tensor, x: Tensor) -> Tensor:
    """float64 angles as numpy's on a CPU; the device's elsewhere (within 2 ulp on CUDA)."""
    return torch.from_numpy(np.arctan2(y.numpy(), x.numpy())) if y.device.type == "cpu" else torch.atan2(y, x)


def max_radius(flow: Tensor) -> Tensor:
    """torchvision's scale of ``flow`` (N, 2, H, W): the longest finite vector plus float32's epsilon (0-d float32)."""
    flow = torch.where(torch.isfinite(flow), flow, torch.zeros((), dtype=torch.float32, device=flow.device))
    return torch.sqrt(torch.sum(flow**2, dim=1)).max() + torch.finfo(torch.float32).eps


def radius_tensor(flow: Tensor, encoding: FlowEncoding) -> Tensor:
    """The radius :func:`core.flow.render.radius_for` gives, as a 0-d float64 tensor on ``flow``'s device."""
    if encoding.normalization == "fixed":
        return torch.tensor(encoding.max_radius, dtype=torch.float64, device=flow.device)
    if encoding.normalization == "max":
        return max_radius(flow).double()
    magnitude = _sqrt64((flow[:, 0] ** 2 + flow[:, 1] ** 2).double()).float()  # numpy's float32 sqrt: exact, so is this
    largest = magnitude.masked_fill(~torch.isfinite(magnitude), 0.0).max() if magnitude.numel() else magnitude.new_zeros(())
    return largest.double().clamp(min=encoding.max_radius)


def middlebury_colours(flow: Tensor, scale: Tensor, *, saturate: bool) -> Tensor:
    """(N, 2, H, W) float32 flow to (N, 3, H, W) uint8 with torchvision's arithmetic.

    ``saturate``: lengths past the scale are drawn at full saturation (a fixed radius).  Without it
    the arithmetic is torchvision's to the last quirk: its largest vector can come out a rounding
    above 1, and a colour channel of 0 there is floored to -1 and stored as 255, as torchvision does.
    """
    constants = _constants(flow.device)
    count = len(WHEEL)
    finite = torch.isfinite(flow).all(dim=1, keepdim=True)
    flow = torch.where(finite, flow, 0.0) / scale
    norm = torch.sqrt(torch.sum(flow**2, dim=1))
    if saturate:
        norm = norm.clamp(max=1.0)
    angle = torch.atan2(-flow[:, 1], -flow[:, 0]) / constants.pi32
    position = (angle + 1) / 2 * (count - 1)
    k0 = torch.floor(position).to(torch.long)
    k1 = (k0 + 1) % count  # k0 is 0..54: the colour after the last is the first
    frac = position - k0
    image = torch.empty((flow.shape[0], 3, *flow.shape[2:]), dtype=torch.uint8, device=flow.device)
    for channel, column in enumerate(constants.columns):
        colour = (1 - frac) * column[k0] + frac * column[k1]
        colour = 1 - norm * (1 - colour)
        image[:, channel] = torch.floor(255 * colour).to(torch.uint8)
    return image.masked_fill_(~finite, 0)


def legacy_colours(flow: Tensor, radius: Tensor) -> Tensor:
    """(N, 2, H, W) flow to (N, H, W, 3) uint8 on the legacy wheel: ``render._colours`` in float64 torch ops."""
    constants = _constants(flow.device)
    wheel = constants.legacy
    u = flow[:, 0].double() / radius
    v = flow[:, 1].double() / radius
    finite = torch.isfinite(u) & torch.isfinite(v)
    u = torch.where(finite, u, 0.0)
    v = torch.where(finite, v, 0.0)
    rad = _sqrt64(u * u + v * v).clamp(max=1.0)
    angle = _atan2_64(-v, -u) / constants.pi64
    count = len(wheel)
    position = torch.remainder((angle + 1.0) / 2.0 * count, count)
    floor = torch.floor(position)
    k0 = floor.to(torch.int64) % count
    k1 = (k0 + 1) % count
    frac = (position - floor)[..., None]
    colour = (1.0 - frac) * wheel[k0] + frac * wheel[k1]
    colour = 1.0 - rad[..., None] * (1.0 - colour)
    colour = torch.where(finite[..., None], colour, 0.0)
    return torch.floor(255.0 * colour + 0.5).to(torch.uint8)


def render_flow_tensor(flow: Tensor, encoding: FlowEncoding = FlowEncoding()) -> tuple[Tensor, Tensor]:
    """Colour images of ``flow`` (N, 2, H, W) as uint8 (N, H, W, 3) on its device, and the radius used
    (0-d: float64 for the legacy wheel, float32 for the Middlebury one, as ``render_flow`` reports them).

    The images equal :func:`core.flow.render.render_flow`'s (see the module's note on ``atan2``).
    The Middlebury images are a channels-first buffer seen channels-last: no copy is made to reorder them.
    """
    if not isinstance(flow, Tensor) or flow.ndim != 4 or flow.shape[1] != 2:
        raise FlowError(f"flow must be a (N, 2, H, W) tensor, got {type(flow).__name__} {tuple(getattr(flow, 'shape', ()))}")
    flow = flow.float()
    radius = radius_tensor(flow, encoding)
    if encoding.wheel == "legacy":
        return legacy_colours(flow, radius), radius
    scale = radius.float()  # the Middlebury arithmetic is float32 throughout, its scale too
    saturate = encoding.normalization != "max"
    if flow.device.type == "cpu" and len(flow) > 1:  # as render does: a pair's angles never depend on where a batch was cut
        images = torch.cat([middlebury_colours(flow[k: k + 1], scale, saturate=saturate) for k in range(len(flow))])
    else:
        images = middlebury_colours(flow, scale, saturate=saturate)
    return images.permute(0, 2, 3, 1), scale


def flow_to_rgb_tensor(flow: Tensor, encoding: FlowEncoding = FlowEncoding()) -> Tensor:
    """:func:`render_flow_tensor`'s images only."""
    return render_flow_tensor(flow, encoding)[0]
