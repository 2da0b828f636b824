"""The two-stream ConvNet: every stream and fusion has the right shapes and trains; the
cross-modality initialisation, the score fusions, CAM attention and the ConvLSTM do
exactly what the seeds say."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from core.errors import WeightsUnavailable
from core.models.convnet import ConvNetConfig, build_convnet
from core.models.convnet.config import CONVNET_VARIANTS
from core.models.shared.resnet import build_trunk, cross_modality_weights
from core.models.shared.cam import SpatialAttention, class_activation_maps
from core.models.shared.convlstm import ConvLSTM

SIZE = 32
L = 2


@pytest.fixture(autouse=True)
def _seeded(monkeypatch):
    monkeypatch.setenv("TWOSTREAM_OFFLINE", "1")
    torch.manual_seed(0)


def config(variant: str = "late", **overrides) -> ConvNetConfig:
    values = dict(backbone="tiny", class_names=["a", "b", "c"], variant=variant, input_size=SIZE, flow_length=L, backbone_options={"width": 8})
    values.update(overrides)
    return ConvNetConfig.create(**values)


def inputs(batch: int = 2, snippets: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.randn(batch, snippets, 3, SIZE, SIZE), torch.randn(batch, snippets, 2 * L, SIZE, SIZE)


@pytest.mark.parametrize("variant", CONVNET_VARIANTS)
@pytest.mark.parametrize("rgb_options", [{}, {"rgb_attention": True, "rgb_convlstm": 8}])
def test_every_variant_gives_finite_scores_and_gradients_to_every_parameter(variant, rgb_options):
    model = build_convnet(config(variant, **rgb_options)).train()
    rgb, flow = inputs()
    scores = model(rgb, flow)
    assert scores.shape == (2, 3)
    assert torch.isfinite(scores).all()
    F.cross_entropy(scores, torch.tensor([0, 2])).backward()
    unused = [name for name, p in model.named_parameters() if p.grad is None]
    assert not unused, f"parameters without gradient: {unused}"
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())
    # a stream the variant does not use is not built at all
    assert (model.rgb_stream is None) == (variant == "flow")
    assert (model.flow_stream is None) == (variant == "rgb")


def test_scores_are_log_probabilities_of_the_mean_snippet_softmax():
    """Seed 002: test-time scores are the softmax averaged over snippets."""
    for variant in ("rgb", "flow", "late", "weighted", "learned", "feature"):
        model = build_convnet(config(variant)).eval()
        rgb, flow = inputs(batch=1, snippets=4)
        with torch.no_grad():
            together = model(rgb, flow).softmax(dim=1)
            alone = torch.stack([model(rgb[:, s : s + 1], flow[:, s : s + 1]).softmax(dim=1) for s in range(4)]).mean(dim=0)
        assert torch.allclose(together, alone, atol=1e-6), variant


def test_late_and_weighted_fusion_mix_the_streams_probabilities():
    model = build_convnet(config("weighted", fusion_rgb_weight=0.25)).eval()
    rgb, flow = inputs(batch=2, snippets=1)
    with torch.no_grad():
        rgb_maps, flow_maps = model.forward_streams(rgb, flow)
        p_rgb = model.rgb_stream.logits(rgb_maps)[:, 0].softmax(dim=1)
        p_flow = model.flow_stream.logits(flow_maps)[:, 0].softmax(dim=1)
        fused = model.fuse(rgb_maps, flow_maps).softmax(dim=1)
    assert abs(float(model.fusion.rgb_weight.detach()) - 0.25) < 1e-6
    assert torch.allclose(fused, 0.25 * p_rgb + 0.75 * p_flow, atol=1e-6)
    late = build_convnet(config("late")).eval()
    late.load_state_dict({k: v for k, v in model.state_dict().items() if k != "fusion.alpha"})
    with torch.no_grad():
        assert torch.allclose(late(rgb, flow).softmax(dim=1), 0.5 * p_rgb + 0.5 * p_flow, atol=1e-6)


def test_cross_modality_initialisation_gives_the_mean_rgb_filter_on_every_flow_channel(tmp_path):
    from safetensors.torch import save_file

    source = build_trunk("resnet18")  # random stand-in for the ImageNet weights
    state = {k: v.contiguous() for k, v in source.state_dict().items()}
    state["fc.weight"], state["fc.bias"] = torch.randn(1000, 512), torch.randn(1000)  # as the ImageNet file has
    weights = tmp_path / "resnet18.safetensors"
    save_file(state, str(weights))

    flow = build_trunk("resnet18", in_channels=20, weights_path=weights)
    expected = state["conv1.weight"].mean(dim=1, keepdim=True)
    assert flow.conv1.weight.shape == (64, 20, 7, 7)
    for channel in range(20):
        assert torch.equal(flow.conv1.weight[:, channel : channel + 1], expected)
    assert torch.equal(flow.layer4[1].conv2.weight, state["layer4.1.conv2.weight"])  # everything else as loaded
    assert "cross-modality" in flow.weights_source

    model = build_convnet(ConvNetConfig.create(backbone="resnet18", class_names=["a", "b"], variant="late", flow_length=10), imagenet_weights=weights)
    assert torch.equal(model.rgb_stream.trunk.conv1.weight, state["conv1.weight"])
    assert torch.equal(model.flow_stream.trunk.conv1.weight, expected.repeat(1, 20, 1, 1))


def test_cross_modality_weights_refuse_non_rgb_filters():
    with pytest.raises(ValueError, match=r"\(64, 4, 7, 7\)"):
        cross_modality_weights(torch.zeros(64, 4, 7, 7), 20)


def test_missing_imagenet_weights_say_where_to_put_them():
    with pytest.raises(WeightsUnavailable, match="resnet18-f37072fd.pth"):
        build_trunk("resnet18", pretrained=True)
    trunk = build_trunk("resnet18", pretrained=True, random_weights_ok=True)
    assert trunk.weights_source.startswith("random initialisation")
    with pytest.raises(WeightsUnavailable, match="no pretrained weights"):
        build_trunk("tiny", pretrained=True)


def test_spatial_attention_is_identity_for_a_flat_cam_and_a_softmax_over_locations():
    attention = SpatialAttention(4, 3)
    maps = torch.rand(2, 4, 5, 6)
    torch.nn.init.zeros_(attention.head.weight)
    assert torch.allclose(attention(maps), maps, atol=1e-6)
    torch.nn.init.normal_(attention.head.weight)
    weights = attention.weights(maps)
    assert torch.allclose(weights.sum(dim=(1, 2)), torch.ones(2), atol=1e-6)
    winners = attention.head(maps.mean(dim=(2, 3))).argmax(dim=1)
    cam = class_activation_maps(maps, attention.head.weight, winners)
    assert torch.allclose(weights, F.softmax(cam.flatten(1), dim=1).view_as(cam))
    assert torch.allclose(attention(maps), maps * weights.unsqueeze(1) * 30)


def test_cam_averages_to_the_logit_without_its_bias():
    """Zhou et al.: a linear classifier after average pooling scores b_c + mean_i CAM_c(i)."""
    model = build_convnet(config("rgb", dropout=0.0)).eval()
    rgb, _ = inputs(batch=2, snippets=1)
    with torch.no_grad():
        maps = model.rgb_stream.forward_maps(rgb)
        logits = model.rgb_stream.logits(maps)[:, 0]
        for c in range(3):
            cam = model.rgb_stream.cam(maps, torch.tensor([c, c]))
            assert cam.shape == (2, 1, SIZE // 8, SIZE // 8)
            assert torch.allclose(cam.mean(dim=(1, 2, 3)) + model.rgb_stream.head.bias[c], logits[:, c], atol=1e-5)


def test_convlstm_sees_the_order_of_snippets_and_the_plain_spatial_stream_does_not():
    plain = build_convnet(config("rgb")).eval()
    recurrent = build_convnet(config("rgb", rgb_convlstm=8)).eval()
    rgb, _ = inputs(batch=1, snippets=4)
    reversed_rgb = rgb.flip(1)
    with torch.no_grad():
        assert torch.allclose(plain(rgb), plain(reversed_rgb), atol=1e-6)
        assert not torch.allclose(recurrent(rgb), recurrent(reversed_rgb), atol=1e-4)
    lstm = ConvLSTM(4, 6)
    with torch.no_grad():
        hidden = lstm(torch.randn(2, 3, 4, 5, 5))
    assert hidden.shape == (2, 3, 6, 5, 5)
    assert float(hidden.abs().max()) < 1.0  # h = o * tanh(c)


@pytest.mark.parametrize("kernel", ["1x1", "3d"])
def test_conv_fusion_pools_over_snippets_and_space(kernel):
    model = build_convnet(config("conv", conv_fusion=kernel)).eval()
    assert model.fusion.conv.kernel_size == ((1, 1, 1) if kernel == "1x1" else (3, 3, 3))
    rgb, flow = inputs(batch=2, snippets=3)
    with torch.no_grad():
        fused = model.fusion.fused_maps(*(m.maps for m in model.forward_streams(rgb, flow)))
        assert fused.shape == (2, 3, 64, SIZE // 8, SIZE // 8)
        expected = model.fusion.classifier(fused.mean(dim=(1, 3, 4)))
        assert torch.allclose(model(rgb, flow), expected, atol=1e-6)
        one = model(rgb[:, :1], flow[:, :1])  # a single snippet is a valid (short) sequence
    assert one.shape == (2, 3)


def test_bad_inputs_name_the_shape():
    model = build_convnet(config("late"))
    rgb, flow = inputs()
    with pytest.raises(ValueError, match=r"flow input must have shape \(B, S, 4, H, W\), got \(2, 3, 6, 32, 32\)"):
        model(rgb, torch.randn(2, 3, 6, SIZE, SIZE))
    with pytest.raises(ValueError, match="32x32 pixels, got 16x16"):
        model(torch.randn(2, 3, 3, 16, 16), flow)
    with pytest.raises(ValueError, match="needs stacked flow"):
        model(rgb, None)
    with pytest.raises(ValueError, match=r"same samples and snippets"):
        model(rgb, flow[:, :2])


def test_config_refuses_bad_values_and_round_trips():
    good = config("feature", bidirectional=True, mean_subtraction=False, rgb_attention=True)
    assert ConvNetConfig.from_dict(good.to_dict()) == good
    assert good.clip_length == L + 1 and good.centre_offset == 1 and good.flow_channels == 4
    bad = [
        ({"variant": "sum"}, "unknown variant"),
        ({"flow_length": 3, "bidirectional": True}, "even flow_length"),
        ({"backbone_options": {"depth": 3}}, "only the option 'width'"),
        ({"flow_method": "magic"}, "unknown flow_method"),
        ({"conv_fusion": "2d"}, "unknown conv_fusion"),
        ({"fusion_rgb_weight": 1.0}, "fusion_rgb_weight"),
        ({"input_size": 8}, "input_size must be"),
    ]
    for overrides, message in bad:
        with pytest.raises(ValueError, match=message):
            config(**{"variant": "late", **overrides})
    with pytest.raises(ValueError, match="unknown fields"):
        ConvNetConfig.from_dict({**good.to_dict(), "colour": 1})
    with pytest.raises(ValueError, match="unknown backbone"):
        ConvNetConfig.create(backbone="vgg16", class_names=["a"])


def test_resnet_trunks_have_the_documented_geometry():
    trunk = build_trunk("resnet18")
    out = trunk(torch.randn(1, 3, 64, 64))
    assert out.shape == (1, 512, 2, 2)
    assert trunk.info.pretrained_url.endswith("resnet18-f37072fd.pth")
    tiny = build_trunk("tiny", width=4)
    assert tiny.run(torch.randn(1, 3, 32, 32), 0, 3).shape == (1, 8, 8, 8)  # after layer2: stride 4
    assert math.prod(tiny(torch.randn(1, 3, 32, 32)).shape) == 32 * 4 * 4
