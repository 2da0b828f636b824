"""HDR video (PQ or HLG transfer, BT.2020 primaries) shown as SDR BT.709, as a player on an SDR screen shows it.

Why: converting only the YUV matrix gave the PQ/HLG signal values as if they were BT.709 ones: reference white
(203 nits) came out at 57% (PQ, 146 of 255) or 74% (HLG, 189) grey and BT.2020 colours desaturated, so HDR clips
(iPhone HLG, HDR10) looked washed out and grey to the viewer, the flow and the models.

How: in numpy and OpenCV, since the PyAV wheel's FFmpeg has no ``zscale`` (libzimg), which ``tonemap`` needs to
reach linear light, nor ``libplacebo``.  Steps, on 16-bit R'G'B' (10-bit HDR kept whole, not rounded to 8 bits
first; from the decoder's YUV planes, :mod:`core.video.rgb_planes`, or swscale's 48-bit RGB):

1. to linear display light in nits: PQ with the SMPTE ST 2084 EOTF; HLG with the ARIB STD-B67 / BT.2100
   inverse OETF and the BT.2100 OOTF for a 1000-nit display (system gamma 1.2);
2. BT.2020 to BT.709 primaries (a 3x3 matrix in linear light, from the primaries' chromaticities and D65);
   colours outside BT.709's gamut are clipped to it;
3. tone mapping with the BT.2390 EETF, applied to each pixel's largest component (so hue and saturation stay):
   a source peak of :data:`SOURCE_PEAK_NITS` (HLG's nominal display; the usual HDR10 mastering peak; brighter
   pixels clip) is rolled off into :data:`REFERENCE_WHITE_NITS`, the SDR white; light below the knee (about
   90 nits) is unchanged;
4. the result over reference white, encoded with the BT.709 display transfer (BT.1886, gamma 2.4), to 8 bits.

Black stays black; HDR reference white (203 nits) comes out at 230 of 255, the source peak at 255; SDR video never
comes here.

Speed (a 1080p frame is decoded in a few milliseconds, and played or fed to flow at tens a second): float32 in
strips of rows that stay in the CPU's caches, buffers reused from strip to strip; each curve a table indexed by
16-bit codes; OpenCV's arithmetic, whose conversions to a table's uint16 index round and saturate in the same pass;
the tone scale (and HLG's OOTF) as one per-pixel gain on the square root of light, the output table's index.  About
17-21 ms a 1080p frame on one core (``bench decode``), where whole-frame arrays took 67-90 ms.  The strips are
independent, so the threads OpenCV may use (:func:`strip_threads`) share them, each with buffers of its own: numpy's
table look-ups and OpenCV's arithmetic let go of the GIL, and two threads take about 0.7 of one's time.
"""

from __future__ import annotations

import functools
import queue
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol, Sequence

import cv2
import numpy as np

# AVColorTransferCharacteristic values of a frame's ``color_trc``.
PQ, HLG = 16, 18
TRANSFERS = {PQ: "pq", HLG: "hlg"}
_BT709_PRIMARIES = 1  # AVColorPrimaries; any other tag on an HDR stream is taken as BT.2020 (what HDR uses)

REFERENCE_WHITE_NITS = 203.0  # BT.2408's HDR reference white, shown as SDR white
SOURCE_PEAK_NITS = 1000.0
DISPLAY_GAMMA = 2.4  # BT.1886

# SMPTE ST 2084
_M1, _M2 = 2610 / 16384, 2523 / 4096 * 128
_C1, _C2, _C3 = 3424 / 4096, 2413 / 4096 * 32, 2392 / 4096 * 32
# ARIB STD-B67 (BT.2100 HLG)
_A = 0.17883277
_B = 1 - 4 * _A
_C = 0.5 - _A * np.log(4 * _A)
_HLG_GAMMA = 1.2  # the OOTF's system gamma for a 1000-nit display

# The brightest linear light a pixel can have after the primaries' conversion: 10,000 nits (PQ's top) through
# the matrix's largest sum of positive entries (red's 1.6605), with room to spare.  The tone-scale table spans it.
_LIGHT_CEILING = 20000.0
_ROOT_CEILING = float(np.sqrt(_LIGHT_CEILING))
# Pixels tone-mapped at a time: a strip's float32 planes stay in the CPU's caches and its buffers are reused from
# strip to strip, where whole-frame planes (8 MB each at 1080p) went to memory and back and fresh ones were faulted
# in every frame.
_STRIP_PIXELS = 1 << 16

# ITU-R BT.2020's (and BT.2100's) luma weights of red, green and blue: the HLG OOTF's luminance here, and the
# YUV matrix's Kr and Kb in core.video.rgb_planes
BT2020_LUMA = (0.2627, 0.6780, 0.0593)
# CIE xy chromaticities of the red, green and blue primaries, and D65
_BT2020_XY = ((0.708, 0.292), (0.170, 0.797), (0.131, 0.046))
_BT709_XY = ((0.640, 0.330), (0.300, 0.600), (0.150, 0.060))
_D65_XY = (0.3127, 0.3290)


def hdr_transfer(tagged: object) -> str | None:
    """``"pq"`` or ``"hlg"`` for a stream's codec context (or a frame) tagged with an HDR transfer, else ``None``
    (SDR: left as it was)."""
    return TRANSFERS.get(int(getattr(tagged, "color_trc", 0) or 0))


def pq_eotf(signal: np.ndarray) -> np.ndarray:
    """PQ signal in [0, 1] to display light in nits."""
    e = np.power(np.clip(signal, 0.0, 1.0), 1 / _M2)
    return 10000.0 * np.power(np.maximum(e - _C1, 0.0) / (_C2 - _C3 * e), 1 / _M1)


def pq_inverse_eotf(nits: np.ndarray) -> np.ndarray:
    """Display light in nits to PQ signal in [0, 1]."""
    y = np.power(np.clip(nits / 10000.0, 0.0, 1.0), _M1)
    return np.power((_C1 + _C2 * y) / (1 + _C3 * y), _M2)


def hlg_inverse_oetf(signal: np.ndarray) -> np.ndarray:
    """HLG signal in [0, 1] to scene light in [0, 1]."""
    e = np.clip(signal, 0.0, 1.0)
    with np.errstate(over="ignore"):
        high = (np.exp((e - _C) / _A) + _B) / 12
    return np.where(e <= 0.5, e * e / 3, high)


def eetf(nits: np.ndarray, source_peak: float = SOURCE_PEAK_NITS, target_peak: float = REFERENCE_WHITE_NITS) -> np.ndarray:
    """BT.2390's EETF (source and target black at 0): light in nits rolled off from ``source_peak`` into
    ``target_peak``, a Hermite spline in the PQ domain above the knee, unchanged below it."""
    source_pq = float(pq_inverse_eotf(np.float64(source_peak)))
    e1 = np.minimum(pq_inverse_eotf(nits) / source_pq, 1.0)
    max_lum = float(pq_inverse_eotf(np.float64(target_peak))) / source_pq
    knee = 1.5 * max_lum - 0.5
    t = (e1 - knee) / (1 - knee)
    spline = (2 * t**3 - 3 * t**2 + 1) * knee + (t**3 - 2 * t**2 + t) * (1 - knee) + (-2 * t**3 + 3 * t**2) * max_lum
    return pq_eotf(np.where(e1 < knee, e1, spline) * source_pq)


@functools.lru_cache(maxsize=1)
def bt2020_to_bt709() -> np.ndarray:
    """The 3x3 matrix from linear BT.2020 RGB to linear BT.709 RGB (both D65)."""
    return np.linalg.inv(_rgb_to_xyz(_BT709_XY)) @ _rgb_to_xyz(_BT2020_XY)


def _rgb_to_xyz(primaries: tuple[tuple[float, float], ...]) -> np.ndarray:
    columns = np.array([[x / y, 1.0, (1 - x - y) / y] for x, y in primaries]).T
    white = np.array([_D65_XY[0] / _D65_XY[1], 1.0, (1 - _D65_XY[0] - _D65_XY[1]) / _D65_XY[1]])
    return columns * np.linalg.solve(columns, white)


@functools.lru_cache(maxsize=2)
def _signal_to_light(transfer: str) -> np.ndarray:
    """Each 16-bit code value's linear light (float32): PQ in nits, HLG as scene light in [0, 1]."""
    signal = np.arange(65536, dtype=np.float64) / 65535
    return (pq_eotf(signal) if transfer == "pq" else hlg_inverse_oetf(signal)).astype(np.float32)


@functools.lru_cache(maxsize=1)
def _root_to_code() -> np.ndarray:
    """8-bit BT.1886 code of each 16-bit step of the square root of linear light in [0, 1] (the square root
    keeps the steps fine near black, where the display transfer is steep)."""
    root = np.arange(65536, dtype=np.float64) / 65535
    return np.rint(255 * np.power(root, 2 / DISPLAY_GAMMA)).astype(np.uint8)


@functools.lru_cache(maxsize=1)
def _root_gain() -> np.ndarray:
    """For each 16-bit step of the square root of a pixel's peak light over :data:`_LIGHT_CEILING`, the square
    root of the factor that takes its light to SDR light over reference white, times 65535: the EETF over the
    peak (a constant 1/203 below the knee) up to the source peak, one over the peak above it (so the peak
    component is SDR white and hue stays).  Square roots, since the 8-bit code is looked up by the square root
    of light (:func:`_root_to_code`): ``sqrt(light) * gain`` is that table's index."""
    peak = np.square(np.arange(65536, dtype=np.float64) / 65535) * _LIGHT_CEILING
    peak[0] = peak[1]  # black: any factor (its light is 0); this one avoids 0 / 0
    below = np.minimum(peak, SOURCE_PEAK_NITS)
    scale = np.where(peak < SOURCE_PEAK_NITS, eetf(below) / below / REFERENCE_WHITE_NITS, 1 / peak)
    return (65535 * np.sqrt(scale)).astype(np.float32)


class CodeRows(Protocol):
    """An HDR frame's R', G' and B' as (h, W) uint16 planes (0-65535 for signal 0-1), given a strip of rows at a
    time: whole planes of them need not exist (:class:`core.video.rgb_planes.YuvCodes` computes each strip).  Threads
    may ask for different strips at the same time (:func:`tone_map`), each with its own ``out``."""

    shape: tuple[int, int]  # (H, W)

    def rows(self, top: int, bottom: int, out: Sequence[np.ndarray]) -> Sequence[np.ndarray]:
        """Rows ``top`` to ``bottom`` of the three planes; ``out``: three (bottom - top, W) uint16 buffers they
        may be written into."""


class _Planes:
    """:class:`CodeRows` of three whole planes."""

    def __init__(self, planes: Sequence[np.ndarray]) -> None:
        self.planes = planes
        self.shape = planes[0].shape

    def rows(self, top: int, bottom: int, out: Sequence[np.ndarray]) -> Sequence[np.ndarray]:
        return [plane[top:bottom] for plane in self.planes]


def hdr_to_sdr(rgb48: np.ndarray, transfer: str, primaries: int) -> np.ndarray:
    """(H, W, 3) uint16 R'G'B' of an HDR frame (``transfer`` ``"pq"`` or ``"hlg"``, ``primaries`` the frame's
    AVColorPrimaries tag) as (H, W, 3) uint8 SDR BT.709 R'G'B'."""
    return tone_map(_Planes(cv2.split(np.ascontiguousarray(rgb48))), transfer, primaries)


def tone_map(codes: CodeRows, transfer: str, primaries: int, threads: int | None = None) -> np.ndarray:
    """An HDR frame's R'G'B' ``codes`` as (H, W, 3) uint8 SDR BT.709 R'G'B' (the module's steps, a strip of rows
    at a time); ``threads``: how many threads may share the strips (``None``: :func:`strip_threads`).  Each thread
    has its own strip buffers and takes the next strip left; a strip comes out the same on any thread."""
    height, width = codes.shape
    sdr = np.empty((height, width, 3), np.uint8)
    rows = max(1, min(height, _STRIP_PIXELS // max(1, width)))
    tops: queue.SimpleQueue[int] = queue.SimpleQueue()
    for top in range(0, height, rows):
        tops.put(top)

    def take_strips() -> None:
        """Tone-map the strips left; on an error, none is left to any thread (the frame is lost: the others stop at
        their next strip, and the error is raised the sooner)."""
        try:
            strip = _Strip(rows, width, transfer, primaries)
            while (top := _next(tops)) is not None:
                bottom = min(top + rows, height)
                out = [plane[: bottom - top] for plane in strip.code_buffers]
                strip.tone_map(codes.rows(top, bottom, out), sdr[top:bottom])
        except BaseException:
            while _next(tops) is not None:
                pass
            raise

    helpers = min(strip_threads() if threads is None else threads, tops.qsize()) - 1
    if helpers < 1:
        take_strips()
        return sdr
    # helpers of this frame only (starting them costs well under a millisecond): no thread outlives the call, so
    # a process forked from the reader (a DataLoader worker) finds no pool whose threads it lacks
    with ThreadPoolExecutor(max_workers=helpers, thread_name_prefix="hdr-strips") as pool:
        helping = [pool.submit(take_strips) for _ in range(helpers)]
        take_strips()
        for helper in helping:
            helper.result()  # a helper's error, raised here
    return sdr


_THIS_THREAD = threading.local()  # limit: set by :func:`limit_strip_threads_here`


def limit_strip_threads_here(limit: int | None) -> None:
    """The frames read on the calling thread from now on share their strips among at most ``limit`` threads
    (``None``: no limit of its own).  For a thread that already runs beside others on the same cores, such as
    the read-ahead of a model on the CPU: its strips split further would take the model's cores."""
    _THIS_THREAD.limit = limit


def strip_threads() -> int:
    """Threads a frame's strips may run on: OpenCV's thread count (``cv2.setNumThreads``, which ``bench decode
    --threads`` sets), and no more than torch's where torch is loaded (a DataLoader worker or a viewer job
    sharing the cores runs on fewer) nor the calling thread's own limit (:func:`limit_strip_threads_here`).
    Numpy's table look-ups and OpenCV's arithmetic let go of the GIL."""
    threads = cv2.getNumThreads()
    torch = sys.modules.get("torch")
    if torch is not None:
        threads = min(threads, torch.get_num_threads())
    limit = getattr(_THIS_THREAD, "limit", None)
    if limit is not None:
        threads = min(threads, limit)
    return max(1, threads)


def _next(tops: "queue.SimpleQueue[int]") -> int | None:
    """The top row of the next strip no thread has taken, or ``None`` when none is left."""
    try:
        return tops.get_nowait()
    except queue.Empty:
        return None


class _Strip:
    """The buffers of one strip of rows, and the module's steps on them.  The tone scale and HLG's OOTF, factors
    of each pixel, are one gain on the square root of light, the output table's index (:func:`_root_to_code`)."""

    def __init__(self, rows: int, width: int, transfer: str, primaries: int) -> None:
        self.transfer, self.primaries = transfer, primaries
        self._floats = np.empty((7, rows, width), np.float32)
        self._indices = np.empty((4, rows, width), np.uint16)
        self.code_buffers = self._indices[:3]  # the strip's R'G'B' codes: read first, then the output's indices
        self._codes = np.empty((3, rows, width), np.uint8)

    def tone_map(self, codes: Sequence[np.ndarray], sdr: np.ndarray) -> None:
        """Fill ``sdr``, (h, W, 3) uint8, from the strip's (h, W) uint16 R'G'B' ``codes``."""
        rows = codes[0].shape[0]
        floats = [plane[:rows] for plane in self._floats]
        light, peak, ootf = floats[:3], floats[3], floats[4]
        for code, plane in zip(codes, light):
            np.take(_signal_to_light(self.transfer), code, out=plane, mode="wrap")  # no index is out of range
        if self.transfer == "hlg":  # the OOTF, light * 1000 * luma ** 0.2, as its square root: sqrt(1000) * luma ** 0.1
            ootf = cv2.max(_weighted_sum(light, BT2020_LUMA, ootf), 1e-12, dst=ootf)
            ootf = cv2.multiply(cv2.pow(ootf, (_HLG_GAMMA - 1) / 2, dst=ootf), float(np.sqrt(SOURCE_PEAK_NITS)), dst=ootf)
        if self.primaries != _BT709_PRIMARIES:  # into the free planes, then back; may go negative: clipped below
            mixed = [_weighted_sum(light, row, out) for row, out in zip(bt2020_to_bt709(), (peak, floats[5], floats[6]))]
            light = [mixed[0], mixed[1], mixed[2]]
            peak = floats[0]
        peak = cv2.max(cv2.max(light[0], light[1], dst=peak), light[2], dst=peak)
        root_peak = cv2.sqrt(cv2.max(peak, 0.0, dst=peak), dst=peak)
        if self.transfer == "hlg":
            root_peak = cv2.multiply(root_peak, ootf, dst=root_peak)
        indices = [plane[:rows] for plane in self._indices]
        index = cv2.multiply(root_peak, 65535 / _ROOT_CEILING, dst=indices[3], dtype=cv2.CV_16U)  # rounded, saturated
        gain = np.take(_root_gain(), index, out=root_peak, mode="wrap")
        if self.transfer == "hlg":
            gain = cv2.multiply(gain, ootf, dst=gain)
        planes = []
        for component, index, out in zip(light, indices, self._codes):
            root = cv2.sqrt(cv2.max(component, 0.0, dst=component), dst=component)
            index = cv2.multiply(root, gain, dst=index, dtype=cv2.CV_16U)  # saturated at 65535: SDR white
            planes.append(np.take(_root_to_code(), index, out=out[:rows], mode="wrap"))
        merged = cv2.merge(planes, dst=sdr)
        if merged is not sdr:
            sdr[...] = merged


def _weighted_sum(planes: Sequence[np.ndarray], weights: Sequence[float], out: np.ndarray) -> np.ndarray:
    """``weights[0] * planes[0] + weights[1] * planes[1] + weights[2] * planes[2]`` into ``out``, float32."""
    total = cv2.addWeighted(planes[0], float(weights[0]), planes[1], float(weights[1]), 0.0, dst=out)
    return cv2.scaleAdd(planes[2], float(weights[2]), total, dst=total)
