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

Memory: each iteration creates about a dozen tensors the size of the flow, and
autograd keeps them all for the backward pass (about 2.7 GB per training clip
with the defaults: 16 frames, 32 channels at 28x28, 20 iterations, 2 layers).
While autograd records, the iterations therefore run in chunks of
``recompute_chunk`` under activation checkpointing: only each chunk's state
(the flow and the dual field) is kept, and the chunk's intermediates are
recomputed when the backward pass reaches it.  Gradients are unchanged; the
cost is one more forward pass of the flow layers (measured: +35% CPU time in the
flow block's forward and backward), which fewer page faults on fresh memory give
back: a default training epoch on the 2-core CPU is no slower.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from core.flow.tvl1 import LinearisedData, TVL1Iteration, tvl1_iterations

# Iterations per recomputed chunk.  A chunk keeps its state (u, px, py: 3 flow-sized tensors) against
# about a dozen intermediates per iteration, so short chunks keep the least; measured peaks of the default
# training run (batch 8, 2-core CPU, glibc malloc): 2 and 4 iterations 6-9 GB, 1 iteration once 14 GB
# (the allocator's holes between the many small kept states), none about 23 GB.
RECOMPUTE_CHUNK = 2

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

    Output channels are ``[x of every channel, y of every channel]``.  ``recompute_chunk``: while
    autograd records, the iterations' intermediates are recomputed in the backward pass, that many
    iterations at a time, instead of kept (0 keeps them all: faster, and memory grows with the iterations).
    """

    def __init__(self, *, iterations: int = 20, theta: float = 0.3, lambda_: float = 0.15, tau: float = 0.25,
                 recompute_chunk: int = RECOMPUTE_CHUNK) -> None:
        super().__init__()
        if recompute_chunk < 0:
            raise ValueError(f"recompute_chunk must be >= 0 (0: keep every iteration's tensors), got {recompute_chunk}")
        self.recompute_chunk = recompute_chunk
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

        def iterate(u: Tensor, px: Tensor, py: Tensor, steps: int) -> tuple[Tensor, Tensor, Tensor]:
            u, (px, py), _ = tvl1_iterations(
                data, u, (px, py), tau=solver.tau, lambda_=solver.lambda_, theta=theta, iterations=steps,
                gradient_op=self.flow_gradient, divergence_op=self.dual_divergence,
            )
            return u, px, py

        state = (u0, torch.zeros_like(u0), torch.zeros_like(u0))
        if not (self.recompute_chunk and torch.is_grad_enabled()):
            return iterate(*state, solver.iterations)[0]
        for start in range(0, solver.iterations, self.recompute_chunk):
            steps = min(self.recompute_chunk, solver.iterations - start)
            state = checkpoint(iterate, *state, steps, use_reentrant=False)
        return state[0]

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
