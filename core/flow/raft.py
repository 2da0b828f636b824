"""RAFT flow for whole clips, built from torchvision's RAFT sub-modules.

torchvision's ``RAFT.forward`` takes one batch of pairs: it encodes both frames
of every pair (so each inner frame of a clip is encoded twice), runs its update
step as written for training, and upsamples the flow after every update.  On a
clip, :meth:`RaftFlow.clip_flow` computes the same flow with less work:

* the feature encoder runs once per frame and the context encoder once per
  first frame of a pair;
* the correlation pyramid is built once per pair from pooled features instead
  of pooled volumes, and looked up by whole-pixel blocks
  (:mod:`core.flow.raft_corr`);
* the update step is rearranged (:mod:`core.flow.raft_update`): the context's
  share of the recurrent unit's gates is computed once per pair, the other
  convolutions fused;
* the flow is upsampled once, at the end;
* on a CPU with native bfloat16 arithmetic (AVX512-BF16 or AMX-BF16), the
  encoders, the update step and the stored correlation pyramid are bfloat16,
  while coordinates, look-up blending and the flow stay float32
  (``precision="auto"``); on CUDA, float16 autocast.

Measured on a 2-core CPU with AVX512-BF16 (``python main.py bench flow``,
under load): 2x to 2.3x torchvision's forward called pair by pair at 224x224
and 2.5x to 2.7x at 480p, with a mean end-point error on the Middlebury and
Sintel pairs 1% above it (each pair within 2.5%); in float32 (other CPUs)
1.2x to 1.4x, with the same flow.

Optionally (``warm_start=True``) each pair starts from the previous pair's
flow pushed forward along itself (the RAFT paper's video mode) with fewer
updates.  Measured, it is not free: on a camera motion with exact flow at
224x224, RAFT-small started even from the *true* flow (with a fresh recurrent
state) ends 8% worse after 12 updates and 14% worse after 8 than started from
zero (its update step was trained from zero flow); started from the previous
pair's flow, 4% and 9% worse.  So warm starts trade accuracy for speed and are
off by default.  Only the flow is carried over; carrying the recurrent state
too was measured and rejected (worse on real clips).

Pairs are processed in lock-step "chains" (a run of consecutive pairs, each
warm-started from the one before when warm starts are on).  A GPU runs several
chains batched; a CPU gains nothing per pair from batching (measured) and runs
one pair, and encodes one frame, at a time, so a pair's flow does not depend on
which other pairs were computed with it.  :meth:`RaftFlow.clips_flow` takes
the clips of several videos at once (training's token extraction): their
frames are encoded together and their pairs updated side by side, never a pair
across two clips; on a CPU that changes nothing (one pair at a time), so each
clip's flow is :meth:`RaftFlow.clip_flow`'s bit for bit, and on a GPU the step
group may then grow past one clip's 16 pairs (:data:`BATCHED_PAIRS_PER_STEP`).
:meth:`RaftFlow.naive_flow` is
torchvision's own forward, pair by pair, in float32 (float16 autocast on CUDA):
the baseline of the benchmark.

Inputs are scaled to [-1, 1], sides below 128 px are upsampled first
(torchvision's RAFT returns NaNs below that), very large frames are scaled down
to bound the memory of the all-pairs correlation volume, and the result is
padded to a multiple of 8 by edge replication and cropped back afterwards.
"""

from __future__ import annotations

import contextlib
import copy
import math
import threading
from dataclasses import dataclass
from typing import Callable, Iterator, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from core.errors import FlowError
from core.flow.raft_corr import CorrPyramid
from core.flow.raft_update import FastUpdate
from core.flow.raft_weights import build_raft, load_raft_state_dict, resolve_raft_weights

MIN_SIDE = 128
# the correlation volume holds (H/8 * W/8)^2 floats per pair; frames above this many pixels are scaled down
MAX_PIXELS = 1024 * 576
DEFAULT_UPDATES = 12
# Warm-started pairs (an option) get two thirds of a cold pair's updates: measured (bench flow),
# clips about 1.2x faster than with cold pairs, and 12-16% larger end-point errors on camera-motion
# sequences with exact flow.  Stopping a cold pair early once its updates get small was measured
# and rejected: at a mean update of 0.005 (1/8-resolution px) it saves 1.5 of 12 updates for 2%
# more error (7% on the worst pair); at 0.01, 4 updates for 7% (19%).
WINDOW_FRAMES = 33  # frames per window of a long clip: 32 pairs, one cold start each
PAIRS_PER_STEP = 16  # a GPU's step group for one clip: a 16-frame clip (17 frames) is one group
# A GPU's step group when pairs come from several clips (clips_flow).  Why 64: four 16-pair clips
# (MViTv2-S's 16-frame clips) in one group, so the 12 updates' many small kernels are launched once
# for four clips instead of once each; at 224 px their correlation volumes take 105 MB.  Not measured
# on a GPU: the memory rule of _pairs_per_step still lowers it for large frames.
BATCHED_PAIRS_PER_STEP = 64
PRECISIONS = ("auto", "float32", "bfloat16")


def default_warm_updates(updates: int) -> int:
    """Updates for a warm-started pair: two thirds of a cold pair's, rounded up."""
    return max(1, -(-2 * updates // 3))


def cpu_has_native_bfloat16() -> bool:
    """True when this CPU multiplies bfloat16 in hardware (AVX512-BF16 or AMX-BF16).

    Elsewhere oneDNN emulates bfloat16 and it is slower than float32, so
    ``precision="auto"`` keeps float32 there.
    """
    get_capabilities = getattr(torch.cpu, "get_capabilities", None)
    if get_capabilities is None:
        return False
    try:
        capabilities = get_capabilities()
    except Exception:  # a private-ish torch helper: no capability report means no fast path
        return False
    return bool(capabilities.get("avx512_bf16") or capabilities.get("amx_bf16"))


def resolve_precision(precision: str, device: torch.device) -> torch.dtype:
    """The dtype of the encoders and update step: "auto" is bfloat16 on a CPU with native
    bfloat16, float32 on other CPUs; on CUDA float16 autocast runs over it (see
    :func:`cuda_autocast`)."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision == "auto":
        return torch.bfloat16 if device.type == "cpu" and cpu_has_native_bfloat16() else torch.float32
    return torch.bfloat16 if precision == "bfloat16" else torch.float32


def cuda_autocast(precision: str, device: torch.device) -> bool:
    """Whether the clip path runs under float16 autocast: on CUDA, unless float32 was asked for
    (the exact path a benchmark compares with)."""
    return device.type == "cuda" and precision != "float32"


@dataclass(frozen=True)
class Geometry:
    """How frames were resized and padded for RAFT, to undo it on the flow."""

    height: int
    width: int
    run_height: int  # after resizing, before padding
    run_width: int
    pad: tuple[int, int, int, int]  # left, right, top, bottom

    @property
    def resized(self) -> bool:
        return (self.run_height, self.run_width) != (self.height, self.width)


def plan_geometry(height: int, width: int, *, min_side: int = MIN_SIDE, max_pixels: int = MAX_PIXELS) -> Geometry:
    """Resize so the shorter side is at least ``min_side`` and the area at most ``max_pixels``
    (the shorter side wins when both cannot hold), then pad to a multiple of 8."""
    scale = 1.0
    if height * width > max_pixels:
        scale = math.sqrt(max_pixels / (height * width))
    if min(height, width) * scale < min_side:
        scale = min_side / min(height, width)
    run_h = max(math.ceil(height * scale - 1e-6), 1) if scale != 1.0 else height
    run_w = max(math.ceil(width * scale - 1e-6), 1) if scale != 1.0 else width
    if run_h * run_w > 4 * max_pixels:
        raise FlowError(f"frames of {width}x{height} are too elongated for RAFT: with the short side at {min_side} px "
                        f"they would be {run_w}x{run_h}; crop them or use a classical method")
    pad_h, pad_w = (-run_h) % 8, (-run_w) % 8
    return Geometry(height, width, run_h, run_w, (pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2))


def prepare_frames(frames: np.ndarray | Tensor, geometry: Geometry, device: torch.device) -> Tensor:
    """(N, H, W, 3) uint8 (an array, or a tensor already on the device) -> (N, 3, H', W') float in [-1, 1], resized and edge-padded."""
    x = frames if isinstance(frames, Tensor) else torch.from_numpy(np.ascontiguousarray(frames))
    x = x.to(device).permute(0, 3, 1, 2).float()
    x = x * (2.0 / 255.0) - 1.0
    if geometry.resized:
        x = F.interpolate(x, size=(geometry.run_height, geometry.run_width), mode="bilinear", align_corners=False, antialias=True)
    if any(geometry.pad):
        x = F.pad(x, geometry.pad, mode="replicate")
    return x


def restore_flow(flow: Tensor, geometry: Geometry) -> Tensor:
    """Undo :func:`prepare_frames` on a (B, 2, H', W') flow: crop, resize, rescale the vectors."""
    left, right, top, bottom = geometry.pad
    flow = flow[:, :, top: flow.shape[2] - bottom, left: flow.shape[3] - right]
    if geometry.resized:
        flow = F.interpolate(flow, size=(geometry.height, geometry.width), mode="bilinear", align_corners=False)
        scale = torch.tensor([geometry.width / geometry.run_width, geometry.height / geometry.run_height], device=flow.device, dtype=flow.dtype)
        flow = flow * scale.view(1, 2, 1, 1)
    return flow


def coords_grid(batch: int, height: int, width: int, device: torch.device) -> Tensor:
    ys, xs = torch.meshgrid(torch.arange(height, device=device, dtype=torch.float32), torch.arange(width, device=device, dtype=torch.float32), indexing="ij")
    return torch.stack((xs, ys)).unsqueeze(0).expand(batch, 2, height, width)


def forward_splat(values: Tensor, displacement: Tensor) -> Tensor:
    """Push ``values`` (B, C, h, w) to ``x + displacement(x)`` with bilinear weights.

    Where nothing lands (disocclusions, the border the motion uncovers) the
    original value stays.  Used to predict the next pair's flow from this one.
    """
    batch, channels, height, width = values.shape
    base = coords_grid(batch, height, width, values.device)
    target = base + displacement.float()
    x0 = torch.floor(target[:, 0])
    y0 = torch.floor(target[:, 1])
    accum = values.new_zeros(batch, channels + 1, height * width)
    payload = torch.cat((values.float(), values.new_ones(batch, 1, height, width)), dim=1).reshape(batch, channels + 1, -1)
    for dx in (0, 1):
        for dy in (0, 1):
            xi = x0 + dx
            yi = y0 + dy
            weight = (1 - (target[:, 0] - xi).abs()) * (1 - (target[:, 1] - yi).abs())
            inside = (xi >= 0) & (xi < width) & (yi >= 0) & (yi < height) & (weight > 0)
            index = (yi.clamp(0, height - 1) * width + xi.clamp(0, width - 1)).long().reshape(batch, 1, -1)
            w = (weight * inside).reshape(batch, 1, -1)
            accum.scatter_add_(2, index.expand(batch, channels + 1, -1), payload * w)
    total = accum[:, channels:]
    pushed = accum[:, :channels] / total.clamp_min(1e-6)
    covered = total > 0.25
    out = torch.where(covered, pushed, values.reshape(batch, channels, -1))
    return out.reshape(batch, channels, height, width)


@dataclass
class _Chain:
    """A run of consecutive pairs (frame index ``first[k]`` to ``second[k]``) warm-starting each other.

    ``direction`` is +1 for forward flow (push the flow along itself) and -1 for
    backward flow (the motion continues opposite to the backward vectors).
    """

    first: list[int]
    second: list[int]
    slots: list[int]  # where each pair's flow goes in the output
    direction: int


class RaftFlow:
    """A RAFT model with its weights on one device, ready for clips.

    Build with :func:`load_raft`, after the weights are loaded: the clip path
    keeps its own copies of the encoders and update step, in the dtype that
    ``precision`` resolves to (see :func:`resolve_precision`).  Calls are
    serialised with a lock: :meth:`naive_flow` runs torchvision's forward,
    whose correlation block keeps state.
    """

    def __init__(self, model: nn.Module, *, variant: str, device: torch.device, weights_source: str, precision: str = "auto") -> None:
        self.model = model.eval().to(device)
        self.variant = variant
        self.device = device
        self.weights_source = weights_source
        self.dtype = resolve_precision(precision, device)
        self._float16_autocast = cuda_autocast(precision, device)
        # The clip path's own copies (the naive baseline keeps torchvision's modules as they are), in
        # its dtype; on a CPU the context encoder and the update step run channels-last (measured: the
        # context encoder 1.6x faster, bfloat16 updates 12%; the feature encoder, with its instance
        # norms, is not faster so).
        self._layout = torch.channels_last if device.type == "cpu" else torch.contiguous_format
        self._feature_encoder = copy.deepcopy(model.feature_encoder).to(self.dtype)
        self._context_encoder = copy.deepcopy(model.context_encoder).to(self.dtype).to(memory_format=self._layout)
        update_block = copy.deepcopy(model.update_block).to(self.dtype).to(memory_format=self._layout)
        self._hidden_size = int(model.update_block.hidden_state_size)
        self._update = FastUpdate(update_block, memory_format=self._layout)
        self._lock = threading.Lock()

    @property
    def precision(self) -> str:
        """What the encoders and update step run in: "float32", "bfloat16" or, on CUDA, "float16 autocast"."""
        if self._float16_autocast:
            return "float16 autocast"
        return "bfloat16" if self.dtype == torch.bfloat16 else "float32"

    # -- helpers ----------------------------------------------------------------------------

    def _autocast(self):
        if self._float16_autocast:
            return torch.autocast("cuda", dtype=torch.float16)
        return contextlib.nullcontext()

    def _batch_frames(self, geometry: Geometry) -> int:
        """Frames per encoder batch: 8 at 480p on a GPU.  On a CPU one: batches are no
        faster per frame there (measured: 10 ms a frame in a batch of 16 against 8 ms
        alone at 224x224), and a frame's features then never depend on its batch."""
        if self.device.type != "cuda":
            return 1
        pixels = (geometry.run_height + 8) * (geometry.run_width + 8)
        return max(1, 8 * 864 * 488 // pixels)

    def _encode(self, encoder: nn.Module, images: Tensor, batch: int) -> Tensor:
        outs = [encoder(images[i: i + batch].to(self.dtype)).float() for i in range(0, images.shape[0], batch)]
        return torch.cat(outs)

    def _empty(self, shape: tuple[int, ...], keep_on_device: bool) -> np.ndarray | Tensor:
        """Where a clip's flow is gathered: a host array, or a tensor on the model's device."""
        if keep_on_device:
            return torch.empty(shape, dtype=torch.float32, device=self.device)
        return np.empty(shape, np.float32)

    def _pairs_per_step(self, geometry: Geometry, cap: int = PAIRS_PER_STEP) -> int:
        """Pairs updated side by side.  A CPU gains nothing per pair from batching the
        update block (measured; at 480p it loses), so one; a GPU up to ``cap``, as many as
        the memory of their correlation volumes allows ((H/8 * W/8)^2 values each, plus a
        third for the pyramid)."""
        if self.device.type != "cuda":
            return 1
        cells = ((geometry.run_height + sum(geometry.pad[2:])) // 8) * ((geometry.run_width + sum(geometry.pad[:2])) // 8)
        volume_bytes = cells * cells * 2 * 4 // 3  # float16 under autocast
        return int(max(1, min(cap, (4 << 30) // max(volume_bytes, 1))))

    # -- the clip path ----------------------------------------------------------------------

    def clip_flow(
        self,
        frames: np.ndarray | Tensor,
        *,
        backward: bool = False,
        updates: int = DEFAULT_UPDATES,
        warm_updates: int | None = None,
        warm_start: bool = False,
        window: int = WINDOW_FRAMES,
        cancel_check: Optional[Callable[[], None]] = None,
        progress: Optional[Callable[[int, int], None]] = None,
        keep_on_device: bool = False,
    ) -> tuple[np.ndarray | Tensor, np.ndarray | Tensor | None, Geometry]:
        """Forward (and optionally backward) flow of every consecutive pair of ``frames``.

        ``updates`` refinement steps for a pair started from zero flow: by
        default every pair, which gives torchvision's per-pair flow (exactly in
        float32; within bfloat16 rounding otherwise).  ``warm_start=True`` starts
        each pair after the first from the previous pair's flow with
        ``warm_updates`` steps (default: two thirds of ``updates``, rounded up: 8
        for 12): faster, less accurate (see the module's note).  Long clips run
        in windows of ``window`` frames (sharing their end frames) to bound
        memory; each window starts cold.  Returns float32 arrays ``(N-1, 2, H, W)``
        and the geometry used; with ``keep_on_device``, float32 tensors on the model's device instead,
        the same values without a copy through the host (``frames`` may then be a uint8 tensor there
        too, so a clip on a GPU is never downloaded).
        """
        if warm_updates is None:
            warm_updates = default_warm_updates(updates)
        count, height, width, _ = frames.shape
        if count < 2:
            raise ValueError(f"a clip needs at least 2 frames, got {count}")
        geometry = plan_geometry(height, width)
        pairs = count - 1
        forward_out = self._empty((pairs, 2, height, width), keep_on_device)
        backward_out = self._empty((pairs, 2, height, width), keep_on_device) if backward else None
        total = pairs * (2 if backward else 1)
        done = 0
        step = max(1, window - 1)
        with self._lock, torch.inference_mode(), self._autocast():
            for start in range(0, pairs, step):
                stop = min(start + step, pairs)  # pairs start..stop-1 use frames start..stop

                def on_pair(finished: int, _total: int, offset: int = done) -> None:
                    if progress is not None:
                        progress(offset + finished, total)

                fwd, bwd = self._clip_window(
                    frames[start: stop + 1], geometry, backward=backward, updates=updates, warm_updates=warm_updates,
                    warm_start=warm_start, cancel_check=cancel_check, progress=on_pair, keep_on_device=keep_on_device,
                )
                forward_out[start:stop] = fwd
                if backward_out is not None and bwd is not None:
                    backward_out[start:stop] = bwd
                done += (stop - start) * (2 if backward else 1)
        return forward_out, backward_out, geometry

    def _clip_window(
        self,
        frames: np.ndarray,
        geometry: Geometry,
        *,
        backward: bool,
        updates: int,
        warm_updates: int,
        warm_start: bool,
        cancel_check: Optional[Callable[[], None]],
        progress: Callable[[int, int], None],
        keep_on_device: bool = False,
    ) -> tuple[np.ndarray | Tensor, np.ndarray | Tensor | None]:
        count, height, width, _ = frames.shape
        pairs = count - 1
        images = prepare_frames(frames, geometry, self.device)
        per_batch = self._batch_frames(geometry)
        fmaps = self._encode(self._feature_encoder, images, per_batch)
        # the context encoder sees the first frame of each pair: 0..N-2 forward, 1..N-1 backward
        context = self._encode(self._context_encoder, images if backward else images[:pairs], per_batch)
        del images
        # warm starts: as few chains as keep the device busy (each chain starts cold);
        # cold: every pair is a chain of its own
        group = self._pairs_per_step(geometry)
        per_direction = max(1, group // (2 if backward else 1)) if warm_start else pairs
        chains = self._make_chains(pairs, backward, per_direction)
        shape = (pairs, 2, height, width)
        outputs = {+1: self._empty(shape, keep_on_device), -1: self._empty(shape, keep_on_device) if backward else None}
        done = 0
        for first_chain in range(0, len(chains), group):
            chunk = chains[first_chain: first_chain + group]
            host = not keep_on_device
            for step_pairs in self._run_chains(chunk, fmaps, context, geometry, updates, warm_updates, cancel_check, host=host):
                for chain, slot, flow in step_pairs:
                    outputs[chain.direction][slot] = flow  # type: ignore[index]
                done += len(step_pairs)
                progress(done, pairs * (2 if backward else 1))
        return outputs[+1], outputs[-1]

    # -- clips of several videos ------------------------------------------------------------

    def clips_flow(
        self,
        clips: Sequence[np.ndarray | Tensor],
        *,
        updates: int = DEFAULT_UPDATES,
        window: int = WINDOW_FRAMES,
        cancel_check: Optional[Callable[[], None]] = None,
        progress: Optional[Callable[[int, int], None]] = None,
        keep_on_device: bool = False,
    ) -> tuple[list[np.ndarray | Tensor], Geometry]:
        """Forward flow of every consecutive pair of each clip, the clips computed together.

        ``clips``: (N_i, H, W, 3) uint8, any N_i >= 2, one frame size.  Every pair
        starts from zero flow with ``updates`` steps (no warm starts), so a pair's
        flow depends on its two frames only: on a CPU (one frame and one pair at a
        time) each clip's flow is :meth:`clip_flow`'s exactly; on a GPU the pairs
        of several clips share a step group of up to :data:`BATCHED_PAIRS_PER_STEP`.
        Long clips are cut into windows of ``window`` frames as :meth:`clip_flow`
        cuts them (only to bound memory: with cold pairs the flow is the same),
        and windows are packed whole into rounds of at most
        ``max(window - 1, step group)`` pairs, so no frame is encoded twice within a
        window.  Returns one float32 ``(N_i - 1, 2, H, W)`` array per clip (tensors
        on the model's device with ``keep_on_device``) and the geometry used.
        """
        if not clips:
            raise ValueError("clips_flow needs at least one clip")
        shapes = [tuple(clip.shape) for clip in clips]
        for shape in shapes:
            if len(shape) != 4 or shape[-1] != 3 or shape[0] < 2:
                raise ValueError(f"each clip must be (N, H, W, 3) with N >= 2, got {shape}")
            if shape[1:3] != shapes[0][1:3]:
                raise ValueError(f"clips must share one frame size: {shapes[0][2]}x{shapes[0][1]} and {shape[2]}x{shape[1]}")
        height, width = shapes[0][1:3]
        geometry = plan_geometry(height, width)
        outputs = [self._empty((shape[0] - 1, 2, height, width), keep_on_device) for shape in shapes]
        total = sum(shape[0] - 1 for shape in shapes)
        step = max(1, window - 1)
        windows = [(k, start, min(start + step, shape[0] - 1)) for k, shape in enumerate(shapes) for start in range(0, shape[0] - 1, step)]
        done = 0
        with self._lock, torch.inference_mode(), self._autocast():
            group = self._pairs_per_step(geometry, BATCHED_PAIRS_PER_STEP)
            for chunk in _rounds(windows, max(step, group)):
                if cancel_check is not None:
                    cancel_check()
                segments = [clips[k][start: stop + 1] for k, start, stop in chunk]
                slots = [(k, pair) for k, start, stop in chunk for pair in range(start, stop)]
                for row, flow in self._clips_round(segments, geometry, updates, group, cancel_check, host=not keep_on_device):
                    k, pair = slots[row]
                    outputs[k][pair] = flow  # type: ignore[index]
                    done += 1
                    if progress is not None:
                        progress(done, total)
        return outputs, geometry

    def _clips_round(self, segments: list[np.ndarray | Tensor], geometry: Geometry, updates: int, group: int,
                     cancel_check: Optional[Callable[[], None]], *, host: bool) -> Iterator[tuple[int, np.ndarray | Tensor]]:
        """The pairs of ``segments`` (frames encoded together, pairs in groups of ``group``):
        yields (pair's row in the round, its flow (2, H, W)), pairs numbered segment after segment."""
        if all(isinstance(segment, Tensor) for segment in segments):
            frames: np.ndarray | Tensor = torch.cat([segment.to(self.device) for segment in segments])  # type: ignore[union-attr]
        else:
            frames = np.concatenate([segment if isinstance(segment, np.ndarray) else segment.cpu().numpy() for segment in segments])
        images = prepare_frames(frames, geometry, self.device)
        per_batch = self._batch_frames(geometry)
        fmaps = self._encode(self._feature_encoder, images, per_batch)
        firsts, offset = [], 0
        for segment in segments:  # a pair's first frame: every frame of a segment but its last
            firsts += range(offset, offset + segment.shape[0] - 1)
            offset += segment.shape[0]
        index = torch.tensor(firsts, device=images.device)
        encoded = self._encode(self._context_encoder, images.index_select(0, index), per_batch)
        del images
        # rows by frame, as _run_chains reads them (the rows of segments' last frames are never read)
        context = encoded.new_zeros((offset, *encoded.shape[1:]))
        context[index] = encoded
        del encoded
        chains = [_Chain([first], [first + 1], [row], +1) for row, first in enumerate(firsts)]
        for start in range(0, len(chains), group):
            for step_pairs in self._run_chains(chains[start: start + group], fmaps, context, geometry, updates, updates, cancel_check, host=host):
                for _chain, row, flow in step_pairs:
                    yield row, flow

    def _run_chains(self, chains: list[_Chain], fmaps: Tensor, context: Tensor, geometry: Geometry, updates: int, warm_updates: int,
                    cancel_check: Optional[Callable[[], None]], *, host: bool = True
                    ) -> Iterator[list[tuple[_Chain, int, np.ndarray | Tensor]]]:
        """Run ``chains`` in lock-step; yields, per step, (chain, output slot, flow (2, H, W)) of each pair done:
        numpy arrays with ``host``, else tensors left on the device."""
        hidden_size = self._hidden_size
        carried: list[Tensor | None] = [None] * len(chains)  # each chain's flow for its next pair
        for step in range(max(len(chain.first) for chain in chains)):
            if cancel_check is not None:
                cancel_check()
            active = [k for k, chain in enumerate(chains) if step < len(chain.first)]
            first = [chains[k].first[step] for k in active]
            second = [chains[k].second[step] for k in active]
            hidden, ctx = torch.split(context[first], [hidden_size, context.shape[1] - hidden_size], dim=1)
            init = torch.cat([carried[k] for k in active]) if step > 0 else None  # type: ignore[misc]
            low, hidden = self._refine(fmaps[first], fmaps[second], torch.tanh(hidden), F.relu(ctx), init, updates if step == 0 else warm_updates)
            restored = restore_flow(self._upsample(low, hidden), geometry).float()
            if host:
                restored = restored.cpu().numpy()
            finished = []
            for row, k in enumerate(active):
                chain = chains[k]
                finished.append((chain, chain.slots[step], restored[row]))
                if step + 1 < len(chain.first):  # the next pair starts from this flow, pushed along the motion
                    carried[k] = forward_splat(low[row: row + 1], chain.direction * low[row: row + 1])
            yield finished

    @staticmethod
    def _make_chains(pairs: int, backward: bool, per_direction: int) -> list[_Chain]:
        length = math.ceil(pairs / max(1, min(per_direction, pairs)))
        chains = []
        for start in range(0, pairs, length):
            idx = list(range(start, min(start + length, pairs)))
            chains.append(_Chain(list(idx), [i + 1 for i in idx], idx, +1))
            if backward:
                chains.append(_Chain([i + 1 for i in idx], list(idx), idx, -1))
        return chains

    def _refine(self, fmap1: Tensor, fmap2: Tensor, hidden: Tensor, context: Tensor, init: Tensor | None, updates: int) -> tuple[Tensor, Tensor]:
        """RAFT's update loop at 1/8 resolution from ``init`` (or zero) flow; returns (flow, hidden).

        The correlation pyramid is stored in the path's dtype; its look-ups and
        the flow are float32; the update step runs in the path's dtype.
        """
        block = self.model.corr_block
        corr = CorrPyramid(fmap1, fmap2, levels=block.num_levels, radius=block.radius, dtype=self.dtype)
        batch, _, h, w = fmap1.shape
        coords0 = coords_grid(batch, h, w, fmap1.device)
        coords1 = coords0 if init is None else coords0 + init
        layout = self._layout
        prepared = self._update.prepare(context.to(self.dtype).contiguous(memory_format=layout))
        hidden = hidden.to(self.dtype).contiguous(memory_format=layout)
        for _ in range(updates):
            features = corr.lookup(coords1, memory_format=layout).to(self.dtype)
            flow = (coords1 - coords0).to(self.dtype).contiguous(memory_format=layout)
            hidden, delta = self._update.step(hidden, prepared, features, flow)
            coords1 = coords1 + delta.float()
        return coords1 - coords0, hidden

    def _upsample(self, flow: Tensor, hidden: Tensor) -> Tensor:
        from torchvision.models.optical_flow._utils import upsample_flow

        mask = None if self.model.mask_predictor is None else self.model.mask_predictor(hidden.float())
        return upsample_flow(flow=flow, up_mask=None if mask is None else mask.float())

    # -- the baseline -----------------------------------------------------------------------

    def naive_flow(self, frames: np.ndarray, *, updates: int = DEFAULT_UPDATES, cancel_check: Optional[Callable[[], None]] = None) -> np.ndarray:
        """torchvision's ``RAFT.forward`` called once per pair: the benchmark's baseline."""
        count, height, width, _ = frames.shape
        geometry = plan_geometry(height, width)
        out = np.empty((count - 1, 2, height, width), dtype=np.float32)
        with self._lock, torch.inference_mode(), self._autocast():
            images = prepare_frames(frames, geometry, self.device)
            for i in range(count - 1):
                if cancel_check is not None:
                    cancel_check()
                flow = self.model(images[i: i + 1], images[i + 1: i + 2], num_flow_updates=updates)[-1]
                out[i] = restore_flow(flow.float(), geometry)[0].cpu().numpy()
        return out


def _rounds(windows: list[tuple[int, int, int]], limit: int) -> Iterator[list[tuple[int, int, int]]]:
    """Consecutive (clip, first pair, end pair) windows packed whole into rounds of at most ``limit`` pairs
    (a window alone may be the limit)."""
    chunk: list[tuple[int, int, int]] = []
    pairs = 0
    for window in windows:
        size = window[2] - window[1]
        if chunk and pairs + size > limit:
            yield chunk
            chunk, pairs = [], 0
        chunk.append(window)
        pairs += size
    if chunk:
        yield chunk


_LOADED: dict[tuple, RaftFlow] = {}
_LOADED_LOCK = threading.Lock()
_KEEP_LOADED = 2


def load_raft(variant: str, *, device: torch.device, weights_path: str | None = None, precision: str = "auto") -> RaftFlow:
    """Resolve weights (explicit file, hub cache, download) and build a :class:`RaftFlow`.

    The last two models stay loaded, keyed by variant, device, precision and
    the identity of the weights files that would be read, so a viewer scrubbing
    a video does not reload them.  Raises :class:`~core.errors.WeightsUnavailable`
    when no weights can be had.
    """
    from core.flow.raft_weights import cached_weight_files

    if weights_path:
        where: tuple = (str(weights_path), _file_identity(str(weights_path)))
    else:
        where = tuple((str(p), _file_identity(str(p))) for p in cached_weight_files(variant))
    key = (variant, str(device), resolve_precision(precision, device), cuda_autocast(precision, device), where)
    with _LOADED_LOCK:
        if where and where[-1] and key in _LOADED:
            _LOADED[key] = _LOADED.pop(key)  # most recently used last
            return _LOADED[key]
    state, source = resolve_raft_weights(variant, weights_path)
    model = build_raft(variant)
    load_raft_state_dict(model, state, variant=variant, source=source)
    flow = RaftFlow(model, variant=variant, device=device, weights_source=source, precision=precision)
    with _LOADED_LOCK:
        _LOADED[key] = flow
        while len(_LOADED) > _KEEP_LOADED:
            _LOADED.pop(next(iter(_LOADED)))
    return flow


def _file_identity(source: str) -> tuple:
    import os

    try:
        stat = os.stat(source)
    except OSError:
        return ()
    return (stat.st_size, stat.st_mtime_ns)

