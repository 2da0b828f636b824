"""The classic two-stream ConvNet (Simonyan & Zisserman 2014; seeds 001-003).

``forward(rgb=(B, S, 3, H, W), flow=(B, S, 2L, H, W))`` returns ``(B, K)``
scores for B samples of S snippets each; ``softmax`` of them is the sample's
class probability (for per-snippet variants, the mean of the snippets'
softmax, as seed 002 averages 25 test frames).  ``explain`` returns the
per-snippet class activation maps of both streams.  Streams are injected, so
tests build tiny ones (:func:`core.models.convnet.factory.build_convnet`
builds them from a config).
"""

from __future__ import annotations

from typing import Mapping, Sequence

import torch
from torch import nn

from core.models.convnet.config import SCORE_FUSIONS, ConvNetConfig
from core.models.shared.fusion import ConvFusion, FeatureFusion, LearnedFusion, WeightedFusion, mixture, snippet_consensus
from core.models.shared.cam_maps import CamExplanation, cam_maps_of
from core.models.shared.streams import TwoBranchLoss, FrameStream, StreamMaps, resolve_targets, weighted_cam


class TwoStreamConvNet(TwoBranchLoss, nn.Module):
    """Spatial and temporal :class:`FrameStream` s plus the variant's fusion."""

    def __init__(self, config: ConvNetConfig, *, rgb_stream: FrameStream | None, flow_stream: FrameStream | None) -> None:
        super().__init__()
        config.validate()
        self.config = config
        variant = config.variant
        if config.uses_rgb and (rgb_stream is None or rgb_stream.in_channels != 3):
            raise ValueError(f"variant {variant!r} needs a spatial stream with 3 input channels, got {None if rgb_stream is None else rgb_stream.in_channels}")
        if config.uses_flow and (flow_stream is None or flow_stream.in_channels != config.flow_channels):
            got = None if flow_stream is None else flow_stream.in_channels
            raise ValueError(f"variant {variant!r} needs a temporal stream with 2L = {config.flow_channels} input channels, got {got}")
        self.rgb_stream = rgb_stream if config.uses_rgb else None
        self.flow_stream = flow_stream if config.uses_flow else None
        own_heads = variant in ("rgb", "flow", *SCORE_FUSIONS)
        for stream in (self.rgb_stream, self.flow_stream):
            if stream is not None and (stream.head is not None) != own_heads:
                raise ValueError(f"variant {variant!r} needs streams {'with' if own_heads else 'without'} their own classifiers")
        self.fusion: nn.Module | None = None
        if variant == "weighted":
            self.fusion = WeightedFusion(config.fusion_rgb_weight)
        elif variant == "learned":
            self.fusion = LearnedFusion(config.num_classes, config.dropout)
        elif variant == "feature":
            assert self.rgb_stream is not None and self.flow_stream is not None
            self.fusion = FeatureFusion(self.rgb_stream.out_channels, self.flow_stream.out_channels, config.num_classes, config.dropout)
        elif variant == "conv":
            assert self.rgb_stream is not None and self.flow_stream is not None
            self.fusion = ConvFusion(self.rgb_stream.out_channels, self.flow_stream.out_channels, config.num_classes, kernel=config.conv_fusion, dropout=config.dropout)

    def classifier_keys(self) -> list[str]:
        """State-dict keys of every weight with one row per class (a checkpoint with another
        class count is refused by name)."""
        return [f"{name}.weight" for name, module in self.named_modules() if isinstance(module, nn.Linear) and module.out_features == self.config.num_classes and name.endswith(("head", "classifier"))]

    # -- streams ----------------------------------------------------------------------------

    def forward_streams(self, rgb: torch.Tensor | None, flow: torch.Tensor | None) -> tuple[StreamMaps | None, StreamMaps | None]:
        """Both streams' maps; an unused stream gives ``None``."""
        if rgb is not None and flow is not None and self.config.uses_rgb and self.config.uses_flow and rgb.shape[:2] != flow.shape[:2]:
            raise ValueError(f"rgb and flow must hold the same samples and snippets (B, S): {tuple(rgb.shape[:2])} vs {tuple(flow.shape[:2])}")
        return self.rgb_branch({"rgb": rgb}), self.flow_branch({"flow": flow})

    def rgb_branch(self, inputs: Mapping[str, torch.Tensor | None]) -> StreamMaps | None:
        """The spatial stream on ``inputs["rgb"]`` (B, S, 3, H, W); ``None`` when unused."""
        if self.rgb_stream is None:
            return None
        rgb = inputs.get("rgb")
        if rgb is None:
            raise ValueError(f"variant {self.config.variant!r} needs RGB frames, got None")
        self.rgb_stream.check_input(rgb, "rgb", self.config.input_size)
        return self.rgb_stream.forward_maps(rgb)

    def flow_branch(self, inputs: Mapping[str, torch.Tensor | None]) -> StreamMaps | None:
        """The temporal stream on ``inputs["flow"]`` (B, S, 2L, H, W); ``None`` when unused."""
        if self.flow_stream is None:
            return None
        flow = inputs.get("flow")
        if flow is None:
            raise ValueError(f"variant {self.config.variant!r} needs stacked flow, got None")
        self.flow_stream.check_input(flow, "flow", self.config.input_size)
        return self.flow_stream.forward_maps(flow)

    # -- fusion -------------------------------------------------------------------------------

    def fuse(self, rgb_maps: StreamMaps | None, flow_maps: StreamMaps | None) -> torch.Tensor:
        """Stream outputs to ``(B, K)`` scores."""
        variant = self.config.variant
        if variant == "rgb":
            assert self.rgb_stream is not None and rgb_maps is not None
            return snippet_consensus(self.rgb_stream.logits(rgb_maps))
        if variant == "flow":
            assert self.flow_stream is not None and flow_maps is not None
            return snippet_consensus(self.flow_stream.logits(flow_maps))
        assert self.rgb_stream is not None and self.flow_stream is not None and rgb_maps is not None and flow_maps is not None
        if variant == "late":
            return mixture(self.rgb_stream.logits(rgb_maps), self.flow_stream.logits(flow_maps), 0.5)
        if variant in ("weighted", "learned"):
            assert self.fusion is not None
            return self.fusion(self.rgb_stream.logits(rgb_maps), self.flow_stream.logits(flow_maps))
        if variant == "feature":
            assert isinstance(self.fusion, FeatureFusion)
            return self.fusion(rgb_maps.pooled, flow_maps.pooled)
        assert isinstance(self.fusion, ConvFusion)
        return self.fusion(rgb_maps.maps, flow_maps.maps)

    def forward(self, rgb: torch.Tensor | None = None, flow: torch.Tensor | None = None) -> torch.Tensor:
        return self.fuse(*self.forward_streams(rgb, flow))

    # -- class activation maps -------------------------------------------------------------

    def stream_cams(self, rgb_maps: StreamMaps | None, flow_maps: StreamMaps | None, classes: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """(B, S, h, w) CAMs of ``classes`` (B,) for each stream, with the classifier that
        reads that stream's maps (its own head, its part of the feature classifier, or
        the conv fusion's classifier over the fused maps)."""
        variant = self.config.variant
        if variant == "feature":
            assert isinstance(self.fusion, FeatureFusion) and rgb_maps is not None and flow_maps is not None
            rgb_weight, flow_weight = self.fusion.stream_weights()
            return weighted_cam(rgb_maps.maps, rgb_weight, classes), weighted_cam(flow_maps.maps, flow_weight, classes)
        if variant == "conv":
            assert isinstance(self.fusion, ConvFusion) and rgb_maps is not None and flow_maps is not None
            fused = weighted_cam(self.fusion.fused_maps(rgb_maps.maps, flow_maps.maps), self.fusion.classifier.weight, classes)
            return fused, fused
        rgb_cam = self.rgb_stream.cam(rgb_maps, classes) if self.rgb_stream is not None and rgb_maps is not None else None
        flow_cam = self.flow_stream.cam(flow_maps, classes) if self.flow_stream is not None and flow_maps is not None else None
        return rgb_cam, flow_cam

    @torch.no_grad()
    def explain(
        self,
        rgb: torch.Tensor | None = None,
        flow: torch.Tensor | None = None,
        *,
        target_class: int | Sequence[int] | None = None,
    ) -> CamExplanation:
        """Scores plus one :class:`CamMaps` per sample for ``target_class`` (default: the predicted class)."""
        rgb_maps, flow_maps = self.forward_streams(rgb, flow)
        logits = self.fuse(rgb_maps, flow_maps)
        classes = resolve_targets(logits, target_class)
        maps = cam_maps_of(*self.stream_cams(rgb_maps, flow_maps, classes), classes)
        return CamExplanation(logits=logits, maps=maps)
