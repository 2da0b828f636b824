"""Still images: the views side by side, written as PNG."""

from __future__ import annotations

import os

import numpy as np

from core.export.target import ExportError, export_target

GAP = 4
BACKGROUND = (32, 33, 36)  # the views' dark background


def _check_rgb(image: np.ndarray, name: str) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8 or image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"{name} must be an (H, W, 3) uint8 RGB image, got {image.dtype} {image.shape}")
    return image


def side_by_side(left: np.ndarray, right: np.ndarray | None, *, gap: int = GAP, background: tuple[int, int, int] = BACKGROUND) -> np.ndarray:
    """``left | gap | right`` as one RGB image of ``left``'s height.

    ``right`` (the flow, computed at a possibly smaller analysis size) is
    resized to ``left``'s height keeping its aspect, so both panels show the
    same field of view at the same scale, as in the viewer.  Without ``right``
    (no flow yet) the panel is left empty, the size stays the same.
    """
    import cv2

    left = _check_rgb(left, "left")
    height, width = left.shape[:2]
    if right is None:
        right_width = width
        right_image = None
    else:
        right = _check_rgb(right, "right")
        right_width = max(1, int(round(right.shape[1] * height / right.shape[0])))
        right_image = right if right.shape[:2] == (height, right_width) else cv2.resize(right, (right_width, height), interpolation=cv2.INTER_LINEAR)
    out = np.empty((height, width + gap + right_width, 3), np.uint8)
    out[:] = background
    out[:, :width] = left
    if right_image is not None:
        out[:, width + gap :] = right_image
    return out


def write_png(path: str | os.PathLike[str], image: np.ndarray) -> None:
    """Write an (H, W, 3) uint8 RGB image as a lossless PNG, atomically."""
    import cv2

    image = _check_rgb(image, "image")
    ok, data = cv2.imencode(".png", np.ascontiguousarray(image[..., ::-1]))
    if not ok:
        raise ExportError("the PNG encoder refused the image", path)
    with export_target(path, suffixes=(".png",)) as tmp:
        with open(tmp, "wb") as handle:
            handle.write(data.tobytes())
