"""``main.py flow``: .flo files, colour PNGs and metrics.json; the cache; errors as one line."""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from flow_helpers import interior_epe, sequence

import main
from core.flow import read_flo
from core.flow.render import FlowEncoding, flow_to_rgb


def _frames_folder(tmp_path: Path, frames: np.ndarray) -> Path:
    folder = tmp_path / "clip"
    folder.mkdir()
    for i, frame in enumerate(frames):
        cv2.imwrite(str(folder / f"img_{i:04d}.png"), frame[:, :, ::-1])
    return folder


def test_flow_command_writes_flo_png_and_metrics(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    frames, truth = sequence("translate", frames=6, size=64)
    video = _frames_folder(tmp_path, frames)
    out = tmp_path / "out"
    assert main.main(["flow", str(video), "--method", "dis", "--start", "1", "--count", "4", "--out", str(out), "--backward"]) == 0
    assert f"wrote 3 flow fields (dis) to {out}" in capsys.readouterr().out
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted([f"{kind}_{i:06d}.{ext}" for kind in ("frame", "backward") for i in (1, 2, 3) for ext in ("flo", "png")] + ["metrics.json"])
    flow = read_flo(out / "frame_000002.flo")
    assert interior_epe(flow, truth[2]) < 0.15
    assert interior_epe(read_flo(out / "backward_000002.flo"), -truth[2]) < 0.15
    png = cv2.imread(str(out / "frame_000002.png"))[:, :, ::-1]
    np.testing.assert_array_equal(png, flow_to_rgb(flow, FlowEncoding("fixed", 10.0)))
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["method_requested"] == metrics["method_used"] == "dis" and metrics["fell_back"] is False
    assert metrics["frames"] == {"start": 1, "count": 4} and metrics["consistency_checked"] is True
    assert [p["frame"] for p in metrics["pairs"]] == [1, 2, 3]
    assert all(p["noise_score"] < 0.15 and p["inconsistent_share"] is not None for p in metrics["pairs"])
    assert metrics["encoding"] == {"normalization": "fixed", "max_radius": 10.0, "wheel": "middlebury", "radius_used": 10.0}
    assert metrics["cache_hits"] == 0

    # the same range again comes from the cache
    assert main.main(["flow", str(video), "--method", "dis", "--start", "1", "--count", "4", "--out", str(out)]) == 0
    assert json.loads((out / "metrics.json").read_text())["cache_hits"] == 1


def test_flow_command_falls_back_without_raft_weights_and_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    frames, _ = sequence("rotate", frames=3, size=64)
    video = _frames_folder(tmp_path, frames)
    out = tmp_path / "out"
    code = main.main(["flow", str(video), "--method", "raft-large", "--out", str(out), "--no-consistency", "--normalization", "clip", "--max-radius", "0.5"])
    assert code == 0
    text = capsys.readouterr().out
    assert "note: raft-large was asked for but fell back to dis" in text
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["fell_back"] is True and metrics["method_used"] == "dis" and metrics["method_requested"] == "raft-large"
    assert "raft_large_C_T_SKHT_V2-ff5fadd5.pth" in metrics["note"]
    assert metrics["pairs"][0]["fb_error_mean"] is None and metrics["consistency_checked"] is False
    radius = metrics["encoding"]["radius_used"]
    largest = max(np.sqrt((read_flo(out / p["flo"]) ** 2).sum(0)).max() for p in metrics["pairs"])
    assert radius == pytest.approx(float(largest)) and radius > 0.5


@pytest.mark.parametrize(
    "args,problem",
    [
        (["--method", "dis", "--start", "9"], "--start 9 is outside the video's 3 frames"),
        (["--method", "dis", "--count", "1"], "--count must be at least 2"),
        (["--method", "dis", "--start", "2"], "has 1 frame from --start 2 on (3 in all): flow needs a pair of frames"),  # --count was not given
        (["--method", "dis", "--start", "1", "--count", "5"], "run past the video's end"),
        (["--method", "sift"], "unknown flow method 'sift'"),
        (["--method", "dis", "--device", "banana"], "unknown device 'banana'"),  # OpenCV ignores the device; a typo is still an error
    ],
)
def test_flow_command_bad_arguments_are_one_line_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], problem: str) -> None:
    frames, _ = sequence("zoom", frames=3, size=32)
    video = _frames_folder(tmp_path, frames)
    assert main.main(["flow", str(video), "--out", str(tmp_path / "o"), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and problem in err and "\n" not in err


def test_frames_too_small_for_flow_name_the_video(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from core.synth.writer import write_mp4

    video = tmp_path / "tiny.mp4"
    write_mp4(video, np.random.default_rng(0).integers(0, 255, (4, 8, 8, 3), dtype=np.uint8))
    assert main.main(["flow", str(video), "--method", "dis", "--out", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"error: {video}: frames of 8x8 are too small for flow (each side must be >= 16 px)"]
    assert not (tmp_path / "o").exists()


def _listing(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_the_out_folder_is_one_result_or_the_other(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """A rerun with a smaller --count leaves no files of the earlier run; a run that dies midway
    leaves the earlier result untouched; a folder of other files is refused, not emptied."""
    video = _frames_folder(tmp_path, sequence("translate", frames=40, size=48)[0])
    out = tmp_path / "flow"
    assert main.main(["flow", str(video), "--method", "dis", "--count", "6", "--out", str(out)]) == 0
    assert main.main(["flow", str(video), "--method", "farneback", "--count", "3", "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["frame_000000.flo", "frame_000000.png", "frame_000001.flo", "frame_000001.png", "metrics.json"]
    before = _listing(out)
    assert json.loads(before["metrics.json"])["method_used"] == "farneback"

    import core.flow.quality

    real, calls = core.flow.quality.clip_quality, []

    def dies(*args, **kwargs):  # Ctrl+C in the second chunk: the first chunk's files are written by then
        calls.append(1)
        if len(calls) > 1:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(core.flow.quality, "clip_quality", dies)
    assert main.main(["flow", str(video), "--method", "dis", "--out", str(out)]) == 130
    assert len(calls) == 2 and _listing(out) == before  # the earlier result, whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip", "flow"]  # no staging folder left behind
    monkeypatch.undo()

    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("my notes")
    capsys.readouterr()
    assert main.main(["flow", str(video), "--method", "dis", "--count", "2", "--out", str(mine)]) == 2
    assert "--out holds files that are not this command's flow result (e.g. notes.txt)" in capsys.readouterr().err
    assert (mine / "notes.txt").read_text() == "my notes"
    assert out.stat().st_mode & 0o777 == 0o777 & ~_umask()  # a new folder's usual mode, not the staging folder's 0700


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def test_frames_named_as_an_extractor_names_them_are_never_taken_for_an_old_result(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """ffmpeg's usual frame names look like this command's: without its metrics.json they are the user's."""
    frames = sequence("translate", frames=6, size=48)[0]
    folder = tmp_path / "frames"
    folder.mkdir()
    for i, frame in enumerate(frames):
        cv2.imwrite(str(folder / f"frame_{i:06d}.png"), frame[:, :, ::-1])
    before = _listing(folder)
    video = _frames_folder(tmp_path, frames)
    for source in (video, folder):  # another input, and the folder itself as the input
        assert main.main(["flow", str(source), "--method", "dis", "--count", "3", "--out", str(folder)]) == 2
        err = capsys.readouterr().err
        assert "--out holds files that are not this command's flow result" in err or "--out is the input video's own folder" in err
        assert _listing(folder) == before
    assert main.main(["flow", str(folder), "--method", "dis", "--count", "3", "--out", str(folder)]) == 2
    assert "--out is the input video's own folder" in capsys.readouterr().err


def test_a_folder_whose_metrics_json_is_nested_too_deep_is_refused_not_a_crash(tmp_path: Path) -> None:
    from core.commands.flow import check_replaceable
    from core.errors import InputError

    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "metrics.json").write_text("[" * 100000 + "]" * 100000)  # json.loads: RecursionError
    with pytest.raises(InputError, match="not this command's flow result"):
        check_replaceable(folder, tmp_path / "clip.mp4")


def test_a_result_staged_aside_by_a_dead_run_is_put_back(tmp_path: Path) -> None:
    """Killed between the two renames of the swap: the next run finds the old result staged aside
    and the new one half written, restores the old and removes the other."""
    from core.atomic import atomic_folder

    out = tmp_path / "flow"
    old = tmp_path / ".flow.999999.abcdefgh.old"  # pid 999999: no such process
    old.mkdir()
    (old / "metrics.json").write_text("{}")
    partial = tmp_path / ".flow.999999.abcdefgh.partial"
    partial.mkdir()
    (partial / "frame_000000.flo").write_bytes(b"half")
    with atomic_folder(out) as staging:
        assert (out / "metrics.json").read_text() == "{}"  # put back before anything else
        (staging / "metrics.json").write_text('{"new": true}')
    assert sorted(p.name for p in tmp_path.iterdir()) == ["flow"]
    assert (out / "metrics.json").read_text() == '{"new": true}'
