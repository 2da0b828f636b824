"""``bench infer``: warm rows, cold rows (load, warm-up and first clip apart) and whole-video rows with the
per-window path measured beside the shared one in the same run."""

from __future__ import annotations

import numpy as np
import pytest

import main
from core.bench import infer


@pytest.fixture
def small_video(tmp_path):
    from core.synth.writer import write_mp4

    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (72, 96, 3), dtype=np.uint8)
    path = tmp_path / "small.mp4"
    write_mp4(path, np.stack([np.roll(base, 3 * i, axis=1) for i in range(24)]), fps=10, preset="ultrafast")
    return str(path)


def test_tables_with_cold_rows_and_whole_video_ratios(small_video, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(infer, "SHARED_VIDEO", tmp_path / "absent.avi")
    argv = ["bench", "infer", "--video", small_video, "--backbones", "tiny", "--device", "cpu", "--repeats", "1", "--steps", "16,4",
            "--threads", "1"]
    assert main.main(argv) == 0
    out = capsys.readouterr().out
    assert "the real clip" in out and "is not there" in out  # the shared clip is skipped with a message
    cold_header = next(line for line in out.splitlines() if line.startswith("backbone") and "warm-up ms" in line)
    for column in ("load ms", "first clip ms", "warm clip ms", "no warm-up: first clip ms"):
        assert column in cold_header
    video_lines = [line.split() for line in out.splitlines() if line.startswith("tiny") and "small.mp4" in line]
    assert [(row[2], row[5], row[6], row[7]) for row in video_lines] == [("no", "24", "16", "2"), ("no", "24", "4", "3")]
    assert " yes (" not in out  # --compile auto compiles on CUDA only
    assert all(row[-1].endswith("x") and float(row[-1][:-1]) > 0 for row in video_lines)


@pytest.mark.parametrize(("option", "message"), [(["--steps", "four"], "--steps must be"), (["--steps", "0"], "--steps must be"),
                                               (["--whole-video", "resnet9000"], "unknown backbones ['resnet9000'] in --whole-video")])
def test_bad_steps_and_whole_video_backbones_are_one_line_errors_before_measuring(small_video, capsys, option, message):
    argv = ["bench", "infer", "--video", small_video, "--backbones", "tiny", "--device", "cpu", *option]
    assert main.main(argv) == 2
    captured = capsys.readouterr()
    assert message in captured.err and "measured" not in captured.out


def test_the_gpu_targets_are_judged_from_the_rows(capsys) -> None:
    """No GPU here: rows as a CUDA run would make them, judged against the issue's targets."""
    from core.inference import STAGES

    def row(attention: bool, total: float, cold: dict | None = None, compiled: str = "no") -> infer._Row:
        stages = {s: 0.0 for s in STAGES} | {"total": total}
        return infer._Row("mvit_v2_s", "cuda", "random", "raft-large", attention, "auto", stages, cold, compiled)

    cold = {"load": 900.0, "warm_up": 1500.0, "first": 70.0, "first_unwarmed": 1600.0, "load_unwarmed": 900.0}
    rows = [row(False, 55.0, cold), row(True, 120.0), row(False, 40.0, compiled="yes (61 s)"), row(True, 90.0, compiled="yes (61 s)")]
    for r in rows:
        print("\n".join(infer._target_lines(r)))
    infer._print_clip_table(rows)
    infer._print_cold_table(rows)
    infer._print_video_table([infer._VideoRow("mvit_v2_s", "cuda", "raft-large", "sample.mp4", 125, 16, 8, 300.0, 400.0, 450.0)])
    out = capsys.readouterr().out
    assert "no attention maps, GPU < 60 ms: met (55 ms, auto, eager" in out
    assert "attention maps, GPU < 100 ms: NOT met (120 ms, auto, eager" in out
    assert "attention maps, GPU < 100 ms: met (90 ms, auto, compiled" in out
    compiled_rows = [line.split() for line in out.splitlines() if line.startswith("mvit_v2_s") and "(61 s)" in line]
    assert [row[-1] for row in compiled_rows] == ["0.73x", "0.75x"]  # against the eager row of the same run
    assert "<= 1.5x a warm one (eager): met (1.27x)" in out
    assert ">= 500 frames/s: NOT met (450 frames/s" in out
    video_row = next(line.split() for line in out.splitlines() if line.startswith("mvit_v2_s") and "sample.mp4" in line)
    assert video_row[-2:] == ["1.50x", "1.12x"]  # shared against per window; reading ahead against not


def test_a_gpu_row_whose_flow_is_not_the_targets_is_not_judged(capsys) -> None:
    """RAFT-large that fell back to DIS (its weights missing on the lent GPU), or another --cuda-flow, measures
    another pipeline: the target lines say so instead of "met" for a figure the target never named."""
    from core.bench import extract
    from core.inference import STAGES

    fell_back = "dis (fell back from raft-large)"
    stages = {s: 0.0 for s in STAGES} | {"total": 30.0}
    cold = {"load": 900.0, "warm_up": 1500.0, "first": 31.0, "first_unwarmed": 1600.0, "load_unwarmed": 900.0}
    for attention in (False, True):
        print("\n".join(infer._target_lines(infer._Row("mvit_v2_s", "cuda", "random", fell_back, attention, "auto", stages, None if attention else cold))))
    print("\n".join(infer._target_lines(infer._Row("mvit_v2_s", "cpu", "random", "raft-small", False, "auto", stages))))
    infer._print_video_table([infer._VideoRow("mvit_v2_s", "cuda", fell_back, "sample.mp4", 125, 16, 8, 900.0, 900.0, 900.0)])
    extract._print_table([extract._Row("mvit_v2_s", "cuda", "dis", "synthetic", 48, 1, 1, "shared, 4 workers", 90.0, 3.0, 0.0)])
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("target:")]
    assert len(lines) == 6 and not any(": met" in line or "NOT met" in line for line in lines)
    assert sum(f"not judged (flow {fell_back}, the target's is raft-large)" in line for line in lines) == 4
    assert "not judged (flow raft-small, the target's is dis)" in lines[3]
    assert "not judged (flow dis, the target's is raft-large)" in lines[5]
    print("\n".join(infer._target_lines(infer._Row("mvit_v2_s", "cuda", "random", "RAFT_large", False, "auto", stages))))
    assert "RAFT-large, no attention maps, GPU < 60 ms: met (30 ms" in capsys.readouterr().out  # a name spelt otherwise is the same method


def test_a_failed_cold_start_keeps_the_warm_rows_and_their_verdicts_are_printed_as_measured(small_video, tmp_path, monkeypatch, capsys):
    """On the lent GPU every step has a time limit: a verdict printed only with the final tables was lost
    when the step ran out, and one failed fresh process ended the whole run."""
    from core.errors import InputError

    def failing_child(arguments):  # noqa: ANN001, ANN202
        raise InputError(f"the cold-start run of {arguments[0]} on {arguments[1]} failed: CUDA error: out of memory")

    monkeypatch.setattr(infer, "SHARED_VIDEO", tmp_path / "absent.avi")
    monkeypatch.setattr(infer, "_run_cold_child", failing_child)
    argv = ["bench", "infer", "--video", small_video, "--backbones", "tiny", "--device", "cpu", "--repeats", "1", "--whole-video", "none",
            "--threads", "1"]
    assert main.main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any("no cold figures: the cold-start run of tiny on cpu failed: CUDA error: out of memory" in line for line in lines)
    verdict = next(n for n, line in enumerate(lines) if line.startswith("target: tiny model end to end with attention, CPU < 500 ms"))
    first_table = next(n for n, line in enumerate(lines) if line.startswith("backbone"))
    assert verdict < first_table  # printed as soon as its row was measured
    assert not any("warm-up ms" in line for line in lines)  # no cold table without cold figures
