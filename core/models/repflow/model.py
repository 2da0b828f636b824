"""The representation-flow stream and the two-stream model built around it (seed 004).

Stream: RGB clip ``(B, T, 3, H, W)`` -> ResNet stem and stages 1..``flow_stage``
per frame -> :class:`RepresentationFlowBlock` on ``(B, C, T, h, w)`` -> the
remaining stages per frame -> ``(B, T - flow_layers, C', h', w')`` maps,
averaged over time and space -> linear classifier.  The block: a 1x1
reduction to 32 channels, the flow layers with a 3x3 convolution between
consecutive ones (flow of flow), a 3x3 expansion back to C channels, and a
residual connection through a batch norm initialised to zero, so the block
starts as the identity on the first ``T - flow_layers`` frames.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import torch
from torch import nn

from core.models.shared.fusion import LearnedFusion, mixture, snippet_consensus
from core.models.shared.streams import TwoBranchLoss, resolve_targets
from core.models.shared.resnet import ResNetTrunk
from core.models.shared.cam_maps import CamExplanation, cam_maps_of
from core.models.shared.streams import FrameStream, Stream, StreamMaps, check_snippets
from core.models.repflow.config import RepFlowConfig
from core.models.repflow.layer import RepresentationFlow


class RepresentationFlowBlock(nn.Module):
    """``(B, C, T, h, w)`` to ``(B, C, T - layers, h, w)``: identity at initialisation."""

    def __init__(self, channels: int, *, layers: int = 2, bottleneck: int = 32, iterations: int = 20, theta: float = 0.3, lambda_: float = 0.15, tau: float = 0.25) -> None:
        super().__init__()
        if layers < 1:
            raise ValueError(f"a representation-flow block needs at least one flow layer, got {layers}")
        self.reduce = nn.Conv3d(channels, bottleneck, 1, bias=False)
        self.flows = nn.ModuleList(RepresentationFlow(iterations=iterations, theta=theta, lambda_=lambda_, tau=tau) for _ in range(layers))
        self.between = nn.ModuleList(
            nn.Sequential(nn.Conv3d(2 * bottleneck, bottleneck, (1, 3, 3), padding=(0, 1, 1), bias=False), nn.BatchNorm3d(bottleneck), nn.ReLU(inplace=True))
            for _ in range(layers - 1)
        )
        self.expand = nn.Conv3d(2 * bottleneck, channels, (1, 3, 3), padding=(0, 1, 1), bias=False)
        self.norm = nn.BatchNorm3d(channels)
        nn.init.zeros_(self.norm.weight)  # the residual branch starts silent: the block is the identity
        nn.init.zeros_(self.norm.bias)

    @property
    def layers(self) -> int:
        return len(self.flows)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 5 or x.shape[2] <= self.layers:
            raise ValueError(f"the flow block needs (B, C, T, h, w) features with T > {self.layers}, got shape {tuple(x.shape)}")
        y = self.reduce(x)
        for k, flow in enumerate(self.flows):
            y = flow(y)
            if k < len(self.between):
                y = self.between[k](y)
        y = self.norm(self.expand(y))
        return torch.relu(x[:, :, : y.shape[2]] + y)


class RepFlowStream(Stream):
    """A ResNet on RGB clips with a representation-flow block after stage ``flow_stage``."""

    def __init__(self, trunk: ResNetTrunk, block: RepresentationFlowBlock | None, num_classes: int, *, flow_stage: int = 2, dropout: float = 0.5, with_head: bool = True) -> None:
        super().__init__()
        if trunk.in_channels != 3:
            raise ValueError(f"the representation-flow stream takes RGB frames: its trunk must have 3 input channels, got {trunk.in_channels}")
        self.trunk = trunk
        self.block = block
        self.flow_stage = flow_stage
        self._init_head(trunk.info.out_channels, num_classes, dropout, with_head)

    @property
    def in_channels(self) -> int:
        return 3

    @property
    def frames_used(self) -> int:
        """Frames each flow layer consumes: output time steps are ``T - frames_used``."""
        return 0 if self.block is None else self.block.layers

    def forward_maps(self, x: torch.Tensor) -> StreamMaps:
        check_snippets(x, "representation-flow clip", 3)
        batch, frames = x.shape[:2]
        if frames <= self.frames_used:
            raise ValueError(f"a clip of {frames} frames is too short for {self.frames_used} flow layers")
        y = self.trunk.run(x.flatten(0, 1), 0, self.flow_stage + 1)  # (B*T, C, h, w)
        if self.block is not None:
            y = y.view(batch, frames, *y.shape[1:]).transpose(1, 2)  # (B, C, T, h, w)
            y = self.block(y)
            frames = y.shape[2]
            y = y.transpose(1, 2).flatten(0, 1)
        y = self.trunk.run(y, self.flow_stage + 1)
        maps = y.view(batch, frames, *y.shape[1:])
        return StreamMaps(maps=maps, pooled=maps.mean(dim=(1, 3, 4)).unsqueeze(1))

    def flow_parameters(self) -> list[nn.Parameter]:
        """The TV-L1 parameters and difference kernels of every flow layer (trained at a lower rate)."""
        if self.block is None:
            return []
        return [p for layer in self.block.flows for p in layer.parameters()]


class RepFlowNet(TwoBranchLoss, nn.Module):
    """The representation-flow stream, an RGB stream, or both fused at the decision level.

    ``forward(rgb=(B, T, 3, H, W))`` returns ``(B, K)`` scores whose softmax is the
    class probability; both streams read the same clip.
    """

    def __init__(self, config: RepFlowConfig, *, rgb_stream: FrameStream | None, flow_stream: RepFlowStream | None) -> None:
        super().__init__()
        config.validate()
        self.config = config
        if config.uses_rgb and rgb_stream is None:
            raise ValueError(f"variant {config.variant!r} needs an RGB stream")
        if config.uses_flow and flow_stream is None:
            raise ValueError(f"variant {config.variant!r} needs a representation-flow stream")
        self.rgb_stream = rgb_stream if config.uses_rgb else None
        self.flow_stream = flow_stream if config.uses_flow else None
        self.fusion = LearnedFusion(config.num_classes, config.dropout) if config.variant == "learned" else None

    def classifier_keys(self) -> list[str]:
        """State-dict keys of every weight with one row per class (a checkpoint with another
        class count is refused by name)."""
        return [f"{name}.weight" for name, module in self.named_modules() if isinstance(module, nn.Linear) and module.out_features == self.config.num_classes and name.endswith(("head", "classifier"))]

    def _clip(self, inputs: Mapping[str, torch.Tensor | None]) -> torch.Tensor:
        rgb = inputs.get("rgb")
        if rgb is None:
            raise ValueError("the representation-flow model needs an RGB clip, got None")
        check_snippets(rgb, "rgb clip", 3, self.config.input_size)
        return rgb

    def rgb_branch(self, inputs: Mapping[str, torch.Tensor | None]) -> StreamMaps | None:
        return None if self.rgb_stream is None else self.rgb_stream.forward_maps(self._clip(inputs))

    def flow_branch(self, inputs: Mapping[str, torch.Tensor | None]) -> StreamMaps | None:
        return None if self.flow_stream is None else self.flow_stream.forward_maps(self._clip(inputs))

    def fuse(self, rgb_maps: StreamMaps | None, flow_maps: StreamMaps | None) -> torch.Tensor:
        variant = self.config.variant
        if variant == "rgb":
            assert self.rgb_stream is not None and rgb_maps is not None
            return snippet_consensus(self.rgb_stream.logits(rgb_maps))
        if variant == "flow":
            assert self.flow_stream is not None and flow_maps is not None
            return snippet_consensus(self.flow_stream.logits(flow_maps))
        assert self.rgb_stream is not None and self.flow_stream is not None and rgb_maps is not None and flow_maps is not None
        rgb_logits, flow_logits = self.rgb_stream.logits(rgb_maps), self.flow_stream.logits(flow_maps)
        if variant == "late":
            return mixture(rgb_logits, flow_logits, 0.5)
        assert self.fusion is not None
        return self.fusion(rgb_logits, flow_logits)

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        inputs = {"rgb": rgb}
        return self.fuse(self.rgb_branch(inputs), self.flow_branch(inputs))

    def stream_cams(self, rgb_maps: StreamMaps | None, flow_maps: StreamMaps | None, classes: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """(B, T', h, w) CAMs per stream: the RGB stream per frame, the flow stream per output step."""
        rgb_cam = self.rgb_stream.cam(rgb_maps, classes) if self.rgb_stream is not None and rgb_maps is not None else None
        flow_cam = self.flow_stream.cam(flow_maps, classes) if self.flow_stream is not None and flow_maps is not None else None
        return rgb_cam, flow_cam

    @torch.no_grad()
    def explain(self, rgb: torch.Tensor, *, target_class: int | Sequence[int] | None = None) -> CamExplanation:
        """Scores plus one :class:`CamMaps` per clip for ``target_class`` (default: the predicted class)."""
        inputs = {"rgb": rgb}
        rgb_maps, flow_maps = self.rgb_branch(inputs), self.flow_branch(inputs)
        logits = self.fuse(rgb_maps, flow_maps)
        classes = resolve_targets(logits, target_class)
        maps = cam_maps_of(*self.stream_cams(rgb_maps, flow_maps, classes), classes)
        return CamExplanation(logits=logits, maps=maps)

    def param_groups(self, lr: float) -> list[dict]:
        """Optimizer groups: the flow layers at ``lr * flow_lr_scale`` (lr / 100 by default: our choice, see config), the rest at ``lr``."""
        flow = self.flow_stream.flow_parameters() if self.flow_stream is not None else []
        flow_ids = {id(p) for p in flow}
        rest = [p for p in self.parameters() if id(p) not in flow_ids]
        groups = [{"params": rest, "lr": lr, "name": "network"}]
        if flow:
            groups.append({"params": flow, "lr": lr * self.config.flow_lr_scale, "name": "representation_flow"})
        return groups
