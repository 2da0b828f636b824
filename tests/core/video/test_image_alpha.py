"""A folder of images with alpha (RGBA PNG, 16-bit RGBA, a palette with a transparent colour) is composited over
black as the video reader composites video with alpha; before, the alpha was dropped and a transparent pixel
showed the colour stored under it.  Only folders with alpha get new cache keys."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from core.flow.cache import video_identity
from core.video import open_video
from media import alpha_colour, alpha_picture


def _write(path: Path, rgba: np.ndarray, kind: str) -> None:
    """``rgba`` (H, W, 4) uint8 as an image of ``kind``."""
    if kind == "rgba8":
        cv2.imwrite(str(path), cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGRA))
    elif kind == "rgba16":
        cv2.imwrite(str(path), cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGRA).astype(np.uint16) * 257)
    else:  # a palette whose first entry is transparent: transparent or opaque, nothing between
        palette = Image.fromarray(np.ascontiguousarray(rgba[..., :3])).quantize(colors=4)
        indices = np.array(palette)
        indices[rgba[..., 3] == 0] = 3
        image = Image.fromarray(indices.astype(np.uint8), "P")
        image.putpalette(palette.getpalette())
        image.save(path, transparency=3)


@pytest.mark.parametrize("kind", ["rgba8", "rgba16", "palette"])
def test_images_with_alpha_are_composited_over_black(tmp_path: Path, kind: str) -> None:
    for index in range(3):
        _write(tmp_path / f"frame_{index:02d}.png", alpha_picture(alpha_colour(index)), kind)
    with open_video(tmp_path) as video:
        for index in (2, 0, 1):
            frame = video.read(index).astype(int)
            colour = np.array(alpha_colour(index))
            transparent, half, opaque = (frame[16, x] for x in (8, 24, 48))
            assert transparent.tolist() == [0, 0, 0], (kind, index)  # was the colour under it: 200, 60, ...
            assert opaque.tolist() == colour.tolist(), (kind, index)
            if kind != "palette":  # a palette's pixels are either transparent or opaque
                assert np.abs(half - colour * 128 / 255).max() <= 0.5 + (kind == "rgba16"), (kind, index, half)
        assert video.info.alpha


def test_only_folders_with_alpha_get_new_cache_keys(tmp_path: Path) -> None:
    """Version 6 (alpha composited) for a folder once any image has alpha; version 4's key for the others."""
    folder = tmp_path / "frames"
    folder.mkdir()
    for index in range(3):
        cv2.imwrite(str(folder / f"{index}.png"), np.full((16, 16, 3), 40 * index, np.uint8))
    assert video_identity(folder)["reader"] == 4
    with open_video(folder) as video:
        assert not video.info.alpha
    _write(folder / "1.png", alpha_picture(), "rgba8")  # written again in place, now with alpha
    os.utime(folder / "1.png", ns=(1, 1))
    assert video_identity(folder)["reader"] == 6


def test_opening_a_folder_lists_it_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The reader's alpha flag comes from the images it listed, not from listing the folder (and stat'ing every
    image) a second time."""
    from core.video import image_sequence

    for index in range(3):
        _write(tmp_path / f"frame_{index:02d}.png", alpha_picture(alpha_colour(index)), "rgba8")
    listed = []
    real = image_sequence.list_images
    monkeypatch.setattr(image_sequence, "list_images", lambda folder: listed.append(folder) or real(folder))
    with open_video(tmp_path) as video:
        assert video.info.alpha
    assert listed == [tmp_path]
