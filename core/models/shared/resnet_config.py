"""What the ResNet families' configs share (the two-stream ConvNet's and representation flow's):
building from a backbone, the stream flags, the common checks and the JSON round trip."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, Mapping

from core.models.shared.field_rules import Flag, Names, Real, Rule, Text, Triple, Whole, check_fields, config_values_from_dict


def resnet_settings(settings: Any) -> dict[str, Any]:
    """What a training run's settings say of a ResNet family's config, whichever the family: the
    variant, the tiny trunk's width and the input size (``InputError`` for an unknown ``--resnet``)."""
    from core.errors import InputError
    from core.models.shared.resnet import TRUNK_NAMES

    if settings.resnet not in TRUNK_NAMES:
        raise InputError(f"unknown {settings.model} backbone (--resnet) {settings.resnet!r}: choose one of {', '.join(TRUNK_NAMES)}")
    values: dict[str, Any] = {"backbone": settings.resnet, "variant": settings.variant}
    if settings.tiny_width:
        values["backbone_options"] = {"width": settings.tiny_width}
    if settings.input_size:
        values["input_size"] = settings.input_size
    return values


RESNET_RULES: dict[str, Rule] = {
    "backbone": Text(),
    "class_names": Names(),
    "variant": Text(),
    "input_size": Whole(16, 1024),
    "frame_stride": Whole(1, 64),
    "mean": Triple(-10.0, 10.0),
    "std": Triple(1e-3, 10.0),
    "rgb_attention": Flag(),
    "rgb_convlstm": Whole(0, 4096),
    "dropout": Real(0.0, 1.0, open_high=True),
}


class ResNetFamilyConfig:
    """What the two ResNet families' configs share: building from a backbone, the stream
    flags, the common checks and the JSON round trip.  Each subclass is a frozen dataclass
    with the fields used here and sets ``FAMILY``, ``FORMAT_VERSION``, ``VARIANTS`` and
    ``KIND`` (how errors name it)."""

    FAMILY: ClassVar[str]
    RULES: ClassVar[Mapping[str, Rule]]  # the family's own fields (see core.models.shared.field_rules)
    FORMAT_VERSION: ClassVar[int]
    VARIANTS: ClassVar[tuple[str, ...]]
    KIND: ClassVar[str]
    TUPLES: ClassVar[tuple[str, ...]] = ("class_names", "mean", "std")  # JSON lists read back as tuples

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
        check_fields(c, {**RESNET_RULES, **self.RULES})
        if not isinstance(c.backbone_options, Mapping) or not all(isinstance(k, str) for k in c.backbone_options):
            raise ValueError(f"backbone_options must be an object, got {c.backbone_options!r}")
        info = trunk_info(c.backbone, **dict(c.backbone_options))  # unknown backbone / options
        if c.variant not in self.VARIANTS:
            raise ValueError(f"unknown variant {c.variant!r}: choose one of {', '.join(self.VARIANTS)}")
        if c.input_size < info.stride * 2:
            raise ValueError(f"input_size must be an integer >= {info.stride * 2} for backbone {c.backbone!r}, got {c.input_size!r}")
        return info

    def to_dict(self) -> dict[str, Any]:
        """JSON-able fields: the :attr:`TUPLES` as lists (as :meth:`from_dict` reads them back)."""
        c: Any = self
        data = dataclasses.asdict(c)
        for name in self.TUPLES:
            data[name] = list(data[name])
        data["backbone_options"] = dict(c.backbone_options)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Any:
        """Rebuild and validate; unknown or missing fields are a ``ValueError``."""
        values = config_values_from_dict(cls, data, tuples=cls.TUPLES)
        try:
            config = cls(**values)
        except TypeError as err:
            raise ValueError(f"model config is incomplete: {err}") from None
        config.validate()
        return config
