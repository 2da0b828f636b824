"""Bad options of ``train``, ``ablate`` and ``eval``: one ``error:`` line naming the option, exit 2,
no traceback and no warning, before any video is read or any model trained."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

import pytest

import main
from core.commands import train as train_command
from core.commands.options import MAX_CLIPS_PER_VIDEO
from core.synth import generate_dataset
from paths import REPO

TINY = ["--epochs", "1", "--tiny-dim", "16", "--heads", "2", "--head-dim", "8", "--depth", "1", "--input-size", "32",
        "--clip-length", "8", "--device", "cpu"]
COMMANDS = ("train", "ablate")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("validation")
    generate_dataset(root / "synth", clips_per_class=2, size=32, frames=20, seed=1)
    return SimpleNamespace(root=root, synth=root / "synth")


def command_line(command: str, data, tmp_path: Path, *extra: str) -> list[str]:
    out = tmp_path / ("model.safetensors" if command == "train" else "ablation")
    return [command, str(data.synth), "--out", str(out), *TINY, *extra]


def refused(argv: list[str], capsys) -> str:
    """Run ``argv``; it must exit 2 with exactly one ``error:`` line on stderr, which is returned."""
    code = main.main(argv)
    captured = capsys.readouterr()
    assert code == 2, captured.err
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), captured.err
    assert "Traceback" not in captured.err and "Warning" not in captured.err
    return lines[0]


def no_work_done(tmp_path: Path) -> None:
    assert not (tmp_path / "model.safetensors").exists() and not (tmp_path / "ablation").exists()


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("value", ["nan", "inf", "-1e-4"])
def test_weight_decay_must_be_finite_and_not_negative(command, value, data, tmp_path, capsys):
    line = refused(command_line(command, data, tmp_path, f"--weight-decay={value}", "--cache-dir", str(tmp_path / "c")), capsys)
    assert "--weight-decay" in line and value in line
    assert not (tmp_path / "c").exists()  # refused before any token was extracted


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "0", "-2e-4"])
def test_lr_must_be_finite_and_positive(command, value, data, tmp_path, capsys):
    line = refused(command_line(command, data, tmp_path, f"--lr={value}", "--cache-dir", str(tmp_path / "c")), capsys)
    assert "--lr" in line and value in line
    assert not (tmp_path / "c").exists()


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("option", ["--lr", "--weight-decay"])
def test_a_finite_value_past_float32_is_refused_before_any_work(command, option, data, tmp_path, capsys):
    """1e39 is finite but no float32: torch failed at the first optimiser step ("value cannot be converted to
    type float without overflow", exit 1) after the tokens were extracted."""
    line = refused(command_line(command, data, tmp_path, f"{option}=1e39", "--cache-dir", str(tmp_path / "c")), capsys)
    assert line.endswith(f"argument {option}: must be at most 3.4e+38 (the optimiser computes in float32), got 1e39")
    assert not (tmp_path / "c").exists()


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("option, value, problem", [
    # 100000 was taken: each training sample stacked that many windows (the run never came back)
    ("--snippets", "100000", "snippets must be an integer from 1 to 250, got 100000"),
    # 0 silently trained the default width (16) while -1 was refused
    ("--tiny-width", "0", "argument --tiny-width: must be at least 1, got 0"),
])
def test_convnet_counts_out_of_range_are_refused(command, option, value, problem, data, tmp_path, capsys):
    out = tmp_path / ("model.safetensors" if command == "train" else "ablation")
    argv = [command, str(data.synth), "--out", str(out), "--model", "convnet", "--epochs", "1", "--device", "cpu",
            option, value, "--cache-dir", str(tmp_path / "c")]
    assert refused(argv, capsys).endswith(problem)
    no_work_done(tmp_path)


def test_weight_decay_zero_and_a_small_lr_are_accepted():
    args = train_command._train_parser().parse_args(["data", "--out", "x.safetensors", "--lr", "1e-3", "--weight-decay", "0"])
    assert (args.lr, args.weight_decay) == (1e-3, 0.0)


@pytest.mark.parametrize("command", COMMANDS)
def test_a_huge_lr_stops_with_the_loss_error_and_no_warning(command, data, tmp_path):
    """A finite lr too large to train stops at the non-finite loss: exit 2, one line, no torch warning (in a
    fresh process: torch warns of a tensor-to-float conversion once per process)."""
    argv = command_line(command, data, tmp_path, "--lr", "1e10", "--cache-dir", str(tmp_path / "c"))
    if command == "ablate":
        argv += ["--variants", "fusion"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TWOSTREAM_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, str(REPO / "main.py"), *argv], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    messages = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert messages == ["error: the training loss became nan at epoch 1: lower the learning rate (--lr)"], done.stderr
    assert "Warning" not in done.stderr and "Traceback" not in done.stderr, done.stderr


@pytest.mark.parametrize("command", COMMANDS)
def test_cache_dir_that_is_a_file(command, data, tmp_path, capsys):
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder")
    line = refused(command_line(command, data, tmp_path, "--cache-dir", str(a_file)), capsys)
    assert line.startswith(f"error: --cache-dir {a_file}:") and "not a folder" in line
    line = refused(command_line(command, data, tmp_path, "--cache-dir", str(a_file / "tokens")), capsys)
    assert line.startswith(f"error: --cache-dir {a_file / 'tokens'}:")
    no_work_done(tmp_path)


@pytest.mark.parametrize("command", COMMANDS)
def test_cache_dir_on_a_read_only_file_system(command, data, tmp_path, capsys, monkeypatch):
    folder = tmp_path / "read-only"
    real = tempfile.TemporaryFile

    def read_only(*args, **kwargs):  # as on a read-only mount (root ignores chmod)
        if Path(kwargs.get("dir") or ".").resolve() == folder.resolve():
            raise OSError(errno.EROFS, os.strerror(errno.EROFS))
        return real(*args, **kwargs)

    monkeypatch.setattr(tempfile, "TemporaryFile", read_only)
    line = refused(command_line(command, data, tmp_path, "--cache-dir", str(folder)), capsys)
    assert line.startswith(f"error: --cache-dir {folder}:") and "Read-only file system" in line
    no_work_done(tmp_path)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root writes into read-only folders")
def test_cache_dir_without_write_permission(data, tmp_path, capsys):
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        line = refused(command_line("train", data, tmp_path, "--cache-dir", str(folder)), capsys)
    finally:
        folder.chmod(0o755)
    assert line.startswith(f"error: --cache-dir {folder}:")


@pytest.mark.parametrize("command", COMMANDS)
def test_clips_per_video_has_an_upper_bound(command, data, tmp_path, capsys):
    line = refused(command_line(command, data, tmp_path, "--clips-per-video", "100000"), capsys)
    assert "--clips-per-video" in line and str(MAX_CLIPS_PER_VIDEO) in line and "100000" in line
    line = refused(command_line(command, data, tmp_path, "--clips-per-video", "0"), capsys)
    assert "--clips-per-video" in line
    no_work_done(tmp_path)


def test_clips_per_video_up_to_the_bound_is_accepted():
    args = train_command._train_parser().parse_args(["data", "--out", "x.safetensors", "--clips-per-video", str(MAX_CLIPS_PER_VIDEO)])
    assert args.clips_per_video == MAX_CLIPS_PER_VIDEO


@pytest.fixture(scope="module")
def checkpoint(data):
    out = data.root / "trained.safetensors"
    assert main.main(["train", str(data.synth), "--out", str(out), *TINY, "--cache-dir", str(data.root / "cache")]) == 0
    return out


@pytest.mark.parametrize("command", ["train", "eval"])
def test_a_negative_seed_names_the_option(command, data, checkpoint, tmp_path, capsys):
    if command == "eval":
        argv = ["eval", str(data.synth), "--checkpoint", str(checkpoint), "--out", str(tmp_path / "eval"), "--device", "cpu"]
    else:
        argv = command_line("train", data, tmp_path)
    line = refused([*argv, "--seed", "-1"], capsys)
    assert "--seed" in line and "must be 0 or more, got -1" in line and "checkpoint" not in line
    assert not (tmp_path / "eval").exists()


def test_a_checkpoint_with_no_training_state_beside_it_is_not_overwritten(data, tmp_path, capsys):
    """train --out naming a checkpoint kept on its own (a copy of the demo model, another run's best epoch) overwrote
    it after the first epoch; it is refused before any work, and --fresh replaces it."""
    out = tmp_path / "model.safetensors"
    kept = (REPO / "resources" / "demo_model.safetensors").read_bytes()
    out.write_bytes(kept)
    argv = command_line("train", data, tmp_path, "--cache-dir", str(tmp_path / "c"))
    assert refused(argv, capsys) == (f"error: {out}: exists, with no training state beside it (model.train-state.safetensors) to "
                                     "resume: training would overwrite it; give another --out, or pass --fresh to replace it")
    assert out.read_bytes() == kept
    assert main.main([*argv, "--fresh"]) == 0
    assert out.read_bytes() != kept and (tmp_path / "model.train-state.safetensors").is_file()
