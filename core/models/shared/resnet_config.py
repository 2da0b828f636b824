"""What the ResNet families' configs share (the two-stream ConvNet's and representation flow's):
building from a backbone, the stream flags, the common checks and the JSON round trip."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, Mapping


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
        from core.models.shared.resnet import trunk_info

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
        from core.models.shared.resnet import trunk_info

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
