"""Class activation maps (Zhou et al. 2016) and the spatial attention built on them (seed 004).

A map ``f`` (C, h, w) that reaches a linear classifier through global average
pooling scores class c as ``b_c + mean_i sum_l w_l^c f_l(i)``; the CAM
``M_c(i) = sum_l w_l^c f_l(i)`` says how much location i contributes, so
``mean_i M_c(i) + b_c`` is the logit exactly.  Spatial attention turns the
winning class's CAM into a softmax over locations and weights the map with it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def class_activation_maps(maps: torch.Tensor, weight: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
    """CAM of one class per map: ``maps`` (N, C, h, w), classifier ``weight`` (K, C),
    ``classes`` (N,) class indices -> (N, h, w)."""
    if maps.ndim != 4 or weight.ndim != 2 or weight.shape[1] != maps.shape[1]:
        raise ValueError(f"CAM needs maps (N, C, h, w) and class weights (K, C) with the same C, got {tuple(maps.shape)} and {tuple(weight.shape)}")
    if classes.shape != (maps.shape[0],):
        raise ValueError(f"CAM needs one class per map: {maps.shape[0]} maps, classes of shape {tuple(classes.shape)}")
    return torch.einsum("nchw,nc->nhw", maps, weight[classes].to(maps.dtype))


class SpatialAttention(nn.Module):
    """``f_SA(i) = f(i) * softmax_i(M_c(i)) * h*w`` with c the winning class of a CAM head.

    The head is a linear classifier over the pooled map with its own weights (seed
    004 takes ResNet's ImageNet classifier); they learn through the attention they
    produce, so it has no bias (a bias never changes a CAM).  The factor ``h*w``
    makes uniform attention the identity, so the features keep their scale (seed
    004 multiplies by the softmax alone).
    """

    def __init__(self, channels: int, num_classes: int) -> None:
        super().__init__()
        self.head = nn.Linear(channels, num_classes, bias=False)

    def cam(self, maps: torch.Tensor) -> torch.Tensor:
        """The winning class's CAM per map: (N, C, h, w) -> (N, h, w)."""
        scores = self.head(maps.mean(dim=(2, 3)))
        winners = scores.detach().argmax(dim=1)
        return class_activation_maps(maps, self.head.weight, winners)

    def weights(self, maps: torch.Tensor) -> torch.Tensor:
        """Attention over locations, (N, h, w), each summing to 1."""
        cam = self.cam(maps)
        return F.softmax(cam.flatten(1), dim=1).view_as(cam)

    def forward(self, maps: torch.Tensor) -> torch.Tensor:
        att = self.weights(maps)
        return maps * (att * (att.shape[1] * att.shape[2])).unsqueeze(1)
