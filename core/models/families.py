"""The model families: one name in a config, everything else follows from it.

``transformer`` (seed 000: two video backbones and a fusion transformer),
``convnet`` (seeds 001-003: classic two-stream ResNets on a frame and stacked
flow) and ``repflow`` (seed 004: a ResNet on RGB clips with learnable flow
layers).  A checkpoint's config records its family, so
:func:`config_from_dict` and :func:`build_model` (used by
:mod:`core.models.checkpoint`) and :func:`open_classifier` need no flag.

For a trainer, each family offers the same calls: build from config
(:func:`build_model`), ``model(**inputs)`` on what :func:`sample_inputs`
prepares (stacked into a batch), ``model.explain(...)`` for per-frame
saliency, and :func:`param_groups` for the optimizer.  Heavy modules are
imported only when a family is used.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch
from torch import nn

FAMILY_TRANSFORMER = "transformer"
FAMILY_CONVNET = "convnet"
FAMILY_REPFLOW = "repflow"
FAMILIES = (FAMILY_TRANSFORMER, FAMILY_CONVNET, FAMILY_REPFLOW)


@dataclass(frozen=True)
class Family:
    """What the program needs to know about one family; the callables import lazily."""

    name: str
    summary: str
    config_class: Callable[[], type]
    variants: Callable[[], tuple[str, ...]]
    build: Callable[..., nn.Module]
    classifier_class: Callable[[], type]


def _transformer_config() -> type:
    from core.models.config import ModelConfig

    return ModelConfig


def _transformer_variants() -> tuple[str, ...]:
    from core.models.config import VARIANTS

    return VARIANTS


def _build_transformer(config: Any, **kwargs: Any) -> nn.Module:
    from core.models.factory import build_model as build

    return build(config, **kwargs)


def _transformer_classifier() -> type:
    from core.inference import Classifier

    return Classifier


def _convnet_config() -> type:
    from core.models.convnet.config import ConvNetConfig

    return ConvNetConfig


def _convnet_variants() -> tuple[str, ...]:
    from core.models.convnet.config import CONVNET_VARIANTS

    return CONVNET_VARIANTS


def _build_convnet(config: Any, **kwargs: Any) -> nn.Module:
    from core.models.convnet.factory import build_convnet

    return build_convnet(config, **_weights_kwargs(kwargs))


def _convnet_classifier() -> type:
    from core.models.convnet.predict import ConvNetClassifier

    return ConvNetClassifier


def _repflow_config() -> type:
    from core.models.repflow.config import RepFlowConfig

    return RepFlowConfig


def _repflow_variants() -> tuple[str, ...]:
    from core.models.repflow.config import REPFLOW_VARIANTS

    return REPFLOW_VARIANTS


def _build_repflow(config: Any, **kwargs: Any) -> nn.Module:
    from core.models.repflow.factory import build_repflow

    return build_repflow(config, **_weights_kwargs(kwargs))


def _repflow_classifier() -> type:
    from core.models.repflow.predict import RepFlowClassifier

    return RepFlowClassifier


def _weights_kwargs(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The transformer's builder names its weight files per stream; the ResNet families take one
    ImageNet file for both streams (``imagenet_weights``, or ``rgb_weights`` as an alias)."""
    values = dict(kwargs)
    rgb = values.pop("rgb_weights", None)
    flow = values.pop("flow_weights", None)
    if flow is not None:
        raise ValueError("ConvNet families take one ImageNet weights file for both streams (imagenet_weights), not flow_weights")
    if rgb is not None:
        values.setdefault("imagenet_weights", rgb)
    return values


REGISTRY: dict[str, Family] = {
    FAMILY_TRANSFORMER: Family(FAMILY_TRANSFORMER, "two video backbones (MViTv2-S, Swin3D-S, tiny) and a fusion transformer (seed 000)", _transformer_config, _transformer_variants, _build_transformer, _transformer_classifier),
    FAMILY_CONVNET: Family(FAMILY_CONVNET, "classic two-stream ResNets: a frame and L stacked flow fields, late/feature/conv fusion (seeds 001-003)", _convnet_config, _convnet_variants, _build_convnet, _convnet_classifier),
    FAMILY_REPFLOW: Family(FAMILY_REPFLOW, "a ResNet on RGB clips with learnable TV-L1 representation-flow layers (seed 004)", _repflow_config, _repflow_variants, _build_repflow, _repflow_classifier),
}


def family(name: str) -> Family:
    if name not in REGISTRY:
        raise ValueError(f"unknown model family {name!r}: choose one of {', '.join(FAMILIES)}")
    return REGISTRY[name]


def family_of(config: Any) -> str:
    """The family of a config object or of a config dict (a dict without one is a transformer's,
    as every checkpoint written before families existed)."""
    if isinstance(config, Mapping):
        name = config.get("family", FAMILY_TRANSFORMER)
        if not isinstance(name, str):
            raise ValueError(f"model config 'family' must be a string, got {name!r}")
        return name
    name = getattr(config, "family", None)
    if name not in REGISTRY:
        raise ValueError(f"not a model config of a known family: {type(config).__name__} with family {name!r}")
    return name


def is_model_config(config: Any) -> bool:
    """True for a config object of any family."""
    try:
        return isinstance(config, family(family_of(config)).config_class())
    except ValueError:
        return False


def config_from_dict(data: Mapping[str, Any]) -> Any:
    """The family's config rebuilt and validated from a checkpoint's JSON (``ValueError`` if bad)."""
    if not isinstance(data, Mapping):
        raise ValueError(f"model config must be a JSON object, got {type(data).__name__}")
    return family(family_of(data)).config_class().from_dict(data)


def architecture(config: Any) -> tuple:
    """What decides a model's weight shapes (two configs that differ here cannot share weights)."""
    own = getattr(config, "architecture", None)
    if callable(own):
        return own()
    return (config.backbone, dict(config.backbone_options), config.variant, config.fusion, config.num_classes, config.input_size, config.clip_length)


def build_model(config: Any, **kwargs: Any) -> nn.Module:
    """The family's model for ``config``; keyword options as the family's builder takes them
    (``pretrained``, ``random_weights_ok``, ``option_hint``, weight files)."""
    return family(family_of(config)).build(config, **kwargs)


def make_classifier(model: nn.Module, config: Any = None, **kwargs: Any) -> Any:
    """The family's classifier around a loaded model: ``predict_clip``, ``predict_clips``,
    ``predict_video``, ``predict_timeline`` returning :class:`core.inference.Prediction` s."""
    config = config or model.config
    return family(family_of(config)).classifier_class()(model, config, **kwargs)


def open_classifier(path: str | os.PathLike[str], *, device: str | torch.device = "auto", **kwargs: Any) -> Any:
    """Load any family's checkpoint and return its classifier (the one call ``classify`` and the
    viewer need).  ``kwargs``: ``flow_backend``, ``precision``, ``batch_size``, ``flow_method``."""
    from core.device import resolve_device
    from core.models.checkpoint import load_checkpoint

    resolved = resolve_device(device)
    model, config = load_checkpoint(path, resolved)
    return make_classifier(model, config, device=resolved, **kwargs)


def param_groups(model: nn.Module, lr: float) -> list[dict]:
    """Optimizer parameter groups: the model's own (representation flow trains its flow layers
    at a lower rate) or one group of every parameter."""
    own = getattr(model, "param_groups", None)
    if callable(own):
        return own(lr)
    return [{"params": [p for p in model.parameters()], "lr": lr, "name": "network"}]


def sample_inputs(
    config: Any,
    source: Any,
    *,
    starts: Sequence[int] | None = None,
    count: int = 1,
    rng: np.random.Generator | None = None,
    flow_backend: Any = None,
    device: str | torch.device = "cpu",
) -> dict[str, torch.Tensor]:
    """One training or test sample of a ConvNet-family model, without a batch dimension.

    ``convnet``: ``count`` snippets (TSN: at random in equal segments with
    ``rng``, centred without) or the windows at ``starts``: ``{"rgb": (S, 3, H, W),
    "flow": (S, 2L, H, W)}`` for the streams the variant uses.  ``repflow``: the
    clip at ``starts[0]`` (or a random / centred one): ``{"rgb": (T, 3, H, W)}``.
    Stack samples on a new first dimension and call ``model(**batch)``.  The
    transformer's clips come from :mod:`core.inference` / the trainer.
    """
    name = family_of(config)
    if name == FAMILY_CONVNET:
        from core.models.convnet.inputs import prepare_snippets, snippet_starts

        chosen = list(starts) if starts is not None else snippet_starts(len(source), count, config, rng=rng)
        return prepare_snippets(source, chosen, config, flow_backend=flow_backend, device=device).inputs()
    if name == FAMILY_REPFLOW:
        from core.models.repflow.inputs import prepare_clip
        from core.sampling import clip_span, uniform_clip_starts

        if starts is not None:
            if len(starts) != 1:
                raise ValueError(f"a representation-flow sample is one clip: give one start, got {len(starts)}")
            start = int(starts[0])
        elif rng is not None:
            room = len(source) - clip_span(config.clip_length, config.frame_stride)
            start = int(rng.integers(0, room + 1)) if room > 0 else 0
        else:
            start = uniform_clip_starts(len(source), 1, config.clip_length, config.frame_stride)[0]
        return prepare_clip(source, start, config).inputs()
    raise ValueError(f"sample_inputs covers the ConvNet families; {name!r} clips are prepared by core.inference and the trainer")
