"""The flow ground truth kept beside the project (``../shared/data/flow_gt``): Middlebury
"other" training pairs and MPI-Sintel pairs, for the benchmark and the accuracy tests.

Never shipped with the project; callers skip with a reason when the folder is absent.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.errors import FlowError
from core.flow.flo import read_flo

UNKNOWN_FLOW_THRESHOLD = 1e9
DEFAULT_GT_ROOT = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "flow_gt"
MIDDLEBURY_SEQUENCES = ("Dimetrodon", "Grove2", "Grove3", "Hydrangea", "RubberWhale", "Urban2", "Urban3", "Venus")
SINTEL_SCENES = ("alley_1", "cave_2", "market_5")


@dataclass(frozen=True)
class FlowPair:
    """Two RGB frames (H, W, 3) uint8, the true flow (2, H, W) and the pixels to score (H, W) bool."""

    name: str
    frame0: np.ndarray
    frame1: np.ndarray
    flow: np.ndarray
    valid: np.ndarray


def _decoded(path: Path, flags: int) -> np.ndarray | None:
    """An image file decoded by OpenCV from bytes Python read (``cv2.imread`` crashes on names that are not UTF-8)."""
    import cv2

    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError:
        return None
    return cv2.imdecode(data, flags) if data.size else None


def _read_rgb(path: Path) -> np.ndarray:
    import cv2

    image = _decoded(path, cv2.IMREAD_COLOR)
    if image is None:
        raise FlowError("cannot read image", path)
    return np.ascontiguousarray(image[:, :, ::-1])


def _read_mask(path: Path) -> np.ndarray:
    import cv2

    image = _decoded(path, cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise FlowError("cannot read mask image", path)
    return image


def middlebury_pairs(root: Path = DEFAULT_GT_ROOT, names: tuple[str, ...] = MIDDLEBURY_SEQUENCES) -> list[FlowPair]:
    pairs = []
    for name in names:
        folder = root / "middlebury" / name
        flow = read_flo(folder / "flow10.flo")
        valid = np.all(np.abs(flow) < UNKNOWN_FLOW_THRESHOLD, axis=0)
        pairs.append(FlowPair(f"Middlebury {name}", _read_rgb(folder / "frame10.png"), _read_rgb(folder / "frame11.png"), flow, valid))
    return pairs


def sintel_pairs(root: Path = DEFAULT_GT_ROOT, scenes: tuple[str, ...] = SINTEL_SCENES, passes: tuple[str, ...] = ("clean", "final")) -> list[FlowPair]:
    pairs = []
    for scene in scenes:
        folder = root / "sintel_faldoi" / scene
        flow = read_flo(folder / "frame_0002.flo")
        valid = _read_mask(folder / "invalid_frame_0002.png") == 0
        for render in passes:
            pairs.append(FlowPair(
                f"Sintel {scene} {render}",
                _read_rgb(folder / render / "frame_0002.png"),
                _read_rgb(folder / render / "frame_0003.png"),
                flow,
                valid,
            ))
    return pairs


def all_pairs(root: Path = DEFAULT_GT_ROOT) -> list[FlowPair]:
    return middlebury_pairs(root) + sintel_pairs(root)


def ground_truth_available(root: Path = DEFAULT_GT_ROOT) -> bool:
    return (root / "middlebury").is_dir() and (root / "sintel_faldoi").is_dir()
