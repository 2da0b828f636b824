"""The classic two-stream ConvNet's whole description as plain data (what its checkpoint stores).

Seeds 001-003: a spatial stream (a 2-D ResNet on single RGB frames) and a
temporal stream (the same ResNet with a first convolution of 2L channels on L
stacked flow fields), fused late (average, weighted, learned), on features, or
by the convolutional fusion of Feichtenhofer et al. after the last conv layer.

A "snippet" is one sample of the video: ``flow_length + 1`` frames at
``frame_stride`` (the window), the flow of its L consecutive pairs stacked as
``2L`` channels, and the window's centre frame for the spatial stream.  At
test time ``test_snippets`` (25, seed 002) are spread over the video and their
scores averaged; a network that reads a sample's snippets together (the conv
fusion, the ConvLSTM) reads them in groups of its training snippet count
(``fusion_snippets``), each group spaced as training spaces its snippets: one per
equal segment (TSN), or, with ``fusion_strides`` (seed 003's multi-stride clips),
a clip of S snippets a stride apart, at each of those strides.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping

from core.models.shared.streams import SCORE_FUSIONS
from core.models.shared.field_rules import Ascending, Flag, Real, Rule, Text, Whole
from core.models.shared.resnet_config import ResNetFamilyConfig

FAMILY_CONVNET = "convnet"
CONVNET_FORMAT_VERSION = 1
CONVNET_VARIANTS = ("rgb", "flow", "late", "weighted", "learned", "feature", "conv")
CONV_FUSION_KERNELS = ("1x1", "3d")
FUSION_STRIDES = Ascending(1, 1000, 16)  # frames between a clip's snippets; --fusion-strides takes the same


def reads_snippets_jointly(variant: str, rgb_convlstm: int) -> bool:
    """True when a sample's snippets are combined inside the network (the conv fusion, or a ConvLSTM on
    a running RGB stream), so they must go through it together: decidable before a config exists."""
    return variant == "conv" or (variant != "flow" and rgb_convlstm > 0)


@dataclass(frozen=True)
class ConvNetConfig(ResNetFamilyConfig):
    """Everything needed to rebuild, feed and read a two-stream ConvNet.

    ``flow_bound``: flow fields are x/y displacements in pixels of the
    ``input_size`` crop divided by ``flow_scale``, then clamped to +-``flow_bound``
    in those units (+-``flow_bound * flow_scale`` pixels; 0: no clamp).
    ``mean_subtraction``: each field's mean displacement is subtracted (a crude
    camera-motion compensation, seed 001).  ``bidirectional``: the first L/2
    fields are backward flow of the pairs before the centre frame, the last L/2
    forward flow after it (seed 001); the channel count stays 2L.
    ``rgb_attention``/``rgb_convlstm``: the spatial stream of seed 004 (CAM
    spatial attention; a ConvLSTM with that many hidden channels over the
    snippets in time order).  ``conv_fusion``: ``1x1`` is the bank of 1x1
    filters over the stacked maps, ``3d`` a 3x3x3 convolution over (snippet,
    y, x); either is followed by 3-D average pooling and a linear classifier.
    ``fusion_snippets`` (conv fusion or ConvLSTM, :attr:`joint_snippets`): the snippets per
    training sample, which the network reads together; at test time the video's snippets go
    through it in groups of that many, spaced as in training
    (:func:`core.models.convnet.inputs.fusion_groups`).  0: all the test snippets as one sample
    (checkpoints made before it; left out of their JSON).  ``fusion_strides`` (conv fusion only,
    seed 003): frames between consecutive window starts of a sample's snippets; training draws
    one stride and a place per sample, test scores clips at every stride
    (:func:`core.sampling.strided_clips`).  Empty: TSN's one snippet per segment
    (left out of the JSON, so older checkpoints read as they did).
    """

    backbone: str
    class_names: tuple[str, ...]
    variant: str = "late"
    backbone_options: Mapping[str, Any] = field(default_factory=dict)
    input_size: int = 0  # 0: the backbone's own (see create)
    flow_length: int = 10
    frame_stride: int = 1
    bidirectional: bool = False
    mean_subtraction: bool = True
    flow_bound: float = 20.0
    flow_scale: float = 1.0  # displacements divided by this before the clamp (seed 002: 20, then clamped to +-1)
    flow_method: str = "dis"
    test_snippets: int = 25
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)
    rgb_attention: bool = False
    rgb_convlstm: int = 0
    conv_fusion: str = "3d"
    fusion_snippets: int = 0
    fusion_strides: tuple[int, ...] = ()
    fusion_rgb_weight: float = 0.5
    dropout: float = 0.5
    family: str = FAMILY_CONVNET
    format_version: int = CONVNET_FORMAT_VERSION

    FAMILY: ClassVar[str] = FAMILY_CONVNET
    FORMAT_VERSION: ClassVar[int] = CONVNET_FORMAT_VERSION
    VARIANTS: ClassVar[tuple[str, ...]] = CONVNET_VARIANTS
    KIND: ClassVar[str] = "a ConvNet config"
    TUPLES: ClassVar[tuple[str, ...]] = (*ResNetFamilyConfig.TUPLES, "fusion_strides")
    RULES: ClassVar[Mapping[str, Rule]] = {
        "flow_length": Whole(1, 64),
        "bidirectional": Flag(),
        "mean_subtraction": Flag(),
        "flow_bound": Real(0.0, 1000.0),
        "flow_scale": Real(0.0, 1000.0, open_low=True),
        "flow_method": Text(),
        "test_snippets": Whole(1, 250),
        "conv_fusion": Text(),
        "fusion_snippets": Whole(0, 250),
        "fusion_strides": FUSION_STRIDES,
        "fusion_rgb_weight": Real(0.0, 1.0, open_low=True, open_high=True),
    }

    # -- what the rest of the program reads --------------------------------------------

    @property
    def flow_channels(self) -> int:
        return 2 * self.flow_length

    @property
    def clip_length(self) -> int:
        """Frames in one snippet's window (L flow fields need L + 1 frames)."""
        return self.flow_length + 1

    @property
    def centre_offset(self) -> int:
        """Position of the spatial stream's frame in the window."""
        return self.flow_length // 2

    @property
    def joint_snippets(self) -> bool:
        """True when the snippets of a sample are combined inside the network (ConvLSTM,
        conv fusion), so they must go through it together (:func:`reads_snippets_jointly`)."""
        return reads_snippets_jointly(self.variant, self.rgb_convlstm)

    def architecture(self) -> tuple:
        """The fields that decide the weights' shapes (a checkpoint refuses a config that differs)."""
        return (self.family, self.backbone, dict(self.backbone_options), self.variant, self.num_classes, self.flow_length, self.rgb_attention, self.rgb_convlstm, self.conv_fusion)

    # -- checks and JSON -----------------------------------------------------------------

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first bad field and its value."""
        self.validate_common()
        if self.bidirectional and self.flow_length % 2:
            raise ValueError(f"bi-directional flow needs an even flow_length (L/2 backward + L/2 forward fields), got {self.flow_length}")
        if self.conv_fusion not in CONV_FUSION_KERNELS:
            raise ValueError(f"unknown conv_fusion {self.conv_fusion!r}: choose one of {', '.join(CONV_FUSION_KERNELS)}")
        if self.fusion_snippets and not self.joint_snippets:
            raise ValueError(f"fusion_snippets is the conv fusion's (variant 'conv') or the ConvLSTM's (rgb_convlstm), "
                             f"got {self.fusion_snippets} for variant {self.variant!r} without a ConvLSTM")
        if self.fusion_strides and (self.variant != "conv" or not self.fusion_snippets):
            raise ValueError(f"fusion_strides are the conv fusion's multi-stride clips (variant 'conv' with fusion_snippets), "
                             f"got {list(self.fusion_strides)} for variant {self.variant!r} with fusion_snippets {self.fusion_snippets}")
        from core.flow.engine import METHODS

        if self.flow_method not in METHODS:
            raise ValueError(f"unknown flow_method {self.flow_method!r}: choose one of {', '.join(METHODS)}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-able fields; ``fusion_snippets`` and ``fusion_strides`` only when set, so every other config
        reads (and a checkpoint stores it) exactly as before the fields existed."""
        data = super().to_dict()
        if not self.fusion_snippets:
            data.pop("fusion_snippets")
        if not self.fusion_strides:
            data.pop("fusion_strides")
        return data
