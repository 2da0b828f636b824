"""A small 3-D convolutional backbone that trains from scratch on a CPU in minutes.

It exists for tests and for the bundled demo model: same contract as the big
backbones (a ``(B, T', H', W', C)`` token grid, 2 frames x 16 pixels per
token, so a 16x112x112 clip gives 8x7x7 tokens) at a few percent of their cost.

``frame_wise=True`` turns it into a per-frame (2-D) network: every frame is
encoded alone (time kernels of 1, normalisation statistics per frame) and the
two frames of a tubelet are averaged, so a token carries no frame order.  With
the fusion's ``rgb_time_pool`` this makes the RGB stream a bag of frames, the
classic spatial stream of two-stream networks: it can only see appearance,
which is what the synthetic dataset's ablation needs to measure.
"""

from __future__ import annotations

import torch
from torch import nn

from core.models.shared.field_rules import Flag, Whole
from core.models.shared.backbones.base import KINETICS_MEAN, KINETICS_STD, BackboneInfo, check_clip_tensor

DEFAULT_TINY_DIM = 96
TUBELET_FRAMES = 2


def tiny_info(dim: int = DEFAULT_TINY_DIM, frame_wise: bool = False) -> BackboneInfo:
    """The tiny backbone's geometry; ``frame_wise`` does not change it (same grid either way)."""
    Whole(8, 2048).check("tiny backbone option dim", dim)
    Flag().check("tiny backbone option frame_wise", frame_wise)
    return BackboneInfo(
        name="tiny",
        dim=dim,
        mean=KINETICS_MEAN,
        std=KINETICS_STD,
        input_size=112,
        frames=16,
        token_stride=(TUBELET_FRAMES, 16, 16),
    )


def _group_norm(channels: int) -> nn.GroupNorm:
    """GroupNorm rather than BatchNorm: training batches of 2-8 clips are too small for BN."""
    groups = max(g for g in range(1, 9) if channels % g == 0)
    return nn.GroupNorm(groups, channels)


class _ConvNormAct(nn.Sequential):
    def __init__(self, c_in: int, c_out: int, kernel: tuple[int, int, int], stride: tuple[int, int, int], padding: tuple[int, int, int], groups: int = 1) -> None:
        super().__init__(
            nn.Conv3d(c_in, c_out, kernel, stride=stride, padding=padding, groups=groups, bias=False),
            _group_norm(c_out),
            nn.GELU(),
        )


class _ResidualBlock(nn.Module):
    """Depthwise k x 3 x 3 then pointwise mixing, with a skip: cheap (spatio-temporal) context."""

    def __init__(self, channels: int, time_kernel: int = 3) -> None:
        super().__init__()
        pad = time_kernel // 2
        self.depthwise = _ConvNormAct(channels, channels, (time_kernel, 3, 3), (1, 1, 1), (pad, 1, 1), groups=channels)
        self.pointwise = nn.Sequential(nn.Conv3d(channels, channels, 1, bias=False), _group_norm(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x + self.pointwise(self.depthwise(x)))


class TinyBackbone(nn.Module):
    """Tubelet stem (2x4x4) then two stride-2 spatial stages, each with a residual block.

    ``frame_wise``: a (1x4x4) stem and (1xkxk) convolutions run on each frame
    alone (frames folded into the batch, so GroupNorm statistics are per frame
    too), and each pair of frame tokens is averaged into one time slice.
    """

    def __init__(self, *, dim: int = DEFAULT_TINY_DIM, frame_wise: bool = False) -> None:
        super().__init__()
        if dim < 8 or dim % 4:
            raise ValueError(f"tiny backbone dim must be a multiple of 4 and >= 8, got {dim}")
        self.info = tiny_info(dim, frame_wise)
        self.frame_wise = frame_wise
        c1, c2 = dim // 4, dim // 2
        kt = 1 if frame_wise else 3
        stem_t = 1 if frame_wise else TUBELET_FRAMES
        self.stem = _ConvNormAct(3, c1, (stem_t, 4, 4), (stem_t, 4, 4), (0, 0, 0))
        self.stage1 = nn.Sequential(_ConvNormAct(c1, c2, (kt, 3, 3), (1, 2, 2), (kt // 2, 1, 1)), _ResidualBlock(c2, kt))
        self.stage2 = nn.Sequential(_ConvNormAct(c2, dim, (kt, 3, 3), (1, 2, 2), (kt // 2, 1, 1)), _ResidualBlock(dim, kt))
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_clip_tensor(self.info, x)
        if not self.frame_wise:
            x = self.stage2(self.stage1(self.stem(x)))
            return self.norm(x.permute(0, 2, 3, 4, 1))
        batch, channels, frames, height, width = x.shape
        per_frame = x.transpose(1, 2).reshape(batch * frames, channels, 1, height, width)
        y = self.norm(self.stage2(self.stage1(self.stem(per_frame))).squeeze(2).permute(0, 2, 3, 1))  # (B*T, H', W', C)
        # the tubelet's two frame tokens averaged after every non-linearity: the mean of the
        # time slices is then the mean over all frames, whatever their order
        return y.reshape(batch, frames // TUBELET_FRAMES, TUBELET_FRAMES, *y.shape[1:]).mean(dim=2)
