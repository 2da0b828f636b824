"""The model's whole description as plain data: what a checkpoint stores beside its weights.

One JSON-able object says how to rebuild the network (backbone, variant,
fusion settings), how to feed it (input size, clip length, stride, mean/std,
flow method and colour encoding, how T frames give T flow images) and what
its outputs mean (class names).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Mapping

from core.models.shared.field_rules import Flag, Names, Real, Text, Triple, Whole, check_fields, config_values_from_dict

FORMAT_VERSION = 1
FAMILY_TRANSFORMER = "transformer"
VARIANTS = ("rgb", "flow", "concat", "fusion")
FLOW_FRAMES_T_PLUS_ONE = "t_plus_one"  # flow image k is the flow from frame k to frame k+1 of T+1 frames
FLOW_FRAME_MODES = (FLOW_FRAMES_T_PLUS_ONE,)


def default_flow_encoding() -> dict[str, Any]:
    """The flow engine's default colour encoding, as the dict a checkpoint stores."""
    from core.flow.render import FlowEncoding

    return FlowEncoding().to_dict()


def pooled_grid(grid: tuple[int, int, int], spatial_pool: int) -> tuple[int, int, int]:
    """The grid the encoder sees: the backbone's, or ``spatial_pool`` x ``spatial_pool`` per time slice."""
    if spatial_pool <= 0:
        return grid
    if spatial_pool > min(grid[1], grid[2]):
        raise ValueError(f"spatial_pool {spatial_pool} is larger than the {grid[1]}x{grid[2]} token grid")
    return grid[0], spatial_pool, spatial_pool


FUSION_RULES = {
    "heads": Whole(1, 64),
    "head_dim": Whole(1, 512),
    "depth": Whole(1, 48),
    "mlp_ratio": Real(0.0, 16.0, open_low=True),
    "dropout": Real(0.0, 1.0, open_high=True),
    "attention_dropout": Real(0.0, 1.0, open_high=True),
    "head_dropout": Real(0.0, 1.0, open_high=True),
    "head_layers": Whole(1, 3),
    "head_hidden": Whole(0, 16384),
    "spatial_pool": Whole(0, 64),
    "rgb_time_pool": Flag(),
}
MAX_FUSION_PARAMETERS = 500_000_000  # the encoder's weights, at most 2 GB in float32

TRANSFORMER_RULES = {
    "backbone": Text(),
    "class_names": Names(),
    "variant": Text(),
    "input_size": Whole(16, 1024),
    "clip_length": Whole(1, 512),
    "frame_stride": Whole(1, 64),
    "mean": Triple(-10.0, 10.0),
    "std": Triple(1e-3, 10.0),
    "flow_method": Text(),
    "flow_frames": Text(),
}


@dataclass(frozen=True)
class FusionConfig:
    """The fusion transformer and classifier head (seed 000: 8 heads x 96 dims, depth not given)."""

    heads: int = 8
    head_dim: int = 96
    depth: int = 2
    mlp_ratio: float = 4.0
    dropout: float = 0.0
    attention_dropout: float = 0.0
    head_dropout: float = 0.5
    head_layers: int = 1  # 1: LayerNorm, Dropout, Linear; 3: the seed's 3-layer MLP
    head_hidden: int = 0  # hidden width of the 3-layer head; 0 means the model width
    spatial_pool: int = 0  # 0: keep every token; s: average each time slice to s x s tokens
    # True: RGB tokens averaged over time (the mean repeated on every slice, no time
    # embedding): with a frame-wise backbone the RGB stream is an order-free bag of frames
    rgb_time_pool: bool = False

    @property
    def dim(self) -> int:
        return self.heads * self.head_dim

    def validate(self) -> None:
        for name, rule in FUSION_RULES.items():
            rule.check(f"fusion {name}", getattr(self, name))
        parameters = self.depth * self.dim * self.dim * (4 + 2 * self.mlp_ratio)
        if parameters > MAX_FUSION_PARAMETERS:
            raise ValueError(f"fusion encoder of {self.depth} layers x {self.dim} dims (mlp_ratio {self.mlp_ratio:g}) would hold about "
                             f"{parameters / 1e6:.0f}M weights, more than the {MAX_FUSION_PARAMETERS / 1e6:.0f}M allowed")
        if self.head_layers not in (1, 3):
            raise ValueError(f"fusion head_layers must be 1 or 3, got {self.head_layers!r}")


@dataclass(frozen=True)
class TransformerConfig:
    """Everything needed to rebuild, feed and read a two-stream model."""

    backbone: str
    class_names: tuple[str, ...]
    variant: str = "fusion"
    fusion: FusionConfig = field(default_factory=FusionConfig)
    backbone_options: Mapping[str, Any] = field(default_factory=dict)
    input_size: int = 0  # 0: the backbone's own (see with_defaults)
    clip_length: int = 0
    frame_stride: int = 1
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (0.0, 0.0, 0.0)
    flow_method: str = "dis"
    flow_encoding: Mapping[str, Any] = field(default_factory=default_flow_encoding)
    flow_frames: str = FLOW_FRAMES_T_PLUS_ONE
    family: str = FAMILY_TRANSFORMER
    format_version: int = FORMAT_VERSION

    @classmethod
    def create(cls, *, backbone: str, class_names: list[str] | tuple[str, ...], **overrides: Any) -> "TransformerConfig":
        """A config with the backbone's input size, clip length and mean/std filled in."""
        from core.models.shared.backbones import backbone_info

        info = backbone_info(backbone, **dict(overrides.get("backbone_options", {})))
        values: dict[str, Any] = {"input_size": info.input_size, "clip_length": info.frames, "mean": info.mean, "std": info.std}
        values.update(overrides)
        if isinstance(values.get("fusion"), Mapping):
            values["fusion"] = FusionConfig(**values["fusion"])
        config = cls(backbone=backbone, class_names=tuple(class_names), **values)
        config.validate()
        return config

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def uses_rgb(self) -> bool:
        return self.variant in ("rgb", "concat", "fusion")

    @property
    def uses_flow(self) -> bool:
        return self.variant in ("flow", "concat", "fusion")

    def architecture(self) -> tuple:
        """What decides the weight shapes (two configs that differ here cannot share weights)."""
        return (self.backbone, dict(self.backbone_options), self.variant, self.fusion, self.num_classes, self.input_size, self.clip_length)

    def grid_shape(self) -> tuple[int, int, int]:
        """The backbone token grid ``(T', H', W')`` for this config's input."""
        from core.models.shared.backbones import backbone_info

        return backbone_info(self.backbone, **dict(self.backbone_options)).grid_shape(self.clip_length, self.input_size)

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first bad field and its value."""
        from core.models.shared.backbones import BACKBONE_NAMES

        if self.format_version != FORMAT_VERSION:
            raise ValueError(f"config format version {self.format_version!r} is not supported (this program reads version {FORMAT_VERSION})")
        if self.family != FAMILY_TRANSFORMER:
            raise ValueError(f"TransformerConfig describes the {FAMILY_TRANSFORMER!r} family, got family {self.family!r} (other families have their own configs: core.models.registry)")
        check_fields(self, TRANSFORMER_RULES)
        if not isinstance(self.backbone_options, Mapping) or not all(isinstance(k, str) for k in self.backbone_options):
            raise ValueError(f"backbone_options must be an object, got {self.backbone_options!r}")
        if not isinstance(self.flow_encoding, Mapping):
            raise ValueError(f"flow_encoding must be an object, got {self.flow_encoding!r}")
        if self.backbone not in BACKBONE_NAMES:
            raise ValueError(f"unknown backbone {self.backbone!r}: choose one of {', '.join(BACKBONE_NAMES)}")
        if self.variant not in VARIANTS:
            raise ValueError(f"unknown variant {self.variant!r}: choose one of {', '.join(VARIANTS)}")
        if self.flow_frames not in FLOW_FRAME_MODES:
            raise ValueError(f"unknown flow_frames {self.flow_frames!r}: choose one of {', '.join(FLOW_FRAME_MODES)}")
        self._validate_flow()
        if not isinstance(self.fusion, FusionConfig):
            raise ValueError(f"fusion must be an object, got {self.fusion!r}")
        self.fusion.validate()
        pooled_grid(self.grid_shape(), self.fusion.spatial_pool)  # the backbone refuses clip lengths / sizes its tokens would not tile

    def _validate_flow(self) -> None:
        from core.errors import FlowError
        from core.flow.engine import METHODS
        from core.flow.render import FlowEncoding

        if self.flow_method not in METHODS:
            raise ValueError(f"unknown flow_method {self.flow_method!r}: choose one of {', '.join(METHODS)}")
        try:
            FlowEncoding.from_dict(dict(self.flow_encoding))
        except (FlowError, TypeError) as err:
            raise ValueError(f"bad flow_encoding: {getattr(err, 'problem', err)}") from None

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["class_names"] = list(self.class_names)
        data["mean"], data["std"] = list(self.mean), list(self.std)
        data["backbone_options"] = dict(self.backbone_options)
        data["flow_encoding"] = dict(self.flow_encoding)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "TransformerConfig":
        """Rebuild and validate; unknown or missing fields are a ``ValueError``."""
        values = config_values_from_dict(cls, data, tuples=("class_names", "mean", "std"))
        fusion = values.get("fusion", {})
        if not isinstance(fusion, Mapping):
            raise ValueError(f"model config 'fusion' must be an object, got {fusion!r}")
        fusion_known = {f.name for f in dataclasses.fields(FusionConfig)}
        if set(fusion) - fusion_known:
            raise ValueError(f"model config fusion has unknown fields {sorted(set(fusion) - fusion_known)}")
        values["fusion"] = FusionConfig(**fusion)
        try:
            config = cls(**values)
        except TypeError as err:
            raise ValueError(f"model config is incomplete: {err}") from None
        config.validate()
        return config
