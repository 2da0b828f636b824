"""The representation-flow family (Piergiovanni & Ryoo 2019, as seed 004 uses it): a ResNet on
RGB clips with learnable TV-L1 flow layers on its feature maps, trained end to end.

    config.py    RepFlowConfig (family "repflow")
    layer.py     RepresentationFlow: TV-L1 on features (the flow engine's solver), learnable
    network.py   RepresentationFlowBlock, RepFlowStream, RepFlowNet (+ param_groups: flow at lr/100)
    factory.py   build_repflow(config)
    inputs.py    frames -> one normalised RGB clip
    predict.py   RepFlowClassifier: frames -> core.inference.Prediction
"""

from __future__ import annotations

from core.models.repflow.config import FAMILY_REPFLOW, REPFLOW_VARIANTS, RepFlowConfig
from core.models.repflow.factory import build_repflow
from core.models.repflow.layer import RepresentationFlow
from core.models.repflow.network import RepFlowNet, RepFlowStream, RepresentationFlowBlock

__all__ = [
    "FAMILY_REPFLOW",
    "REPFLOW_VARIANTS",
    "RepFlowConfig",
    "RepFlowNet",
    "RepFlowStream",
    "RepresentationFlow",
    "RepresentationFlowBlock",
    "build_repflow",
]
