"""Shared pieces of the dataset-view tests: a generated dataset and a checkpoint whose answers are known.

The checkpoint is a tiny two-stream transformer trained for zero steps whose classifier
is replaced by a bias toward one class, so every prediction (and so every right/wrong
mark, confusion cell and filter count) is known before a test runs.
"""

from __future__ import annotations

from pathlib import Path

import torch

from core.data import discover_dataset, make_split
from core.models import build_model, save_checkpoint
from core.models.transformer.config import TransformerConfig
from core.synth import CLASS_NAMES, generate_dataset
from core.training.result import EXTRA_SETTINGS, EXTRA_SPLIT
from core.training.settings import TrainSettings

FAVOURED = "Approach"


def biased_checkpoint(path: Path, classes=CLASS_NAMES, favoured: str = FAVOURED, extra: dict | None = None) -> Path:
    """Whatever the clip, the model answers ``favoured`` (softmax ~0.9 with 10 classes)."""
    torch.manual_seed(0)
    options = dict(backbone="tiny", class_names=list(classes), backbone_options={"dim": 16}, input_size=32, clip_length=4)
    model = build_model(TransformerConfig.create(**options, fusion={"heads": 2, "head_dim": 8, "depth": 1}))
    weight, bias = model.head.classifier.weight, model.head.classifier.bias
    with torch.no_grad():
        weight.copy_(torch.zeros_like(weight))
        bias.copy_(torch.tensor([5.0 if name == favoured else 0.0 for name in classes]))
    return save_checkpoint(path, model, extra=extra)


def synth_with_checkpoint(root: Path, clips_per_class: int = 3) -> tuple[Path, Path]:
    """A synthetic dataset (32x32, 12 frames) and a biased checkpoint that records its split."""
    generate_dataset(root / "synth", clips_per_class=clips_per_class, size=32, frames=12, seed=3)
    dataset = discover_dataset(root / "synth")
    split = make_split(dataset, seed=5, test_fraction=0.2, val_fraction=0.1)
    extra = {EXTRA_SETTINGS: TrainSettings(seed=5, test_fraction=0.2, val_fraction=0.1).to_dict(), EXTRA_SPLIT: split.to_dict(dataset)}
    return root / "synth", biased_checkpoint(root / "biased.safetensors", extra=extra)
