"""Building a two-stream ConvNet from its config: two trunks, their heads, the fusion."""

from __future__ import annotations

import os

from core.models.convnet.config import SCORE_FUSIONS, ConvNetConfig
from core.models.convnet.model import TwoStreamConvNet
from core.models.shared.resnet import build_trunk
from core.models.shared.streams import FrameStream


def build_convnet(
    config: ConvNetConfig,
    *,
    pretrained: bool = False,
    imagenet_weights: str | os.PathLike[str] | None = None,
    random_weights_ok: bool = False,
    option_hint: str = "",
) -> TwoStreamConvNet:
    """A :class:`TwoStreamConvNet` for ``config``.

    With ``pretrained`` (or an explicit ``imagenet_weights`` file) both trunks
    start from the ImageNet ResNet: the spatial one as it is, the temporal one
    by cross-modality initialisation of its 2L-channel first convolution.
    Loading a checkpoint builds with ``pretrained=False`` and fills in its weights.
    """
    config.validate()
    options = dict(config.backbone_options)
    own_heads = config.variant in ("rgb", "flow", *SCORE_FUSIONS)

    def trunk(in_channels: int):
        return build_trunk(
            config.backbone,
            in_channels=in_channels,
            pretrained=pretrained,
            weights_path=imagenet_weights,
            random_weights_ok=random_weights_ok,
            option_hint=option_hint,
            **options,
        )

    rgb = flow = None
    if config.uses_rgb:
        rgb = FrameStream(trunk(3), config.num_classes, attention=config.rgb_attention, convlstm=config.rgb_convlstm, dropout=config.dropout, with_head=own_heads)
    if config.uses_flow:
        flow = FrameStream(trunk(config.flow_channels), config.num_classes, dropout=config.dropout, with_head=own_heads)
    return TwoStreamConvNet(config, rgb_stream=rgb, flow_stream=flow)
