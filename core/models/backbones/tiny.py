"""A small 3-D convolutional backbone that trains from scratch on a CPU in minutes.

It exists for tests and for the bundled demo model: same contract as the big
backbones (a ``(B, T', H', W', C)`` token grid, 2 frames x 16 pixels per
token, so a 16x112x112 clip gives 8x7x7 tokens) at a few percent of their cost.
"""

from __future__ import annotations

import torch
from torch import nn

from core.models.backbones.base import KINETICS_MEAN, KINETICS_STD, BackboneInfo, check_clip_tensor

DEFAULT_TINY_DIM = 96


def tiny_info(dim: int = DEFAULT_TINY_DIM) -> BackboneInfo:
    return BackboneInfo(
        name="tiny",
        dim=dim,
        mean=KINETICS_MEAN,
        std=KINETICS_STD,
        input_size=112,
        frames=16,
        token_stride=(2, 16, 16),
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
    """Depthwise 3x3x3 then pointwise mixing, with a skip: cheap spatio-temporal context."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.depthwise = _ConvNormAct(channels, channels, (3, 3, 3), (1, 1, 1), (1, 1, 1), groups=channels)
        self.pointwise = nn.Sequential(nn.Conv3d(channels, channels, 1, bias=False), _group_norm(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x + self.pointwise(self.depthwise(x)))


class TinyBackbone(nn.Module):
    """Tubelet stem (2x4x4) then two stride-2 spatial stages, each with a residual block."""

    def __init__(self, *, dim: int = DEFAULT_TINY_DIM) -> None:
        super().__init__()
        if dim < 8 or dim % 4:
            raise ValueError(f"tiny backbone dim must be a multiple of 4 and >= 8, got {dim}")
        self.info = tiny_info(dim)
        c1, c2 = dim // 4, dim // 2
        self.stem = _ConvNormAct(3, c1, (2, 4, 4), (2, 4, 4), (0, 0, 0))
        self.stage1 = nn.Sequential(_ConvNormAct(c1, c2, (3, 3, 3), (1, 2, 2), (1, 1, 1)), _ResidualBlock(c2))
        self.stage2 = nn.Sequential(_ConvNormAct(c2, dim, (3, 3, 3), (1, 2, 2), (1, 1, 1)), _ResidualBlock(dim))
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_clip_tensor(self.info, x)
        x = self.stage2(self.stage1(self.stem(x)))
        return self.norm(x.permute(0, 2, 3, 4, 1))
