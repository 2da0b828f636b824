"""The representation-flow layer and network (seed 004): TV-L1 on features recovers a known
translation with its initial parameters, learns its parameters, starts as the identity,
and trains the flow parameters at a hundredth of the learning rate."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from core.flow.synthetic import Motion, moving_sequence, smooth_texture
from core.flow.tvl1 import LinearisedData, tvl1_iterations
from core.models.repflow import RepFlowConfig, RepresentationFlow, build_repflow
from core.models.repflow.config import REPFLOW_VARIANTS
from core.models.repflow.model import RepresentationFlowBlock
from core.models.repflow.layer import normalise_features, sobel_gradients


@pytest.fixture(autouse=True)
def _seeded(monkeypatch):
    monkeypatch.setenv("TWOSTREAM_OFFLINE", "1")
    torch.manual_seed(0)


def translated_pair(dx: float, dy: float, size: int = 48) -> torch.Tensor:
    """A smooth grey texture and the same texture moved by (dx, dy) px: (1, 1, 2, size, size)."""
    frames, truth = moving_sequence(smooth_texture(96, 96, seed=3, colour=False), Motion(dx=dx, dy=dy), 2, size=(size, size))
    assert np.allclose(truth[0, 0], dx) and np.allclose(truth[0, 1], dy)
    grey = torch.from_numpy(frames[..., 0].astype(np.float32))  # (2, H, W)
    return grey[None, None]


@pytest.mark.parametrize("dx, dy", [(0.5, 0.0), (-0.5, 0.0), (0.0, 0.6), (0.8, -0.4)])
def test_initial_layer_recovers_a_known_translation_sign_and_magnitude(dx, dy):
    layer = RepresentationFlow()  # theta 0.3, lambda 0.15, tau 0.25, 20 iterations
    with torch.no_grad():
        flow = layer(translated_pair(dx, dy))
    assert flow.shape == (1, 2, 1, 48, 48)
    inner = flow[0, :, 0, 8:-8, 8:-8]
    assert abs(float(inner[0].median()) - dx) < 0.15
    assert abs(float(inner[1].median()) - dy) < 0.15


def test_channels_get_their_own_flow():
    pair = torch.cat((translated_pair(0.5, 0.0), translated_pair(0.0, -0.5)), dim=1)  # (1, 2, 2, H, W)
    with torch.no_grad():
        flow = RepresentationFlow()(pair)[0, :, 0, 8:-8, 8:-8]  # channels: x0, x1, y0, y1
    medians = [float(flow[c].median()) for c in range(4)]
    assert np.allclose(medians, [0.5, 0.0, 0.0, -0.5], atol=0.15)


def test_initial_difference_kernels_are_exactly_the_flow_engines_tvl1():
    layer = RepresentationFlow(iterations=7)
    pair = normalise_features(translated_pair(0.7, 0.3, size=32))
    i0, i1 = pair[:, :, 0], pair[:, :, 1]
    gx, gy = sobel_gradients(i1)
    data = LinearisedData(grad=torch.stack((gx, gy), dim=1), grad_sq=gx * gx + gy * gy, rho_c=i1 - i0)
    reference, _, _ = tvl1_iterations(data, i0.new_zeros(1, 2, 1, 32, 32), tau=0.25, lambda_=0.15, theta=0.3, iterations=7)
    with torch.no_grad():
        assert torch.allclose(layer.pair_flow(i0, i1), reference, atol=1e-5)


def test_features_are_scaled_to_0_255_without_flipping_their_sign():
    x = torch.randn(2, 3, 4, 5, 5)
    scaled = normalise_features(x)
    assert torch.allclose(scaled.amin(dim=(2, 3, 4)), torch.zeros(2, 3), atol=1e-3)
    assert torch.allclose(scaled.amax(dim=(2, 3, 4)), torch.full((2, 3), 255.0), atol=1e-3)
    flat = x.flatten(2)
    assert torch.equal(flat.argmax(dim=2), scaled.flatten(2).argmax(dim=2))  # brighter stays brighter


def test_gradients_reach_theta_lambda_tau_and_the_difference_kernels():
    layer = RepresentationFlow(iterations=10)
    pair = translated_pair(1.5, -0.5, size=24)  # larger than one step: the thresholding clamps somewhere
    flow = layer(pair)
    (flow[:, 0] - 1.5).pow(2).mean().add((flow[:, 1] + 0.5).pow(2).mean()).backward()
    for name, param in layer.named_parameters():
        assert param.grad is not None and torch.isfinite(param.grad).all(), name
        assert float(param.grad.abs().sum()) > 0, name
    assert {n for n, _ in layer.named_parameters()} == {
        "solver.tau", "solver.lambda_", "solver.theta", "gradient_x", "gradient_y", "divergence_x", "divergence_y",
    }


def test_block_starts_as_the_identity_on_the_frames_it_keeps():
    block = RepresentationFlowBlock(16, layers=2, bottleneck=8, iterations=3).eval()
    x = torch.relu(torch.randn(2, 16, 5, 6, 6))  # features after a ReLU, as after a residual stage
    assert torch.equal(block(x), x[:, :, :3])
    assert len(block.between) == 1 and block.between[0][0].kernel_size == (1, 3, 3)
    assert block.reduce.out_channels == 8 and block.expand.kernel_size == (1, 3, 3)


def config(variant: str = "flow", **overrides) -> RepFlowConfig:
    values = dict(backbone="tiny", class_names=["a", "b", "c"], variant=variant, input_size=32, clip_length=5, backbone_options={"width": 8}, iterations=4)
    values.update(overrides)
    return RepFlowConfig.create(**values)


@pytest.mark.parametrize("variant", REPFLOW_VARIANTS)
def test_every_variant_trains_end_to_end_from_rgb_clips(variant):
    model = build_repflow(config(variant, rgb_attention=variant == "late", rgb_convlstm=6 if variant == "learned" else 0)).train()
    clip = torch.randn(2, 5, 3, 32, 32)
    scores = model(clip)
    assert scores.shape == (2, 3) and torch.isfinite(scores).all()
    F.cross_entropy(scores, torch.tensor([1, 2])).backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing, missing
    with torch.no_grad():
        explained = model.eval().explain(clip, target_class=1)
    maps = explained.maps[0]
    if model.config.uses_flow:
        assert maps.flow.shape == (3, 4, 4)  # 5 frames, 2 flow layers: 3 time steps at stride 8
    if model.config.uses_rgb:
        assert maps.rgb.shape == (5, 4, 4)


@pytest.mark.parametrize("layers", [0, 1, 2, 3])
def test_each_flow_layer_uses_up_one_frame(layers):
    model = build_repflow(config(flow_layers=layers)).eval()
    with torch.no_grad():
        features = model.flow_stream.forward_maps(torch.randn(1, 5, 3, 32, 32))
    assert features.maps.shape[1] == 5 - layers
    assert (model.flow_stream.block is None) == (layers == 0)


def test_flow_parameters_train_at_a_hundredth_of_the_rate():
    model = build_repflow(config("late"))
    groups = model.param_groups(0.1)
    by_name = {g["name"]: g for g in groups}
    assert by_name["network"]["lr"] == 0.1 and abs(by_name["representation_flow"]["lr"] - 0.001) < 1e-12
    flow_ids = {id(p) for p in by_name["representation_flow"]["params"]}
    assert len(flow_ids) == 2 * 7  # two flow layers: tau, lambda, theta and four difference kernels each
    all_ids = [id(p) for g in groups for p in g["params"]]
    assert sorted(all_ids) == sorted(id(p) for p in model.parameters())  # every parameter exactly once
    torch.optim.SGD(groups, lr=0.1)  # a valid optimizer spec


def test_bad_clips_and_configs_are_refused_with_the_value():
    model = build_repflow(config())
    with pytest.raises(ValueError, match=r"\(B, S, 3, H, W\), got \(2, 3, 32, 32\)"):
        model(torch.randn(2, 3, 32, 32))
    with pytest.raises(ValueError, match="too short for 2 flow layers"):
        model(torch.randn(1, 2, 3, 32, 32))
    for overrides, message in (({"flow_layers": 4}, "flow_layers"), ({"clip_length": 2}, "clip_length"), ({"theta": 0.0}, "theta"), ({"variant": "fusion"}, "unknown variant")):
        with pytest.raises(ValueError, match=message):
            config(**overrides)
    assert RepFlowConfig.from_dict(config("learned").to_dict()) == config("learned")
