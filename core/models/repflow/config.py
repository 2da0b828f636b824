"""The representation-flow network's description as plain data (what its checkpoint stores).

Seed 004: a ResNet (34 in the paper) that takes RGB clips only, with a block
of representation-flow layers after its second residual stage, trained end to
end; optionally beside an RGB stream (frame-wise ResNet, CAM attention,
ConvLSTM) with the two fused at the decision level.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Mapping

from core.models.convnet.config import check_class_names, check_mean_std, check_rgb_options, config_values_from_dict

FAMILY_REPFLOW = "repflow"
REPFLOW_FORMAT_VERSION = 1
REPFLOW_VARIANTS = ("rgb", "flow", "late", "learned")


@dataclass(frozen=True)
class RepFlowConfig:
    """Everything needed to rebuild, feed and read a representation-flow model.

    ``variant``: ``flow`` is the representation-flow stream alone, ``rgb`` the
    frame-wise RGB stream alone, ``late`` averages their softmax scores and
    ``learned`` combines both score vectors with a small network (seed 004's
    decision-level fusion).  ``flow_layers``: 0 (a plain ResNet over the
    frames: the ablation baseline) to 3 flow layers, a 3x3 convolution between
    consecutive ones (flow of flow); ``flow_stage``: the residual stage after
    which the block sits.  ``flow_lr_scale``: the flow layers' learning rate
    relative to the rest (seed 004: a hundred times smaller).
    """

    backbone: str
    class_names: tuple[str, ...]
    variant: str = "flow"
    backbone_options: Mapping[str, Any] = field(default_factory=dict)
    input_size: int = 0  # 0: the backbone's own (see create)
    clip_length: int = 16
    frame_stride: int = 1
    flow_layers: int = 2
    flow_stage: int = 2
    bottleneck: int = 32
    iterations: int = 20
    theta: float = 0.3
    lambda_: float = 0.15
    tau: float = 0.25
    flow_lr_scale: float = 0.01
    test_clips: int = 5
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)
    rgb_attention: bool = False
    rgb_convlstm: int = 0
    dropout: float = 0.5
    family: str = FAMILY_REPFLOW
    format_version: int = REPFLOW_FORMAT_VERSION

    @classmethod
    def create(cls, *, backbone: str, class_names: list[str] | tuple[str, ...], **overrides: Any) -> "RepFlowConfig":
        """A config with the backbone's input size and mean/std filled in."""
        from core.models.convnet.resnet import trunk_info

        info = trunk_info(backbone, **dict(overrides.get("backbone_options", {})))
        values: dict[str, Any] = {"input_size": info.input_size, "mean": info.mean, "std": info.std}
        values.update(overrides)
        config = cls(backbone=backbone, class_names=tuple(class_names), **values)
        config.validate()
        return config

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def uses_rgb(self) -> bool:
        return self.variant != "flow"

    @property
    def uses_flow(self) -> bool:
        """True when the representation-flow stream runs (no optical flow is ever computed)."""
        return self.variant != "rgb"

    @property
    def flow_method(self) -> None:
        """No optical flow method: the flow is learnt inside the network."""
        return None

    @property
    def joint_snippets(self) -> bool:
        return False

    def architecture(self) -> tuple:
        return (self.family, self.backbone, dict(self.backbone_options), self.variant, self.num_classes, self.flow_layers, self.flow_stage, self.bottleneck, self.rgb_attention, self.rgb_convlstm)

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first bad field and its value."""
        from core.models.convnet.resnet import trunk_info

        if self.family != FAMILY_REPFLOW:
            raise ValueError(f"model family {self.family!r} is not a representation-flow config (expected {FAMILY_REPFLOW!r})")
        if self.format_version != REPFLOW_FORMAT_VERSION:
            raise ValueError(f"config format version {self.format_version!r} is not supported (this program reads version {REPFLOW_FORMAT_VERSION})")
        info = trunk_info(self.backbone, **dict(self.backbone_options))
        if self.variant not in REPFLOW_VARIANTS:
            raise ValueError(f"unknown variant {self.variant!r}: choose one of {', '.join(REPFLOW_VARIANTS)}")
        check_class_names(self.class_names)
        if not isinstance(self.input_size, int) or self.input_size < info.stride * 2:
            raise ValueError(f"input_size must be an integer >= {info.stride * 2} for backbone {self.backbone!r}, got {self.input_size!r}")
        if not isinstance(self.flow_layers, int) or not 0 <= self.flow_layers <= 3:
            raise ValueError(f"flow_layers must be 0, 1, 2 or 3, got {self.flow_layers!r}")
        if self.flow_stage not in (1, 2, 3):
            raise ValueError(f"flow_stage must be 1, 2 or 3 (the residual stage the flow block follows), got {self.flow_stage!r}")
        if not isinstance(self.clip_length, int) or self.clip_length < self.flow_layers + 1 or self.clip_length < 1:
            raise ValueError(f"clip_length must be an integer > flow_layers ({self.flow_layers}): each flow layer uses up one frame, got {self.clip_length!r}")
        if not isinstance(self.frame_stride, int) or self.frame_stride < 1:
            raise ValueError(f"frame_stride must be an integer >= 1, got {self.frame_stride!r}")
        if not isinstance(self.bottleneck, int) or self.bottleneck < 1:
            raise ValueError(f"bottleneck must be an integer >= 1, got {self.bottleneck!r}")
        if not isinstance(self.iterations, int) or self.iterations < 1:
            raise ValueError(f"iterations must be an integer >= 1, got {self.iterations!r}")
        for name in ("theta", "lambda_", "tau", "flow_lr_scale"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)!r}")
        if not isinstance(self.test_clips, int) or self.test_clips < 1:
            raise ValueError(f"test_clips must be an integer >= 1, got {self.test_clips!r}")
        check_mean_std(self.mean, self.std)
        check_rgb_options(self.rgb_attention, self.rgb_convlstm)
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout!r}")

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["class_names"] = list(self.class_names)
        data["mean"], data["std"] = list(self.mean), list(self.std)
        data["backbone_options"] = dict(self.backbone_options)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "RepFlowConfig":
        """Rebuild and validate; unknown or missing fields are a ``ValueError``."""
        values = config_values_from_dict(cls, data, tuples=("class_names", "mean", "std"))
        try:
            config = cls(**values)
        except TypeError as err:
            raise ValueError(f"model config is incomplete: {err}") from None
        config.validate()
        return config
