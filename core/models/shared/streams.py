"""One stream: a 2-D ResNet trunk run on every snippet, then (optionally) its own classifier.

The spatial stream takes frames ``(B, S, 3, H, W)``, the temporal stream
stacked flow ``(B, S, 2L, H, W)``; both give :class:`StreamMaps`: the last
conv maps of every snippet and the pooled features their classifier reads.
The spatial stream may weight its maps by CAM spatial attention and run a
ConvLSTM over the snippets in time order (seed 004); then only the last
step's hidden map is pooled, and the stream scores the whole sequence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from core.models.shared.cam import SpatialAttention, class_activation_maps
from core.models.shared.convlstm import ConvLSTM
from core.models.shared.fusion import snippet_consensus
from core.models.shared.resnet import ResNetTrunk


@dataclass(frozen=True, eq=False)
class StreamMaps:
    """``maps`` (B, S, C, h, w): per-snippet maps that reach the classifier by average
    pooling; ``pooled`` (B, S', C): S' = S, or 1 when the stream combines its snippets."""

    maps: torch.Tensor
    pooled: torch.Tensor


class Stream(nn.Module):
    """What every stream offers the fusions: maps, pooled features and (optionally) its own
    linear classifier, whose weights give exact class activation maps."""

    out_channels: int

    def _init_head(self, channels: int, num_classes: int, dropout: float, with_head: bool) -> None:
        self.out_channels = channels
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(channels, num_classes) if with_head else None

    def forward_maps(self, x: torch.Tensor) -> StreamMaps:
        raise NotImplementedError

    def logits(self, features: StreamMaps) -> torch.Tensor:
        """(B, S', K) class scores from pooled features."""
        if self.head is None:
            raise ValueError("this stream has no classifier of its own (the fusion classifies)")
        return self.head(self.dropout(features.pooled))

    def cam(self, features: StreamMaps, classes: torch.Tensor) -> torch.Tensor:
        """(B, S, h, w) class activation maps of ``classes`` (B,) with this stream's classifier."""
        if self.head is None:
            raise ValueError("this stream has no classifier of its own (the fusion classifies)")
        return weighted_cam(features.maps, self.head.weight, classes)


class FrameStream(Stream):
    """A trunk applied per snippet, optional CAM attention and ConvLSTM, optional linear head."""

    def __init__(
        self,
        trunk: ResNetTrunk,
        num_classes: int,
        *,
        attention: bool = False,
        convlstm: int = 0,
        dropout: float = 0.5,
        with_head: bool = True,
    ) -> None:
        super().__init__()
        self.trunk = trunk
        channels = trunk.info.out_channels
        self.attention = SpatialAttention(channels, num_classes) if attention else None
        self.lstm = ConvLSTM(channels, convlstm) if convlstm > 0 else None
        self._init_head(convlstm if convlstm > 0 else channels, num_classes, dropout, with_head)

    @property
    def in_channels(self) -> int:
        return self.trunk.in_channels

    @property
    def joint(self) -> bool:
        """True when the stream scores its snippets together (ConvLSTM)."""
        return self.lstm is not None

    def check_input(self, x: torch.Tensor, name: str, size: int | None = None) -> None:
        check_snippets(x, name, self.in_channels, size)

    def forward_maps(self, x: torch.Tensor) -> StreamMaps:
        """``(B, S, C_in, H, W)`` to the stream's maps and pooled features."""
        self.check_input(x, "stream")
        batch, snippets = x.shape[:2]
        maps = self.trunk(x.flatten(0, 1))
        if self.attention is not None:
            maps = self.attention(maps)
        maps = maps.view(batch, snippets, *maps.shape[1:])
        if self.lstm is not None:
            maps = self.lstm(maps)
            return StreamMaps(maps=maps, pooled=maps[:, -1].mean(dim=(2, 3)).unsqueeze(1))
        return StreamMaps(maps=maps, pooled=maps.mean(dim=(3, 4)))


def check_snippets(x: torch.Tensor, name: str, channels: int, size: int | None = None) -> None:
    """Refuse anything but ``(B, S, channels, size, size)`` with B, S >= 1, naming the shape."""
    if x.ndim != 5 or x.shape[2] != channels or x.shape[0] < 1 or x.shape[1] < 1:
        raise ValueError(f"{name} input must have shape (B, S, {channels}, H, W), got {tuple(x.shape)}")
    if size is not None and tuple(x.shape[3:]) != (size, size):
        raise ValueError(f"{name} input must be {size}x{size} pixels, got {x.shape[3]}x{x.shape[4]}")


def weighted_cam(maps: torch.Tensor, weight: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
    """CAM of per-snippet maps ``(B, S, C, h, w)`` with class weights (K, C): (B, S, h, w)."""
    batch, snippets = maps.shape[:2]
    per_map = classes.repeat_interleave(snippets)
    return class_activation_maps(maps.flatten(0, 1), weight, per_map).view(batch, snippets, *maps.shape[3:])


def resolve_targets(logits: torch.Tensor, target_class: int | Sequence[int] | None) -> torch.Tensor:
    """One class per sample: the argmax, or ``target_class`` checked against the class count."""
    batch, num_classes = logits.shape
    if target_class is None:
        return logits.argmax(dim=1)
    values = [target_class] * batch if isinstance(target_class, int) else list(target_class)
    if len(values) != batch or not all(0 <= int(v) < num_classes for v in values):
        raise ValueError(f"target_class must be one class in [0, {num_classes}) per sample, got {target_class!r}")
    return torch.as_tensor([int(v) for v in values], device=logits.device)


SCORE_FUSIONS = ("late", "weighted", "learned")  # fusions of the two streams' own class scores


class TwoBranchLoss:
    """The training loss of a model with an RGB and a flow branch and a fusion (``rgb_branch``,
    ``flow_branch``, ``fuse``, ``rgb_stream``/``flow_stream`` with ``logits``).

    Score fusions: seed 002 trains the streams apart and fuses their scores
    afterwards; here the model trains jointly on three cross-entropies, each
    stream's own consensus score and the fused score, so each stream is
    supervised as if alone while the fusion's parameters learn from the fused
    term.  Other fusions: the fused cross-entropy alone.
    """

    def training_loss(self, batch: dict[str, torch.Tensor], labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(loss, fused scores) of a batch."""
        model: Any = self
        rgb_maps, flow_maps = model.rgb_branch(batch), model.flow_branch(batch)
        scores = model.fuse(rgb_maps, flow_maps)
        loss = F.cross_entropy(scores, labels)
        if model.config.variant in SCORE_FUSIONS:
            loss = loss + F.cross_entropy(snippet_consensus(model.rgb_stream.logits(rgb_maps)), labels)
            loss = loss + F.cross_entropy(snippet_consensus(model.flow_stream.logits(flow_maps)), labels)
        return loss, scores
