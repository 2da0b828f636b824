"""Augmentation as a fixed set of views per clip, so frozen-backbone training can cache them.

A random crop or flip drawn fresh every epoch would need the backbones every
epoch; instead each clip has a few fixed views (TSN-style corner crops, and
mirrored copies) whose token grids are cached once, and each epoch picks one
view per clip at random.  View 0 is always what inference sees: the shorter
side resized to the input size, then the centre crop.

Flow is computed on each view's own frames (a mirrored clip gets the flow of
mirrored frames), exactly as for the centre crop.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from core.sampling import CROP_ROOM_SCALE, CropMap, CropView, resize_and_crop

CORNERS = ("top_left", "top_right", "bottom_left", "bottom_right")


def view_names(augment: str) -> list[str]:
    """The views of an augmentation setting, view 0 first (``"centre"``)."""
    crops = ["centre", *CORNERS] if "crop" in augment else ["centre"]
    flips = [False, True] if "flip" in augment else [False]
    return [crop + ("+flip" if flip else "") for crop in crops for flip in flips]


def view_crop(augment: str, view: int) -> Callable[[np.ndarray, int], tuple[np.ndarray, CropMap]]:
    """The crop function of view ``view`` of ``augment`` (see :func:`core.inference.prepare_clip_input`)."""
    names = view_names(augment)
    if not 0 <= view < len(names):
        raise ValueError(f"augmentation {augment!r} has views 0..{len(names) - 1}, got {view}")
    crop, _, flip = names[view].partition("+")

    def apply(frames: np.ndarray, size: int) -> tuple[np.ndarray, CropMap]:
        if crop == "centre":  # a mirrored view's map says so, as a flipped test view's does
            return resize_and_crop(frames, size, CropView(flip=True)) if flip else resize_and_crop(frames, size)
        return corner_crop(frames, size, crop, flip=flip)

    return apply


def corner_crop(frames: np.ndarray, size: int, corner: str, *, flip: bool = False) -> tuple[np.ndarray, CropMap]:
    """Resize the shorter side to ``size * CROP_ROOM_SCALE`` and take the ``corner`` crop of ``size``
    (the corners of the ten test crops, :data:`core.sampling.TEN_CROPS`), mirrored when ``flip``."""
    if corner not in CORNERS:
        raise ValueError(f"unknown corner {corner!r}: choose one of {', '.join(CORNERS)}")
    view = CropView(x=1.0 if corner.endswith("right") else 0.0, y=1.0 if corner.startswith("bottom") else 0.0, scale=CROP_ROOM_SCALE,
                    flip=flip)
    return resize_and_crop(frames, size, view)
