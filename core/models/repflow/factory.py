"""Building a representation-flow model from its config."""

from __future__ import annotations

import os

from core.models.shared.resnet import build_trunk
from core.models.shared.streams import FrameStream
from core.models.repflow.config import RepFlowConfig
from core.models.repflow.model import RepFlowNet, RepFlowStream, RepresentationFlowBlock


def build_repflow(
    config: RepFlowConfig,
    *,
    pretrained: bool = False,
    imagenet_weights: str | os.PathLike[str] | None = None,
    random_weights_ok: bool = False,
    option_hint: str = "",
) -> RepFlowNet:
    """A :class:`RepFlowNet` for ``config``; with ``pretrained`` (or an explicit
    ``imagenet_weights`` file) its ResNets start from ImageNet (the flow block is new)."""
    config.validate()
    options = dict(config.backbone_options)

    def trunk():
        return build_trunk(config.backbone, pretrained=pretrained, weights_path=imagenet_weights, random_weights_ok=random_weights_ok, option_hint=option_hint, **options)

    own_heads = True  # every variant keeps one classifier per stream (decision-level fusion)
    rgb = flow = None
    if config.uses_rgb:
        rgb = FrameStream(trunk(), config.num_classes, attention=config.rgb_attention, convlstm=config.rgb_convlstm, dropout=config.dropout, with_head=own_heads)
    if config.uses_flow:
        flow_trunk = trunk()
        block = None
        if config.flow_layers > 0:
            channels = flow_trunk.info.channels[config.flow_stage]
            block = RepresentationFlowBlock(
                channels, layers=config.flow_layers, bottleneck=config.bottleneck, iterations=config.iterations,
                theta=config.theta, lambda_=config.lambda_, tau=config.tau,
            )
        flow = RepFlowStream(flow_trunk, block, config.num_classes, flow_stage=config.flow_stage, dropout=config.dropout, with_head=own_heads)
    return RepFlowNet(config, rgb_stream=rgb, flow_stream=flow)
