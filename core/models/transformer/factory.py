"""Building a whole two-stream model from its config: two backbone instances plus the fusion."""

from __future__ import annotations

import os

from core.models.shared.backbones import build_backbone
from core.models.transformer.config import TransformerConfig
from core.models.transformer.model import TwoStreamTransformer


def build_transformer(
    config: TransformerConfig,
    *,
    pretrained: bool = False,
    rgb_weights: str | os.PathLike[str] | None = None,
    flow_weights: str | os.PathLike[str] | None = None,
    random_weights_ok: bool = False,
    option_hint: str = "",
) -> TwoStreamTransformer:
    """A :class:`TwoStreamTransformer` with a separate backbone per stream the variant uses.

    With ``pretrained`` both streams start from the backbone's Kinetics-400
    weights (the flow stream too, as in seed 000); ``*_weights`` name explicit
    files.  Loading a checkpoint builds with ``pretrained=False`` and then
    fills in the checkpoint's weights.
    """
    config.validate()
    options = dict(config.backbone_options)

    def backbone(weights: str | os.PathLike[str] | None):
        return build_backbone(
            config.backbone,
            pretrained=pretrained,
            weights_path=weights,
            random_weights_ok=random_weights_ok,
            option_hint=option_hint,
            **options,
        )

    rgb = backbone(rgb_weights) if config.uses_rgb else None
    flow = backbone(flow_weights) if config.uses_flow else None
    return TwoStreamTransformer(config, rgb_backbone=rgb, flow_backbone=flow)
