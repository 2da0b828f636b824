"""How the interface describes a representation-flow checkpoint."""

from __future__ import annotations

from core.models.repflow.config import RepFlowConfig

NO_OPTICAL_FLOW = "no optical flow: the network learns its own representation flow"
FLOW_NET = "flow net (learnt flow layers)"
VARIANT_WORDS = {
    "flow": "the representation-flow stream alone",
    "rgb": "an RGB stream alone (no flow layers)",
    "late": "with an RGB stream, late fusion (average)",
    "learned": "with an RGB stream, learned fusion",
}


def describe(config: RepFlowConfig) -> str:
    """One line on what the checkpoint is."""
    variant = VARIANT_WORDS.get(config.variant, f"{config.variant} variant")
    layers = f"{config.flow_layers} flow layers after stage {config.flow_stage} ({config.iterations} iterations), " if config.uses_flow else ""
    tail = f"; {NO_OPTICAL_FLOW}" if config.uses_flow else "; RGB only"
    return (
        f"representation flow, {variant}, {config.backbone} ResNet, {layers}"
        f"{config.clip_length} frames at stride {config.frame_stride}, {config.num_classes} classes, {config.input_size} px{tail}"
    )


def flow_statement(config: RepFlowConfig) -> str:
    """What flow classification computes, whatever the flow view shows."""
    if not config.uses_flow:
        return "This checkpoint uses no optical flow (RGB only)."
    return f"This checkpoint uses {NO_OPTICAL_FLOW} from the RGB frames; the flow view is for you, not the model."
