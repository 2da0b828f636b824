"""Shared pieces of the training tests: a tiny dataset of coloured clips and small settings."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.synth.writer import write_mp4
from core.training import TrainSettings

COLOURS = {"Blue": (40, 60, 200), "Green": (40, 190, 60), "Red": (210, 50, 40)}


def colour_clip(colour: tuple[int, int, int], rng: np.random.Generator, frames: int = 10) -> np.ndarray:
    """32x32 frames in the class's colour, with a drifting texture and noise (so flow has work)."""
    yy, xx = np.mgrid[0:32, 0:32]
    phase, speed = rng.uniform(0, 2 * np.pi), rng.choice([-1.5, 1.5])
    out = np.empty((frames, 32, 32, 3), np.uint8)
    for t in range(frames):
        shade = 0.75 + 0.25 * np.sin((xx + speed * t) / 3.0 + phase) * np.cos(yy / 4.0)
        noise = rng.normal(0, 6, (32, 32, 3))
        out[t] = np.clip(shade[..., None] * np.asarray(colour, float) + noise, 0, 255).astype(np.uint8)
    return out


def write_colour_dataset(root: Path, videos_per_class: int = 4, seed: int = 0) -> Path:
    """``root/<Colour>/<Colour>_<i>.mp4``: three classes only colour separates."""
    rng = np.random.default_rng(seed)
    for name, colour in COLOURS.items():
        for i in range(videos_per_class):
            write_mp4(root / name / f"{name}_{i}.mp4", colour_clip(colour, rng))
    return root


def small_settings(**changes) -> TrainSettings:
    """A tiny model on 8 frames of 32x32 (2x2 tokens): a training epoch takes milliseconds."""
    base = dict(
        backbone_options={"dim": 16, "frame_wise": True},
        rgb_time_pool=True,
        heads=2,
        head_dim=8,
        depth=1,
        head_dropout=0.0,
        input_size=32,
        clip_length=8,
        epochs=4,
        batch_size=4,
        lr=3e-3,
        patience=50,
        val_fraction=0.25,
        test_fraction=0.0,
        device="cpu",
    )
    base.update(changes)
    return TrainSettings(**base)
