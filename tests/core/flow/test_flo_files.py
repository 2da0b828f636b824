"""Middlebury .flo files and the end-point error against ground truth."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from core.errors import FlowError, InputError
from core.flow import endpoint_error, read_flo, write_flo


def test_round_trip_is_exact_and_layout_is_middlebury(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    flow = rng.normal(0, 5, size=(2, 7, 11)).astype(np.float32)
    path = tmp_path / "f.flo"
    write_flo(path, flow)
    data = path.read_bytes()
    assert data[:4] == b"PIEH" and struct.unpack("<f", data[:4])[0] == pytest.approx(202021.25)
    assert struct.unpack("<ii", data[4:12]) == (11, 7)
    assert len(data) == 12 + 7 * 11 * 2 * 4
    # (u, v) interleaved per pixel, rows first
    assert struct.unpack("<ff", data[12:20]) == (flow[0, 0, 0], flow[1, 0, 0])
    back = read_flo(path)
    assert back.dtype == np.float32 and back.shape == (2, 7, 11)
    np.testing.assert_array_equal(back, flow)
    assert not list(tmp_path.glob(".*tmp*")), "the atomic write left a temporary file"


def _flo_bytes(width: int, height: int, values: int | None = None, magic: bytes = b"PIEH") -> bytes:
    count = width * height * 2 if values is None else values
    return magic + struct.pack("<ii", width, height) + np.zeros(count, "<f4").tobytes()


@pytest.mark.parametrize(
    "data,problem",
    [
        (b"", "truncated"),
        (b"PIEH\x01\x00", "truncated"),
        (_flo_bytes(4, 3, magic=b"PNG\x89"), "magic"),
        (_flo_bytes(4, 3, values=10), "truncated"),
        (_flo_bytes(4, 3, values=30), "trailing"),
        (_flo_bytes(-4, 3, values=0), "absurd"),
        (_flo_bytes(100000, 100000, values=8), "absurd"),
        (_flo_bytes(0, 3, values=0), "absurd"),
    ],
)
def test_malformed_files_raise_one_line_flow_errors(tmp_path: Path, data: bytes, problem: str) -> None:
    path = tmp_path / "bad.flo"
    path.write_bytes(data)
    with pytest.raises(FlowError) as info:
        read_flo(path)
    text = str(info.value)
    assert text.startswith(str(path)) and problem in text and "\n" not in text
    assert isinstance(info.value, InputError)


def test_missing_file_and_bad_shapes(tmp_path: Path) -> None:
    with pytest.raises(FlowError, match="does not exist"):
        read_flo(tmp_path / "none.flo")
    with pytest.raises(FlowError, match="is a directory"):
        read_flo(tmp_path)
    with pytest.raises(FlowError, match=r"\(2, H, W\)"):
        write_flo(tmp_path / "x.flo", np.zeros((3, 4, 4), np.float32))
    assert not (tmp_path / "x.flo").exists()


def test_endpoint_error_leaves_out_unknown_and_masked_pixels() -> None:
    gt = np.zeros((2, 4, 5), np.float32)
    flow = np.zeros_like(gt)
    flow[0] = 3.0
    flow[1] = 4.0  # error 5 everywhere
    flow[:, 0, 0] = 0.0  # error 0 at one pixel
    assert endpoint_error(flow, gt) == pytest.approx((19 * 5) / 20)
    gt_unknown = gt.copy()
    gt_unknown[:, 0, 1:] = 1e10  # Middlebury "unknown"
    assert endpoint_error(flow, gt_unknown) == pytest.approx((15 * 5) / 16)
    mask = np.ones((4, 5), bool)
    mask[0, 0] = False
    assert endpoint_error(flow, gt, valid_mask=mask) == pytest.approx(5.0)
    batch = np.stack([flow, flow])
    assert endpoint_error(batch, np.stack([gt, gt])) == pytest.approx((19 * 5) / 20)
    with pytest.raises(FlowError, match="one shape"):
        endpoint_error(flow, gt[:, :3])
    with pytest.raises(FlowError, match="no pixel"):
        endpoint_error(flow, np.full_like(gt, 1e10))
    with pytest.raises(FlowError, match="valid mask"):
        endpoint_error(flow, gt, valid_mask=np.ones((3, 3), bool))
