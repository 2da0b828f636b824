"""An output path that cannot be written is refused before any work, in one line with exit 2
(``flow``, ``eval``, ``synth``, ``train``, ``ablate``): never after minutes of computing."""

from __future__ import annotations

from pathlib import Path

import pytest

import main
from core.errors import InputError
from core.export.target import check_writable
from media import write_video


@pytest.fixture
def blocker(tmp_path: Path) -> Path:
    """A file where a folder would have to be: writing under it is impossible, even for root."""
    path = tmp_path / "a_file"
    path.write_text("not a folder")
    return path


def test_check_writable_probes_without_creating_anything(tmp_path: Path, blocker: Path) -> None:
    assert check_writable(tmp_path / "new" / "deeper", folder=True) == tmp_path / "new" / "deeper"
    assert not (tmp_path / "new").exists() and sorted(p.name for p in tmp_path.iterdir()) == ["a_file"]
    with pytest.raises(InputError, match="a part of the folder path is a file, not a folder"):
        check_writable(blocker / "out", folder=True)
    with pytest.raises(InputError, match="exists and is not a folder"):
        check_writable(blocker, folder=True)
    with pytest.raises(InputError, match="is a folder, not a file name"):
        check_writable(tmp_path, folder=False)


def commands(tmp_path: Path, out: Path) -> dict[str, list[str]]:
    video = write_video(tmp_path / "clip.mp4", 6, size=(48, 32))
    data = tmp_path / "data"
    (data / "A").mkdir(parents=True)
    write_video(data / "A" / "a.mp4", 6, size=(48, 32))
    return {
        "flow": ["flow", str(video), "--method", "farneback", "--out", str(out)],
        "eval": ["eval", str(data), "--checkpoint", str(tmp_path / "none.safetensors"), "--out", str(out)],
        "synth": ["synth", str(out), "--clips-per-class", "1"],
        "train": ["train", str(data), "--out", str(out / "m.safetensors"), "--epochs", "1", "--device", "cpu"],
        "ablate": ["ablate", str(data), "--out", str(out), "--epochs", "1", "--device", "cpu"],
    }


@pytest.mark.parametrize("command", ["flow", "eval", "synth", "train", "ablate"])
def test_an_impossible_output_path_is_one_line_and_exit_2(tmp_path: Path, blocker: Path, capsys: pytest.CaptureFixture[str], command: str) -> None:
    out = blocker / "results"
    argv = commands(tmp_path, out)[command]
    capsys.readouterr()
    assert main.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: {out if command != 'train' else out / 'm.safetensors'}: cannot write: a part of the folder path is a file, not a folder"]
