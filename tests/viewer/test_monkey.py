"""Random user actions on the real window (a seeded monkey): every picture on screen stays true to its caption
at every step, and once idle the window shows what was asked for last (see ``monkey_helpers``).

``MONKEY_SEEDS=0-99 MONKEY_STEPS=80`` runs more seeds and longer sequences than the few fixed ones here.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import pytest
import torch

from core.models import build_model, save_checkpoint
from core.models.transformer.config import TransformerConfig
from dataset_helpers import synth_with_checkpoint
from media import index_frame, write_video
from monkey_helpers import MonkeyFiles, run_monkey
from monkey_watch import small_frame_caches
from viewer.jobs import wait_for_all_jobs
from viewer.main_window import MainWindow

FIXED_SEEDS = (3, 4, 9)  # 4 and 9 drew pair 13 beside frame 23 before the flow view followed the RGB view; 3 closes mid-flight
STEPS = int(os.environ.get("MONKEY_STEPS", "40"))


def _seeds() -> list[int]:
    text = os.environ.get("MONKEY_SEEDS", "")
    if not text:
        return list(FIXED_SEEDS)
    first, _, last = text.partition("-")
    return list(range(int(first), int(last or first) + 1))


def _tiny_model(path: Path, classes: int, clip_length: int, input_size: int) -> Path:
    torch.manual_seed(classes)
    config = TransformerConfig.create(backbone="tiny", class_names=[f"action{i}" for i in range(classes)], backbone_options={"dim": 16},
                                      input_size=input_size, clip_length=clip_length, fusion={"heads": 2, "head_dim": 8, "depth": 1})
    return save_checkpoint(path, build_model(config))


def _broken_model(path: Path) -> Path:
    path.write_bytes(b"not a checkpoint" * 10)
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> MonkeyFiles:  # noqa: ANN001
    folder = tmp_path_factory.mktemp("monkey")
    frames = folder / "frames"
    frames.mkdir()
    for i in range(14):
        cv2.imwrite(str(frames / f"frame_{i}.png"), index_frame(i, 96, 48)[..., ::-1])
    bad = folder / "broken.mp4"
    bad.write_bytes(b"\x00\x01garbage" * 100)
    out = folder / "out"
    out.mkdir()
    return MonkeyFiles(
        videos=(write_video(folder / "a.mp4", 40, options={"g": "8", "bf": "2"}), write_video(folder / "b.mkv", 24, size=(160, 96)), frames,
                write_video(folder / "one.mp4", 1)),
        bad=bad,
        bad_model=_broken_model(folder / "broken.safetensors"),
        models=(_tiny_model(folder / "six.safetensors", 6, 8, 64), _tiny_model(folder / "four.safetensors", 4, 4, 32)),
        dataset=synth_with_checkpoint(folder / "dataset", clips_per_class=1)[0],
        out=out,
    )


@pytest.mark.parametrize("seed", _seeds())
def test_random_actions_keep_the_views_true(qtbot, files: MonkeyFiles, seed: int, monkeypatch) -> None:  # noqa: ANN001
    small_frame_caches(monkeypatch)
    win = MainWindow(show_dialogs=False, checkpoint=files.models[0])
    qtbot.addWidget(win)
    win.show()
    try:
        problems = run_monkey(qtbot, win, files, seed, STEPS, monkeypatch, close_early=seed % 4 == 3)
    finally:
        win.close()
    qtbot.wait(50)  # results queued before the close arrive now: they must be dropped quietly
    assert wait_for_all_jobs(20000), "a worker was still running after the window closed"
    assert not problems, f"seed {seed}:\n" + "\n".join(problems)
