"""The synthetic action dataset: classes only motion separates and classes only
appearance separates, so each stream's contribution is measurable."""

from core.synth.dataset import SynthResult, SynthSettings, clip_rng, generate_dataset, load_manifest
from core.synth.render import (
    APPEARANCE,
    CLASS_NAMES,
    MOTION,
    SYNTH_CLASSES,
    RenderedClip,
    SynthClass,
    render_clip,
    render_clip_detailed,
    synth_class,
)

__all__ = [
    "APPEARANCE",
    "CLASS_NAMES",
    "MOTION",
    "SYNTH_CLASSES",
    "RenderedClip",
    "SynthResult",
    "SynthSettings",
    "SynthClass",
    "clip_rng",
    "generate_dataset",
    "load_manifest",
    "render_clip",
    "render_clip_detailed",
    "synth_class",
]
