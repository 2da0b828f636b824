"""The classic two-stream ConvNet family (seeds 001-003): ResNet streams on RGB frames and stacked
flow, five fusions, class activation maps, CAM spatial attention and a ConvLSTM.

    config.py     ConvNetConfig: what a checkpoint records
    model.py      TwoStreamConvNet: forward(rgb, flow), explain -> CAM per snippet
    factory.py    build_convnet(config)
    inputs.py     frames -> snippets (centre frame + L stacked flow fields), test/train sampling
    predict.py    ConvNetClassifier: frames -> core.prediction.Prediction (with CamMaps)
    describe.py   how the interface describes a checkpoint
    train.py      the run's settings -> config; training samples for the end-to-end trainer

The trunks, streams, CAM and fusion layers it shares with representation flow
are in :mod:`core.models.shared`.
"""

from __future__ import annotations

from core.models.convnet.config import CONVNET_VARIANTS, FAMILY_CONVNET, ConvNetConfig
from core.models.convnet.describe import describe, flow_statement
from core.models.convnet.factory import build_convnet
from core.models.convnet.model import TwoStreamConvNet
from core.models.convnet.predict import ConvNetClassifier
from core.models.convnet.train import (RECIPES, TRAIN_OPTIONS, config_from_settings, needs_flow, sample_inputs, training_inputs,
                                       training_scale)
from core.models.registry import Family, register_family
from core.models.shared.resnet import resnet_family_fields
from core.resources import DEMO_CONVNET


FAMILY = register_family(
    Family(
        name=FAMILY_CONVNET,
        title="two-stream ConvNet",
        summary="classic two-stream ResNets: a frame and L stacked flow fields, late/feature/conv fusion (seeds 001-003)",
        config_class=ConvNetConfig,
        variants=CONVNET_VARIANTS,
        default_variant="late",
        **resnet_family_fields(build_convnet),
        classifier=ConvNetClassifier,
        config_from_settings=config_from_settings,
        describe=describe,
        flow_statement=flow_statement,
        train_options=TRAIN_OPTIONS,
        sample_inputs=sample_inputs,
        training_inputs=training_inputs,
        training_scale=training_scale,
        colour_jitter=True,
        needs_flow=needs_flow,
        demo_checkpoint=DEMO_CONVNET,
        recipes=RECIPES,
    )
)

__all__ = ["FAMILY", "ConvNetClassifier", "ConvNetConfig", "TwoStreamConvNet", "build_convnet"]
