"""Backbone registry: token-grid shapes, input checks, weight resolution."""

from __future__ import annotations

import pytest
import torch

from core.errors import CheckpointError, WeightsUnavailable
from core.models.shared.backbones import BACKBONE_NAMES, backbone_info, build_backbone


@pytest.fixture(autouse=True)
def _offline(monkeypatch, tmp_path):
    monkeypatch.setenv("TWOSTREAM_OFFLINE", "1")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))  # an empty hub cache
    torch.manual_seed(0)


def test_registry_names_and_infos():
    assert set(BACKBONE_NAMES) == {"tiny", "mvit_v2_s", "swin3d_s"}
    for name in ("mvit_v2_s", "swin3d_s"):
        info = backbone_info(name)
        assert info.dim == 768
        assert info.grid_shape(16, 224) == (8, 7, 7)
        assert info.pretrained_url and info.pretrained_url.endswith(".pth")
    assert backbone_info("tiny").grid_shape(16, 112) == (8, 7, 7)
    with pytest.raises(ValueError, match="unknown backbone 'resnet'"):
        backbone_info("resnet")


def test_tiny_token_grid_shape_and_is_finite():
    net = build_backbone("tiny", pretrained=False, dim=32).eval()
    with torch.no_grad():
        tokens = net(torch.randn(2, 3, 8, 64, 64))
    assert tokens.shape == (2, 4, 4, 4, 32)
    assert torch.isfinite(tokens).all()


def test_tiny_refuses_inputs_tokens_would_not_tile():
    net = build_backbone("tiny", pretrained=False, dim=32)
    with pytest.raises(ValueError, match=r"multiple of 16, got 60"):
        net(torch.randn(1, 3, 8, 60, 60))
    with pytest.raises(ValueError, match=r"multiple of 2, got 7"):
        net(torch.randn(1, 3, 7, 64, 64))
    with pytest.raises(ValueError, match=r"\(B, 3, T, H, W\), got shape \(1, 8, 64, 64\)"):
        net(torch.randn(1, 8, 64, 64))


def test_mvit_full_size_gives_8x7x7_tokens_without_the_class_token():
    net = build_backbone("mvit_v2_s", pretrained=False).eval()
    with torch.no_grad():
        tokens = net(torch.randn(1, 3, 16, 224, 224))
    assert tokens.shape == (1, 8, 7, 7, 768)
    assert torch.isfinite(tokens).all()


@pytest.mark.parametrize("name", ["mvit_v2_s", "swin3d_s"])
def test_video_transformers_follow_a_smaller_grid(name):
    net = build_backbone(name, pretrained=False).eval()
    with torch.no_grad():
        tokens = net(torch.randn(1, 3, 4, 64, 64))
    assert tokens.shape == (1, *backbone_info(name).grid_shape(4, 64), 768) == (1, 2, 2, 2, 768)


def test_pretrained_weights_missing_say_where_to_put_them():
    with pytest.raises(WeightsUnavailable, match=r"mvit_v2_s-ae3be167\.pth in .*torch_home.*checkpoints"):
        build_backbone("mvit_v2_s", pretrained=True)
    with pytest.raises(WeightsUnavailable, match="trained from scratch"):
        build_backbone("tiny", pretrained=True)


def test_random_weights_only_when_asked_and_said_so():
    net = build_backbone("swin3d_s", pretrained=True, random_weights_ok=True)
    assert net.weights_source.startswith("random initialisation (")
    assert "swin3d_s-da41c237.pth" in net.weights_source


def test_explicit_weights_file_loads_and_a_wrong_one_is_refused(tmp_path):
    from safetensors.torch import save_file

    source = build_backbone("tiny", pretrained=False, dim=32).eval()
    path = tmp_path / "tiny.safetensors"
    save_file({k: v.contiguous() for k, v in source.state_dict().items()}, str(path))
    loaded = build_backbone("tiny", pretrained=True, weights_path=path, dim=32).eval()
    assert loaded.weights_source == str(path)
    clip = torch.randn(1, 3, 4, 32, 32)
    with torch.no_grad():
        assert torch.equal(source(clip), loaded(clip))
    with pytest.raises(CheckpointError, match=r"does not fit backbone 'tiny'"):
        build_backbone("tiny", pretrained=True, weights_path=path, dim=64)
