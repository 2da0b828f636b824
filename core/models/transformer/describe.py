"""How the interface describes a two-stream transformer checkpoint."""

from __future__ import annotations

from core.models.transformer.config import TransformerConfig


def describe(config: TransformerConfig) -> str:
    """One line on what the checkpoint is."""
    return (
        f"two-stream transformer, {config.backbone} backbone, {config.variant} variant, {config.num_classes} classes, "
        f"{config.clip_length} frames at stride {config.frame_stride}, {config.input_size} px"
    )


def flow_statement(config: TransformerConfig) -> str:
    """What flow classification computes, whatever the flow view shows."""
    if not config.uses_flow:
        return "This checkpoint uses no optical flow (RGB only)."
    encoding = dict(config.flow_encoding)
    norm = encoding.get("normalization", "fixed")
    radius = float(encoding.get("max_radius", 0.0))
    colours = {
        "fixed": f"a fixed colour radius of {radius:g} px",
        "clip": f"a per-clip colour scale (at least {radius:g} px)",
        "max": "each clip's largest motion as its colour scale, however small (flow_to_image)",
    }.get(norm, f"the {norm} colour scale")
    return f"Classification computes {config.flow_method.upper()} flow with {colours}, as the checkpoint was trained, whatever the flow view shows."
