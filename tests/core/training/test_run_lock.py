"""One training run per checkpoint: two runs into one ``--out`` both reported "done" with their own best epoch,
while the file held whichever wrote last.  A second run is now refused in one line; a dead run blocks nothing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import main
from core.errors import InputError
from core.synth import generate_dataset
from core.training.run_lock import lock_path, training_lock

TINY = ["--epochs", "1", "--tiny-dim", "16", "--heads", "2", "--head-dim", "8", "--depth", "1", "--input-size", "32",
        "--clip-length", "8", "--device", "cpu"]

pytestmark = pytest.mark.skipif(os.name != "posix", reason="advisory file locks (fcntl)")


def test_a_second_run_into_the_same_checkpoint_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    generate_dataset(tmp_path / "synth", clips_per_class=2, size=32, frames=20, seed=1)
    out = tmp_path / "model.safetensors"
    with training_lock(out):  # a run in progress
        assert main.main(["train", str(tmp_path / "synth"), "--out", str(out), *TINY]) == 2
        assert capsys.readouterr().err.strip().splitlines() == [
            f"error: {out}: another training run (process {os.getpid()}) is writing this checkpoint: wait for it to end, or choose another --out"]
        assert not out.exists()
    assert main.main(["train", str(tmp_path / "synth"), "--out", str(out), *TINY]) == 0  # it ended: the next one runs
    assert out.is_file() and not lock_path(out).exists()  # a finished run leaves no lock file


def test_the_lock_of_a_run_that_died_blocks_nothing(tmp_path: Path) -> None:
    out = tmp_path / "model.safetensors"
    lock_path(out).write_text("999999")  # left by a killed run: the system released its lock with the process
    with training_lock(out):
        assert lock_path(out).read_text() == str(os.getpid())
        with pytest.raises(InputError, match=r"another training run \(process \d+\) is writing this checkpoint"):
            with training_lock(out):
                pass
    with training_lock(out):
        pass
