"""The backbone registry: a name in, a module that returns token grids out.

``build_backbone("mvit_v2_s", pretrained=True)`` resolves the Kinetics-400
weights like RAFT's (explicit file, torch hub cache, the weight enum's URL);
random weights only when the caller says so (``pretrained=False`` or
``random_weights_ok=True``), which tests and benchmarks do.
"""

from __future__ import annotations

import os
from typing import Any, Callable

import torch
from torch import nn

from core.errors import WeightsUnavailable
from core.models.shared.backbones.base import BackboneInfo, check_clip_tensor, check_input_geometry
from core.models.shared.backbones.tiny import TinyBackbone, tiny_info
from core.models.shared.backbones.video_transformers import MVIT_V2_S_INFO, SWIN3D_S_INFO, MViTTokens, SwinTokens
from core.weights import check_state_dict_fits

__all__ = [
    "BACKBONE_NAMES",
    "BackboneInfo",
    "backbone_info",
    "build_backbone",
    "check_clip_tensor",
    "check_input_geometry",
]

_BUILDERS: dict[str, Callable[..., nn.Module]] = {
    "tiny": TinyBackbone,
    "mvit_v2_s": MViTTokens,
    "swin3d_s": SwinTokens,
}

BACKBONE_NAMES: tuple[str, ...] = tuple(_BUILDERS)


def backbone_info(name: str, **options: Any) -> BackboneInfo:
    """The input config and token geometry of ``name`` without building it."""
    if name not in _BUILDERS:
        raise ValueError(f"unknown backbone {name!r}: choose one of {', '.join(BACKBONE_NAMES)}")
    if name == "tiny":
        return tiny_info(**options)
    if options:
        raise ValueError(f"backbone {name!r} takes no options, got {sorted(options)}")
    if name == "mvit_v2_s":
        return MVIT_V2_S_INFO
    return SWIN3D_S_INFO


def build_backbone(
    name: str,
    *,
    pretrained: bool,
    weights_path: str | os.PathLike[str] | None = None,
    random_weights_ok: bool = False,
    option_hint: str = "",
    **options: Any,
) -> nn.Module:
    """Build backbone ``name``; with ``pretrained`` load its Kinetics-400 weights.

    The module carries ``.info`` (:class:`BackboneInfo`) and ``.weights_source``
    (where its weights came from, or why they are random).  When pretrained
    weights are missing, :class:`~core.errors.WeightsUnavailable` is raised
    unless ``random_weights_ok``.
    """
    info = backbone_info(name, **options)  # validates the name and options
    module = _BUILDERS[name](**options)
    module.weights_source = "random initialisation"
    if not pretrained and weights_path is None:
        return module
    try:
        state, source = _resolve_weights(info, weights_path, option_hint)
    except WeightsUnavailable as err:
        if not random_weights_ok:
            raise
        module.weights_source = f"random initialisation ({err})"
        return module
    _load_backbone_state(module, state, source)
    module.weights_source = source
    return module


def _resolve_weights(info: BackboneInfo, weights_path: str | os.PathLike[str] | None, option_hint: str) -> tuple[dict[str, torch.Tensor], str]:
    from core.weights import load_state_dict_file, resolve_state_dict

    if weights_path is not None and str(weights_path) != "":
        return load_state_dict_file(weights_path), str(weights_path)
    if info.pretrained_url is None:
        raise WeightsUnavailable(f"backbone {info.name!r} has no pretrained weights: it is trained from scratch (build it with pretrained=False) or give a weights file")
    return resolve_state_dict(what=info.pretrained_what or info.name, url=info.pretrained_url, option_hint=option_hint)


def _load_backbone_state(module: nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    """Load a torchvision-layout state dict (``head.*`` dropped) or one of our own backbone's."""
    target = getattr(module, "net", module)
    state = {k.removeprefix("module."): v for k, v in state.items()}
    if target is not module and any(k.startswith("net.") for k in state):
        state = {k.removeprefix("net."): v for k, v in state.items()}
    state = {k: v for k, v in state.items() if not k.startswith("head.")}
    own = target.state_dict()
    check_state_dict_fits(state, own, what=f"does not fit backbone {module.info.name!r}", path=source)
    target.load_state_dict(state, strict=True)
