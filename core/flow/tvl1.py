"""TV-L1 optical flow in torch (Zach, Pock & Bischof 2007; as laid out by Sanchez,
Meinhardt-Llopis & Facciolo, IPOL 2013), on CPU or GPU.

Two layers, because two users need it:

* :func:`tvl1_refine` / :class:`TVL1Iteration`: ONE linearisation (warp) of the
  data term followed by the primal-dual iterations, on ``(B, C, H, W)`` tensors
  with one flow per channel, written without in-place tensor updates so autograd
  flows through it and ``tau``/``lambda``/``theta`` may be ``nn.Parameter`` s.  The
  representation-flow layer (seed 004) wraps exactly this, single scale, learnable.
* the image method (coarse-to-fine pyramid, warps, median filtering, batched
  pairs, as OpenCV's ``DualTVL1`` runs it) lives in :mod:`core.flow.tvl1_image`,
  which runs these same steps in place for speed.

Shapes: images ``(B, C, H, W)``; flow ``(B, 2, C, H, W)`` with index 0 = x
(horizontal) and 1 = y (vertical), in pixels of the image given.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

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


def warp_backward(images: Tensor, flow: Tensor, mode: str = "bilinear") -> Tensor:
    """Sample ``images`` (B, C', H, W) at ``x + flow(x)``; flow (B, 2, H, W) in pixels.

    Bilinear (or ``mode`` "bicubic"); outside the frame the nearest border value (as the IPOL code does).
    """
    batch, _, height, width = images.shape
    ys = torch.arange(height, device=images.device, dtype=images.dtype)
    xs = torch.arange(width, device=images.device, dtype=images.dtype)
    gx = (xs.view(1, 1, width) + flow[:, 0]) * (2.0 / max(width - 1, 1)) - 1.0
    gy = (ys.view(1, height, 1) + flow[:, 1]) * (2.0 / max(height - 1, 1)) - 1.0
    grid = torch.stack((gx, gy), dim=-1)
    return F.grid_sample(images, grid, mode=mode, padding_mode="border", align_corners=True)


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
