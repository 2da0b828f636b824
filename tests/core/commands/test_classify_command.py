"""``main.py classify``: text and JSON output, and clear errors for bad input."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

import main
from core.models import build_model, save_checkpoint
from core.models.transformer.config import TransformerConfig


@pytest.fixture(autouse=True)
def _seeded(monkeypatch):
    monkeypatch.setenv("TWOSTREAM_OFFLINE", "1")
    torch.manual_seed(0)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    from core.synth.writer import write_mp4

    folder = tmp_path_factory.mktemp("classify")
    rng = np.random.default_rng(0)
    frames = np.stack([np.roll(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8), i, axis=1) for i in range(24)])
    write_mp4(folder / "clip.mp4", frames, fps=10, preset="ultrafast")
    torch.manual_seed(0)
    config = TransformerConfig.create(
        backbone="tiny",
        class_names=[f"action{i}" for i in range(7)],
        backbone_options={"dim": 16},
        input_size=32,
        clip_length=8,
        fusion={"heads": 2, "head_dim": 8, "depth": 1},
        flow_method="raft-small",  # without RAFT weights in the hub cache it falls back to DIS, and says so
    )
    save_checkpoint(folder / "model.safetensors", build_model(config))
    return SimpleNamespace(video=str(folder / "clip.mp4"), checkpoint=str(folder / "model.safetensors"), folder=folder)


def test_json_output_for_one_clip(files, capsys):
    code = main.main(["classify", files.video, "--checkpoint", files.checkpoint, "--start", "10", "--device", "cpu", "--json"])
    out = capsys.readouterr().out
    assert code == 0
    result = json.loads(out)
    assert result["video"] == files.video and result["checkpoint"] == files.checkpoint
    assert result["device"] == "cpu"
    # the hub cache is empty in tests: RAFT falls back to DIS, and the output says so and why
    assert result["flow"]["method"] == "dis" and result["flow"]["requested"] == "raft-small"
    assert result["flow"]["fell_back"] is True and "RAFT-small weights are not available" in result["flow"]["note"]
    assert result["clips"] == [{"start": 10, "frames": list(range(10, 18)), "padded": 0}]
    probs = [item["prob"] for item in result["top"]]
    assert len(probs) == 5 and probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1.0 + 1e-6
    assert {item["label"] for item in result["top"]} <= {f"action{i}" for i in range(7)}
    assert {"decode", "flow", "rgb_backbone", "flow_backbone", "fusion", "total"} <= set(result["timing_ms"])


def test_text_output_and_windows(files, capsys):
    assert main.main(["classify", files.video, "--checkpoint", files.checkpoint, "--windows", "3", "--device", "cpu"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "3 clips averaged (starts 2, 8, 14)" in out[0] and "; flow " in out[0] and "; device cpu" in out[0]
    assert [line.split()[0] for line in out[1:6]] == ["1.", "2.", "3.", "4.", "5."]
    assert out[-1].startswith("time: decode")


def test_text_output_says_when_the_clip_runs_past_the_videos_end(files, capsys):
    assert main.main(["classify", files.video, "--checkpoint", files.checkpoint, "--start", "20", "--device", "cpu"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert "clip at frame 20 (frames 20..23), of which the last 4 of 8 repeat frame 23 (the video ends)" in first
    assert main.main(["classify", files.video, "--checkpoint", files.checkpoint, "--start", "10", "--device", "cpu"]) == 0
    assert "repeat" not in capsys.readouterr().out  # a whole clip says nothing of padding


def test_default_clip_is_the_centred_one(files, capsys):
    assert main.main(["classify", files.video, "--checkpoint", files.checkpoint, "--device", "cpu", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["clips"][0]["start"] == 8  # (24 - 8) / 2


def test_bad_input_is_one_error_line_and_exit_2(files, capsys, monkeypatch, tmp_path):
    def fails(*argv):
        assert main.main(["classify", *argv]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and "\n" not in err
        return err

    assert "outside the video's 24 frames" in fails(files.video, "--checkpoint", files.checkpoint, "--start", "24")
    assert "not both" in fails(files.video, "--checkpoint", files.checkpoint, "--start", "1", "--windows", "2")
    # once hours of identical clips: a count is bounded by what the video holds
    assert "--windows 100000 asks for more clips than the video's 24 frames hold: at most 17 different clips of 8 frames" in fails(
        files.video, "--checkpoint", files.checkpoint, "--windows", "100000")
    assert "file does not exist" in fails(files.video, "--checkpoint", str(tmp_path / "none.safetensors"))
    pickled = tmp_path / "model.pt"
    torch.save({"w": torch.zeros(1)}, pickled)
    assert "PyTorch pickle" in fails(files.video, "--checkpoint", str(pickled))
    missing = str(tmp_path / "raft.pth")  # the model's flow is no RAFT: the typo was ignored
    assert f"{missing}: --raft-weights: no such file" in fails(files.video, "--checkpoint", files.checkpoint, "--raft-weights", missing)
    monkeypatch.setattr("core.resources.DEMO_CHECKPOINT", tmp_path / "demo_model.safetensors")
    assert "the bundled demo model is missing" in fails(files.video)
    assert fails(str(tmp_path / "missing.mp4"), "--checkpoint", files.checkpoint)


RAFT_SMALL = Path("../shared/weights/raft-small.pth")


@pytest.mark.skipif(not RAFT_SMALL.exists(), reason="the shared RAFT-small weights (../shared/weights) are absent")
def test_raft_weights_option_runs_the_checkpoints_flow_method(files, capsys):
    argv = ["classify", files.video, "--checkpoint", files.checkpoint, "--start", "0", "--json", "--raft-weights", str(RAFT_SMALL)]
    assert main.main(argv) == 0
    flow = json.loads(capsys.readouterr().out)["flow"]
    assert flow["method"] == "raft-small" and flow["fell_back"] is False


def test_load_and_warm_up_are_reported_apart_from_the_clips_time(files, capsys):
    argv = ["classify", files.video, "--checkpoint", files.checkpoint, "--start", "4", "--device", "cpu", "--json"]
    assert main.main(argv) == 0
    plain = json.loads(capsys.readouterr().out)
    assert plain["startup_ms"]["load"] > 0 and plain["startup_ms"]["warm_up"] is None  # auto: no warm-up on a CPU
    assert main.main([*argv, "--warm-up", "yes"]) == 0
    warmed = json.loads(capsys.readouterr().out)
    assert warmed["startup_ms"]["load"] > 0 and warmed["startup_ms"]["warm_up"] > 0
    timing = warmed["timing_ms"]
    assert "load" not in timing and "warm_up" not in timing
    assert timing["total"] == pytest.approx(sum(v for k, v in timing.items() if k != "total"), abs=0.05)
    assert warmed["top"] == plain["top"]  # the warm-up changes nothing but the time
    assert main.main(["classify", files.video, "--checkpoint", files.checkpoint, "--device", "cpu", "--warm-up", "yes"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-2].startswith("startup (not in the clip's time): model load ") and " ms, warm-up " in lines[-2]
    assert not lines[-2].endswith("skipped") and lines[-1].startswith("time: decode")


def test_compile_on_reports_what_it_compiled_and_gives_the_same_labels(files, capsys, monkeypatch):
    import torch

    from core.inference import compiled

    built: list[str] = []
    real_init = compiled.CompiledModule.__init__

    def counted_backend(self, module, name, device, **kwargs):  # noqa: ANN001, ANN202 - inductor would take minutes on two cores
        built.append(name)
        real_init(self, module, name, device, backend=lambda graph, _inputs: graph.forward)

    monkeypatch.setattr(compiled.CompiledModule, "__init__", counted_backend)
    torch._dynamo.reset()
    argv = ["classify", files.video, "--checkpoint", files.checkpoint, "--start", "4", "--device", "cpu", "--json"]
    assert main.main(argv) == 0
    plain = json.loads(capsys.readouterr().out)
    assert plain["compiled"] is None and plain["startup_ms"]["compile"] is None and built == []  # off by default
    assert main.main([*argv, "--compile", "on"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert sorted(built) == ["flow_backbone", "rgb_backbone"] and result["startup_ms"]["compile"] > 0
    assert result["compiled"] == {"modules": {"rgb_backbone": [1], "flow_backbone": [1]}, "note": ""}  # a CPU batch is one clip
    assert result["top"] == plain["top"]
    monkeypatch.setattr("core.inference.classifier.compile_unavailable", lambda device: "no C++ compiler on PATH")
    assert main.main(["classify", files.video, "--checkpoint", files.checkpoint, "--device", "cpu", "--compile", "on"]) == 0
    assert "compile: runs eager: no C++ compiler on PATH" in capsys.readouterr().out
    torch._dynamo.reset()
