"""The two-stream fusion transformer: variants, gradients, fused vs recorded attention."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.models import build_model
from core.models.transformer.config import TransformerConfig
from core.models.transformer.layout import FLOW, RGB


@pytest.fixture(autouse=True)
def _seeded(monkeypatch):
    monkeypatch.setenv("TWOSTREAM_OFFLINE", "1")
    torch.manual_seed(0)


def tiny_config(variant: str = "fusion", **fusion) -> TransformerConfig:
    settings = {"heads": 2, "head_dim": 8, "depth": 2, "head_dropout": 0.0, **fusion}
    return TransformerConfig.create(
        backbone="tiny",
        class_names=["walk", "run", "jump"],
        variant=variant,
        backbone_options={"dim": 16},
        input_size=32,
        clip_length=4,
        fusion=settings,
    )


def clips(batch: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.randn(batch, 3, 4, 32, 32), torch.randn(batch, 3, 4, 32, 32)


@pytest.mark.parametrize("variant", ["rgb", "flow", "concat", "fusion"])
def test_variants_give_finite_logits_and_gradients_reach_both_sides(variant):
    model = build_model(tiny_config(variant)).train()
    rgb, flow = clips()
    logits = model(rgb, flow)
    assert logits.shape == (2, 3)
    assert torch.isfinite(logits).all()
    logits.logsumexp(dim=1).sum().backward()
    assert model.class_tokens.grad is not None and model.class_tokens.grad.abs().sum() > 0
    for stream, backbone in ((RGB, model.rgb_backbone), (FLOW, model.flow_backbone)):
        used = stream in model.layout.streams
        assert (backbone is not None) == used
        if used:
            grads = [p.grad for p in backbone.parameters()]
            assert all(g is not None and torch.isfinite(g).all() for g in grads)
            assert sum(float(g.abs().sum()) for g in grads) > 0


def test_single_stream_variants_ignore_the_other_stream():
    model = build_model(tiny_config("rgb")).eval()
    rgb, flow = clips()
    with torch.no_grad():
        assert torch.equal(model(rgb, flow), model(rgb, None))
        assert torch.equal(model(rgb, flow), model(rgb, torch.zeros_like(flow)))
    with pytest.raises(ValueError, match="needs a rgb clip"):
        model(None, flow)


def test_fusion_output_depends_on_both_streams_and_concat_features_are_per_stream():
    fusion = build_model(tiny_config("fusion")).eval()
    concat = build_model(tiny_config("concat")).eval()
    rgb, flow = clips()
    with torch.no_grad():
        assert not torch.allclose(fusion(rgb, flow), fusion(rgb, torch.randn_like(flow)))
        assert not torch.allclose(fusion(rgb, flow), fusion(torch.randn_like(rgb), flow))
        features = concat.forward_features(rgb, flow)
        changed = concat.forward_features(rgb, torch.randn_like(flow))
    dim = concat.config.fusion.dim
    assert features.shape == (2, 2 * dim)
    # no cross-stream attention: changing the flow clip leaves the RGB class token's output untouched
    assert torch.allclose(features[:, :dim], changed[:, :dim], atol=1e-6)
    assert not torch.allclose(features[:, dim:], changed[:, dim:], atol=1e-4)


@pytest.mark.parametrize("variant", ["rgb", "flow", "concat", "fusion"])
def test_fused_and_explain_paths_give_the_same_logits(variant):
    model = build_model(tiny_config(variant)).eval()
    rgb, flow = clips()
    with torch.no_grad():
        fused = model(rgb, flow)
    explained = model.explain(rgb, flow)
    assert torch.allclose(fused, explained.logits, atol=1e-5), (fused, explained.logits)
    assert len(explained.maps) == 2


def test_recorded_attention_rows_are_distributions():
    model = build_model(tiny_config("fusion", heads=3)).eval()
    maps = model.explain(*clips(1)).maps[0]
    length = 1 + 2 * 8  # class + 2x2x2 RGB + 2x2x2 flow
    assert maps.attention.shape == (2, 3, length, length)
    assert (maps.attention >= 0).all()
    np.testing.assert_allclose(maps.attention.sum(axis=-1), 1.0, atol=1e-5)
    assert maps.class_to_rgb.shape == maps.class_to_flow.shape == (2, 3, 2, 2, 2)
    # a space-summarised cross block row: the share of a slice's attention that goes to each flow slice
    assert maps.rgb_to_flow_time.shape == (2, 3, 2, 2)
    assert (maps.rgb_to_flow_time.sum(axis=-1) <= 1.0 + 1e-5).all()
    np.testing.assert_allclose(maps.block(RGB, FLOW, layer=0, head=1), maps.attention[0, 1, 1:9, 9:], atol=0)


def test_concat_variant_has_exactly_zero_cross_stream_attention():
    model = build_model(tiny_config("concat")).eval()
    maps = model.explain(*clips(1)).maps[0]
    att = maps.attention
    rgb, flow = maps.layout.token_slice(RGB), maps.layout.token_slice(FLOW)
    assert np.all(att[:, :, rgb, flow] == 0.0) and np.all(att[:, :, flow, rgb] == 0.0)
    assert np.all(att[:, :, 0, flow] == 0.0) and np.all(att[:, :, 1, rgb] == 0.0)  # each class token stays in its stream
    assert np.all(att[:, :, 0, 1] == 0.0) and np.all(att[:, :, 1, 0] == 0.0)
    assert np.all(maps.rgb_to_flow_time == 0.0) and np.all(maps.flow_to_rgb_time == 0.0)
    assert att[:, :, 0, rgb].sum() > 0 and att[:, :, 1, flow].sum() > 0


def test_forward_tokens_matches_forward_and_checks_shapes():
    model = build_model(tiny_config("fusion")).eval()
    rgb, flow = clips()
    with torch.no_grad():
        rgb_tokens, flow_tokens = model.forward_backbones(rgb, flow)
        assert rgb_tokens.shape == (2, 2, 2, 2, 16)
        assert torch.allclose(model.forward_tokens(rgb_tokens, flow_tokens), model(rgb, flow), atol=1e-6)
        with pytest.raises(ValueError, match=r"rgb tokens must have shape \(B, 2, 2, 2, 16\), got \(2, 2, 2, 2, 8\)"):
            model.forward_tokens(rgb_tokens[..., :8], flow_tokens)
        with pytest.raises(ValueError, match=r"rgb clip must have shape \(B, 3, 4, 32, 32\), got \(2, 3, 4, 48, 48\)"):
            model(torch.randn(2, 3, 4, 48, 48), flow)


def test_spatial_pooling_and_three_layer_head():
    model = build_model(tiny_config("fusion", spatial_pool=1, head_layers=3, head_hidden=12)).eval()
    assert model.layout.rgb_grid == (2, 1, 1)
    assert model.head.classifier.in_features == 12
    rgb, flow = clips()
    with torch.no_grad():
        fused = model(rgb, flow)
    explained = model.explain(rgb, flow)
    assert torch.allclose(fused, explained.logits, atol=1e-5)
    assert explained.maps[0].attention.shape[-1] == 1 + 2 + 2
    assert explained.maps[0].volume(RGB).shape == (2, 1, 1)


def test_nan_input_is_visible_not_hidden():
    model = build_model(tiny_config("fusion")).eval()
    rgb, flow = clips(1)
    with torch.no_grad():
        assert torch.isfinite(model(rgb, flow)).all()
        rgb[0, 0, 0, 0, 0] = float("nan")
        assert torch.isnan(model(rgb, flow)).any()


def test_bad_configs_are_refused_with_the_value():
    with pytest.raises(ValueError, match="unknown variant 'late'"):
        tiny_config("late")
    with pytest.raises(ValueError, match="head_layers must be 1 or 3, got 2"):
        tiny_config("fusion", head_layers=2)
    with pytest.raises(ValueError, match="multiple of 16, got 40"):
        TransformerConfig.create(backbone="tiny", class_names=["a"], input_size=40)
    with pytest.raises(ValueError, match="spatial_pool 3 is larger than the 2x2 token grid"):
        build_model(tiny_config("fusion", spatial_pool=3))


def test_paper_defaults_for_the_big_backbones():
    config = TransformerConfig.create(backbone="mvit_v2_s", class_names=[str(i) for i in range(101)])
    assert (config.fusion.heads, config.fusion.head_dim, config.fusion.dim) == (8, 96, 768)
    assert config.fusion.head_dropout == 0.5
    assert (config.input_size, config.clip_length, config.grid_shape()) == (224, 16, (8, 7, 7))
    assert config.mean == (0.45, 0.45, 0.45)
    assert TransformerConfig.create(backbone="swin3d_s", class_names=["a"]).mean == (0.485, 0.456, 0.406)
