"""A training run's settings to the transformer's config (seed 000: the fusion encoder's shape,
the backbone, the flow method and its colour encoding)."""

from __future__ import annotations

from typing import Any, Sequence

from core.models.transformer.config import FusionConfig, TransformerConfig

# The train command's options only this family reads (argparse dests).
TRAIN_OPTIONS = ("backbone", "tiny_dim", "frame_wise", "flow_radius", "flow_normalization", "depth", "heads", "head_dim",
                 "spatial_pool", "rgb_time_pool", "head_layers", "finetune", "augment", "clips_per_video", "flow_method",
                 "raft_weights", "clip_length", "extract_workers", "flow_batch")


# Seed 000's configuration (its section 3): MViTv2-S with Kinetics-400 weights on each stream,
# RAFT-large flow rendered by flow_to_image (the largest motion of each clip, the exact Middlebury
# wheel), a transformer encoder of 8 heads x 96 dims over [class; RGB; flow] tokens, the head
# LayerNorm-Dropout(0.5)-Linear, Adam at 2e-4, batch 8, up to 200 epochs with early stopping, no
# augmentation.  The seed does not give the encoder's depth or the patience: the defaults (2, 10).
RECIPES = {
    "seed000": {
        "backbone": "mvit_v2_s",
        "pretrained": True,
        "flow_method": "raft-large",
        "flow_encoding": {"normalization": "max", "max_radius": 1.0, "wheel": "middlebury"},
        "heads": 8,
        "head_dim": 96,
        "head_layers": 1,
        "head_dropout": 0.5,
        "variant": "fusion",
        "lr": 2e-4,
        "weight_decay": 0.0,
        "batch_size": 8,
        "epochs": 200,
        "augment": "none",
    },
}


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
