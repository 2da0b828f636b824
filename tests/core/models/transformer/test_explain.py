"""Attention maps: rollout, relevance, and the way from a token back to frame pixels."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.models import build_model
from core.models.transformer.config import TransformerConfig
from core.models.transformer.attention_map import heatmap_for_frame, slices_for_frame, token_region
from core.models.transformer.explain import attention_rollout, build_attention_maps, relevance_propagation
from core.models.transformer.layout import FLOW, RGB, TokenLayout
from core.sampling import crop_map


@pytest.fixture(autouse=True)
def _seeded(monkeypatch):
    monkeypatch.setenv("TWOSTREAM_OFFLINE", "1")
    torch.manual_seed(0)


def test_rollout_of_identity_attention_is_identity():
    att = np.broadcast_to(np.eye(5, dtype=np.float32), (3, 2, 5, 5))
    np.testing.assert_allclose(attention_rollout(att), np.eye(5), atol=1e-7)
    np.testing.assert_allclose(attention_rollout(att, rows=[0]), np.eye(5)[:1], atol=1e-7)


def test_rollout_of_uniform_attention_matches_the_closed_form():
    # M = (U + I) / 2 with U the uniform matrix (U @ U = U), so M @ M = 0.75 U + 0.25 I
    length = 4
    att = np.full((2, 3, length, length), 1.0 / length, dtype=np.float32)
    expected = 0.75 / length + 0.25 * np.eye(length)
    np.testing.assert_allclose(attention_rollout(att), expected, atol=1e-6)


def test_rollout_rows_agree_with_the_full_product():
    rng = np.random.default_rng(0)
    att = rng.random((3, 2, 6, 6)).astype(np.float32)
    att /= att.sum(axis=-1, keepdims=True)
    full = attention_rollout(att)
    np.testing.assert_allclose(attention_rollout(att, rows=[0, 2]), full[[0, 2]], atol=1e-6)
    np.testing.assert_allclose(full.sum(axis=-1), 1.0, atol=1e-5)


def test_relevance_follows_the_chefer_rule():
    att = np.array([[[[0.5, 0.5, 0.0], [0.2, 0.3, 0.5], [0.0, 0.0, 1.0]]]], dtype=np.float32)
    grad = np.array([[[[1.0, -2.0, 3.0], [0.0, 1.0, 1.0], [2.0, 2.0, 2.0]]]], dtype=np.float32)
    cam = np.clip(grad[0, 0] * att[0, 0], 0, None)  # [[.5, 0, 0], [0, .3, .5], [0, 0, 2]]
    np.testing.assert_allclose(relevance_propagation(att, grad), np.eye(3) + cam, atol=1e-7)
    two_layers = np.concatenate([att, att]), np.concatenate([grad, grad])
    expected = (np.eye(3) + cam) @ (np.eye(3) + cam)
    np.testing.assert_allclose(relevance_propagation(*two_layers), expected, atol=1e-6)
    np.testing.assert_allclose(relevance_propagation(*two_layers, rows=[1]), expected[[1]], atol=1e-6)


def planted_maps(layout: TokenLayout, stream: str, token: tuple[int, int, int]):
    """Attention where every query spreads evenly, except the class token: all on ``token``."""
    length = layout.length
    att = np.full((2, 2, length, length), 1.0 / length, dtype=np.float32)
    grid = layout.grid(stream)
    position = layout.token_slice(stream).start + np.ravel_multi_index(token, grid)
    att[:, :, layout.class_index(stream)] = 0.0
    att[:, :, layout.class_index(stream), position] = 1.0
    return build_attention_maps(att, np.zeros_like(att), layout, target_class=0)


@pytest.mark.parametrize("stream", [RGB, FLOW])
def test_planted_attention_peak_lands_on_the_token_region_of_a_non_square_frame(stream):
    layout = TokenLayout.for_variant("fusion", (4, 3, 3))
    maps = planted_maps(layout, stream, (2, 1, 2))
    volume = maps.volume(stream)
    assert volume.shape == (4, 3, 3)
    assert np.unravel_index(volume.argmax(), volume.shape) == (2, 1, 2)
    assert volume[2, 1, 2] == pytest.approx(1.0) and volume.sum() == pytest.approx(1.0)
    other = FLOW if stream == RGB else RGB
    assert maps.volume(other).sum() == 0.0

    clip = tuple(range(100, 116, 2))  # 8 frames, 4 slices: slice 2 is frames 108 and 110
    cmap = crop_map(240, 320, 96)  # 96x128 after resizing, centre crop from x=16: 32 px tokens
    maps = maps.with_frames(clip, cmap)
    frames, box = token_region(2, 1, 2, (4, 3, 3), clip, cmap)
    assert frames == (108, 110)
    assert box == pytest.approx((200.0, 80.0, 280.0, 160.0))
    for frame in (108, 110):
        heat = maps.heatmap(volume, frame)
        assert heat.shape == (240, 320) and heat.dtype == np.float32
        expected = np.zeros((240, 320), dtype=np.float32)
        expected[80:160, 200:280] = 1.0
        np.testing.assert_array_equal(heat, expected)
    assert not maps.heatmap(volume, 104).any()
    with pytest.raises(ValueError, match=r"frame 101 is not in this clip \(frames 100\.\.114\)"):
        maps.heatmap(volume, 101)


def test_planted_class_attention_also_peaks_in_rollout_and_concat_uses_each_streams_class_token():
    layout = TokenLayout.for_variant("concat", (2, 2, 2))
    maps = planted_maps(layout, FLOW, (1, 0, 1))
    rollout = maps.volume(FLOW, "rollout")
    assert np.unravel_index(rollout.argmax(), rollout.shape) == (1, 0, 1)
    assert layout.class_index(FLOW) == 1 and layout.class_index(RGB) == 0


def test_a_frame_in_two_slices_gets_their_mean():
    assert slices_for_frame(7, (4, 5, 6, 7, 7, 7), 3) == [1, 2]
    volume = np.zeros((3, 1, 1), dtype=np.float32)
    volume[1], volume[2] = 1.0, 3.0
    heat = heatmap_for_frame(volume, 7, (4, 5, 6, 7, 7, 7), crop_map(10, 10, 10))
    np.testing.assert_allclose(heat, 2.0)


def test_relevance_peaks_at_a_planted_token():
    """Only one flow token carries a signal (the rest are zero, positions switched off):
    its relevance is the only non-zero one, so the map must peak exactly there.  The
    class token is made large so the planted value moves the logits both ways
    (some class gains from attending to it)."""
    config = TransformerConfig.create(
        backbone="tiny",
        class_names=["a", "b", "c", "d"],
        backbone_options={"dim": 16},
        input_size=48,
        clip_length=4,
        fusion={"heads": 2, "head_dim": 8, "depth": 1, "head_dropout": 0.0},
    )
    model = build_model(config).eval()
    with torch.no_grad():
        for param in (model.time_embed, model.space_embed, model.stream_embed):
            param.zero_()
        for layer in model.encoder.layers:
            layer.attn.qkv.bias.zero_()
        model.class_tokens.normal_()
    grid = model.backbone_grid
    assert grid == (2, 3, 3)
    rgb_tokens = torch.zeros(1, *grid, 16)
    signal = torch.randn(16)
    positive = 0
    for sign in (1.0, -1.0):  # a value and its negative push every logit in opposite directions
        flow_tokens = torch.zeros(1, *grid, 16)
        flow_tokens[0, 1, 2, 0] = sign * signal
        for target in range(4):
            maps = model.explain(rgb_tokens=rgb_tokens, flow_tokens=flow_tokens, target_class=target).maps[0]
            assert maps.target_class == target
            relevance = maps.volume(FLOW, "relevance")
            assert np.all(maps.volume(RGB, "relevance") == 0.0)
            others = relevance.copy()
            others[1, 2, 0] = 0.0
            assert np.all(others == 0.0)
            if relevance[1, 2, 0] > 0:
                positive += 1
                assert np.unravel_index(relevance.argmax(), grid) == (1, 2, 0)
    assert positive >= 1
