"""Decoded uint8 frames to a model's normalised float input: the one normalisation every family uses."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch


def normalise_frames(
    frames_uint8: np.ndarray | torch.Tensor,
    mean: Sequence[float] | torch.Tensor,
    std: Sequence[float] | torch.Tensor,
    *,
    device: str | torch.device = "cpu",
    channels_first: bool = False,
) -> torch.Tensor:
    """``(N, S, S, 3)`` uint8 to ``(N, 3, S, S)`` float32 on ``device``, scaled to [0, 1] and
    normalised per channel with ``mean``/``std``; ``channels_first`` gives the video backbones'
    ``(3, N, S, S)`` layout instead (N frames of one clip).  A tensor (a clip already uploaded) is
    converted where it is, or moved to ``device`` first."""
    if isinstance(frames_uint8, torch.Tensor):
        if frames_uint8.dtype != torch.uint8:
            raise ValueError(f"frames must be uint8, got {frames_uint8.dtype} {tuple(frames_uint8.shape)}")
        x = frames_uint8.to(device)
    else:
        x = torch.from_numpy(np.ascontiguousarray(frames_uint8)).to(device, non_blocking=True)
    shape = (3, 1, 1, 1) if channels_first else (1, 3, 1, 1)
    m = torch.as_tensor(mean, dtype=torch.float32, device=x.device).reshape(shape)
    s = torch.as_tensor(std, dtype=torch.float32, device=x.device).reshape(shape)
    x = x.permute(3, 0, 1, 2) if channels_first else x.permute(0, 3, 1, 2)
    return (x.float().div_(255.0) - m) / s
