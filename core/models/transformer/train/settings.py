"""A training run's settings to the transformer's config (seed 000: the fusion encoder's shape,
the backbone, the flow method and its colour encoding)."""

from __future__ import annotations

from typing import Any, Sequence

from core.models.transformer.config import FusionConfig, TransformerConfig

# The train command's options only this family reads (argparse dests).
TRAIN_OPTIONS = ("backbone", "tiny_dim", "frame_wise", "flow_radius", "flow_normalization", "depth", "heads", "head_dim",
                 "spatial_pool", "rgb_time_pool", "head_layers", "finetune", "augment", "clips_per_video", "flow_method",
                 "raft_weights", "clip_length")


def config_from_settings(settings: Any, class_names: Sequence[str]) -> TransformerConfig:
    """The config of a transformer trained with ``settings`` (``ValueError`` for bad settings)."""
    fusion = FusionConfig(
        heads=settings.heads,
        head_dim=settings.head_dim,
        depth=settings.depth,
        spatial_pool=settings.spatial_pool,
        rgb_time_pool=settings.rgb_time_pool,
        head_layers=settings.head_layers,
        head_dropout=settings.head_dropout,
    )
    overrides: dict[str, Any] = {
        "variant": settings.variant,
        "fusion": fusion,
        "backbone_options": dict(settings.backbone_options),
        "flow_method": settings.flow_method,
        "flow_encoding": dict(settings.flow_encoding),
    }
    if settings.input_size:
        overrides["input_size"] = settings.input_size
    if settings.clip_length:
        overrides["clip_length"] = settings.clip_length
    return TransformerConfig.create(backbone=settings.backbone, class_names=list(class_names), **overrides)
