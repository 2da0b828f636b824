"""Weight resolution order and its messages, without any network."""

from __future__ import annotations

import io
import pickle
import re
import warnings
from pathlib import Path

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


def test_a_failed_download_is_tried_once_per_process_and_prints_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    monkeypatch.setattr(weights, "_FAILED_DOWNLOADS", {})
    calls = []

    def unreachable(url, dst, **kwargs):
        calls.append(url)
        raise OSError("network is unreachable")

    monkeypatch.setattr(torch.hub, "download_url_to_file", unreachable)
    for _ in range(3):
        with pytest.raises(WeightsUnavailable, match="download failed: OSError: network is unreachable"):
            weights.resolve_state_dict(what="Thing", url=URL, allow_download=True)
    assert calls == [URL]
    assert capsys.readouterr().err == ""  # the command's one error line is the only line


def test_a_download_lands_in_the_hub_cache_and_a_page_that_is_no_weights_is_not_kept(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    monkeypatch.setattr(weights, "_FAILED_DOWNLOADS", {})
    served = {"body": None}

    def fetch(url, dst, **kwargs):
        Path(dst).write_bytes(served["body"])

    monkeypatch.setattr(torch.hub, "download_url_to_file", fetch)
    buffer = io.BytesIO()
    torch.save({"w": torch.ones(2)}, buffer)
    served["body"] = buffer.getvalue()
    state, source = weights.resolve_state_dict(what="Thing", url=URL, allow_download=True)
    assert source == URL and torch.equal(state["w"], torch.ones(2))
    assert (tmp_path / "hub" / "checkpoints" / "thing-1234.pth").is_file()  # the next run reads the cache
    other = URL.replace("thing-1234", "other-5678")
    served["body"] = b"<html>sign in to the proxy</html>"
    with pytest.raises(CheckpointError, match="not a readable PyTorch weights file"):
        weights.resolve_state_dict(what="Thing", url=other, allow_download=True)
    assert not (tmp_path / "hub" / "checkpoints" / "other-5678.pth").exists()


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
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning here would print above the one error line
        path.write_bytes(pickle.dumps({"a": Path("x")}, protocol=2))  # a class to build: code to run
        with pytest.raises(CheckpointError, match="refused to load: the file is not plain tensor data"):
            load_state_dict_file(path)
        path.write_bytes(pickle.dumps({"a": [1, 2, 3]}, protocol=4))  # a protocol torch's safe reader lacks
        with pytest.raises(CheckpointError, match=r"not a readable PyTorch weights file \(Unsupported operand 149\)"):
            load_state_dict_file(path)
