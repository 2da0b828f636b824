"""Frame sequences with exactly known flow: a textured image moved by a camera motion.

Tests check every method against these (translate, rotate, zoom), and the
benchmark uses them to score RAFT's clip path against its per-pair baseline
where no video ground truth exists.  Frame ``t`` shows the base image through
the affine map ``A_t`` (a base point ``p`` appears at ``A_t p``), so the flow from
frame ``t`` to ``t+1`` at pixel ``x`` is ``A_{t+1} A_t^{-1} x - x``, exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Motion:
    """Per-frame camera motion about the frame centre: shift (px), rotation (degrees), zoom (factor)."""

    dx: float = 0.0
    dy: float = 0.0
    rotate_deg: float = 0.0
    zoom: float = 1.0


def smooth_texture(height: int, width: int, *, seed: int = 0, colour: bool = True) -> np.ndarray:
    """A smooth random texture (H, W, 3) uint8: noise at several scales, blurred and summed.

    Smooth enough for every method's gradients, busy enough to pin motion down.
    """
    import cv2

    rng = np.random.default_rng(seed)
    channels = 3 if colour else 1
    out = np.zeros((height, width, channels), np.float32)
    for sigma, weight in ((1.5, 0.35), (4.0, 0.4), (12.0, 0.25)):
        noise = rng.standard_normal((height, width, channels)).astype(np.float32)
        blurred = cv2.GaussianBlur(noise, (0, 0), sigma)
        if blurred.ndim == 2:
            blurred = blurred[:, :, None]
        blurred /= blurred.std() + 1e-6
        out += weight * blurred
    out = (out - out.min()) / (out.max() - out.min() + 1e-6)
    image = (out * 255.0 + 0.5).astype(np.uint8)
    return np.repeat(image, 3, axis=2) if not colour else image


def affine_for(motion: Motion, steps: float, centre: tuple[float, float]) -> np.ndarray:
    """The 3x3 map after ``steps`` repetitions of ``motion`` (rotation and zoom about ``centre``)."""
    angle = np.deg2rad(motion.rotate_deg * steps)
    scale = motion.zoom**steps
    cx, cy = centre
    cos, sin = np.cos(angle) * scale, np.sin(angle) * scale
    linear = np.array([[cos, -sin], [sin, cos]])
    shift = np.array([cx, cy]) - linear @ np.array([cx, cy]) + np.array([motion.dx, motion.dy]) * steps
    out = np.eye(3)
    out[:2, :2] = linear
    out[:2, 2] = shift
    return out


def moving_sequence(base: np.ndarray, motions: list[Motion] | Motion, frames: int, *, size: tuple[int, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Frames ``(N, h, w, 3)`` uint8 cut from the centre of ``base`` and the true flow ``(N-1, 2, h, w)``.

    ``motions``: one motion repeated every frame, or one per step (``frames - 1``),
    composed so the velocity may change over time.  ``size`` (h, w) defaults to
    the base size minus a margin so borders stay inside the texture.
    """
    import cv2

    if frames < 2:
        raise ValueError(f"a sequence needs at least 2 frames, got {frames}")
    steps = [motions] * (frames - 1) if isinstance(motions, Motion) else list(motions)
    if len(steps) != frames - 1:
        raise ValueError(f"{frames} frames need {frames - 1} motions, got {len(steps)}")
    base_h, base_w = base.shape[:2]
    h, w = size if size is not None else (base_h * 3 // 4, base_w * 3 // 4)
    if h > base_h or w > base_w:
        raise ValueError(f"crop {h}x{w} is larger than the base image {base_h}x{base_w}")
    # frame pixel x sits at base pixel x + offset when the map is the identity
    offset = np.array([(base_w - w) / 2.0, (base_h - h) / 2.0])
    centre = ((w - 1) / 2.0, (h - 1) / 2.0)
    maps = [np.eye(3)]
    for motion in steps:
        maps.append(affine_for(motion, 1.0, centre) @ maps[-1])
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    pixels = np.stack([xs.ravel(), ys.ravel(), np.ones(h * w)])
    images = []
    for a in maps:
        src = np.linalg.inv(a) @ pixels  # frame pixel -> base point (in frame coordinates)
        map_x = (src[0] + offset[0]).reshape(h, w).astype(np.float32)
        map_y = (src[1] + offset[1]).reshape(h, w).astype(np.float32)
        images.append(cv2.remap(base, map_x, map_y, interpolation=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT101))
    flows = []
    for a, b in zip(maps[:-1], maps[1:]):
        moved = (b @ np.linalg.inv(a)) @ pixels
        flows.append(np.stack([(moved[0] - pixels[0]).reshape(h, w), (moved[1] - pixels[1]).reshape(h, w)]))
    return np.stack(images), np.stack(flows).astype(np.float32)
