"""How flow becomes colour: the encoding (normalisation, radius, wheel) and the colour wheel itself.

Apart from :mod:`core.flow.render` so that the numpy and the torch renderers share them without importing each other.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from core.errors import FlowError

NORMALISATIONS = ("fixed", "clip", "max")
WHEELS = ("middlebury", "legacy")


def _wheel() -> np.ndarray:
    """The 55 colours of the Middlebury wheel (Baker et al. 2011), RGB in 0..1.

    Segments red-yellow 15, yellow-green 6, green-cyan 4, cyan-blue 11,
    blue-magenta 13, magenta-red 6: more colours where the eye tells hues apart.
    """
    segments = ((15, (1, 0, 0), (1, 1, 0)), (6, (1, 1, 0), (0, 1, 0)), (4, (0, 1, 0), (0, 1, 1)),
                (11, (0, 1, 1), (0, 0, 1)), (13, (0, 0, 1), (1, 0, 1)), (6, (1, 0, 1), (1, 0, 0)))
    colours = []
    for count, start, end in segments:
        for i in range(count):
            t = math.floor(255 * i / count) / 255.0
            colours.append([s + (e - s) * t for s, e in zip(start, end)])
    return np.asarray(colours, dtype=np.float64)


WHEEL = _wheel()


@dataclass(frozen=True)
class FlowEncoding:
    """How flow becomes colour.

    ``normalization="fixed"``: a motion of ``max_radius`` pixels is fully
    saturated and longer motions are clipped to it; the same vector always
    gives the same colour.  ``"clip"``: one scale for the whole array rendered at
    once (a clip), its largest motion, but never below ``max_radius``, so a
    nearly static clip does not blow sub-pixel noise up to full colour.
    ``"max"``: torchvision's ``flow_to_image``: the array's largest motion (plus
    float32's epsilon), however small (``max_radius`` is not used).
    ``wheel``: ``middlebury`` (exact) or ``legacy`` (see the module's docstring).
    """

    normalization: str = "fixed"
    max_radius: float = 10.0
    wheel: str = "middlebury"

    def __post_init__(self) -> None:
        if self.normalization not in NORMALISATIONS:
            raise FlowError(f"flow encoding normalization must be one of {NORMALISATIONS}, got {self.normalization!r}")
        if self.wheel not in WHEELS:
            raise FlowError(f"flow encoding wheel must be one of {WHEELS}, got {self.wheel!r}")
        radius = self.max_radius
        if isinstance(radius, bool) or not isinstance(radius, (int, float)) or not math.isfinite(radius) or radius <= 0:
            raise FlowError(f"flow encoding max_radius must be a positive number of pixels, got {radius!r}")
        object.__setattr__(self, "max_radius", float(radius))

    def to_dict(self) -> dict[str, Any]:
        return {"normalization": self.normalization, "max_radius": self.max_radius, "wheel": self.wheel}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "FlowEncoding":
        """Rebuild a recorded encoding; one recorded without a wheel (before there were two) is ``legacy``."""
        if not isinstance(data, Mapping):
            raise FlowError(f"a flow encoding must be a mapping, got {type(data).__name__}")
        unknown = set(data) - {"normalization", "max_radius", "wheel"}
        missing = {"normalization", "max_radius"} - set(data)
        if unknown or missing:
            raise FlowError(f"bad flow encoding {dict(data)!r}: missing {sorted(missing)}, unknown {sorted(unknown)}")
        return cls(normalization=data["normalization"], max_radius=data["max_radius"], wheel=data.get("wheel", "legacy"))
