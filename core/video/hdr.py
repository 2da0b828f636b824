"""HDR video (PQ or HLG transfer, BT.2020 primaries) shown as SDR BT.709, as a player on an SDR screen shows it.

Why: converting only the YUV matrix gave the PQ/HLG signal values as if they were BT.709 ones: reference white
(203 nits) came out at 57% (PQ, 146 of 255) or 74% (HLG, 189) grey and BT.2020 colours desaturated, so HDR clips
(iPhone HLG, HDR10) looked washed out and grey to the viewer, the flow and the models.

How: in numpy, since the PyAV wheel's FFmpeg has no ``zscale`` (libzimg), which ``tonemap`` needs to reach linear
light, nor ``libplacebo``.  Steps, on the decoded 16-bit R'G'B' (10-bit HDR kept whole, not rounded to 8 bits first):

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
"""

from __future__ import annotations

import functools

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
_BT2020_LUMA = np.array([0.2627, 0.6780, 0.0593])

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
def _tone_scale() -> np.ndarray:
    """For each 16-bit step of the square root of a pixel's peak light over the source peak, the factor that
    takes its light to SDR light over reference white (the EETF over the peak, a constant 1/203 below the knee):
    a table, since the EETF's powers took a quarter of a second a 1080p frame."""
    peak = np.square(np.arange(65536, dtype=np.float64) / 65535) * SOURCE_PEAK_NITS
    scale = np.zeros_like(peak)
    scale[1:] = eetf(peak[1:]) / peak[1:] / REFERENCE_WHITE_NITS
    return scale.astype(np.float32)


def hdr_to_sdr(rgb48: np.ndarray, transfer: str, primaries: int) -> np.ndarray:
    """(H, W, 3) uint16 R'G'B' of an HDR frame (``transfer`` ``"pq"`` or ``"hlg"``, ``primaries`` the frame's
    AVColorPrimaries tag) as (H, W, 3) uint8 SDR BT.709 R'G'B'."""
    light = _signal_to_light(transfer)[rgb48]
    if transfer == "hlg":  # the OOTF: scene light to display light on a 1000-nit display
        luma = light @ _BT2020_LUMA.astype(np.float32)
        light *= (SOURCE_PEAK_NITS * np.power(np.maximum(luma, 1e-12), _HLG_GAMMA - 1))[..., None]
    if primaries != _BT709_PRIMARIES:
        light = np.maximum(light @ bt2020_to_bt709().T.astype(np.float32), 0.0)
    peak = np.maximum(np.maximum(light[..., 0], light[..., 1]), light[..., 2])
    step = np.rint(np.sqrt(np.minimum(peak, SOURCE_PEAK_NITS) / SOURCE_PEAK_NITS) * 65535).astype(np.uint16)
    # the EETF gives reference white from the source peak up: the factor there is one over the peak
    scale = np.where(peak < SOURCE_PEAK_NITS, _tone_scale()[step], 1 / np.maximum(peak, SOURCE_PEAK_NITS))
    relative = np.minimum(light * scale[..., None], 1.0)
    return _root_to_code()[np.rint(np.sqrt(relative) * 65535).astype(np.uint16)]
