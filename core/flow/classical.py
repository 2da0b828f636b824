"""OpenCV's classical flow: DIS (fast, the default fallback) and Farneback.

Both run on grayscale frames on the CPU, one pair at a time.  Settings were
chosen with ``bench flow`` on Middlebury and Sintel:

* DIS ``MEDIUM`` preset with a patch stride of 4: mean EPE 0.62 on the eight
  Middlebury pairs (ULTRAFAST 0.88, FAST 0.75, MEDIUM's own stride 0.61) at
  about 400 pairs/s at 224x224 on two cores (MEDIUM's own stride: about 340).
* Farneback with the parameters of OpenCV's sample (pyramid scale 0.5, 3 levels,
  window 15, 3 iterations, poly_n 5, sigma 1.2): larger windows and more
  iterations were measured less accurate on these pairs.
"""

from __future__ import annotations

from typing import Callable, Optional

import numpy as np

FARNEBACK_PARAMS = dict(pyr_scale=0.5, levels=3, winsize=15, iterations=3, poly_n=5, poly_sigma=1.2, flags=0)
DIS_PRESET = "MEDIUM"  # cv2.DISOPTICAL_FLOW_PRESET_<this>
DIS_PATCH_STRIDE = 4


def to_gray(frames: np.ndarray) -> np.ndarray:
    """(N, H, W, 3) uint8 RGB -> (N, H, W) uint8 luma (ITU-R 601, as OpenCV)."""
    import cv2

    return np.stack([cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY) for frame in frames])


class _DIS:
    def __init__(self) -> None:
        import cv2

        self._dis = cv2.DISOpticalFlow_create(getattr(cv2, f"DISOPTICAL_FLOW_PRESET_{DIS_PRESET}"))
        self._dis.setPatchStride(DIS_PATCH_STRIDE)

    def __call__(self, gray0: np.ndarray, gray1: np.ndarray) -> np.ndarray:
        return self._dis.calc(gray0, gray1, None)


def _farneback(gray0: np.ndarray, gray1: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.calcOpticalFlowFarneback(gray0, gray1, None, **FARNEBACK_PARAMS)


def classical_flow(
    frames: np.ndarray,
    method: str,
    *,
    backward: bool = False,
    cancel_check: Optional[Callable[[], None]] = None,
    progress: Optional[Callable[[int, int], None]] = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Flow of each consecutive pair with ``method`` ("dis" or "farneback").

    Returns ``(forward, backward)`` float32 ``(N-1, 2, H, W)``; backward flow
    (frame t+1 to t) swaps the frames.
    """
    if method == "dis":
        solve: Callable[[np.ndarray, np.ndarray], np.ndarray] = _DIS()
    elif method == "farneback":
        solve = _farneback
    else:
        raise ValueError(f"not a classical OpenCV method: {method!r}")
    gray = to_gray(frames)
    pairs = len(gray) - 1
    forward = np.empty((pairs, 2, *gray.shape[1:]), np.float32)
    backward_out = np.empty_like(forward) if backward else None
    total = pairs * (2 if backward else 1)
    done = 0
    for i in range(pairs):
        if cancel_check is not None:
            cancel_check()
        forward[i] = solve(gray[i], gray[i + 1]).transpose(2, 0, 1)
        done += 1
        if backward_out is not None:
            backward_out[i] = solve(gray[i + 1], gray[i]).transpose(2, 0, 1)
            done += 1
        if progress is not None:
            progress(done, total)
    return forward, backward_out
