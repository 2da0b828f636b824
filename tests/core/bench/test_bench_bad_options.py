"""Bad ``bench`` options: one ``error:`` line naming the option or file, exit code 2, before anything is measured.

Each case was found by a sweep: a traceback (exit 1), a cold child's whole traceback printed before the
error, or a bad value quietly replaced by a default (exit 0).  Nothing here measures: every target's
work is replaced by a function that fails the test if it is reached.
"""

from __future__ import annotations

import importlib
import subprocess
from pathlib import Path

import numpy as np
import pytest

import main
from core.bench import flow, infer
from core.errors import InputError


def _never(*_args, **_kwargs):  # noqa: ANN002, ANN003, ANN202
    raise AssertionError("measured: the bad option was not refused first")


@pytest.fixture
def no_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every target's measuring entry point fails the test if it is reached."""
    monkeypatch.setattr(infer, "_measure", _never)
    monkeypatch.setattr(infer, "_run_cold_child", _never)
    monkeypatch.setattr(flow, "_time_method", _never)
    monkeypatch.setattr(importlib.import_module("core.models.repflow.predict"), "RepFlowClassifier", _never)
    monkeypatch.setattr(importlib.import_module("viewer.bench.ui"), "run", _never)


@pytest.fixture
def small_video(tmp_path: Path) -> str:
    from core.synth.writer import write_mp4

    rng = np.random.default_rng(0)
    path = tmp_path / "small.mp4"
    write_mp4(path, rng.integers(0, 255, (24, 48, 64, 3), dtype=np.uint8), fps=10, preset="ultrafast")
    return str(path)


@pytest.fixture
def bad_files(tmp_path: Path) -> dict[str, str]:
    """A random-bytes "video", an audio-only file and a text file named like a checkpoint."""
    import av

    noise = tmp_path / "x.mp4"
    noise.write_bytes(np.random.default_rng(1).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    audio = tmp_path / "audio.mp4"
    with av.open(str(audio), "w") as container:
        stream = container.add_stream("aac", rate=8000)
        stream.layout = "mono"
        for i in range(4):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), dtype=np.float32), format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 8000, i * 1024
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    text = tmp_path / "some_text_file.pth"
    text.write_text("not a checkpoint\n")
    return {"noise": str(noise), "audio": str(audio), "text": str(text), "missing": str(tmp_path / "absent.safetensors")}


def _refused(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main.main(argv) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], captured.err
    assert "Traceback" not in captured.out + captured.err


@pytest.mark.parametrize(("option", "message"), [
    (["--repeats", "0"], "argument --repeats: must be at least 1, got 0"),
    (["--threads", "0"], "argument --threads: must be at least 1, got 0"),
    (["--threads", "-1"], "argument --threads: must be at least 1, got -1"),
    (["--cpu-flow", "bogus"], "--cpu-flow: unknown flow method 'bogus'"),
    (["--cuda-flow", "dis,tvl1"], "--cuda-flow takes one flow method"),
])
def test_bench_infer_refuses_bad_values(no_work, small_video, capsys, option, message) -> None:
    _refused(["bench", "infer", "--video", small_video, "--backbones", "tiny", "--device", "cpu", *option], message, capsys)


@pytest.mark.parametrize(("kind", "message"), [("missing", "file does not exist"), ("noise", "x.mp4: "), ("audio", "audio.mp4: ")])
def test_bench_infer_refuses_a_video_it_cannot_open_before_any_cold_child(no_work, bad_files, capsys, kind, message) -> None:
    path = bad_files["missing"].replace(".safetensors", ".mp4") if kind == "missing" else bad_files[kind]
    _refused(["bench", "infer", "--video", path, "--backbones", "tiny", "--device", "cpu"], message, capsys)


def test_a_failed_cold_child_is_reported_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    trace = ('Traceback (most recent call last):\n  File "<string>", line 1, in <module>\n  File "core/bench/infer.py", line 9, in cold_child\n'
             "RuntimeError: CUDA error: out of memory\n")
    monkeypatch.setattr(subprocess, "run", lambda *_a, **_k: subprocess.CompletedProcess([], 1, "", trace))
    with pytest.raises(InputError) as caught:
        infer._run_cold_child(["tiny", "cpu", "dis", "auto", "v.mp4", 0, True, False])
    assert str(caught.value) == "the cold-start run of tiny on cpu failed: RuntimeError: CUDA error: out of memory"


@pytest.mark.parametrize(("option", "message"), [
    (["--frames", "0"], "argument --frames: must be at least 3, got 0"),
    (["--frames", "1"], "argument --frames: must be at least 3, got 1"),
    (["--frames", "-5"], "argument --frames: must be at least 3, got -5"),
    (["--repeats", "0"], "argument --repeats: must be at least 1, got 0"),
    (["--repeats", "-1"], "argument --repeats: must be at least 1, got -1"),
    (["--methods", "dis,dis"], "--methods names dis twice"),
    (["--methods", "dis,bogus"], "--methods: unknown flow method 'bogus'"),
])
def test_bench_flow_refuses_bad_values(no_work, capsys, option, message) -> None:
    _refused(["bench", "flow", "--methods", "dis", "--device", "cpu", "--no-gt", *option], message, capsys)


def test_bench_flow_refuses_more_frames_than_the_clip_has(no_work, small_video, monkeypatch, capsys) -> None:
    monkeypatch.setattr(flow, "SHARED_CLIP", Path(small_video))
    _refused(["bench", "flow", "--methods", "dis", "--device", "cpu", "--no-gt", "--frames", "100000"],
             "--frames 100000 is more than the clip has: small.mp4 has 24 frames", capsys)


def test_bench_flow_refuses_more_frames_than_it_generates(monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(flow, "SHARED_CLIP", tmp_path / "absent.mkv")
    with pytest.raises(InputError, match=f"at most {flow.GENERATED_MAX_FRAMES}"):
        flow._real_clip(flow.GENERATED_MAX_FRAMES + 1)


@pytest.mark.parametrize(("option", "message"), [
    (["--clips", "0"], "argument --clips: must be at least 1, got 0"),
    (["--input-size", "0"], "argument --input-size: must be at least 1, got 0"),
    (["--input-size", "8"], "--input-size: input_size must be an integer from 16 to 1024, got 8"),
    (["--flows", "abc"], "--flows: unknown flow method 'abc'"),
    (["--count", "0"], "argument --count: must be at least 1, got 0"),
    (["--count", "-1"], "argument --count: must be at least 1, got -1"),
    (["--threads", "0"], "argument --threads: must be at least 1, got 0"),
])
def test_bench_repflow_refuses_bad_values(no_work, small_video, capsys, option, message) -> None:
    _refused(["bench", "repflow", "--videos", small_video, "--backbone", "resnet18", *option], message, capsys)


@pytest.mark.parametrize(("option", "message"), [
    (["--interval-ms", "0"], "argument --interval-ms: must be a number above 0, got 0"),
    (["--limit-s", "-1"], "argument --limit-s: must be a number above 0, got -1"),
    (["--overlap-busy", "-2"], "argument --overlap-busy: must be 0 or more, got -2"),
    (["--flow-methods", "dis,bogus"], "--flow-methods: unknown flow method 'bogus'"),
])
def test_bench_ui_refuses_bad_values_before_a_window_opens(no_work, small_video, capsys, option, message) -> None:
    _refused(["bench", "ui", "--video", small_video, *option], message, capsys)


@pytest.mark.parametrize(("kind", "message"), [("text", "some_text_file.pth: "), ("missing", "absent.safetensors: file does not exist")])
def test_bench_ui_refuses_a_checkpoint_it_cannot_read_instead_of_timing_a_stand_in(no_work, small_video, bad_files, capsys, kind,
                                                                                    message) -> None:
    _refused(["bench", "ui", "--video", small_video, "--checkpoint", bad_files[kind], "--limit-s", "5"], message, capsys)
