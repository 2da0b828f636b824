"""RAFT weights: finding them, and reading the original RAFT release's checkpoints.

torchvision's ``raft_large``/``raft_small`` name their tensors differently from
the original release (``raft-things.pth``, ``raft-sintel.pth``, ``raft-small.pth``,
saved from ``nn.DataParallel`` with a ``module.`` prefix).  The tensors are the
same; :func:`convert_original_raft` renames them by name, rule by rule, and
:func:`load_raft_state_dict` checks every key and every shape before loading, so
a wrong file is refused with a message instead of giving garbage flow.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Mapping

import torch
from torch import nn

from core.errors import CheckpointError, WeightsUnavailable

RAFT_VARIANTS = ("raft-large", "raft-small")
_DISPLAY = {"raft-large": "RAFT-large", "raft-small": "RAFT-small"}
ORIGINAL_RELEASE_FILES = {"raft-large": "raft-things.pth or raft-sintel.pth", "raft-small": "raft-small.pth"}


def display_name(variant: str) -> str:
    return _DISPLAY[variant]


def weights_enum(variant: str):
    """torchvision's weights enum for ``variant`` (its entries carry the download URLs)."""
    from torchvision.models.optical_flow import Raft_Large_Weights, Raft_Small_Weights

    return Raft_Large_Weights if variant == "raft-large" else Raft_Small_Weights


def build_raft(variant: str) -> nn.Module:
    """torchvision's RAFT of ``variant`` with its random initial weights (load real ones next)."""
    from torchvision.models.optical_flow import raft_large, raft_small

    if variant not in RAFT_VARIANTS:
        raise ValueError(f"unknown RAFT variant {variant!r}; expected one of {RAFT_VARIANTS}")
    return raft_large(weights=None) if variant == "raft-large" else raft_small(weights=None)


# -- original release -> torchvision names --------------------------------------------------

_ENCODERS = {"fnet": "feature_encoder", "cnet": "context_encoder"}
_MOTION = {"convc1": "convcorr1.0", "convc2": "convcorr2.0", "convf1": "convflow1.0", "convf2": "convflow2.0", "conv": "conv.0"}


def is_original_layout(state: Mapping[str, torch.Tensor]) -> bool:
    """True for the original RAFT release's key names (``fnet.``/``cnet.``, maybe behind ``module.``)."""
    return any(_strip_module(k).split(".", 1)[0] in _ENCODERS for k in state)


def _strip_module(key: str) -> str:
    return key[len("module."):] if key.startswith("module.") else key


def convert_original_raft(state: Mapping[str, torch.Tensor], *, source: str | os.PathLike[str] | None = None) -> dict[str, torch.Tensor]:
    """Rename an original-release RAFT state dict to torchvision's layout.

    The original residual blocks register the downsampling norm twice (as
    ``normN`` and as ``downsample.1``); the alias is dropped after checking both
    hold the same values.  A key no rule knows is an error naming the key.
    """
    stripped = {_strip_module(k): v for k, v in state.items()}
    bottleneck_blocks = {m.group(1) for k in stripped if (m := re.match(r"^([fc]net\.layer\d+\.\d+)\.conv3\.", k))}
    converted: dict[str, torch.Tensor] = {}
    aliases: dict[str, tuple[str, torch.Tensor]] = {}
    for key, value in stripped.items():
        new_key = _convert_key(key, bottleneck_blocks)
        if new_key is None:
            raise CheckpointError(f"unknown key {key!r} for an original RAFT checkpoint", source)
        if new_key.startswith("alias:"):
            aliases[new_key[len("alias:"):]] = (key, value)
            continue
        converted[new_key] = value
    for target, (key, value) in aliases.items():
        if target in converted and not torch.equal(converted[target], value):
            raise CheckpointError(f"{key!r} should repeat {target!r} (the same norm layer) but holds other values", source)
        converted.setdefault(target, value)
    return converted


def _convert_key(key: str, bottleneck_blocks: set[str]) -> str | None:
    head, _, rest = key.partition(".")
    if head in _ENCODERS:
        return _convert_encoder_key(head, rest, bottleneck_blocks)
    if head != "update_block":
        return None
    part, _, rest = rest.partition(".")
    if part == "encoder":
        layer, _, leaf = rest.partition(".")
        return f"update_block.motion_encoder.{_MOTION[layer]}.{leaf}" if layer in _MOTION else None
    if part == "gru":
        match = re.fullmatch(r"conv([zrq])([12]?)\.(weight|bias)", rest)
        if match is None:
            return None
        gate, index, leaf = match.groups()
        return f"update_block.recurrent_block.convgru{index or '1'}.conv{gate}.{leaf}"
    if part == "flow_head":
        return f"update_block.flow_head.{rest}" if re.fullmatch(r"conv[12]\.(weight|bias)", rest) else None
    if part == "mask":
        match = re.fullmatch(r"([02])\.(weight|bias)", rest)
        if match is None:
            return None
        return f"mask_predictor.{'convrelu.0' if match.group(1) == '0' else 'conv'}.{match.group(2)}"
    return None


def _convert_encoder_key(head: str, rest: str, bottleneck_blocks: set[str]) -> str | None:
    prefix = _ENCODERS[head]
    if match := re.fullmatch(r"conv1\.(weight|bias)", rest):
        return f"{prefix}.convnormrelu.0.{match.group(1)}"
    if match := re.fullmatch(r"norm1\.(\w+)", rest):
        return f"{prefix}.convnormrelu.1.{match.group(1)}"
    if match := re.fullmatch(r"conv2\.(weight|bias)", rest):
        return f"{prefix}.conv.{match.group(1)}"
    match = re.fullmatch(r"(layer\d+\.\d+)\.(conv|norm)(\d)\.(\w+)", rest)
    if match:
        block, kind, index, leaf = match.groups()
        convs = 3 if f"{head}.{block}" in bottleneck_blocks else 2
        if int(index) > convs:
            if kind == "norm":  # the downsampling norm, registered again as downsample.1
                return f"alias:{prefix}.{block}.downsample.1.{leaf}"
            return None
        return f"{prefix}.{block}.convnormrelu{index}.{'0' if kind == 'conv' else '1'}.{leaf}"
    match = re.fullmatch(r"(layer\d+\.\d+)\.downsample\.([01])\.(\w+)", rest)
    if match:
        return f"{prefix}.{match.group(1)}.downsample.{match.group(2)}.{match.group(3)}"
    return None


def to_original_layout(state: Mapping[str, torch.Tensor], *, prefix: str = "module.") -> dict[str, torch.Tensor]:
    """The inverse renaming (torchvision -> original release), for tests and exports.

    Downsampling norms are written under both names, as the original code does.
    """
    bottleneck = any(".convnormrelu3." in key for key in state)
    separable_gru = any(".convgru2." in key for key in state)
    inverse: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        for original in _original_keys(key, bottleneck=bottleneck, separable_gru=separable_gru):
            inverse[prefix + original] = value
    return inverse


def _original_keys(key: str, *, bottleneck: bool, separable_gru: bool) -> list[str]:
    for head, name in _ENCODERS.items():
        if not key.startswith(name + "."):
            continue
        rest = key[len(name) + 1:]
        if match := re.fullmatch(r"convnormrelu\.([01])\.(\w+)", rest):
            return [f"{head}.{'conv1' if match.group(1) == '0' else 'norm1'}.{match.group(2)}"]
        if match := re.fullmatch(r"conv\.(\w+)", rest):
            return [f"{head}.conv2.{match.group(1)}"]
        if match := re.fullmatch(r"(layer\d+\.\d+)\.convnormrelu(\d)\.([01])\.(\w+)", rest):
            block, index, kind, leaf = match.groups()
            return [f"{head}.{block}.{'conv' if kind == '0' else 'norm'}{index}.{leaf}"]
        if match := re.fullmatch(r"(layer\d+\.\d+)\.downsample\.([01])\.(\w+)", rest):
            block, index, leaf = match.groups()
            keys = [f"{head}.{block}.downsample.{index}.{leaf}"]
            if index == "1":
                keys.append(f"{head}.{block}.norm{4 if bottleneck else 3}.{leaf}")
            return keys
        raise KeyError(key)
    if key.startswith("update_block.motion_encoder."):
        rest = key[len("update_block.motion_encoder."):]
        for original, new in _MOTION.items():
            if rest.startswith(new + "."):
                return [f"update_block.encoder.{original}.{rest[len(new) + 1:]}"]
    if match := re.fullmatch(r"update_block\.recurrent_block\.convgru([12])\.conv([zrq])\.(\w+)", key):
        index, gate, leaf = match.groups()
        return [f"update_block.gru.conv{gate}{index if separable_gru else ''}.{leaf}"]
    if key.startswith("update_block.flow_head."):
        return [key]
    if match := re.fullmatch(r"mask_predictor\.(convrelu\.0|conv)\.(\w+)", key):
        return [f"update_block.mask.{'0' if match.group(1) == 'convrelu.0' else '2'}.{match.group(2)}"]
    raise KeyError(key)


# -- checking and loading ---------------------------------------------------------------------


def load_raft_state_dict(model: nn.Module, state: Mapping[str, torch.Tensor], *, variant: str, source: str | os.PathLike[str] | None = None) -> None:
    """Load ``state`` (torchvision or original layout) into ``model`` after checking every key and shape.

    A file of the other RAFT size is named as such, so the user knows which
    ``--method`` it fits.
    """
    if is_original_layout(state):
        state = convert_original_raft(state, source=source)
    expected = model.state_dict()
    other = guess_variant(state)
    if other is not None and other != variant:
        raise CheckpointError(f"holds {display_name(other)} weights, not {display_name(variant)}: use --method {other}", source)
    missing = [k for k in expected if k not in state and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in state if k not in expected]
    if missing or unexpected:
        detail = []
        if missing:
            detail.append(f"{len(missing)} missing (first: {missing[0]})")
        if unexpected:
            detail.append(f"{len(unexpected)} unexpected (first: {unexpected[0]})")
        raise CheckpointError(f"does not fit torchvision's {display_name(variant)}: " + ", ".join(detail), source)
    for key, value in state.items():
        if tuple(value.shape) != tuple(expected[key].shape):
            raise CheckpointError(f"tensor {key} has shape {tuple(value.shape)}, {display_name(variant)} needs {tuple(expected[key].shape)}", source)
    full = {k: state.get(k, expected[k]) for k in expected}
    model.load_state_dict({k: v.to(expected[k].dtype) for k, v in full.items()}, strict=True)


def guess_variant(state: Mapping[str, torch.Tensor]) -> str | None:
    """Which RAFT a (torchvision-layout) state dict belongs to, from its feature width."""
    weight = state.get("feature_encoder.conv.weight")
    if weight is None:
        return None
    return {256: "raft-large", 128: "raft-small"}.get(int(weight.shape[0]))


def cached_weight_files(variant: str) -> list[Path]:
    """Files of any of torchvision's weights for ``variant`` already in the torch hub cache."""
    from core.weights import hub_checkpoint_path

    return [path for entry in weights_enum(variant) if (path := hub_checkpoint_path(entry.url)).exists()]


def resolve_raft_weights(variant: str, explicit_path: str | os.PathLike[str] | None = None) -> tuple[dict[str, torch.Tensor], str]:
    """``(state_dict, source)``: an explicit file, then any of torchvision's weights in the
    hub cache, then the default weights' download (unless offline).

    Raises :class:`~core.errors.WeightsUnavailable` saying what to put where; an
    explicit file that cannot be read raises :class:`~core.errors.CheckpointError`.
    """
    from core.weights import load_state_dict_file, resolve_state_dict

    if explicit_path is None or str(explicit_path) == "":
        cached = cached_weight_files(variant)
        if cached:
            return load_state_dict_file(cached[0]), str(cached[0])
    default = weights_enum(variant).DEFAULT
    try:
        return resolve_state_dict(what=display_name(variant), url=default.url, explicit_path=explicit_path, option_hint="--raft-weights")
    except WeightsUnavailable as err:
        raise WeightsUnavailable(f"{err} (the original RAFT release's {ORIGINAL_RELEASE_FILES[variant]} works too)") from None


def require_raft_weights(method: str | None, explicit_path: str | os.PathLike[str] | None = None) -> None:
    """A run whose flow is RAFT stops here, before any work, when the weights cannot be had (a
    :class:`~core.errors.WeightsUnavailable` saying what to put where); other methods need nothing."""
    if method in ("raft-large", "raft-small"):
        resolve_raft_weights(method, explicit_path)


def default_weights_file(variant: str) -> Path:
    """Where torchvision's default weights for ``variant`` are looked for (the torch hub cache):
    the file a missing-weights message names."""
    from core.weights import hub_checkpoint_path

    return hub_checkpoint_path(weights_enum(variant).DEFAULT.url)


def identify_raft_weights(path: str | os.PathLike[str]) -> str:
    """The RAFT variant (``raft-large`` or ``raft-small``) whose weights the file at ``path`` holds,
    after checking every key and shape against that model; :class:`CheckpointError` otherwise.

    Lets a user pick a file without saying which RAFT it is for (the viewer's Flow > Load RAFT weights).
    """
    from core.weights import load_state_dict_file

    state = load_state_dict_file(path)
    torchvision_layout = convert_original_raft(state, source=path) if is_original_layout(state) else state
    variant = guess_variant(torchvision_layout)
    if variant is None:
        raise CheckpointError("is not a RAFT weights file (no RAFT feature encoder in it)", path)
    load_raft_state_dict(build_raft(variant), torchvision_layout, variant=variant, source=path)
    return variant
