"""TV-L1 optical flow in torch (Zach, Pock & Bischof 2007; as laid out by Sanchez,
Meinhardt-Llopis & Facciolo, IPOL 2013), on CPU or GPU.

Two layers, because two users need it:

* :func:`tvl1_refine` / :class:`TVL1Iteration`: ONE linearisation (warp) of the
  data term followed by the primal-dual iterations, on ``(B, C, H, W)`` tensors
  with one flow per channel, written without in-place tensor updates so autograd
  flows through it and ``tau``/``lambda``/``theta`` may be ``nn.Parameter`` s.  The
  representation-flow layer (seed 004) wraps exactly this, single scale, learnable.
* :func:`tvl1_flow`: the image method: grayscale, structure-texture split,
  coarse-to-fine pyramid, several warps per scale, median filtering of the flow
  between warps (as OpenCV's ``DualTVL1`` does); pairs run batched.

Shapes: images ``(B, C, H, W)``; flow ``(B, 2, C, H, W)`` with index 0 = x
(horizontal) and 1 = y (vertical), in pixels of the image given.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

ScalarLike = float | Tensor


# -- finite differences: forward gradient and its exact negative adjoint ------------------


def forward_gradient(u: Tensor) -> tuple[Tensor, Tensor]:
    """Forward differences along x and y; zero on the last column / row (Neumann)."""
    ux = F.pad(u[..., :, 1:] - u[..., :, :-1], (0, 1))
    uy = F.pad(u[..., 1:, :] - u[..., :-1, :], (0, 0, 0, 1))
    return ux, uy


def divergence(px: Tensor, py: Tensor) -> Tensor:
    """Backward-difference divergence, the negative adjoint of :func:`forward_gradient`."""
    return px - F.pad(px[..., :, :-1], (1, 0)) + py - F.pad(py[..., :-1, :], (0, 0, 1, 0))


def central_gradient(image: Tensor) -> tuple[Tensor, Tensor]:
    """Central differences with replicated borders (the image gradient of the data term)."""
    padded = F.pad(image, (1, 1, 1, 1), mode="replicate") if image.dim() == 4 else _pad_replicate_nd(image)
    gx = 0.5 * (padded[..., 1:-1, 2:] - padded[..., 1:-1, :-2])
    gy = 0.5 * (padded[..., 2:, 1:-1] - padded[..., :-2, 1:-1])
    return gx, gy


def _pad_replicate_nd(image: Tensor) -> Tensor:
    shape = image.shape
    return F.pad(image.reshape(-1, 1, *shape[-2:]), (1, 1, 1, 1), mode="replicate").reshape(*shape[:-2], shape[-2] + 2, shape[-1] + 2)


def warp_backward(images: Tensor, flow: Tensor) -> Tensor:
    """Sample ``images`` (B, C', H, W) at ``x + flow(x)``; flow (B, 2, H, W) in pixels.

    Bilinear; outside the frame the nearest border value (as the IPOL code does).
    """
    batch, _, height, width = images.shape
    ys = torch.arange(height, device=images.device, dtype=images.dtype)
    xs = torch.arange(width, device=images.device, dtype=images.dtype)
    gx = (xs.view(1, 1, width) + flow[:, 0]) * (2.0 / max(width - 1, 1)) - 1.0
    gy = (ys.view(1, height, 1) + flow[:, 1]) * (2.0 / max(height - 1, 1)) - 1.0
    grid = torch.stack((gx, gy), dim=-1)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=True)


# -- the reusable core: one warp, primal-dual iterations ------------------------------------


@dataclass
class LinearisedData:
    """The data term linearised around the current flow ``u0`` (Sanchez eq. 13).

    ``grad`` (B, 2, C, H, W) is the gradient of the warped second image,
    ``grad_sq`` its squared norm and ``rho_c`` the constant part of the residual
    ``rho(u) = rho_c + grad . u``.
    """

    grad: Tensor
    grad_sq: Tensor
    rho_c: Tensor


def linearise(i0: Tensor, i1: Tensor, u0: Tensor, *, i1_grad: tuple[Tensor, Tensor] | None = None) -> LinearisedData:
    """Warp ``i1`` (and its gradient) by ``u0`` and linearise the brightness constancy residual.

    ``i0``, ``i1``: (B, C, H, W); ``u0``: (B, 2, C, H, W).  The gradient of ``i1``
    may be passed in (computed once per scale by the caller).
    """
    batch, channels, height, width = i0.shape
    gx, gy = central_gradient(i1) if i1_grad is None else i1_grad
    stacked = torch.cat((i1, gx, gy), dim=1)  # (B, 3C, H, W)
    if channels == 1:
        warped = warp_backward(stacked, u0[:, :, 0])
    else:  # one flow per channel: fold channels into the batch
        folded = stacked.view(batch, 3, channels, height, width).transpose(1, 2).reshape(batch * channels, 3, height, width)
        flow = u0.transpose(1, 2).reshape(batch * channels, 2, height, width)
        warped = warp_backward(folded, flow).view(batch, channels, 3, height, width).transpose(1, 2).reshape(batch, 3 * channels, height, width)
    i1w, i1wx, i1wy = warped.split(channels, dim=1)
    grad = torch.stack((i1wx, i1wy), dim=1)  # (B, 2, C, H, W)
    grad_sq = i1wx * i1wx + i1wy * i1wy
    rho_c = i1w - (grad * u0).sum(dim=1) - i0
    return LinearisedData(grad=grad, grad_sq=grad_sq, rho_c=rho_c)


def tvl1_iterations(
    data: LinearisedData,
    u: Tensor,
    p: tuple[Tensor, Tensor] | None = None,
    *,
    tau: ScalarLike,
    lambda_: ScalarLike,
    theta: ScalarLike,
    iterations: int,
    epsilon: float = 0.0,
    check_every: int = 10,
    gradient_op: Callable[[Tensor], tuple[Tensor, Tensor]] = forward_gradient,
    divergence_op: Callable[[Tensor, Tensor], Tensor] = divergence,
) -> tuple[Tensor, tuple[Tensor, Tensor], int]:
    """Primal-dual TV-L1 iterations on a linearised data term.

    Each iteration: thresholding step ``v = TH(u)`` (the closed form of the
    pointwise L1 problem: a clamp of ``-rho / |grad|^2`` to ``+-lambda*theta``), the
    primal step ``u = v + theta * div(p)``, and the dual step
    ``p = (p + tau/theta grad u) / (1 + tau/theta |grad u|)``.

    ``u`` (B, 2, C, H, W); ``p`` = (px, py), each like ``u`` (zeros when None).
    Stops early when ``epsilon > 0`` and the mean squared update, checked every
    ``check_every`` iterations, falls below ``epsilon**2`` (inference only: the
    check reads a value back from the device).  Returns ``(u, p, iterations_run)``.
    No in-place updates: differentiable in ``u``, the images and the parameters.
    ``gradient_op``/``divergence_op`` replace the flow's finite differences (the
    representation-flow layer learns them); the defaults are the exact pair.
    """
    if p is None:
        p = (torch.zeros_like(u), torch.zeros_like(u))
    px, py = p
    l_t = lambda_ * theta
    ratio = tau / theta
    # -rho / |grad|^2 = -(rho_c + grad.u) / grad_sq; precompute 1/grad_sq with a floor for flat areas
    inv_grad_sq = 1.0 / data.grad_sq.clamp_min(1e-9)
    grad = data.grad
    done = 0
    for step in range(iterations):
        rho = data.rho_c + (grad * u).sum(dim=1)
        step_len = torch.clamp(-rho * inv_grad_sq, min=-l_t, max=l_t) if not isinstance(l_t, Tensor) else torch.minimum(torch.maximum(-rho * inv_grad_sq, -l_t), l_t)
        v = u + step_len.unsqueeze(1) * grad
        u_new = v + theta * divergence_op(px, py)
        ux, uy = gradient_op(u_new)
        norm = torch.sqrt(ux * ux + uy * uy + 1e-12)  # the floor keeps the gradient finite where u is flat
        denom = 1.0 + ratio * norm
        px = (px + ratio * ux) / denom
        py = (py + ratio * uy) / denom
        done = step + 1
        if epsilon > 0 and (done % check_every == 0 or done == iterations):
            change = float(((u_new - u) ** 2).mean())
            u = u_new
            if change < epsilon * epsilon:
                break
        else:
            u = u_new
    return u, (px, py), done


def tvl1_refine(
    i0: Tensor,
    i1: Tensor,
    u: Tensor | None = None,
    *,
    tau: ScalarLike = 0.25,
    lambda_: ScalarLike = 0.15,
    theta: ScalarLike = 0.3,
    iterations: int = 20,
    epsilon: float = 0.0,
) -> Tensor:
    """One warp of TV-L1 at a single scale: ``(B, C, H, W)`` images to ``(B, 2, C, H, W)`` flow.

    The building block of the representation-flow layer: differentiable, with
    the flow of each channel estimated independently.
    """
    _check_pair(i0, i1)
    if u is None:
        u = i0.new_zeros(i0.shape[0], 2, *i0.shape[1:])
    elif u.shape != (i0.shape[0], 2, *i0.shape[1:]):
        raise ValueError(f"initial flow must have shape {(i0.shape[0], 2, *i0.shape[1:])}, got {tuple(u.shape)}")
    data = linearise(i0, i1, u)
    u, _, _ = tvl1_iterations(data, u, tau=tau, lambda_=lambda_, theta=theta, iterations=iterations, epsilon=epsilon)
    return u


class TVL1Iteration(nn.Module):
    """``tvl1_refine`` as a module whose ``tau``, ``lambda`` and ``theta`` may be learnt.

    ``learnable=True`` makes them ``nn.Parameter`` s (the representation-flow layer);
    otherwise they are buffers that follow ``.to(device)``.
    """

    def __init__(self, *, tau: float = 0.25, lambda_: float = 0.15, theta: float = 0.3, iterations: int = 20, learnable: bool = False) -> None:
        super().__init__()
        if iterations < 1:
            raise ValueError(f"iterations must be >= 1, got {iterations}")
        self.iterations = iterations
        for name, value in (("tau", tau), ("lambda_", lambda_), ("theta", theta)):
            tensor = torch.tensor(float(value))
            if learnable:
                setattr(self, name, nn.Parameter(tensor))
            else:
                self.register_buffer(name, tensor)

    def forward(self, i0: Tensor, i1: Tensor, u: Tensor | None = None) -> Tensor:
        return tvl1_refine(i0, i1, u, tau=self.tau, lambda_=self.lambda_, theta=self.theta, iterations=self.iterations)


def _check_pair(i0: Tensor, i1: Tensor) -> None:
    if i0.dim() != 4 or i0.shape != i1.shape:
        raise ValueError(f"TV-L1 expects two (B, C, H, W) tensors of the same shape, got {tuple(i0.shape)} and {tuple(i1.shape)}")


# -- the image method: pyramid, warps, median filter --------------------------------------


@dataclass(frozen=True)
class TVL1Settings:
    """Parameters of the image method.

    The defaults are Sanchez et al.'s model parameters with 5 scales of 0.5, 5
    warps and 20 iterations a warp: on the Middlebury and Sintel pairs, 30-50
    iterations, 8 warps or a 0.7 pyramid gained under 5% EPE for 1.5-4x the time.

    ``tau``, ``lambda_``, ``theta``: the TV-L1 model (Sanchez et al. defaults);
    ``scales``/``scale_step``: the pyramid (coarsest level ``scale_step**(scales-1)``);
    ``warps``: linearisations per scale; ``iterations``: primal-dual steps per warp
    (``epsilon`` may stop them early); ``median``: median filter size applied to the
    flow after each warp (0 = none); ``texture``: weight of the blurred image
    subtracted before matching (structure-texture split; 0 = off), which makes the
    data term robust to shading changes.
    """

    tau: float = 0.25
    lambda_: float = 0.15
    theta: float = 0.3
    scales: int = 5
    scale_step: float = 0.5
    warps: int = 5
    iterations: int = 20
    epsilon: float = 0.01
    median: int = 5
    texture: float = 0.0
    min_side: int = 16


def tvl1_flow(
    image0: Tensor,
    image1: Tensor,
    settings: TVL1Settings = TVL1Settings(),
    *,
    cancel_check: Optional[Callable[[], None]] = None,
) -> Tensor:
    """Coarse-to-fine TV-L1 flow from ``image0`` to ``image1``: (B, 1, H, W) float in 0..255 to (B, 2, H, W) pixels."""
    _check_pair(image0, image1)
    if image0.shape[1] != 1:
        raise ValueError(f"tvl1_flow expects single-channel images (B, 1, H, W), got {tuple(image0.shape)}")
    i0 = _prepare(image0, settings.texture)
    i1 = _prepare(image1, settings.texture)
    pyramid = _pyramid(i0, i1, settings)
    u: Tensor | None = None
    with torch.no_grad():
        for level, (j0, j1) in enumerate(reversed(pyramid)):
            if cancel_check is not None:
                cancel_check()
            height, width = j0.shape[-2:]
            if u is None:
                u = j0.new_zeros(j0.shape[0], 2, 1, height, width)
            else:
                u = _upsample_flow(u, height, width)
            grads = central_gradient(j1)
            for _ in range(settings.warps):
                data = linearise(j0, j1, u, i1_grad=grads)
                u, _, _ = tvl1_iterations(
                    data, u, tau=settings.tau, lambda_=settings.lambda_, theta=settings.theta,
                    iterations=settings.iterations, epsilon=settings.epsilon,
                )
                if settings.median > 1:
                    u = median_filter(u, settings.median)
    assert u is not None
    return u[:, :, 0]


def _prepare(image: Tensor, texture: float) -> Tensor:
    image = image.float()
    if texture > 0:
        blurred = _gaussian_blur(image, sigma=3.0)
        image = (image - texture * blurred) / max(1.0 - texture, 1e-3)
    return image


def _pyramid(i0: Tensor, i1: Tensor, settings: TVL1Settings) -> list[tuple[Tensor, Tensor]]:
    levels = [(i0, i1)]
    height, width = i0.shape[-2:]
    for level in range(1, settings.scales):
        factor = settings.scale_step**level
        h, w = round(height * factor), round(width * factor)
        if min(h, w) < settings.min_side:
            break
        sigma = 0.6 * (1.0 / settings.scale_step**2 - 1.0) ** 0.5
        prev0, prev1 = levels[-1]
        levels.append(tuple(F.interpolate(_gaussian_blur(x, sigma), size=(h, w), mode="bilinear", align_corners=False) for x in (prev0, prev1)))  # type: ignore[misc]
    return levels


def _upsample_flow(u: Tensor, height: int, width: int) -> Tensor:
    batch, two, channels, h, w = u.shape
    up = F.interpolate(u.reshape(batch, two * channels, h, w), size=(height, width), mode="bilinear", align_corners=False)
    up = up.view(batch, two, channels, height, width)
    scale = torch.tensor([width / w, height / h], dtype=u.dtype, device=u.device).view(1, 2, 1, 1, 1)
    return up * scale


def _gaussian_blur(image: Tensor, sigma: float) -> Tensor:
    radius = max(1, int(round(2.5 * sigma)))
    xs = torch.arange(-radius, radius + 1, dtype=image.dtype, device=image.device)
    kernel = torch.exp(-(xs * xs) / (2 * sigma * sigma))
    kernel = kernel / kernel.sum()
    channels = image.shape[1]
    padded = F.pad(image, (radius, radius, radius, radius), mode="replicate")
    out = F.conv2d(padded, kernel.view(1, 1, 1, -1).expand(channels, 1, 1, -1), groups=channels)
    return F.conv2d(out, kernel.view(1, 1, -1, 1).expand(channels, 1, -1, 1), groups=channels)


def median_filter(u: Tensor, size: int) -> Tensor:
    """Median of each ``size x size`` window, per flow component (replicated borders).

    On the CPU OpenCV's ``medianBlur`` does it (about 300x faster than a torch
    sort of the windows, and identical); elsewhere the windows are sorted.
    """
    shape = u.shape
    if u.device.type == "cpu" and size in (3, 5) and u.dtype == torch.float32 and not u.requires_grad:
        import cv2

        planes = u.reshape(-1, *shape[-2:]).contiguous().numpy()
        return torch.from_numpy(np.stack([cv2.medianBlur(plane, size) for plane in planes])).reshape(shape)
    flat = u.reshape(-1, 1, *shape[-2:])
    radius = size // 2
    padded = F.pad(flat, (radius, radius, radius, radius), mode="replicate")
    windows = padded.unfold(2, size, 1).unfold(3, size, 1)  # (N, 1, H, W, size, size)
    med = windows.reshape(*windows.shape[:4], size * size).median(dim=-1).values
    return med.reshape(shape)


def tvl1_clip_flow(
    frames: np.ndarray,
    *,
    device: torch.device,
    backward: bool = False,
    settings: TVL1Settings = TVL1Settings(),
    batch_pixels: int | None = None,
    cancel_check: Optional[Callable[[], None]] = None,
    progress: Optional[Callable[[int, int], None]] = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """TV-L1 flow of each consecutive pair of (N, H, W, 3) uint8 RGB ``frames``.

    Pairs (and the swapped pairs for backward flow) run in batches of about
    ``batch_pixels`` pixels.  Returns float32 ``(N-1, 2, H, W)`` arrays.
    """
    from core.flow.classical import to_gray

    gray = torch.from_numpy(to_gray(frames)).to(device=device, dtype=torch.float32).unsqueeze(1)  # (N, 1, H, W)
    pairs = gray.shape[0] - 1
    jobs = [(i, i + 1) for i in range(pairs)] + ([(i + 1, i) for i in range(pairs)] if backward else [])
    if batch_pixels is None:
        # a GPU wants big batches; on a CPU four 224x224 pairs a batch run 1.5x faster than one (measured)
        batch_pixels = 8 * 864 * 480 if device.type == "cuda" else 4 * 224 * 224
    per_batch = max(1, batch_pixels // (gray.shape[2] * gray.shape[3]))
    results = torch.empty(len(jobs), 2, *gray.shape[2:])
    for start in range(0, len(jobs), per_batch):
        if cancel_check is not None:
            cancel_check()
        chunk = jobs[start: start + per_batch]
        first = gray[[a for a, _ in chunk]]
        second = gray[[b for _, b in chunk]]
        results[start: start + len(chunk)] = tvl1_flow(first, second, settings, cancel_check=cancel_check).cpu()
        if progress is not None:
            progress(start + len(chunk), len(jobs))
    out = results.numpy()
    return out[:pairs], (out[pairs:] if backward else None)
