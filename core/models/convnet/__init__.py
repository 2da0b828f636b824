"""The classic two-stream ConvNet family (seeds 001-004): ResNet streams on RGB frames and
stacked flow, five fusions, class activation maps, CAM spatial attention and a ConvLSTM.

    config.py     ConvNetConfig (family "convnet"): what a checkpoint records
    resnet.py     2-D ResNet trunks (tiny, resnet18/34/50), ImageNet weights, cross-modality init
    cam.py        class activation maps and CAM spatial attention
    convlstm.py   a ConvLSTM over per-frame maps
    streams.py    FrameStream: trunk per snippet (+ attention, ConvLSTM, own classifier)
    fusion.py     late / weighted / learned score fusion, feature fusion, conv fusion
    model.py      TwoStreamConvNet: forward(rgb, flow), explain -> CAM per snippet
    factory.py    build_convnet(config)
    saliency.py   CamMaps: per-frame maps back to video pixels (the viewer's overlay object)
    inputs.py     frames -> snippets (centre frame + L stacked flow fields), test/train sampling
    predict.py    ConvNetClassifier: frames -> core.inference.Prediction
"""

from __future__ import annotations

from core.models.convnet.config import CONVNET_VARIANTS, FAMILY_CONVNET, ConvNetConfig
from core.models.convnet.factory import build_convnet
from core.models.convnet.model import TwoStreamConvNet
from core.models.convnet.resnet import TRUNK_NAMES, ResNetTrunk, build_trunk, cross_modality_weights, trunk_info
from core.models.convnet.saliency import CamExplanation, CamMaps

__all__ = [
    "CONVNET_VARIANTS",
    "FAMILY_CONVNET",
    "TRUNK_NAMES",
    "CamExplanation",
    "CamMaps",
    "ConvNetConfig",
    "ResNetTrunk",
    "TwoStreamConvNet",
    "build_convnet",
    "build_trunk",
    "cross_modality_weights",
    "trunk_info",
]
