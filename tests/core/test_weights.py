"""Weight resolution order and its messages, without any network."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file

from core import weights
from core.errors import WeightsUnavailable

URL = "https://example.invalid/models/thing-1234.pth"


def test_explicit_file_wins_over_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    explicit = tmp_path / "mine.safetensors"
    save_file({"w": torch.ones(2)}, str(explicit))
    cached = tmp_path / "hub" / "checkpoints" / "thing-1234.pth"
    cached.parent.mkdir(parents=True)
    torch.save({"w": torch.zeros(2)}, cached)
    state, source = weights.resolve_state_dict(what="Thing", url=URL, explicit_path=explicit)
    assert source == str(explicit) and torch.equal(state["w"], torch.ones(2))
    state, source = weights.resolve_state_dict(what="Thing", url=URL)
    assert source == str(cached) and torch.equal(state["w"], torch.zeros(2))


def test_missing_weights_say_where_to_put_them(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    with pytest.raises(WeightsUnavailable) as info:
        weights.resolve_state_dict(what="Thing", url=URL, option_hint="--thing-weights")
    message = str(info.value)
    assert "downloads are disabled" in message
    assert "thing-1234.pth" in message and str(tmp_path / "hub" / "checkpoints") in message and "--thing-weights" in message


def test_a_failed_download_is_tried_once_per_process(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    monkeypatch.setattr(weights, "_FAILED_DOWNLOADS", {})
    calls = []

    def unreachable(url, **kwargs):
        calls.append(url)
        raise OSError("network is unreachable")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", unreachable)
    for _ in range(3):
        with pytest.raises(WeightsUnavailable, match="download failed: OSError: network is unreachable"):
            weights.resolve_state_dict(what="Thing", url=URL, allow_download=True)
    assert calls == [URL]
