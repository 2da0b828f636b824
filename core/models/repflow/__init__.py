"""The representation-flow family (Piergiovanni & Ryoo 2019, as seed 004 uses it): a ResNet on
RGB clips with learnable TV-L1 flow layers on its feature maps, trained end to end.

    config.py    RepFlowConfig: what a checkpoint records
    layer.py     RepresentationFlow: TV-L1 on features (the flow engine's solver), learnable
    model.py     RepresentationFlowBlock, RepFlowStream, RepFlowNet (+ param_groups: flow at lr * flow_lr_scale)
    factory.py   build_repflow(config)
    inputs.py    frames -> one normalised RGB clip
    predict.py   RepFlowClassifier: frames -> core.prediction.Prediction (with CamMaps)
    describe.py  how the interface describes a checkpoint
    train.py     the run's settings -> config; training samples
"""

from __future__ import annotations

from core.models.registry import Family, register_family
from core.models.repflow.config import FAMILY_REPFLOW, REPFLOW_VARIANTS, RepFlowConfig
from core.models.repflow.describe import FLOW_NET, describe, flow_statement
from core.models.repflow.factory import build_repflow
from core.models.repflow.layer import RepresentationFlow
from core.models.repflow.model import RepFlowNet
from core.models.repflow.predict import RepFlowClassifier
from core.models.repflow.train import RECIPES, TRAIN_OPTIONS, config_from_settings, sample_inputs
from core.models.shared.resnet import resnet_family_fields
from core.resources import DEMO_REPFLOW


FAMILY = register_family(
    Family(
        name=FAMILY_REPFLOW,
        title="representation flow",
        summary="a ResNet on RGB clips with learnable TV-L1 representation-flow layers (seed 004)",
        config_class=RepFlowConfig,
        variants=REPFLOW_VARIANTS,
        default_variant="flow",
        **resnet_family_fields(build_repflow),
        classifier=RepFlowClassifier,
        config_from_settings=config_from_settings,
        describe=describe,
        flow_statement=flow_statement,
        train_options=TRAIN_OPTIONS,
        sample_inputs=sample_inputs,
        stage_labels={"flow_backbone": FLOW_NET},
        motion_stage="flow_backbone",
        optical_flow=False,
        demo_checkpoint=DEMO_REPFLOW,
        recipes=RECIPES,
    )
)

__all__ = ["FAMILY", "RepFlowClassifier", "RepFlowConfig", "RepFlowNet", "RepresentationFlow", "build_repflow"]
