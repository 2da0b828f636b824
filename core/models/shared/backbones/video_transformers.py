"""MViTv2-S and Swin3D-S from torchvision, cut before their classifiers to give token grids.

Both are built from torchvision's constructors and hold the torchvision module
as ``.net``, so the Kinetics-400 state dicts load unchanged.  The wrappers only
replace the last steps of ``forward``:

* MViT: its class token is dropped, and the ``(T, H, W)`` grid is followed
  through the blocks (query pooling shrinks it) instead of being taken from the
  size the model was built for, so smaller inputs also work (rel-pos tables
  are interpolated by torchvision).
* Swin3D: the channels-last output of the final norm already is the grid.
"""

from __future__ import annotations

import torch
from torch import nn

from core.models.shared.backbones.base import KINETICS_MEAN, KINETICS_STD, IMAGENET_MEAN, IMAGENET_STD, BackboneInfo, check_clip_tensor

MVIT_V2_S_INFO = BackboneInfo(
    name="mvit_v2_s",
    dim=768,
    mean=KINETICS_MEAN,
    std=KINETICS_STD,
    input_size=224,
    frames=16,
    token_stride=(2, 32, 32),
    pretrained_what="MViTv2-S (Kinetics-400)",
    pretrained_url="https://download.pytorch.org/models/mvit_v2_s-ae3be167.pth",
)

SWIN3D_S_INFO = BackboneInfo(
    name="swin3d_s",
    dim=768,
    mean=IMAGENET_MEAN,
    std=IMAGENET_STD,
    input_size=224,
    frames=16,
    token_stride=(2, 32, 32),
    pretrained_what="Swin3D-S (Kinetics-400)",
    pretrained_url="https://download.pytorch.org/models/swin3d_s-da41c237.pth",
)


def _weights_url(enum_entry: object, fallback: str) -> str:
    """The URL from torchvision's weight enum (the source of truth), else our copy."""
    return str(getattr(enum_entry, "url", fallback) or fallback)


class MViTTokens(nn.Module):
    """MViTv2-S returning ``(B, T', H', W', 768)``: 8x7x7 for a 16x224x224 clip."""

    def __init__(self) -> None:
        super().__init__()
        from torchvision.models.video import MViT_V2_S_Weights, mvit_v2_s

        self.net = mvit_v2_s(weights=None)
        self.net.head = nn.Identity()  # the Kinetics classifier is not used; its weights are dropped on load
        self.info = MVIT_V2_S_INFO
        self.weights_url = _weights_url(MViT_V2_S_Weights.KINETICS400_V1, MVIT_V2_S_INFO.pretrained_url or "")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_clip_tensor(self.info, x)
        net = self.net
        x = net.conv_proj(x)
        thw = (int(x.shape[2]), int(x.shape[3]), int(x.shape[4]))
        x = net.pos_encoding(x.flatten(2).transpose(1, 2))  # prepends the class token
        for block in net.blocks:
            x, thw = block(x, thw)
        x = net.norm(x)
        tokens = x[:, 1:]  # drop the class token: the grid is what the fusion attends over
        return tokens.reshape(x.shape[0], *thw, x.shape[-1])


class SwinTokens(nn.Module):
    """Swin3D-S returning ``(B, T', H', W', 768)``: 8x7x7 for a 16x224x224 clip."""

    def __init__(self) -> None:
        super().__init__()
        from torchvision.models.video import Swin3D_S_Weights, swin3d_s

        self.net = swin3d_s(weights=None)
        self.net.head = nn.Identity()
        self.info = SWIN3D_S_INFO
        self.weights_url = _weights_url(Swin3D_S_Weights.KINETICS400_V1, SWIN3D_S_INFO.pretrained_url or "")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_clip_tensor(self.info, x)
        net = self.net
        x = net.patch_embed(x)
        x = net.pos_drop(x)
        x = net.features(x)
        return net.norm(x)
