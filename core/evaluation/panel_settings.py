"""How the dataset panel scores a video: clips per video, and the device kind and precision the model runs in.

Each changes the probabilities a record holds (more clips average other frames; a
half-precision forward pass on a GPU rounds otherwise than float32 on a CPU), so
the panel's record cache (:mod:`core.evaluation.record_cache`) keeps the records
of each setting apart: a record scored with other settings is never shown as
this one's.  The settings records were scored with before they were keyed (three
clips, float32 on the CPU) add nothing to the key, so those records keep their
file; the records a GPU scored then shared that file, cannot be told apart,
and are scored again once.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

DEFAULT_PANEL_CLIPS = 3  # fewer than eval's 5: a browsing pass, said in the panel
PANEL_PRECISION = "auto"  # what the panel asks for (core.inference.classifier.PRECISIONS): half precision on CUDA


@dataclass(frozen=True)
class PanelScoring:
    """What a record was scored with, as it changes the record's probabilities."""

    clips: int = DEFAULT_PANEL_CLIPS
    device: str = "cpu"  # the device's kind: "cpu" or "cuda" (every card of a kind computes alike)
    precision: str = "float32"  # what the model ran in: float32, bfloat16 or float16

    def key(self) -> str:
        """The record cache's key part: nothing for the settings of the records scored before this was keyed."""
        return "" if self == PanelScoring() else f"|scored{json.dumps(asdict(self), sort_keys=True)}"


def scoring_settings(device: str, *, clips: int = DEFAULT_PANEL_CLIPS, precision: str = PANEL_PRECISION) -> PanelScoring:
    """The settings the panel scores with on ``device`` (a name the Classification panel offers: "cpu", "cuda"),
    ``precision`` resolved as the classifier resolves it there; an :class:`~core.errors.InputError` when the
    device is not on this machine."""
    from core.device import autocast_dtype, resolve_device

    resolved = resolve_device(device)
    dtype = autocast_dtype(precision, resolved)
    return PanelScoring(clips, resolved.type, "float32" if dtype is None else str(dtype).removeprefix("torch."))
