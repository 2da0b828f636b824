"""TV-L1 flow between images: the coarse-to-fine method, run batched in torch on the CPU or a GPU.

The model and its iterations are those of :mod:`core.flow.tvl1` (Zach, Pock &
Bischof 2007; Sanchez, Meinhardt-Llopis & Facciolo, IPOL 2013), laid out as
OpenCV contrib's ``DualTVL1OpticalFlow`` runs them (the reference people
compare against): a pyramid of ``scale_step`` 0.8, bicubic warps,
up to ``outer`` x ``inner`` iterations a warp that stop when the flow no longer
moves (``epsilon``; each pair of a batch on its own, as if alone), the dual variables kept from warp to warp within a scale,
a median filter of the flow before every block of ``inner`` iterations.

What differs, each measured on the 14 Middlebury and Sintel pairs beside the
project (``python main.py bench flow``), where OpenCV's defaults lose large
motions (Urban2, Sintel cave_2 and market_5) and we want every pair at least as
good: a deeper pyramid (10 levels, not 5) whose levels are resized from the
finest image with an antialiasing filter (OpenCV subsamples the level before
without one); at the level where OpenCV's 5-level pyramid starts, a second
solve from zero flow, fused pixel by pixel with the one from above by the
lower local brightness residual (the deep start alone misleads small, fine
motions such as Venus'); a data term only where the flow stays inside the
frame; six warps a scale instead of five, lambda 0.16 and theta 0.22 instead
of 0.15 and 0.3.

Speed: these iterations never need autograd, so they run in place on flat
buffers allocated once a scale (about 20 plain passes over memory a step instead
of about 40 tensor operations with allocations), which matters most on a busy
machine where every operation waits its turn.  The differentiable form for
learning stays :func:`core.flow.tvl1.tvl1_iterations`.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, fields
from typing import Callable, Iterator, Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from core.flow.tvl1 import central_gradient, warp_backward


@dataclass(frozen=True)
class TVL1Settings:
    """Parameters of the image method (the module's docstring says where they differ from OpenCV's).

    ``tau``, ``lambda_``, ``theta``: the TV-L1 model; ``scales``/``scale_step``: the
    pyramid (it stops before a side would fall under ``min_side``); ``zero_start``:
    the level (counted in scales, 0 = off) that also solves from zero flow and
    keeps, per pixel, the better of the two; ``warps``: linearisations per scale;
    ``outer`` blocks of ``inner`` primal-dual steps per warp, a median filter of
    size ``median`` (0 = none) before each block; the steps stop once the squared
    change of the flow per step, per pixel, falls under ``epsilon**2`` (checked
    every ``check_every`` steps, for each pair on its own: a pair's flow does
    not depend on the pairs batched with it);
    ``interpolation``: warping ("bicubic" or "bilinear"); ``ignore_outside``: no
    data term where the flow leaves the frame; ``texture``: weight of the blurred
    image subtracted before matching (structure-texture split; 0 = off).
    """

    tau: float = 0.25
    lambda_: float = 0.16
    theta: float = 0.22
    scales: int = 10
    scale_step: float = 0.8
    zero_start: int = 5
    warps: int = 6
    inner: int = 30
    outer: int = 10
    epsilon: float = 0.01
    check_every: int = 10
    median: int = 5
    interpolation: str = "bicubic"
    ignore_outside: bool = True
    texture: float = 0.0
    min_side: int = 16


DEFAULT_SETTINGS = TVL1Settings()  # what the flow engine runs (and what flow caches key on)


def tvl1_flow(
    image0: Tensor,
    image1: Tensor,
    settings: TVL1Settings = DEFAULT_SETTINGS,
    *,
    cancel_check: Optional[Callable[[], None]] = None,
) -> Tensor:
    """Coarse-to-fine TV-L1 flow from ``image0`` to ``image1``: (B, 1, H, W) float in 0..255 to (B, 2, H, W) pixels."""
    if image0.dim() != 4 or image0.shape != image1.shape or image0.shape[1] != 1:
        raise ValueError(f"tvl1_flow expects two single-channel (B, 1, H, W) tensors of one shape, got {tuple(image0.shape)} and {tuple(image1.shape)}")
    with torch.no_grad():
        pyramid = _pyramid(_prepare(image0, settings.texture), _prepare(image1, settings.texture), settings)
        u: Tensor | None = None
        for level in range(len(pyramid) - 1, -1, -1):
            if cancel_check is not None:
                cancel_check()
            j0, j1 = pyramid[level]
            height, width = j0.shape[-2:]
            zero = j0.new_zeros(j0.shape[0], 2, height, width)
            if u is None:
                u = _solve_scale(j0, j1, zero, settings, cancel_check)
                continue
            u = _solve_scale(j0, j1, _upsample_flow(u, height, width), settings, cancel_check)
            if level == settings.zero_start - 1:
                fused = _fuse(u, _solve_scale(j0, j1, zero, settings, cancel_check), j0, j1, settings)
                u = _solve_scale(j0, j1, fused, settings, cancel_check)
    assert u is not None
    return u


def _fuse(first: Tensor, second: Tensor, i0: Tensor, i1: Tensor, s: TVL1Settings) -> Tensor:
    """Per pixel, the flow whose local brightness residual (|I1(x + u) - I0(x)|, blurred) is lower."""
    def cost(u: Tensor) -> Tensor:
        return _gaussian_blur((warp_backward(i1, u, s.interpolation) - i0).abs(), 2.0)

    return torch.where(cost(first) <= cost(second), first, second)


def _solve_scale(i0: Tensor, i1: Tensor, u: Tensor, s: TVL1Settings, cancel_check: Optional[Callable[[], None]]) -> Tensor:
    """All warps of one scale; ``u`` (B, 2, H, W) is updated in place and returned."""
    gx, gy = central_gradient(i1)
    stacked = torch.cat((i1, gx, gy), dim=1)
    state = _DualState(u, s)
    for _ in range(s.warps):
        _solve_warp(state, _linearise(i0, stacked, u, s.interpolation, s.ignore_outside), s, cancel_check)
    return u


def _solve_warp(state: "_DualState", data: "_Linearised", s: TVL1Settings, cancel_check: Optional[Callable[[], None]]) -> None:
    """Up to ``outer`` x ``inner`` steps of one warp, each pair stopping on its own test (see :class:`_ActivePairs`)."""
    height, width = state.u.shape[-2:]
    limit = s.epsilon * s.epsilon  # OpenCV's: the squared change of both components, summed, per pixel
    active = _ActivePairs(state, data, s)
    for _ in range(s.outer):
        if active.done:
            break
        if cancel_check is not None:
            cancel_check()
        if s.median > 1:
            active.state.u.copy_(median_filter(active.state.u, s.median))
        for step in range(1, s.inner + 1):
            check = s.epsilon > 0 and (step % s.check_every == 0 or step == s.inner)
            if check:
                active.before.copy_(active.state.u)
            active.state.iterate(active.data)
            if check:
                change = active.before.sub_(active.state.u).square_().sum(dim=(1, 2, 3)) / (height * width)
                active.settle((change < limit).tolist())
                if active.done:
                    break
    active.finish()


class _DualState:
    """The dual variables of one scale and the scratch buffers of its iterations, allocated once
    (and again for the pairs still moving once half a batch has settled: :class:`_ActivePairs`).

    Every array is flat and contiguous so each step is a plain pass over memory:
    the dual variables carry ``width`` leading zeros, so that "the neighbour
    before" of the backward-difference divergence is the same buffer one element
    (x) or one row (y) earlier, a view, and forward differences of the flow are
    one subtraction of two shifted views with a mask that zeroes the last column
    (x) or row (y) -- where the difference would run into the next row or plane --
    and folds in the step size ``tau / theta``.
    """

    def __init__(self, u: Tensor, s: TVL1Settings) -> None:
        batch, _, height, width = u.shape
        n = u.numel()
        self.u, self.l_t, self.theta = u, s.lambda_ * s.theta, s.theta
        flat = u.view(-1)
        dual_x, dual_y = u.new_zeros(n + width), u.new_zeros(n + width)
        self.u_x, self.u_y = u.new_zeros(batch, 2, height, width), u.new_zeros(batch, 2, height, width)
        ratio = s.tau / s.theta
        self.mask_x = u.new_full((height, width), ratio)
        self.mask_x[:, -1] = 0.0
        self.mask_y = u.new_full((height, width), ratio)
        self.mask_y[-1, :] = 0.0
        self.rho = u.new_empty(batch, 1, height, width)
        self.norm = u.new_empty(batch, 2, height, width)
        self.div = u.new_empty(n)
        # every view a step needs, made once (slicing in the loop costs as much as a small operation)
        self.flat, self.u_0, self.u_1 = flat, u[:, :1], u[:, 1:]
        self.p_x, self.p_x_before = dual_x[width:], dual_x[width - 1: width - 1 + n]
        self.p_y, self.p_y_before = dual_y[width:], dual_y[:n]
        self.p_x_grid, self.p_y_grid = self.p_x.view_as(u), self.p_y.view_as(u)
        self.right, self.here_x, self.u_x_out = flat[1:], flat[:-1], self.u_x.view(-1)[:-1]
        self.below, self.here_y, self.u_y_out = flat[width:], flat[:-width], self.u_y.view(-1)[:-width]

    def iterate(self, data: "_Linearised") -> None:
        """One primal-dual step in place, the step of :func:`core.flow.tvl1.tvl1_iterations`:
        thresholding, primal update, dual update."""
        u, rho, div, norm, u_x, u_y = self.u, self.rho, self.div, self.norm, self.u_x, self.u_y
        # v = u + clamp(-rho / |grad|^2, +-lambda*theta) * grad
        torch.addcmul(data.rho_c, data.grad_x, self.u_0, out=rho)
        rho.addcmul_(data.grad_y, self.u_1)
        rho.mul_(data.neg_inv).clamp_(-self.l_t, self.l_t)
        u.addcmul_(data.grad, rho)
        # u = v + theta * div(p); p stored as theta * p
        torch.sub(self.p_x, self.p_x_before, out=div)
        div.add_(self.p_y).sub_(self.p_y_before)
        self.flat.add_(div)
        # p = (p + tau/theta grad u) / (1 + tau/theta |grad u|)
        torch.sub(self.right, self.here_x, out=self.u_x_out)
        torch.sub(self.below, self.here_y, out=self.u_y_out)
        u_x.mul_(self.mask_x)  # tau/theta grad u, 0 on the last column / row
        u_y.mul_(self.mask_y)
        torch.mul(u_x, u_x, out=norm)
        norm.addcmul_(u_y, u_y).sqrt_().add_(1.0)
        self.p_x_grid.add_(u_x, alpha=self.theta).div_(norm)
        self.p_y_grid.add_(u_y, alpha=self.theta).div_(norm)


class _ActivePairs:
    """The pairs of a batch still iterating in one warp, and the state and data they iterate on.

    Why: a pair must stop on its own test, exactly as if it ran alone, or its
    flow would depend on the pairs batched with it (training and evaluation
    batch a video's pairs differently, the viewer by chunk, the engine by
    ``batch_pixels`` and threads).  Pairs never interact within a step, so a
    settled pair's flow and dual variables are kept aside (a small copy) and it
    may go on iterating as dead weight, restored when the warp ends.  Once half
    the batch is dead weight, the pairs still moving go on in a compacted batch
    of their own (flow, dual variables, linearised data): a copy of the whole
    state costs about a step, worth it only when it saves half of every step
    after it (similar pairs settle a few checks apart: copying at each would
    cost more than it saves).  The dual variables carry over to the next warp
    of the scale, so the warp's end writes everything back.
    """

    def __init__(self, full: "_DualState", data: "_Linearised", s: TVL1Settings) -> None:
        self.full, self.state, self.data, self.settings = full, full, data, s
        self.places: Tensor | None = None  # each row's place in the full batch; None: the rows are the full batch
        self.moving = [True] * full.u.shape[0]  # per row of ``state``
        self.kept: list[tuple[Tensor, list[Tensor]]] = []  # (places, flow and duals) of the pairs settled so far
        self.before = torch.empty_like(full.u)

    @property
    def done(self) -> bool:
        return not any(self.moving)

    def settle(self, settled: list[bool]) -> None:
        """Stop the rows ``settled`` marks (their flow and duals are final for this warp); the rest go on."""
        rows = [row for row, (moving, now) in enumerate(zip(self.moving, settled)) if moving and now]
        if not rows:
            return
        index = self._index(rows)
        self.kept.append((self._places(index), [getattr(self.state, name).index_select(0, index) for name in _CARRIED]))
        for row in rows:
            self.moving[row] = False
        if not self.done and 2 * self.moving.count(False) >= len(self.moving):
            self._compact()

    def finish(self) -> None:
        """Write the warp's flow and duals back into the full batch: the rows still moving, then the settled ones."""
        rows = [row for row, moving in enumerate(self.moving) if moving]
        if self.places is not None and rows:
            index = self._index(rows)
            self._write(self._places(index), [getattr(self.state, name).index_select(0, index) for name in _CARRIED])
        for places, values in self.kept:
            self._write(places, values)

    def _compact(self) -> None:
        index = self._index([row for row, moving in enumerate(self.moving) if moving])
        state = _DualState(self.state.u.index_select(0, index), self.settings)
        state.p_x_grid.copy_(self.state.p_x_grid.index_select(0, index))
        state.p_y_grid.copy_(self.state.p_y_grid.index_select(0, index))
        self.places, self.state, self.data = self._places(index), state, self.data.select(index)
        self.moving = [True] * index.numel()
        self.before = torch.empty_like(state.u)

    def _index(self, rows: list[int]) -> Tensor:
        return torch.tensor(rows, dtype=torch.long, device=self.before.device)

    def _places(self, index: Tensor) -> Tensor:
        return index if self.places is None else self.places[index]

    def _write(self, places: Tensor, values: list[Tensor]) -> None:
        for name, value in zip(_CARRIED, values):
            getattr(self.full, name).index_copy_(0, places, value)


_CARRIED = ("u", "p_x_grid", "p_y_grid")  # what a pair carries from step to step (and its duals from warp to warp)


@dataclass
class _Linearised:
    """The data term linearised around the flow of one warp (see :func:`core.flow.tvl1.linearise`)."""

    grad: Tensor  # (B, 2, H, W) gradient of the warped second image
    grad_x: Tensor  # its two components, (B, 1, H, W) each
    grad_y: Tensor
    rho_c: Tensor  # the residual's constant part
    neg_inv: Tensor  # -1 / |grad|^2, 0 where the image is flat

    def select(self, pairs: Tensor) -> "_Linearised":
        """The data of the pairs at ``pairs`` (indices into the batch), each array contiguous."""
        return _Linearised(*(getattr(self, f.name).index_select(0, pairs) for f in fields(self)))


def _linearise(i0: Tensor, stacked: Tensor, u: Tensor, interpolation: str, ignore_outside: bool) -> _Linearised:
    """Warp the second image and its gradient (``stacked``: image, d/dx, d/dy) by ``u``.

    With ``ignore_outside`` a pixel whose flow leaves the frame has no data term
    (its flow follows its neighbours through the TV term alone) instead of
    matching against replicated border pixels.
    """
    warped = warp_backward(stacked, u, interpolation)
    i1w, grad = warped[:, :1], warped[:, 1:].contiguous()
    if ignore_outside:
        height, width = u.shape[-2:]
        xs = torch.arange(width, device=u.device, dtype=u.dtype).view(1, 1, width) + u[:, 0]
        ys = torch.arange(height, device=u.device, dtype=u.dtype).view(1, height, 1) + u[:, 1]
        inside = ((xs >= 0) & (xs <= width - 1) & (ys >= 0) & (ys <= height - 1)).unsqueeze(1)
        grad = grad * inside
    rho_c = i1w - (grad * u).sum(dim=1, keepdim=True) - i0
    grad_sq = grad.square().sum(dim=1, keepdim=True)
    flat = grad_sq < 1e-6
    neg_inv = torch.where(flat, torch.zeros_like(grad_sq), -1.0 / grad_sq.masked_fill(flat, 1.0))
    return _Linearised(grad, grad[:, :1].contiguous(), grad[:, 1:].contiguous(), rho_c.contiguous(), neg_inv)


def _prepare(image: Tensor, texture: float) -> Tensor:
    image = image.float()
    if texture > 0:
        image = (image - texture * _gaussian_blur(image, sigma=3.0)) / max(1.0 - texture, 1e-3)
    return image


def _pyramid(i0: Tensor, i1: Tensor, s: TVL1Settings) -> list[tuple[Tensor, Tensor]]:
    """Finest first; level k is the finest image resized by ``scale_step**k`` with an antialiasing filter.

    Resizing from the finest image each time (not from the level before, as
    OpenCV does, without a low-pass) keeps fine texture from aliasing into the
    coarse levels, which the deep pyramid needs.
    """
    both = torch.cat((i0, i1), dim=1)
    levels = [(i0, i1)]
    height, width = i0.shape[-2:]
    for level in range(1, s.scales):
        factor = s.scale_step**level
        h, w = round(height * factor), round(width * factor)
        if min(h, w) < s.min_side:
            break
        small = F.interpolate(both, size=(h, w), mode="bilinear", align_corners=False, antialias=True)
        levels.append((small[:, :1].contiguous(), small[:, 1:].contiguous()))
    return levels


def _upsample_flow(u: Tensor, height: int, width: int) -> Tensor:
    h, w = u.shape[-2:]
    up = F.interpolate(u, size=(height, width), mode="bilinear", align_corners=False)
    return up * torch.tensor([width / w, height / h], dtype=u.dtype, device=u.device).view(1, 2, 1, 1)


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
    settings: TVL1Settings | None = None,
    batch_pixels: int | None = None,
    cancel_check: Optional[Callable[[], None]] = None,
    progress: Optional[Callable[[int, int], None]] = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """TV-L1 flow of each consecutive pair of (N, H, W, 3) uint8 RGB ``frames``.

    ``settings``: :data:`DEFAULT_SETTINGS` unless given.  Pairs (and the swapped pairs for backward flow) run in batches of about
    ``batch_pixels`` pixels.  Returns float32 ``(N-1, 2, H, W)`` arrays.

    On the CPU the batches run side by side, one per thread, each thread's
    torch single-threaded, as many threads as the caller's torch threads (its
    share of the cores, see :mod:`core.thread_budget`).  Why: a step is about
    20 small operations, and splitting each one across an OpenMP team makes the
    team meet at a barrier every few microseconds; beside any other work a team
    member is descheduled at most of them (0.13 s a pair alone became 0.5-6 s).
    Whole batches per thread never wait for each other.  Progress and
    cancellation stay on the calling thread.
    """
    from core.flow.classical import to_gray

    settings = DEFAULT_SETTINGS if settings is None else settings
    gray = torch.from_numpy(to_gray(frames)).to(device=device, dtype=torch.float32).unsqueeze(1)  # (N, 1, H, W)
    pairs = gray.shape[0] - 1
    jobs = [(i, i + 1) for i in range(pairs)] + ([(i + 1, i) for i in range(pairs)] if backward else [])
    if batch_pixels is None:
        # a GPU wants big batches; on a CPU a bigger batch saves little once the threads have one each
        batch_pixels = 8 * 864 * 480 if device.type == "cuda" else 4 * 224 * 224
    per_batch = max(1, batch_pixels // (gray.shape[2] * gray.shape[3]))
    threads = torch.get_num_threads() if device.type == "cpu" else 1
    per_batch = min(per_batch, -(-len(jobs) // threads))  # at least one batch per thread
    batches = [jobs[start: start + per_batch] for start in range(0, len(jobs), per_batch)]

    def run(chunk: list[tuple[int, int]]) -> Tensor:
        first = gray[[a for a, _ in chunk]]
        second = gray[[b for _, b in chunk]]
        return tvl1_flow(first, second, settings, cancel_check=cancel_check).cpu()

    results = torch.empty(len(jobs), 2, *gray.shape[2:])
    starts = [index * per_batch for index in range(len(batches))]
    done = 0
    for index, flow in _batches_side_by_side(batches, run, threads, cancel_check):
        results[starts[index]: starts[index] + flow.shape[0]] = flow
        done += flow.shape[0]
        if progress is not None:
            progress(done, len(jobs))
    out = results.numpy()
    return out[:pairs], (out[pairs:] if backward else None)


def _batches_side_by_side(batches: list, run: Callable[[list], Tensor], threads: int,
                          cancel_check: Optional[Callable[[], None]]) -> Iterator[tuple[int, Tensor]]:
    """(index, flow) of each batch as it finishes: ``threads`` single-threaded workers (inline when 1)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        if threads <= 1 or len(batches) <= 1:
            for index, batch in enumerate(batches):
                if cancel_check is not None:
                    cancel_check()
                yield index, run(batch)
            return
        with ThreadPoolExecutor(max_workers=min(threads, len(batches)), initializer=torch.set_num_threads, initargs=(1,)) as pool:
            futures = {pool.submit(run, batch): index for index, batch in enumerate(batches)}
            try:
                for future in as_completed(futures):
                    if cancel_check is not None:
                        cancel_check()  # a cancel from the caller's progress callback, even when the rest already finished
                    yield futures[future], future.result()
            finally:
                for future in futures:
                    future.cancel()  # on an error or a cancel: the batches not started never start
    finally:
        torch.set_num_threads(previous)
