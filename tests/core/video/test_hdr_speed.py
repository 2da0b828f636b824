"""The fast HDR path (R'G'B' from the decoder's YUV planes, float32 strips, tables) gives the pictures of the
standards' arithmetic in float64, written out plainly here, within one level on random 10-bit frames covering the
whole code range; its chroma sampling is swscale's; frames it does not read still go through swscale."""

from __future__ import annotations

import av
import numpy as np
import pytest
from av.video.reformatter import VideoReformatter

from core.video import hdr
from core.video.colour import rgb_conversion
from core.video.picture import StreamLook, frame_to_rgb
from core.video.rgb_planes import yuv_codes
from media import random_yuv_frame

BT2020_NCL, LIMITED, FULL = 9, 1, 2
KR, KB = 0.2627, 0.0593


def _planes(frame: av.VideoFrame) -> list[np.ndarray]:
    return [np.frombuffer(p, "<u2").reshape(p.height, -1)[:, : p.width].astype(np.float64) for p in frame.planes]


def _codes(frame: av.VideoFrame, conversion: dict[str, object]) -> list[np.ndarray]:
    """The fast path's R'G'B' codes of the whole frame, in one strip."""
    codes = yuv_codes(frame, conversion)
    return list(codes.rows(0, frame.height, np.empty((3, frame.height, frame.width), np.uint16)))


def _reference_rgb(frame: av.VideoFrame) -> np.ndarray:
    """(H, W, 3) float64 R'G'B' in [0, 1] of a limited-range BT.2020 4:2:0 10-bit frame: chroma interpolated
    between rows (chroma sited midway between two luma rows, edge rows held) and repeated along them."""
    y, cb, cr = _planes(frame)
    height = y.shape[0]
    position = np.arange(height) / 2 - 0.25  # each luma row's place among the chroma rows
    below = np.clip(np.floor(position).astype(int), 0, cb.shape[0] - 1)
    above = np.clip(np.floor(position).astype(int) + 1, 0, cb.shape[0] - 1)
    weight = (position - np.floor(position))[:, None]

    def full_size(chroma: np.ndarray) -> np.ndarray:
        return np.repeat(chroma[below] * (1 - weight) + chroma[above] * weight, 2, axis=1)

    luma = (y - 64) / 876
    blue, red = (full_size(cb) - 512) / 896, (full_size(cr) - 512) / 896
    kg = 1 - KR - KB
    rgb = np.stack([luma + 2 * (1 - KR) * red,
                    luma - 2 * KB * (1 - KB) / kg * blue - 2 * KR * (1 - KR) / kg * red,
                    luma + 2 * (1 - KB) * blue], axis=-1)
    return np.clip(rgb, 0, 1)


def _reference_sdr(rgb: np.ndarray, transfer: str) -> np.ndarray:
    """The module docstring's four steps, straightforwardly in float64."""
    if transfer == "pq":
        light = hdr.pq_eotf(rgb)
    else:
        scene = hdr.hlg_inverse_oetf(rgb)
        luma = scene @ np.array([KR, 1 - KR - KB, KB])
        light = scene * (1000 * np.maximum(luma, 1e-12) ** 0.2)[..., None]
    light = np.maximum(light @ hdr.bt2020_to_bt709().T, 0)
    peak = light.max(axis=-1)
    safe = np.maximum(peak, 1e-30)
    scale = np.where(peak < 1000, hdr.eetf(np.minimum(safe, 1000)) / safe / 203, 1 / safe)
    relative = np.minimum(light * scale[..., None], 1)
    return np.rint(255 * relative ** (1 / 2.4)).astype(int)


@pytest.mark.parametrize("transfer", ["pq", "hlg"])
def test_fast_path_equals_a_float64_reference(transfer: str) -> None:
    """Every pixel within one level.  The reference rounds R'G'B' to 16 bits, as the reader always has (a
    saturated colour whose BT.709 component nearly cancels to black is so steep there that the last bit of a
    16-bit code moves it a few levels).  Before, swscale's rgb48le gave limited-range white as 65283, not 65535:
    such pixels were up to 50 levels off, and 3 to 4 levels off elsewhere."""
    frame = random_yuv_frame("yuv420p10le", 250, 512)  # two strips of rows, the second short
    expected = _reference_sdr(np.rint(_reference_rgb(frame) * 65535) / 65535, transfer)
    picture = frame_to_rgb(frame, StreamLook(transfer, 9))
    assert picture.dtype == np.uint8 and picture.shape == (250, 512, 3) and picture.flags.c_contiguous
    difference = np.abs(picture.astype(int) - expected)
    assert difference.max() <= 1, np.bincount(difference.ravel())
    assert np.mean(difference == 0) > 0.99


def test_frame_already_in_bt709_primaries_skips_the_matrix() -> None:
    """A PQ stream tagged BT.709 primaries keeps its light's colours (no gamut conversion)."""
    frame = random_yuv_frame("yuv420p10le", 64, 128, seed=3)
    light = hdr.pq_eotf(np.rint(_reference_rgb(frame) * 65535) / 65535)
    peak = light.max(axis=-1)
    safe = np.maximum(peak, 1e-30)
    scale = np.where(peak < 1000, hdr.eetf(np.minimum(safe, 1000)) / safe / 203, 1 / safe)
    expected = np.rint(255 * np.minimum(light * scale[..., None], 1) ** (1 / 2.4)).astype(int)
    picture = frame_to_rgb(frame, StreamLook("pq", 1))
    assert np.abs(picture.astype(int) - expected).max() <= 1


@pytest.mark.parametrize("pixel_format", ["yuv420p10le", "yuv422p10le", "yuv444p10le", "yuv420p12le"])
@pytest.mark.parametrize("color_range", [LIMITED, FULL])
def test_codes_sample_chroma_as_swscale_does(pixel_format: str, color_range: int) -> None:
    """Edges of colour fall where swscale's rgb48le put them: the codes are swscale's, bar its scale (limited
    range white at 65283, full range 0.1% off) and a few units of its rounding."""
    frame = random_yuv_frame(pixel_format, 32, 48, seed=1, color_range=color_range)
    conversion = rgb_conversion(frame)
    swscale = VideoReformatter().reformat(frame, format="rgb48le", **conversion).to_ndarray().astype(float)
    codes = np.stack(_codes(frame, conversion), axis=-1).astype(float)
    inside = (swscale > 0) & (swscale < 65000) & (codes < 65535)
    ratio = codes[inside] / swscale[inside]
    assert 1.0 <= np.median(ratio) < 1.004
    assert np.abs(codes[inside] - swscale[inside] * np.median(ratio)).max() <= 8


@pytest.mark.parametrize(("pixel_format", "size"), [("yuv420p10le", (33, 48)), ("yuv420p10le", (32, 47)),
                                                    ("yuv420p", (32, 48)), ("p010le", (32, 48))])
def test_frames_the_planes_do_not_fit_go_through_swscale(pixel_format: str, size: tuple[int, int]) -> None:
    """Odd sizes, 8 bits and semi-planar frames: swscale's R'G'B', tone-mapped the same way."""
    frame = av.VideoFrame(size[1], size[0], pixel_format)
    for plane in frame.planes:
        plane.update(bytes(range(256)) * (plane.buffer_size // 256) + bytes(plane.buffer_size % 256))
    frame.colorspace, frame.color_range = BT2020_NCL, LIMITED
    conversion = rgb_conversion(frame)
    assert yuv_codes(frame, conversion) is None
    rgb48 = VideoReformatter().reformat(frame, format="rgb48le", **conversion).to_ndarray()
    np.testing.assert_array_equal(frame_to_rgb(frame, StreamLook("pq", 9)), hdr.hdr_to_sdr(rgb48, "pq", 9))
