"""The tiny ResNet trunk trains at the narrowest widths the command line accepts.

oneDNN's backward of a strided 1x1 convolution over a channels-last input of 2-8
channels writes out of bounds (torch 2.14 on a CPU); frames permuted from
height-width-channel are channels-last.  Before the fix this test died with a
segfault or a heap-corruption abort in ``backward()``.
"""

from __future__ import annotations

import pytest
import torch

from core.models.shared.resnet import ResNetTrunk, StridedPointwiseConv


@pytest.mark.parametrize("width", [4, 8])
def test_a_narrow_trunk_backpropagates_a_channels_last_batch(width: int) -> None:
    torch.manual_seed(0)
    trunk = ResNetTrunk("tiny", width=width)
    frames = torch.rand(24, 112, 112, 3).permute(0, 3, 1, 2)  # as frames arrive: channels-last
    assert frames.is_contiguous(memory_format=torch.channels_last)
    for _ in range(3):
        trunk.zero_grad()
        trunk.run(frames).square().mean().backward()
    grads = [p.grad for p in trunk.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    narrow = sum(isinstance(m, StridedPointwiseConv) for m in trunk.modules())
    assert narrow == (2 if width == 4 else 1)  # the strided downsamples that take 8 channels or fewer


def test_the_workaround_keeps_the_layers_weights_and_results() -> None:
    torch.manual_seed(0)
    plain = torch.nn.Conv2d(8, 16, 1, stride=2, bias=False)
    wrapped = StridedPointwiseConv(8, 16, 1, stride=2, bias=False)
    wrapped.load_state_dict(plain.state_dict())  # the same keys: checkpoints load either way
    x = torch.rand(2, 8, 10, 10)
    torch.testing.assert_close(wrapped(x), plain(x))
