"""The representation-flow network's description as plain data (what its checkpoint stores).

Seed 004: a ResNet (34 in the paper) that takes RGB clips only, with a block
of two representation-flow layers (a 1x1 bottleneck to 32 channels, a 3x3
convolution between them), trained end to end; optionally beside an RGB
stream (frame-wise ResNet, CAM attention, ConvLSTM) with the two fused at the
decision level.  Two choices are ours, not the seed's (it states neither):
the block sits after the second residual stage (``flow_stage``), where the
maps still have 1/8 of the frame's resolution, so a motion of a few pixels
is still under the TV-L1 iterations' reach; and the flow layers learn at a
hundredth of the rate (``flow_lr_scale``), because each of their few scalar
parameters gathers gradient from every pixel and iteration, and at the full
rate a step carries theta, tau or lambda out of the range where the
iterations converge.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping

from core.models.shared.field_rules import Real, Rule, Whole
from core.models.shared.resnet_config import ResNetFamilyConfig

FAMILY_REPFLOW = "repflow"
REPFLOW_FORMAT_VERSION = 1
REPFLOW_VARIANTS = ("rgb", "flow", "late", "learned")


@dataclass(frozen=True)
class RepFlowConfig(ResNetFamilyConfig):
    """Everything needed to rebuild, feed and read a representation-flow model.

    ``variant``: ``flow`` is the representation-flow stream alone, ``rgb`` the
    frame-wise RGB stream alone, ``late`` averages their softmax scores and
    ``learned`` combines both score vectors with a small network (seed 004's
    decision-level fusion).  ``flow_layers``: 0 (a plain ResNet over the
    frames: the ablation baseline) to 3 flow layers, a 3x3 convolution between
    consecutive ones (flow of flow); ``flow_stage``: the residual stage after
    which the block sits (2: our choice, see above).  ``flow_lr_scale``: the
    flow layers' learning rate relative to the rest (0.01: our choice, see above).
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

    FAMILY: ClassVar[str] = FAMILY_REPFLOW
    FORMAT_VERSION: ClassVar[int] = REPFLOW_FORMAT_VERSION
    VARIANTS: ClassVar[tuple[str, ...]] = REPFLOW_VARIANTS
    KIND: ClassVar[str] = "a representation-flow config"
    RULES: ClassVar[Mapping[str, Rule]] = {
        "clip_length": Whole(1, 512),
        "flow_layers": Whole(0, 3),
        "flow_stage": Whole(1, 3),
        "bottleneck": Whole(1, 1024),
        "iterations": Whole(1, 200),
        "theta": Real(0.0, 100.0, open_low=True),
        "lambda_": Real(0.0, 100.0, open_low=True),
        "tau": Real(0.0, 100.0, open_low=True),
        "flow_lr_scale": Real(0.0, 10.0, open_low=True),
        "test_clips": Whole(1, 250),
    }

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
        self.validate_common()
        if not isinstance(self.clip_length, int) or self.clip_length < self.flow_layers + 1 or self.clip_length < 1:
            raise ValueError(f"clip_length must be an integer > flow_layers ({self.flow_layers}): each flow layer uses up one frame, got {self.clip_length!r}")
