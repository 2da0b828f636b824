"""The encoder's explicit attention path (the viewer's maps) computes its probabilities in float32
even under half-precision autocast, the way a GPU runs the model by default."""

from __future__ import annotations

import math

import pytest
import torch

from core.models.shared.encoder import AttentionRecorder, SelfAttention


@pytest.mark.parametrize("mask", [False, True])
def test_recorded_attention_is_float32_softmax_of_the_projected_queries_and_keys_under_autocast(mask: bool) -> None:
    torch.manual_seed(0)
    attention = SelfAttention(32, heads=4, head_dim=8).eval()
    x = 3.0 * torch.randn(2, 10, 32)
    allowed = torch.rand(10, 10, generator=torch.Generator().manual_seed(1)) > 0.3 if mask else None
    if allowed is not None:
        allowed.fill_diagonal_(True)
    recorder = AttentionRecorder()
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        out = attention(x, allowed, recorder)
        qkv = attention.qkv(x)  # what the layer projects under autocast: bfloat16
    q, k, _ = qkv.float().view(2, 10, 3, 4, 8).permute(2, 0, 3, 1, 4).unbind(0)
    scores = q @ k.transpose(-2, -1) / math.sqrt(8)
    if allowed is not None:
        scores = scores.masked_fill(~allowed, float("-inf"))
    (recorded,) = recorder.maps
    assert recorded.dtype == torch.float32
    torch.testing.assert_close(recorded, scores.softmax(dim=-1), atol=1e-6, rtol=0)
    assert out.dtype == torch.bfloat16 and torch.isfinite(out).all()  # the rest of the layer stays in autocast's type
