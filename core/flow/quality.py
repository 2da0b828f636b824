"""How trustworthy is a flow field?  Per-pair measures and per-pixel maps, no ground truth needed.

* Forward-backward consistency (Sundaram, Brox & Keutzer 2010): following the
  forward flow and then the backward flow should return to the start.  A pixel
  is inconsistent when ``|w + w_b|^2 > 0.01 (|w|^2 + |w_b|^2) + 0.5`` where ``w_b``
  is the backward flow sampled at ``x + w``.
* Photometric warp error: frame t+1 sampled at ``x + w(x)`` should look like
  frame t at ``x`` (mean absolute difference over RGB, in grey levels 0..255).
* Magnitude statistics: mean, 95th percentile, maximum (pixels).

Lengths are in the pixels of the frames given.  The viewer gives frames shrunk
to their analysis size (:mod:`core.flow.analysis_size`) and states the lengths
(:data:`LENGTH_FIELDS`) in the video's pixels through
:meth:`PairQuality.in_video_pixels`; the shares and the noise score are judged
at the size the flow was computed at and stay as they are.

Pixels whose flow leaves the frame have nothing to compare with; they are left
out of the measures (``outside_share`` counts them) and are 0 in the maps.

The noise score (0 = clean, 1 = garbage) is the mean of three saturating terms:
the inconsistent share; ``e / (e + 1 px)`` for the mean forward-backward error
``e``; and ``p / (p + 20)`` for the mean warp error ``p`` in grey levels.  Without
backward flow only the warp term is available and the score is that term.
The scale is fixed, so scores compare across clips and methods; a correct
flow of a textured scene scores below 0.1, random or shifted flow above 0.4.

Ground-truth comparison (:func:`endpoint_error`) and ``.flo`` files
(:func:`read_flo`, :func:`write_flo`) live here too, for the researcher
checking a method against a benchmark.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Callable, Optional

import numpy as np

from core.errors import FlowError
from core.flow.flo import read_flo, write_flo  # noqa: F401 - part of this module's interface
from core.progress import CancelToken, check, report

UNKNOWN_FLOW = 1e9
FB_ALPHA = 0.01
FB_BETA = 0.5
FB_SCALE_PX = 1.0
WARP_SCALE_GREY = 20.0
LENGTH_FIELDS = ("fb_error_mean", "magnitude_mean", "magnitude_p95", "magnitude_max")  # pixels: scale with the frame


@dataclass(frozen=True)
class PairQuality:
    """Quality of one pair's flow.  Consistency fields are NaN without backward flow."""

    fb_error_mean: float
    inconsistent_share: float
    warp_error_mean: float
    magnitude_mean: float
    magnitude_p95: float
    magnitude_max: float
    outside_share: float
    noise_score: float

    def in_video_pixels(self, video_pixels: float) -> PairQuality:
        """These measures with their lengths (:data:`LENGTH_FIELDS`) times ``video_pixels``, the video's pixels per
        pixel of the frames measured (:func:`core.flow.analysis_size.video_pixels_per_analysis_pixel`): what a user
        reads against the frame they see.  Itself at 1.0 (a video analysed at its own size: the same numbers)."""
        if video_pixels == 1.0:
            return self
        return replace(self, **{name: getattr(self, name) * video_pixels for name in LENGTH_FIELDS})

    def to_dict(self) -> dict[str, float | None]:
        """JSON-ready: NaN becomes None."""
        return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in asdict(self).items()}


@dataclass(frozen=True)
class QualityMaps:
    """Per-pixel float32 (H, W) maps for overlays; ``outside`` is bool (H, W).

    ``inconsistency``: ``|w + w_b|`` in pixels (all zero without backward flow);
    ``warp_error``: grey levels.  Both are 0 where ``outside``.
    """

    inconsistency: np.ndarray
    warp_error: np.ndarray
    outside: np.ndarray


def noise_score(*, warp_error_mean: float, fb_error_mean: float = math.nan, inconsistent_share: float = math.nan) -> float:
    """The fixed-scale combination described in the module docstring."""
    terms = [warp_error_mean / (warp_error_mean + WARP_SCALE_GREY)]
    if not math.isnan(fb_error_mean):
        terms.append(fb_error_mean / (fb_error_mean + FB_SCALE_PX))
    if not math.isnan(inconsistent_share):
        terms.append(inconsistent_share)
    return float(np.mean(terms))


def _check_flow(flow: np.ndarray, height: int, width: int, name: str) -> np.ndarray:
    array = np.asarray(flow, dtype=np.float32)
    if array.shape != (2, height, width):
        raise FlowError(f"{name} must have shape (2, {height}, {width}) to match the frames, got {array.shape}")
    return array


def _sample(image: np.ndarray, map_x: np.ndarray, map_y: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.remap(image, map_x, map_y, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def pair_quality(frame0: np.ndarray, frame1: np.ndarray, forward: np.ndarray, backward: np.ndarray | None = None) -> tuple[PairQuality, QualityMaps]:
    """Measures and maps for the flow ``forward`` (2, H, W) from ``frame0`` to ``frame1`` (H, W, 3) uint8."""
    if frame0.shape != frame1.shape or frame0.ndim != 3:
        raise FlowError(f"frames must be two (H, W, 3) images of one size, got {frame0.shape} and {frame1.shape}")
    height, width = frame0.shape[:2]
    fwd = _check_flow(forward, height, width, "forward flow")
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    map_x = xs + fwd[0]
    map_y = ys + fwd[1]
    finite = np.isfinite(map_x) & np.isfinite(map_y)
    outside = ~finite | (map_x < 0) | (map_x > width - 1) | (map_y < 0) | (map_y > height - 1)
    inside = ~outside
    map_x = np.where(finite, map_x, 0).astype(np.float32)
    map_y = np.where(finite, map_y, 0).astype(np.float32)

    warped = _sample(frame1.astype(np.float32), map_x, map_y)
    warp_map = np.abs(warped - frame0.astype(np.float32)).mean(axis=2)
    warp_map[outside] = 0.0
    count = int(inside.sum())
    warp_error = float(warp_map[inside].mean()) if count else math.nan

    magnitude = np.sqrt(np.where(finite, fwd[0] ** 2 + fwd[1] ** 2, np.nan))
    finite_mag = magnitude[np.isfinite(magnitude)]
    mag_mean = float(finite_mag.mean()) if finite_mag.size else math.nan
    mag_p95 = float(np.percentile(finite_mag, 95)) if finite_mag.size else math.nan
    mag_max = float(finite_mag.max()) if finite_mag.size else math.nan

    fb_mean = math.nan
    inconsistent = math.nan
    incons_map = np.zeros((height, width), np.float32)
    if backward is not None:
        bwd = _check_flow(backward, height, width, "backward flow")
        bx = _sample(np.ascontiguousarray(bwd[0]), map_x, map_y)
        by = _sample(np.ascontiguousarray(bwd[1]), map_x, map_y)
        dx = fwd[0] + bx
        dy = fwd[1] + by
        diff_sq = dx * dx + dy * dy
        bad = diff_sq > FB_ALPHA * (fwd[0] ** 2 + fwd[1] ** 2 + bx * bx + by * by) + FB_BETA
        incons_map = np.sqrt(diff_sq).astype(np.float32)
        incons_map[outside | ~np.isfinite(incons_map)] = 0.0
        if count:
            fb_mean = float(incons_map[inside].mean())
            inconsistent = float((bad & inside).sum() / count)
    score = noise_score(warp_error_mean=warp_error, fb_error_mean=fb_mean, inconsistent_share=inconsistent) if count else 1.0
    quality = PairQuality(
        fb_error_mean=fb_mean,
        inconsistent_share=inconsistent,
        warp_error_mean=warp_error,
        magnitude_mean=mag_mean,
        magnitude_p95=mag_p95,
        magnitude_max=mag_max,
        outside_share=float(outside.mean()),
        noise_score=score,
    )
    return quality, QualityMaps(inconsistency=incons_map, warp_error=warp_map.astype(np.float32), outside=outside)


def clip_quality(
    frames: np.ndarray,
    forward: np.ndarray,
    backward: np.ndarray | None = None,
    *,
    cancel: Optional[CancelToken] = None,
    progress: Optional[Callable[..., None]] = None,
) -> list[PairQuality]:
    """:func:`pair_quality` for every pair of a clip (frames (N, H, W, 3), flow (N-1, 2, H, W))."""
    pairs = len(frames) - 1
    if forward.shape[0] != pairs or (backward is not None and backward.shape[0] != pairs):
        raise FlowError(f"{len(frames)} frames need {pairs} flows, got forward {forward.shape}" + (f", backward {backward.shape}" if backward is not None else ""))
    out = []
    for i in range(pairs):
        check(cancel)
        quality, _ = pair_quality(frames[i], frames[i + 1], forward[i], None if backward is None else backward[i])
        out.append(quality)
        report(progress, i + 1, pairs, f"quality {i + 1}/{pairs}")
    return out


def endpoint_error(flow: np.ndarray, gt: np.ndarray, valid_mask: np.ndarray | None = None) -> float:
    """Mean end-point error ``|flow - gt|`` over known pixels ((2, H, W) or (N, 2, H, W)).

    Ground truth above 1e9 (Middlebury's "unknown") or not finite is left out,
    as are pixels where ``valid_mask`` (broadcastable (H, W) or (N, H, W)) is false.
    """
    flow = np.asarray(flow, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    if flow.shape != gt.shape or flow.ndim not in (3, 4) or flow.shape[-3] != 2:
        raise FlowError(f"flow and ground truth must both be (2, H, W) or (N, 2, H, W) of one shape, got {flow.shape} and {gt.shape}")
    known = np.all(np.isfinite(gt) & (np.abs(gt) < UNKNOWN_FLOW), axis=-3)
    if valid_mask is not None:
        mask = np.asarray(valid_mask, dtype=bool)
        try:
            known = known & np.broadcast_to(mask, known.shape)
        except ValueError:
            raise FlowError(f"valid mask of shape {mask.shape} does not fit flow of shape {flow.shape}") from None
    if not known.any():
        raise FlowError("no pixel has a known ground-truth flow to compare with")
    error = np.sqrt(((flow - np.where(np.isfinite(gt), gt, 0.0)) ** 2).sum(axis=-3))
    return float(error[known].mean())
