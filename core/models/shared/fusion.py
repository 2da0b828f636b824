"""How the two streams' outputs become one class score (seeds 002, 003).

Score fusions keep each stream's classifier: ``late`` averages the two
streams' softmax scores, ``weighted`` mixes them with a learnt weight, and
``learned`` feeds both score vectors to a small network.  ``feature``
concatenates the pooled features of both streams before one linear
classifier.  ``conv`` is Feichtenhofer et al.'s fusion after the last conv
layer: both streams' maps stacked on channels, a convolution (a bank of 1x1
filters, or 3x3x3 over snippet x y x x), then 3-D average pooling and a linear
classifier.

Score fusions return log-probabilities, so ``softmax`` of the output is the
fused probability itself and cross-entropy trains the fused score directly.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def snippet_consensus(logits: torch.Tensor) -> torch.Tensor:
    """(B, S, K) per-snippet scores to (B, K) log-probabilities of the mean softmax
    (seed 002: scores averaged over the test frames; also the training consensus)."""
    if logits.shape[1] == 1:
        return F.log_softmax(logits[:, 0], dim=-1)
    return torch.logsumexp(F.log_softmax(logits, dim=-1), dim=1) - math.log(logits.shape[1])


def align_snippets(rgb: torch.Tensor, flow: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Pair per-snippet ``(B, S, D)`` outputs of the two streams.

    Equal snippet counts pair one to one; a stream that scores its whole
    sequence (S = 1: a ConvLSTM, the representation-flow stream) serves every
    snippet of the other; otherwise both are averaged over their snippets.
    """
    if rgb.shape[1] == flow.shape[1]:
        return rgb, flow
    if rgb.shape[1] == 1:
        return rgb.expand(-1, flow.shape[1], -1), flow
    if flow.shape[1] == 1:
        return rgb, flow.expand(-1, rgb.shape[1], -1)
    return rgb.mean(dim=1, keepdim=True), flow.mean(dim=1, keepdim=True)


def mixture(rgb_logits: torch.Tensor, flow_logits: torch.Tensor, rgb_weight: torch.Tensor | float) -> torch.Tensor:
    """log(w * p_rgb + (1 - w) * p_flow), each stream's p averaged over its snippets."""
    rgb = snippet_consensus(rgb_logits)
    flow = snippet_consensus(flow_logits)
    w = torch.as_tensor(rgb_weight, dtype=rgb.dtype, device=rgb.device)
    return torch.logaddexp(rgb + torch.log(w), flow + torch.log1p(-w))


class WeightedFusion(nn.Module):
    """A learnt mixing weight ``sigmoid(alpha)`` for the spatial stream's probabilities."""

    def __init__(self, rgb_weight: float) -> None:
        super().__init__()
        self.alpha = nn.Parameter(torch.tensor(math.log(rgb_weight / (1.0 - rgb_weight))))

    @property
    def rgb_weight(self) -> torch.Tensor:
        return torch.sigmoid(self.alpha)

    def forward(self, rgb_logits: torch.Tensor, flow_logits: torch.Tensor) -> torch.Tensor:
        return mixture(rgb_logits, flow_logits, self.rgb_weight)


class LearnedFusion(nn.Module):
    """A small network on both streams' score vectors (seed 002: 2K -> 2K -> K)."""

    def __init__(self, num_classes: int, dropout: float) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(2 * num_classes, 2 * num_classes), nn.ReLU(), nn.Dropout(dropout), nn.Linear(2 * num_classes, num_classes))

    def forward(self, rgb_logits: torch.Tensor, flow_logits: torch.Tensor) -> torch.Tensor:
        rgb_logits, flow_logits = align_snippets(rgb_logits, flow_logits)
        return snippet_consensus(self.net(torch.cat((rgb_logits, flow_logits), dim=-1)))


class FeatureFusion(nn.Module):
    """One linear classifier on the concatenated pooled features; its weight splits into
    an RGB part and a flow part, so each stream still has exact class activation maps."""

    def __init__(self, rgb_channels: int, flow_channels: int, num_classes: int, dropout: float) -> None:
        super().__init__()
        self.rgb_channels = rgb_channels
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(rgb_channels + flow_channels, num_classes)

    def forward(self, rgb_pooled: torch.Tensor, flow_pooled: torch.Tensor) -> torch.Tensor:
        rgb_pooled, flow_pooled = align_snippets(rgb_pooled, flow_pooled)
        return snippet_consensus(self.classifier(self.dropout(torch.cat((rgb_pooled, flow_pooled), dim=-1))))

    def stream_weights(self) -> tuple[torch.Tensor, torch.Tensor]:
        weight = self.classifier.weight
        return weight[:, : self.rgb_channels], weight[:, self.rgb_channels :]


class ConvFusion(nn.Module):
    """Stack both streams' last conv maps, convolve, pool in 3-D, classify (Feichtenhofer 2016).

    Maps are ``(B, S, C, h, w)``; the snippets of a sample form the time axis of
    the 3-D convolution and pooling.  The output channels equal the spatial
    stream's (the fusion halves the stacked channels, as in the paper).
    """

    def __init__(self, rgb_channels: int, flow_channels: int, num_classes: int, *, kernel: str, dropout: float) -> None:
        super().__init__()
        if kernel not in ("1x1", "3d"):
            raise ValueError(f"conv fusion kernel must be '1x1' or '3d', got {kernel!r}")
        size, pad = ((1, 1, 1), 0) if kernel == "1x1" else ((3, 3, 3), 1)
        out = rgb_channels
        self.conv = nn.Conv3d(rgb_channels + flow_channels, out, size, padding=pad, bias=False)
        self.norm = nn.BatchNorm3d(out)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(out, num_classes)

    def fused_maps(self, rgb_maps: torch.Tensor, flow_maps: torch.Tensor) -> torch.Tensor:
        """(B, S, C_f, h, w): the fused maps the classifier reads through 3-D average pooling."""
        if rgb_maps.shape[:2] != flow_maps.shape[:2] or rgb_maps.shape[3:] != flow_maps.shape[3:]:
            raise ValueError(f"conv fusion needs both streams' maps on the same snippets and grid, got {tuple(rgb_maps.shape)} and {tuple(flow_maps.shape)}")
        stacked = torch.cat((rgb_maps, flow_maps), dim=2).transpose(1, 2)  # (B, C, S, h, w)
        return torch.relu(self.norm(self.conv(stacked))).transpose(1, 2)

    def forward(self, rgb_maps: torch.Tensor, flow_maps: torch.Tensor) -> torch.Tensor:
        fused = self.fused_maps(rgb_maps, flow_maps)
        return self.classifier(self.dropout(fused.mean(dim=(1, 3, 4))))
