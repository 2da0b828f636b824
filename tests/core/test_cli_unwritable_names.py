"""A command's output names the files it wrote with a byte that is not UTF-8 escaped (``\\xff``): written raw, as the
terminal's own handler did, it showed as a replacement character and the user could not tell which file was meant."""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

import pytest

import main
from core.synth import generate_dataset
from media import write_video
from non_utf8_names import non_utf8_path, only_where_names_need_not_be_utf8

pytestmark = only_where_names_need_not_be_utf8

TINY = ["--epochs", "1", "--tiny-dim", "16", "--heads", "2", "--head-dim", "8", "--depth", "1", "--input-size", "32",
        "--clip-length", "8", "--device", "cpu"]


def _terminal_output(monkeypatch: pytest.MonkeyPatch, argv: list[str]) -> list[bytes]:
    """The bytes ``main.py`` writes to a UTF-8 terminal (Python's own handler there writes such a byte raw), by line."""
    terminal = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="surrogateescape", write_through=True)
    monkeypatch.setattr(sys, "stdout", terminal)
    assert main.main(argv) == 0
    terminal.flush()
    return terminal.buffer.getvalue().splitlines()


def test_train_prints_its_checkpoint_with_the_byte_escaped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    generate_dataset(tmp_path / "synth", clips_per_class=2, size=32, frames=20, seed=1)
    out = non_utf8_path(tmp_path, b"model\xff.safetensors")
    lines = _terminal_output(monkeypatch, ["train", str(tmp_path / "synth"), "--out", str(out), *TINY])
    assert os.fsencode(out) in [os.fsencode(p) for p in tmp_path.iterdir()]
    assert f"checkpoint: {tmp_path}/model\\xff.safetensors".encode() in lines
    assert not any(b"\xff" in line for line in lines)


def test_flow_prints_its_folder_with_the_byte_escaped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    video = write_video(tmp_path / "clip.mp4", 3, size=(48, 32))
    out = non_utf8_path(tmp_path, b"out\xff")
    lines = _terminal_output(monkeypatch, ["flow", str(video), "--method", "farneback", "--out", str(out)])
    assert lines == [f"wrote 2 flow fields (farneback) to {tmp_path}/out\\xff".encode()]
