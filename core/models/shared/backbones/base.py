"""What every backbone promises: a token grid out, and the input it expects.

The fusion transformer, the attention overlays and the checkpoint format only
ever see :class:`BackboneInfo` and a ``(B, T', H', W', C)`` tensor, so a new
backbone is one module plus one registry line.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

KINETICS_MEAN = (0.45, 0.45, 0.45)
KINETICS_STD = (0.225, 0.225, 0.225)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class BackboneInfo:
    """A backbone's input config and how its tokens tile the input.

    ``token_stride`` is ``(frames, pixels, pixels)`` per token: the input's
    clip length and crop size must be multiples of it, so every token covers
    an exact block of frames and crop pixels (the overlays depend on that).
    """

    name: str
    dim: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    input_size: int
    frames: int
    token_stride: tuple[int, int, int]
    pretrained_what: str | None = None
    pretrained_url: str | None = None

    def grid_shape(self, frames: int, size: int) -> tuple[int, int, int]:
        """The ``(T', H', W')`` token grid for a ``frames`` x ``size`` x ``size`` input."""
        check_input_geometry(self, frames, size)
        st, sp, _ = self.token_stride
        return frames // st, size // sp, size // sp


def check_input_geometry(info: BackboneInfo, frames: int, size: int) -> None:
    """Refuse clip lengths and crop sizes that tokens would not tile exactly."""
    st, sp, _ = info.token_stride
    if frames < st or frames % st:
        raise ValueError(f"backbone {info.name!r} needs a clip length that is a multiple of {st}, got {frames}")
    if size < sp or size % sp:
        raise ValueError(f"backbone {info.name!r} needs an input size that is a multiple of {sp}, got {size}")


def check_clip_tensor(info: BackboneInfo, x: torch.Tensor) -> None:
    """Validate a normalised clip batch ``(B, 3, T, H, W)`` at a backbone's door."""
    if x.ndim != 5 or x.shape[1] != 3:
        raise ValueError(f"backbone {info.name!r} expects a clip tensor (B, 3, T, H, W), got shape {tuple(x.shape)}")
    if x.shape[3] != x.shape[4]:
        raise ValueError(f"backbone {info.name!r} expects square crops, got {x.shape[3]}x{x.shape[4]}")
    check_input_geometry(info, int(x.shape[2]), int(x.shape[3]))
