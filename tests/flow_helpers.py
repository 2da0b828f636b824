"""Shared pieces of the flow tests: sequences with known motion and an interior EPE."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.flow.synthetic import Motion, moving_sequence, smooth_texture
from paths import SHARED as SHARED_ROOT

SHARED = SHARED_ROOT
RAFT_SMALL = SHARED / "weights" / "raft-small.pth"
FLOW_GT = SHARED / "data" / "flow_gt"

MOTIONS = {
    "translate": Motion(dx=1.6, dy=-0.9),
    "rotate": Motion(rotate_deg=1.5),
    "zoom": Motion(zoom=1.03),
}


def sequence(kind: str, *, frames: int = 3, size: int = 96, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(frames (N, size, size, 3) uint8, true flow (N-1, 2, size, size)) for one of :data:`MOTIONS`."""
    base = smooth_texture(size * 3 // 2, size * 3 // 2, seed=seed)
    return moving_sequence(base, MOTIONS[kind], frames, size=(size, size))


def interior_epe(flow: np.ndarray, truth: np.ndarray, margin: int = 8) -> float:
    """Mean end-point error away from the border (where content enters or leaves the frame)."""
    diff = flow[..., margin:-margin, margin:-margin] - truth[..., margin:-margin, margin:-margin]
    return float(np.sqrt((diff**2).sum(axis=-3)).mean())
