"""The appearance-only RGB stream: tiny ``frame_wise`` and the fusion's ``rgb_time_pool``."""

from __future__ import annotations

import pytest
import torch

from core.models import build_model
from core.models.transformer.config import FusionConfig, TransformerConfig
from core.models.shared.backbones import build_backbone


@pytest.fixture(autouse=True)
def _seeded(monkeypatch):
    monkeypatch.setenv("TWOSTREAM_OFFLINE", "1")
    torch.manual_seed(0)


def config(variant: str, *, frame_wise: bool, time_pool: bool) -> TransformerConfig:
    return TransformerConfig.create(
        backbone="tiny",
        class_names=["a", "b", "c"],
        variant=variant,
        backbone_options={"dim": 16, "frame_wise": frame_wise},
        input_size=32,
        clip_length=8,
        fusion={"heads": 2, "head_dim": 8, "depth": 2, "head_dropout": 0.0, "rgb_time_pool": time_pool},
    )


def test_frame_wise_tokens_of_a_slice_see_only_its_two_frames():
    net = build_backbone("tiny", pretrained=False, dim=16, frame_wise=True).eval()
    clip = torch.randn(1, 3, 8, 32, 32)
    changed = clip.clone()
    changed[:, :, 5] = torch.randn(3, 32, 32)  # frame 5 belongs to time slice 2
    with torch.no_grad():
        before, after = net(clip), net(changed)
    assert before.shape == (1, 4, 2, 2, 16)
    differs = [(before[:, t] - after[:, t]).abs().max().item() > 1e-5 for t in range(4)]
    assert differs == [False, False, True, False]
    swapped = clip[:, :, [1, 0, 2, 3, 4, 5, 7, 6]]  # order inside a tubelet does not matter
    with torch.no_grad():
        torch.testing.assert_close(net(swapped), before, atol=1e-6, rtol=0)


def test_default_tiny_backbone_sees_frame_order():
    net = build_backbone("tiny", pretrained=False, dim=16).eval()
    clip = torch.randn(1, 3, 8, 32, 32)
    with torch.no_grad():
        assert (net(clip) - net(clip[:, :, [1, 0, 2, 3, 4, 5, 6, 7]])).abs().max() > 1e-3


@pytest.mark.parametrize("frame_wise,time_pool,invariant", [(True, True, True), (True, False, False), (False, True, False)])
def test_rgb_only_logits_ignore_frame_order_only_with_both_options(frame_wise, time_pool, invariant):
    model = build_model(config("rgb", frame_wise=frame_wise, time_pool=time_pool)).eval()
    clip = torch.randn(2, 3, 8, 32, 32)
    permutation = torch.tensor([5, 2, 7, 0, 3, 6, 1, 4])  # pairs broken up, order shuffled
    with torch.no_grad():
        gap = (model(clip) - model(clip[:, :, permutation])).abs().max().item()
    assert (gap < 1e-5) == invariant, gap


def test_rgb_time_pool_keeps_the_layout_and_leaves_the_flow_stream_alone():
    pooled = build_model(config("fusion", frame_wise=True, time_pool=True)).eval()
    plain = build_model(config("fusion", frame_wise=True, time_pool=False)).eval()
    plain.load_state_dict(pooled.state_dict())  # same parameters: only the option differs
    rgb_tokens, flow_tokens = torch.randn(2, 4, 2, 2, 16), torch.randn(2, 4, 2, 2, 16)
    with torch.no_grad():
        seq_pooled = pooled.sequence(rgb_tokens, flow_tokens)
        seq_plain = plain.sequence(rgb_tokens, flow_tokens)
    assert seq_pooled.shape == seq_plain.shape == (2, 1 + 16 + 16, 16)
    rgb = pooled.layout.token_slice("rgb")
    flow = pooled.layout.token_slice("flow")
    torch.testing.assert_close(seq_pooled[:, flow], seq_plain[:, flow], atol=0, rtol=0)  # flow tokens untouched
    slices = seq_pooled[:, rgb].reshape(2, 4, 4, 16)
    torch.testing.assert_close(slices, slices[:, :1].expand_as(slices), atol=0, rtol=0)  # same on every time slice
    expected = pooled.rgb_proj(rgb_tokens.mean(1)) + pooled.space_embed.view(2, 2, -1) + pooled.stream_embed[0]
    torch.testing.assert_close(slices[:, 0], expected.reshape(2, 4, 16).detach(), atol=1e-6, rtol=1e-6)
    with torch.no_grad():  # the flow stream still reads time: reversing its slices changes the logits
        assert (pooled.forward_tokens(rgb_tokens, flow_tokens) - pooled.forward_tokens(rgb_tokens, flow_tokens.flip(1))).abs().max() > 1e-4


def test_options_round_trip_and_old_configs_load():
    cfg = config("fusion", frame_wise=True, time_pool=True)
    again = TransformerConfig.from_dict(cfg.to_dict())
    assert again == cfg and again.fusion.rgb_time_pool and again.backbone_options["frame_wise"] is True
    old = cfg.to_dict()
    del old["fusion"]["rgb_time_pool"]
    old["backbone_options"] = {"dim": 16}
    assert TransformerConfig.from_dict(old).fusion.rgb_time_pool is False  # checkpoints from before the option


def test_bad_option_values_are_refused():
    with pytest.raises(ValueError, match="rgb_time_pool must be true or false, got 'yes'"):
        FusionConfig(rgb_time_pool="yes").validate()
    with pytest.raises(ValueError, match="frame_wise must be true or false, got 1"):
        build_backbone("tiny", pretrained=False, frame_wise=1)
