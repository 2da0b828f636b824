"""RAFT's correlation pyramid and its look-ups, computed with less memory traffic.

torchvision's ``CorrBlock`` builds the all-pairs correlation volume, divides it
by sqrt(channels) in a second pass, then average-pools it level by level; each
update then samples a (2r+1)^2 window per pixel and level with ``grid_sample``.
At 480p the volume holds 41 million values per pair, so those passes cost as
much as the matrix product itself, and the look-ups are a tenth of an update.
:class:`CorrPyramid` gives the same values (up to float rounding):

* pooling is linear, so level ``l`` is the product of the first frame's
  features with the second frame's features pooled ``l`` times (a product a
  quarter the size of the level above), and the 1/sqrt(channels) scale is
  applied to the first frame's features, not to the volume;
* the window offsets are whole pixels, so every sample of a window shares one
  bilinear fraction: a look-up gathers a (2r+2)^2 block of whole-pixel values
  and blends four shifted copies of it, instead of interpolating each sample.

Levels may be stored in bfloat16 (half the memory and a faster product); the
coordinates and blend weights stay float32.  Samples outside the volume are
zero, as with ``grid_sample``'s zero padding.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor


class CorrPyramid:
    """The correlation pyramid of a batch of pairs; ``lookup(coords)`` per update.

    ``fmap1``, ``fmap2``: (B, C, h, w) features of the first and second frames.
    ``levels``: pyramid levels (each halves the second frame's grid);
    ``radius``: the look-up window is (2 * radius + 1)^2 per level;
    ``dtype``: storage of the levels.
    """

    def __init__(self, fmap1: Tensor, fmap2: Tensor, *, levels: int, radius: int, dtype: torch.dtype = torch.float32) -> None:
        if fmap1.ndim != 4 or fmap1.shape != fmap2.shape:
            raise ValueError(f"feature maps must both be (B, C, h, w) of one shape, got {tuple(fmap1.shape)} and {tuple(fmap2.shape)}")
        batch, channels, height, width = fmap1.shape
        smallest = 2 ** (levels - 1)
        if min(height, width) < 2 * smallest:
            raise ValueError(f"feature maps of {height}x{width} are too small for {levels} levels: each side must be >= {2 * smallest}")
        self.batch, self.height, self.width = batch, height, width
        self.radius = int(radius)
        first = (fmap1.float() / math.sqrt(channels)).flatten(2).transpose(1, 2).to(dtype)  # (B, hw, C)
        second = fmap2.float()
        # each level is stored flat with one zero after its last value: look-ups outside the level read it
        self.levels: list[Tensor] = []  # (B * hw, h_l * w_l + 1)
        self.sizes: list[tuple[int, int]] = []
        for level in range(levels):
            if level:
                second = F.avg_pool2d(second, kernel_size=2, stride=2)
            h_l, w_l = second.shape[-2:]
            flat = F.pad(second.flatten(2), (0, 1)).to(dtype)  # (B, C, h_l * w_l + 1), a zero feature last
            self.levels.append(torch.bmm(first, flat).view(batch * height * width, h_l * w_l + 1))
            self.sizes.append((h_l, w_l))

    @property
    def channels(self) -> int:
        """Channels of :meth:`lookup`'s output: levels x (2r+1)^2."""
        return len(self.levels) * (2 * self.radius + 1) ** 2

    def lookup(self, coords: Tensor, *, memory_format: torch.memory_format = torch.contiguous_format) -> Tensor:
        """Correlation windows around ``coords`` (B, 2, h, w) (x, y in level-0 pixels) -> (B, channels, h, w) float32.

        Channel order is torchvision's: level, then x offset, then y offset.
        The windows come out channels-last; ``torch.channels_last`` saves a copy.
        """
        if coords.shape != (self.batch, 2, self.height, self.width):
            raise ValueError(f"coords must be {(self.batch, 2, self.height, self.width)}, got {tuple(coords.shape)}")
        points = coords.float().permute(0, 2, 3, 1).reshape(-1, 2)  # (N, 2)
        side = 2 * self.radius + 1
        out = [
            _bilinear_windows(volume, size, points / (2**level), self.radius).view(-1, side * side)
            for level, (volume, size) in enumerate(zip(self.levels, self.sizes))
        ]
        features = torch.cat(out, dim=1).view(self.batch, self.height, self.width, -1)
        return features.permute(0, 3, 1, 2).contiguous(memory_format=memory_format)


def _bilinear_windows(volume: Tensor, size: tuple[int, int], points: Tensor, radius: int) -> Tensor:
    """Bilinear samples of each flat level ``volume[n]`` ((H * W + 1), a zero last) at
    ``points[n] + (dx, dy)`` for whole dx, dy in [-radius, radius] -> (N, 2r+1 (x), 2r+1 (y))
    float32; zero outside the level."""
    height, width = size
    outside = height * width  # the index of the zero
    base = torch.floor(points)
    frac = points - base
    base = base.long()
    span = torch.arange(-radius, radius + 2, device=volume.device)  # 2r+2 whole-pixel positions
    xs = base[:, :1] + span  # (N, 2r+2)
    ys = base[:, 1:] + span
    # an index past the zero marks a sample outside; the sum of two stays past it, then is clamped to it
    columns = torch.where((xs >= 0) & (xs < width), xs, 2 * outside)
    rows = torch.where((ys >= 0) & (ys < height), ys * width, 2 * outside)
    index = (columns[:, :, None] + rows[:, None, :]).clamp_(max=outside)  # (N, x, y)
    block = volume.gather(1, index.view(index.shape[0], -1)).view(index.shape).float()
    along_x = torch.lerp(block[:, :-1], block[:, 1:], frac[:, 0].view(-1, 1, 1))
    return torch.lerp(along_x[:, :, :-1], along_x[:, :, 1:], frac[:, 1].view(-1, 1, 1))
