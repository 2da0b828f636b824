"""How the interface describes a two-stream ConvNet checkpoint."""

from __future__ import annotations

from core.models.convnet.config import ConvNetConfig

FUSION_WORDS = {
    "rgb": "spatial stream only",
    "flow": "temporal stream only",
    "late": "late fusion (average)",
    "weighted": "weighted late fusion",
    "learned": "learned late fusion",
    "feature": "feature fusion",
}


def describe(config: ConvNetConfig) -> str:
    """One line on what the checkpoint is."""
    fusion = f"conv fusion ({config.conv_fusion})" if config.variant == "conv" else FUSION_WORDS.get(config.variant, f"{config.variant} variant")
    if config.variant == "conv" and config.fusion_strides:
        strides = ", ".join(str(s) for s in config.fusion_strides)
        fusion = f"conv fusion ({config.conv_fusion}, clips of {config.fusion_snippets} snippets at strides {strides}, tested alike)"
    elif config.variant == "conv" and config.fusion_snippets:
        fusion = f"conv fusion ({config.conv_fusion}, {config.fusion_snippets} snippets a sample, tested alike)"
    extras = "".join([
        ", CAM spatial attention" if config.rgb_attention and config.uses_rgb else "",
        f", ConvLSTM ({config.rgb_convlstm} channels" + (f", {config.fusion_snippets} snippets a sample, tested alike)" if config.fusion_snippets else ")")
        if config.rgb_convlstm and config.uses_rgb else "",
    ])
    return (
        f"two-stream ConvNet, {fusion}, {config.backbone} ResNet{extras}, "
        f"L = {config.flow_length} flow fields at stride {config.frame_stride}, {config.num_classes} classes, {config.input_size} px"
    )


def flow_statement(config: ConvNetConfig) -> str:
    """What flow classification computes, whatever the flow view shows."""
    if not config.uses_flow:
        return "This checkpoint uses no optical flow (RGB only)."
    steps = [f"{config.flow_length} stacked fields"]
    if config.bidirectional:
        steps.append("half backward, half forward")
    if config.mean_subtraction:
        steps.append("mean subtracted")
    scale, bound = config.flow_scale, config.flow_bound
    if scale != 1.0:
        steps.append(f"divided by {scale:g}")
    if bound > 0:  # the clamp applies after the division: in pixels it is bound x scale
        steps.append(f"clamped to ±{bound * scale:g} px" + (f" (±{bound:g} after the division)" if scale != 1.0 else ""))
    return f"Classification computes {config.flow_method.upper()} flow ({', '.join(steps)}), as the checkpoint was trained, whatever the flow view shows."
