"""Type and range rules for the fields of a model config, checked before anything is built.

A checkpoint's config is input like any other: a crafted file could ask for a
depth of 10^9, a string mean, an infinite std, or a float frame stride, and
the model would be built (or allocation fail) before anything noticed.  Each
config lists a rule per field; :func:`check_fields` applies them in order and
raises ``ValueError`` naming the first bad field, the rule and the value.  The
upper bounds are far above any model this program trains or loads (MViTv2-S
and Swin3D-S at 224 px and 16 to 64 frames, ResNet-50 streams), and low enough
that a model within them fits in memory.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, Protocol

MAX_CLASSES = 100_000
MAX_CLASS_NAME = 256


class Rule(Protocol):
    def check(self, name: str, value: Any) -> None: ...


@dataclass(frozen=True)
class Whole:
    """An integer (not a bool) from ``low`` to ``high``."""

    low: int
    high: int

    def check(self, name: str, value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or not self.low <= value <= self.high:
            raise ValueError(f"{name} must be an integer from {self.low} to {self.high}, got {_short(value)}")


@dataclass(frozen=True)
class Real:
    """A finite number in ``[low, high]``; ``open_low``/``open_high`` exclude that end."""

    low: float
    high: float
    open_low: bool = False
    open_high: bool = False

    def check(self, name: str, value: Any) -> None:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        if ok:
            ok = (value > self.low if self.open_low else value >= self.low) and (value < self.high if self.open_high else value <= self.high)
        if not ok:
            left, right = "(" if self.open_low else "[", ")" if self.open_high else "]"
            raise ValueError(f"{name} must be a finite number in {left}{self.low:g}, {self.high:g}{right}, got {_short(value)}")


@dataclass(frozen=True)
class Flag:
    """``true`` or ``false``."""

    def check(self, name: str, value: Any) -> None:
        if not isinstance(value, bool):
            raise ValueError(f"{name} must be true or false, got {_short(value)}")


@dataclass(frozen=True)
class Text:
    """A string of at most ``longest`` characters."""

    longest: int = 64

    def check(self, name: str, value: Any) -> None:
        if not isinstance(value, str) or len(value) > self.longest:
            raise ValueError(f"{name} must be a string of at most {self.longest} characters, got {_short(value)}")


@dataclass(frozen=True)
class Triple:
    """Three finite numbers in ``[low, high]`` (``open_low``: above ``low``): a per-channel mean or std."""

    low: float
    high: float
    open_low: bool = False

    def check(self, name: str, value: Any) -> None:
        if not isinstance(value, (tuple, list)) or len(value) != 3:
            raise ValueError(f"{name} must be 3 numbers (R, G, B), got {_short(value)}")
        for channel, item in zip("RGB", value):
            Real(self.low, self.high, open_low=self.open_low).check(f"{name} ({channel})", item)


@dataclass(frozen=True)
class Ascending:
    """At most ``longest`` integers from ``low`` to ``high``, strictly increasing (so each once): a set of strides."""

    low: int
    high: int
    longest: int

    def check(self, name: str, value: Any) -> None:
        if not isinstance(value, (tuple, list)) or len(value) > self.longest:
            raise ValueError(f"{name} must be a list of at most {self.longest} integers, got {_short(value)}")
        for item in value:
            Whole(self.low, self.high).check(name, item)
        if list(value) != sorted(set(value)):
            raise ValueError(f"{name} must be increasing, each once, got {_short(value)}")


@dataclass(frozen=True)
class Names:
    """A non-empty list of distinct, non-empty strings (class names)."""

    def check(self, name: str, value: Any) -> None:
        if not isinstance(value, (tuple, list)) or not 1 <= len(value) <= MAX_CLASSES:
            raise ValueError(f"{name} must be a list of 1 to {MAX_CLASSES} names, got {_short(value)}")
        for item in value:
            if not isinstance(item, str) or not item or len(item) > MAX_CLASS_NAME:
                raise ValueError(f"{name} must hold non-empty strings of at most {MAX_CLASS_NAME} characters, got {_short(item)}")
        if len(set(value)) != len(value):
            raise ValueError(f"{name} has duplicates")


def config_values_from_dict(cls: type, data: Any, *, tuples: tuple[str, ...]) -> dict[str, Any]:
    """A config's JSON object as constructor values of the dataclass ``cls``: unknown fields refused,
    JSON lists of the ``tuples`` fields back to tuples (every family's ``from_dict`` reads this way)."""
    import dataclasses

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
    return values


def check_fields(config: Any, rules: Mapping[str, Rule]) -> None:
    """Apply each field's rule; the first failure is a ``ValueError`` naming the field."""
    for name, rule in rules.items():
        rule.check(name, getattr(config, name))


def check_options(options: Any, rules: Mapping[str, Rule], what: str) -> None:
    """A backbone's options: a mapping whose keys all have rules, each value checked."""
    if not isinstance(options, Mapping):
        raise ValueError(f"{what} options must be an object, got {_short(options)}")
    unknown = sorted(str(k) for k in options if k not in rules)
    if unknown:
        raise ValueError(f"{what} takes the options {', '.join(sorted(rules)) or 'none'}, got {unknown}")
    for key, value in options.items():
        rules[key].check(f"{what} option {key}", value)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
