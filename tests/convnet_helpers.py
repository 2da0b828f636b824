"""What the ConvNet sampling tests share: a stand-in flow engine, a tiny config, and a group of snippets scored alone."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch

from core.inference import ArrayFrames
from core.models.convnet import ConvNetConfig
from core.models.convnet.inputs import prepare_snippets


class _Result:
    def __init__(self, forward: np.ndarray) -> None:
        self.forward, self.backward, self.method_used, self.fell_back, self.note = forward, None, "diff", False, ""


class BoxFlow:
    """A stand-in flow engine: each pair's horizontal component is the frames' mean brightness change."""

    def compute(self, frames, method, **kwargs):
        change = np.diff(frames.astype(np.float32).mean(axis=-1), axis=0) / 32.0
        return _Result(np.stack((change, np.zeros_like(change)), axis=1))


def tiny_config(variant: str = "conv", **overrides) -> ConvNetConfig:
    """A 32 px, L = 4 ConvNet of the tiny trunk (width 8), three classes, no dropout."""
    values = dict(backbone="tiny", class_names=["a", "b", "c"], variant=variant, input_size=32, flow_length=4,
                  backbone_options={"width": 8}, dropout=0.0)
    values.update(overrides)
    return ConvNetConfig.create(**values)


def alone_probabilities(model: Any, frames: np.ndarray, starts: Sequence[int], flow_backend: Any = None) -> np.ndarray:
    """The softmax ``model`` gives the snippets at ``starts`` of ``frames`` read as one sample of their own."""
    prepared = prepare_snippets(ArrayFrames(frames), list(starts), model.config, flow_backend=flow_backend)
    with torch.no_grad():
        return model(**{k: v[None] for k, v in prepared.inputs().items()}).softmax(dim=1)[0].numpy()
