"""Models: backbones that give token grids, the two-stream fusion transformer,
its attention maps, and checkpoint I/O.

    backbones/      registry: tiny, mvit_v2_s, swin3d_s -> (B, T', H', W', C) token grids
    config.py       ModelConfig: everything a checkpoint records beside the weights
    layout.py       where each token sits in the fusion sequence
    encoder.py      our pre-norm encoder (fused attention, or recorded for explain)
    heads.py        classifier heads
    fusion.py       TwoStreamTransformer (variants rgb, flow, concat, fusion)
    factory.py      build_model(config)
    explain.py      AttentionMaps: per-layer/head attention, rollout, relevance
    attention_map.py  token volumes back to original frame pixels
    checkpoint.py   save_checkpoint / load_checkpoint (.safetensors + JSON config), any family
    families.py     the family registry: transformer, convnet, repflow (config, build, classifier)
    convnet/        classic two-stream ResNets (seeds 001-003), CAM, ConvLSTM
    repflow/        the representation-flow network (seed 004)
"""

from __future__ import annotations

from core.models.attention_map import heatmap_for_frame, slices_for_frame, token_region
from core.models.backbones import BACKBONE_NAMES, BackboneInfo, backbone_info, build_backbone
from core.models.checkpoint import CheckpointInfo, load_checkpoint, read_checkpoint_info, save_checkpoint
from core.models.config import VARIANTS, FusionConfig, ModelConfig
from core.models.explain import AttentionMaps, Explanation, attention_rollout, explain, relevance_propagation
from core.models.factory import build_model
from core.models.families import FAMILIES, open_classifier
from core.models.fusion import TwoStreamTransformer
from core.models.layout import TokenLayout

__all__ = [
    "BACKBONE_NAMES",
    "FAMILIES",
    "VARIANTS",
    "AttentionMaps",
    "BackboneInfo",
    "CheckpointInfo",
    "Explanation",
    "FusionConfig",
    "ModelConfig",
    "TokenLayout",
    "TwoStreamTransformer",
    "attention_rollout",
    "backbone_info",
    "build_backbone",
    "build_model",
    "explain",
    "heatmap_for_frame",
    "open_classifier",
    "load_checkpoint",
    "read_checkpoint_info",
    "relevance_propagation",
    "save_checkpoint",
    "slices_for_frame",
    "token_region",
]
