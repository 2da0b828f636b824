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


def test_a_staged_folder_needs_the_folder_that_holds_it_writable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``flow --out parent/out``: the result is written beside ``out`` and swapped in, so a read-only ``parent``
    failed after the work (a PermissionError's traceback line); now it is refused first."""
    import tempfile

    from core.export import target as target_module

    out = tmp_path / "parent" / "out"
    out.mkdir(parents=True)
    real = tempfile.TemporaryFile

    def read_only_parent(*args, dir=None, **kwargs):  # noqa: ANN002, ANN003, ANN202, A002
        if Path(dir) == out.parent:
            raise PermissionError(13, "Permission denied")
        return real(*args, dir=dir, **kwargs)

    monkeypatch.setattr(target_module.tempfile, "TemporaryFile", read_only_parent)
    assert check_writable(out, folder=True) == out  # filled in place: the parent does not matter
    with pytest.raises(InputError, match=r"out: cannot write: permission denied in the folder that holds it"):
        check_writable(out, folder=True, staged=True)


def test_a_flow_out_that_is_a_link_is_written_through_and_a_dangling_one_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    video = write_video(tmp_path / "clip.mp4", 3, size=(48, 32))
    (tmp_path / "real").mkdir()
    link = tmp_path / "link"
    link.symlink_to("real")
    for _ in range(2):  # the second run replaces the first's result
        assert main.main(["flow", str(video), "--method", "farneback", "--out", str(link)]) == 0
    assert link.is_symlink() and sorted(p.name for p in (tmp_path / "real").glob("*.png")) == ["frame_000000.png", "frame_000001.png"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4", "link", "real"]  # no staged folder or link left
    dangling = tmp_path / "dangling"
    dangling.symlink_to("nowhere")
    capsys.readouterr()
    assert main.main(["flow", str(video), "--method", "farneback", "--out", str(dangling)]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [f"error: {dangling}: is a link to nowhere, which does not exist"]


def test_long_names_are_written_or_refused_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The staging folder ``.<name>.<pid>.<random>.partial`` went past 255 bytes for a 240-byte ``--out``
    (exit 1, "File name too long"); a name past 255 bytes itself is refused before any work."""
    import os

    video = write_video(tmp_path / "clip.mp4", 3, size=(48, 32))
    out = tmp_path / ("é" * 120)  # 240 bytes
    assert main.main(["flow", str(video), "--method", "farneback", "--out", str(out)]) == 0
    assert len(list(out.glob("*.flo"))) == 2 and sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4", out.name]
    capsys.readouterr()
    too_long = tmp_path / ("o" * 256)
    assert main.main(["flow", str(video), "--method", "farneback", "--out", str(too_long)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].endswith("is 256 bytes long (at most 255)") and not os.path.exists(too_long)


def test_names_that_are_not_utf8_are_read_and_written(tmp_path: Path) -> None:
    """OpenCV's own file calls crashed the process (exit 139) on such names; images go through Python now."""
    import os
    import subprocess
    import sys

    if sys.platform == "darwin":
        pytest.skip("macOS file systems refuse names that are not UTF-8")
    folder = os.fsencode(tmp_path)
    video = folder + b"/caf\xe9.mp4"
    write_video(Path(os.fsdecode(video)), 3, size=(48, 32))
    out = folder + b"/out_caf\xe9"
    repo = Path(main.__file__).resolve().parent
    run = subprocess.run([sys.executable, str(repo / "main.py"), "flow", video, "--method", "farneback", "--out", out],
                         capture_output=True, cwd=tmp_path, timeout=120)
    assert run.returncode == 0, run.stderr.decode(errors="replace")[-300:]
    written = sorted(os.listdir(out))
    assert written == [b"frame_000000.flo", b"frame_000000.png", b"frame_000001.flo", b"frame_000001.png", b"metrics.json"]
    assert sorted(os.listdir(folder)) == [b"caf\xe9.mp4", b"out_caf\xe9"]  # nothing staged left behind


@pytest.mark.parametrize("command", ["flow", "eval", "train", "ablate"])
def test_an_empty_out_is_refused_not_taken_for_the_default(tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # where a default output would go
    argv = commands(tmp_path, tmp_path / "unused")[command]
    argv[argv.index("--out") + 1] = ""
    capsys.readouterr()
    assert main.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].endswith("argument --out: is empty: give a path, or leave the option out for the default")


@pytest.mark.parametrize("command, option", [
    ("train", "--cache-dir"),  # the token cache went into the current folder: dozens of hash-named folders there
    ("ablate", "--cache-dir"),
    ("train", "--split-dir"),  # split files were looked for in the current folder
    ("eval", "--split-dir"),
    ("eval", "--checkpoint"),  # ".: is a directory"
    ("classify", "--checkpoint"),
    ("train", "--videos"),
    ("train", "--backbone-weights"),
    ("flow", "--raft-weights"),
])
def test_an_empty_path_option_is_refused_not_taken_for_the_current_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                                          monkeypatch: pytest.MonkeyPatch, command: str, option: str) -> None:
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    argv = {**commands(tmp_path, tmp_path / "unused"), "classify": ["classify", str(tmp_path / "clip.mp4")]}[command]
    capsys.readouterr()
    assert main.main([*argv, option, ""]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].endswith(f"argument {option}: is empty: give a path, or leave the option out for the default")
    assert list(work.iterdir()) == [] and not (tmp_path / "unused").exists()


@pytest.mark.parametrize("argv, option", [
    (["view", "--checkpoint", ""], "--checkpoint"),  # said "error: file does not exist" and named no file
    (["view", "--raft-weights", ""], "--raft-weights"),
    (["view", "--dataset", ""], "--dataset"),  # the current folder listed as a dataset
    (["view", ""], "VIDEO"),  # the current folder opened as a folder of frames
    ([""], "VIDEO"),  # `main.py ""` is `main.py view ""`
])
def test_the_viewer_refuses_an_empty_path_before_a_window_opens(capsys: pytest.CaptureFixture[str], argv: list[str], option: str) -> None:
    capsys.readouterr()
    assert main.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].endswith(f"argument {option}: is empty: give a path, or leave the option out for the default")


@pytest.mark.parametrize("option", ["--recipe", "--model", "--backbone", "--variant", "--flow"])
def test_an_empty_named_choice_is_refused_not_taken_for_the_default(tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str) -> None:
    argv = commands(tmp_path, tmp_path / "unused")["train"]
    capsys.readouterr()
    assert main.main([*argv, option, ""]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].endswith(f"argument {option}: is empty: give a name, or leave the option out for the default")
    assert not (tmp_path / "unused").exists()
