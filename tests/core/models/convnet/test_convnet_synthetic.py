"""A tiny two-stream ConvNet trained on synthetic clips beats each of its single streams.

The classic recipe (Simonyan & Zisserman; seed 002): train the spatial and the
temporal stream separately, then average their softmax scores.  Two motion
classes (MoveLeft/MoveRight: every frame has the same distribution in both)
and two appearance classes (RedBall/GreenBall: same motion, equal luminance)
make each stream blind to half the problem.  Run through the family API
only (``sample_inputs``, ``build_model``, ``param_groups``, ``model(**batch)``),
as a trainer would.  The blind stream's confident guesses on the half it
cannot see pull the average down, so the fused model's lead is small: six
seeds of the snippet sampler measured with torch 2.14 (24 training clips a
class, 16 test clips a class) gave fused accuracy 0.67-0.86 against
0.58-0.80 for the better single stream (margin 0.016-0.17: one to eleven of
the 64 test clips).  With 16 training and 8 test clips a class the margin
ranged from -0.06 to 0.16, which is why the sets are this size.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from core.inference import ArrayFrames
import core.models.registry as families
from core.models.convnet import ConvNetConfig
from core.synth import render_clip

CLASSES = ["MoveLeft", "MoveRight", "RedBall", "GreenBall"]
SIZE = 48


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("TWOSTREAM_OFFLINE", "1")


def dataset(config: ConvNetConfig, clips_per_class: int, snippets: int, seed: int, rng: np.random.Generator | None):
    render_rng = np.random.default_rng(seed)
    samples, labels = [], []
    for label, name in enumerate(CLASSES):
        for _ in range(clips_per_class):
            frames = render_clip(name, render_rng, SIZE, 8)
            samples.append(families.sample_inputs(config, ArrayFrames(frames), count=snippets, rng=rng))
            labels.append(label)
    return {k: torch.stack([s[k] for s in samples]) for k in samples[0]}, torch.tensor(labels)


def train_stream(variant: str, base: dict, train_x: dict, train_y: torch.Tensor) -> torch.nn.Module:
    torch.manual_seed(0)
    model = families.build_model(ConvNetConfig.create(variant=variant, **base))
    optimizer = torch.optim.Adam(families.param_groups(model, 3e-3))
    for _ in range(15):
        model.train()
        order = torch.randperm(len(train_y))
        for first in range(0, len(order), 16):
            idx = order[first : first + 16]
            loss = F.cross_entropy(model(**{k: v[idx] for k, v in train_x.items()}), train_y[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return model.eval()


def test_late_fusion_of_separately_trained_streams_beats_each_stream():
    torch.manual_seed(0)
    base = dict(backbone="tiny", class_names=CLASSES, input_size=SIZE, flow_length=4, backbone_options={"width": 8}, dropout=0.0, flow_method="dis")
    fused_config = ConvNetConfig.create(variant="late", **base)
    train_x, train_y = dataset(fused_config, 24, 2, seed=1, rng=np.random.default_rng(0))  # 2 random snippets a clip
    train_x = {k: v.flatten(0, 1).unsqueeze(1) for k, v in train_x.items()}  # ... each its own sample
    train_y = train_y.repeat_interleave(2)
    test_x, test_y = dataset(fused_config, 16, 3, seed=100, rng=None)  # 3 snippets spread over each clip

    rgb = train_stream("rgb", base, train_x, train_y)
    flow = train_stream("flow", base, train_x, train_y)
    fused = families.build_model(fused_config).eval()
    fused.rgb_stream.load_state_dict(rgb.rgb_stream.state_dict())
    fused.flow_stream.load_state_dict(flow.flow_stream.state_dict())

    motion = test_y < 2
    accuracy = {}
    with torch.no_grad():
        for name, model in (("rgb", rgb), ("flow", flow), ("fused", fused)):
            correct = (model(**test_x).argmax(dim=1) == test_y).float()
            accuracy[name] = (float(correct.mean()), float(correct[motion].mean()), float(correct[~motion].mean()))
    rgb_all, rgb_motion, rgb_appearance = accuracy["rgb"]
    flow_all, flow_motion, flow_appearance = accuracy["flow"]
    assert flow_motion > rgb_motion, accuracy  # only flow tells left from right
    assert rgb_appearance > flow_appearance, accuracy  # only colour tells red from green
    assert accuracy["fused"][0] > max(rgb_all, flow_all), accuracy
