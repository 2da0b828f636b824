"""What the ConvNet sampling tests share: a stand-in flow engine and a tiny config."""

from __future__ import annotations

import numpy as np

from core.models.convnet import ConvNetConfig


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
