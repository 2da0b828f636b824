"""Weight resolution order and its messages, without any network."""

from __future__ import annotations

import pickle
import re
import warnings

import pytest
import torch
from safetensors.torch import save_file

from core import weights
from core.errors import CheckpointError, WeightsUnavailable
from core.weights import load_state_dict_file

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


@pytest.mark.parametrize("content, problem", [
    (b"hello world this is text\n", "not a readable PyTorch weights file (KeyError: 101)"),
    (b"abc", "not a readable PyTorch weights file (IndexError: pop from empty list)"),
    (b"", "file is empty (0 bytes)"),
])
def test_bytes_that_are_no_weights_file_are_one_clean_error(tmp_path, content, problem):
    path = tmp_path / "raft.pth"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=re.escape(f"{path}: {problem}")):
        load_state_dict_file(path)


def test_a_pickle_of_python_objects_is_refused_without_torchs_warnings(tmp_path):
    path = tmp_path / "objects.pth"
    path.write_bytes(pickle.dumps({"a": [1, 2, 3]}, protocol=4))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning here would print above the one error line
        with pytest.raises(CheckpointError, match="refused to load: the file is not plain tensor data"):
            load_state_dict_file(path)
