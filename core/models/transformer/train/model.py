"""Building the model a run trains: seeded, stream by stream, so runs share their frozen backbones.

Each stream's backbone is initialised from its own seed (derived from the
run's seed and the stream's name), and the fusion part from another.  So the
RGB backbone is the same whichever variant is trained, and the ablation's
four variants reuse one set of cached token grids.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from core.models.shared.backbones import backbone_info, build_backbone
from core.models.transformer.config import TransformerConfig
from core.models.transformer.model import TwoStreamTransformer
from core.models.transformer.layout import FLOW, RGB
from core.training.seeds import derive_seed
from core.training.settings import TrainSettings

BACKBONE_WEIGHTS_HINT = "--backbone-weights"


@dataclass(frozen=True)
class BuiltModel:
    model: TwoStreamTransformer
    weights_sources: dict[str, str]  # per stream: the file, cache or "seeded random initialisation"
    notes: tuple[str, ...]


def build_training_model(settings: TrainSettings, config: TransformerConfig) -> BuiltModel:
    """The model of ``config`` with backbones for the streams its variant uses.

    Backbones get Kinetics-400 weights when ``settings.pretrained`` and the
    backbone has any (raising :class:`~core.errors.WeightsUnavailable`, with
    where to put them, when they cannot be had); the tiny backbone has none
    and starts from a seeded random initialisation: frozen random features
    are a legitimate (weak) baseline, and cheap enough for tests and the demo.
    With frozen backbones they are set to eval mode and ``requires_grad=False``.
    """
    info = backbone_info(config.backbone, **dict(config.backbone_options))
    has_weights = info.pretrained_url is not None or settings.backbone_weights
    notes: list[str] = []
    sources: dict[str, str] = {}
    backbones: dict[str, torch.nn.Module | None] = {RGB: None, FLOW: None}
    for stream, used in ((RGB, config.uses_rgb), (FLOW, config.uses_flow)):
        if not used:
            continue
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(derive_seed(settings.seed, "backbone", stream))
            module = build_backbone(
                config.backbone,
                pretrained=bool(settings.pretrained and has_weights),
                weights_path=settings.backbone_weights,
                option_hint=BACKBONE_WEIGHTS_HINT,
                **dict(config.backbone_options),
            )
        source = str(getattr(module, "weights_source", "random initialisation"))
        sources[stream] = source if (settings.pretrained and has_weights) else f"seeded random initialisation (seed {settings.seed})"
        backbones[stream] = module
    if not has_weights and settings.pretrained:
        notes.append(f"backbone {config.backbone!r} has no pretrained weights: its frozen features come from a seeded random initialisation")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derive_seed(settings.seed, "fusion"))
        model = TwoStreamTransformer(config, rgb_backbone=backbones[RGB], flow_backbone=backbones[FLOW])
    if config.variant == "rgb" and config.fusion.rgb_time_pool:
        model.time_embed.requires_grad_(False)  # no token uses it: keep it out of the optimiser (and of DDP's reducer)
    if not settings.finetune_backbones:
        for module in (model.rgb_backbone, model.flow_backbone):
            if module is not None:
                module.eval()
                module.requires_grad_(False)
    return BuiltModel(model=model, weights_sources=sources, notes=tuple(notes))


def trainable_state(model: TwoStreamTransformer, finetune_backbones: bool) -> dict[str, torch.Tensor]:
    """What the training state file must keep: everything but frozen backbones (rebuilt from the seed or file)."""
    frozen = () if finetune_backbones else ("rgb_backbone.", "flow_backbone.")
    return {name: value for name, value in model.state_dict().items() if not name.startswith(frozen)}
