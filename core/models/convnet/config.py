"""The classic two-stream ConvNet's whole description as plain data (what its checkpoint stores).

Seeds 001-003: a spatial stream (a 2-D ResNet on single RGB frames) and a
temporal stream (the same ResNet with a first convolution of 2L channels on L
stacked flow fields), fused late (average, weighted, learned), on features, or
by the convolutional fusion of Feichtenhofer et al. after the last conv layer.

A "snippet" is one sample of the video: ``flow_length + 1`` frames at
``frame_stride`` (the window), the flow of its L consecutive pairs stacked as
``2L`` channels, and the window's centre frame for the spatial stream.  At
test time ``test_snippets`` (25, seed 002) are spread over the video and their
scores averaged.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping

FAMILY_CONVNET = "convnet"
CONVNET_FORMAT_VERSION = 1
CONVNET_VARIANTS = ("rgb", "flow", "late", "weighted", "learned", "feature", "conv")
SCORE_FUSIONS = ("late", "weighted", "learned")  # each stream keeps its own classifier
CONV_FUSION_KERNELS = ("1x1", "3d")


def check_class_names(class_names: tuple[str, ...]) -> None:
    if len(class_names) < 1 or not all(isinstance(n, str) and n for n in class_names):
        raise ValueError(f"class_names must be a non-empty list of non-empty strings, got {list(class_names)[:5]!r}")
    if len(set(class_names)) != len(class_names):
        raise ValueError("class_names has duplicates")


def check_mean_std(mean: tuple[float, ...], std: tuple[float, ...]) -> None:
    if len(mean) != 3 or len(std) != 3 or any(s <= 0 for s in std):
        raise ValueError(f"mean and std need 3 values each and std > 0, got mean={mean}, std={std}")


def check_rgb_options(attention: bool, convlstm: int) -> None:
    if not isinstance(attention, bool):
        raise ValueError(f"rgb_attention must be true or false, got {attention!r}")
    if not isinstance(convlstm, int) or convlstm < 0:
        raise ValueError(f"rgb_convlstm (hidden channels, 0 = off) must be an integer >= 0, got {convlstm!r}")


def config_values_from_dict(cls: type, data: Mapping[str, Any], *, tuples: tuple[str, ...]) -> dict[str, Any]:
    """Check a config dict's fields against the dataclass ``cls``; JSON lists back to tuples."""
    if not isinstance(data, Mapping):
        raise ValueError(f"model config must be a JSON object, got {type(data).__name__}")
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"model config has unknown fields {unknown}")
    values = dict(data)
    for name in tuples:
        if name in values:
            if not isinstance(values[name], (list, tuple)):
                raise ValueError(f"model config {name!r} must be a list, got {values[name]!r}")
            values[name] = tuple(values[name])
    if "backbone_options" in values and not isinstance(values["backbone_options"], Mapping):
        raise ValueError(f"model config 'backbone_options' must be an object, got {values['backbone_options']!r}")
    return values


class ResNetFamilyConfig:
    """What the two ResNet families' configs share: building from a backbone, the stream
    flags, the common checks and the JSON round trip.  Each subclass is a frozen dataclass
    with the fields used here and sets ``FAMILY``, ``FORMAT_VERSION``, ``VARIANTS`` and
    ``KIND`` (how errors name it)."""

    FAMILY: ClassVar[str]
    FORMAT_VERSION: ClassVar[int]
    VARIANTS: ClassVar[tuple[str, ...]]
    KIND: ClassVar[str]

    @classmethod
    def create(cls, *, backbone: str, class_names: list[str] | tuple[str, ...], **overrides: Any) -> Any:
        """A config with the backbone's input size and mean/std filled in."""
        from core.models.convnet.resnet import trunk_info

        info = trunk_info(backbone, **dict(overrides.get("backbone_options", {})))
        values: dict[str, Any] = {"input_size": info.input_size, "mean": info.mean, "std": info.std}
        values.update(overrides)
        config = cls(backbone=backbone, class_names=tuple(class_names), **values)  # type: ignore[call-arg]
        config.validate()
        return config

    @property
    def num_classes(self) -> int:
        return len(self.class_names)  # type: ignore[attr-defined]

    @property
    def uses_rgb(self) -> bool:
        return self.variant != "flow"  # type: ignore[attr-defined]

    @property
    def uses_flow(self) -> bool:
        """True when the flow stream runs (optical flow for a ConvNet, learnt flow for repflow)."""
        return self.variant != "rgb"  # type: ignore[attr-defined]

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first bad field and its value."""
        raise NotImplementedError

    def validate_common(self) -> Any:
        """The checks both families make; returns the backbone's trunk info for the rest."""
        from core.models.convnet.resnet import trunk_info

        c: Any = self
        if c.family != self.FAMILY:
            raise ValueError(f"model family {c.family!r} is not {self.KIND} (expected {self.FAMILY!r})")
        if c.format_version != self.FORMAT_VERSION:
            raise ValueError(f"config format version {c.format_version!r} is not supported (this program reads version {self.FORMAT_VERSION})")
        info = trunk_info(c.backbone, **dict(c.backbone_options))  # unknown backbone / options
        if c.variant not in self.VARIANTS:
            raise ValueError(f"unknown variant {c.variant!r}: choose one of {', '.join(self.VARIANTS)}")
        check_class_names(c.class_names)
        if not isinstance(c.input_size, int) or c.input_size < info.stride * 2:
            raise ValueError(f"input_size must be an integer >= {info.stride * 2} for backbone {c.backbone!r}, got {c.input_size!r}")
        if not isinstance(c.frame_stride, int) or c.frame_stride < 1:
            raise ValueError(f"frame_stride must be an integer >= 1, got {c.frame_stride!r}")
        check_mean_std(c.mean, c.std)
        check_rgb_options(c.rgb_attention, c.rgb_convlstm)
        if not 0.0 <= c.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {c.dropout!r}")
        return info

    def to_dict(self) -> dict[str, Any]:
        c: Any = self
        data = dataclasses.asdict(c)
        data["class_names"] = list(c.class_names)
        data["mean"], data["std"] = list(c.mean), list(c.std)
        data["backbone_options"] = dict(c.backbone_options)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Any:
        """Rebuild and validate; unknown or missing fields are a ``ValueError``."""
        values = config_values_from_dict(cls, data, tuples=("class_names", "mean", "std"))
        try:
            config = cls(**values)
        except TypeError as err:
            raise ValueError(f"model config is incomplete: {err}") from None
        config.validate()
        return config


@dataclass(frozen=True)
class ConvNetConfig(ResNetFamilyConfig):
    """Everything needed to rebuild, feed and read a two-stream ConvNet.

    ``flow_bound``: flow fields are raw x/y displacements in pixels of the
    ``input_size`` crop, clamped to +-``flow_bound`` (0: no clamp).
    ``mean_subtraction``: each field's mean displacement is subtracted (a crude
    camera-motion compensation, seed 001).  ``bidirectional``: the first L/2
    fields are backward flow of the pairs before the centre frame, the last L/2
    forward flow after it (seed 001); the channel count stays 2L.
    ``rgb_attention``/``rgb_convlstm``: the spatial stream of seed 004 (CAM
    spatial attention; a ConvLSTM with that many hidden channels over the
    snippets in time order).  ``conv_fusion``: ``1x1`` is the bank of 1x1
    filters over the stacked maps, ``3d`` a 3x3x3 convolution over (snippet,
    y, x); either is followed by 3-D average pooling and a linear classifier.
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
    flow_method: str = "dis"
    test_snippets: int = 25
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)
    rgb_attention: bool = False
    rgb_convlstm: int = 0
    conv_fusion: str = "3d"
    fusion_rgb_weight: float = 0.5
    dropout: float = 0.5
    family: str = FAMILY_CONVNET
    format_version: int = CONVNET_FORMAT_VERSION

    FAMILY: ClassVar[str] = FAMILY_CONVNET
    FORMAT_VERSION: ClassVar[int] = CONVNET_FORMAT_VERSION
    VARIANTS: ClassVar[tuple[str, ...]] = CONVNET_VARIANTS
    KIND: ClassVar[str] = "a ConvNet config"

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
        conv fusion), so they must go through it together."""
        return (self.uses_rgb and self.rgb_convlstm > 0) or self.variant == "conv"

    def architecture(self) -> tuple:
        """The fields that decide the weights' shapes (a checkpoint refuses a config that differs)."""
        return (self.family, self.backbone, dict(self.backbone_options), self.variant, self.num_classes, self.flow_length, self.rgb_attention, self.rgb_convlstm, self.conv_fusion)

    # -- checks and JSON -----------------------------------------------------------------

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first bad field and its value."""
        self.validate_common()
        if not isinstance(self.flow_length, int) or self.flow_length < 1:
            raise ValueError(f"flow_length (L) must be an integer >= 1, got {self.flow_length!r}")
        if self.bidirectional and self.flow_length % 2:
            raise ValueError(f"bi-directional flow needs an even flow_length (L/2 backward + L/2 forward fields), got {self.flow_length}")
        if self.flow_bound < 0:
            raise ValueError(f"flow_bound must be >= 0 (0: no clamp), got {self.flow_bound!r}")
        if not isinstance(self.test_snippets, int) or self.test_snippets < 1:
            raise ValueError(f"test_snippets must be an integer >= 1, got {self.test_snippets!r}")
        if self.conv_fusion not in CONV_FUSION_KERNELS:
            raise ValueError(f"unknown conv_fusion {self.conv_fusion!r}: choose one of {', '.join(CONV_FUSION_KERNELS)}")
        if not 0.0 < self.fusion_rgb_weight < 1.0:
            raise ValueError(f"fusion_rgb_weight must be in (0, 1), got {self.fusion_rgb_weight!r}")
        from core.flow.engine import METHODS

        if self.flow_method not in METHODS:
            raise ValueError(f"unknown flow_method {self.flow_method!r}: choose one of {', '.join(METHODS)}")

