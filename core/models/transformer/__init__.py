"""The two-stream temporal transformer (seed 000): two video backbones (MViTv2-S, Swin3D-S, tiny)
give token grids of the RGB clip and of its flow rendered in colour; the sequence [class token;
RGB tokens; flow tokens] plus positional embeddings goes through a transformer encoder and a head.

    config.py         TransformerConfig, FusionConfig: what a checkpoint records
    layout.py         where each token sits in the fusion sequence
    heads.py          classifier heads
    model.py          TwoStreamTransformer (variants rgb, flow, concat, fusion)
    factory.py        build_transformer(config)
    inputs.py         frames -> RGB clip + flow colour images (inference and training share it)
    predict.py        TransformerClassifier: frames -> core.prediction.Prediction
    explain.py        AttentionMaps: per-layer/head attention, rollout, relevance
    attention_map.py  token volumes back to original frame pixels
    describe.py       how the interface describes a checkpoint
    train/            frozen backbones, the token cache, the trainer (torchrun too)
"""

from __future__ import annotations

from core.models.registry import Family, deferred, register_family
from core.models.transformer.config import FAMILY_TRANSFORMER, VARIANTS, FusionConfig, TransformerConfig
from core.models.transformer.describe import describe, flow_statement
from core.models.transformer.factory import build_transformer
from core.models.transformer.model import TwoStreamTransformer
from core.models.transformer.predict import TransformerClassifier
from core.models.transformer.train.settings import RECIPES, TRAIN_OPTIONS, config_from_settings
from core.resources import DEMO_CHECKPOINT


FAMILY = register_family(
    Family(
        name=FAMILY_TRANSFORMER,
        title="two-stream transformer",
        summary="two video backbones (MViTv2-S, Swin3D-S, tiny) and a fusion transformer (seed 000)",
        config_class=TransformerConfig,
        variants=VARIANTS,
        default_variant="fusion",
        build=build_transformer,
        classifier=TransformerClassifier,
        train=deferred("core.models.transformer.train.trainer:train_transformer"),
        config_from_settings=config_from_settings,
        describe=describe,
        flow_statement=flow_statement,
        train_options=TRAIN_OPTIONS,
        demo_checkpoint=DEMO_CHECKPOINT,
        ablation_scorer=deferred("core.models.transformer.train.cached_scoring:score_on_cached_tokens"),
        recipes=RECIPES,
    ),
    default=True,
)

__all__ = ["FAMILY", "FusionConfig", "TransformerClassifier", "TransformerConfig", "TwoStreamTransformer", "build_transformer"]
