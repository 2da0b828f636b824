"""The representation-flow layer (Piergiovanni & Ryoo 2019; seed 004): TV-L1 on feature maps, learnt.

Feature maps of consecutive frames are treated as images: each channel of
frame t+1 against the same channel of frame t gives one flow field. The
solver is the flow engine's own primal-dual iteration
(:func:`core.flow.tvl1.tvl1_iterations`), run single-scale from zero flow
(one linearisation, no warping, as the paper does), with

* Sobel image gradients (scaled by 1/8, so they are per-pixel slopes and the
  flow comes out in feature pixels),
* learnable ``theta``, ``lambda``, ``tau`` (held by a
  :class:`core.flow.tvl1.TVL1Iteration` with ``learnable=True``),
* learnable two-tap kernels for the flow's gradient and for the divergence of
  the dual field, initialised to the exact forward-difference /
  backward-difference pair, so the layer starts as plain TV-L1.

Features are scaled to 0..255 per sample and channel over the whole clip
(TV-L1's parameters are tuned for that range) with max above min -- the public
code divides by ``min - max`` and so flips every feature's sign; we do not.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from core.flow.tvl1 import LinearisedData, TVL1Iteration, tvl1_iterations

_SOBEL_X = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]]) / 8.0


def normalise_features(x: Tensor, eps: float = 1e-6) -> Tensor:
    """Min-max scale ``(B, C, T, h, w)`` to 0..255 per sample and channel over (T, h, w)."""
    low = x.amin(dim=(2, 3, 4), keepdim=True)
    high = x.amax(dim=(2, 3, 4), keepdim=True)
    return 255.0 * (x - low) / (high - low + eps)


def sobel_gradients(images: Tensor) -> tuple[Tensor, Tensor]:
    """Per-channel Sobel x/y slopes of ``(N, C, h, w)`` (replicated borders), positive uphill."""
    n, c, h, w = images.shape
    kernel_x = _SOBEL_X.to(images)
    kernels = torch.stack((kernel_x, kernel_x.t())).unsqueeze(1)  # (2, 1, 3, 3)
    padded = F.pad(images.reshape(n * c, 1, h, w), (1, 1, 1, 1), mode="replicate")
    grads = F.conv2d(padded, kernels)  # (N*C, 2, h, w)
    grads = grads.view(n, c, 2, h, w)
    return grads[:, :, 0], grads[:, :, 1]


class RepresentationFlow(nn.Module):
    """``(B, C, T, h, w)`` features to ``(B, 2C, T-1, h, w)`` flow between consecutive frames.

    Output channels are ``[x of every channel, y of every channel]``.
    """

    def __init__(self, *, iterations: int = 20, theta: float = 0.3, lambda_: float = 0.15, tau: float = 0.25) -> None:
        super().__init__()
        self.solver = TVL1Iteration(tau=tau, lambda_=lambda_, theta=theta, iterations=iterations, learnable=True)
        self.gradient_x = nn.Parameter(torch.tensor([-1.0, 1.0]))  # taps on u[x], u[x+1]
        self.gradient_y = nn.Parameter(torch.tensor([-1.0, 1.0]))
        self.divergence_x = nn.Parameter(torch.tensor([-1.0, 1.0]))  # taps on p[x-1], p[x]
        self.divergence_y = nn.Parameter(torch.tensor([-1.0, 1.0]))

    @property
    def iterations(self) -> int:
        return self.solver.iterations

    def flow_gradient(self, u: Tensor) -> tuple[Tensor, Tensor]:
        """Learnt forward differences, zero on the last column / row (like the solver's own)."""
        gx, gy = self.gradient_x, self.gradient_y
        ux = F.pad(gx[0] * u[..., :, :-1] + gx[1] * u[..., :, 1:], (0, 1))
        uy = F.pad(gy[0] * u[..., :-1, :] + gy[1] * u[..., 1:, :], (0, 0, 0, 1))
        return ux, uy

    def dual_divergence(self, px: Tensor, py: Tensor) -> Tensor:
        """Learnt backward differences of the dual field (the adjoint pair at initialisation)."""
        dx, dy = self.divergence_x, self.divergence_y
        return dx[1] * px + dx[0] * F.pad(px[..., :, :-1], (1, 0)) + dy[1] * py + dy[0] * F.pad(py[..., :-1, :], (0, 0, 1, 0))

    def pair_flow(self, i0: Tensor, i1: Tensor) -> Tensor:
        """TV-L1 from ``i0`` to ``i1`` (N, C, h, w), one flow per channel: (N, 2, C, h, w)."""
        gx, gy = sobel_gradients(i1)
        data = LinearisedData(grad=torch.stack((gx, gy), dim=1), grad_sq=gx * gx + gy * gy, rho_c=i1 - i0)
        u0 = i0.new_zeros(i0.shape[0], 2, *i0.shape[1:])
        solver = self.solver
        theta = solver.theta.clamp_min(1e-3)  # tau/theta must stay finite while theta is learnt
        u, _, _ = tvl1_iterations(
            data, u0, tau=solver.tau, lambda_=solver.lambda_, theta=theta, iterations=solver.iterations,
            gradient_op=self.flow_gradient, divergence_op=self.dual_divergence,
        )
        return u

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 5 or x.shape[2] < 2:
            raise ValueError(f"representation flow needs (B, C, T, h, w) features with T >= 2, got shape {tuple(x.shape)}")
        b, c, t, h, w = x.shape
        x = normalise_features(x)
        frames = x.transpose(1, 2)  # (B, T, C, h, w)
        i0 = frames[:, :-1].reshape(b * (t - 1), c, h, w)
        i1 = frames[:, 1:].reshape(b * (t - 1), c, h, w)
        u = self.pair_flow(i0, i1)  # (B*(T-1), 2, C, h, w)
        return u.view(b, t - 1, 2 * c, h, w).transpose(1, 2)
